# The target vault's KEK rotation on a live lisecd with SoftHSM2 (vault_rotation.sh).
lisec_integration_test(vault_rotation tests/integration/vault_rotation.sh)
# The KEK in NSS's softoken, a PKCS#11 3.0 token, through lisecd (vault_pkcs11_v3.sh).
lisec_integration_test(vault_pkcs11_v3 tests/integration/vault_pkcs11_v3.sh)
# TR 103 308 §5.7: a removed or updated target's and an ended authorisation's data keys leave the keys process's cache (vault_evict.sh).
lisec_integration_test(vault_evict tests/integration/vault_evict.sh)
