# lisec-agent: what ipmitool prints from the host's BMC (cmd/lisec-agent/bmc.c,
# compiled into the harness through an #include: its parsers are static;
# seeds in fuzz/corpus/agent_bmc/).
lisec_fuzzer(agent_bmc ${CMAKE_CURRENT_LIST_DIR}/agent_bmc.c lisec_base PkgConfig::JANSSON PkgConfig::TSS2
             PkgConfig::CURL m)
if(LISEC_FUZZ)
  target_include_directories(agent_bmc PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisec-agent)
endif()
# The whole report, through a stand-in ipmitool that prints the input, read
# back by lisecd's parser (attest/telemetry.c; seeds in
# fuzz/corpus/agent_bmc_report/).
lisec_fuzzer(agent_bmc_report ${CMAKE_CURRENT_LIST_DIR}/agent_bmc_report.c lisec_attest lisec_crypto lisec_base
             PkgConfig::JANSSON PkgConfig::TSS2 PkgConfig::OPENSSL PkgConfig::CURL m)
if(LISEC_FUZZ)
  target_include_directories(agent_bmc_report PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisec-agent)
endif()
