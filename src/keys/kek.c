/* PKCS#11 and development-file key-encryption keys for the vault. Data keys
 * are wrapped with AES-256-GCM inside the token (C_Encrypt with CKM_AES_GCM,
 * a random 96-bit IV, "lisec-kek-v1" as associated data); the wrapped form is
 * IV || ciphertext || tag. Token calls go through a pool of sessions
 * ([vault] token_sessions), so misses of several requests are unwrapped at
 * once and a batch's misses in parallel (keys_kek_prefetch); lookups and
 * key generation use a session of their own under the lock. The token may
 * hold several KEKs: new data keys are wrapped with the current one, and a
 * record is opened with the one its label names (looked up on first use), so
 * a rotation can switch keys while lisecd serves; after a rotation the keys
 * no record names any more are unloaded (a handle still held keeps its key
 * until it is released), so any number of rotations fit one process. Unwrapped
 * data keys are cached for a bounded time in locked memory, each with a
 * ready AES-256-GCM decryption context, so reading a target costs one AES
 * pass rather than a token round trip, a key schedule and a cipher fetch. */
#include <errno.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "keys/kek.h"
#include "keys/p11.h"

#define KEK_AAD "lisec-kek-v1"
#define KEK_IV 12
#define KEK_TAG 16
#define KEK_WRAPPED_LEN (KEK_IV + VAULT_DATA_KEY_LEN + KEK_TAG)
#define CACHE_WAYS 8
#define SWEEP_MS 1000   /* how late after its expiry a key is wiped at most */
#define SWEEP_SETS 1024 /* sets swept under one hold of the lock (about 0.1 ms) */
#define KEK_SESSIONS_MAX KEYS_VAULT_SESSIONS_MAX
#define KEK_MAX_KEYS 16
#define DEV_NAME "development"
#define DEV_LABEL "file:" DEV_NAME

/* Unwrapped data keys, kept for a bounded time so repeated reads of a target
 * do not each ask the token. A set of CACHE_WAYS slots is chosen by the
 * wrapped key's IV (random, so evenly spread); a slot matches only when the
 * whole wrapped key is equal (compared in constant time); a new key takes a
 * free or expired slot of its set, else the one closest to expiry. The table is locked in RAM (never swapped)
 * and wiped on eviction and close, and a sweeper thread wipes every expired
 * slot at least every SWEEP_MS, so a key nobody asks for again leaves
 * memory once its time is up, not when a later look-up meets its set.
 * Expiry is on the monotonic clock: a step of the wall clock neither
 * keeps a key longer nor drops it early. dec holds the key's AES round
 * keys in OpenSSL's heap; it is freed (and cleansed by OpenSSL) with the
 * slot. A key is also wiped before its time once no record needs it in
 * that form (TR 103 308 §5.7): its record is gone (keys_kek_evict), a
 * rotation re-wrapped it under another KEK, or the KEK that wraps it was
 * unloaded (kek, the serial of that KEK, says which). */
typedef struct kek_cache_slot {
  uint8_t wrapped[KEK_WRAPPED_LEN];
  uint8_t key[VAULT_DATA_KEY_LEN];
  uint32_t kek; /* kek_key.serial of the KEK that wraps it */
  int64_t expires_ms;
  EVP_CIPHER_CTX *dec;
} kek_cache_slot;

/* One KEK: a key of the token by its CKA_LABEL (name), or the file key.
 * refs counts the handles (vault_kek, vault_opener) handed out and not yet
 * released; an unloaded key lives on in the retired list until it has
 * none, so a reader never holds freed memory. */
typedef struct kek_key {
  struct keys_kek *kek;
  char name[KEYS_KEK_NAME_MAX + 1];
  char label[VAULT_ID_MAX + 1]; /* "pkcs11:<token>/<name>", as sealed records carry it */
  CK_OBJECT_HANDLE handle;
  uint32_t serial; /* this loading's own number (a key unloaded and loaded again gets a new one) */
  size_t refs;
  struct kek_key *next; /* in the retired list */
} kek_key;

struct keys_kek {
  bool dev;
  char token[33];
  pthread_mutex_t lock;
  /* PKCS#11, through the process's one client (keys/p11.h) */
  keys_p11 *module;
  CK_FUNCTION_LIST_PTR p11;
  CK_SESSION_HANDLE session; /* finding and generating keys, under lock */
  bool session_open;
  /* the sessions that wrap and unwrap data keys: taken one per call */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  CK_SESSION_HANDLE pool[KEK_SESSIONS_MAX];
  size_t n_pool;
  size_t idle[KEK_SESSIONS_MAX]; /* indices into pool */
  size_t n_idle;
  /* PKCS#11 3.0 (NULL without): a pool session's message-based decryption
   * stays set up for the key it last unwrapped with (msg_key[i] for
   * pool[i], 0: none), so a cold unwrap is one call to the token */
  const keys_p11_v3 *v3;
  CK_OBJECT_HANDLE msg_key[KEK_SESSIONS_MAX];
  /* keys loaded: on first use, until a rotation leaves no record under
   * them (keys_kek_unload_others) */
  kek_key *keys[KEK_MAX_KEYS];
  size_t n_keys;
  kek_key *retired; /* unloaded, still held by a handle */
  kek_key *current; /* the one new data keys are wrapped with */
  uint32_t serials; /* the last kek_key.serial given */
  /* development file */
  uint8_t file_key[32];
  kek_cache_slot *cache; /* cache_slots entries, mlock'ed */
  size_t cache_sets, cache_slots;
  int64_t ttl_ms;
  EVP_CIPHER *gcm;       /* AES-256-GCM, fetched once */
  /* the sweeper (cache_sweeper): running until sweep_stop, under sweep_mu */
  pthread_t sweeper;
  bool sweeping, sweep_stop;
  pthread_mutex_t sweep_mu;
  pthread_cond_t sweep_cv; /* on the monotonic clock */
};

static void cache_free(keys_kek *k) {
  if (!k->cache) return;
  for (size_t i = 0; i < k->cache_slots; i++) EVP_CIPHER_CTX_free(k->cache[i].dec);
  crypto_wipe(k->cache, k->cache_slots * sizeof *k->cache);
  munlock(k->cache, k->cache_slots * sizeof *k->cache);
  free(k->cache);
  k->cache = NULL;
}

/* A table of keys slots (a multiple of CACHE_WAYS) kept ttl_s seconds. */
static int cache_alloc(keys_kek *k, size_t keys, unsigned ttl_s, lisec_err *err) {
  cache_free(k);
  k->cache_sets = (keys + CACHE_WAYS - 1) / CACHE_WAYS;
  k->cache_slots = k->cache_sets * CACHE_WAYS;
  k->ttl_ms = (int64_t)ttl_s * 1000;
  if (!(k->cache = calloc(k->cache_slots, sizeof *k->cache)))
    return lisec_err_set(err, LISEC_ENOMEM, "[vault] cache_keys = %zu: out of memory", keys);
  if (mlock(k->cache, k->cache_slots * sizeof *k->cache) != 0)
    LOG_WARN("[vault] cache_keys = %zu: cannot lock the %zu KiB data-key cache in RAM (RLIMIT_MEMLOCK); "
             "the keys may be swapped out", keys, k->cache_slots * sizeof *k->cache / 1024);
  return 0;
}

static void slot_clear(kek_cache_slot *s);

/* Wipes every expired slot, SWEEP_SETS sets at a time so a look-up waits
 * for a short stretch at most (the table may be made anew between two). */
static void cache_sweep(keys_kek *k) {
  for (size_t set = 0;; set += SWEEP_SETS) {
    pthread_mutex_lock(&k->lock);
    if (!k->cache || set >= k->cache_sets) {
      pthread_mutex_unlock(&k->lock);
      return;
    }
    size_t end = set + SWEEP_SETS < k->cache_sets ? set + SWEEP_SETS : k->cache_sets;
    int64_t now = lisec_time_mono_ms();
    for (size_t i = set * CACHE_WAYS; i < end * CACHE_WAYS; i++)
      if (k->cache[i].expires_ms && k->cache[i].expires_ms <= now) slot_clear(&k->cache[i]);
    pthread_mutex_unlock(&k->lock);
  }
}

static void *cache_sweeper(void *arg) {
  keys_kek *k = arg;
  pthread_mutex_lock(&k->sweep_mu);
  while (!k->sweep_stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += SWEEP_MS / 1000;
    until.tv_nsec += (long)(SWEEP_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&k->sweep_cv, &k->sweep_mu, &until);
    if (k->sweep_stop) break;
    pthread_mutex_unlock(&k->sweep_mu);
    cache_sweep(k);
    pthread_mutex_lock(&k->sweep_mu);
  }
  pthread_mutex_unlock(&k->sweep_mu);
  return NULL;
}

/* The default table and its sweeper; a KEK without a sweeper would keep
 * unread keys past [vault] cache_ttl_s, so failing to start it fails. */
static int cache_init(keys_kek *k, lisec_err *err) {
  k->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  (void)cache_alloc(k, KEYS_VAULT_CACHE_KEYS_DEFAULT, KEYS_VAULT_CACHE_TTL_DEFAULT, NULL);
  if (pthread_create(&k->sweeper, NULL, cache_sweeper, k) != 0)
    return lisec_err_set(err, LISEC_EINTERNAL, "[vault] cannot start the thread that wipes expired data keys");
  k->sweeping = true;
  return 0;
}

static void sweeper_stop(keys_kek *k) {
  if (!k->sweeping) return;
  pthread_mutex_lock(&k->sweep_mu);
  k->sweep_stop = true;
  pthread_cond_signal(&k->sweep_cv);
  pthread_mutex_unlock(&k->sweep_mu);
  pthread_join(k->sweeper, NULL);
  k->sweeping = false;
}

static kek_cache_slot *cache_set(keys_kek *k, const uint8_t *wrapped) {
  /* the IV is random: its first three bytes spread the sets evenly */
  uint32_t h = (uint32_t)wrapped[0] | (uint32_t)wrapped[1] << 8 | (uint32_t)wrapped[2] << 16;
  return &k->cache[(h % k->cache_sets) * CACHE_WAYS];
}

static void slot_clear(kek_cache_slot *s) {
  EVP_CIPHER_CTX_free(s->dec);
  crypto_wipe(s, sizeof *s);
}

/* The live slot for this wrapped key, or NULL; expired slots of the set are
 * wiped on the way. Called with the lock held. */
static kek_cache_slot *cache_find(keys_kek *k, const uint8_t *wrapped, size_t len) {
  if (!k->cache || len != KEK_WRAPPED_LEN) return NULL;
  kek_cache_slot *set = cache_set(k, wrapped), *hit = NULL;
  int64_t now = lisec_time_mono_ms();
  for (int i = 0; i < CACHE_WAYS; i++) {
    kek_cache_slot *s = &set[i];
    if (!s->expires_ms) continue;
    if (s->expires_ms <= now) slot_clear(s);
    else if (!hit && crypto_ct_equal(s->wrapped, wrapped, KEK_WRAPPED_LEN)) hit = s;
  }
  return hit;
}

static bool cache_get(keys_kek *k, const uint8_t *wrapped, size_t len, uint8_t key[VAULT_DATA_KEY_LEN]) {
  kek_cache_slot *s = cache_find(k, wrapped, len);
  if (s) memcpy(key, s->key, VAULT_DATA_KEY_LEN);
  return s != NULL;
}

/* Keeps key, the data key wrapped under e as wrapped. */
static kek_cache_slot *cache_put(keys_kek *k, const kek_key *e, const uint8_t *wrapped, size_t len,
                                 const uint8_t key[VAULT_DATA_KEY_LEN]) {
  if (!k->cache || len != KEK_WRAPPED_LEN) return NULL;
  kek_cache_slot *set = cache_set(k, wrapped), *s = &set[0];
  for (int i = 0; i < CACHE_WAYS; i++) {
    if (set[i].expires_ms < s->expires_ms) s = &set[i];
    if (crypto_ct_equal(set[i].wrapped, wrapped, KEK_WRAPPED_LEN)) {
      s = &set[i];
      break;
    }
  }
  slot_clear(s);
  memcpy(s->wrapped, wrapped, KEK_WRAPPED_LEN);
  memcpy(s->key, key, VAULT_DATA_KEY_LEN);
  s->kek = e->serial;
  s->expires_ms = lisec_time_mono_ms() + k->ttl_ms;
  return s;
}

static void kek_init(keys_kek *k) {
  pthread_mutex_init(&k->lock, NULL);
  pthread_mutex_init(&k->pool_mu, NULL);
  pthread_cond_init(&k->pool_cv, NULL);
  pthread_mutex_init(&k->sweep_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&k->sweep_cv, &ca);
  pthread_condattr_destroy(&ca);
}

/* A session of the pool (its index) for one wrap or unwrap, waiting while
 * all are busy; given back with pool_give. */
static size_t pool_take(keys_kek *k) {
  pthread_mutex_lock(&k->pool_mu);
  while (k->n_idle == 0) pthread_cond_wait(&k->pool_cv, &k->pool_mu);
  size_t i = k->idle[--k->n_idle];
  pthread_mutex_unlock(&k->pool_mu);
  return i;
}

static void pool_give(keys_kek *k, size_t i) {
  pthread_mutex_lock(&k->pool_mu);
  k->idle[k->n_idle++] = i;
  pthread_cond_signal(&k->pool_cv);
  pthread_mutex_unlock(&k->pool_mu);
}

/* Ends pool session i's message-based decryption, if one is set up. */
static void message_end(keys_kek *k, size_t i) {
  if (!k->msg_key[i]) return;
  k->v3->C_MessageDecryptFinal(k->pool[i]);
  k->msg_key[i] = 0;
}

/* One PKCS#11 3.0 call per data key: C_DecryptMessage with the wrapped
 * key's IV and tag, on a session whose message-based decryption is set up
 * for e (set up here when it is not, or set up again once when a call on an
 * older set-up fails). */
static CK_RV message_unwrap(keys_kek *k, size_t i, kek_key *e, const uint8_t *in, uint8_t *out, CK_ULONG *n) {
  CK_SESSION_HANDLE h = k->pool[i];
  keys_p11_gcm_message gcm = {(CK_BYTE_PTR)in, KEK_IV, 0, 0, (CK_BYTE_PTR)in + KEK_IV + VAULT_DATA_KEY_LEN,
                              KEK_TAG * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, NULL, 0};
  CK_ULONG cap = *n;
  for (bool fresh = k->msg_key[i] != e->handle;; fresh = true) {
    if (fresh) {
      message_end(k, i);
      CK_RV rv = k->v3->C_MessageDecryptInit(h, &mech, e->handle);
      if (rv != CKR_OK) return rv;
      k->msg_key[i] = e->handle;
    }
    *n = cap;
    CK_RV rv = k->v3->C_DecryptMessage(h, &gcm, sizeof gcm, (CK_BYTE_PTR)KEK_AAD, strlen(KEK_AAD),
                                       (CK_BYTE_PTR)in + KEK_IV, VAULT_DATA_KEY_LEN, out, n);
    if (rv == CKR_OK) return rv;
    message_end(k, i);
    if (fresh) return rv;
  }
}

static int p11_fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[vault]", what, rv); }

/* A key found in the token (provisioned beforehand, or named by a
 * rotation) serves as a KEK only when it is what lisecd generates: not
 * extractable (an extractable key's value is read by anyone with the PIN)
 * and AES-256. */
static int key_fit(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *name, CK_OBJECT_HANDLE key,
                   lisec_err *err) {
  CK_BBOOL extractable = CK_TRUE;
  CK_ULONG len = 0;
  CK_ATTRIBUTE a[] = {{CKA_EXTRACTABLE, &extractable, sizeof extractable}, {CKA_VALUE_LEN, &len, sizeof len}};
  CK_RV rv = fn->C_GetAttributeValue(s, key, a, LISEC_ARRAY_LEN(a));
  if (rv != CKR_OK) return p11_fail(err, "C_GetAttributeValue (the KEK's attributes)", rv);
  if (extractable != CK_FALSE)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.7: token key \"%s\" is extractable: its value can leave the token (to anyone "
                         "holding the PIN); a KEK must be generated not extractable (e.g. pkcs11-tool --keygen "
                         "--key-type AES:32, without --extractable)",
                         name);
  if (len != 32)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-5.7: token key \"%s\" is not an AES-256 key (%lu bytes)",
                         name, (unsigned long)len);
  return 0;
}

int keys_kek_token_key(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *name, CK_OBJECT_HANDLE *key,
                       bool *found, lisec_err *err) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &type, sizeof type},
                         {CKA_LABEL, (void *)name, strlen(name)}};
  /* two asked for: a second under the label is enough to tell */
  CK_OBJECT_HANDLE h[2];
  CK_ULONG n = 0;
  CK_RV rv = fn->C_FindObjectsInit(s, find, LISEC_ARRAY_LEN(find));
  if (rv == CKR_OK) {
    rv = fn->C_FindObjects(s, h, LISEC_ARRAY_LEN(h), &n);
    fn->C_FindObjectsFinal(s);
  }
  if (rv != CKR_OK) return p11_fail(err, "C_FindObjects", rv);
  *found = n > 0;
  if (n > 1)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.7: token holds more than one AES key labelled \"%s\": which one is the KEK "
                         "is ambiguous, so none is used; keep only the one the vault's records are sealed under "
                         "(lisecd generated it not extractable) and delete or relabel the others "
                         "(pkcs11-tool --list-objects --type secrkey lists them)",
                         name);
  if (n == 1) {
    *key = h[0];
    return key_fit(fn, s, name, h[0], err);
  }
  return 0;
}

/* The token's AES key called name (the only one under that label, fit to
 * be a KEK: keys_kek_token_key), generated when absent and create is set.
 * Called with the lock held (or before the KEK is shared). */
static int find_or_create_key(keys_kek *k, const char *name, bool create, CK_OBJECT_HANDLE *key,
                              lisec_err *err) {
  bool found = false;
  int rc = keys_kek_token_key(k->p11, k->session, name, key, &found, err);
  if (rc || found) return rc;
  if (!create) return lisec_err_set(err, LISEC_ENOTFOUND, "no AES key labelled \"%s\" in the token", name);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG len = 32;
  CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
  /* Sensitive and never extractable: the key cannot leave the token. */
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &type, sizeof type},
                         {CKA_LABEL, (void *)name, strlen(name)},
                         {CKA_VALUE_LEN, &len, sizeof len},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_SENSITIVE, &yes, sizeof yes},
                         {CKA_EXTRACTABLE, &no, sizeof no},
                         {CKA_ENCRYPT, &yes, sizeof yes},
                         {CKA_DECRYPT, &yes, sizeof yes}};
  CK_RV rv = k->p11->C_GenerateKey(k->session, &mech, tmpl, LISEC_ARRAY_LEN(tmpl), key);
  return rv == CKR_OK ? 0 : p11_fail(err, "C_GenerateKey", rv);
}

/* The loaded key called name, loaded from the token (created when create
 * is set) on first use. Called with the lock held (or before the KEK is
 * shared). */
static int key_get(keys_kek *k, const char *name, bool create, kek_key **out, lisec_err *err) {
  for (size_t i = 0; i < k->n_keys; i++)
    if (strcmp(k->keys[i]->name, name) == 0) return *out = k->keys[i], 0;
  if (k->dev)
    return lisec_err_set(err, LISEC_ENOTFOUND, "the development KEK file holds no key \"%s\"", name);
  if (!keys_kek_name_valid(name))
    return lisec_err_set(err, LISEC_EINVAL, "KEK name \"%.80s\": 1 to %d letters, digits, '.', '_' or '-'",
                         name, KEYS_KEK_NAME_MAX);
  if (k->n_keys == KEK_MAX_KEYS)
    return lisec_err_set(err, LISEC_ETOOBIG, "more than %d KEKs in use at once; rotate the vault to one first",
                         KEK_MAX_KEYS);
  kek_key *e = calloc(1, sizeof *e);
  if (!e) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = find_or_create_key(k, name, create, &e->handle, err);
  if (rc) {
    free(e);
    return rc;
  }
  k->keys[k->n_keys] = e;
  e->kek = k;
  e->serial = ++k->serials;
  snprintf(e->name, sizeof e->name, "%s", name);
  snprintf(e->label, sizeof e->label, "pkcs11:%s/%s", k->token, name);
  k->n_keys++;
  *out = e;
  return 0;
}

bool keys_kek_name_valid(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > KEYS_KEK_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

int keys_kek_open_pkcs11(const keys_kek_pkcs11_config *cfg, keys_kek **out, lisec_err *err) {
  return keys_kek_open_pkcs11_sessions(cfg, 1, out, err);
}

int keys_kek_open_pkcs11_sessions(const keys_kek_pkcs11_config *cfg, unsigned sessions, keys_kek **out,
                                  lisec_err *err) {
  if (!cfg->module || !cfg->token_label || !cfg->pin || !cfg->key_label)
    return lisec_err_set(err, LISEC_EINVAL, "PKCS#11 KEK needs module, token, pin and key label");
  if (sessions < 1 || sessions > KEK_SESSIONS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "[vault] token_sessions = %u: 1 to %d", sessions, KEK_SESSIONS_MAX);
  keys_kek *k = calloc(1, sizeof *k);
  if (!k) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  kek_init(k);
  snprintf(k->token, sizeof k->token, "%s", cfg->token_label);
  int rc = cache_init(k, err);
  if (!rc) rc = keys_p11_open(cfg->module, cfg->init_args, "[vault]", &k->module, err);
  if (rc) goto fail;
  k->p11 = keys_p11_functions(k->module);
  k->v3 = keys_p11_v3_functions(k->module);
  if ((rc = keys_p11_session_open(k->module, "[vault]", cfg->token_label, cfg->pin, &k->session, err))) goto fail;
  k->session_open = true;
  for (; k->n_pool < sessions; k->n_pool++) {
    if ((rc = keys_p11_session_open(k->module, "[vault]", cfg->token_label, cfg->pin, &k->pool[k->n_pool], err))) {
      lisec_err_wrap(err, "[vault] token_sessions = %u: session %zu", sessions, k->n_pool + 1);
      goto fail;
    }
    k->idle[k->n_idle++] = k->n_pool;
  }
  if ((rc = key_get(k, cfg->key_label, cfg->create, &k->current, err))) goto fail;
  *out = k;
  return 0;
fail:
  keys_kek_close(k);
  return rc;
}

int keys_kek_open_file(const char *path, keys_kek **out, lisec_err *err) {
  keys_kek *k = calloc(1, sizeof *k);
  if (!k) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  kek_init(k);
  k->dev = true;
  if (!(k->current = calloc(1, sizeof *k->current))) {
    free(k);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  k->keys[k->n_keys++] = k->current;
  k->current->kek = k;
  k->current->serial = ++k->serials;
  snprintf(k->current->name, sizeof k->current->name, DEV_NAME);
  snprintf(k->current->label, sizeof k->current->label, DEV_LABEL);
  int rc = cache_init(k, err);
  if (rc) {
    keys_kek_close(k);
    return rc;
  }
  uint8_t *data = NULL;
  size_t len = 0;
  rc = lisec_file_read(path, 64, &data, &len, err);
  struct stat st;
  /* made only when absent: a file that is there but cannot be read (another
   * owner) is the key every record is sealed under, never to be replaced */
  if (rc == LISEC_EIO && lstat(path, &st) == 0)
    lisec_err_wrap(err, "TR103308-5.7: the development KEK file is there but unreadable; it is not replaced");
  else if (rc == LISEC_EIO && errno == ENOENT) {
    rc = crypto_random(k->file_key, 32, err);
    if (!rc) rc = lisec_file_write_atomic(path, k->file_key, 32, 0600, err);
  } else if (rc == 0) {
    if (len != 32) rc = lisec_err_set(err, LISEC_EINVAL, "%s: a KEK file holds exactly 32 bytes", path);
    else memcpy(k->file_key, data, 32);
    crypto_wipe(data, len);
    free(data);
  }
  if (rc) {
    keys_kek_close(k);
    return rc;
  }
  *out = k;
  return 0;
}

void keys_kek_close(keys_kek *k) {
  if (!k) return;
  /* No C_Logout: the login is shared with the other users of the token in
   * this process; the module's last user finalises it (keys/p11.c). */
  if (k->session_open) keys_p11_session_close(k->module, k->session);
  for (size_t i = 0; i < k->n_pool; i++) keys_p11_session_close(k->module, k->pool[i]);
  keys_p11_close(k->module);
  sweeper_stop(k);
  cache_free(k);
  EVP_CIPHER_free(k->gcm);
  for (size_t i = 0; i < k->n_keys; i++) free(k->keys[i]);
  while (k->retired) {
    kek_key *e = k->retired;
    k->retired = e->next;
    free(e);
  }
  crypto_wipe(k->file_key, sizeof k->file_key);
  pthread_mutex_destroy(&k->lock);
  pthread_mutex_destroy(&k->pool_mu);
  pthread_cond_destroy(&k->pool_cv);
  pthread_mutex_destroy(&k->sweep_mu);
  pthread_cond_destroy(&k->sweep_cv);
  free(k);
}

bool keys_kek_is_development(const keys_kek *k) { return k->dev; }

bool keys_kek_one_call_unwrap(const keys_kek *k) { return k->v3 != NULL; }

static int kek_wrap(void *ctx, const uint8_t key[VAULT_DATA_KEY_LEN], uint8_t *out, size_t *out_len,
                    lisec_err *err) {
  kek_key *e = ctx;
  keys_kek *k = e->kek;
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
  size_t i = pool_take(k);
  CK_SESSION_HANDLE h = k->pool[i];
  CK_RV rv = k->p11->C_EncryptInit(h, &mech, e->handle);
  if (rv == CKR_OPERATION_ACTIVE && k->v3) { /* a module that runs one operation a session at a time */
    message_end(k, i);
    rv = k->p11->C_EncryptInit(h, &mech, e->handle);
  }
  if (rv == CKR_OK) rv = k->p11->C_Encrypt(h, (CK_BYTE_PTR)key, VAULT_DATA_KEY_LEN, out + KEK_IV, &n);
  pool_give(k, i);
  if (rv != CKR_OK) return p11_fail(err, "C_Encrypt (wrap data key)", rv);
  *out_len = KEK_IV + n;
  pthread_mutex_lock(&k->lock);
  cache_put(k, e, out, *out_len, key);
  pthread_mutex_unlock(&k->lock);
  return 0;
}

/* Asks the token (or the development key) for the data key; no cache. */
static int unwrap_uncached(kek_key *e, const uint8_t *in, size_t in_len,
                           uint8_t key[VAULT_DATA_KEY_LEN], lisec_err *err) {
  keys_kek *k = e->kek;
  if (k->dev)
    return crypto_aead_open(k->file_key, KEK_AAD, strlen(KEK_AAD), in, in_len, key,
                            VAULT_DATA_KEY_LEN, err);
  if (in_len != KEK_WRAPPED_LEN)
    return lisec_err_set(err, LISEC_EINVAL, "wrapped data key has the wrong length");
  CK_GCM_PARAMS gcm = {(unsigned char *)in, KEK_IV, KEK_IV * 8, (unsigned char *)KEK_AAD,
                       strlen(KEK_AAD), KEK_TAG * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
  uint8_t buf[VAULT_DATA_KEY_LEN + KEK_TAG];
  CK_ULONG n = sizeof buf;
  /* One call with PKCS#11 3.0's message API where the module has it; two
   * with 2.40, which has no one-call decryption (GCM's IV is a parameter
   * of C_DecryptInit). */
  size_t i = pool_take(k);
  CK_SESSION_HANDLE h = k->pool[i];
  CK_RV rv;
  if (k->v3) {
    rv = message_unwrap(k, i, e, in, buf, &n);
  } else {
    rv = k->p11->C_DecryptInit(h, &mech, e->handle);
    if (rv == CKR_OK) rv = k->p11->C_Decrypt(h, (CK_BYTE_PTR)in + KEK_IV, in_len - KEK_IV, buf, &n);
  }
  pool_give(k, i);
  if (rv != CKR_OK || n != VAULT_DATA_KEY_LEN) {
    crypto_wipe(buf, sizeof buf);
    int rc = rv == CKR_OK ? lisec_err_set(err, LISEC_ECRYPTO, "unwrapped data key has the wrong length")
                          : p11_fail(err, "C_Decrypt (unwrap data key: wrong KEK or altered)", rv);
    lisec_err_wrap(err, "TR103308-5.7: the record's data key does not unwrap under KEK \"%s\"", e->label);
    return rc;
  }
  memcpy(key, buf, VAULT_DATA_KEY_LEN);
  crypto_wipe(buf, sizeof buf);
  return 0;
}

static int kek_unwrap(void *ctx, const uint8_t *in, size_t in_len, uint8_t key[VAULT_DATA_KEY_LEN],
                      lisec_err *err) {
  kek_key *e = ctx;
  keys_kek *k = e->kek;
  pthread_mutex_lock(&k->lock);
  bool hit = cache_get(k, in, in_len, key);
  pthread_mutex_unlock(&k->lock);
  if (hit) return 0;
  int rc = unwrap_uncached(e, in, in_len, key, err);
  if (rc) return rc;
  pthread_mutex_lock(&k->lock);
  cache_put(k, e, in, in_len, key);
  pthread_mutex_unlock(&k->lock);
  return 0;
}

/* AES-256-GCM open with a slot's ready context: only the nonce is set per
 * record, the key schedule stays. Called with the lock held. */
static int slot_open(keys_kek *k, kek_cache_slot *s, const void *aad, size_t aad_len,
                     const uint8_t *in, size_t in_len, uint8_t *pt) {
  if (!s->dec) {
    if (!k->gcm || !(s->dec = EVP_CIPHER_CTX_new())) return -1;
    if (EVP_DecryptInit_ex2(s->dec, k->gcm, s->key, NULL, NULL) != 1) {
      EVP_CIPHER_CTX_free(s->dec);
      s->dec = NULL;
      return -1;
    }
  }
  size_t ct_len = in_len - CRYPTO_AEAD_OVERHEAD;
  int n = 0;
  int ok = EVP_DecryptInit_ex2(s->dec, NULL, NULL, in, NULL) == 1;
  ok = ok && (aad_len == 0 || EVP_DecryptUpdate(s->dec, NULL, &n, aad, (int)aad_len) == 1);
  ok = ok && EVP_DecryptUpdate(s->dec, pt, &n, in + CRYPTO_AEAD_NONCE_LEN, (int)ct_len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(s->dec, EVP_CTRL_GCM_SET_TAG, CRYPTO_AEAD_TAG_LEN,
                                 (void *)(in + CRYPTO_AEAD_NONCE_LEN + ct_len)) == 1;
  ok = ok && EVP_DecryptFinal_ex(s->dec, pt + n, &n) == 1;
  if (!ok) crypto_wipe(pt, ct_len);
  return ok ? 0 : 1;
}

static int kek_open(void *ctx, const uint8_t *wrapped, size_t wrapped_len, const void *aad,
                    size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *pt, lisec_err *err) {
  kek_key *e = ctx;
  keys_kek *k = e->kek;
  if (in_len < CRYPTO_AEAD_OVERHEAD || in_len > INT32_MAX || aad_len > INT32_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "sealed record truncated or too large");
  pthread_mutex_lock(&k->lock);
  kek_cache_slot *s = cache_find(k, wrapped, wrapped_len);
  int r = s ? slot_open(k, s, aad, aad_len, in, in_len, pt) : 0;
  pthread_mutex_unlock(&k->lock);
  if (!s) {
    /* a miss: ask the token outside the lock, then keep the key */
    uint8_t key[VAULT_DATA_KEY_LEN];
    int rc = unwrap_uncached(e, wrapped, wrapped_len, key, err);
    if (rc) return rc;
    pthread_mutex_lock(&k->lock);
    if (!(s = cache_find(k, wrapped, wrapped_len))) s = cache_put(k, e, wrapped, wrapped_len, key);
    if (s) r = slot_open(k, s, aad, aad_len, in, in_len, pt);
    pthread_mutex_unlock(&k->lock);
    if (!s) { /* no cache: open with the key in hand */
      rc = crypto_aead_open(key, aad, aad_len, in, in_len, pt, in_len - CRYPTO_AEAD_OVERHEAD, err);
      crypto_wipe(key, sizeof key);
      return rc;
    }
    crypto_wipe(key, sizeof key);
  }
  if (r < 0) return lisec_err_set(err, LISEC_ENOMEM, "cannot make an AES-256-GCM context");
  return r ? lisec_err_set(err, LISEC_ECRYPTO, "AES-256-GCM authentication failed") : 0;
}

static vault_kek vault_of(kek_key *e) {
  vault_kek v = {kek_wrap, kek_unwrap, e->label, e};
  return v;
}

vault_kek keys_kek_vault(keys_kek *k) {
  pthread_mutex_lock(&k->lock);
  vault_kek v = vault_of(k->current);
  k->current->refs++;
  pthread_mutex_unlock(&k->lock);
  return v;
}

void keys_kek_release(keys_kek *k, void *handle) {
  kek_key *e = handle;
  if (!k || !e) return;
  pthread_mutex_lock(&k->lock);
  if (e->refs) e->refs--;
  if (!e->refs) /* an unloaded key goes with its last handle */
    for (kek_key **p = &k->retired; *p; p = &(*p)->next)
      if (*p == e) {
        *p = e->next;
        free(e);
        break;
      }
  pthread_mutex_unlock(&k->lock);
}

size_t keys_kek_unload_others(keys_kek *k) {
  size_t n = 0;
  uint32_t gone[KEK_MAX_KEYS];
  pthread_mutex_lock(&k->lock);
  for (size_t i = 0; i < k->n_keys;) {
    kek_key *e = k->keys[i];
    if (e == k->current) {
      i++;
      continue;
    }
    /* the token keeps the key: a record still under it loads it again */
    gone[n] = e->serial;
    k->keys[i] = k->keys[--k->n_keys];
    if (e->refs) {
      e->next = k->retired;
      k->retired = e;
    } else {
      free(e);
    }
    n++;
  }
  /* the data keys in their form under an unloaded KEK: no record has it
   * after the rotation that let the KEK go (a record still under it would
   * load the KEK again, and its first read asks the token) */
  for (size_t i = 0; n && k->cache && i < k->cache_slots; i++) {
    kek_cache_slot *s = &k->cache[i];
    for (size_t j = 0; s->expires_ms && j < n; j++)
      if (s->kek == gone[j]) slot_clear(s);
  }
  pthread_mutex_unlock(&k->lock);
  return n;
}

size_t keys_kek_loaded(keys_kek *k) {
  pthread_mutex_lock(&k->lock);
  size_t n = k->n_keys;
  pthread_mutex_unlock(&k->lock);
  return n;
}

int keys_kek_for(keys_kek *k, const char *label, vault_kek *kek, vault_opener *op, lisec_err *err) {
  char prefix[64];
  snprintf(prefix, sizeof prefix, k->dev ? "file:" : "pkcs11:%s/", k->token);
  size_t n = strlen(prefix);
  if (strncmp(label, prefix, n) != 0)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.7: the record was sealed under KEK \"%.140s\", which is not in %s%s",
                         label, k->dev ? "the development key file" : "token ", k->dev ? "" : k->token);
  kek_key *e = NULL;
  pthread_mutex_lock(&k->lock);
  int rc = key_get(k, label + n, false, &e, err);
  if (!rc) e->refs++; /* one reference for the call, released once */
  pthread_mutex_unlock(&k->lock);
  if (rc == LISEC_ENOTFOUND || (rc == LISEC_EINVAL && !keys_kek_name_valid(label + n)))
    return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.7: the record was sealed under KEK \"%.140s\", "
                         "which token %s does not hold", label, k->token);
  if (rc) return rc;
  if (kek) *kek = vault_of(e);
  if (op) *op = (vault_opener){kek_open, e};
  return 0;
}

int keys_kek_use(keys_kek *k, const char *name, bool create, lisec_err *err) {
  pthread_mutex_lock(&k->lock);
  kek_key *e = NULL;
  int rc = key_get(k, name, create, &e, err);
  if (!rc) k->current = e;
  pthread_mutex_unlock(&k->lock);
  return rc;
}

void keys_kek_current(keys_kek *k, char name[KEYS_KEK_NAME_MAX + 1], char label[VAULT_ID_MAX + 1]) {
  pthread_mutex_lock(&k->lock);
  if (name) snprintf(name, KEYS_KEK_NAME_MAX + 1, "%s", k->current->name);
  if (label) snprintf(label, VAULT_ID_MAX + 1, "%s", k->current->label);
  pthread_mutex_unlock(&k->lock);
}

int keys_kek_cache_configure(keys_kek *k, size_t keys, unsigned ttl_s, lisec_err *err) {
  if (keys < KEYS_VAULT_CACHE_KEYS_MIN || keys > KEYS_VAULT_CACHE_KEYS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "[vault] cache_keys = %zu: %u to %u", keys, KEYS_VAULT_CACHE_KEYS_MIN,
                         KEYS_VAULT_CACHE_KEYS_MAX);
  if (ttl_s < 1 || ttl_s > KEYS_VAULT_CACHE_TTL_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "[vault] cache_ttl_s = %u: 1 to %u", ttl_s, KEYS_VAULT_CACHE_TTL_MAX);
  pthread_mutex_lock(&k->lock);
  int rc = cache_alloc(k, keys, ttl_s, err);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

size_t keys_kek_cache_slots(keys_kek *k) {
  pthread_mutex_lock(&k->lock);
  size_t n = k->cache ? k->cache_slots : 0;
  pthread_mutex_unlock(&k->lock);
  return n;
}

size_t keys_kek_cache_held(keys_kek *k) {
  size_t n = 0;
  pthread_mutex_lock(&k->lock);
  for (size_t i = 0; k->cache && i < k->cache_slots; i++) n += k->cache[i].expires_ms != 0;
  pthread_mutex_unlock(&k->lock);
  return n;
}

size_t keys_kek_sessions(const keys_kek *k) { return k->n_pool; }

bool keys_kek_cached(keys_kek *k, const uint8_t *wrapped, size_t len) {
  pthread_mutex_lock(&k->lock);
  bool hit = cache_find(k, wrapped, len) != NULL;
  pthread_mutex_unlock(&k->lock);
  return hit;
}

bool keys_kek_evict(keys_kek *k, const uint8_t *wrapped, size_t len) {
  pthread_mutex_lock(&k->lock);
  kek_cache_slot *s = cache_find(k, wrapped, len);
  if (s) slot_clear(s);
  pthread_mutex_unlock(&k->lock);
  return s != NULL;
}

/* ---- a batch's misses, in parallel ------------------------------------------- */

typedef struct prefetch_item {
  kek_key *e;
  const uint8_t *wrapped;
} prefetch_item;

typedef struct prefetch_job {
  prefetch_item *items;
  size_t n;
  size_t next; /* under mu: the next item to unwrap */
  size_t done; /* under mu: unwrapped and cached */
  pthread_mutex_t mu;
} prefetch_job;

/* Each runner takes the next item until none is left; each token call
 * takes a session of the pool, so at most token_sessions run at once. */
static void *prefetch_run(void *arg) {
  prefetch_job *j = arg;
  for (;;) {
    pthread_mutex_lock(&j->mu);
    size_t i = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (i >= j->n) return NULL;
    kek_key *e = j->items[i].e;
    keys_kek *k = e->kek;
    uint8_t key[VAULT_DATA_KEY_LEN];
    lisec_err ignored = {0}; /* the open after it asks again and reports */
    if (unwrap_uncached(e, j->items[i].wrapped, KEK_WRAPPED_LEN, key, &ignored) != 0) continue;
    pthread_mutex_lock(&k->lock);
    if (!cache_find(k, j->items[i].wrapped, KEK_WRAPPED_LEN))
      cache_put(k, e, j->items[i].wrapped, KEK_WRAPPED_LEN, key);
    pthread_mutex_unlock(&k->lock);
    crypto_wipe(key, sizeof key);
    pthread_mutex_lock(&j->mu);
    j->done++;
    pthread_mutex_unlock(&j->mu);
  }
}

size_t keys_kek_prefetch(keys_kek *k, const vault_sealed *recs, size_t n) {
  if (k->dev || k->n_pool < 2 || n < 2 || !k->cache) return 0;
  prefetch_item *items = calloc(n, sizeof *items);
  if (!items) return 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const vault_sealed *r = &recs[i];
    if (r->wrapped_key_len != KEK_WRAPPED_LEN || keys_kek_cached(k, r->wrapped_key, r->wrapped_key_len)) continue;
    bool twice = false; /* the same key twice in one batch: one unwrap */
    for (size_t j = 0; j < m && !twice; j++) twice = memcmp(items[j].wrapped, r->wrapped_key, KEK_WRAPPED_LEN) == 0;
    vault_opener op;
    lisec_err ignored = {0}; /* an unknown KEK: the open says so */
    if (twice || keys_kek_for(k, r->kek_label, NULL, &op, &ignored) != 0) continue;
    items[m++] = (prefetch_item){op.ctx, r->wrapped_key};
  }
  size_t done = 0;
  if (m >= 2) {
    prefetch_job j = {.items = items, .n = m};
    pthread_mutex_init(&j.mu, NULL);
    pthread_t t[KEK_SESSIONS_MAX];
    size_t want = (m < k->n_pool ? m : k->n_pool) - 1, started = 0;
    while (started < want && pthread_create(&t[started], NULL, prefetch_run, &j) == 0) started++;
    prefetch_run(&j);
    for (size_t i = 0; i < started; i++) pthread_join(t[i], NULL);
    pthread_mutex_destroy(&j.mu);
    done = j.done;
  } /* (one miss: the open asks the token itself) */
  for (size_t i = 0; i < m; i++) keys_kek_release(k, items[i].e);
  free(items);
  return done;
}
