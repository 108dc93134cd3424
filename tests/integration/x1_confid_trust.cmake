# A host's change of trust with X1 running: the same entries to the auditor whether or not an LI's tasks changed with it (ctl/tasks.c, announce).
lisec_integration_test(x1_confid_trust tests/integration/x1_confid_trust.sh)
