/* crypto/ wraps the few primitives lisec uses — SHA-256, signatures, AES-256-GCM,
 * random bytes, constant-time comparison, wiping, base64 — over OpenSSL 3 and
 * libsodium, so no other module touches an EVP context or hand-rolls anything.
 * Keys are OpenSSL EVP_PKEY objects; PEM loading and X.509 helpers live here. */
#ifndef LISEC_CRYPTO_H
#define LISEC_CRYPTO_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16

/* ---- hashing ------------------------------------------------------------ */

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* SHA-256 over several pieces, as if concatenated (NULL-terminated by n=0 use
 * of the arrays' length). */
void crypto_sha256_parts(const void *const *parts, const size_t *lens, size_t n,
                         uint8_t out[CRYPTO_SHA256_LEN]);
/* HMAC-SHA-256. */
void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[CRYPTO_SHA256_LEN]);

/* ---- randomness, comparison, wiping ------------------------------------- */

int crypto_random(void *buf, size_t len, lisec_err *err);
/* Constant-time equality of two equal-length byte strings. */
bool crypto_ct_equal(const void *a, const void *b, size_t len);
/* Wipes memory in a way the compiler cannot elide. */
void crypto_wipe(void *p, size_t len);

/* ---- AEAD: AES-256-GCM -------------------------------------------------- */

/* out receives nonce(12) || ciphertext(pt_len) || tag(16): out_len must be at
 * least pt_len + 28. A fresh random nonce is drawn for every call. */
int crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
                     const void *pt, size_t pt_len, uint8_t *out, size_t out_len,
                     lisec_err *err);
/* Opens what crypto_aead_seal produced; ECRYPTO when the tag or aad is wrong.
 * pt receives in_len - 28 bytes. */
int crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
                     const uint8_t *in, size_t in_len, uint8_t *pt, size_t pt_len,
                     lisec_err *err);
#define CRYPTO_AEAD_OVERHEAD (CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN)

/* ---- keys and signatures ------------------------------------------------ */

int crypto_pkey_load_pem(const char *path, bool private_key, EVP_PKEY **out, lisec_err *err);
int crypto_pkey_from_pem(const void *pem, size_t len, bool private_key, EVP_PKEY **out,
                         lisec_err *err);
/* PEM of the public part; the caller frees with free(). */
int crypto_pkey_public_pem(EVP_PKEY *key, char **out, lisec_err *err);
/* Generates an ECDSA P-256 key, or Ed25519 when ed25519 is true. */
int crypto_pkey_generate(bool ed25519, EVP_PKEY **out, lisec_err *err);
/* Signs msg: ECDSA/RSA keys sign its SHA-256 (DER signature), Ed25519 signs it
 * directly. *sig is malloc'd. */
int crypto_pkey_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t **sig,
                     size_t *sig_len, lisec_err *err);
/* 0 when the signature verifies, ECRYPTO otherwise. */
int crypto_pkey_verify(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig,
                       size_t sig_len, lisec_err *err);

/* ---- X.509 -------------------------------------------------------------- */

int crypto_x509_load_pem(const char *path, X509 **out, lisec_err *err);
int crypto_x509_from_pem(const void *pem, size_t len, X509 **out, lisec_err *err);
/* Verifies cert against the CA bundle in ca_path at time `at` (0 = now);
 * the reason carries OpenSSL's verification error. */
int crypto_x509_verify(X509 *cert, const char *ca_path, int64_t at, lisec_err *err);

/* ---- base64 ------------------------------------------------------------- */

/* Standard base64 with padding; *out is malloc'd and NUL-terminated. */
int crypto_base64_encode(const void *in, size_t len, char **out);
/* Decodes at most max bytes; EINVAL on bad characters or padding. */
int crypto_base64_decode(const char *in, size_t max, uint8_t **out, size_t *len,
                         lisec_err *err);

#endif
