/* The key-encryption key of the target vault, held where the virtualisation
 * layer cannot read it (TR 103 308 §5.7): an AES-256 key inside a PKCS#11
 * token (SoftHSM2 in tests, an HSM or tpm2-pkcs11 in production) that is
 * created sensitive and non-extractable and only ever encrypts or decrypts
 * data keys. A file key exists for development only, and says so. */
#ifndef LISEC_KEYS_KEK_H
#define LISEC_KEYS_KEK_H

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
} keys_kek_pkcs11_config;

int keys_kek_open_pkcs11(const keys_kek_pkcs11_config *cfg, keys_kek **out, lisec_err *err);
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
 * the number of loaded keys bounded however often the vault rotates.
 * Returns how many were unloaded. */
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

#endif
