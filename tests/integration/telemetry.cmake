# Chassis telemetry from a BMC (issue 19): ipmi_sim over IPMI LAN, swtpm,
# lisec-agent with [bmc] and a real lisecd; voids, findings, refusals.
lisec_integration_test(telemetry_ipmi tests/integration/telemetry_ipmi.sh)
# lisec-agent's BMC reader against an ipmitool stand-in: parsing, the
# password file, the deadline and output bound (both builds).
lisec_integration_test(telemetry_agent tests/integration/telemetry_agent.sh)
