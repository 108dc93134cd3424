# The target vault's KEK rotation on a live lisecd with SoftHSM2 (vault_rotation.sh).
lisec_integration_test(vault_rotation tests/integration/vault_rotation.sh)
