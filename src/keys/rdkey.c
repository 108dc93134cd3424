/* RD data keys in the [rd] token (rdkey.h): one logged-in session,
 * serialised by a mutex, shared through keys/p11.h with the token's other
 * users. */
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
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
  int rc = keys_p11_open(module, "[rd]", &st->module, err);
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

/* The data key's value, by way of a one-use wrapping key (lock held). */
static int extract(keys_rdkey *st, CK_OBJECT_HANDLE key, uint8_t out[KEYS_RD_KEY_LEN], lisec_err *err) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_ULONG len = 32;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE wt[] = {{CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &kt, sizeof kt},
                       {CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &no, sizeof no},
                       {CKA_WRAP, &yes, sizeof yes},      {CKA_SENSITIVE, &no, sizeof no},
                       {CKA_EXTRACTABLE, &yes, sizeof yes}};
  CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0}, wrap = {CKM_AES_KEY_WRAP, NULL, 0};
  CK_OBJECT_HANDLE w = 0;
  uint8_t kek[32], wrapped[KEYS_RD_KEY_LEN + 8];
  CK_ULONG wlen = sizeof wrapped;
  CK_ATTRIBUTE val = {CKA_VALUE, kek, sizeof kek};
  const char *what = "C_GenerateKey (one-use wrapping key)";
  CK_RV rv = st->p11->C_GenerateKey(st->session, &gen, wt, LISEC_ARRAY_LEN(wt), &w);
  if (rv == CKR_OK && (what = "C_WrapKey (RD data key)",
                       rv = st->p11->C_WrapKey(st->session, &wrap, w, key, wrapped, &wlen)) == CKR_OK)
    what = "C_GetAttributeValue (one-use wrapping key)", rv = st->p11->C_GetAttributeValue(st->session, w, &val, 1);
  if (w) st->p11->C_DestroyObject(st->session, w);
  int rc = 0;
  if (rv != CKR_OK) rc = p11_fail(err, what, rv);
  else if (val.ulValueLen != 32 || wlen != sizeof wrapped)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "[rd] the token wrapped the data key in an unexpected form");
  if (!rc) {
    /* RFC 3394 unwrap in memory: the plain key exists only here. */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL) != 1 ||
        EVP_DecryptUpdate(c, out, &n1, wrapped, (int)wlen) != 1 ||
        EVP_DecryptFinal_ex(c, out + n1, &n2) != 1 || n1 + n2 != KEYS_RD_KEY_LEN)
      rc = lisec_err_set(err, LISEC_ECRYPTO, "[rd] the wrapped data key does not unwrap");
    EVP_CIPHER_CTX_free(c);
  }
  crypto_wipe(kek, sizeof kek);
  crypto_wipe(wrapped, sizeof wrapped);
  if (rc) crypto_wipe(out, KEYS_RD_KEY_LEN);
  return rc;
}

int keys_rdkey_get(keys_rdkey *st, const char *store, uint64_t period, bool create,
                   uint8_t key[KEYS_RD_KEY_LEN], lisec_err *err) {
  char label[LABEL_MAX];
  int rc = label_of(store, period, label, err);
  if (rc) return rc;
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
  if (!rc) rc = extract(st, oh[0], key, err);
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
