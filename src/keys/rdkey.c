/* RD data keys in the [rd] token (rdkey.h): one logged-in session,
 * serialised by a mutex, shared through keys/p11.h with the token's other
 * users. The data key leaves the token only wrapped to its recipient. */
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/p11.h"
#include "keys/rdkey.h"

struct keys_rdkey {
  pthread_mutex_t lock; /* the one session */
  keys_p11 *module;
  CK_FUNCTION_LIST_PTR p11;
  CK_SESSION_HANDLE session;
  bool session_open;
};

#define LABEL_MAX (sizeof KEYS_RD_LABEL_PREFIX + KEYS_RD_STORE_MAX + 24)

static int p11_fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[rd]", what, rv); }

int keys_rdkey_open(const char *module, const char *token, const char *pin, keys_rdkey **out,
                    lisec_err *err) {
  keys_rdkey *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->lock, NULL);
  int rc = keys_p11_open(module, NULL, "[rd]", &st->module, err);
  if (!rc) {
    st->p11 = keys_p11_functions(st->module);
    rc = keys_p11_session_open(st->module, "[rd]", token, pin, &st->session, err);
  }
  if (rc) {
    keys_rdkey_close(st);
    return rc;
  }
  st->session_open = true;
  *out = st;
  return 0;
}

void keys_rdkey_close(keys_rdkey *st) {
  if (!st) return;
  if (st->session_open) keys_p11_session_close(st->module, st->session);
  keys_p11_close(st->module);
  pthread_mutex_destroy(&st->lock);
  free(st);
}

/* The label (also the CKA_ID) of (store, period); EINVAL for a bad store. */
static int label_of(const char *store, uint64_t period, char label[LABEL_MAX], lisec_err *err) {
  size_t n = store ? strnlen(store, KEYS_RD_STORE_MAX + 1) : 0;
  if (n == 0 || n > KEYS_RD_STORE_MAX || !lisec_id_valid(store))
    return lisec_err_set(err, LISEC_EINVAL, "[rd] a store id: %s", LISEC_ID_RULE);
  if (period > KEYS_RD_PERIOD_MAX) return lisec_err_set(err, LISEC_EINVAL, "[rd] period out of range");
  snprintf(label, LABEL_MAX, KEYS_RD_LABEL_PREFIX "%s:%llu", store, (unsigned long long)period);
  return 0;
}

/* Up to cap handles of the objects labelled label (lock held). */
static CK_RV find(keys_rdkey *st, const char *label, CK_OBJECT_HANDLE *oh, CK_ULONG cap, CK_ULONG *got) {
  CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, (void *)label, strlen(label)}};
  *got = 0;
  CK_RV rv = st->p11->C_FindObjectsInit(st->session, t, LISEC_ARRAY_LEN(t));
  if (rv != CKR_OK) return rv;
  rv = st->p11->C_FindObjects(st->session, oh, cap, got);
  st->p11->C_FindObjectsFinal(st->session);
  return rv;
}

/* Reads an EC point attribute: DER OCTET STRING (PKCS#11 2.40) or the
 * raw point some tokens give; *n bytes of the point into p. */
static bool point_of(const uint8_t *a, CK_ULONG len, uint8_t p[KEYS_RD_POINT_LEN]) {
  if (len == KEYS_RD_POINT_LEN + 2 && a[0] == 0x04 && a[1] == KEYS_RD_POINT_LEN) a += 2, len -= 2;
  if (len != KEYS_RD_POINT_LEN || a[0] != 0x04) return false;
  memcpy(p, a, KEYS_RD_POINT_LEN);
  return true;
}

/* Wraps the data key to the recipient's P-256 point (lock held): an
 * ephemeral P-256 key pair made in the token as session objects, ECDH with
 * the recipient's point into a one-use AES-256 key (session, sensitive,
 * not extractable, wrap only), C_WrapKey with AES key wrap; every session
 * object destroyed after. The keys process handles no secret: it gets the
 * ephemeral public point and the wrapped bytes. */
static int wrap_to(keys_rdkey *st, CK_OBJECT_HANDLE key, const uint8_t recipient[KEYS_RD_POINT_LEN],
                   uint8_t eph[KEYS_RD_POINT_LEN], uint8_t wrapped[KEYS_RD_WRAPPED_LEN], lisec_err *err) {
  /* the DER of the OID of P-256 (1.2.840.10045.3.1.7) */
  static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE pub_t[] = {{CKA_EC_PARAMS, (void *)p256, sizeof p256}, {CKA_TOKEN, &no, sizeof no}};
  CK_ATTRIBUTE prv_t[] = {{CKA_TOKEN, &no, sizeof no},
                          {CKA_PRIVATE, &yes, sizeof yes},
                          {CKA_SENSITIVE, &yes, sizeof yes},
                          {CKA_EXTRACTABLE, &no, sizeof no},
                          {CKA_DERIVE, &yes, sizeof yes}};
  CK_MECHANISM kpg = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_OBJECT_HANDLE epub = 0, eprv = 0, kek = 0;
  uint8_t ptattr[KEYS_RD_POINT_LEN + 8];
  CK_ATTRIBUTE pt = {CKA_EC_POINT, ptattr, sizeof ptattr};
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_ULONG len = 32, wlen = KEYS_RD_WRAPPED_LEN;
  CK_ATTRIBUTE kek_t[] = {{CKA_CLASS, &cls, sizeof cls},        {CKA_KEY_TYPE, &kt, sizeof kt},
                          {CKA_VALUE_LEN, &len, sizeof len},    {CKA_TOKEN, &no, sizeof no},
                          {CKA_SENSITIVE, &yes, sizeof yes},    {CKA_EXTRACTABLE, &no, sizeof no},
                          {CKA_WRAP, &yes, sizeof yes},         {CKA_ENCRYPT, &no, sizeof no},
                          {CKA_DECRYPT, &no, sizeof no}};
  /* CKD_NULL: the one key derivation SoftHSM2 2.6 offers for ECDH; the
   * shared x-coordinate is the AES-256 wrapping key (docs/rd.md) */
  CK_ECDH1_DERIVE_PARAMS dp = {CKD_NULL, 0, NULL, KEYS_RD_POINT_LEN, (CK_BYTE_PTR)recipient};
  CK_MECHANISM derive = {CKM_ECDH1_DERIVE, &dp, sizeof dp}, wrap = {CKM_AES_KEY_WRAP, NULL, 0};
  const char *what = "C_GenerateKeyPair (ephemeral P-256)";
  CK_RV rv = st->p11->C_GenerateKeyPair(st->session, &kpg, pub_t, LISEC_ARRAY_LEN(pub_t), prv_t,
                                        LISEC_ARRAY_LEN(prv_t), &epub, &eprv);
  if (rv == CKR_OK) what = "C_GetAttributeValue (ephemeral point)", rv = st->p11->C_GetAttributeValue(st->session, epub, &pt, 1);
  if (rv == CKR_OK)
    what = "C_DeriveKey (ECDH with the recipient's key)",
    rv = st->p11->C_DeriveKey(st->session, &derive, eprv, kek_t, LISEC_ARRAY_LEN(kek_t), &kek);
  if (rv == CKR_OK)
    what = "C_WrapKey (RD data key to the recipient)",
    rv = st->p11->C_WrapKey(st->session, &wrap, kek, key, wrapped, &wlen);
  if (kek) st->p11->C_DestroyObject(st->session, kek);
  if (eprv) st->p11->C_DestroyObject(st->session, eprv);
  if (epub) st->p11->C_DestroyObject(st->session, epub);
  if (rv != CKR_OK) return p11_fail(err, what, rv);
  if (wlen != KEYS_RD_WRAPPED_LEN || !point_of(ptattr, pt.ulValueLen, eph))
    return lisec_err_set(err, LISEC_ECRYPTO, "[rd] the token wrapped the data key in an unexpected form");
  return 0;
}

int keys_rdkey_get(keys_rdkey *st, const char *store, uint64_t period, bool create,
                   const uint8_t recipient[KEYS_RD_POINT_LEN], uint8_t eph[KEYS_RD_POINT_LEN],
                   uint8_t wrapped[KEYS_RD_WRAPPED_LEN], lisec_err *err) {
  char label[LABEL_MAX];
  int rc = label_of(store, period, label, err);
  if (rc) return rc;
  if (!recipient || recipient[0] != 0x04)
    return lisec_err_set(err, LISEC_EINVAL, "[rd] the recipient is not an uncompressed P-256 point");
  CK_OBJECT_HANDLE oh[2] = {0, 0};
  CK_ULONG got = 0;
  pthread_mutex_lock(&st->lock);
  CK_RV rv = find(st, label, oh, 2, &got);
  if (rv != CKR_OK) rc = p11_fail(err, "C_FindObjects", rv);
  else if (got > 1) rc = lisec_err_set(err, LISEC_ECONFLICT, "[rd] more than one key object labelled %s", label);
  else if (got == 0 && !create) rc = lisec_err_set(err, LISEC_ENOTFOUND, "[rd] no key of that store and period in the token");
  else if (got == 0) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    /* Sensitive: the token never shows it; extractable only wrapped. */
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},      {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_VALUE_LEN, &len, sizeof len},  {CKA_TOKEN, &yes, sizeof yes},
                        {CKA_PRIVATE, &yes, sizeof yes},    {CKA_SENSITIVE, &yes, sizeof yes},
                        {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_ENCRYPT, &no, sizeof no},
                        {CKA_DECRYPT, &no, sizeof no},      {CKA_LABEL, label, strlen(label)},
                        {CKA_ID, label, strlen(label)}};
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    rv = st->p11->C_GenerateKey(st->session, &gen, t, LISEC_ARRAY_LEN(t), &oh[0]);
    if (rv != CKR_OK) rc = p11_fail(err, "C_GenerateKey (RD data key)", rv);
  }
  if (!rc) rc = wrap_to(st, oh[0], recipient, eph, wrapped, err);
  pthread_mutex_unlock(&st->lock);
  return rc;
}

int keys_rdkey_destroy(keys_rdkey *st, const char *store, uint64_t period, uint64_t *count,
                       lisec_err *err) {
  char label[LABEL_MAX];
  *count = 0;
  int rc = label_of(store, period, label, err);
  if (rc) return rc;
  CK_OBJECT_HANDLE oh[8];
  CK_ULONG got = 0;
  CK_RV rv = CKR_OK;
  const char *what = "C_FindObjects";
  pthread_mutex_lock(&st->lock);
  for (int round = 0; round < 64 && rv == CKR_OK; round++) {
    if ((rv = find(st, label, oh, LISEC_ARRAY_LEN(oh), &got)) != CKR_OK || got == 0) break;
    for (CK_ULONG i = 0; i < got && rv == CKR_OK; i++)
      if ((rv = st->p11->C_DestroyObject(st->session, oh[i])) == CKR_OK) (*count)++;
      else what = "C_DestroyObject";
  }
  pthread_mutex_unlock(&st->lock);
  if (rv != CKR_OK) return p11_fail(err, what, rv);
  if (got) return lisec_err_set(err, LISEC_ECRYPTO, "[rd] the key objects are still in the token");
  return 0;
}
