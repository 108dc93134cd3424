/* libFuzzer harness: the vendor CRL intake (issue 21 item 3), bytes the
 * operator uploads. Whatever parses (DER or PEM, one CRL, bounded) must be
 * refused by pkg_crl_accept unless the one vendor anchor's key signed it,
 * which a fuzzer cannot do; pkg_crl_lists must answer for any name and
 * serial without reading past its input. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

static pkg_trust *trust;

/* One vendor anchor, made once: a self-signed P-256 CA "CN=Vendor CA,O=Vendor". */
static pkg_trust *make_trust(void) {
  pkg_trust *t = NULL;
  lisec_err err = {0};
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *ca = X509_new();
  if (!key || !ca || pkg_trust_new(&t, &err)) abort();
  X509_set_version(ca, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
  X509_gmtime_adj(X509_getm_notBefore(ca), -86400);
  X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
  X509_NAME *n = X509_get_subject_name(ca);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Vendor", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Vendor CA", -1, -1, 0);
  X509_set_issuer_name(ca, n);
  X509_set_pubkey(ca, key);
  X509_sign(ca, key, EVP_sha256());
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, ca);
  char *pem = NULL;
  long len = BIO_get_mem_data(b, &pem);
  if (pkg_trust_add_anchors_pem(t, PKG_ROLE_VENDOR, pem, (size_t)len, &err)) abort();
  BIO_free(b);
  X509_free(ca);
  EVP_PKEY_free(key);
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!trust) trust = make_trust();
  X509_CRL *crl = NULL;
  lisec_err err = {0};
  int rc = pkg_crl_parse(data, size, 64 * 1024, &crl, &err);
  if (rc) {
    if (crl || !err.msg[0]) abort(); /* a refusal says why and hands out nothing */
    return 0;
  }
  pkg_crl_info info;
  if (pkg_crl_accept(trust, crl, 1796400000, &info, &err) == 0) abort(); /* nobody here signed it */
  if (memchr(info.issuer, '\0', sizeof info.issuer) == NULL) abort();
  (void)pkg_crl_lists(crl, info.issuer, "1", NULL);
  (void)pkg_crl_lists(crl, "CN=Vendor CA,O=Vendor", "00", NULL);
  X509_CRL_free(crl);
  return 0;
}
