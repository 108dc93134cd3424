add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/vault/bench_vault.c)
target_link_libraries(bench_vault PRIVATE lisec_ctl lisec_vault lisec_x1)
