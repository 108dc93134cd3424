lisec_integration_test(li_leak tests/integration/li_leak.sh)
