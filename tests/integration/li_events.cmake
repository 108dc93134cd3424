lisec_integration_test(li_events tests/integration/li_events.sh)
