# api/: the front <-> controller messages (seeds in fuzz/corpus/api_wire/).
lisec_fuzzer(api_wire ${CMAKE_CURRENT_LIST_DIR}/api_wire.c lisec_api)
