# The LI lock end to end with a real libvirtd + QEMU (TCG), polkit, swtpm,
# lisec-agent and lisecd (issue 15 item 3). 77 = skipped: no /dev/kvm and
# no TCG either.
lisec_integration_test(libvirt_qemu tests/integration/libvirt_qemu.sh)
set_tests_properties(libvirt_qemu PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
