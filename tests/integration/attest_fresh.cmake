# LI decisions that need fresh quotes, answered without blocking lisecd's
# event loops: four hosts with swtpm and lisec-agent, concurrent decisions,
# /healthz latency, the per-request bound (issue 14 item 3).
lisec_integration_test(attest_fresh tests/integration/attest_fresh.sh)
# A host that lets a request's bound pass goes silent, and every decision
# parked on it is answered then, saying how long it waited; decisions after
# that are answered at once, saying when the host was asked (attest_silent).
lisec_integration_test(attest_silent tests/integration/attest_silent.sh)
