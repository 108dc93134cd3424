/* SHA-256 and HMAC-SHA-256 over OpenSSL's EVP interface: the digests behind
 * the audit tree, attestation checks, package manifests and key derivation. */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/crypto.h"

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]) {
  unsigned int n = 0;
  EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void crypto_sha256_parts(const void *const *parts, const size_t *lens, size_t n,
                         uint8_t out[CRYPTO_SHA256_LEN]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int olen = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  for (size_t i = 0; i < n; i++) EVP_DigestUpdate(ctx, parts[i], lens[i]);
  EVP_DigestFinal_ex(ctx, out, &olen);
  EVP_MD_CTX_free(ctx);
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[CRYPTO_SHA256_LEN]) {
  unsigned int olen = 0;
  HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &olen);
}
