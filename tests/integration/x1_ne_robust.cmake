# lisec-ne held up by its peers: a silent events server, idle and half-sent connections (--timeout).
lisec_integration_test(x1_ne_robust tests/integration/x1_ne_robust.sh)
