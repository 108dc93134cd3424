/* A test PKI made with OpenSSL's own API (not with pkg/): CAs for the
 * vendor, the operator and the LI administration, signing certificates
 * with chosen validity and extended key usage, CRLs, and detached CMS
 * signatures made by CMS_sign directly, so the verifier under test is fed
 * by an independent producer. Header-only, shared by the pkg unit tests. */
#ifndef TEST_PKG_PKI_H
#define TEST_PKG_PKI_H

#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

typedef struct tp_id {
  EVP_PKEY *key;
  X509 *cert;
} tp_id;

static inline EVP_PKEY *tp_keygen(void) { return EVP_EC_gen("P-256"); }

static inline void tp_ext(X509 *issuer, X509 *subject, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (ext) {
    X509_add_ext(subject, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

/* A certificate for key, signed by issuer (NULL: self-signed), valid from
 * now+nb to now+na seconds. eku: NULL for none, else e.g. "codeSigning". */
static inline X509 *tp_cert(const char *o, const char *cn, EVP_PKEY *key, const tp_id *issuer, bool ca,
                     long nb, long na, const char *eku) {
  static long serial = 1000;
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), nb);
  X509_gmtime_adj(X509_getm_notAfter(c), na);
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_subject_name(c, n);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert) : n);
  X509_NAME_free(n);
  X509_set_pubkey(c, key);
  X509 *icert = issuer ? issuer->cert : c;
  if (ca) {
    tp_ext(icert, c, NID_basic_constraints, "critical,CA:TRUE");
    tp_ext(icert, c, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    tp_ext(icert, c, NID_basic_constraints, "CA:FALSE");
    tp_ext(icert, c, NID_key_usage, "critical,digitalSignature");
    if (eku) tp_ext(icert, c, NID_ext_key_usage, eku);
  }
  tp_ext(icert, c, NID_subject_key_identifier, "hash");
  if (issuer) tp_ext(icert, c, NID_authority_key_identifier, "keyid:always");
  X509_sign(c, issuer ? issuer->key : key, EVP_sha256());
  return c;
}

static inline tp_id tp_make_ca(const char *o) {
  tp_id id = {tp_keygen(), NULL};
  char cn[64];
  snprintf(cn, sizeof cn, "%s CA", o);
  id.cert = tp_cert(o, cn, id.key, NULL, true, -30L * 86400, 30L * 86400, NULL);
  return id;
}

static inline tp_id tp_make_leaf(const tp_id *ca, const char *o, const char *cn, long nb, long na,
                          const char *eku) {
  tp_id id = {tp_keygen(), NULL};
  id.cert = tp_cert(o, cn, id.key, ca, false, nb, na, eku);
  return id;
}

static inline void tp_free(tp_id *id) {
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  id->key = NULL;
  id->cert = NULL;
}

/* PEM of a certificate (malloc'd, NUL-terminated). */
static inline char *tp_cert_pem(X509 *c, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  char *out = malloc((size_t)n + 1);
  memcpy(out, p, (size_t)n);
  out[n] = '\0';
  BIO_free(b);
  if (len) *len = (size_t)n;
  return out;
}

/* A CRL of ca, valid now, revoking `revoked` (may be NULL). */
static inline char *tp_crl_pem(const tp_id *ca, X509 *revoked, size_t *len) {
  X509_CRL *crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert));
  ASN1_TIME *t = ASN1_TIME_new();
  X509_gmtime_adj(t, -60);
  X509_CRL_set1_lastUpdate(crl, t);
  X509_gmtime_adj(t, 86400);
  X509_CRL_set1_nextUpdate(crl, t);
  if (revoked) {
    X509_REVOKED *r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked));
    X509_gmtime_adj(t, -30);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl, r);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(crl);
  X509_CRL_sign(crl, ca->key, EVP_sha256());
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(b, crl);
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  char *out = malloc((size_t)n + 1);
  memcpy(out, p, (size_t)n);
  out[n] = '\0';
  BIO_free(b);
  X509_CRL_free(crl);
  *len = (size_t)n;
  return out;
}

/* cms as PEM, in a string of *out_len bytes (NUL-terminated); frees cms. */
static inline char *tp_cms_pem(CMS_ContentInfo *cms, size_t *out_len) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_CMS(b, cms);
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  char *out = malloc((size_t)n + 1);
  memcpy(out, p, (size_t)n);
  out[n] = '\0';
  BIO_free(b);
  CMS_ContentInfo_free(cms);
  if (out_len) *out_len = (size_t)n;
  return out;
}

/* A detached PEM CMS over data by id, made with OpenSSL's CMS_sign. */
static inline char *tp_cms_sign(const tp_id *id, const void *data, size_t len, size_t *out_len) {
  BIO *in = BIO_new_mem_buf(data, (int)len);
  CMS_ContentInfo *cms = CMS_sign(id->cert, id->key, NULL, in, CMS_BINARY | CMS_DETACHED);
  BIO_free(in);
  return tp_cms_pem(cms, out_len);
}

#endif
