# Retained Data (issue 20): obligations, RD placement and compliance, keys per
# retention period and their destruction, sealed RD records (docs/rd.md).
lisec_integration_test(rd_api tests/integration/rd_api.sh)
