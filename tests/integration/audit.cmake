lisec_integration_test(audit_api tests/integration/audit_api.sh)
# RFC 3161 timestamps on checkpoints against a local openssl ts TSA (issue 19 item 1).
lisec_integration_test(audit_tsa tests/integration/audit_tsa.sh)
lisec_integration_test(audit_cp_pages tests/integration/audit_cp_pages.sh)
