/* Sealing a target: a fresh 256-bit data key per record and version, AES-256-GCM
 * over the canonical JSON of the identifiers with "lisec-target-v1|id|
 * authorisation|version" as associated data, the data key wrapped by the KEK
 * outside the process. Every plaintext buffer is wiped before it is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vault/vault.h"

static int make_aad(const vault_sealed *s, char *aad, size_t len) {
  int n = snprintf(aad, len, "lisec-target-v1|%s|%s|%lld", s->id, s->authorisation,
                   (long long)s->version);
  return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Both follow lisec's one id rule (base/id.c): a target that is sealed can
 * be named in a URL and removed, and neither can hold the '|' that
 * separates the associated data's fields. */
_Static_assert(VAULT_ID_MAX == LISEC_ID_MAX, "target ids are lisec ids");

static int check_ids(const char *id, const char *auth, int64_t version, lisec_err *err) {
  int rc = lisec_id_check("target id", id, id ? strnlen(id, VAULT_ID_MAX + 1) : 0, err);
  if (rc || (rc = lisec_id_check("authorisation", auth, auth ? strnlen(auth, VAULT_ID_MAX + 1) : 0, err)))
    return rc;
  if (version < 1) return lisec_err_set(err, LISEC_EINVAL, "version must be 1 or more");
  return 0;
}

void vault_sealed_free(vault_sealed *s) {
  free(s->ciphertext);
  s->ciphertext = NULL;
  s->ciphertext_len = 0;
}

int vault_seal(const char *id, const char *authorisation, int64_t version,
               const json_t *identifiers, const vault_kek *kek, vault_sealed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  int rc = check_ids(id, authorisation, version, err);
  if (rc || (rc = vault_identifiers_check(identifiers, err))) return rc;
  snprintf(out->id, sizeof out->id, "%s", id);
  snprintf(out->authorisation, sizeof out->authorisation, "%s", authorisation);
  snprintf(out->kek_label, sizeof out->kek_label, "%s", kek->label ? kek->label : "");
  out->version = version;
  char *pt = lisec_json_dump_canonical(identifiers);
  if (!pt) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t pt_len = strlen(pt);
  uint8_t key[VAULT_DATA_KEY_LEN];
  char aad[3 * VAULT_ID_MAX + 64];
  int aad_len = make_aad(out, aad, sizeof aad);
  out->ciphertext_len = pt_len + CRYPTO_AEAD_OVERHEAD;
  out->ciphertext = malloc(out->ciphertext_len);
  if (!out->ciphertext) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = crypto_random(key, sizeof key, err);
  if (!rc) rc = crypto_aead_seal(key, aad, (size_t)aad_len, pt, pt_len, out->ciphertext,
                                 out->ciphertext_len, err);
  if (!rc) {
    out->wrapped_key_len = sizeof out->wrapped_key;
    rc = kek->wrap(kek->ctx, key, out->wrapped_key, &out->wrapped_key_len, err);
  }
  crypto_wipe(key, sizeof key);
  crypto_wipe(pt, pt_len);
  free(pt);
  if (rc) vault_sealed_free(out);
  return rc;
}

/* The AEAD step of vault_open: through the KEK's own open when it has one
 * (the data key stays in the KEK's locked cache), else unwrap and open here. */
static int open_record(const vault_sealed *s, const vault_kek *kek, const vault_opener *op,
                       const char *aad, size_t aad_len, uint8_t *pt, size_t pt_len, lisec_err *err) {
  lisec_err aerr = {0};
  int rc;
  if (op) {
    rc = op->open(op->ctx, s->wrapped_key, s->wrapped_key_len, aad, aad_len, s->ciphertext,
                   s->ciphertext_len, pt, &aerr);
    if (rc && rc != LISEC_ECRYPTO) {
      *err = aerr;
      return lisec_err_wrap(err, "target %s: data key", s->id);
    }
  } else {
    uint8_t key[VAULT_DATA_KEY_LEN];
    if ((rc = kek->unwrap(kek->ctx, s->wrapped_key, s->wrapped_key_len, key, err)))
      return lisec_err_wrap(err, "target %s: data key", s->id);
    rc = crypto_aead_open(key, aad, aad_len, s->ciphertext, s->ciphertext_len, pt, pt_len, &aerr);
    crypto_wipe(key, sizeof key);
  }
  if (rc)
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "TR103308-5.2: target %s does not open under its record id, authorisation "
                         "%s and version %lld: moved, rolled back or altered",
                         s->id, s->authorisation, (long long)s->version);
  return 0;
}

static int open_any(const vault_sealed *s, const vault_kek *kek, const vault_opener *op,
                    json_t **identifiers, lisec_err *err) {
  *identifiers = NULL;
  if (s->ciphertext_len < CRYPTO_AEAD_OVERHEAD)
    return lisec_err_set(err, LISEC_EINVAL, "target %s: ciphertext truncated", s->id);
  size_t pt_len = s->ciphertext_len - CRYPTO_AEAD_OVERHEAD;
  char aad[3 * VAULT_ID_MAX + 64];
  int aad_len = make_aad(s, aad, sizeof aad);
  if (aad_len < 0) return lisec_err_set(err, LISEC_EINVAL, "target %s: ids too long", s->id);
  /* Small records decrypt on the stack (no allocator round trip), larger
   * ones on the heap; either buffer is wiped before it is released. */
  char stack_pt[1024];
  char *pt = pt_len < sizeof stack_pt ? stack_pt : malloc(pt_len + 1);
  if (!pt) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = open_record(s, kek, op, aad, (size_t)aad_len, (uint8_t *)pt, pt_len, err);
  if (!rc) {
    pt[pt_len] = '\0';
    rc = lisec_json_parse(pt, pt_len, identifiers, err);
  }
  crypto_wipe(pt, pt_len);
  if (pt != stack_pt) free(pt);
  return rc;
}

int vault_open(const vault_sealed *s, const vault_kek *kek, json_t **identifiers, lisec_err *err) {
  return open_any(s, kek, NULL, identifiers, err);
}

int vault_open_with(const vault_sealed *s, const vault_opener *op, json_t **identifiers,
                    lisec_err *err) {
  return open_any(s, NULL, op, identifiers, err);
}

int vault_rewrap(vault_sealed *s, const vault_kek *old_kek, const vault_kek *new_kek,
                 lisec_err *err) {
  uint8_t key[VAULT_DATA_KEY_LEN], wrapped[VAULT_WRAPPED_MAX];
  size_t wrapped_len = sizeof wrapped;
  int rc = old_kek->unwrap(old_kek->ctx, s->wrapped_key, s->wrapped_key_len, key, err);
  if (!rc) rc = new_kek->wrap(new_kek->ctx, key, wrapped, &wrapped_len, err);
  crypto_wipe(key, sizeof key);
  if (rc) return rc;
  memcpy(s->wrapped_key, wrapped, wrapped_len);
  s->wrapped_key_len = wrapped_len;
  snprintf(s->kek_label, sizeof s->kek_label, "%s", new_kek->label ? new_kek->label : "");
  return 0;
}

int vault_sealed_to_json(const vault_sealed *s, json_t **out, lisec_err *err) {
  char *ct = NULL, *wk = NULL;
  if (crypto_base64_encode(s->ciphertext, s->ciphertext_len, &ct) != 0 ||
      crypto_base64_encode(s->wrapped_key, s->wrapped_key_len, &wk) != 0) {
    free(ct);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id", s->id, "authorisation",
                   s->authorisation, "version", (json_int_t)s->version, "kek", s->kek_label,
                   "wrapped_key", wk, "ciphertext", ct);
  free(ct);
  free(wk);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int vault_sealed_from_json(const json_t *j, vault_sealed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  const char *id, *auth, *kek, *wk, *ct;
  int64_t version = 0;
  int rc;
  if ((rc = lisec_json_get_str(j, "id", true, VAULT_ID_MAX, &id, err)) ||
      (rc = lisec_json_get_str(j, "authorisation", true, VAULT_ID_MAX, &auth, err)) ||
      (rc = lisec_json_get_int(j, "version", true, 1, INT64_MAX, &version, err)) ||
      (rc = lisec_json_get_str(j, "kek", true, VAULT_ID_MAX, &kek, err)) ||
      (rc = lisec_json_get_str(j, "wrapped_key", true, 2 * VAULT_WRAPPED_MAX, &wk, err)) ||
      (rc = lisec_json_get_str(j, "ciphertext", true, 8u << 20, &ct, err)))
    return rc;
  snprintf(out->id, sizeof out->id, "%s", id);
  snprintf(out->authorisation, sizeof out->authorisation, "%s", auth);
  snprintf(out->kek_label, sizeof out->kek_label, "%s", kek);
  out->version = version;
  uint8_t *wkb = NULL;
  size_t wkl = 0;
  if ((rc = crypto_base64_decode(wk, VAULT_WRAPPED_MAX, &wkb, &wkl, err))) return rc;
  memcpy(out->wrapped_key, wkb, wkl);
  out->wrapped_key_len = wkl;
  free(wkb);
  return crypto_base64_decode(ct, 6u << 20, &out->ciphertext, &out->ciphertext_len, err);
}
