# rng: lisec-entropyd and lisecd end to end (reports, audit, findings), the
# seed service over AF_VSOCK (skipped with a reason where the kernel has no
# vsock loopback transport).
lisec_integration_test(rng_events tests/integration/rng_events.sh)
lisec_integration_test(rng_vsock tests/integration/rng_vsock.sh)
set_tests_properties(rng_vsock PROPERTIES SKIP_RETURN_CODE 77)
