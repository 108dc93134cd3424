/* PKCS#11 and development-file key-encryption keys for the vault. Data keys
 * are wrapped with AES-256-GCM inside the token (C_Encrypt with CKM_AES_GCM,
 * a random 96-bit IV, "lisec-kek-v1" as associated data); the wrapped form is
 * IV || ciphertext || tag. One session, serialised by a mutex. */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "ctl/kek.h"

#define KEK_AAD "lisec-kek-v1"
#define KEK_IV 12
#define KEK_TAG 16
#define CACHE_SLOTS 4096
#define CACHE_TTL_MS 60000

/* Unwrapped data keys, kept for a bounded time so repeated reads of a target
 * do not each ask the token. Keyed by the SHA-256 of the wrapped key; the
 * table is locked in RAM (never swapped) and wiped on eviction and close. */
typedef struct kek_cache_slot {
  uint8_t wrapped_hash[32];
  uint8_t key[VAULT_DATA_KEY_LEN];
  int64_t expires_ms;
} kek_cache_slot;

struct ctl_kek {
  bool dev;
  char label[VAULT_ID_MAX + 1];
  pthread_mutex_t lock;
  /* PKCS#11 */
  void *module;
  CK_FUNCTION_LIST_PTR p11;
  CK_SESSION_HANDLE session;
  CK_OBJECT_HANDLE key;
  /* development file */
  uint8_t file_key[32];
  kek_cache_slot *cache; /* CACHE_SLOTS entries, mlock'ed */
};

static void cache_init(ctl_kek *k) {
  k->cache = calloc(CACHE_SLOTS, sizeof *k->cache);
  if (k->cache) mlock(k->cache, CACHE_SLOTS * sizeof *k->cache);
}

static bool cache_get(ctl_kek *k, const uint8_t *wrapped, size_t len, uint8_t key[VAULT_DATA_KEY_LEN]) {
  if (!k->cache) return false;
  uint8_t h[32];
  crypto_sha256(wrapped, len, h);
  kek_cache_slot *s = &k->cache[(h[0] | h[1] << 8) % CACHE_SLOTS];
  bool hit = s->expires_ms > lisec_time_now_ms() && crypto_ct_equal(s->wrapped_hash, h, 32);
  if (hit) memcpy(key, s->key, VAULT_DATA_KEY_LEN);
  return hit;
}

static void cache_put(ctl_kek *k, const uint8_t *wrapped, size_t len, const uint8_t key[VAULT_DATA_KEY_LEN]) {
  if (!k->cache) return;
  uint8_t h[32];
  crypto_sha256(wrapped, len, h);
  kek_cache_slot *s = &k->cache[(h[0] | h[1] << 8) % CACHE_SLOTS];
  memcpy(s->wrapped_hash, h, 32);
  memcpy(s->key, key, VAULT_DATA_KEY_LEN);
  s->expires_ms = lisec_time_now_ms() + CACHE_TTL_MS;
}

static int p11_fail(lisec_err *err, const char *what, CK_RV rv) {
  return lisec_err_set(err, LISEC_ECRYPTO, "PKCS#11 %s failed (CKR 0x%lx)", what, (unsigned long)rv);
}

static int find_slot(ctl_kek *k, const char *token_label, CK_SLOT_ID *slot, lisec_err *err) {
  CK_ULONG n = 0;
  CK_RV rv = k->p11->C_GetSlotList(CK_TRUE, NULL, &n);
  if (rv != CKR_OK) return p11_fail(err, "C_GetSlotList", rv);
  CK_SLOT_ID slots[64];
  if (n > 64) n = 64;
  if ((rv = k->p11->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) return p11_fail(err, "C_GetSlotList", rv);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO info;
    if (k->p11->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
    char label[33];
    memcpy(label, info.label, 32);
    label[32] = '\0';
    for (int j = 31; j >= 0 && label[j] == ' '; j--) label[j] = '\0';
    if (strcmp(label, token_label) == 0) {
      *slot = slots[i];
      return 0;
    }
  }
  return lisec_err_set(err, LISEC_EUNAVAIL, "PKCS#11 token \"%s\" not found", token_label);
}

static int find_or_create_key(ctl_kek *k, const ctl_kek_pkcs11_config *cfg, lisec_err *err) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &type, sizeof type},
                         {CKA_LABEL, (void *)cfg->key_label, strlen(cfg->key_label)}};
  CK_ULONG found = 0;
  CK_RV rv = k->p11->C_FindObjectsInit(k->session, find, 3);
  if (rv == CKR_OK) rv = k->p11->C_FindObjects(k->session, &k->key, 1, &found);
  k->p11->C_FindObjectsFinal(k->session);
  if (rv != CKR_OK) return p11_fail(err, "C_FindObjects", rv);
  if (found == 1) return 0;
  if (!cfg->create)
    return lisec_err_set(err, LISEC_ENOTFOUND, "no AES key labelled \"%s\" in the token", cfg->key_label);
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG len = 32;
  CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
  /* Sensitive and never extractable: the key cannot leave the token. */
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &type, sizeof type},
                         {CKA_LABEL, (void *)cfg->key_label, strlen(cfg->key_label)},
                         {CKA_VALUE_LEN, &len, sizeof len},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_SENSITIVE, &yes, sizeof yes},
                         {CKA_EXTRACTABLE, &no, sizeof no},
                         {CKA_ENCRYPT, &yes, sizeof yes},
                         {CKA_DECRYPT, &yes, sizeof yes}};
  rv = k->p11->C_GenerateKey(k->session, &mech, tmpl, LISEC_ARRAY_LEN(tmpl), &k->key);
  return rv == CKR_OK ? 0 : p11_fail(err, "C_GenerateKey", rv);
}

int ctl_kek_open_pkcs11(const ctl_kek_pkcs11_config *cfg, ctl_kek **out, lisec_err *err) {
  if (!cfg->module || !cfg->token_label || !cfg->pin || !cfg->key_label)
    return lisec_err_set(err, LISEC_EINVAL, "PKCS#11 KEK needs module, token, pin and key label");
  ctl_kek *k = calloc(1, sizeof *k);
  if (!k) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&k->lock, NULL);
  snprintf(k->label, sizeof k->label, "pkcs11:%s/%s", cfg->token_label, cfg->key_label);
  cache_init(k);
  int rc = 0;
  CK_RV rv;
  CK_SLOT_ID slot = 0;
  CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR) = NULL;
  k->module = dlopen(cfg->module, RTLD_NOW | RTLD_LOCAL);
  if (!k->module) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "cannot load PKCS#11 module %s: %s", cfg->module, dlerror());
    goto fail;
  }
  *(void **)&get_list = dlsym(k->module, "C_GetFunctionList");
  if (!get_list || get_list(&k->p11) != CKR_OK) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s is not a PKCS#11 module", cfg->module);
    goto fail;
  }
  rv = k->p11->C_Initialize(NULL);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    rc = p11_fail(err, "C_Initialize", rv);
    goto fail;
  }
  if ((rc = find_slot(k, cfg->token_label, &slot, err))) goto fail;
  if ((rv = k->p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &k->session)) != CKR_OK) {
    rc = p11_fail(err, "C_OpenSession", rv);
    goto fail;
  }
  rv = k->p11->C_Login(k->session, CKU_USER, (CK_UTF8CHAR_PTR)cfg->pin, strlen(cfg->pin));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    rc = rv == CKR_PIN_INCORRECT ? lisec_err_set(err, LISEC_EAUTH, "PKCS#11 login refused: wrong PIN")
                                 : p11_fail(err, "C_Login", rv);
    goto fail;
  }
  if ((rc = find_or_create_key(k, cfg, err))) goto fail;
  *out = k;
  return 0;
fail:
  ctl_kek_close(k);
  return rc;
}

int ctl_kek_open_file(const char *path, ctl_kek **out, lisec_err *err) {
  ctl_kek *k = calloc(1, sizeof *k);
  if (!k) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&k->lock, NULL);
  k->dev = true;
  snprintf(k->label, sizeof k->label, "file:development");
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, 64, &data, &len, err);
  if (rc == LISEC_EIO) {
    rc = crypto_random(k->file_key, 32, err);
    if (!rc) rc = lisec_file_write_atomic(path, k->file_key, 32, 0600, err);
  } else if (rc == 0) {
    if (len != 32) rc = lisec_err_set(err, LISEC_EINVAL, "%s: a KEK file holds exactly 32 bytes", path);
    else memcpy(k->file_key, data, 32);
    crypto_wipe(data, len);
    free(data);
  }
  if (rc) {
    ctl_kek_close(k);
    return rc;
  }
  *out = k;
  return 0;
}

void ctl_kek_close(ctl_kek *k) {
  if (!k) return;
  if (k->p11 && k->session) {
    k->p11->C_Logout(k->session);
    k->p11->C_CloseSession(k->session);
  }
  /* C_Finalize is left out: the module may be shared in this process. */
  if (k->module) dlclose(k->module);
  if (k->cache) {
    crypto_wipe(k->cache, CACHE_SLOTS * sizeof *k->cache);
    munlock(k->cache, CACHE_SLOTS * sizeof *k->cache);
    free(k->cache);
  }
  crypto_wipe(k->file_key, sizeof k->file_key);
  pthread_mutex_destroy(&k->lock);
  free(k);
}

bool ctl_kek_is_development(const ctl_kek *k) { return k->dev; }

static int kek_wrap(void *ctx, const uint8_t key[VAULT_DATA_KEY_LEN], uint8_t *out, size_t *out_len,
                    lisec_err *err) {
  ctl_kek *k = ctx;
  size_t need = KEK_IV + VAULT_DATA_KEY_LEN + KEK_TAG;
  if (*out_len < need) return lisec_err_set(err, LISEC_EINVAL, "wrap buffer too small");
  if (k->dev) {
    *out_len = VAULT_DATA_KEY_LEN + CRYPTO_AEAD_OVERHEAD;
    return crypto_aead_seal(k->file_key, KEK_AAD, strlen(KEK_AAD), key, VAULT_DATA_KEY_LEN, out,
                            *out_len, err);
  }
  int rc = crypto_random(out, KEK_IV, err);
  if (rc) return rc;
  CK_GCM_PARAMS gcm = {out, KEK_IV, KEK_IV * 8, (unsigned char *)KEK_AAD, strlen(KEK_AAD), KEK_TAG * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
  CK_ULONG n = (CK_ULONG)(*out_len - KEK_IV);
  pthread_mutex_lock(&k->lock);
  CK_RV rv = k->p11->C_EncryptInit(k->session, &mech, k->key);
  if (rv == CKR_OK) rv = k->p11->C_Encrypt(k->session, (CK_BYTE_PTR)key, VAULT_DATA_KEY_LEN, out + KEK_IV, &n);
  pthread_mutex_unlock(&k->lock);
  if (rv != CKR_OK) return p11_fail(err, "C_Encrypt (wrap data key)", rv);
  *out_len = KEK_IV + n;
  pthread_mutex_lock(&k->lock);
  cache_put(k, out, *out_len, key);
  pthread_mutex_unlock(&k->lock);
  return 0;
}

static int kek_unwrap(void *ctx, const uint8_t *in, size_t in_len, uint8_t key[VAULT_DATA_KEY_LEN],
                      lisec_err *err) {
  ctl_kek *k = ctx;
  if (k->dev)
    return crypto_aead_open(k->file_key, KEK_AAD, strlen(KEK_AAD), in, in_len, key,
                            VAULT_DATA_KEY_LEN, err);
  if (in_len != KEK_IV + VAULT_DATA_KEY_LEN + KEK_TAG)
    return lisec_err_set(err, LISEC_EINVAL, "wrapped data key has the wrong length");
  pthread_mutex_lock(&k->lock);
  bool hit = cache_get(k, in, in_len, key);
  pthread_mutex_unlock(&k->lock);
  if (hit) return 0;
  CK_GCM_PARAMS gcm = {(unsigned char *)in, KEK_IV, KEK_IV * 8, (unsigned char *)KEK_AAD,
                       strlen(KEK_AAD), KEK_TAG * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
  uint8_t buf[VAULT_DATA_KEY_LEN + KEK_TAG];
  CK_ULONG n = sizeof buf;
  pthread_mutex_lock(&k->lock);
  CK_RV rv = k->p11->C_DecryptInit(k->session, &mech, k->key);
  if (rv == CKR_OK) rv = k->p11->C_Decrypt(k->session, (CK_BYTE_PTR)in + KEK_IV, in_len - KEK_IV, buf, &n);
  pthread_mutex_unlock(&k->lock);
  if (rv != CKR_OK || n != VAULT_DATA_KEY_LEN) {
    crypto_wipe(buf, sizeof buf);
    return rv == CKR_OK ? lisec_err_set(err, LISEC_ECRYPTO, "unwrapped data key has the wrong length")
                        : p11_fail(err, "C_Decrypt (unwrap data key: wrong KEK or altered)", rv);
  }
  memcpy(key, buf, VAULT_DATA_KEY_LEN);
  crypto_wipe(buf, sizeof buf);
  pthread_mutex_lock(&k->lock);
  cache_put(k, in, in_len, key);
  pthread_mutex_unlock(&k->lock);
  return 0;
}

vault_kek ctl_kek_vault(ctl_kek *k) {
  vault_kek v = {kek_wrap, kek_unwrap, k->label, k};
  return v;
}
