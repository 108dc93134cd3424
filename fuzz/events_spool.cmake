# events/: the VM's event spool file (spoolrec.c), read by lisec-ne and
# lisec-event at every start and flush; seeds in fuzz/corpus/events_spool/.
# The reader's and the event parser's sources are compiled into the harness
# for libFuzzer's coverage.
lisec_fuzzer(events_spool ${CMAKE_CURRENT_LIST_DIR}/events_spool.c lisec_events)
if(LISEC_FUZZ)
  target_sources(events_spool PRIVATE ${CMAKE_SOURCE_DIR}/src/events/spoolrec.c ${CMAKE_SOURCE_DIR}/src/events/event.c
                 ${CMAKE_SOURCE_DIR}/src/events/signed_batch.c)
endif()
