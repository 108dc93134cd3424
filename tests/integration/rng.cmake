# rng: lisec-entropyd and lisecd end to end (reports, audit, findings), the
# seed service over AF_VSOCK (skipped with a reason where the kernel has no
# vsock loopback transport), the identity the daemon's certificate must
# carry (rng_server_id), and what a VNF's client certificate must carry
# (rng_client_id).
lisec_integration_test(rng_events tests/integration/rng_events.sh)
lisec_integration_test(rng_vsock tests/integration/rng_vsock.sh)
set_tests_properties(rng_vsock PROPERTIES SKIP_RETURN_CODE 77)

# rng_server_id: which certificate the seed client takes for lisec-entropyd's
# (serverAuth, the expected name in its subjectAltName), over TCP and with the
# vsock rule put to a daemon on TCP loopback through the driver, so that rule
# is checked where the kernel has no vsock loopback.
add_executable(rng_server_id_driver ${CMAKE_SOURCE_DIR}/tests/integration/rng_server_id_driver.c)
target_link_libraries(rng_server_id_driver PRIVATE lisec_rng_os lisec_rng lisec_crypto lisec_base
                      PkgConfig::OPENSSL Threads::Threads)
lisec_integration_test(rng_server_id tests/integration/rng_server_id.sh)

# rng_client_id: which client certificate lisec-entropyd takes for a
# registered VNF's (clientAuth in its extended key usage), each tried once
# through rng_server_id_driver, with the daemon's logged refusals.
lisec_integration_test(rng_client_id tests/integration/rng_client_id.sh)

# rng_clock: lisec-entropyd's report interval and issuance summary are
# durations, kept across its wall clock stepped forward and back
# (clock_step_shim, LD_PRELOADed into the daemon).
lisec_integration_test(rng_clock tests/integration/rng_clock.sh)

# rng_counter: a seed request's counter far ahead of the daemon's clock is
# refused ([clients] max_counter_ahead_s) and never becomes the client's
# floor; reseed_ms at or over max_stale_ms stops the start.
lisec_integration_test(rng_counter tests/integration/rng_counter.sh)

# rng_cert_cn: lisec-entropyd and lisecd read a certificate's CN whole
# (crypto_cert_cn): two CNs are refused by both.
lisec_integration_test(rng_cert_cn tests/integration/rng_cert_cn.sh)

# rng_li_known: lisecd seals the issuance records of a VNF it knows as an
# LI VM (paired, or declared li) that the daemon's [clients] li leaves out,
# and records the disagreement sealed.
lisec_integration_test(rng_li_known tests/integration/rng_li_known.sh)
