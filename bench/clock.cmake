# bench/clock: a TPM clock sample's cost to the controller's clock topic as
# the fleet grows (issue 15), against the earlier per-report verdict.
add_executable(bench_clock ${CMAKE_CURRENT_LIST_DIR}/clock/bench_clock.c)
target_link_libraries(bench_clock PRIVATE lisec_ctl)
