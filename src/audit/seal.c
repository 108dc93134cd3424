/* Sealing LI entries to the LI administration (TR 103 308 §4.1: LI events are
 * visible to the LI administration only). A sealed entry is the byte 0x02
 * followed by libsodium's crypto_box_seal of the plain entry padded to a
 * bucket: an ephemeral X25519 key agreement with the LI administration's
 * public key, so lisecd can seal but never open, and the tree, the database,
 * the hypervisor admin and the operator only ever hold ciphertext that still
 * hashes like any leaf. Every reader of the log sees a sealed entry's length,
 * so inside the box the plain entry follows the byte 0x03 and is padded
 * (ISO/IEC 7816-4: 0x80, then zeros) to the next multiple of
 * AUDIT_SEAL_BUCKET bytes: every sealed entry below the first bucket is as
 * long as every other, whatever LI words it holds. Entries sealed before the
 * padding hold the plain entry alone (its first byte 0x01) and still open. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

_Static_assert(AUDIT_SEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");
_Static_assert(AUDIT_ENTRY_MAX % AUDIT_SEAL_BUCKET == 0, "the largest padded entry ends a bucket");

static int sodium_ready(lisec_err *err) {
  if (sodium_init() < 0) return lisec_err_set(err, LISEC_ECRYPTO, "libsodium did not initialise");
  return 0;
}

int audit_entry_seal(const uint8_t *plain, size_t len, const uint8_t li_pk[AUDIT_X25519_LEN],
                     uint8_t **out, size_t *out_len, lisec_err *err) {
  int rc = sodium_ready(err);
  if (rc) return rc;
  /* The marker and at least one byte of padding must fit in AUDIT_ENTRY_MAX,
   * the most the opener takes (the encoder makes at most ~37 KiB). */
  if (len == 0 || len > AUDIT_SEAL_PLAIN_MAX || plain[0] != AUDIT_ENTRY_PLAIN)
    return lisec_err_set(err, LISEC_EINVAL, "only a plain audit entry of 1..%d bytes is sealed",
                         AUDIT_SEAL_PLAIN_MAX);
  size_t padded = (1 + len) / AUDIT_SEAL_BUCKET * AUDIT_SEAL_BUCKET + AUDIT_SEAL_BUCKET;
  uint8_t *box = malloc(padded);
  if (!box) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  box[0] = AUDIT_SEAL_PADDED;
  memcpy(box + 1, plain, len);
  size_t got = 0;
  if (sodium_pad(&got, box, 1 + len, AUDIT_SEAL_BUCKET, padded) != 0 || got != padded) {
    sodium_memzero(box, padded);
    free(box);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot pad the audit entry");
  }
  size_t n = 1 + crypto_box_SEALBYTES + padded;
  uint8_t *s = malloc(n);
  if (!s) {
    sodium_memzero(box, padded);
    free(box);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  s[0] = AUDIT_ENTRY_SEALED;
  rc = crypto_box_seal(s + 1, box, padded, li_pk);
  sodium_memzero(box, padded);
  free(box);
  if (rc != 0) {
    free(s);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot seal the audit entry (bad LI public key?)");
  }
  *out = s;
  *out_len = n;
  return 0;
}

int audit_entry_unpad(const uint8_t *box, size_t len, size_t *off, size_t *plain_len,
                      lisec_err *err) {
  if (len > AUDIT_ENTRY_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a sealed entry's contents of %zu bytes, at most %d",
                         len, AUDIT_ENTRY_MAX);
  if (len >= 1 && box[0] == AUDIT_ENTRY_PLAIN) { /* sealed before the padding */
    *off = 0;
    *plain_len = len;
    return 0;
  }
  if (len < 1 || box[0] != AUDIT_SEAL_PADDED)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: a sealed entry's contents are neither a plain entry nor a padded one");
  /* One bucket or more, the padding within the last: exactly the form
   * audit_entry_seal makes, so one plain entry has one sealed length. */
  size_t unpadded = 0;
  if (len % AUDIT_SEAL_BUCKET != 0 || sodium_unpad(&unpadded, box, len, AUDIT_SEAL_BUCKET) != 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: a sealed entry's padding is malformed (%zu bytes, not "
                         "whole %d-byte buckets ending in 0x80 and zeros)",
                         len, AUDIT_SEAL_BUCKET);
  if (unpadded < 2 || box[1] != AUDIT_ENTRY_PLAIN)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a sealed entry's padding holds no plain entry");
  *off = 1;
  *plain_len = unpadded - 1;
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
  size_t off = 0, pn = 0;
  rc = audit_entry_unpad(p, n, &off, &pn, err);
  if (rc) {
    sodium_memzero(p, n);
    free(p);
    return rc;
  }
  /* The plain entry to the front; what it leaves behind is wiped, so a
   * caller that wipes plain_len bytes leaves no copy of it. */
  memmove(p, p + off, pn);
  sodium_memzero(p + pn, n - pn);
  *plain = p;
  *plain_len = pn;
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
