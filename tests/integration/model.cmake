# The trust model wired into lisecd: its API, the libvirt migration hook and
# the Kubernetes scheduler extender, each against a real lisecd.
lisec_integration_test(model_api tests/integration/model_api.sh)
lisec_integration_test(libvirt_hook tests/integration/libvirt_hook.sh)
lisec_integration_test(k8s_filter tests/integration/k8s_filter.sh)
