# Running lisec in production (issue 25): the ADMF records compliance
# changes, not polls.
lisec_integration_test(compliance_changes tests/integration/compliance_changes.sh)
# The shipped systemd unit: verified, and lisecd run from it under its
# confinement rebuilt with unshare and setpriv, with a SoftHSM token.
lisec_integration_test(systemd_unit tests/integration/systemd_unit.sh)
set_tests_properties(systemd_unit PROPERTIES SKIP_RETURN_CODE 77)
# lisecd --check-config changes nothing and reports every problem.
lisec_integration_test(check_config tests/integration/check_config.sh)
