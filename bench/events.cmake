# bench/events: signed LI VM events through lisecd's intake beside the
# OpenSSL verify loop and plain SQLite inserts of the same records.
add_executable(bench_events ${CMAKE_CURRENT_LIST_DIR}/events/bench_events.c)
target_link_libraries(bench_events PRIVATE lisec_ctl lisec_li lisec_events PkgConfig::SQLITE PkgConfig::SODIUM
                      Threads::Threads)
