# bench/model_api: the in-process half of the migration decision benchmark
# (bench/model_api/run); the HTTPS half is lisecd itself, driven by curl.
if(TARGET lisec_model)
  add_executable(bench_model_api_inproc ${CMAKE_CURRENT_LIST_DIR}/model_api/inproc.c)
  target_link_libraries(bench_model_api_inproc PRIVATE lisec_model)
endif()
