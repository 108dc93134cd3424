/* TPM2_MakeCredential done by the controller, without a TPM: the proof that
 * an AK lives in the same TPM as an EK (O.1.6). A random seed is sent to
 * the EK (RSA-OAEP with the label "IDENTITY", or an ephemeral ECDH whose
 * shared secret goes through KDFe); from the seed KDFa derives the AES key
 * that hides the secret, bound to the AK's Name, and the HMAC key that seals
 * both. Only TPM2_ActivateCredential in the TPM holding the EK, with an
 * object of exactly that Name loaded, returns the secret. KDFa is OpenSSL's
 * KBKDF (counter mode, HMAC, 0x00 separator, 32-bit L) and KDFe its
 * single-step KDF: the TPM 2.0 Part 1 constructions, not re-implemented. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <string.h>

#include "attest/internal.h"
#include "crypto/crypto.h"

#define CRED_MAGIC 0xBADCC0DEu
#define CRED_VERSION 1u

/* KDFa(hash, key, label, contextU || contextV, bits) */
static int kdfa(const EVP_MD *md, const uint8_t *key, size_t key_len, const char *label,
                const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM params[7], *p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "counter", 0);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, strlen(label));
  if (context_len)
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)context, context_len);
  *p = OSSL_PARAM_construct_end();
  int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? 0 : LISEC_ECRYPTO;
}

/* KDFe(hash, Z, label, partyUInfo, partyVInfo, bits) */
static int kdfe(const EVP_MD *md, const uint8_t *z, size_t z_len, const char *label,
                const uint8_t *u, size_t u_len, const uint8_t *v, size_t v_len, uint8_t *out,
                size_t out_len) {
  uint8_t info[16 + 2 * 66];
  size_t llen = strlen(label) + 1;
  if (llen + u_len + v_len > sizeof info) return LISEC_EINVAL;
  memcpy(info, label, llen);
  memcpy(info + llen, u, u_len);
  memcpy(info + llen + u_len, v, v_len);
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, llen + u_len + v_len),
      OSSL_PARAM_construct_end()};
  int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? 0 : LISEC_ECRYPTO;
}

static void be16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* The seed and its encryption to an RSA EK. */
static int seed_rsa(EVP_PKEY *ek, const EVP_MD *md, uint8_t *seed, size_t seed_len,
                    uint8_t *enc, size_t *enc_len, lisec_err *err) {
  int rc = crypto_random(seed, seed_len, err);
  if (rc) return rc;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
  /* The label includes its terminating zero (TPM 2.0 Part 1, 11.4.10.4). */
  unsigned char *label = OPENSSL_memdup("IDENTITY", 9);
  if (!ctx || !label || EVP_PKEY_encrypt_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9) != 1) {
    OPENSSL_free(label);
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: RSA-OAEP set-up failed");
  } else if (EVP_PKEY_encrypt(ctx, enc, enc_len, seed, seed_len) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: RSA-OAEP failed");
  }
  EVP_PKEY_CTX_free(ctx);
  return rc;
}

/* The seed from an ephemeral ECDH with an ECC EK; enc receives the
 * ephemeral point as a marshalled TPMS_ECC_POINT. */
static int seed_ecc(EVP_PKEY *ek, const TPMS_ECC_POINT *ek_point, size_t field, const EVP_MD *md,
                    uint8_t *seed, size_t seed_len, uint8_t *enc, size_t *enc_len,
                    lisec_err *err) {
  EVP_PKEY_CTX *gctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL), *dctx = NULL;
  EVP_PKEY *eph = NULL;
  BIGNUM *x = NULL, *y = NULL;
  uint8_t z[66], ex[66], ey[66];
  size_t z_len = sizeof z;
  int rc = 0;
  if (!gctx || EVP_PKEY_keygen_init(gctx) != 1 || EVP_PKEY_keygen(gctx, &eph) != 1 ||
      !(dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) || EVP_PKEY_derive_init(dctx) != 1 ||
      EVP_PKEY_derive_set_peer(dctx, ek) != 1 || EVP_PKEY_derive(dctx, z, &z_len) != 1 ||
      !EVP_PKEY_get_bn_param(eph, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
      !EVP_PKEY_get_bn_param(eph, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
      BN_bn2binpad(x, ex, (int)field) < 0 || BN_bn2binpad(y, ey, (int)field) < 0) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: ECDH with the EK failed");
    goto out;
  }
  if (kdfe(md, z, z_len, "IDENTITY", ex, field, ek_point->x.buffer, ek_point->x.size, seed,
           seed_len) != 0) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: KDFe failed");
    goto out;
  }
  be16(enc, field);
  memcpy(enc + 2, ex, field);
  be16(enc + 2 + field, field);
  memcpy(enc + 4 + field, ey, field);
  *enc_len = 4 + 2 * field;
out:
  crypto_wipe(z, sizeof z);
  ERR_clear_error();
  BN_free(x);
  BN_free(y);
  EVP_PKEY_free(eph);
  EVP_PKEY_CTX_free(dctx);
  EVP_PKEY_CTX_free(gctx);
  return rc;
}

int attest_credential_make(const uint8_t *ek_pub, size_t ek_len, const uint8_t *ak_name,
                           size_t name_len, const uint8_t *secret, size_t secret_len,
                           lisec_buf *out, lisec_err *err) {
  if (!secret || secret_len == 0 || secret_len > ATTEST_CREDENTIAL_SECRET_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "make credential: secret of %zu bytes", secret_len);
  if (name_len < 3 || name_len > 2 + EVP_MAX_MD_SIZE)
    return lisec_err_set(err, LISEC_EINVAL, "make credential: AK name of %zu bytes", name_len);
  const EVP_MD *name_md = attest_md((TPM2_ALG_ID)(ak_name[0] << 8 | ak_name[1]));
  if (!name_md || (size_t)EVP_MD_get_size(name_md) != name_len - 2)
    return lisec_err_set(err, LISEC_EINVAL, "make credential: AK name is not a TPM Name");
  TPM2B_PUBLIC ekp;
  int rc = attest_tpm_public_parse(ek_pub, ek_len, &ekp, err);
  if (rc) return ATTEST_WRAP(rc, err, "EK");
  const TPMT_PUBLIC *ek = &ekp.publicArea;
  /* An EK is a restricted decryption (storage) key with an AES-CFB inner
   * wrapper; the credential is encrypted with exactly that algorithm. */
  TPMA_OBJECT a = ek->objectAttributes;
  const TPMT_SYM_DEF_OBJECT *sym =
      ek->type == TPM2_ALG_RSA ? &ek->parameters.rsaDetail.symmetric
                               : &ek->parameters.eccDetail.symmetric;
  if (!(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_DECRYPT) || (a & TPMA_OBJECT_SIGN_ENCRYPT))
    return lisec_err_set(err, LISEC_EINVAL, "EK: not a restricted decryption key");
  if ((ek->type != TPM2_ALG_RSA && ek->type != TPM2_ALG_ECC) || sym->algorithm != TPM2_ALG_AES ||
      sym->mode.aes != TPM2_ALG_CFB || (sym->keyBits.aes != 128 && sym->keyBits.aes != 256))
    return lisec_err_set(err, LISEC_EINVAL, "EK: not RSA/ECC with AES-128/256-CFB");
  const EVP_MD *md = attest_md(ek->nameAlg);
  if (!md) return lisec_err_set(err, LISEC_EINVAL, "EK: nameAlg 0x%04x", ek->nameAlg);
  size_t dlen = (size_t)EVP_MD_get_size(md), sym_len = sym->keyBits.aes / 8;
  EVP_PKEY *ekkey = NULL;
  rc = attest_tpm_public_to_pkey(ek, &ekkey, err);
  if (rc) return ATTEST_WRAP(rc, err, "EK");

  uint8_t seed[EVP_MAX_MD_SIZE], symkey[32], hmackey[EVP_MAX_MD_SIZE], hmac[EVP_MAX_MD_SIZE];
  uint8_t plain[2 + ATTEST_CREDENTIAL_SECRET_MAX], enc_identity[2 + ATTEST_CREDENTIAL_SECRET_MAX];
  uint8_t enc_secret[1024];
  size_t enc_len = sizeof enc_secret, hmac_len = 0;
  uint8_t iv[16] = {0};
  EVP_CIPHER *cipher = NULL;
  EVP_CIPHER_CTX *cctx = NULL;
  if (ek->type == TPM2_ALG_RSA) {
    rc = seed_rsa(ekkey, md, seed, dlen, enc_secret, &enc_len, err);
  } else {
    size_t field = ek->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ? 48 : 32;
    rc = seed_ecc(ekkey, &ek->unique.ecc, field, md, seed, dlen, enc_secret, &enc_len, err);
  }
  if (rc) goto out;
  /* The secret as a TPM2B_DIGEST, encrypted under the AK-Name-bound key. */
  be16(plain, secret_len);
  memcpy(plain + 2, secret, secret_len);
  int n1 = 0, n2 = 0;
  if (kdfa(md, seed, dlen, "STORAGE", ak_name, name_len, symkey, sym_len) != 0 ||
      kdfa(md, seed, dlen, "INTEGRITY", NULL, 0, hmackey, dlen) != 0 ||
      !(cipher = EVP_CIPHER_fetch(NULL, sym_len == 16 ? "AES-128-CFB" : "AES-256-CFB", NULL)) ||
      !(cctx = EVP_CIPHER_CTX_new()) ||
      EVP_EncryptInit_ex2(cctx, cipher, symkey, iv, NULL) != 1 ||
      EVP_EncryptUpdate(cctx, enc_identity, &n1, plain, (int)(2 + secret_len)) != 1 ||
      EVP_EncryptFinal_ex(cctx, enc_identity + n1, &n2) != 1 ||
      (size_t)(n1 + n2) != 2 + secret_len) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: key derivation or AES-CFB failed");
    goto out;
  }
  /* The outer HMAC covers the encrypted secret and the AK's Name. */
  uint8_t mac_in[sizeof enc_identity + 2 + EVP_MAX_MD_SIZE];
  memcpy(mac_in, enc_identity, 2 + secret_len);
  memcpy(mac_in + 2 + secret_len, ak_name, name_len);
  if (!EVP_Q_mac(NULL, "HMAC", NULL, EVP_MD_get0_name(md), NULL, hmackey, dlen, mac_in,
                 2 + secret_len + name_len, hmac, sizeof hmac, &hmac_len) ||
      hmac_len != dlen) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "make credential: HMAC failed");
    goto out;
  }
  uint8_t head[8] = {0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, CRED_VERSION}, sz[2], hs[2], es[2];
  be16(sz, 2 + hmac_len + 2 + secret_len);
  be16(hs, hmac_len);
  be16(es, enc_len);
  if (lisec_buf_append(out, head, 8) || lisec_buf_append(out, sz, 2) ||
      lisec_buf_append(out, hs, 2) || lisec_buf_append(out, hmac, hmac_len) ||
      lisec_buf_append(out, enc_identity, 2 + secret_len) || lisec_buf_append(out, es, 2) ||
      lisec_buf_append(out, enc_secret, enc_len))
    rc = lisec_err_set(err, LISEC_ETOOBIG, "make credential: output buffer full");
out:
  crypto_wipe(seed, sizeof seed);
  crypto_wipe(symkey, sizeof symkey);
  crypto_wipe(hmackey, sizeof hmackey);
  crypto_wipe(plain, sizeof plain);
  ERR_clear_error();
  EVP_CIPHER_CTX_free(cctx);
  EVP_CIPHER_free(cipher);
  EVP_PKEY_free(ekkey);
  return rc;
}

int attest_credential_split(const uint8_t *blob, size_t len, const uint8_t **id_object,
                            size_t *id_len, const uint8_t **enc_secret, size_t *enc_len,
                            lisec_err *err) {
  if (!blob || len < 12 || len > 4096)
    return lisec_err_set(err, LISEC_EINVAL, "credential: %zu bytes", len);
  uint32_t magic = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
  uint32_t version = (uint32_t)blob[4] << 24 | (uint32_t)blob[5] << 16 | (uint32_t)blob[6] << 8 | blob[7];
  if (magic != CRED_MAGIC || version != CRED_VERSION)
    return lisec_err_set(err, LISEC_EINVAL, "credential: not a tpm2-tools credential file");
  size_t off = 8;
  size_t a = (size_t)blob[off] << 8 | blob[off + 1];
  if (a == 0 || a > sizeof(TPMU_ENCRYPTED_SECRET) || off + 2 + a + 2 > len)
    return lisec_err_set(err, LISEC_EINVAL, "credential: truncated identity object");
  *id_object = blob + off, *id_len = 2 + a;
  off += 2 + a;
  size_t b = (size_t)blob[off] << 8 | blob[off + 1];
  if (b == 0 || b > sizeof(TPMU_ENCRYPTED_SECRET) || off + 2 + b != len)
    return lisec_err_set(err, LISEC_EINVAL, "credential: truncated or trailing secret");
  *enc_secret = blob + off, *enc_len = 2 + b;
  return 0;
}
