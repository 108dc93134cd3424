# li/: the LI administration's signed messages (disable and retire commands,
# pairing statements; seeds in fuzz/corpus/li_message/). The parser's
# sources are compiled into the harness for libFuzzer's coverage.
lisec_fuzzer(li_message ${CMAKE_CURRENT_LIST_DIR}/li_message.c lisec_li)
if(LISEC_FUZZ)
  target_sources(li_message PRIVATE ${CMAKE_SOURCE_DIR}/src/li/message.c ${CMAKE_SOURCE_DIR}/src/li/state.c)
endif()
