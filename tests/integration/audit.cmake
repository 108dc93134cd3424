lisec_integration_test(audit_api tests/integration/audit_api.sh)
