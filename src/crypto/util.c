/* Random bytes, constant-time comparison and wiping: the three primitives a
 * secret's lifetime depends on, each delegated to OpenSSL. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"

int crypto_random(void *buf, size_t len, lisec_err *err) {
  if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "random generator failed: %s",
                         ERR_reason_error_string(ERR_get_error()));
  return 0;
}

bool crypto_ct_equal(const void *a, const void *b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len) {
  if (p) OPENSSL_cleanse(p, len);
}
