# bench/observe: observation beside intent (issue 15), lisec's model beside
# the same reconciliation as SQL over SQLite (bench/observe/run).
if(TARGET lisec_model)
  add_executable(bench_observe ${CMAKE_CURRENT_LIST_DIR}/observe/bench_observe.c)
  target_link_libraries(bench_observe PRIVATE lisec_model PkgConfig::SQLITE)
endif()
