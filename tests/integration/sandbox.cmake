# lisecd's per-process sandbox (issue 16): a probe program that enters each
# role's sandbox and makes one kind of call, and the scripts that check the
# real processes (what the front cannot open; what its memory does not hold).
add_executable(sandbox_check ${CMAKE_SOURCE_DIR}/tests/integration/sandbox_check.c)
target_link_libraries(sandbox_check PRIVATE lisecd_sandbox PkgConfig::SQLITE PkgConfig::P11KIT
                      Threads::Threads ${CMAKE_DL_LIBS})
lisec_integration_test(lisecd_sandbox tests/integration/lisecd_sandbox.sh)
lisec_integration_test(lisecd_memory tests/integration/lisecd_memory.sh)
