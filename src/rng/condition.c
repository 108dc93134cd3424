/* Conditioning, SP 800-90C style: raw samples that passed their health
 * tests are absorbed into an HMAC-SHA-256 chain (a vetted conditioning
 * function, SP 800-90B §3.1.5.1) together with the entropy credited for them;
 * seeds are drawn with HKDF-Expand only when the credit covers the output
 * plus 64 bits, so a pool fed by too few healthy sources fails closed rather
 * than handing out a seed it cannot back. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#include "crypto/crypto.h"
#include "rng/rng.h"

static int ossl_fail(lisec_err *err, const char *what) {
  return lisec_err_set(err, LISEC_ECRYPTO, "rng conditioning: %s failed", what);
}

int rng_hkdf(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
             size_t info_len, uint8_t *out, size_t out_len, lisec_err *err) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!ctx) return ossl_fail(err, "HKDF fetch");
  OSSL_PARAM params[5], *p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
  *p = OSSL_PARAM_construct_end();
  int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok ? 0 : ossl_fail(err, "HKDF");
}

/* HKDF-Expand only (the PRK is already uniform: it is an HMAC output). */
static int hkdf_expand(const uint8_t prk[32], const void *info, size_t info_len, uint8_t *out,
                       size_t out_len, lisec_err *err) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!ctx) return ossl_fail(err, "HKDF fetch");
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[5], *p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
  *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, 32);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
  *p = OSSL_PARAM_construct_end();
  int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok ? 0 : ossl_fail(err, "HKDF-Expand");
}

static int pool_open_mac(rng_pool *p, lisec_err *err) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MAC_free(mac);
  if (!ctx) return ossl_fail(err, "HMAC fetch");
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                          OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, p->key, sizeof p->key, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return ossl_fail(err, "HMAC init");
  }
  p->mac = ctx;
  return 0;
}

int rng_pool_init(rng_pool *p, const void *pers, size_t pers_len, lisec_err *err) {
  *p = (rng_pool){0};
  static const char label[] = "lisec rng pool v1";
  const void *parts[2] = {label, pers};
  size_t lens[2] = {sizeof label - 1, pers_len};
  crypto_sha256_parts(parts, lens, pers_len ? 2 : 1, p->key);
  return pool_open_mac(p, err);
}

int rng_pool_absorb(rng_pool *p, const char *label, const void *data, size_t len,
                    double credited_bits, lisec_err *err) {
  if (!p->mac) return lisec_err_set(err, LISEC_EINTERNAL, "rng pool not initialised");
  if (credited_bits < 0 || credited_bits > 8.0 * (double)len)
    return lisec_err_set(err, LISEC_EINVAL, "rng pool: cannot credit %.1f bits to %zu bytes",
                         credited_bits, len);
  /* Length-prefix the label and the data so inputs cannot run together. */
  uint8_t hdr[10];
  size_t ll = label ? strlen(label) : 0;
  if (ll > 255) ll = 255;
  hdr[0] = (uint8_t)ll;
  for (int i = 0; i < 8; i++) hdr[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  if (EVP_MAC_update(p->mac, hdr, 1) != 1 || (ll && EVP_MAC_update(p->mac, (const uint8_t *)label, ll) != 1) ||
      EVP_MAC_update(p->mac, hdr + 1, 8) != 1 || (len && EVP_MAC_update(p->mac, data, len) != 1))
    return ossl_fail(err, "HMAC update");
  p->credited += credited_bits;
  p->absorbed += len;
  return 0;
}

int rng_pool_extract(rng_pool *p, const void *info, size_t info_len, uint8_t *out, size_t out_len,
                     lisec_err *err) {
  if (!p->mac) return lisec_err_set(err, LISEC_EINTERNAL, "rng pool not initialised");
  if (out_len < 16 || out_len > 64)
    return lisec_err_set(err, LISEC_EINVAL, "rng pool: output of %zu bytes outside 16..64", out_len);
  double need = 8.0 * (double)out_len + 64.0;
  if (p->credited < need)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "SP800-90C-3.1: %.0f bits of credited entropy, %.0f needed for a %zu-byte "
                         "seed",
                         p->credited, need, out_len);
  uint8_t prk[32];
  size_t prk_len = 0;
  int rc = 0;
  if (EVP_MAC_final(p->mac, prk, &prk_len, sizeof prk) != 1 || prk_len != sizeof prk)
    rc = ossl_fail(err, "HMAC final");
  EVP_MAC_CTX_free(p->mac);
  p->mac = NULL;
  /* The next chain key comes from a separate label, so the seed handed out
   * and the state kept cannot be derived from each other. */
  static const char next[] = "lisec rng pool next";
  if (!rc) rc = hkdf_expand(prk, info, info_len, out, out_len, err);
  if (!rc) rc = hkdf_expand(prk, next, sizeof next - 1, p->key, sizeof p->key, err);
  crypto_wipe(prk, sizeof prk);
  if (rc) {
    crypto_wipe(out, out_len);
    /* Keep the pool usable but unable to serve until re-credited. */
    p->credited = 0;
    int rc2 = pool_open_mac(p, NULL);
    (void)rc2;
    return rc;
  }
  p->credited = 0;
  p->extracted++;
  return pool_open_mac(p, err);
}

void rng_pool_free(rng_pool *p) {
  if (p->mac) EVP_MAC_CTX_free(p->mac);
  crypto_wipe(p, sizeof *p);
}
