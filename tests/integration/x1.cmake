# The X1 ADMF in lisecd against a real lisec-ne (ctl/tasks.c, api/routes_x1.c).
lisec_integration_test(x1_admf tests/integration/x1_admf.sh)
