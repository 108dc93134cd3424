# Restarts lose no interception (issue 25): lisecd restarted (SIGTERM, then
# SIGKILL of its parent) under an active X1 task with attested hosts; and
# the store reconnecting once after PostgreSQL restarts (plain and TLS
# verify-full).
lisec_integration_test(restart_intercept tests/integration/restart_intercept.sh)
lisec_integration_test(store_pg_restart tests/integration/store_pg_restart.sh)
lisec_integration_test(store_pg_restart_tls tests/integration/store_pg_restart_tls.sh)
