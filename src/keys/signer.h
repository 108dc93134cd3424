/* The audit log's checkpoint signing key, held by the keys process only: an
 * Ed25519 key pair in a PKCS#11 token (CKM_EDDSA; the private half sensitive
 * and never extractable) or, for development only, a PKCS#8 PEM file. The
 * controller sees the public key and asks for signatures (keys/keys.h). */
#ifndef LISEC_KEYS_SIGNER_H
#define LISEC_KEYS_SIGNER_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct keys_signer keys_signer;

typedef struct keys_signer_pkcs11 {
  const char *module;      /* path of the PKCS#11 module (.so) */
  const char *token_label; /* the token */
  const char *pin;         /* user PIN */
  const char *key_label;   /* CKA_LABEL of the Ed25519 key pair */
  bool create;             /* generate the key pair in the token when absent */
} keys_signer_pkcs11;

/* The Ed25519 pair labelled label in the token of session s, as the
 * checkpoint key is found at start (and its rollover's ".next") and as
 * lisecd --check-config looks at it: *found tells whether the token holds
 * it. Refused (EINVAL, naming TR103308-5.5 and the label, and what to do)
 * when more than one private or public key is under the label (which one
 * signs would be the token's choice) or the private key is extractable;
 * ENOTFOUND when only one half is there. */
int keys_signer_token_pair(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label,
                           CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub, bool *found, lisec_err *err);
int keys_signer_open_pkcs11(const keys_signer_pkcs11 *cfg, keys_signer **out, lisec_err *err);
/* Development only: the PEM at path, created 0600 when absent and create. */
int keys_signer_open_file(const char *path, bool create, keys_signer **out, lisec_err *err);
void keys_signer_close(keys_signer *k);
/* An audit_sign_fn (audit/audit.h) with ctx = the signer. */
int keys_signer_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err);
void keys_signer_public_key(const keys_signer *k, uint8_t pk[32]);
/* The keys process's own signing of a checkpoint (AUDIT_SIGN, and with
 * next AUDIT_SIGN_NEXT): only a checkpoint note whose tree the witness
 * admits as extending the last one signed, shown by the consistency proof
 * from old_size (keys/witness.h; proof_len hashes of 32 bytes). The
 * unwitnessed keys_signer_sign is for tests and benches that hold the key
 * in their own process. */
int keys_signer_sign_witnessed(keys_signer *k, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                               const uint8_t *proof, size_t proof_len, uint8_t sig[64], lisec_err *err);
/* The last checkpoint the witness signed (*have false: none yet). */
int keys_signer_witness_state(keys_signer *k, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err);
/* A rollover's next key (issue 21 item 5): fresh makes a new one in place of
 * any unused one; otherwise the one there (ENOTFOUND when none). */
int keys_signer_next(keys_signer *k, bool fresh, uint8_t pk[32], lisec_err *err);
/* An audit_sign_fn with the next key. */
int keys_signer_sign_next(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err);
/* The next key, which must be pk, becomes the checkpoint key; the old one is
 * destroyed (in the token) or overwritten (the development file). */
int keys_signer_promote(keys_signer *k, const uint8_t pk[32], lisec_err *err);
bool keys_signer_development(const keys_signer *k);

#endif
