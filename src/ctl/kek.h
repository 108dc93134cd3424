/* The key-encryption key of the target vault, held where the virtualisation
 * layer cannot read it (TR 103 308 §5.7): an AES-256 key inside a PKCS#11
 * token (SoftHSM2 in tests, an HSM or tpm2-pkcs11 in production) that is
 * created sensitive and non-extractable and only ever encrypts or decrypts
 * data keys. A file key exists for development only, and says so. */
#ifndef LISEC_CTL_KEK_H
#define LISEC_CTL_KEK_H

#include <stdbool.h>

#include "base/base.h"
#include "vault/vault.h"

typedef struct ctl_kek ctl_kek;

#define CTL_KEK_NAME_MAX 64 /* a token key's CKA_LABEL */

typedef struct ctl_kek_pkcs11_config {
  const char *module;      /* path of the PKCS#11 module (.so) */
  const char *token_label; /* the token to use */
  const char *pin;         /* user PIN */
  const char *key_label;   /* CKA_LABEL of the AES key */
  bool create;             /* generate the key in the token when absent */
} ctl_kek_pkcs11_config;

int ctl_kek_open_pkcs11(const ctl_kek_pkcs11_config *cfg, ctl_kek **out, lisec_err *err);
/* Development only: a 32-byte key in a file (created 0600 when absent). */
int ctl_kek_open_file(const char *path, ctl_kek **out, lisec_err *err);
void ctl_kek_close(ctl_kek *k);
/* The vault's view of the current KEK (callbacks into the token or file
 * key): what new data keys are wrapped with. Holds the key until
 * ctl_kek_release(k, v.ctx). */
vault_kek ctl_kek_vault(ctl_kek *k);
/* Gives back a handle from ctl_kek_vault or ctl_kek_for (its ctx; one
 * release per successful call); NULL is ignored. */
void ctl_kek_release(ctl_kek *k, void *handle);
/* Unloads every key but the current one (after a rotation has moved every
 * record to it); a key still held is freed with its last handle, and a
 * record still under an unloaded key loads it again from the token. Keeps
 * the number of loaded keys bounded however often the vault rotates.
 * Returns how many were unloaded. */
size_t ctl_kek_unload_others(ctl_kek *k);
/* How many keys are loaded now (for tests and metrics). */
size_t ctl_kek_loaded(ctl_kek *k);
/* The KEK a sealed record names (its kek_label), found in the token on first
 * use: *kek unwraps and wraps with it, *op opens records with the cached
 * data key's ready cipher context (vault_open_with). Either may be NULL.
 * EUNAVAIL, naming the label, when the token has no such key. On success
 * the key is held until ctl_kek_release(k, ctx) (once, with either ctx). */
int ctl_kek_for(ctl_kek *k, const char *label, vault_kek *kek, vault_opener *op, lisec_err *err);
/* Makes the token key called name current, generating it (sensitive, not
 * extractable) when absent and create is set. Records sealed under the
 * previous one still open through ctl_kek_for. */
int ctl_kek_use(ctl_kek *k, const char *name, bool create, lisec_err *err);
/* The current key's name and record label; either may be NULL. */
void ctl_kek_current(ctl_kek *k, char name[CTL_KEK_NAME_MAX + 1], char label[VAULT_ID_MAX + 1]);
/* A token key name: 1 to 64 of A-Z a-z 0-9 . _ - */
bool ctl_kek_name_valid(const char *name);
bool ctl_kek_is_development(const ctl_kek *k);

#endif
