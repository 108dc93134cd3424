# The target vault's KEK rotation on a live lisecd with SoftHSM2 (vault_rotation.sh).
lisec_integration_test(vault_rotation tests/integration/vault_rotation.sh)
# The KEK in NSS's softoken, a PKCS#11 3.0 token, through lisecd (vault_pkcs11_v3.sh).
lisec_integration_test(vault_pkcs11_v3 tests/integration/vault_pkcs11_v3.sh)
