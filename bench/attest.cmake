# bench/attest: full quote verifications per second (bench/attest/run).
add_executable(bench_attest ${CMAKE_CURRENT_LIST_DIR}/attest/bench_attest.c)
target_link_libraries(bench_attest PRIVATE lisec_attest)
