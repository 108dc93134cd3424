# openapi (issue 23): docs/openapi.yaml against lisecd itself. The helper
# prints the route table lisecd serves (linked with lisec_api, so it is the
# same table); the script compares it with the document, validates every
# example, drives a running lisecd across roles and validates each reply,
# and lints the document with @redocly/cli (tools/, installed by
# scripts/bootstrap). Release build only: the sanitizer build runs the same
# routes in api_integration and the topic tests.
add_executable(openapi_routes ${CMAKE_SOURCE_DIR}/tests/integration/openapi_routes.c)
target_link_libraries(openapi_routes PRIVATE lisec_api)
lisec_integration_test(openapi tests/integration/openapi.sh)
set_tests_properties(openapi PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
