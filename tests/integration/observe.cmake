# The model follows observation (issue 15 item 2): two hosts with swtpm and
# lisec-agent over libvirt's test driver, a real lisecd; migrations that wait
# for the destination's proof, PLACEMENT/DUPLICATE findings, a restart.
lisec_integration_test(observe tests/integration/observe.sh)
