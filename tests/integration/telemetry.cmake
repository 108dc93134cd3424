# Chassis telemetry from a BMC (issue 19): ipmi_sim over IPMI LAN, swtpm,
# lisec-agent with [bmc] and a real lisecd; voids, findings, refusals.
lisec_integration_test(telemetry_ipmi tests/integration/telemetry_ipmi.sh)
