# An NE answering every request just inside the timeout holds up no other NE's deactivation (ctl/tasks.c).
lisec_integration_test(x1_admf_slow_ne tests/integration/x1_admf_slow_ne.sh)
