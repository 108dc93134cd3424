# rng/: the seed-protocol parser (seeds in fuzz/corpus/rng_seedmsg/). The
# parser's own sources are compiled into the harness so libFuzzer's coverage
# instrumentation reaches them (the static libraries are built without it).
lisec_fuzzer(rng_seedmsg ${CMAKE_SOURCE_DIR}/fuzz/rng_seedmsg.c lisec_rng)
if(LISEC_FUZZ)
  target_sources(rng_seedmsg PRIVATE ${CMAKE_SOURCE_DIR}/src/rng/seedmsg.c
                 ${CMAKE_SOURCE_DIR}/src/rng/replay.c)
endif()
