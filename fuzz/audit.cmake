# audit/: the signed-note parser, the entry decoder and the stored tree
# frontier's parser (seeds in fuzz/corpus/audit_note/, audit_entry/ and
# audit_frontier/). The module's sources
# are compiled into each harness so libFuzzer's coverage reaches them.
set(audit_fuzz_sources hash.c verify.c tree.c entry.c seal.c note.c extension.c logverify.c frontier.c)
list(TRANSFORM audit_fuzz_sources PREPEND ${CMAKE_SOURCE_DIR}/src/audit/)
foreach(h audit_note audit_entry audit_frontier)
  lisec_fuzzer(${h} ${CMAKE_SOURCE_DIR}/fuzz/${h}.c lisec_crypto PkgConfig::SODIUM Threads::Threads)
  if(LISEC_FUZZ)
    target_sources(${h} PRIVATE ${audit_fuzz_sources})
  endif()
endforeach()
