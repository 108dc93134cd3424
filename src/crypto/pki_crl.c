/* The development PKI's certificate revocation list (pki.h, pki_revoke):
 * DIR/crl.pem, an X.509 v2 CRL signed by DIR's CA with the OpenSSL API,
 * carrying every serial revoked so far, a CRL number one above the last
 * one, and a nextUpdate, which lisecd's [tls] crl requires. A revoked
 * host's certificate (a de-enrolled host, docs/attestation.md) is then
 * refused at the TLS handshake as well as by lisec's own list. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/pki.h"

#define CRL_MAX_BYTES (8u << 20)

static int ossl_err(lisec_err *err, const char *what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  return lisec_err_set(err, LISEC_ECRYPTO, "%s: %s", what, e ? ERR_reason_error_string(e) : "OpenSSL error");
}

/* The CRL kept in DIR, or NULL when there is none yet; one that is not the
 * CA's is refused rather than overwritten. */
static int old_crl(const char *path, X509 *ca, X509_CRL **out, lisec_err *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err e = {0};
  *out = NULL;
  int rc = lisec_file_read(path, CRL_MAX_BYTES, &buf, &len, &e);
  if (rc == LISEC_ENOTFOUND || (rc && access(path, F_OK) != 0)) return 0;
  if (rc) return lisec_err_set(err, rc, "%s", e.msg);
  BIO *b = BIO_new_mem_buf(buf, (int)len);
  X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  free(buf);
  if (!crl) return ossl_err(err, path);
  EVP_PKEY *pub = X509_get0_pubkey(ca);
  if (!pub || X509_CRL_verify(crl, pub) != 1) {
    X509_CRL_free(crl);
    ERR_clear_error();
    return lisec_err_set(err, LISEC_EINVAL, "%s is not signed by this CA; move it away first", path);
  }
  *out = crl;
  return 0;
}

static bool serial_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 40) return false; /* RFC 5280: at most 20 octets */
  return strspn(s, "0123456789abcdefABCDEF") == n;
}

int pki_revoke(const char *dir, const char *serial_hex, int days, lisec_err *err) {
  if (!serial_ok(serial_hex))
    return lisec_err_set(err, LISEC_EINVAL, "serial \"%.48s\" must be 1-40 hex digits (openssl x509 -serial)",
                         serial_hex);
  if (days < 1 || days > PKI_DAYS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "validity must be 1-%d days", PKI_DAYS_MAX);
  char path[4096];
  X509 *ca = NULL;
  EVP_PKEY *ca_key = NULL;
  X509_CRL *old = NULL, *crl = NULL;
  BIGNUM *bn = NULL, *num = NULL;
  ASN1_INTEGER *serial = NULL, *crlnum = NULL;
  ASN1_TIME *now = NULL, *next = NULL;
  snprintf(path, sizeof path, "%s/ca.crt", dir);
  int rc = crypto_x509_load_pem(path, &ca, err);
  snprintf(path, sizeof path, "%s/ca.key", dir);
  if (!rc) rc = crypto_pkey_load_pem(path, true, &ca_key, err);
  if (!rc && X509_check_private_key(ca, ca_key) != 1) {
    ERR_clear_error();
    rc = lisec_err_set(err, LISEC_EINVAL, "%s/ca.key is not the key of %s/ca.crt", dir, dir);
  }
  snprintf(path, sizeof path, "%s/crl.pem", dir);
  if (!rc) rc = old_crl(path, ca, &old, err);
  if (rc) goto done;
  if (!BN_hex2bn(&bn, serial_hex) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)) ||
      !(crl = X509_CRL_new()) || !X509_CRL_set_version(crl, 1) ||
      !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
      !(now = X509_gmtime_adj(NULL, 0)) || !(next = X509_gmtime_adj(NULL, (long)days * 86400)) ||
      !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next)) {
    rc = ossl_err(err, "CRL");
    goto done;
  }
  /* every serial revoked before, then this one (once) */
  bool present = false;
  STACK_OF(X509_REVOKED) *was = old ? X509_CRL_get_REVOKED(old) : NULL;
  for (int i = 0; i < sk_X509_REVOKED_num(was); i++) {
    X509_REVOKED *r = X509_REVOKED_dup(sk_X509_REVOKED_value(was, i));
    if (!r || !X509_CRL_add0_revoked(crl, r)) {
      X509_REVOKED_free(r);
      rc = ossl_err(err, "CRL entry");
      goto done;
    }
    if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(r), serial) == 0) present = true;
  }
  if (!present) {
    X509_REVOKED *r = X509_REVOKED_new();
    if (!r || !X509_REVOKED_set_serialNumber(r, serial) || !X509_REVOKED_set_revocationDate(r, now) ||
        !X509_CRL_add0_revoked(crl, r)) {
      X509_REVOKED_free(r);
      rc = ossl_err(err, "CRL entry");
      goto done;
    }
  }
  /* CRL number: one above the last CRL's */
  ASN1_INTEGER *last = old ? X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL) : NULL;
  num = last ? ASN1_INTEGER_to_BN(last, NULL) : BN_new();
  ASN1_INTEGER_free(last);
  if (!num || !BN_add_word(num, 1) || !(crlnum = BN_to_ASN1_INTEGER(num, NULL)) ||
      !X509_CRL_add1_ext_i2d(crl, NID_crl_number, crlnum, 0, 0) || !X509_CRL_sort(crl) ||
      X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0) {
    rc = ossl_err(err, "CRL signature");
    goto done;
  }
  BIO *b = BIO_new(BIO_s_mem());
  char *data = NULL;
  long n = 0;
  if (!b || !PEM_write_bio_X509_CRL(b, crl) || (n = BIO_get_mem_data(b, &data)) <= 0) rc = ossl_err(err, "PEM");
  else rc = lisec_file_write_atomic(path, data, (size_t)n, 0644, err);
  BIO_free(b);
done:
  ASN1_TIME_free(now), ASN1_TIME_free(next);
  ASN1_INTEGER_free(serial), ASN1_INTEGER_free(crlnum);
  BN_free(bn), BN_free(num);
  X509_CRL_free(old), X509_CRL_free(crl);
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  return rc;
}
