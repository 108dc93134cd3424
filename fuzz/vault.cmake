# vault/: the stored target row, read by the fast parser and by the general
# JSON reader, which must agree (seeds in fuzz/corpus/vault_sealed/).
lisec_fuzzer(vault_sealed ${CMAKE_CURRENT_LIST_DIR}/vault_sealed.c lisec_vault)
