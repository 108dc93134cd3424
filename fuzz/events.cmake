# events/: what an LI VM posts to /v1/li/events (one signed event, a
# batch or a signed batch; seeds in fuzz/corpus/events/). The parser's sources are compiled
# into the harness for libFuzzer's coverage.
lisec_fuzzer(events ${CMAKE_CURRENT_LIST_DIR}/events.c lisec_events)
if(LISEC_FUZZ)
  target_sources(events PRIVATE ${CMAKE_SOURCE_DIR}/src/events/event.c ${CMAKE_SOURCE_DIR}/src/events/batch.c
                 ${CMAKE_SOURCE_DIR}/src/events/signed_batch.c)
endif()
