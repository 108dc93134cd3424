# Restarts lose no interception (issue 25): lisecd restarted (SIGTERM, then
# SIGKILL of its parent) under an active X1 task with attested hosts; and
# the store reconnecting once after PostgreSQL restarts (plain and TLS
# verify-full).
lisec_integration_test(restart_intercept tests/integration/restart_intercept.sh)
lisec_integration_test(store_pg_restart tests/integration/store_pg_restart.sh)
lisec_integration_test(store_pg_restart_tls tests/integration/store_pg_restart_tls.sh)
# The reload itself, on a controller over SQLite (no agents, no NE): the
# stored appraisals in the model at open, overdue from the stored time, a
# host added after it attested, every enrolled host asked to attest again.
lisec_unit_test(test_attest_reload ${CMAKE_SOURCE_DIR}/tests/unit/test_attest_reload.c lisec_ctl)
