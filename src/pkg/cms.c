/* CMS signatures of a package over bytes: the vendor's signature of the
 * manifest, the operator's and LI administration's countersignatures, and
 * per-artifact signatures, each verified with OpenSSL's CMS API and its
 * signer's chain checked separately against the trust anchors of the role
 * it claims, at a chosen time, with CRLs when loaded. The chain is checked
 * here rather than inside CMS_verify so that the purpose rules are ours
 * (code signing, not S/MIME) and the reason names the role and the
 * certificate. Also the signing that `lisec pkg sign` uses. */
/* pem.h first: cms.h declares its PEM functions only when it is seen. */
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "pkg/internal.h"

#define CERTS_MAX 16
#define NAME_MAX_LEN 512

const char *pkg_role_name(pkg_role r) {
  switch (r) {
    case PKG_ROLE_VENDOR: return "vendor";
    case PKG_ROLE_OPERATOR: return "operator";
    case PKG_ROLE_LI_ADMIN: return "li-admin";
    default: return "?";
  }
}

/* ---- trust anchors and CRLs --------------------------------------------- */

int pkg_trust_new(pkg_trust **out, lisec_err *err) {
  pkg_trust *t = calloc(1, sizeof *t);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (int i = 0; i < PKG_ROLE_COUNT; i++) t->anchors[i] = sk_X509_new_null();
  t->crls = sk_X509_CRL_new_null();
  for (int i = 0; i < PKG_ROLE_COUNT; i++)
    if (!t->anchors[i]) t->crls = (sk_X509_CRL_free(t->crls), NULL);
  if (!t->crls) {
    pkg_trust_free(t);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *out = t;
  return 0;
}

void pkg_trust_free(pkg_trust *t) {
  if (!t) return;
  for (int i = 0; i < PKG_ROLE_COUNT; i++) sk_X509_pop_free(t->anchors[i], X509_free);
  sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
  free(t);
}

int pkg_certs_from_pem(const void *pem, size_t len, STACK_OF(X509) **out, lisec_err *err) {
  if (len > PKG_SIG_FILE_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "certificate file larger than %d bytes",
                         PKG_SIG_FILE_MAX);
  STACK_OF(X509) *sk = sk_X509_new_null();
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  int rc = 0;
  if (!sk || !bio) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  X509 *c;
  while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
    if (sk_X509_num(sk) >= CERTS_MAX || !sk_X509_push(sk, c)) {
      X509_free(c);
      rc = lisec_err_set(err, LISEC_ETOOBIG, "more than %d certificates in one file", CERTS_MAX);
      goto out;
    }
  }
  if (sk_X509_num(sk) == 0) rc = lisec_err_set(err, LISEC_EINVAL, "no PEM certificate found");
out:
  ERR_clear_error();
  BIO_free(bio);
  if (rc)
    sk_X509_pop_free(sk, X509_free);
  else
    *out = sk;
  return rc;
}

int pkg_trust_add_anchors_pem(pkg_trust *t, pkg_role role, const void *pem, size_t len,
                              lisec_err *err) {
  if ((unsigned)role >= PKG_ROLE_COUNT) return lisec_err_set(err, LISEC_EINVAL, "unknown role");
  STACK_OF(X509) *sk = NULL;
  int rc = pkg_certs_from_pem(pem, len, &sk, err);
  if (rc) return rc;
  while (sk_X509_num(sk) > 0) {
    X509 *c = sk_X509_shift(sk);
    /* what OpenSSL caches of a certificate (its extensions, its hash)
     * filled now, before verifications on several threads read it */
    (void)X509_check_purpose(c, -1, 0);
    if (!sk_X509_push(t->anchors[role], c)) {
      X509_free(c);
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      break;
    }
  }
  sk_X509_pop_free(sk, X509_free);
  return rc;
}

int pkg_trust_add_crls_pem(pkg_trust *t, const void *pem, size_t len, lisec_err *err) {
  if (len > 16 * 1024 * 1024) return lisec_err_set(err, LISEC_ETOOBIG, "CRL file larger than 16 MiB");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  X509_CRL *crl;
  int n = 0, rc = 0;
  while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
    /* OpenSSL takes a CRL without nextUpdate for current forever: a list
     * of years ago would pass for today's (pkg_crl_accept refuses it too) */
    if (!X509_CRL_get0_nextUpdate(crl)) {
      char *issuer = pkg_name_string(X509_CRL_get_issuer(crl));
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: the CRL of '%.200s' has no nextUpdate, so nobody can tell "
                         "it is current",
                         issuer ? issuer : "?");
      free(issuer);
      X509_CRL_free(crl);
      break;
    }
    if (!sk_X509_CRL_push(t->crls, crl)) {
      X509_CRL_free(crl);
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      break;
    }
    n++;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (!rc && n == 0) rc = lisec_err_set(err, LISEC_EINVAL, "no PEM CRL found");
  return rc;
}

/* ---- describing a signer ------------------------------------------------ */

char *pkg_name_string(const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  if (!b) return NULL;
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
  char buf[NAME_MAX_LEN];
  int n = BIO_read(b, buf, sizeof buf - 1);
  BIO_free(b);
  buf[n > 0 ? n : 0] = '\0';
  return strdup(buf);
}

static int64_t asn1_epoch(const ASN1_TIME *t) {
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return (int64_t)timegm(&tm);
}

static void der_sha256_hex(const uint8_t *der, int len, char out[65]) {
  uint8_t h[CRYPTO_SHA256_LEN];
  crypto_sha256(der, len > 0 ? (size_t)len : 0, h);
  lisec_hex_encode(h, sizeof h, out);
}

int pkg_serial_hex(const ASN1_INTEGER *serial, char out[PKG_SERIAL_HEX_MAX + 1]) {
  out[0] = '\0';
  BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  BN_free(bn);
  if (!hex) return -1;
  /* BN_bn2hex pads to whole bytes and upper-cases: keep one form only. */
  const char *p = hex;
  bool neg = *p == '-';
  if (neg) p++;
  while (p[0] == '0' && p[1]) p++;
  size_t n = strlen(p);
  int rc = neg || n > PKG_SERIAL_HEX_MAX ? -1 : 0;
  for (size_t i = 0; !rc && i <= n; i++) out[i] = (char)tolower((unsigned char)p[i]);
  if (rc) out[0] = '\0';
  OPENSSL_free(hex);
  return rc;
}

static void chain_clear(pkg_signer *s) {
  for (size_t i = 0; i < s->n_chain; i++) free(s->chain[i].issuer);
  memset(s->chain, 0, sizeof s->chain);
  s->n_chain = 0;
}

/* The verified chain below its anchor, for later revocation checks. */
static int chain_keep(pkg_signer *s, STACK_OF(X509) *chain, lisec_err *err) {
  chain_clear(s);
  int n = sk_X509_num(chain) - 1; /* the last is the anchor */
  for (int i = 0; i < n && i < PKG_CHAIN_MAX; i++) {
    X509 *c = sk_X509_value(chain, i);
    pkg_cert_ref *r = &s->chain[s->n_chain];
    if (pkg_serial_hex(X509_get0_serialNumber(c), r->serial))
      return lisec_err_set(err, LISEC_EDENIED,
                           "TR103308-4.1: a certificate of the signer's chain has a negative serial "
                           "or one over %d hex digits",
                           PKG_SERIAL_HEX_MAX);
    if (!(r->issuer = pkg_name_string(X509_get_issuer_name(c))))
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    s->n_chain++;
  }
  if (n > PKG_CHAIN_MAX)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: the signer's chain is longer than %d certificates below "
                         "its anchor",
                         PKG_CHAIN_MAX);
  return 0;
}

void pkg_signer_clear(pkg_signer *s) {
  if (!s) return;
  chain_clear(s);
  free(s->file);
  free(s->subject);
  free(s->issuer);
  free(s->anchor_subject);
  free(s->artifact);
  memset(s, 0, sizeof *s);
}

int pkg_signer_describe(X509 *cert, pkg_signer *s, lisec_err *err) {
  s->subject = pkg_name_string(X509_get_subject_name(cert));
  s->issuer = pkg_name_string(X509_get_issuer_name(cert));
  uint8_t *der = NULL;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (!s->subject || !s->issuer || len <= 0) {
    OPENSSL_free(der);
    return lisec_err_set(err, LISEC_ENOMEM, "cannot describe a certificate");
  }
  der_sha256_hex(der, len, s->key_sha256);
  OPENSSL_free(der);
  s->not_before = asn1_epoch(X509_get0_notBefore(cert));
  s->not_after = asn1_epoch(X509_get0_notAfter(cert));
  return 0;
}

/* ---- chains ------------------------------------------------------------- */

/* Signing certificates of a package sign code: a key usage, when present,
 * must allow digital signatures, and an extended key usage, when present,
 * must allow code signing. */
static int check_usage(X509 *cert, pkg_role role, lisec_err *err) {
  uint32_t ku = X509_get_key_usage(cert);
  if (ku != UINT32_MAX && !(ku & KU_DIGITAL_SIGNATURE))
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: %s certificate may not make digital signatures",
                         pkg_role_name(role));
  uint32_t xku = X509_get_extended_key_usage(cert);
  if (xku != UINT32_MAX && !(xku & (XKU_CODE_SIGN | XKU_ANYEKU)))
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: %s certificate is not for code signing (extended key usage)",
                         pkg_role_name(role));
  return 0;
}

static int chain_verify(const pkg_trust *t, pkg_role role, X509 *cert, STACK_OF(X509) *untrusted,
                        int64_t at, pkg_signer *s, lisec_err *err) {
  /* ENOTFOUND here only tells chain_verify_roles that another role's
   * reason is the better one to show. */
  if (sk_X509_num(t->anchors[role]) == 0)
    return lisec_err_set(err, LISEC_ENOTFOUND, "TR103308-4.1: no %s trust anchor is configured",
                         pkg_role_name(role));
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int rc = 0;
  if (!store || !ctx) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < sk_X509_num(t->anchors[role]); i++)
    X509_STORE_add_cert(store, sk_X509_value(t->anchors[role], i));
  for (int i = 0; i < sk_X509_CRL_num(t->crls); i++)
    X509_STORE_add_crl(store, sk_X509_CRL_value(t->crls, i));
  if (sk_X509_CRL_num(t->crls) > 0)
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  if (X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "cannot start certificate verification");
    goto out;
  }
  X509_STORE_CTX_set_time(ctx, 0, (time_t)(at ? at : lisec_time_now()));
  if (X509_verify_cert(ctx) != 1) {
    int e = X509_STORE_CTX_get_error(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    char *who = bad ? pkg_name_string(X509_get_subject_name(bad)) : NULL;
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: %s signer '%.160s' not trusted: %s (at '%.160s')",
                       pkg_role_name(role), s->subject ? s->subject : "?",
                       X509_verify_cert_error_string(e), who ? who : "?");
    free(who);
    goto out;
  }
  if ((rc = check_usage(cert, role, err))) goto out;
  STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
  if ((rc = chain_keep(s, chain, err))) goto out;
  X509 *anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
  free(s->anchor_subject);
  s->anchor_subject = pkg_name_string(X509_get_subject_name(anchor));
  uint8_t *der = NULL;
  int len = i2d_X509(anchor, &der);
  der_sha256_hex(der, len, s->anchor_sha256);
  OPENSSL_free(der);
  if (!s->anchor_subject || len <= 0) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return rc;
}

/* Tries each role; exactly one must accept the chain, so that anchors
 * configured for two roles cannot let one party count as two. */
static int chain_verify_roles(const pkg_trust *t, const pkg_role *roles, size_t n_roles, X509 *cert,
                              STACK_OF(X509) *untrusted, int64_t at, pkg_signer *s,
                              pkg_role *role_out, lisec_err *err) {
  lisec_err first = {0};
  int first_rc = 0, found = -1;
  for (size_t i = 0; i < n_roles; i++) {
    lisec_err e = {0};
    int rc = chain_verify(t, roles[i], cert, untrusted, at, s, &e);
    if (rc == 0) {
      if (found >= 0)
        return lisec_err_set(err, LISEC_EDENIED,
                             "TR103308-4.1: signer '%.160s' chains to the anchors of both %s and %s; "
                             "each role needs its own CA",
                             s->subject, pkg_role_name((pkg_role)found), pkg_role_name(roles[i]));
      found = (int)roles[i];
    } else if (!first_rc || (first_rc == LISEC_ENOTFOUND && rc != LISEC_ENOTFOUND)) {
      first = e;
      first_rc = rc;
    }
  }
  if (found < 0) {
    if (err) {
      *err = first;
      err->code = LISEC_EDENIED;
    }
    return first_rc == LISEC_ENOTFOUND || !first_rc ? LISEC_EDENIED : first_rc;
  }
  *role_out = (pkg_role)found;
  return 0;
}

/* ---- reading a CMS ------------------------------------------------------ */

static int cms_from_pem(const char *pem, size_t len, const char *file, CMS_ContentInfo **out,
                        lisec_err *err) {
  if (len > PKG_SIG_FILE_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "SOL004: signature '%.128s' larger than %d bytes",
                         file, PKG_SIG_FILE_MAX);
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  CMS_ContentInfo *cms = bio ? PEM_read_bio_CMS(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  ERR_clear_error();
  if (!cms)
    return lisec_err_set(err, LISEC_EINVAL, "SOL004: '%.128s' is not a PEM CMS signature", file);
  int rc = 0;
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: '%.128s' is not CMS SignedData", file);
  else if (CMS_is_detached(cms) != 1)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "SOL004: '%.128s' carries its content; a detached signature is required", file);
  else if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "SOL004: '%.128s' must have exactly one signer (countersignatures are "
                       "separate files)",
                       file);
  if (rc)
    CMS_ContentInfo_free(cms);
  else
    *out = cms;
  return rc;
}

/* The certificates a chain may be built from: those in the CMS and those
 * shipped beside it. */
static STACK_OF(X509) *untrusted_pool(CMS_ContentInfo *cms, STACK_OF(X509) *extra) {
  STACK_OF(X509) *pool = CMS_get1_certs(cms);
  if (!pool) pool = sk_X509_new_null();
  if (!pool) return NULL;
  for (int i = 0; extra && i < sk_X509_num(extra); i++) {
    X509 *c = sk_X509_value(extra, i);
    if (!sk_X509_push(pool, c)) break;
    X509_up_ref(c);
  }
  return pool;
}

int pkg_cms_verify_detached(const pkg_trust *trust, const pkg_role *roles, size_t n_roles,
                            const char *pem, size_t pem_len, STACK_OF(X509) *extra,
                            const void *data, size_t len, int64_t at, const char *file,
                            pkg_signer *signer, pkg_role *role_out, lisec_err *err) {
  CMS_ContentInfo *cms = NULL;
  int rc = cms_from_pem(pem, pem_len, file, &cms, err);
  if (rc) return rc;
  BIO *content = len <= INT32_MAX ? BIO_new_mem_buf(data, (int)len) : NULL;
  STACK_OF(X509) *pool = NULL, *signers = NULL;
  if (!content) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if (CMS_verify(cms, extra, NULL, content, NULL,
                 CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
    unsigned long e = ERR_peek_last_error();
    rc = lisec_err_set(err, LISEC_ECRYPTO, "TR103308-4.1: signature '%.128s' does not verify: %s",
                       file, e ? ERR_reason_error_string(e) : "bad signature");
    goto out;
  }
  /* The digest under the signature is as strong as the manifest's own
   * (SHA-2): with SHA-1, a chosen-prefix collision would carry an
   * operator's countersignature over to another manifest. */
  X509_ALGOR *dig = NULL;
  CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), NULL, NULL, &dig,
                           NULL);
  int nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
  if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: signature '%.128s' uses the digest %s; SHA-256, SHA-384 or "
                       "SHA-512 is required",
                       file, nid != NID_undef ? OBJ_nid2sn(nid) : "?");
    goto out;
  }
  signers = CMS_get0_signers(cms);
  X509 *cert = signers && sk_X509_num(signers) == 1 ? sk_X509_value(signers, 0) : NULL;
  if (!cert) {
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: no signer certificate for '%.128s'", file);
    goto out;
  }
  if ((rc = pkg_signer_describe(cert, signer, err))) goto out;
  signer->file = strdup(file);
  pool = untrusted_pool(cms, extra);
  if (!signer->file || !pool) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  rc = chain_verify_roles(trust, roles, n_roles, cert, pool, at, signer, role_out, err);
  if (!rc) signer->role = *role_out;
out:
  sk_X509_free(signers);
  sk_X509_pop_free(pool, X509_free);
  BIO_free(content);
  CMS_ContentInfo_free(cms);
  ERR_clear_error();
  return rc;
}

/* ---- per-artifact signatures -------------------------------------------- */

struct pkg_artifact_sig {
  CMS_ContentInfo *cms;
  CMS_SignerInfo *si;
  const EVP_MD *md;
  char *file;
};

void pkg_artifact_sig_free(pkg_artifact_sig *s) {
  if (!s) return;
  CMS_ContentInfo_free(s->cms);
  free(s->file);
  free(s);
}

const EVP_MD *pkg_artifact_sig_md(const pkg_artifact_sig *s) { return s->md; }

int pkg_artifact_sig_open(const pkg_trust *trust, const char *pem, size_t pem_len,
                          STACK_OF(X509) *extra, int64_t at, const char *file,
                          pkg_signer *signer, pkg_artifact_sig **out, lisec_err *err) {
  pkg_artifact_sig *s = calloc(1, sizeof *s);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = cms_from_pem(pem, pem_len, file, &s->cms, err);
  STACK_OF(X509) *pool = NULL;
  if (rc) goto out;
  s->file = strdup(file);
  s->si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(s->cms), 0);
  /* Without signed attributes the signature covers the content itself and
   * could only be checked by reading a gigabyte image a second time. */
  if (CMS_signed_get_attr_count(s->si) <= 0) {
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "SOL004: artifact signature '%.128s' has no signed attributes", file);
    goto out;
  }
  CMS_set1_signers_certs(s->cms, extra, 0);
  X509 *cert = NULL;
  X509_ALGOR *dig = NULL;
  CMS_SignerInfo_get0_algs(s->si, NULL, &cert, &dig, NULL);
  if (!cert) {
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: no signer certificate for '%.128s'", file);
    goto out;
  }
  int nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
  s->md = nid == NID_sha256 ? EVP_sha256() : nid == NID_sha384 ? EVP_sha384()
          : nid == NID_sha512 ? EVP_sha512() : NULL;
  if (!s->md) {
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "SOL004: artifact signature '%.128s' uses a digest other than SHA-2", file);
    goto out;
  }
  if (CMS_SignerInfo_verify(s->si) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "TR103308-4.1: artifact signature '%.128s' does not verify",
                       file);
    goto out;
  }
  if ((rc = pkg_signer_describe(cert, signer, err))) goto out;
  signer->file = strdup(file);
  pool = untrusted_pool(s->cms, extra);
  if (!signer->file || !pool || !s->file) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  static const pkg_role vendor = PKG_ROLE_VENDOR;
  pkg_role role;
  rc = chain_verify_roles(trust, &vendor, 1, cert, pool, at, signer, &role, err);
  signer->role = PKG_ROLE_VENDOR;
out:
  sk_X509_pop_free(pool, X509_free);
  ERR_clear_error();
  if (rc)
    pkg_artifact_sig_free(s);
  else
    *out = s;
  return rc;
}

int pkg_artifact_sig_finish(pkg_artifact_sig *s, const uint8_t *digest, size_t len,
                            lisec_err *err) {
  ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
      s->si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
  if (!md || (size_t)ASN1_STRING_length(md) != len ||
      !crypto_ct_equal(ASN1_STRING_get0_data(md), digest, len))
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "TR103308-4.1: artifact signature '%.128s' is not over this content",
                         s->file);
  return 0;
}

/* ---- signing ------------------------------------------------------------ */

int pkg_cms_sign(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const void *data,
                 size_t len, char **pem, size_t *pem_len, lisec_err *err) {
  if (len > INT32_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "content too large to sign");
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return lisec_err_set(err, LISEC_EINVAL, "the key is not the certificate's key");
  }
  BIO *in = BIO_new_mem_buf(data, (int)len), *out = BIO_new(BIO_s_mem());
  CMS_ContentInfo *cms = NULL;
  int rc = 0;
  if (!in || !out) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  cms = CMS_sign(cert, key, chain, in, CMS_BINARY | CMS_DETACHED);
  if (!cms || PEM_write_bio_CMS(out, cms) != 1) {
    unsigned long e = ERR_peek_last_error();
    rc = lisec_err_set(err, LISEC_ECRYPTO, "CMS signing failed: %s",
                       e ? ERR_reason_error_string(e) : "?");
    goto done;
  }
  char *p = NULL;
  long n = BIO_get_mem_data(out, &p);
  *pem = malloc((size_t)n + 1);
  if (!*pem) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  memcpy(*pem, p, (size_t)n);
  (*pem)[n] = '\0';
  *pem_len = (size_t)n;
done:
  CMS_ContentInfo_free(cms);
  BIO_free(in);
  BIO_free(out);
  ERR_clear_error();
  return rc;
}

/* ---- describing without trusting (pkg_inspect) -------------------------- */

int pkg_cms_describe(const char *pem, size_t len, STACK_OF(X509) *extra, const char *file,
                     pkg_signer *signer, lisec_err *err) {
  CMS_ContentInfo *cms = NULL;
  int rc = cms_from_pem(pem, len, file, &cms, err);
  if (rc) return rc;
  CMS_set1_signers_certs(cms, extra, 0);
  CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
  X509 *cert = NULL;
  CMS_SignerInfo_get0_algs(si, NULL, &cert, NULL, NULL);
  if (!cert)
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: no signer certificate for '%.128s'", file);
  else if (!(rc = pkg_signer_describe(cert, signer, err)) && !(signer->file = strdup(file)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  CMS_ContentInfo_free(cms);
  ERR_clear_error();
  return rc;
}
