# lisec-ne against hand-written requests judged by ETSI's X1 schema (issue 24).
lisec_integration_test(x1_conformance tests/integration/x1_conformance.sh)
