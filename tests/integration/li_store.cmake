# TR103308-4.2-STORE through lisecd: another VM given an LI's storage, in
# li-admin's compliance (left out of the operator's) and in MANO's
# migration decisions, redacted for every role but the LI administration.
lisec_integration_test(li_store_users tests/integration/li_store_users.sh)
