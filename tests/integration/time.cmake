# Trusted time (issue 19, docs/time.md): lisecd's verdict on its clock from
# a real chronyd synchronised over NTS to a local server the test starts.
lisec_integration_test(time_chrony tests/integration/time_chrony.sh)
# The TPM fleet check (docs/time.md): a real chronyd over NTS, swtpm and
# lisec-agent; a TPM clock set an hour ahead is a jump, and the next round
# of appraisals ends it.
lisec_integration_test(time_tpm_jump tests/integration/time_tpm_jump.sh)
