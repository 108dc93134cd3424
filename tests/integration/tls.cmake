# lisecd's TLS material: rotation on SIGHUP (certificate, key, client CA,
# CRL) without dropping open connections, and refused reloads.
lisec_integration_test(tls_reload tests/integration/tls_reload.sh)
