# keys/: the messages between the controller and the keys process (issue 16;
# seeds in fuzz/corpus/keys_wire/).
lisec_fuzzer(keys_wire ${CMAKE_CURRENT_LIST_DIR}/keys_wire.c lisec_keys)
