# The operator's writes to the trust model, and a restart between an announcement and its sends, with X1 running: the same entries to the auditor whether or not an LI's tasks changed (ctl/tasks.c, announce).
lisec_integration_test(x1_confid_model tests/integration/x1_confid_model.sh)
