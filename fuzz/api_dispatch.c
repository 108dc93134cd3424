/* libFuzzer harness: lisecd's request pipeline without the transport. The
 * input is "METHOD\nURI\nBODY"; it is dispatched against a small table with
 * path parameters, a role check and a JSON body, and the handlers read the
 * query parameters the way the audit routes do. Checks what every reply
 * must be: a status, and a JSON error for every refusal; and that every
 * path parameter a handler sees, percent-decoded, follows the id rule. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int handler(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                   api_response *resp) {
  (void)ctl, (void)a;
  /* whatever a path segment decodes to is an id under lisec's one rule */
  for (size_t i = 0; i < req->n_params; i++)
    if (!lisec_id_valid(req->params[i])) abort();
  lisec_err err = {0};
  uint64_t n = 0;
  char s[72];
  bool present = false;
  int rc = api_query_u64(req, "from", UINT64_MAX, &n, &present, &err);
  if (!rc) rc = api_query_str(req, "leaf_hash", s, sizeof s, &present, &err);
  if (rc) {
    api_error_from(resp, rc, &err);
    return 0;
  }
  resp->status = 200;
  resp->body = json_pack("{s:i}", "params", (int)req->n_params);
  return 0;
}

static const api_route routes[] = {
    {"GET", "/v1/things", API_ROLE_OPERATOR | API_ROLE_AUDITOR, false, handler, NULL},
    {"POST", "/v1/things", API_ROLE_OPERATOR, true, handler, NULL},
    {"GET", "/v1/things/{id}/parts/{part}", API_ROLE_ANY, false, handler, NULL},
    {"PUT", "/v1/things/{id}", API_ROLE_OPERATOR, true, handler, NULL},
    {"GET", "/v1/li/{id}", API_ROLE_LI_ADMIN, false, handler, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  char *method = in, *uri = strchr(in, '\n'), *body = NULL;
  if (uri) {
    *uri++ = '\0';
    body = strchr(uri, '\n');
    if (body) *body++ = '\0';
  }
  if (uri && strlen(uri) < API_URI_MAX) {
    api_principal who = {.subject = "fuzz", .role = "operator", .role_bit = API_ROLE_OPERATOR};
    api_raw_request raw = {.method = method,
                           .uri = uri,
                           .body = body,
                           .body_len = body ? size - (size_t)(body - in) : 0,
                           .max_body = 4096};
    api_response resp;
    int route = -1;
    api_dispatch_routes(routes, sizeof routes / sizeof routes[0], NULL, &who, &raw, &resp, &route);
    if (resp.status < 200 || resp.status > 599) abort();
    if (resp.status >= 400 && !resp.body) abort();
    api_response_free(&resp);
  }
  free(in);
  return 0;
}
