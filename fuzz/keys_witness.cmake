# keys/witness_state.c: the audit witness's last signed checkpoint, in the
# development file and in the token's data objects (a stand-in function
# list serves the input's values); seeds in fuzz/corpus/keys_witness_state/.
lisec_fuzzer(keys_witness_state ${CMAKE_CURRENT_LIST_DIR}/keys_witness_state.c lisec_keys)
