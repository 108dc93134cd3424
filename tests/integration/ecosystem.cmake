# Issue 23, lisec in the operator's ecosystem: the OpenStack Nova scheduler
# filter inside Debian's python3-nova against a real lisecd.
lisec_integration_test(nova_filter tests/integration/nova_filter.sh)
