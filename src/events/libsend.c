/* liblisec-events, sending (include/lisec/events.h): one signed event or a
 * batch to lisecd's POST /v1/li/events over mutual TLS, with lisec's one
 * TLS client setup (base/curl.h: TLS 1.2+, the configured CA alone, the
 * VM's certificate presented). 201 means recorded durably; any other
 * answer gives lisecd's reason to the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/curl.h"
#include "events/libsend.h"
#include "lisec/events.h"

#define REPLY_MAX (64 * 1024)

struct lisec_event_client {
  CURL *curl;
  char *url;
};

typedef struct reply {
  char *data;
  size_t len;
} reply;

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
  reply *r = ctx;
  size_t add = size * n;
  if (r->len + add > REPLY_MAX) return 0;
  char *m = realloc(r->data, r->len + add + 1);
  if (!m) return 0;
  memcpy(m + r->len, p, add);
  r->data = m;
  r->len += add;
  m[r->len] = '\0';
  return add;
}

int lisec_event_client_new(const char *url, const char *ca, const char *cert, const char *key,
                           lisec_event_client **out, char err[LISEC_EVENT_ERR_MAX]) {
  lisec_err e = {0};
  *out = NULL;
  if (!url || strncmp(url, "https://", 8) != 0 || !ca || !cert || !key) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "an https:// URL, a CA, a client certificate and its key are required");
    return -1;
  }
  lisec_event_client *c = calloc(1, sizeof *c);
  size_t n = strlen(url) + sizeof "/v1/li/events";
  if (c) c->url = malloc(n);
  if (c && c->url) {
    snprintf(c->url, n, "%s%s", url, url[strlen(url) - 1] == '/' ? "v1/li/events" : "/v1/li/events");
    c->curl = curl_easy_init();
  }
  if (!c || !c->url || !c->curl) {
    lisec_event_client_free(c);
    snprintf(err, LISEC_EVENT_ERR_MAX, "out of memory");
    return -1;
  }
  if (lisec_curl_tls_setup(c->curl, ca, cert, key, &e)) {
    lisec_event_client_free(c);
    snprintf(err, LISEC_EVENT_ERR_MAX, "%.250s", e.msg);
    return -1;
  }
  *out = c;
  return 0;
}

void lisec_event_client_free(lisec_event_client *c) {
  if (!c) return;
  if (c->curl) curl_easy_cleanup(c->curl);
  free(c->url);
  free(c);
}

/* POSTs body; 0 once lisecd answered 201. *last_seq (may be NULL): the
 * refusal's error.last_seq (a replay), -1 when it has none; *last_same
 * (may be NULL): its error.last_same, 1 true, 0 false, -1 absent. */
static int post(lisec_event_client *c, const char *body, size_t len, long *status, long long *last_seq,
                int *last_same, char err[LISEC_EVENT_ERR_MAX]) {
  if (last_seq) *last_seq = -1;
  if (last_same) *last_same = -1;
  reply r = {0};
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
  CURLcode cc = curl_easy_perform(c->curl);
  long code = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(h);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
  if (status) *status = code;
  int rc = 0;
  if (cc != CURLE_OK) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "lisecd not reached: %.220s", lisec_curl_words(cc));
    rc = -1;
  } else if (code != 201) {
    /* lisecd's {"error": {"message": ...}} */
    json_t *j = r.data ? json_loadb(r.data, r.len, 0, NULL) : NULL;
    const json_t *e = json_object_get(j, "error"), *l = json_object_get(e, "last_seq");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (last_seq && json_is_integer(l) && json_integer_value(l) >= 0) *last_seq = json_integer_value(l);
    const json_t *same = json_object_get(e, "last_same");
    if (last_same && json_is_boolean(same)) *last_same = json_is_true(same);
    snprintf(err, LISEC_EVENT_ERR_MAX, "lisecd answered %ld: %.220s", code, m ? m : "(no reason)");
    json_decref(j);
    rc = -1;
  }
  free(r.data);
  return rc;
}

int lisec_event_send(lisec_event_client *c, const char *const *signed_events, size_t n, long *status,
                     char err[LISEC_EVENT_ERR_MAX]) {
  if (status) *status = 0;
  if (!c || !signed_events || n == 0) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "no events to send");
    return -1;
  }
  size_t len = 16;
  for (size_t i = 0; i < n; i++) len += strlen(signed_events[i]) + 1;
  char *body = malloc(len);
  if (!body) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "out of memory");
    return -1;
  }
  size_t at = 0;
  if (n == 1) at = (size_t)snprintf(body, len, "%s", signed_events[0]);
  else {
    at = (size_t)snprintf(body, len, "{\"events\":[");
    for (size_t i = 0; i < n; i++) at += (size_t)snprintf(body + at, len - at, "%s%s", i ? "," : "", signed_events[i]);
    at += (size_t)snprintf(body + at, len - at, "]}");
  }
  int rc = post(c, body, at, status, NULL, NULL, err);
  free(body);
  return rc;
}

int lisec_event_send_body(lisec_event_client *c, const char *body, long *status, char err[LISEC_EVENT_ERR_MAX]) {
  if (status) *status = 0;
  if (!c || !body || !*body) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "no events to send");
    return -1;
  }
  return post(c, body, strlen(body), status, NULL, NULL, err);
}

int evs_send_body(lisec_event_client *c, const char *body, long *status, long long *last_seq,
                  int *last_same, char err[LISEC_EVENT_ERR_MAX]) {
  if (status) *status = 0;
  if (last_seq) *last_seq = -1;
  if (last_same) *last_same = -1;
  if (!c || !body || !*body) {
    snprintf(err, LISEC_EVENT_ERR_MAX, "no events to send");
    return -1;
  }
  return post(c, body, strlen(body), status, last_seq, last_same, err);
}

