# audit/: the signed-note parser and the entry decoder (seeds in
# fuzz/corpus/audit_note/ and fuzz/corpus/audit_entry/). The module's sources
# are compiled into each harness so libFuzzer's coverage reaches them.
set(audit_fuzz_sources hash.c verify.c tree.c entry.c seal.c note.c extension.c logverify.c)
list(TRANSFORM audit_fuzz_sources PREPEND ${CMAKE_SOURCE_DIR}/src/audit/)
foreach(h audit_note audit_entry)
  lisec_fuzzer(${h} ${CMAKE_SOURCE_DIR}/fuzz/${h}.c lisec_crypto PkgConfig::SODIUM Threads::Threads)
  if(LISEC_FUZZ)
    target_sources(${h} PRIVATE ${audit_fuzz_sources})
  endif()
endforeach()
