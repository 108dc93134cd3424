# base/config.c: the INI configuration every program reads at start, an
# operator's file (seeds in fuzz/corpus/base_config/). config.c is compiled
# into the harness through an #include (its table is private), against
# lisecd's list of known settings (cmd/lisecd/settings.c).
lisec_fuzzer(base_config ${CMAKE_CURRENT_LIST_DIR}/base_config.c lisec_base PkgConfig::INIH)
if(LISEC_FUZZ)
  target_sources(base_config PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisecd/settings.c)
endif()
