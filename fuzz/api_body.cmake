# api/body.c: the plain-body fast path held to jansson (seeds in fuzz/corpus/api_body/).
lisec_fuzzer(api_body ${CMAKE_CURRENT_LIST_DIR}/api_body.c lisec_api)
