# The trust model wired into lisecd: its API, the libvirt migration hook and
# the Kubernetes scheduler extender and admission webhook, each against a
# real lisecd (the webhook's AdmissionReviews written from the Kubernetes API
# reference).
lisec_integration_test(model_api tests/integration/model_api.sh)
lisec_integration_test(libvirt_hook tests/integration/libvirt_hook.sh)
lisec_integration_test(k8s_filter tests/integration/k8s_filter.sh)
lisec_integration_test(k8s_admit tests/integration/k8s_admit.sh)
# The webhook when a pod's node needs a fresh quote (swtpm and lisec-agent).
lisec_integration_test(k8s_admit_fresh tests/integration/k8s_admit_fresh.sh)
# Many pods claiming one VM: judged from the hosts' attested inventories
# (swtpm, lisec-agent over libvirt's test driver), refused while two run it.
lisec_integration_test(k8s_claims tests/integration/k8s_claims.sh)
# The same suite with lisecd's store on PostgreSQL (started by the script).
add_test(NAME model_api_postgres COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/model_api.sh
         ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} postgres)
set_tests_properties(model_api_postgres PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)
