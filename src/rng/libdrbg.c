/* DRBG plumbing for liblisec-rng: creating, reseeding and drawing from one
 * OpenSSL 3 EVP_RAND context (CTR-DRBG AES-256 with derivation function, or
 * HMAC-DRBG SHA-256). The entropy input lisec supplies goes through
 * EVP_RAND_reseed()'s entropy argument; OpenSSL adds its own seed source on
 * top, so lisec's hedge can only add to what OpenSSL would have had. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"
#include "rng/libdrbg.h"

#define DRBG_STRENGTH 256

static int drbg_fail(lisec_err *err, const char *what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  return lisec_err_set(err, LISEC_ECRYPTO, "SP800-90A DRBG: %s failed%s%s", what, e ? ": " : "",
                       e ? ERR_reason_error_string(e) : "");
}

int rngl_drbg_new(rng_drbg_kind kind, const uint8_t *pers, size_t pers_len, EVP_RAND_CTX **out,
                  lisec_err *err) {
  EVP_RAND *r = EVP_RAND_fetch(NULL, rng_drbg_kind_alg(kind), NULL);
  EVP_RAND_CTX *ctx = r ? EVP_RAND_CTX_new(r, NULL) : NULL;
  EVP_RAND_free(r);
  if (!ctx) return drbg_fail(err, "fetch");
  if (!rng_drbg_configure(ctx, kind) ||
      EVP_RAND_instantiate(ctx, DRBG_STRENGTH, 0, pers, pers_len, NULL) != 1) {
    EVP_RAND_CTX_free(ctx);
    return drbg_fail(err, "instantiate");
  }
  *out = ctx;
  return 0;
}

int rngl_drbg_reseed(EVP_RAND_CTX *ctx, bool pr, const uint8_t *seed, size_t seed_len,
                     const uint8_t *adin, size_t adin_len, lisec_err *err) {
  if (EVP_RAND_reseed(ctx, pr, seed, seed_len, adin, adin_len) != 1)
    return drbg_fail(err, "reseed");
  return 0;
}

int rngl_drbg_generate(EVP_RAND_CTX *ctx, void *buf, size_t n, bool pr, const uint8_t *adin,
                       size_t adin_len, lisec_err *err) {
  uint8_t *p = buf;
  const size_t want = n;
  size_t max = 0;
  OSSL_PARAM q[2] = {OSSL_PARAM_construct_size_t(OSSL_RAND_PARAM_MAX_REQUEST, &max),
                     OSSL_PARAM_construct_end()};
  if (n > 4096 && (EVP_RAND_CTX_get_params(ctx, q) != 1 || max == 0)) max = 4096;
  if (max == 0) max = 4096;
  while (n) {
    size_t k = n < max ? n : max;
    if (EVP_RAND_generate(ctx, p, k, DRBG_STRENGTH, pr, adin, adin_len) != 1) {
      /* The chunks drawn so far are part of the caller's key: a failure
       * leaves none of it in the buffer. */
      crypto_wipe(buf, want);
      return drbg_fail(err, "generate");
    }
    p += k;
    n -= k;
  }
  return 0;
}
