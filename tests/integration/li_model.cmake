lisec_integration_test(li_model tests/integration/li_model.sh)
