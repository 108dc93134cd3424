# cmd/lisec: what `lisec audit` reads, the auditor's state file and lisecd's
# answers to it (cmd_audit.c compiled into the harness through an #include:
# its readers are static; seeds in fuzz/corpus/cli_audit/).
lisec_fuzzer(cli_audit ${CMAKE_CURRENT_LIST_DIR}/cli_audit.c lisec_audit lisec_store lisec_crypto lisec_base
             PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::OPENSSL Threads::Threads)
if(LISEC_FUZZ)
  target_sources(cli_audit PRIVATE ${CMAKE_SOURCE_DIR}/src/crypto/tsa.c)
  target_include_directories(cli_audit PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisec ${CMAKE_BINARY_DIR}/cmd/lisec)
endif()
# cmd/lisec: `lisec model import`, a topology file into PUTs (model_bulk.c
# and cli.c compiled into the harness; the HTTPS request a stand-in; seeds
# in fuzz/corpus/cli_model_import/).
lisec_fuzzer(cli_model_import ${CMAKE_CURRENT_LIST_DIR}/cli_model_import.c lisec_model lisec_crypto lisec_curl
             lisec_base PkgConfig::CURL PkgConfig::JANSSON PkgConfig::OPENSSL)
if(LISEC_FUZZ)
  target_include_directories(cli_model_import PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisec ${CMAKE_BINARY_DIR}/cmd/lisec)
  # cli.c's vfail passes its caller's format on (clang asks for an attribute gcc does not)
  target_compile_options(cli_model_import PRIVATE -Wno-format-nonliteral)
endif()
