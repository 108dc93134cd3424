/* AES-256-GCM with a fresh 96-bit random nonce per message, laid out as
 * nonce || ciphertext || tag. Associated data binds a ciphertext to its place
 * (record id, version), so moving or rolling it back fails to open. */
#include <openssl/evp.h>

#include "crypto/crypto.h"

int crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
                     const void *pt, size_t pt_len, uint8_t *out, size_t out_len,
                     lisec_err *err) {
  if (pt_len > INT32_MAX - CRYPTO_AEAD_OVERHEAD || aad_len > INT32_MAX ||
      out_len < pt_len + CRYPTO_AEAD_OVERHEAD)
    return lisec_err_set(err, LISEC_EINVAL, "AEAD buffer sizes out of range");
  int rc = crypto_random(out, CRYPTO_AEAD_NONCE_LEN, err);
  if (rc) return rc;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, ok = ctx != NULL;
  ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out);
  ok = ok && (aad_len == 0 || EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len));
  ok = ok && EVP_EncryptUpdate(ctx, out + CRYPTO_AEAD_NONCE_LEN, &n, pt, (int)pt_len);
  ok = ok && EVP_EncryptFinal_ex(ctx, out + CRYPTO_AEAD_NONCE_LEN + n, &n);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_AEAD_TAG_LEN,
                                 out + CRYPTO_AEAD_NONCE_LEN + pt_len);
  EVP_CIPHER_CTX_free(ctx);
  return ok ? 0 : lisec_err_set(err, LISEC_ECRYPTO, "AES-256-GCM encryption failed");
}

int crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
                     const uint8_t *in, size_t in_len, uint8_t *pt, size_t pt_len,
                     lisec_err *err) {
  if (in_len < CRYPTO_AEAD_OVERHEAD || in_len > INT32_MAX || aad_len > INT32_MAX ||
      pt_len < in_len - CRYPTO_AEAD_OVERHEAD)
    return lisec_err_set(err, LISEC_EINVAL, "AEAD ciphertext truncated or buffer too small");
  size_t ct_len = in_len - CRYPTO_AEAD_OVERHEAD;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, ok = ctx != NULL;
  ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in);
  ok = ok && (aad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len));
  ok = ok && EVP_DecryptUpdate(ctx, pt, &n, in + CRYPTO_AEAD_NONCE_LEN, (int)ct_len);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_AEAD_TAG_LEN,
                                 (void *)(in + CRYPTO_AEAD_NONCE_LEN + ct_len));
  ok = ok && EVP_DecryptFinal_ex(ctx, pt + n, &n) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    crypto_wipe(pt, ct_len);
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "AES-256-GCM authentication failed (wrong key, data or context)");
  }
  return 0;
}
