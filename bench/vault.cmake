add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/vault/bench_vault.c)
target_link_libraries(bench_vault PRIVATE lisec_ctl lisec_vault lisec_x1)
# A PKCS#11 module standing for a network HSM: forwards to SoftHSM2 and
# waits LISEC_BENCH_P11_DELAY_US before each token call (bench/vault/cold).
add_library(lisec_bench_p11delay MODULE ${CMAKE_CURRENT_LIST_DIR}/vault/p11delay.c)
target_include_directories(lisec_bench_p11delay PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(lisec_bench_p11delay PRIVATE PkgConfig::P11KIT ${CMAKE_DL_LIBS} Threads::Threads)
set_target_properties(lisec_bench_p11delay PROPERTIES PREFIX "")
add_executable(bench_vault_cold ${CMAKE_CURRENT_LIST_DIR}/vault/bench_vault_cold.c)
target_link_libraries(bench_vault_cold PRIVATE lisec_keys lisec_store lisec_vault ${CMAKE_DL_LIBS})
