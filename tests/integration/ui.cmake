# The compliance view (issue 23 item 4) in headless Chromium with client
# certificates; release build only, skipped (77) without chromium/NSS tools
# or a writable Chromium policy directory.
lisec_integration_test(ui tests/integration/ui.sh)
set_tests_properties(ui PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
