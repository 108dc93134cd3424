# The pkg and li topics end to end against lisecd: package on-boarding
# (pkg_api.sh) and LI VM pairing and the activation lock with per-VM keys
# in a SoftHSM2 token (li_api.sh); the image a VM runs, reported by the
# libvirt hook through lisec-agent (pkg_agent.sh).
lisec_integration_test(pkg_api tests/integration/pkg_api.sh)
lisec_integration_test(li_api tests/integration/li_api.sh)
lisec_integration_test(pkg_agent tests/integration/pkg_agent.sh)
# The end of a version's life (issue 21 item 3): no downgrade, retirement,
# vendor CRLs made with openssl ca.
lisec_integration_test(pkg_end tests/integration/pkg_end.sh)
# Per-artifact signers judged against vendor CRLs like the package's own
# signer, at on-boarding and when a CRL arrives later (CRLs by openssl ca).
lisec_integration_test(pkg_artifact_crl tests/integration/pkg_artifact_crl.sh)
# Verifications side by side: two on-boardings and a vendor CRL's load
# meet in verification at once (test hook), a refusal stores nothing.
lisec_integration_test(pkg_concurrent tests/integration/pkg_concurrent.sh)
