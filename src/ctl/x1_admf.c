/* The X1 client of the ADMF: libcurl with lisec's one TLS client setup
 * (base/curl.h: TLS 1.2 or later, the NE's certificate verified against its
 * CA, the ADMF's certificate presented), the connection kept alive between
 * requests, replies bounded in size. lisecd's main initialises libcurl once
 * before any thread starts. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "base/curl.h"
#include "crypto/crypto.h"
#include "ctl/x1_admf.h"

struct ctl_x1_client {
  CURL *curl;
  struct curl_slist *headers;
  lisec_buf reply;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  return lisec_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

int ctl_x1_client_open(const ctl_x1_peer *peer, ctl_x1_client **out, lisec_err *err) {
  ctl_x1_client *c = calloc(1, sizeof *c);
  if (!c || !(c->curl = curl_easy_init())) {
    free(c);
    return lisec_err_set(err, LISEC_ENOMEM, "cannot start libcurl");
  }
  lisec_buf_init(&c->reply, X1_MESSAGE_MAX);
  c->headers = curl_slist_append(NULL, "Content-Type: application/xml");
  CURL *h = c->curl;
  curl_easy_setopt(h, CURLOPT_URL, peer->url);
  int rc = lisec_curl_tls_setup(h, peer->ca, peer->cert, peer->key, err);
  if (rc) {
    ctl_x1_client_close(c);
    return lisec_err_wrap(err, "X1 client"), rc;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 3L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->reply);
  *out = c;
  return 0;
}

void ctl_x1_client_close(ctl_x1_client *c) {
  if (!c) return;
  curl_easy_cleanup(c->curl);
  curl_slist_free_all(c->headers);
  lisec_buf_free(&c->reply);
  free(c);
}

int ctl_x1_exchange(ctl_x1_client *c, const x1_request *req, x1_response *resp, lisec_err *err) {
  char *xml = NULL;
  size_t len = 0;
  int rc = x1_request_build(req, &xml, &len, err);
  if (rc) return rc;
  c->reply.len = 0;
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, xml);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
  CURLcode cc = curl_easy_perform(c->curl);
  long status = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  /* the request carries target identifiers: wipe it */
  crypto_wipe(xml, len);
  free(xml);
  if (cc != CURLE_OK)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: network element unreachable: %s", curl_easy_strerror(cc));
  if (status != 200)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: network element answered HTTP %ld", status);
  rc = x1_response_parse((const char *)c->reply.data, c->reply.len, resp, err);
  crypto_wipe(c->reply.data, c->reply.len);
  if (rc) return lisec_err_wrap(err, "X1 response");
  /* an answer to another transaction, in another version or of another
   * type is not this request's answer: not to be acted on */
  return x1_response_check(req, resp, err);
}
