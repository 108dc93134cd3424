# lisecd's ADMF against an NE whose answers a stand-in bends (the X1
# version, answers that do not fit, 2010 / 2020 / lost answers).
lisec_integration_test(x1_admf_reconcile tests/integration/x1_admf_reconcile.sh)
