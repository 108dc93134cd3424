# rng_vm: liblisec-rng in a real QEMU guest snapshotted and resumed as two
# clones with new vmgenid GUIDs (issue 18). The guest program is built here;
# the script builds the initramfs and fetches the kernel at test time, and is
# skipped (77) only where qemu-system-x86_64 is absent.
add_executable(rng_clone_guest ${CMAKE_SOURCE_DIR}/tests/vm/rng_clone_guest.c)
target_link_libraries(rng_clone_guest PRIVATE lisec-rng PkgConfig::OPENSSL)
target_include_directories(rng_clone_guest PRIVATE ${CMAKE_SOURCE_DIR}/include)
lisec_integration_test(rng_vm tests/integration/rng_vm.sh)
set_tests_properties(rng_vm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 420)
