# An NE listing XIDs lisecd does not know and refusing their deactivation costs bounded sends and sealed records (ctl/x1_unknown.c).
lisec_integration_test(x1_admf_unknown_xids tests/integration/x1_admf_unknown_xids.sh)
