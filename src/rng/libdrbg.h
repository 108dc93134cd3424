/* The EVP_RAND plumbing liblisec-rng uses (libdrbg.c), apart from the
 * detection and policy in libapi.c. */
#ifndef LISEC_RNG_LIBDRBG_H
#define LISEC_RNG_LIBDRBG_H

#include <openssl/evp.h>
#include <stdbool.h>

#include "rng/rng.h"

/* A new DRBG, instantiated with OpenSSL's seed source and the
 * personalisation string; lisec's own seed follows with rngl_drbg_reseed. */
int rngl_drbg_new(rng_drbg_kind kind, const uint8_t *pers, size_t pers_len, EVP_RAND_CTX **out,
                  lisec_err *err);
int rngl_drbg_reseed(EVP_RAND_CTX *ctx, bool pr, const uint8_t *seed, size_t seed_len,
                     const uint8_t *adin, size_t adin_len, lisec_err *err);
/* Draws n bytes in chunks of the DRBG's maximum request, each chunk with the
 * additional input adin (NULL for none). */
int rngl_drbg_generate(EVP_RAND_CTX *ctx, void *buf, size_t n, bool pr, const uint8_t *adin,
                       size_t adin_len, lisec_err *err);

#endif
