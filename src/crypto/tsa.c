/* RFC 3161 time-stamp requests and the checks of responses and tokens (see
 * tsa.h), over OpenSSL's TS API: TS_REQ to build the request, TS_RESP and
 * a PKCS7 token to parse what comes back, TS_VERIFY_CTX for the CMS
 * signature, the signer's timeStamping purpose and the message imprint.
 * The nonce and the imprint's hash algorithm are checked here as well, on
 * the parsed TSTInfo, so a response to another request or over another
 * hash is refused whatever the library's flags cover. Every parse is
 * bounded and refuses trailing bytes. */
#include "crypto/tsa.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQ "TR103308-4.2"

static ASN1_INTEGER *nonce_int(const uint8_t nonce[CRYPTO_TSA_NONCE_LEN]) {
  BIGNUM *bn = BN_bin2bn(nonce, CRYPTO_TSA_NONCE_LEN, NULL);
  ASN1_INTEGER *n = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
  BN_free(bn);
  return n;
}

int crypto_tsa_request(const uint8_t digest[CRYPTO_TSA_DIGEST_LEN], const uint8_t nonce[CRYPTO_TSA_NONCE_LEN],
                       uint8_t **der, size_t *der_len, lisec_err *err) {
  TS_REQ *req = TS_REQ_new();
  TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
  X509_ALGOR *alg = X509_ALGOR_new();
  ASN1_INTEGER *n = nonce_int(nonce);
  unsigned char *out = NULL;
  int len = -1;
  if (req && mi && alg && n && X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
      TS_MSG_IMPRINT_set_algo(mi, alg) && TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, CRYPTO_TSA_DIGEST_LEN) &&
      TS_REQ_set_version(req, 1) && TS_REQ_set_msg_imprint(req, mi) && TS_REQ_set_nonce(req, n) &&
      TS_REQ_set_cert_req(req, 1))
    len = i2d_TS_REQ(req, &out);
  TS_REQ_free(req);
  TS_MSG_IMPRINT_free(mi);
  X509_ALGOR_free(alg);
  ASN1_INTEGER_free(n);
  ERR_clear_error();
  if (len <= 0) return lisec_err_set(err, LISEC_ENOMEM, "cannot build the time-stamp request");
  *der = malloc((size_t)len);
  if (*der) memcpy(*der, out, (size_t)len);
  OPENSSL_free(out);
  if (!*der) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *der_len = (size_t)len;
  return 0;
}

/* Every certificate of a PEM bundle, as a store. */
static X509_STORE *store_of(const void *pem, size_t len, lisec_err *err) {
  if (!pem || len == 0 || len > CRYPTO_TSA_MAX) {
    lisec_err_set(err, LISEC_EINVAL, REQ ": no TSA CA certificate given (PEM, at most %d bytes)", CRYPTO_TSA_MAX);
    return NULL;
  }
  X509_STORE *st = X509_STORE_new();
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  int added = 0;
  X509 *c = NULL;
  while (st && bio && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(st, c) == 1) added++;
    X509_free(c);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!st || added == 0) {
    X509_STORE_free(st);
    lisec_err_set(err, LISEC_EINVAL, REQ ": the TSA CA file holds no PEM certificate");
    return NULL;
  }
  return st;
}

static void fill_info(PKCS7 *tok, TS_TST_INFO *ti, crypto_tsa_info *info) {
  memset(info, 0, sizeof *info);
  struct tm tm;
  const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(ti);
  if (gt && ASN1_TIME_to_tm((const ASN1_TIME *)gt, &tm) == 1) {
    info->gen_time_s = (int64_t)timegm(&tm);
    strftime(info->gen_time, sizeof info->gen_time, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  const ASN1_INTEGER *serial = TS_TST_INFO_get_serial(ti);
  BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  if (hex) snprintf(info->serial, sizeof info->serial, "%s", hex);
  OPENSSL_free(hex);
  BN_free(bn);
  ASN1_OBJECT *pol = TS_TST_INFO_get_policy_id(ti);
  if (pol) OBJ_obj2txt(info->policy, sizeof info->policy, pol, 1);
  STACK_OF(X509) *signers = tok ? PKCS7_get0_signers(tok, NULL, 0) : NULL;
  if (signers && sk_X509_num(signers) == 1)
    X509_NAME_oneline(X509_get_subject_name(sk_X509_value(signers, 0)), info->signer, sizeof info->signer);
  sk_X509_free(signers);
  ERR_clear_error();
}

/* The imprint's algorithm is SHA-256 and its value 32 bytes (out). */
static int imprint_of(TS_TST_INFO *ti, uint8_t out[CRYPTO_TSA_DIGEST_LEN], lisec_err *err) {
  TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(ti);
  X509_ALGOR *alg = mi ? TS_MSG_IMPRINT_get_algo(mi) : NULL;
  ASN1_OCTET_STRING *msg = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
  const ASN1_OBJECT *obj = NULL;
  if (alg) X509_ALGOR_get0(&obj, NULL, NULL, alg);
  if (!obj || OBJ_obj2nid(obj) != NID_sha256)
    return lisec_err_set(err, LISEC_ECRYPTO, REQ ": the time-stamp's message imprint is not SHA-256");
  if (!msg || ASN1_STRING_length(msg) != CRYPTO_TSA_DIGEST_LEN)
    return lisec_err_set(err, LISEC_ECRYPTO, REQ ": the time-stamp's message imprint is not 32 bytes");
  memcpy(out, ASN1_STRING_get0_data(msg), CRYPTO_TSA_DIGEST_LEN);
  return 0;
}

/* The token's signature, signer and imprint, against the CA and digest. */
static int verify_token(PKCS7 *tok, TS_TST_INFO *ti, const uint8_t digest[CRYPTO_TSA_DIGEST_LEN], const void *ca_pem,
                        size_t ca_len, crypto_tsa_info *info, lisec_err *err) {
  uint8_t imp[CRYPTO_TSA_DIGEST_LEN];
  int rc = imprint_of(ti, imp, err);
  if (rc) return rc;
  if (memcmp(imp, digest, CRYPTO_TSA_DIGEST_LEN) != 0)
    return lisec_err_set(err, LISEC_ECRYPTO, REQ ": the time-stamp is over another message (imprint differs)");
  X509_STORE *st = store_of(ca_pem, ca_len, err);
  if (!st) return LISEC_EINVAL;
  TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
  unsigned char *want = OPENSSL_memdup(digest, CRYPTO_TSA_DIGEST_LEN);
  if (!ctx || !want) {
    X509_STORE_free(st);
    OPENSSL_free(want);
    TS_VERIFY_CTX_free(ctx);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  /* the context owns the store and the imprint from here */
  TS_VERIFY_CTX_set_store(ctx, st);
  TS_VERIFY_CTX_set_imprint(ctx, want, CRYPTO_TSA_DIGEST_LEN);
  TS_VERIFY_CTX_set_flags(ctx, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT);
  int ok = TS_RESP_verify_token(ctx, tok);
  unsigned long e = ok == 1 ? 0 : ERR_peek_last_error();
  char why[160] = "";
  if (e) ERR_error_string_n(e, why, sizeof why);
  TS_VERIFY_CTX_free(ctx);
  ERR_clear_error();
  if (ok != 1)
    return lisec_err_set(err, LISEC_ECRYPTO,
                         REQ ": the time-stamp's signature does not verify to the TSA CA with a timeStamping "
                         "signer (%s)",
                         why[0] ? why : "forged, altered or from another TSA");
  if (info) fill_info(tok, ti, info);
  return 0;
}

int crypto_tsa_response_check(const uint8_t *resp, size_t len, size_t max,
                              const uint8_t digest[CRYPTO_TSA_DIGEST_LEN],
                              const uint8_t nonce[CRYPTO_TSA_NONCE_LEN], const void *ca_pem, size_t ca_len,
                              uint8_t **token, size_t *token_len, crypto_tsa_info *info, lisec_err *err) {
  if (max == 0 || max > CRYPTO_TSA_MAX) max = CRYPTO_TSA_MAX;
  if (len > max) return lisec_err_set(err, LISEC_ETOOBIG, REQ ": the TSA's response is over %zu bytes", max);
  if (len == 0) return lisec_err_set(err, LISEC_EINVAL, REQ ": the TSA's response is empty");
  const unsigned char *p = resp;
  TS_RESP *r = d2i_TS_RESP(NULL, &p, (long)len);
  ERR_clear_error();
  if (!r || p != resp + len) {
    TS_RESP_free(r);
    return lisec_err_set(err, LISEC_EINVAL, REQ ": the TSA's answer is not a DER TimeStampResp");
  }
  int rc = 0;
  TS_STATUS_INFO *si = TS_RESP_get_status_info(r);
  long status = si ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)) : -1;
  PKCS7 *tok = TS_RESP_get_token(r);
  TS_TST_INFO *ti = TS_RESP_get_tst_info(r);
  ASN1_INTEGER *want = nonce_int(nonce);
  const ASN1_INTEGER *got = ti ? TS_TST_INFO_get_nonce(ti) : NULL;
  if (status != 0 && status != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, REQ ": the TSA refused the request (PKIStatus %ld)", status);
  else if (!tok || !ti)
    rc = lisec_err_set(err, LISEC_EINVAL, REQ ": the TSA's response has no time-stamp token");
  else if (!want)
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else if (!got || ASN1_INTEGER_cmp(got, want) != 0)
    rc = lisec_err_set(err, LISEC_ECRYPTO, REQ ": the time-stamp's nonce is not this request's (a replayed or "
                                           "misdirected answer)");
  else
    rc = verify_token(tok, ti, digest, ca_pem, ca_len, info, err);
  ASN1_INTEGER_free(want);
  unsigned char *der = NULL;
  int dlen = rc ? 0 : i2d_PKCS7(tok, &der);
  if (!rc && dlen <= 0) rc = lisec_err_set(err, LISEC_ENOMEM, "cannot encode the time-stamp token");
  if (!rc) {
    *token = malloc((size_t)dlen);
    if (!*token) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else memcpy(*token, der, (size_t)dlen), *token_len = (size_t)dlen;
  }
  OPENSSL_free(der);
  TS_RESP_free(r);
  ERR_clear_error();
  return rc;
}

/* A DER token and its TSTInfo (both freed by the caller). */
static int token_open(const uint8_t *token, size_t len, PKCS7 **tok, TS_TST_INFO **ti, lisec_err *err) {
  *tok = NULL;
  *ti = NULL;
  if (len > CRYPTO_TSA_MAX) return lisec_err_set(err, LISEC_ETOOBIG, REQ ": time-stamp token over %d bytes", CRYPTO_TSA_MAX);
  if (len == 0) return lisec_err_set(err, LISEC_EINVAL, REQ ": empty time-stamp token");
  const unsigned char *p = token;
  *tok = d2i_PKCS7(NULL, &p, (long)len);
  if (*tok && p == token + len) *ti = PKCS7_to_TS_TST_INFO(*tok);
  ERR_clear_error();
  if (!*ti) {
    PKCS7_free(*tok);
    *tok = NULL;
    return lisec_err_set(err, LISEC_EINVAL, REQ ": not a DER RFC 3161 time-stamp token");
  }
  return 0;
}

int crypto_tsa_token_verify(const uint8_t *token, size_t len, const uint8_t digest[CRYPTO_TSA_DIGEST_LEN],
                            const void *ca_pem, size_t ca_len, crypto_tsa_info *info, lisec_err *err) {
  PKCS7 *tok = NULL;
  TS_TST_INFO *ti = NULL;
  int rc = token_open(token, len, &tok, &ti, err);
  if (!rc) rc = verify_token(tok, ti, digest, ca_pem, ca_len, info, err);
  TS_TST_INFO_free(ti);
  PKCS7_free(tok);
  ERR_clear_error();
  return rc;
}

int crypto_tsa_token_parse(const uint8_t *token, size_t len, crypto_tsa_info *info,
                           uint8_t imprint[CRYPTO_TSA_DIGEST_LEN], lisec_err *err) {
  PKCS7 *tok = NULL;
  TS_TST_INFO *ti = NULL;
  int rc = token_open(token, len, &tok, &ti, err);
  if (!rc) rc = imprint_of(ti, imprint, err);
  if (!rc) fill_info(tok, ti, info);
  TS_TST_INFO_free(ti);
  PKCS7_free(tok);
  ERR_clear_error();
  return rc;
}
