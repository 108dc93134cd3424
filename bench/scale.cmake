# bench/scale: the audit log's curve against its size (bench/scale/run); the
# model's curves come from bench_model (src/model/CMakeLists.txt).
add_executable(scale_audit ${CMAKE_CURRENT_LIST_DIR}/scale/scale_audit.c
               ${CMAKE_SOURCE_DIR}/src/ctl/auditlog.c ${CMAKE_SOURCE_DIR}/src/ctl/audit_tsa.c)
target_link_libraries(scale_audit PRIVATE lisec_keys lisec_audit lisec_store lisec_curl lisec_crypto lisec_base
                      PkgConfig::P11KIT PkgConfig::SODIUM PkgConfig::SQLITE PkgConfig::JANSSON ${CMAKE_DL_LIBS}
                      Threads::Threads)
