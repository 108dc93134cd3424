/* Unit tests of crypto/: known-answer vectors from the standards (FIPS 180-2
 * SHA-256, RFC 4231 HMAC, RFC 4648 base64), AES-GCM tamper and context
 * checks, signatures with the wrong key and a changed message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

static void hex(const char *h, uint8_t *out, size_t n) { assert_int_equal(lisec_hex_decode(h, out, n), 0); }

static void test_sha256_fips_vector(void **state) {
  (void)state;
  uint8_t want[32], got[32];
  hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
  crypto_sha256("abc", 3, got);
  assert_memory_equal(want, got, 32);
  const void *parts[] = {"a", "bc"};
  size_t lens[] = {1, 2};
  crypto_sha256_parts(parts, lens, 2, got);
  assert_memory_equal(want, got, 32);
}

static void test_hmac_rfc4231_case2(void **state) {
  (void)state;
  uint8_t want[32], got[32];
  hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
  const char *msg = "what do ya want for nothing?";
  crypto_hmac_sha256("Jefe", 4, msg, strlen(msg), got);
  assert_memory_equal(want, got, 32);
}

static void test_ct_equal(void **state) {
  (void)state;
  assert_true(crypto_ct_equal("abcd", "abcd", 4));
  assert_false(crypto_ct_equal("abcd", "abce", 4));
}

static void test_aead_roundtrip_and_tamper(void **state) {
  (void)state;
  uint8_t key[32], other[32], ct[64], pt[64];
  lisec_err err = {0};
  assert_int_equal(crypto_random(key, 32, &err), 0);
  assert_int_equal(crypto_random(other, 32, &err), 0);
  const char *msg = "IMSI 262011234567890";
  size_t n = strlen(msg), clen = n + CRYPTO_AEAD_OVERHEAD;
  assert_int_equal(crypto_aead_seal(key, "rec-1|v1", 8, msg, n, ct, sizeof ct, &err), 0);
  assert_int_equal(crypto_aead_open(key, "rec-1|v1", 8, ct, clen, pt, sizeof pt, &err), 0);
  assert_memory_equal(pt, msg, n);
  /* another record's context, a wrong key, a flipped bit, a truncation */
  assert_int_equal(crypto_aead_open(key, "rec-2|v1", 8, ct, clen, pt, sizeof pt, &err), LISEC_ECRYPTO);
  assert_int_equal(crypto_aead_open(other, "rec-1|v1", 8, ct, clen, pt, sizeof pt, &err), LISEC_ECRYPTO);
  ct[CRYPTO_AEAD_NONCE_LEN] ^= 1;
  assert_int_equal(crypto_aead_open(key, "rec-1|v1", 8, ct, clen, pt, sizeof pt, &err), LISEC_ECRYPTO);
  assert_int_equal(crypto_aead_open(key, "rec-1|v1", 8, ct, 10, pt, sizeof pt, &err), LISEC_EINVAL);
  /* two seals of one message differ (fresh nonce) */
  uint8_t ct2[64];
  assert_int_equal(crypto_aead_seal(key, NULL, 0, msg, n, ct, sizeof ct, &err), 0);
  assert_int_equal(crypto_aead_seal(key, NULL, 0, msg, n, ct2, sizeof ct2, &err), 0);
  assert_memory_not_equal(ct, ct2, clen);
}

static void sign_verify(bool ed25519) {
  EVP_PKEY *k = NULL, *k2 = NULL, *pub = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_pkey_generate(ed25519, &k, &err), 0);
  assert_int_equal(crypto_pkey_generate(ed25519, &k2, &err), 0);
  char *pem = NULL;
  assert_int_equal(crypto_pkey_public_pem(k, &pem, &err), 0);
  assert_int_equal(crypto_pkey_from_pem(pem, strlen(pem), false, &pub, &err), 0);
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  assert_int_equal(crypto_pkey_sign(k, "checkpoint", 10, &sig, &sig_len, &err), 0);
  assert_int_equal(crypto_pkey_verify(pub, "checkpoint", 10, sig, sig_len, &err), 0);
  assert_int_equal(crypto_pkey_verify(pub, "checkpoinT", 10, sig, sig_len, &err), LISEC_ECRYPTO);
  assert_int_equal(crypto_pkey_verify(k2, "checkpoint", 10, sig, sig_len, &err), LISEC_ECRYPTO);
  assert_int_equal(crypto_pkey_verify(pub, "checkpoint", 10, sig, sig_len / 2, &err), LISEC_ECRYPTO);
  free(sig);
  free(pem);
  EVP_PKEY_free(k);
  EVP_PKEY_free(k2);
  EVP_PKEY_free(pub);
}

static void test_sign_verify_p256(void **state) { (void)state; sign_verify(false); }
static void test_sign_verify_ed25519(void **state) { (void)state; sign_verify(true); }

static void test_pem_garbage(void **state) {
  (void)state;
  EVP_PKEY *k = NULL;
  X509 *c = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_pkey_from_pem("-----BEGIN", 10, false, &k, &err), LISEC_EINVAL);
  assert_int_equal(crypto_x509_from_pem("junk", 4, &c, &err), LISEC_EINVAL);
}

static void test_base64_rfc4648(void **state) {
  (void)state;
  static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  lisec_err err = {0};
  for (size_t i = 0; i < 7; i++) {
    char *s = NULL;
    assert_int_equal(crypto_base64_encode(plain[i], strlen(plain[i]), &s), 0);
    assert_string_equal(s, enc[i]);
    free(s);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(crypto_base64_decode(enc[i], 64, &d, &n, &err), 0);
    assert_int_equal(n, strlen(plain[i]));
    assert_memory_equal(d, plain[i], n);
    free(d);
  }
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(crypto_base64_decode("Zm9", 64, &d, &n, &err), LISEC_EINVAL);
  assert_int_equal(crypto_base64_decode("Zm=v", 64, &d, &n, &err), LISEC_EINVAL);
  assert_int_equal(crypto_base64_decode("Zm9v!!==", 64, &d, &n, &err), LISEC_EINVAL);
  assert_int_equal(crypto_base64_decode("Zm9vYmFy", 5, &d, &n, &err), LISEC_ETOOBIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_fips_vector), cmocka_unit_test(test_hmac_rfc4231_case2),
      cmocka_unit_test(test_ct_equal),           cmocka_unit_test(test_aead_roundtrip_and_tamper),
      cmocka_unit_test(test_sign_verify_p256),   cmocka_unit_test(test_sign_verify_ed25519),
      cmocka_unit_test(test_pem_garbage),        cmocka_unit_test(test_base64_rfc4648),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
