# The documentation and the example configuration name every setting lisecd
# knows (cmd/lisecd/settings.c), and lisecd knows every setting they name.
lisec_integration_test(config_example tests/integration/config_example.sh)
