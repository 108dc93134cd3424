# Trusted time (issue 19, docs/time.md): lisecd's verdict on its clock from
# a real chronyd synchronised over NTS to a local server the test starts.
lisec_integration_test(time_chrony tests/integration/time_chrony.sh)
