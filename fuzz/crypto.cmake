# crypto/: the RFC 3161 response and token parsers (seeds in
# fuzz/corpus/crypto_tsa/). tsa.c is compiled into the harness so libFuzzer's
# coverage reaches it.
lisec_fuzzer(crypto_tsa ${CMAKE_SOURCE_DIR}/fuzz/crypto_tsa.c lisec_crypto lisec_base PkgConfig::OPENSSL)
if(LISEC_FUZZ)
  target_sources(crypto_tsa PRIVATE ${CMAKE_SOURCE_DIR}/src/crypto/tsa.c)
endif()
