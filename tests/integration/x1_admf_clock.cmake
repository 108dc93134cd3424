# The ADMF's loop goes on checking an NE when lisecd's wall clock is stepped
# back (clock_step_shim): its waits and the NEs' due times are monotonic.
lisec_integration_test(x1_admf_clock tests/integration/x1_admf_clock.sh)
