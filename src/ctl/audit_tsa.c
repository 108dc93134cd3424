/* The RFC 3161 client of the audit checkpoints (ctl/audit_tsa.h): one HTTP
 * POST of a DER TimeStampReq (application/timestamp-query) per checkpoint,
 * the answer bounded in size and time, and crypto/tsa.c's checks of it with
 * the CA read once at open. A token is self-authenticating, so plain http://
 * is allowed (as most public TSAs serve); https:// uses lisec's one TLS
 * client setup (base/curl.h) with [audit] tsa_tls_ca. The URL is kept
 * without its user:password part for everything that is logged. */
#include "ctl/audit_tsa.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/curl.h"
#include "crypto/crypto.h"

#define REQ "TR103308-4.2"

struct ctl_tsa {
  char *url, *shown, *tls_ca;
  uint8_t *ca;
  size_t ca_len;
  uint32_t timeout_ms, max_bytes, max_skew_ms;
  bool required;
};

/* scheme://user:pass@host... -> scheme://host... */
static char *redact(const char *url) {
  const char *s = strstr(url, "://");
  const char *host = s ? s + 3 : url;
  const char *slash = strchr(host, '/'), *at = strchr(host, '@');
  if (!at || (slash && at > slash)) return strdup(url);
  size_t pre = (size_t)(host - url);
  char *out = malloc(strlen(url) + 1);
  if (!out) return NULL;
  memcpy(out, url, pre);
  strcpy(out + pre, at + 1);
  return out;
}

int ctl_tsa_open(const ctl_tsa_config *cfg, ctl_tsa **out, lisec_err *err) {
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0))
    return lisec_err_set(err, LISEC_EINVAL, REQ ": [audit] tsa_url must be an http:// or https:// URL");
  if (!cfg->ca_file || !*cfg->ca_file)
    return lisec_err_set(err, LISEC_EINVAL,
                         REQ ": [audit] tsa_url needs tsa_ca, the CA its time-stamp tokens must chain to");
  bool tls = strncmp(cfg->url, "https://", 8) == 0;
  if (tls && (!cfg->tls_ca || !*cfg->tls_ca))
    return lisec_err_set(err, LISEC_EINVAL, REQ ": an https:// tsa_url needs [audit] tsa_tls_ca");
  ctl_tsa *t = calloc(1, sizeof *t);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  t->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
  t->max_bytes = cfg->max_bytes ? cfg->max_bytes : 65536;
  if (t->max_bytes > CRYPTO_TSA_MAX) t->max_bytes = CRYPTO_TSA_MAX;
  t->max_skew_ms = cfg->max_skew_ms ? cfg->max_skew_ms : 300000;
  t->required = cfg->required;
  t->url = strdup(cfg->url);
  t->shown = redact(cfg->url);
  if (tls) t->tls_ca = strdup(cfg->tls_ca);
  int rc = 0;
  if (!t->url || !t->shown || (tls && !t->tls_ca)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = lisec_file_read(cfg->ca_file, CRYPTO_TSA_MAX, &t->ca, &t->ca_len, err);
  if (rc) {
    lisec_err_wrap(err, "[audit] tsa_ca");
    ctl_tsa_close(t);
    return rc;
  }
  /* A CA file that holds no certificate is a configuration error now, not
   * a finding at every checkpoint. */
  X509 *first = NULL;
  if (crypto_x509_from_pem(t->ca, t->ca_len, &first, err) != 0) {
    lisec_err_wrap(err, REQ ": [audit] tsa_ca %s", cfg->ca_file);
    ctl_tsa_close(t);
    return LISEC_EINVAL;
  }
  X509_free(first);
  *out = t;
  return 0;
}

void ctl_tsa_close(ctl_tsa *t) {
  if (!t) return;
  free(t->url);
  free(t->shown);
  free(t->tls_ca);
  free(t->ca);
  free(t);
}

bool ctl_tsa_required(const ctl_tsa *t) { return t && t->required; }
const char *ctl_tsa_url(const ctl_tsa *t) { return t ? t->shown : ""; }

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  /* lisec_buf refuses past its bound: curl then fails the transfer */
  return lisec_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* POSTs the request; the answer in reply (bounded by its max). */
static int exchange(ctl_tsa *t, const uint8_t *req, size_t req_len, lisec_buf *reply, lisec_err *err) {
  CURL *h = curl_easy_init();
  if (!h) return lisec_err_set(err, LISEC_ENOMEM, "cannot start libcurl");
  struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/timestamp-query");
  struct curl_slist *hd2 = hd ? curl_slist_append(hd, "Accept: application/timestamp-reply") : NULL;
  int rc = hd2 ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) hd = hd2;
  if (!rc && t->tls_ca) rc = lisec_curl_tls_setup(h, t->tls_ca, NULL, NULL, err);
  if (!rc && !t->tls_ca && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK)
    rc = lisec_err_set(err, LISEC_EINVAL, "libcurl refused http only");
  if (!rc) {
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req_len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)t->max_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
      rc = lisec_err_set(err, LISEC_ETOOBIG, REQ ": the TSA's answer is over tsa_max_bytes (%u)", t->max_bytes);
    else if (cc != CURLE_OK)
      rc = lisec_err_set(err, LISEC_EUNAVAIL, REQ ": the TSA did not answer: %s", lisec_curl_words(cc));
    else if (status != 200)
      rc = lisec_err_set(err, LISEC_EUNAVAIL, REQ ": the TSA answered HTTP %ld", status);
  }
  curl_slist_free_all(hd);
  curl_easy_cleanup(h);
  return rc;
}

int ctl_tsa_stamp(ctl_tsa *t, const char *note, size_t len, uint8_t **token, size_t *token_len,
                  crypto_tsa_info *info, lisec_err *err) {
  uint8_t digest[CRYPTO_TSA_DIGEST_LEN], nonce[CRYPTO_TSA_NONCE_LEN], *req = NULL;
  size_t req_len = 0;
  crypto_sha256(note, len, digest);
  int rc = crypto_random(nonce, sizeof nonce, err);
  if (!rc) rc = crypto_tsa_request(digest, nonce, &req, &req_len, err);
  if (rc) return rc;
  lisec_buf reply;
  lisec_buf_init(&reply, t->max_bytes);
  rc = exchange(t, req, req_len, &reply, err);
  free(req);
  if (!rc)
    rc = crypto_tsa_response_check(reply.data, reply.len, t->max_bytes, digest, nonce, t->ca, t->ca_len, token,
                                   token_len, info, err);
  lisec_buf_free(&reply);
  if (rc) return rc;
  int64_t now_s = lisec_time_now_ms() / 1000, skew = info->gen_time_s - now_s;
  if (skew < 0) skew = -skew;
  if (skew * 1000 > (int64_t)t->max_skew_ms) {
    free(*token);
    *token = NULL;
    return lisec_err_set(err, LISEC_ECRYPTO,
                         REQ ": the TSA's genTime %s is %lld s from this clock (tsa_max_skew_ms %u): one of the "
                         "two clocks is wrong",
                         info->gen_time, (long long)skew, t->max_skew_ms);
  }
  return 0;
}

int ctl_tsa_doc(uint64_t size, const uint8_t *token, size_t token_len, const crypto_tsa_info *info,
                const char *error, char **body, lisec_err *err) {
  json_t *j = json_pack("{s:I}", "tree_size", (json_int_t)size);
  char *b64 = NULL;
  if (j && token) {
    if (crypto_base64_encode(token, token_len, &b64) != 0 ||
        json_object_set_new(j, "token", json_string(b64)) != 0 ||
        json_object_set_new(j, "gen_time", json_string(info->gen_time)) != 0) {
      json_decref(j);
      j = NULL;
    }
  } else if (j) {
    json_object_set_new(j, "error", json_string(error ? error : "no timestamp"));
  }
  free(b64);
  *body = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  return *body ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
