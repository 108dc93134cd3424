/* The subject CN of a verified client certificate, as lisecd's front
 * (api/roles.c: the principal's name) and lisec-entropyd (the VNF
 * identity) both read it. The CN names who holds the certificate, so it
 * must be one whole name: a certificate with more than one CN (which would
 * be the holder?), a CN with an embedded NUL (a C string ends there: a
 * registered name followed by a NUL and more would read as that name), or
 * one longer than the caller's buffer (cut to fit, a longer name would read
 * as its prefix) is refused. X509_NAME_get_text_by_NID, used before, took
 * the first CN, copied the raw bytes and cut both ways silently. The CN is
 * read as UTF-8 whatever its ASN.1 string type. */
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <string.h>

#include "crypto/cert_role.h"

int crypto_cert_cn(X509 *cert, char *out, size_t cap, lisec_err *err) {
  if (cap) out[0] = '\0';
  X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
  int at = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  if (at < 0) return lisec_err_set(err, LISEC_ENOTFOUND, "the certificate's subject has no CN");
  if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0)
    return lisec_err_set(err, LISEC_EAUTH, "the certificate's subject has more than one CN");
  const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char *utf8 = NULL;
  int n = v ? ASN1_STRING_to_UTF8(&utf8, v) : -1;
  int rc = 0;
  if (n < 0)
    rc = lisec_err_set(err, LISEC_EAUTH, "the certificate's subject CN is not a readable string");
  else if (n == 0)
    rc = lisec_err_set(err, LISEC_EAUTH, "the certificate's subject CN is empty");
  else if (memchr(utf8, 0, (size_t)n))
    rc = lisec_err_set(err, LISEC_EAUTH, "the certificate's subject CN holds a NUL byte");
  else if ((size_t)n >= cap)
    rc = lisec_err_set(err, LISEC_EAUTH, "the certificate's subject CN is longer than %zu bytes",
                       cap ? cap - 1 : 0);
  else {
    memcpy(out, utf8, (size_t)n);
    out[n] = '\0';
  }
  OPENSSL_free(utf8);
  return rc;
}
