# lisec-agent against hostile input on its host and from lisecd
# (agent_input.sh): disk files that are not regular files, and restart
# lists naming domains that are not lisec's LI VMs.
pkg_check_modules(AGENT_LIBVIRT REQUIRED IMPORTED_TARGET libvirt)
add_executable(agent_restart_driver ${CMAKE_SOURCE_DIR}/tests/integration/agent_restart_driver.c
                                    ${CMAKE_SOURCE_DIR}/cmd/lisec-agent/restart.c)
target_include_directories(agent_restart_driver PRIVATE ${CMAKE_SOURCE_DIR}/cmd/lisec-agent)
target_link_libraries(agent_restart_driver PRIVATE lisec_pkg lisec_base PkgConfig::TSS2 PkgConfig::CURL
                      PkgConfig::JANSSON PkgConfig::AGENT_LIBVIRT)
lisec_integration_test(agent_input tests/integration/agent_input.sh)
