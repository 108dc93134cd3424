/* The Retained Data stores' data keys in the keys process's PKCS#11 token
 * ([rd]; issue 20, TR 103 308 §5.7): one AES-256 key per RD store and
 * retention period, generated in the token (sensitive: the token never
 * shows its value; extractable only wrapped), labelled
 * "lisec-rd:<store>:<period>". Handing a key out wraps it in the token to
 * its recipient, the RD VM's P-256 public key: an ephemeral P-256 key pair
 * made in the token, ECDH with the recipient's point (C_DeriveKey,
 * CKM_ECDH1_DERIVE) into a one-use AES-256 wrapping key, C_WrapKey with AES
 * key wrap (RFC 3394). Neither the keys process nor the controller ever
 * holds the data key in clear: they see the ephemeral public point and
 * the 40 wrapped bytes. The token object stays the only copy lisec holds,
 * and its C_DestroyObject at the end of retention is what makes the
 * period's data unreadable (crypto-shredding). */
#ifndef LISEC_KEYS_RDKEY_H
#define LISEC_KEYS_RDKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define KEYS_RD_LABEL_PREFIX "lisec-rd:"
#define KEYS_RD_STORE_MAX 128 /* a storage id (MODEL_ID_MAX) */
#define KEYS_RD_KEY_LEN 32
#define KEYS_RD_PERIOD_MAX ((uint64_t)1 << 40)
#define KEYS_RD_POINT_LEN 65   /* an uncompressed P-256 point */
#define KEYS_RD_WRAPPED_LEN 40 /* AES-256 wrapped by RFC 3394 */
/* The RD administration's signed registration of the recipient key for
 * the VM (model/rd_register.h, MODEL_RD_REG_MAX), sent with every RD_KEY. */
#define KEYS_RD_REG_MAX 2048

typedef struct keys_rdkey keys_rdkey;

int keys_rdkey_open(const char *module, const char *token, const char *pin, keys_rdkey **out,
                    lisec_err *err);
void keys_rdkey_close(keys_rdkey *st);
/* The data key of (store, period) wrapped to recipient (0x04 || X || Y):
 * the token's object, made first when absent and create is set (ENOTFOUND
 * otherwise); eph gets the ephemeral public point, wrapped the RFC 3394
 * wrap of the key under the ECDH x-coordinate of eph and recipient. */
int keys_rdkey_get(keys_rdkey *st, const char *store, uint64_t period, bool create,
                   const uint8_t recipient[KEYS_RD_POINT_LEN], uint8_t eph[KEYS_RD_POINT_LEN],
                   uint8_t wrapped[KEYS_RD_WRAPPED_LEN], lisec_err *err);
/* Destroys every object of (store, period) and looks again: 0 only when
 * none is left; *count: how many went (0 when it was gone already). */
int keys_rdkey_destroy(keys_rdkey *st, const char *store, uint64_t period, uint64_t *count,
                       lisec_err *err);

#endif
