/* The location certificate (§6.2 requirements 8-10, 12-14): asset
 * management asserts "host H is at this place, and its TPM showed
 * resetCount R when we checked" in a CMS SignedData whose content is a
 * small JSON document (and, when it names one, restartCount S: a TPM
 * Restart keeps resetCount). The signature and the signer's chain to the
 * asset-management CA are checked here with OpenSSL; that the host and the
 * resetCount are the ones the quote shows, and that the certificate is
 * measured into the quoted PCR, is attest_verify's part. */
#include <ctype.h>
#include <math.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"

#define LOCATION_TYPE "lisec-location/1"
/* A certificate issued a little in the future is clock skew; more is not. */
#define LOCATION_SKEW_S 300

struct attest_location_ca {
  X509_STORE *store;
};

int attest_location_ca_parse(const uint8_t *pem, size_t len, attest_location_ca **out,
                             lisec_err *err) {
  *out = NULL;
  if (!pem || len == 0 || len > 1024 * 1024)
    return lisec_err_set(err, LISEC_EINVAL, "asset-management CA: empty or larger than 1 MiB");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
  attest_location_ca *ca = calloc(1, sizeof *ca);
  int n = 0, rc = 0;
  if (ca) ca->store = X509_STORE_new();
  if (!ca || !ca->store) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else {
    for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
      X509_INFO *xi = sk_X509_INFO_value(infos, i);
      if (xi->x509 && X509_STORE_add_cert(ca->store, xi->x509) == 1) n++;
    }
    if (n == 0) rc = lisec_err_set(err, LISEC_EINVAL, "asset-management CA: no certificate in it");
  }
  ERR_clear_error();
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  BIO_free(bio);
  if (rc) {
    attest_location_ca_free(ca);
    return rc;
  }
  *out = ca;
  return 0;
}

void attest_location_ca_free(attest_location_ca *ca) {
  if (!ca) return;
  X509_STORE_free(ca->store);
  free(ca);
}

static bool is_host_id(const char *s) {
  if (strlen(s) != ATTEST_HOST_ID_LEN) return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f')) return false;
  return true;
}

/* ISO 3166-2: the country, a hyphen, then one to three letters or digits. */
static bool is_subdivision(const char *s, const char *country) {
  size_t n = strlen(s);
  if (n < 4 || n > 6 || strncmp(s, country, 2) != 0 || s[2] != '-') return false;
  for (size_t i = 3; i < n; i++)
    if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i])) return false;
  return true;
}

static bool is_printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
  return true;
}

static int parse_content(const char *json, size_t len, int64_t at, attest_location *out,
                         lisec_err *err) {
  static const char *const known[] = {"type", "host_id", "country", "subdivision", "latitude",
                                      "longitude", "site", "tpm_reset_count", "issued_at",
                                      "asset_tag", "tpm_restart_count", NULL};
  json_t *root = NULL;
  int rc = lisec_json_parse(json, len, &root, err);
  if (rc) return rc;
  const char *type, *host, *country, *sub, *site, *issued, *k, *tag = NULL;
  int64_t reset = 0, restart = 0;
  json_t *v;
  if (!json_is_object(root)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "not a JSON object");
    goto out;
  }
  json_object_foreach(root, k, v) {
    bool ok = false;
    for (size_t i = 0; known[i]; i++) ok |= strcmp(k, known[i]) == 0;
    if (!ok) {
      rc = lisec_err_set(err, LISEC_EINVAL, "unknown key \"%s\"", k);
      goto out;
    }
  }
  if ((rc = lisec_json_get_str(root, "type", true, 32, &type, err)) ||
      (rc = lisec_json_get_str(root, "host_id", true, ATTEST_HOST_ID_LEN, &host, err)) ||
      (rc = lisec_json_get_str(root, "country", true, 2, &country, err)) ||
      (rc = lisec_json_get_str(root, "subdivision", true, 6, &sub, err)) ||
      (rc = lisec_json_get_str(root, "site", true, 64, &site, err)) ||
      (rc = lisec_json_get_str(root, "issued_at", true, 40, &issued, err)) ||
      (rc = lisec_json_get_int(root, "tpm_reset_count", true, 0, UINT32_MAX, &reset, err)) ||
      (rc = lisec_json_get_int(root, "tpm_restart_count", false, 0, UINT32_MAX, &restart, err)) ||
      (rc = lisec_json_get_str(root, "asset_tag", false, 64, &tag, err)))
    goto out;
  /* Optional (issue 19): the FRU asset tag the host's BMC must show. */
  if (tag && (!tag[0] || !is_printable(tag))) {
    rc = lisec_err_set(err, LISEC_EINVAL, "asset_tag is empty or not printable");
    goto out;
  }
  if (strcmp(type, LOCATION_TYPE) != 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "type \"%s\", not \"" LOCATION_TYPE "\"", type);
    goto out;
  }
  if (!is_host_id(host)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "host_id is not 64 lower-case hex digits");
    goto out;
  }
  if (strlen(country) != 2 || !isupper((unsigned char)country[0]) ||
      !isupper((unsigned char)country[1])) {
    rc = lisec_err_set(err, LISEC_EINVAL, "country is not an ISO 3166-1 alpha-2 code");
    goto out;
  }
  if (!is_subdivision(sub, country)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "subdivision \"%s\" is not an ISO 3166-2 code of %s",
                       sub, country);
    goto out;
  }
  if (!site[0] || !is_printable(site)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "site is empty or not printable");
    goto out;
  }
  const json_t *lat = json_object_get(root, "latitude"), *lon = json_object_get(root, "longitude");
  if (!json_is_number(lat) || !json_is_number(lon) || !isfinite(json_number_value(lat)) ||
      fabs(json_number_value(lat)) > 90 || !isfinite(json_number_value(lon)) ||
      fabs(json_number_value(lon)) > 180) {
    rc = lisec_err_set(err, LISEC_EINVAL, "latitude/longitude missing or out of range");
    goto out;
  }
  int64_t when = 0;
  if (lisec_time_parse(issued, &when) != 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "issued_at is not an RFC 3339 time");
    goto out;
  }
  if (when > (at ? at : lisec_time_now()) + LOCATION_SKEW_S) {
    rc = lisec_err_set(err, LISEC_EINVAL, "issued_at %s is in the future", issued);
    goto out;
  }
  snprintf(out->host_id, sizeof out->host_id, "%s", host);
  snprintf(out->country, sizeof out->country, "%s", country);
  snprintf(out->subdivision, sizeof out->subdivision, "%s", sub);
  snprintf(out->site, sizeof out->site, "%s", site);
  snprintf(out->asset_tag, sizeof out->asset_tag, "%s", tag ? tag : "");
  out->latitude = json_number_value(lat);
  out->longitude = json_number_value(lon);
  out->reset_count = (uint32_t)reset;
  out->restart_count = (uint32_t)restart;
  out->issued_at = when;
out:
  json_decref(root);
  return rc;
}

int attest_location_parse(const uint8_t *der, size_t len, const attest_location_ca *ca,
                          int64_t at, attest_location *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!der || len == 0) return lisec_err_set(err, LISEC_EINVAL, "location certificate: empty");
  if (len > ATTEST_LOCATION_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "location certificate: %zu bytes, more than %d", len,
                         ATTEST_LOCATION_MAX);
  if (!ca) return lisec_err_set(err, LISEC_EINVAL, "location certificate: no CA configured");
  const unsigned char *p = der;
  CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
  BIO *content = BIO_new(BIO_s_mem());
  X509_STORE_CTX *vctx = X509_STORE_CTX_new();
  STACK_OF(X509) *signers = NULL;
  int rc = 0;
  if (!content || !vctx) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if (!cms || p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
      OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "location certificate: not one DER CMS SignedData with data content");
    goto out;
  }
  if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
    rc = lisec_err_set(err, LISEC_EINVAL, "location certificate: not exactly one signer");
    goto out;
  }
  /* The signature and content digest here; the signer's chain below with
   * no purpose constraint (asset management's certificate is not S/MIME). */
  if (CMS_verify(cms, NULL, ca->store, NULL, content,
                 CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-6.2-R8: location certificate signature does not verify (%s)",
                       ERR_reason_error_string(ERR_peek_last_error()));
    goto out;
  }
  signers = CMS_get0_signers(cms);
  STACK_OF(X509) *untrusted = CMS_get1_certs(cms);
  if (!signers || sk_X509_num(signers) != 1 ||
      X509_STORE_CTX_init(vctx, ca->store, sk_X509_value(signers, 0), untrusted) != 1) {
    sk_X509_pop_free(untrusted, X509_free);
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-6.2-R8: location certificate has no signer");
    goto out;
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(vctx), (time_t)(at ? at : lisec_time_now()));
  int ok = X509_verify_cert(vctx);
  sk_X509_pop_free(untrusted, X509_free);
  if (ok != 1) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-6.2-R8: location certificate does not chain to the "
                       "asset-management CA: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
    goto out;
  }
  char *body = NULL;
  long blen = BIO_get_mem_data(content, &body);
  if (blen <= 0 || blen > ATTEST_LOCATION_MAX) {
    rc = lisec_err_set(err, LISEC_EINVAL, "location certificate: empty content");
    goto out;
  }
  if ((rc = parse_content(body, (size_t)blen, at, out, err))) {
    lisec_err_wrap(err, "location certificate");
    goto out;
  }
  if (attest_sha256(der, len, out->digest) != 0)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "location certificate: digest failed");
out:
  ERR_clear_error();
  sk_X509_free(signers);
  X509_STORE_CTX_free(vctx);
  BIO_free(content);
  CMS_ContentInfo_free(cms);
  return rc;
}

char *attest_location_content(const attest_location *loc) {
  char when[32];
  lisec_time_format(loc->issued_at, when);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:I, s:s}", "type", LOCATION_TYPE,
                        "host_id", loc->host_id, "country", loc->country, "subdivision",
                        loc->subdivision, "latitude", loc->latitude, "longitude", loc->longitude,
                        "site", loc->site, "tpm_reset_count", (json_int_t)loc->reset_count,
                        "issued_at", when);
  if (j && loc->asset_tag[0]) json_object_set_new(j, "asset_tag", json_string(loc->asset_tag));
  if (j && loc->restart_count)
    json_object_set_new(j, "tpm_restart_count", json_integer((json_int_t)loc->restart_count));
  char *s = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  return s;
}
