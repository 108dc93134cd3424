# lisec-agent against hostile input on its host (agent_input.sh): disk
# files that are not regular files.
lisec_integration_test(agent_input tests/integration/agent_input.sh)
