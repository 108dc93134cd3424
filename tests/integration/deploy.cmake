# Running lisec in production (issue 25): the ADMF records its compliance
# reading once per [x1] compliance_record_s, not per poll nor on change.
lisec_integration_test(compliance_changes tests/integration/compliance_changes.sh)
# The shipped systemd unit: verified, and lisecd run from it under its
# confinement rebuilt with unshare and setpriv, with a SoftHSM token.
lisec_integration_test(systemd_unit tests/integration/systemd_unit.sh)
set_tests_properties(systemd_unit PROPERTIES SKIP_RETURN_CODE 77)
# lisecd --check-config changes nothing and reports every problem.
lisec_integration_test(check_config tests/integration/check_config.sh)
# docs/deploy.md's commands, run in order against a real PostgreSQL
# (release build only, skipped 77 under the sanitizer).
lisec_integration_test(deploy_doc tests/integration/deploy_doc.sh)
set_tests_properties(deploy_doc PROPERTIES SKIP_RETURN_CODE 77)
