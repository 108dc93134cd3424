# lisecd's transport as an outside tester used it (issue 14): connection
# floods, descriptor exhaustion, the handshake deadline and the refusal rate
# limit (api_dos); HTTP framing (two Content-Length headers, HEAD),
# certificates' key usage and roles, and what /metrics shows whom (api_http).
lisec_integration_test(api_dos tests/integration/api_dos.sh)
lisec_integration_test(api_http tests/integration/api_http.sh)
