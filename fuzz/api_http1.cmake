# api/http1.c: the front's HTTP/1.1 request framing, head and chunked body (seeds in fuzz/corpus/api_http1/).
lisec_fuzzer(api_http1 ${CMAKE_CURRENT_LIST_DIR}/api_http1.c lisec_api)
