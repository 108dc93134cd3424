lisec_fuzzer(base_json ${CMAKE_CURRENT_LIST_DIR}/base_json.c lisec_base)
lisec_fuzzer(vault_targets ${CMAKE_CURRENT_LIST_DIR}/vault_targets.c lisec_vault)
lisec_fuzzer(x1_message ${CMAKE_CURRENT_LIST_DIR}/x1_message.c lisec_x1)
lisec_fuzzer(api_dispatch ${CMAKE_CURRENT_LIST_DIR}/api_dispatch.c lisec_api)
