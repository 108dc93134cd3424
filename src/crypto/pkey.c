/* Asymmetric keys as OpenSSL EVP_PKEY objects: PEM in and out, generation
 * (ECDSA P-256 or Ed25519) and sign/verify with the digest each key type
 * expects, so callers never choose a hash or padding by hand. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

#define PEM_MAX (64 * 1024)

static const char *ossl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unknown OpenSSL error";
}

int crypto_pkey_from_pem(const void *pem, size_t len, bool private_key, EVP_PKEY **out,
                         lisec_err *err) {
  if (len > PEM_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "PEM key larger than 64 KiB");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  EVP_PKEY *k = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                            : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!k) {
    int rc = lisec_err_set(err, LISEC_EINVAL, "not a PEM %s key: %s",
                           private_key ? "private" : "public", ossl_reason());
    ERR_clear_error();
    return rc;
  }
  *out = k;
  return 0;
}

int crypto_pkey_load_pem(const char *path, bool private_key, EVP_PKEY **out, lisec_err *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, PEM_MAX, &buf, &len, err);
  if (rc) return rc;
  rc = crypto_pkey_from_pem(buf, len, private_key, out, err);
  crypto_wipe(buf, len);
  free(buf);
  if (rc) lisec_err_wrap(err, "%s", path);
  return rc;
}

int crypto_pkey_public_pem(EVP_PKEY *key, char **out, lisec_err *err) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio_PUBKEY(bio, key)) {
    BIO_free(bio);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot encode public key: %s", ossl_reason());
  }
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  *out = malloc((size_t)n + 1);
  if (*out) {
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
  }
  BIO_free(bio);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int crypto_pkey_generate(bool ed25519, EVP_PKEY **out, lisec_err *err) {
  EVP_PKEY *k = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (!k) return lisec_err_set(err, LISEC_ECRYPTO, "key generation failed: %s", ossl_reason());
  *out = k;
  return 0;
}

/* Ed25519 and Ed448 sign the message itself; everything else its SHA-256. */
static const EVP_MD *pkey_digest(EVP_PKEY *key) {
  int id = EVP_PKEY_get_base_id(key);
  return (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
}

int crypto_pkey_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t **sig,
                     size_t *sig_len, lisec_err *err) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t n = 0;
  uint8_t *s = NULL;
  int ok = ctx && EVP_DigestSignInit(ctx, NULL, pkey_digest(key), NULL, key) == 1 &&
           EVP_DigestSign(ctx, NULL, &n, msg, len) == 1 && (s = malloc(n)) != NULL &&
           EVP_DigestSign(ctx, s, &n, msg, len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    free(s);
    return lisec_err_set(err, LISEC_ECRYPTO, "signing failed: %s", ossl_reason());
  }
  *sig = s;
  *sig_len = n;
  return 0;
}

int crypto_pkey_verify(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig,
                       size_t sig_len, lisec_err *err) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, pkey_digest(key), NULL, key) == 1 &&
           EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok ? 0 : lisec_err_set(err, LISEC_ECRYPTO, "signature does not verify");
}
