# lisecd keeps each NE's X1 status: Keepalive timeout, reports, unregistered destinations removed, li-admin only (issue 24).
lisec_integration_test(x1_ne_status tests/integration/x1_ne_status.sh)
