# events/: the key file of an event key in the VM's TPM (tpmblob.c), read
# by lisec-event and lisec-ne before the TPM is opened; seeds in
# fuzz/corpus/events_tpmkey/. The parser's source is compiled into the
# harness for libFuzzer's coverage.
lisec_fuzzer(events_tpmkey ${CMAKE_CURRENT_LIST_DIR}/events_tpmkey.c lisec_crypto lisec_base)
if(LISEC_FUZZ)
  target_sources(events_tpmkey PRIVATE ${CMAKE_SOURCE_DIR}/src/events/tpmblob.c)
  pkg_check_modules(FUZZ_TSS2_MU REQUIRED IMPORTED_TARGET tss2-mu)
  target_link_libraries(events_tpmkey PRIVATE PkgConfig::FUZZ_TSS2_MU PkgConfig::OPENSSL)
endif()
