/* The key-encryption key of the target vault, held where the virtualisation
 * layer cannot read it (TR 103 308 §5.7): an AES-256 key inside a PKCS#11
 * token (SoftHSM2 in tests, an HSM or tpm2-pkcs11 in production) that is
 * created sensitive and non-extractable and only ever encrypts or decrypts
 * data keys. A file key exists for development only, and says so. */
#ifndef LISEC_KEYS_KEK_H
#define LISEC_KEYS_KEK_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>

#include "base/base.h"
#include "keys/keys.h"
#include "vault/vault.h"

typedef struct keys_kek keys_kek;


typedef struct keys_kek_pkcs11_config {
  const char *module;      /* path of the PKCS#11 module (.so) */
  const char *token_label; /* the token to use */
  const char *pin;         /* user PIN */
  const char *key_label;   /* CKA_LABEL of the AES key */
  bool create;             /* generate the key in the token when absent */
  const char *init_args;   /* the module's C_Initialize parameters ([vault] pkcs11_init_args), or NULL */
} keys_kek_pkcs11_config;

/* [vault] settings of the data-key cache and the token (service.c parses
 * them; docs/vault.md says what each trades). */
#define KEYS_VAULT_CACHE_KEYS_DEFAULT 16384u
#define KEYS_VAULT_CACHE_KEYS_MIN 8u
#define KEYS_VAULT_CACHE_KEYS_MAX 1048576u
#define KEYS_VAULT_CACHE_TTL_DEFAULT 60u
#define KEYS_VAULT_CACHE_TTL_MAX 86400u
typedef struct keys_vault_settings {
  unsigned cache_ttl_s; /* [vault] cache_ttl_s */
  size_t cache_keys;    /* [vault] cache_keys */
  unsigned sessions;    /* [vault] token_sessions: also the threads that answer misses */
} keys_vault_settings;
/* [vault] cache_ttl_s, cache_keys and token_sessions, each within its
 * bounds (the error names the one that is not); service.c. */
int keys_vault_settings_parse(const lisec_config *cfg, keys_vault_settings *out, lisec_err *err);

/* The AES key labelled name in the token of session s, as the KEK is
 * found at start, on a rotation and for a record (and as lisecd
 * --check-config looks at it): *found tells whether the token holds one.
 * Refused (EINVAL, naming TR103308-5.7 and the label, never a key's value)
 * when it holds more than one under the label (which one is the KEK would
 * be the token's choice) or one that is extractable or not AES-256. */
int keys_kek_token_key(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *name, CK_OBJECT_HANDLE *key,
                       bool *found, lisec_err *err);
int keys_kek_open_pkcs11(const keys_kek_pkcs11_config *cfg, keys_kek **out, lisec_err *err);
/* The same with sessions ([vault] token_sessions, 1 to
 * KEYS_VAULT_SESSIONS_MAX) that wrap and unwrap data keys, beside the one
 * that finds and makes keys (keys_kek_open_pkcs11 opens one). */
int keys_kek_open_pkcs11_sessions(const keys_kek_pkcs11_config *cfg, unsigned sessions, keys_kek **out,
                                  lisec_err *err);
/* Development only: a 32-byte key in a file (created 0600 when absent). */
int keys_kek_open_file(const char *path, keys_kek **out, lisec_err *err);
void keys_kek_close(keys_kek *k);
/* The vault's view of the current KEK (callbacks into the token or file
 * key): what new data keys are wrapped with. Holds the key until
 * keys_kek_release(k, v.ctx). */
vault_kek keys_kek_vault(keys_kek *k);
/* Gives back a handle from keys_kek_vault or keys_kek_for (its ctx; one
 * release per successful call); NULL is ignored. */
void keys_kek_release(keys_kek *k, void *handle);
/* Unloads every key but the current one (after a rotation has moved every
 * record to it); a key still held is freed with its last handle, and a
 * record still under an unloaded key loads it again from the token. Keeps
 * the number of loaded keys bounded however often the vault rotates. The
 * cached data keys in their form under an unloaded key are wiped with it
 * (no record has that form any more). Returns how many were unloaded. */
size_t keys_kek_unload_others(keys_kek *k);
/* How many keys are loaded now (for tests and metrics). */
size_t keys_kek_loaded(keys_kek *k);
/* The KEK a sealed record names (its kek_label), found in the token on first
 * use: *kek unwraps and wraps with it, *op opens records with the cached
 * data key's ready cipher context (vault_open_with). Either may be NULL.
 * EUNAVAIL, naming the label, when the token has no such key. On success
 * the key is held until keys_kek_release(k, ctx) (once, with either ctx). */
int keys_kek_for(keys_kek *k, const char *label, vault_kek *kek, vault_opener *op, lisec_err *err);
/* Makes the token key called name current, generating it (sensitive, not
 * extractable) when absent and create is set. Records sealed under the
 * previous one still open through keys_kek_for. */
int keys_kek_use(keys_kek *k, const char *name, bool create, lisec_err *err);
/* The current key's name and record label; either may be NULL. */
void keys_kek_current(keys_kek *k, char name[KEYS_KEK_NAME_MAX + 1], char label[VAULT_ID_MAX + 1]);
bool keys_kek_is_development(const keys_kek *k);
/* Whether a data key not in the cache is unwrapped with one token call
 * (the module offers PKCS#11 3.0's message-based decryption) rather than
 * two (C_DecryptInit, C_Decrypt). */
bool keys_kek_one_call_unwrap(const keys_kek *k);
/* The data-key cache: keys entries (KEYS_VAULT_CACHE_KEYS_MIN..MAX,
 * rounded up to a multiple of 8), each kept ttl_s seconds (1 to
 * KEYS_VAULT_CACHE_TTL_MAX). Empties the cache; call before sharing k. */
int keys_kek_cache_configure(keys_kek *k, size_t keys, unsigned ttl_s, lisec_err *err);
size_t keys_kek_cache_slots(keys_kek *k);
/* How many data keys the cache holds now, expired or not: what a reader
 * of the process's memory would find (for tests and metrics). */
size_t keys_kek_cache_held(keys_kek *k);
/* How many sessions wrap and unwrap (0 for the development key). */
size_t keys_kek_sessions(const keys_kek *k);
/* Whether the data key under wrapped is cached now (a read would not ask
 * the token). */
bool keys_kek_cached(keys_kek *k, const uint8_t *wrapped, size_t len);
/* Wipes the cached data key under wrapped (its slot zeroised, its cipher
 * context freed): its record is gone, or has another wrapped key now.
 * Whether one was cached; none is no error (the next read of such a
 * record asks the token). */
bool keys_kek_evict(keys_kek *k, const uint8_t *wrapped, size_t len);
/* Unwraps the data keys of recs[0..n) that are not cached, several at once
 * (one per session of the pool), into the cache, so that opening them
 * after costs no token call. Errors are left for the open to report (a
 * record whose KEK the token lacks is skipped). Returns how many were
 * unwrapped; 0 with one session, the development key or fewer than two
 * misses (the open then asks the token as usual). */
size_t keys_kek_prefetch(keys_kek *k, const vault_sealed *recs, size_t n);

#endif
