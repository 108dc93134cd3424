# Host attestation end to end: lisecd with [attest] configured, lisec-agent
# running on its own against swtpm, the CLI's host commands.
lisec_integration_test(attest_api tests/integration/attest_api.sh)
