# The attested inventory (issue 15): lisec-agent over libvirt's test driver,
# swtpm and a real lisecd; the inventory bound into the quote, and the bad
# ones refused.
lisec_integration_test(inventory tests/integration/inventory.sh)
