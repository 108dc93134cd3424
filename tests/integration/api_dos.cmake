# lisecd's transport as an outside tester used it (issue 14): HTTP framing
# (two Content-Length headers, HEAD), certificates' key usage and roles, and
# what /metrics shows whom.
lisec_integration_test(api_http tests/integration/api_http.sh)
