# Issue 23, lisec in the operator's ecosystem: the OpenStack Nova scheduler
# filter inside Debian's python3-nova against a real lisecd, and the Debian
# package.
lisec_integration_test(nova_filter tests/integration/nova_filter.sh)
# The Debian package built from HEAD, linted, installed, run and purged
# (needs root: 77, skipped, otherwise; skipped in sanitizer builds).
lisec_integration_test(debian_package tests/integration/debian_package.sh)
set_tests_properties(debian_package PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
