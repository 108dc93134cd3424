# GET /v1/status's uptime is measured by the monotonic clock: lisecd's wall
# clock stepped back and forward (clock_step_shim) does not move it.
lisec_integration_test(status_clock tests/integration/status_clock.sh)
