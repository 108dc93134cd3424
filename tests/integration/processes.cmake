# lisecd's processes (issue 16): the parent, front, controller and keys, how
# they stop together, and what a restart recovers.
lisec_integration_test(lisecd_processes tests/integration/lisecd_processes.sh)
