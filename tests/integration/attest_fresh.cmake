# LI decisions that need fresh quotes, answered without blocking lisecd's
# event loops: four hosts with swtpm and lisec-agent, concurrent decisions,
# /healthz latency, the per-request bound (issue 14 item 3).
lisec_integration_test(attest_fresh tests/integration/attest_fresh.sh)
