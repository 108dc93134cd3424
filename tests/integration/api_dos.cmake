# lisecd's transport as an outside tester used it (issue 14): connection
# floods, descriptor exhaustion, the handshake deadline and the refusal rate
# limit (api_dos); HTTP framing (two Content-Length headers, HEAD),
# certificates' key usage and roles, and what /metrics shows whom (api_http);
# hosts' connections within max_connections, the cap shared by the workers
# and a trickled chunked body (front_limits).
lisec_integration_test(api_dos tests/integration/api_dos.sh)
lisec_integration_test(api_http tests/integration/api_http.sh)
lisec_integration_test(front_limits tests/integration/front_limits.sh)
# The lingering close after a request refused unread: the answer reaches a
# client still writing its body, and the bounds (front_linger).
lisec_integration_test(front_linger tests/integration/front_linger.sh)
