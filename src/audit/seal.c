/* Sealing LI entries to the LI administration (TR 103 308 §4.1: LI events are
 * visible to the LI administration only). A sealed entry is the byte 0x02
 * followed by libsodium's crypto_box_seal of the plain entry: an ephemeral
 * X25519 key agreement with the LI administration's public key, so lisecd
 * can seal but never open, and the tree, the database, the hypervisor admin
 * and the operator only ever hold ciphertext that still hashes like any leaf. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

_Static_assert(AUDIT_SEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");

static int sodium_ready(lisec_err *err) {
  if (sodium_init() < 0) return lisec_err_set(err, LISEC_ECRYPTO, "libsodium did not initialise");
  return 0;
}

int audit_entry_seal(const uint8_t *plain, size_t len, const uint8_t li_pk[AUDIT_X25519_LEN],
                     uint8_t **out, size_t *out_len, lisec_err *err) {
  int rc = sodium_ready(err);
  if (rc) return rc;
  if (len == 0 || len > AUDIT_ENTRY_MAX || plain[0] != AUDIT_ENTRY_PLAIN)
    return lisec_err_set(err, LISEC_EINVAL, "only a plain audit entry of 1..%d bytes is sealed",
                         AUDIT_ENTRY_MAX);
  size_t n = 1 + crypto_box_SEALBYTES + len;
  uint8_t *s = malloc(n);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  s[0] = AUDIT_ENTRY_SEALED;
  if (crypto_box_seal(s + 1, plain, len, li_pk) != 0) {
    free(s);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot seal the audit entry (bad LI public key?)");
  }
  *out = s;
  *out_len = n;
  return 0;
}

int audit_entry_open(const uint8_t *sealed, size_t len, const uint8_t li_sk[AUDIT_X25519_LEN],
                     uint8_t **plain, size_t *plain_len, lisec_err *err) {
  int rc = sodium_ready(err);
  if (rc) return rc;
  if (len < 1 || sealed[0] != AUDIT_ENTRY_SEALED)
    return lisec_err_set(err, LISEC_EINVAL, "not a sealed audit entry");
  if (len <= 1 + crypto_box_SEALBYTES || len > 1 + crypto_box_SEALBYTES + AUDIT_ENTRY_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "sealed audit entry of %zu bytes is malformed", len);
  uint8_t pk[AUDIT_X25519_LEN];
  if (crypto_scalarmult_base(pk, li_sk) != 0)
    return lisec_err_set(err, LISEC_ECRYPTO, "not a usable X25519 secret key");
  size_t n = len - 1 - crypto_box_SEALBYTES;
  uint8_t *p = malloc(n);
  if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (crypto_box_seal_open(p, sealed + 1, len - 1, pk, li_sk) != 0) {
    free(p);
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "TR103308-4.1: the sealed entry does not open with this key");
  }
  *plain = p;
  *plain_len = n;
  return 0;
}

int audit_li_keygen(uint8_t pk[AUDIT_X25519_LEN], uint8_t sk[AUDIT_X25519_LEN], lisec_err *err) {
  int rc = sodium_ready(err);
  if (rc) return rc;
  if (crypto_box_keypair(pk, sk) != 0)
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot generate an X25519 key pair");
  return 0;
}

bool audit_ed25519_ok(const uint8_t sig[AUDIT_ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                      const uint8_t pk[AUDIT_ED25519_PK_LEN]) {
  return sodium_init() >= 0 && crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
