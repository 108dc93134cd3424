# rng_vm: liblisec-rng in a real QEMU guest snapshotted and resumed as two
# clones with new vmgenid GUIDs (issue 18). The guest program is built here;
# the script builds the initramfs and fetches the kernel at test time, and is
# skipped (77) where qemu-system-x86_64 is absent and in the sanitizer build.
add_executable(rng_clone_guest ${CMAKE_SOURCE_DIR}/tests/vm/rng_clone_guest.c)
target_link_libraries(rng_clone_guest PRIVATE lisec-rng PkgConfig::OPENSSL)
target_include_directories(rng_clone_guest PRIVATE ${CMAKE_SOURCE_DIR}/include)
lisec_integration_test(rng_vm tests/integration/rng_vm.sh)
set_tests_properties(rng_vm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 420)

# rng_session: every fetch of liblisec-rng from a real lisec-entropyd comes
# over a TLS connection of its own (no session for a clone to continue),
# through the clone-like events the library's test hooks can raise in
# process. The driver links the static OS part for those hooks.
add_executable(rng_session_driver ${CMAKE_SOURCE_DIR}/tests/integration/rng_session_driver.c)
target_link_libraries(rng_session_driver PRIVATE lisec_rng_os lisec_rng lisec_crypto lisec_base
                      PkgConfig::OPENSSL Threads::Threads)
lisec_integration_test(rng_session tests/integration/rng_session.sh)
