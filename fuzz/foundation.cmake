lisec_fuzzer(base_json ${CMAKE_CURRENT_LIST_DIR}/base_json.c lisec_base)
lisec_fuzzer(vault_targets ${CMAKE_CURRENT_LIST_DIR}/vault_targets.c lisec_vault)
lisec_fuzzer(x1_message ${CMAKE_CURRENT_LIST_DIR}/x1_message.c lisec_x1)
lisec_fuzzer(x1_ne_state ${CMAKE_CURRENT_LIST_DIR}/x1_ne_state.c lisec_x1)
lisec_fuzzer(api_dispatch ${CMAKE_CURRENT_LIST_DIR}/api_dispatch.c lisec_api)
# base/hextime.c and id.c: hex, decimals, times and ids (seeds in fuzz/corpus/base_text/).
lisec_fuzzer(base_text ${CMAKE_CURRENT_LIST_DIR}/base_text.c lisec_base)
