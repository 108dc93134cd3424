# Running lisec in production (issue 25): the ADMF records compliance
# changes, not polls.
lisec_integration_test(compliance_changes tests/integration/compliance_changes.sh)
