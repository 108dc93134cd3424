# rng/: the seed-protocol parser (seeds in fuzz/corpus/rng_seedmsg/) and the
# parser of lisec-entropyd's reports to lisecd (fuzz/corpus/rng_events/). The
# parsers' own sources are compiled into the harnesses so libFuzzer's
# coverage instrumentation reaches them (the static libraries are built
# without it).
lisec_fuzzer(rng_seedmsg ${CMAKE_SOURCE_DIR}/fuzz/rng_seedmsg.c lisec_rng)
lisec_fuzzer(rng_events ${CMAKE_SOURCE_DIR}/fuzz/rng_events.c lisec_rng)
if(LISEC_FUZZ)
  target_sources(rng_seedmsg PRIVATE ${CMAKE_SOURCE_DIR}/src/rng/seedmsg.c
                 ${CMAKE_SOURCE_DIR}/src/rng/replay.c)
  target_sources(rng_events PRIVATE ${CMAKE_SOURCE_DIR}/src/rng/events.c)
endif()
