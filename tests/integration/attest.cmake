# Host attestation end to end: lisecd with [attest] configured, lisec-agent
# running on its own against swtpm, the CLI's host commands.
lisec_integration_test(attest_api tests/integration/attest_api.sh)
# The end of a host's enrolment (issue 21 item 2): de-enrolment, the
# revocation list, lisec pki revoke's CRL, re-enrolment and its bad cases.
lisec_integration_test(attest_end tests/integration/attest_end.sh)
# An outside tester's attacks on the verifier with real swtpm evidence: a
# TPM Restart keeping resetCount after a move, and other forged evidence.
lisec_integration_test(attest_review tests/integration/attest_review.sh)
# An AK outside the endorsement hierarchy (its quotes' counters obfuscated)
# enrolled and quoting against lisecd, refused; one under the EK trusted.
lisec_integration_test(attest_ak_hierarchy tests/integration/attest_ak_hierarchy.sh)
# A TPM whose state is set back to a copy saved before a TPM Restart shows
# the confirmed counters again: its clock (or restartCount) gives it away.
lisec_integration_test(attest_rollback tests/integration/attest_rollback.sh)
# Two quotes of a healthy TPM answered out of order: the late one's lower
# clock is no rollback that voids the location until it is confirmed.
lisec_integration_test(attest_quote_order tests/integration/attest_quote_order.sh)
# A quote that did not verify keeps no TPM counters; the overdue timer and
# confirm-location leave a host the operator removed as it is.
lisec_integration_test(attest_removed tests/integration/attest_removed.sh)
# [attest] quarantine_timeout_s outlives a wall clock stepped back while the
# command runs: lisecd with clock_step_shim, one host with swtpm and agent.
lisec_integration_test(attest_quarantine_clock tests/integration/attest_quarantine_clock.sh)
# Whether a host's attestation is due is judged by the monotonic clock:
# lisecd's wall clock stepped forward does not make every challenge ask,
# nor stepped back stop them (clock_step_shim, one host with swtpm and agent).
lisec_integration_test(attest_challenge_clock tests/integration/attest_challenge_clock.sh)
