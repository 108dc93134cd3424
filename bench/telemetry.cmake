# bench/telemetry: chassis reports of 10,000 hosts at one per minute, as a
# share of one core (issue 19, bench/telemetry/run).
if(TARGET lisec_ctl)
  add_executable(bench_telemetry ${CMAKE_CURRENT_LIST_DIR}/telemetry/bench_telemetry.c)
  target_link_libraries(bench_telemetry PRIVATE lisec_ctl lisec_attest)
endif()
