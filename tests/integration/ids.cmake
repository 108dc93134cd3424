# lisec's one id rule (docs/api.md, "Identifiers") end to end: every kind of
# entity created, read and removed through the API and the CLI with ids at
# the rule's edges, and ids outside it refused at creation (ids.sh).
lisec_integration_test(ids tests/integration/ids.sh)
