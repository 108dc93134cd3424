# lisec-ne --admf-role: the ADMF's certificate must carry that role, not only the ADMF's name (cmd/lisec-ne).
lisec_integration_test(x1_admf_role tests/integration/x1_admf_role.sh)
