# The audit log against its specifications (issue 14): RFC 9162 proofs from
# lisecd at edge sizes against an independent reference, the parameters RFC
# 9162 leaves undefined refused, and lisec audit prove checking lisecd's answer.
lisec_integration_test(audit_spec tests/integration/audit_spec.sh)
