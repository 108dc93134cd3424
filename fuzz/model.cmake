# model/: the topology parser and everything a loaded document reaches
# (seeds in fuzz/corpus/model_topology/). The module's sources are compiled
# into the harness so libFuzzer's coverage instrumentation reaches them.
lisec_fuzzer(model_topology ${CMAKE_CURRENT_LIST_DIR}/model_topology.c lisec_model)
if(LISEC_FUZZ)
  file(GLOB model_fuzz_sources ${CMAKE_SOURCE_DIR}/src/model/*.c)
  target_sources(model_topology PRIVATE ${model_fuzz_sources})
endif()
