/* A throw-away certificate authority for the attest harnesses (attest_location,
 * attest_enrol): an ECDSA P-256 key made when the harness starts and a
 * self-signed CA certificate over it, valid 2020-2040 so the harnesses' fixed
 * appraisal time lies inside it, that may sign certificates and, as asset
 * management does for a location, content. Nothing of it is kept in the
 * source or on disk. Any failure aborts: a harness without its CA would
 * fuzz nothing. */
#ifndef LISEC_FUZZ_TEST_CA_H
#define LISEC_FUZZ_TEST_CA_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_ca {
  EVP_PKEY *key;
  X509 *cert;
  char *pem;          /* the certificate, PEM, NUL-terminated */
  unsigned char *der; /* the certificate, DER */
  int der_len;
} test_ca;

/* Adds one X.509v3 extension given in openssl's configuration syntax. */
static void test_ca_ext(X509 *cert, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext || X509_add_ext(cert, ext, -1) != 1) abort();
  X509_EXTENSION_free(ext);
}

static void test_ca_make(test_ca *ca, const char *common_name) {
  memset(ca, 0, sizeof *ca);
  ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *c = X509_new();
  X509_NAME *name = X509_NAME_new();
  if (!ca->key || !c || !name) abort();
  /* 2020-01-01T00:00:00Z .. 2040-01-01T00:00:00Z */
  const unsigned char *org = (const unsigned char *)"lisec fuzz";
  const unsigned char *cn = (const unsigned char *)common_name;
  if (X509_set_version(c, X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(c), 1) != 1 ||
      !ASN1_TIME_set(X509_getm_notBefore(c), 1577836800) ||
      !ASN1_TIME_set(X509_getm_notAfter(c), 2208988800) ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
      X509_set_subject_name(c, name) != 1 || X509_set_issuer_name(c, name) != 1 ||
      X509_set_pubkey(c, ca->key) != 1)
    abort();
  X509_NAME_free(name);
  test_ca_ext(c, NID_basic_constraints, "critical,CA:TRUE");
  test_ca_ext(c, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  test_ca_ext(c, NID_subject_key_identifier, "hash");
  if (X509_sign(c, ca->key, EVP_sha256()) <= 0) abort();
  ca->cert = c;
  ca->der_len = i2d_X509(c, &ca->der);
  BIO *b = BIO_new(BIO_s_mem());
  char *p = NULL;
  long n = 0;
  if (ca->der_len <= 0 || !b || PEM_write_bio_X509(b, c) != 1 || (n = BIO_get_mem_data(b, &p)) <= 0)
    abort();
  ca->pem = calloc(1, (size_t)n + 1);
  if (!ca->pem) abort();
  memcpy(ca->pem, p, (size_t)n);
  BIO_free(b);
}

#endif
