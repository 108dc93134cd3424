/* The VM's event key in its TPM, the parts that need no TPM (tpmkey.h,
 * src/events/tpmblob.c): the key file "LSEVTPM1" | TPM2B_PUBLIC |
 * TPM2B_PRIVATE round-trips; every truncation, an oversized file, bytes
 * after the areas, another magic and an empty private area are refused
 * with a reason; a public area that is not a non-duplicable P-256 ECDSA
 * signing key (restricted, decrypting, not fixedTPM, another curve or
 * scheme, a point off the curve) is refused; the public key taken from the
 * public area is the key's own (its PEM equals OpenSSL's); a TPM signature
 * (r, s) becomes the DER form OpenSSL verifies over the message, and a
 * changed r or another algorithm does not. The library's TPM load refuses
 * a bad file before it opens any TPM. The TPM itself is exercised against
 * swtpm by the li_events integration test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include "crypto/crypto.h"
#include "events/tpmkey.h"
#include "lisec/events.h"

/* A public area as the TPM would give it for the software key k. */
static void public_of(EVP_PKEY *k, TPM2B_PUBLIC *pub) {
  memset(pub, 0, sizeof *pub);
  TPMT_PUBLIC *p = &pub->publicArea;
  p->type = TPM2_ALG_ECC;
  p->nameAlg = TPM2_ALG_SHA256;
  p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT;
  p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  uint8_t point[65];
  size_t n = 0;
  assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &n), 1);
  assert_int_equal(n, 65);
  p->unique.ecc.x.size = p->unique.ecc.y.size = 32;
  memcpy(p->unique.ecc.x.buffer, point + 1, 32);
  memcpy(p->unique.ecc.y.buffer, point + 33, 32);
}

static void private_of(TPM2B_PRIVATE *priv) {
  memset(priv, 0, sizeof *priv);
  priv->size = 126; /* a wrapped P-256 private area's size */
  for (size_t i = 0; i < priv->size; i++) priv->buffer[i] = (uint8_t)(i * 7 + 3);
}

static void test_blob(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = NULL;
  assert_int_equal(crypto_pkey_generate(false, &k, &err), 0);
  TPM2B_PUBLIC pub, pub2;
  TPM2B_PRIVATE priv, priv2;
  public_of(k, &pub);
  private_of(&priv);
  uint8_t *blob = NULL;
  size_t len = 0;
  assert_int_equal(evtpm_blob_encode(&pub, &priv, &blob, &len, &err), 0);
  assert_memory_equal(blob, EVTPM_MAGIC, EVTPM_MAGIC_LEN);
  assert_int_equal(evtpm_blob_decode(blob, len, &pub2, &priv2, &err), 0);
  assert_int_equal(priv2.size, priv.size);
  assert_memory_equal(priv2.buffer, priv.buffer, priv.size);
  assert_memory_equal(pub2.publicArea.unique.ecc.x.buffer, pub.publicArea.unique.ecc.x.buffer, 32);
  /* the public key is the key's own */
  EVP_PKEY *from_tpm = NULL;
  char *a = NULL, *b = NULL;
  assert_int_equal(evtpm_public_pkey(&pub2, &from_tpm, &err), 0);
  assert_int_equal(crypto_pkey_public_pem(from_tpm, &a, &err), 0);
  assert_int_equal(crypto_pkey_public_pem(k, &b, &err), 0);
  assert_string_equal(a, b);
  free(a);
  free(b);
  EVP_PKEY_free(from_tpm);

  /* every truncation refused */
  for (size_t n = 0; n < len; n++) {
    err = (lisec_err){0};
    assert_int_not_equal(evtpm_blob_decode(blob, n, &pub2, &priv2, &err), 0);
    assert_true(strstr(err.msg, "truncated") || strstr(err.msg, "not a TPM key file") || strstr(err.msg, "empty"));
  }
  /* bytes after the areas */
  uint8_t *big = calloc(1, EVTPM_BLOB_MAX + 1);
  assert_non_null(big);
  memcpy(big, blob, len);
  assert_int_equal(evtpm_blob_decode(big, len + 1, &pub2, &priv2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after the key's areas"));
  /* oversized */
  assert_int_equal(evtpm_blob_decode(big, EVTPM_BLOB_MAX + 1, &pub2, &priv2, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "at most"));
  /* another file: a PEM key */
  const char pem[] = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n";
  assert_int_equal(evtpm_blob_decode((const uint8_t *)pem, sizeof pem - 1, &pub2, &priv2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "not a TPM key file"));
  /* an empty private area */
  TPM2B_PRIVATE empty = {0};
  uint8_t *blob2 = NULL;
  size_t len2 = 0;
  assert_int_equal(evtpm_blob_encode(&pub, &empty, &blob2, &len2, &err), 0);
  assert_int_equal(evtpm_blob_decode(blob2, len2, &pub2, &priv2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "empty"));
  free(blob2);
  free(big);
  free(blob);
  EVP_PKEY_free(k);
}

/* Each property the key must have, taken away in turn. */
static void test_public_check(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = NULL;
  assert_int_equal(crypto_pkey_generate(false, &k, &err), 0);
  TPM2B_PUBLIC good, p;
  public_of(k, &good);
  assert_int_equal(evtpm_public_check(&good, &err), 0);
  static const char *const cases[] = {"restricted", "decrypting", "duplicable", "P-384",
                                      "no scheme",  "RSA",        "SHA-1 name", "short x"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    p = good;
    TPMT_PUBLIC *a = &p.publicArea;
    switch (i) {
      case 0: a->objectAttributes |= TPMA_OBJECT_RESTRICTED; break;
      case 1: a->objectAttributes |= TPMA_OBJECT_DECRYPT; break;
      case 2: a->objectAttributes &= ~TPMA_OBJECT_FIXEDTPM; break;
      case 3: a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384; break;
      case 4: a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL; break;
      case 5: a->type = TPM2_ALG_RSA; break;
      case 6: a->nameAlg = TPM2_ALG_SHA1; break;
      case 7: a->unique.ecc.x.size = 31; break;
    }
    err = (lisec_err){0};
    if (evtpm_public_check(&p, &err) != LISEC_EINVAL) fail_msg("%s accepted", cases[i]);
    /* and a file holding it is refused too */
    TPM2B_PRIVATE priv;
    TPM2B_PUBLIC pub2;
    private_of(&priv);
    uint8_t *blob = NULL;
    size_t len = 0;
    if (evtpm_blob_encode(&p, &priv, &blob, &len, &err) == 0) {
      assert_int_not_equal(evtpm_blob_decode(blob, len, &pub2, &priv, &err), 0);
      free(blob);
    }
  }
  /* a point off the curve */
  p = good;
  p.publicArea.unique.ecc.y.buffer[31] ^= 1;
  EVP_PKEY *bad = NULL;
  assert_int_equal(evtpm_public_pkey(&p, &bad, &err), LISEC_EINVAL);
  assert_null(bad);
  EVP_PKEY_free(k);
}

/* TPMT_SIGNATURE -> DER: what the software signer makes and lisecd
 * verifies. */
static void test_signature(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = NULL;
  assert_int_equal(crypto_pkey_generate(false, &k, &err), 0);
  const char msg[] = "{\"seq\":1,\"time\":1,\"type\":\"start\",\"v\":1,\"vm\":\"vm-li-1\"}";
  uint8_t *sw = NULL;
  size_t sw_len = 0;
  assert_int_equal(crypto_pkey_sign(k, msg, strlen(msg), &sw, &sw_len, &err), 0);
  const unsigned char *q = sw;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sw_len);
  assert_non_null(es);
  TPMT_SIGNATURE ts = {.sigAlg = TPM2_ALG_ECDSA};
  ts.signature.ecdsa.hash = TPM2_ALG_SHA256;
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG_get0(es, &r, &s);
  /* the TPM gives r and s as 32 bytes, leading zeros kept */
  ts.signature.ecdsa.signatureR.size = 32;
  ts.signature.ecdsa.signatureS.size = 32;
  assert_int_equal(BN_bn2binpad(r, ts.signature.ecdsa.signatureR.buffer, 32), 32);
  assert_int_equal(BN_bn2binpad(s, ts.signature.ecdsa.signatureS.buffer, 32), 32);
  ECDSA_SIG_free(es);
  uint8_t *der = NULL;
  size_t der_len = 0;
  assert_int_equal(evtpm_sig_der(&ts, &der, &der_len, &err), 0);
  assert_int_equal(crypto_pkey_verify(k, msg, strlen(msg), der, der_len, &err), 0);
  free(der);
  TPMT_SIGNATURE bent = ts;
  bent.signature.ecdsa.signatureR.buffer[5] ^= 0x40;
  assert_int_equal(evtpm_sig_der(&bent, &der, &der_len, &err), 0);
  assert_int_not_equal(crypto_pkey_verify(k, msg, strlen(msg), der, der_len, &err), 0);
  free(der);
  bent = ts;
  bent.sigAlg = TPM2_ALG_RSASSA;
  assert_int_equal(evtpm_sig_der(&bent, &der, &der_len, &err), LISEC_EINVAL);
  bent = ts;
  bent.signature.ecdsa.signatureS.size = 33;
  assert_int_equal(evtpm_sig_der(&bent, &der, &der_len, &err), LISEC_EINVAL);
  bent = ts;
  bent.signature.ecdsa.hash = TPM2_ALG_SHA1;
  assert_int_equal(evtpm_sig_der(&bent, &der, &der_len, &err), LISEC_EINVAL);
  free(sw);
  EVP_PKEY_free(k);
}

/* The library's TPM load: a bad file is refused, naming why, before any
 * TPM is opened (the TCTI named here does not exist). */
static void test_load_refuses_bad_files(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-evtpm-XXXXXX", path[128], pub[128], err[LISEC_EVENT_ERR_MAX];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/vm.tpmkey", dir);
  snprintf(pub, sizeof pub, "%s/vm.pub", dir);
  lisec_event_key *k = NULL;
  /* a software key's PEM file */
  assert_int_equal(lisec_event_key_create(path, pub, err), 0);
  assert_int_equal(lisec_event_key_load_tpm("nosuchtcti", path, &k, err), -1);
  assert_null(k);
  assert_non_null(strstr(err, "not a TPM key file"));
  unlink(path);
  /* truncated */
  FILE *f = fopen(path, "w");
  fputs(EVTPM_MAGIC "\x00\x10", f);
  fclose(f);
  assert_int_equal(lisec_event_key_load_tpm("nosuchtcti", path, &k, err), -1);
  assert_non_null(strstr(err, "truncated"));
  /* oversized */
  f = fopen(path, "w");
  fputs(EVTPM_MAGIC, f);
  for (size_t i = 0; i < EVTPM_BLOB_MAX; i++) fputc(0, f);
  fclose(f);
  assert_int_equal(lisec_event_key_load_tpm("nosuchtcti", path, &k, err), -1);
  assert_non_null(strstr(err, path));
  /* a good file and no TPM: the TCTI's reason */
  lisec_err e = {0};
  EVP_PKEY *sk = NULL;
  assert_int_equal(crypto_pkey_generate(false, &sk, &e), 0);
  TPM2B_PUBLIC tp;
  TPM2B_PRIVATE tv;
  public_of(sk, &tp);
  private_of(&tv);
  uint8_t *blob = NULL;
  size_t len = 0;
  assert_int_equal(evtpm_blob_encode(&tp, &tv, &blob, &len, &e), 0);
  assert_int_equal(lisec_file_write_atomic(path, blob, len, 0600, &e), 0);
  assert_int_equal(lisec_event_key_load_tpm("nosuchtcti", path, &k, err), -1);
  assert_non_null(strstr(err, "TCTI"));
  free(blob);
  EVP_PKEY_free(sk);
  /* the TPM keygen never overwrites a file */
  assert_int_equal(lisec_event_key_create_tpm("nosuchtcti", path, pub, err), -1);
  assert_non_null(strstr(err, "exists"));
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  setenv("TSS2_LOG", "all+NONE", 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blob),
      cmocka_unit_test(test_public_check),
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_load_refuses_bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
