# An NE's Keepalive timeout is measured by the monotonic clock: lisecd's
# wall clock stepped forward or back (clock_step_shim) decides nothing.
lisec_integration_test(x1_keepalive_clock tests/integration/x1_keepalive_clock.sh)
