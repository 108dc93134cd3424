# Trusted time (docs/time.md): chronyd's command-protocol replies.
lisec_fuzzer(base_chrony ${CMAKE_CURRENT_LIST_DIR}/base_chrony.c lisec_base)
