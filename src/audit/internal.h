/* What the audit module's files share and nothing else sees. libsodium's
 * sodium.h and crypto/crypto.h both declare crypto_sign(), so libsodium is
 * only included by seal.c, which offers the rest the one call they need. */
#ifndef LISEC_AUDIT_INTERNAL_H
#define LISEC_AUDIT_INTERNAL_H

#include "audit/audit.h"

/* libsodium initialised and sig (64 bytes) a valid Ed25519 signature of msg. */
bool audit_ed25519_ok(const uint8_t sig[AUDIT_ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                      const uint8_t pk[AUDIT_ED25519_PK_LEN]);
#define AUDIT_SEAL_OVERHEAD 48 /* crypto_box_SEALBYTES */

#endif
