# bench/audit: the appender beside plain SQLite, proof latency, verification.
add_executable(bench_audit ${CMAKE_CURRENT_LIST_DIR}/audit/bench_audit.c
               ${CMAKE_SOURCE_DIR}/src/ctl/auditlog.c ${CMAKE_SOURCE_DIR}/src/ctl/audit_tsa.c)
target_link_libraries(bench_audit PRIVATE lisec_keys lisec_audit lisec_store lisec_curl lisec_crypto lisec_base PkgConfig::P11KIT
                      PkgConfig::SODIUM PkgConfig::SQLITE PkgConfig::JANSSON ${CMAKE_DL_LIBS}
                      Threads::Threads)
# what the keys process's witness adds to a checkpoint (bench/audit/run, 4.)
add_executable(bench_witness ${CMAKE_CURRENT_LIST_DIR}/audit/bench_witness.c)
target_link_libraries(bench_witness PRIVATE lisec_keys lisec_audit lisec_base PkgConfig::SODIUM Threads::Threads)
