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
/* The vault's view of this KEK (callbacks into the token or file key). */
vault_kek ctl_kek_vault(ctl_kek *k);
/* Opens targets with the cached data key's ready cipher context (vault_open_with). */
vault_opener ctl_kek_opener(ctl_kek *k);
bool ctl_kek_is_development(const ctl_kek *k);

#endif
