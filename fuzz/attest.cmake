# attest/: the quote-side parsers, the event log, the reference policy, the
# location certificate, what an agent posts to enrol and the stored nonce
# table (seeds in fuzz/corpus/attest_*/). The module's sources are compiled
# into each harness so libFuzzer's coverage reaches them.
set(attest_fuzz_sources util.c quote.c keys.c sig.c eventlog.c policy.c location.c nonce.c
    credential.c verify.c ear.c inventory.c telemetry.c)
list(TRANSFORM attest_fuzz_sources PREPEND ${CMAKE_SOURCE_DIR}/src/attest/)
foreach(h attest_quote attest_eventlog attest_policy attest_inventory attest_chassis attest_location attest_enrol
          attest_nonces)
  lisec_fuzzer(${h} ${CMAKE_SOURCE_DIR}/fuzz/${h}.c lisec_crypto lisec_base PkgConfig::TSS2
               PkgConfig::OPENSSL PkgConfig::JANSSON Threads::Threads m)
  if(LISEC_FUZZ)
    target_sources(${h} PRIVATE ${attest_fuzz_sources})
  endif()
endforeach()
