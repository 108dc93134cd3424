# A schema complaint quoting a target (an NE's 1010, lisecd's own builder) reaches only sealed records and li-admin.
lisec_integration_test(x1_confid_complaint tests/integration/x1_confid_complaint.sh)
