# A silent NE holds up no emergency stop of another NE: the ADMF loop lets its lock go while it waits (ctl/tasks.c).
lisec_integration_test(x1_admf_stall tests/integration/x1_admf_stall.sh)
