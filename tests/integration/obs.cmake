# Observability (issue 25 item 8): the structured log and the access log,
# request ids across lisecd's processes, refused TLS clients, no LI
# identifier in logs or /metrics (logs); domain metrics, the metrics role,
# the probe listener and the examples/ rules and dashboard (observability).
lisec_integration_test(logs tests/integration/logs.sh)
lisec_integration_test(observability tests/integration/observability.sh)
