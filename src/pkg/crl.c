/* Vendor CRLs (issue 21 item 3): the operator loads the certificate
 * revocation list of a vendor CA so that packages whose signer that CA has
 * revoked stop counting as verified (TR 103 308 §4.1: code signing; a
 * revoked signer vouches for nothing). This file parses one CRL (DER or
 * PEM, bounded), accepts it only when a configured vendor trust anchor
 * signed it and it is current, and answers whether it lists a certificate
 * of a verified chain as pkg_cert_ref keeps it, and so judges a stored
 * package's description: every signer whose chain it keeps, the package's
 * own and each per-artifact signer alike. Pure: bytes and the trust store
 * in, verdicts out; the controller keeps the accepted CRL. */
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "pkg/internal.h"

#define CRL_PEM_LABEL "-----BEGIN X509 CRL-----"
#define CRL_CLOCK_SKEW_S 300

static bool is_pem(const uint8_t *d, size_t len) {
  /* leading white space allowed: a file edited by hand */
  size_t i = 0;
  while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
  return len - i >= strlen(CRL_PEM_LABEL) && memcmp(d + i, CRL_PEM_LABEL, strlen(CRL_PEM_LABEL)) == 0;
}

int pkg_crl_parse(const void *data, size_t len, size_t max, X509_CRL **out, lisec_err *err) {
  *out = NULL;
  if (len > max)
    return lisec_err_set(err, LISEC_ETOOBIG,
                         "TR103308-4.1-CRL: the CRL is %zu bytes, over the limit of %zu", len, max);
  if (!data || len == 0 || len > INT32_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1-CRL: the CRL is empty");
  X509_CRL *crl = NULL;
  const uint8_t *p = data;
  if (is_pem(data, len)) {
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (!bio) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    /* one CRL per load: a second one would be taken on nobody's word */
    X509_CRL *more = crl ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (more) {
      X509_CRL_free(more);
      X509_CRL_free(crl);
      ERR_clear_error();
      return lisec_err_set(err, LISEC_EINVAL,
                           "TR103308-4.1-CRL: more than one CRL given; load one CRL at a time");
    }
  } else {
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl && p != (const uint8_t *)data + len) {
      X509_CRL_free(crl);
      ERR_clear_error();
      return lisec_err_set(err, LISEC_EINVAL,
                           "TR103308-4.1-CRL: %zu bytes follow the DER CRL",
                           len - (size_t)(p - (const uint8_t *)data));
    }
  }
  ERR_clear_error();
  if (!crl)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1-CRL: not a CRL (DER, or PEM \"X509 CRL\")");
  *out = crl;
  return 0;
}

static int64_t asn1_epoch(const ASN1_TIME *t) {
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return (int64_t)timegm(&tm);
}

static void anchor_hash(X509 *anchor, char out[65]) {
  uint8_t *der = NULL, h[CRYPTO_SHA256_LEN];
  int len = i2d_X509(anchor, &der);
  crypto_sha256(der, len > 0 ? (size_t)len : 0, h);
  OPENSSL_free(der);
  lisec_hex_encode(h, sizeof h, out);
}

int pkg_crl_accept(const pkg_trust *t, const X509_CRL *ccrl, int64_t now, pkg_crl_info *info,
                   lisec_err *err) {
  X509_CRL *crl = (X509_CRL *)ccrl; /* OpenSSL's getters are not all const */
  memset(info, 0, sizeof *info);
  char *issuer = pkg_name_string(X509_CRL_get_issuer(crl));
  if (!issuer) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  snprintf(info->issuer, sizeof info->issuer, "%s", issuer);
  free(issuer);
  STACK_OF(X509) *anchors = t ? t->anchors[PKG_ROLE_VENDOR] : NULL;
  X509 *signer = NULL;
  bool named = false;
  for (int i = 0; i < sk_X509_num(anchors) && !signer; i++) {
    X509 *a = sk_X509_value(anchors, i);
    if (X509_NAME_cmp(X509_get_subject_name(a), X509_CRL_get_issuer(crl)) != 0) continue;
    named = true;
    EVP_PKEY *key = X509_get0_pubkey(a);
    if (key && X509_CRL_verify(crl, key) == 1) signer = a;
  }
  ERR_clear_error();
  if (!signer)
    return lisec_err_set(err, LISEC_EDENIED,
                         named ? "TR103308-4.1-CRL: the CRL names vendor CA '%.200s' as its issuer "
                                 "but its signature does not verify with that CA's key"
                               : "TR103308-4.1-CRL: the CRL's issuer '%.200s' is not a vendor CA "
                                 "lisec trusts ([pkg] vendor_ca)",
                         info->issuer);
  anchor_hash(signer, info->anchor_sha256);
  info->last_update = asn1_epoch(X509_CRL_get0_lastUpdate(crl));
  info->next_update = asn1_epoch(X509_CRL_get0_nextUpdate(crl));
  STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
  info->n_revoked = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
  ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
  if (num) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(num, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex) snprintf(info->number, sizeof info->number, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    ASN1_INTEGER_free(num);
  }
  ERR_clear_error();
  if (!info->last_update)
    return lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1-CRL: the CRL's thisUpdate does not parse");
  if (info->last_update > now + CRL_CLOCK_SKEW_S)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1-CRL: the CRL was issued in the future (thisUpdate %lld, "
                         "now %lld)",
                         (long long)info->last_update, (long long)now);
  if (!info->next_update)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1-CRL: the CRL has no nextUpdate, so nobody can tell it is "
                         "current");
  if (info->next_update <= now)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1-CRL: the CRL expired (nextUpdate %lld, now %lld); load a "
                         "current one",
                         (long long)info->next_update, (long long)now);
  return 0;
}

bool pkg_crl_lists(const X509_CRL *ccrl, const char *issuer, const char *serial, int64_t *when) {
  X509_CRL *crl = (X509_CRL *)ccrl;
  if (!crl || !issuer || !serial) return false;
  char *name = pkg_name_string(X509_CRL_get_issuer(crl));
  bool same = name && strcmp(name, issuer) == 0;
  free(name);
  if (!same) return false;
  STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(rev); i++) {
    const X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
    char hex[PKG_SERIAL_HEX_MAX + 1];
    if (pkg_serial_hex(X509_REVOKED_get0_serialNumber(r), hex) || strcmp(hex, serial) != 0)
      continue;
    if (when) *when = asn1_epoch(X509_REVOKED_get0_revocationDate(r));
    return true;
  }
  return false;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : dflt;
}

bool pkg_crl_desc_revoked(const json_t *desc, STACK_OF(X509_CRL) *crls, const char *key, char *why,
                          size_t n) {
  const json_t *sg;
  size_t i, k;
  json_array_foreach(json_object_get(desc, "signers"), i, sg) {
    const json_t *link;
    json_array_foreach(json_object_get(sg, "chain"), k, link) {
      const char *issuer = json_string_value(json_object_get(link, "issuer"));
      const char *serial = json_string_value(json_object_get(link, "serial"));
      for (int c = 0; c < sk_X509_CRL_num(crls); c++) {
        int64_t when = 0;
        if (!pkg_crl_lists(sk_X509_CRL_value(crls, c), issuer, serial, &when)) continue;
        char at[32], of[120] = "";
        lisec_time_format(when, at);
        /* a per-artifact signer is named with what it signed */
        if (json_is_string(json_object_get(sg, "artifact")))
          snprintf(of, sizeof of, " of artifact '%.80s'", str_or(sg, "artifact", "?"));
        snprintf(why, n,
                 PKG_REQ_REVOKED ": package %.64s: the %.16s signer '%.80s'%s %s(serial %.40s, "
                 "issuer '%.80s') was revoked at %s by its CA's CRL; what it signed is not "
                 "trusted",
                 key, str_or(sg, "role", "?"), str_or(sg, "subject", "?"), of,
                 k ? "has a certificate in its chain that " : "", serial, issuer, at);
        return true;
      }
    }
  }
  return false;
}

size_t pkg_crl_desc_unkept(const json_t *desc, const char **first) {
  const json_t *signers = json_object_get(desc, "signers"), *a;
  size_t i, count = 0;
  if (first) *first = NULL;
  json_array_foreach(json_object_get(desc, "artifacts"), i, a) {
    if (!json_is_true(json_object_get(a, "signed"))) continue;
    /* kept: "signer" names a signer of the description that has a chain */
    const json_t *idx = json_object_get(a, "signer");
    const json_t *sg = json_is_integer(idx) && json_integer_value(idx) >= 0
                           ? json_array_get(signers, (size_t)json_integer_value(idx))
                           : NULL;
    if (json_array_size(json_object_get(sg, "chain")) > 0) continue;
    if (count++ == 0 && first) *first = json_string_value(json_object_get(a, "path"));
  }
  return count;
}
