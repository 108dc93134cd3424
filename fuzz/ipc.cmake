# ipc/: the framing between lisecd's processes (seeds in fuzz/corpus/ipc_frame/).
lisec_fuzzer(ipc_frame ${CMAKE_CURRENT_LIST_DIR}/ipc_frame.c lisec_ipc)
