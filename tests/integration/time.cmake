# Trusted time (issue 19, docs/time.md): lisecd's verdict on its clock from
# a real chronyd synchronised over NTS to a local server the test starts.
lisec_integration_test(time_chrony tests/integration/time_chrony.sh)
# The TPM fleet check (docs/time.md): a real chronyd over NTS, swtpm and
# lisec-agent; a TPM clock set an hour ahead is a jump, and the next round
# of appraisals ends it.
lisec_integration_test(time_tpm_jump tests/integration/time_tpm_jump.sh)
# The LI administration's signed commands (pairing, li-disable, li-retire),
# package on-boarding and vendor CRL loading against a real NTS chronyd:
# refused naming TR103308-4.2-TIME while it is stopped, with nothing stored
# changed; the same accepted once the clock is proven again (time_li_pkg).
lisec_integration_test(time_li_pkg tests/integration/time_li_pkg.sh)
