# bench/inventory: inventory + quote appraisals per second through lisecd
# (issue 15), many hosts over HTTPS keep-alive (bench/inventory/run).
add_executable(bench_inventory ${CMAKE_CURRENT_LIST_DIR}/inventory/bench_inventory.c)
target_link_libraries(bench_inventory PRIVATE lisec_attest PkgConfig::JANSSON PkgConfig::OPENSSL
                      PkgConfig::TSS2 Threads::Threads)
