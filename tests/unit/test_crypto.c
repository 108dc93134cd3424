/* Unit tests of crypto/: known-answer vectors from the standards (FIPS 180-2
 * SHA-256, RFC 4231 HMAC, RFC 4648 base64), AES-GCM tamper and context
 * checks, signatures with the wrong key and a changed message; the one
 * subject CN a client certificate is read by (crypto_cert_cn). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/cert_role.h"
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

/* A certificate whose subject holds the CN entries given (each of len
 * bytes, of ASN.1 string type), unsigned: only its subject is read. */
static X509 *cert_with_cns(int type, const char *const *cns, const int *lens, size_t n) {
  X509 *c = X509_new();
  X509_NAME *name = X509_NAME_new();
  assert_non_null(c);
  assert_non_null(name);
  assert_int_equal(
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"lisec test", -1, -1, 0), 1);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(
        X509_NAME_add_entry_by_NID(name, NID_commonName, type, (const unsigned char *)cns[i], lens[i], -1, 0), 1);
  assert_int_equal(X509_set_subject_name(c, name), 1);
  X509_NAME_free(name);
  return c;
}

/* A CN is one whole name: two CNs, a NUL inside one and one longer than the
 * buffer are refused (X509_NAME_get_text_by_NID, read before, gives the
 * first CN, stops at the NUL and cuts to the buffer: each read as vnf-a). */
static void test_cert_cn(void **state) {
  (void)state;
  char cn[128];
  lisec_err err = {0};
  const char *one[] = {"vnf-a"};
  int one_len[] = {5};
  X509 *c = cert_with_cns(V_ASN1_UTF8STRING, one, one_len, 1);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), 0);
  assert_string_equal(cn, "vnf-a");
  X509_free(c);

  const char *two[] = {"vnf-a", "vnf-b"};
  int two_len[] = {5, 5};
  c = cert_with_cns(V_ASN1_UTF8STRING, two, two_len, 2);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "more than one CN"));
  assert_string_equal(cn, "");
  X509_free(c);

  const char *nul[] = {"vnf-a\0.evil"};
  int nul_len[] = {11};
  c = cert_with_cns(V_ASN1_UTF8STRING, nul, nul_len, 1);
  char old[128];
  X509_NAME *subject = X509_get_subject_name(c);
  assert_int_equal(X509_NAME_get_text_by_NID(subject, NID_commonName, old, sizeof old), 11);
  assert_string_equal(old, "vnf-a"); /* what was read before */
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "NUL"));
  assert_null(strstr(err.msg, "vnf-a"));
  X509_free(c);

  char longer[131];
  memset(longer, 'v', sizeof longer);
  const char *lng[] = {longer};
  int lng_len[] = {128}; /* one byte over the 127 a 128-byte buffer holds */
  c = cert_with_cns(V_ASN1_UTF8STRING, lng, lng_len, 1);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "longer than 127 bytes"));
  X509_free(c);
  lng_len[0] = 127;
  c = cert_with_cns(V_ASN1_UTF8STRING, lng, lng_len, 1);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), 0);
  assert_int_equal(strlen(cn), 127);
  X509_free(c);

  /* a BMPString is read as the name it holds, not its raw bytes */
  const char *bmp[] = {"\0v\0n\0f\0-\0a"};
  int bmp_len[] = {10};
  c = cert_with_cns(V_ASN1_BMPSTRING, bmp, bmp_len, 1);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), 0);
  assert_string_equal(cn, "vnf-a");
  X509_free(c);

  c = cert_with_cns(V_ASN1_UTF8STRING, NULL, NULL, 0);
  assert_int_equal(crypto_cert_cn(c, cn, sizeof cn, &err), LISEC_ENOTFOUND);
  X509_free(c);
  assert_int_equal(crypto_cert_cn(NULL, cn, sizeof cn, &err), LISEC_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_fips_vector), cmocka_unit_test(test_hmac_rfc4231_case2),
      cmocka_unit_test(test_ct_equal),           cmocka_unit_test(test_aead_roundtrip_and_tamper),
      cmocka_unit_test(test_sign_verify_p256),   cmocka_unit_test(test_sign_verify_ed25519),
      cmocka_unit_test(test_pem_garbage),        cmocka_unit_test(test_base64_rfc4648),
      cmocka_unit_test(test_cert_cn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
