/* Request dispatch, independent of the transport: match the route (404, 405),
 * admit the role (403 naming the roles the route admits), parse a bounded JSON
 * body (400 naming the position), call the handler and map its failure to a
 * status and a JSON error. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ctl/counters.h"
#include "api/body.h"
#include "ctl/attest.h"
#include "ctl/hosts_end.h"
#include "store/store.h"

/* A message that quotes the request (a parser pointing at bad input) may
 * carry bytes that are not UTF-8, which JSON cannot hold: those become '?',
 * so the refusal still goes out as JSON. */
static json_t *message_string(const char *message) {
  json_t *s = json_string(message);
  if (s) return s;
  char safe[LISEC_ERR_MSG_MAX];
  size_t i = 0;
  for (; message[i] && i < sizeof safe - 1; i++)
    safe[i] = message[i] >= 0x20 && message[i] < 0x7f ? message[i] : '?';
  safe[i] = '\0';
  return json_string(safe);
}

void api_error(api_response *resp, int status, const char *code, const char *message) {
  json_decref(resp->body);
  resp->body = NULL;
  free(resp->text);
  resp->text = NULL;
  resp->status = status;
  json_t *e = json_pack("{s:s, s:o}", "code", code, "message", message_string(message));
  /* A refusal that names a requirement ("TR103308-6.2-R8: ...") carries it apart too. */
  if (e && (strncmp(message, "TR103308-", 9) == 0 || strncmp(message, "SEC025-", 7) == 0)) {
    size_t n = strcspn(message, ": ");
    json_object_set_new(e, "requirement", json_stringn(message, n));
  }
  resp->body = json_pack("{s:o}", "error", e);
}

int api_reply(api_response *resp, int rc, const lisec_err *err, json_t *out, int status) {
  if (rc) {
    api_error_from(resp, rc, err);
  } else {
    resp->status = status;
    resp->body = out;
  }
  return 0;
}

void api_error_from(api_response *resp, int rc, const lisec_err *err) {
  const char *msg = err && err->msg[0] ? err->msg : lisec_err_name(rc);
  int status;
  switch (rc) {
    case LISEC_EINVAL: status = 400; break;
    case LISEC_ENOTFOUND: status = 404; break;
    case LISEC_EDENIED:
    case LISEC_EAUTH: status = 403; break;
    case LISEC_ETOOBIG: status = 413; break;
    case LISEC_ECONFLICT: status = 409; break;
    case LISEC_ESTORE: /* counted for /metrics (ctl/metrics.h) */
      ctl_metrics_store_error();
      status = 503;
      break;
    case LISEC_EUNAVAIL: status = 503; break;
    default: status = 500; break;
  }
  api_error(resp, status, lisec_err_name(rc), msg);
}

void api_response_free(api_response *resp) {
  json_decref(resp->body);
  free(resp->text);
  memset(resp, 0, sizeof *resp);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* One {..} segment of a path, percent-decoded (RFC 3986) into out, which
 * holds STORE_ID_MAX + 1 bytes. A client may escape any byte of an id; what
 * the escapes stand for is then held to lisec's id rule, so "%2F" cannot
 * smuggle a '/' into an id and "%00" cannot cut one short. */
static int segment_decode(const char *s, size_t n, char *out, lisec_err *err) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1, lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return lisec_err_set(err, LISEC_EINVAL,
                             "path segment: '%%' at byte %zu is not followed by two hex digits", i + 1);
      c = (unsigned char)(hi * 16 + lo);
      if (c == 0)
        return lisec_err_set(err, LISEC_EINVAL, "path segment: %%00 (a NUL byte) is refused in ids");
      i += 2;
    }
    if (len == STORE_ID_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "path segment: over %d bytes; an id is " LISEC_ID_RULE,
                           LISEC_ID_MAX);
    out[len++] = (char)c;
  }
  out[len] = '\0';
  return lisec_id_check("path segment", out, len, err);
}

/* Matches "/v1/hosts/{id}" against a path, collecting the {..} segments
 * decoded: 1 when it matches, 0 when not, LISEC_EINVAL (reason in err) when
 * the path has the route's shape but a segment is no id. */
static int route_match(const char *pattern, const char *path, size_t path_len, api_request *req,
                       char params[API_MAX_PARAMS][STORE_ID_MAX + 1], lisec_err *err) {
  const char *p = pattern, *s = path, *end = path + path_len;
  const char *seg[API_MAX_PARAMS];
  size_t seg_len[API_MAX_PARAMS];
  req->n_params = 0;
  while (*p && s < end) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      size_t n = strcspn(s, "/");
      if (s + n > end) n = (size_t)(end - s);
      if (!close || n == 0 || req->n_params == API_MAX_PARAMS) return 0;
      seg[req->n_params] = s;
      seg_len[req->n_params++] = n;
      p = close + 1;
      s += n;
    } else if (*p++ != *s++) {
      return 0;
    }
  }
  if (*p != '\0' || s != end) return 0;
  /* Decoded only once the shape matches, so a bad id is a 400 on its
   * route, never a 404 that hides why. */
  for (size_t i = 0; i < req->n_params; i++) {
    int rc = segment_decode(seg[i], seg_len[i], params[i], err);
    if (rc) return rc;
    req->params[i] = params[i];
  }
  return 1;
}

/* Past its allowance of recorded refusals (ratelimit.c) a client gets 429,
 * counted, not recorded. */
static void refuse_limited(api_response *resp, unsigned wait_s) {
  api_metrics_refusal_limited();
  api_error(resp, 429, "too_many_requests",
            "too many refused requests from this client certificate ([api] refusal_rate, "
            "refusal_burst); retry later");
  snprintf(resp->retry_after, sizeof resp->retry_after, "%u", wait_s);
}

/* A refused role on a route that asks for it is recorded before the refusal
 * goes out, sealed to the LI administration when the route is the LI
 * administration's alone; when it cannot be recorded the refusal says so
 * (fail closed). A client past its allowance of recorded refusals
 * (ratelimit.c) gets 429 instead. */
static void refuse_role(lisec_ctl *ctl, const api_principal *who, const api_route *route,
                        const char *path, api_response *resp) {
  char roles[256], msg[LISEC_ERR_MSG_MAX];
  api_roles_describe(route->roles, roles, sizeof roles);
  snprintf(msg, sizeof msg, "role %s may not %s %s; admitted roles: %s",
           who->role[0] ? who->role : "(none)", route->method, route->pattern, roles);
  if (route->audit_denied) {
    /* Each recorded refusal is a sealed, fsync'd write: past the client's
     * allowance it is answered 429 and counted, not recorded. */
    unsigned wait_s = 0;
    if (!api_ratelimit_take(who, &wait_s)) {
      refuse_limited(resp, wait_s);
      return;
    }
    ctl_actor actor = {.subject = who->subject, .role = who->role, .kind = api_role_kind(who->role_bit)};
    ctl_event ev = {route->audit_denied, path, "denied", msg, route->roles == API_ROLE_LI_ADMIN};
    lisec_err rerr = {0};
    int rc = ctl_record(ctl, &actor, &ev, NULL, &rerr);
    if (rc) {
      api_error_from(resp, rc, &rerr);
      return;
    }
  }
  api_error(resp, 403, "forbidden", msg);
}

/* The steps of a request that need no controller: body size (413), URI
 * (400), route (404, 405, a path segment that is no id 400). The route
 * found, or NULL when resp holds the answer; req, path and params are the
 * caller's, filled for the handler. */
static const api_route *route_find(const api_route *routes, size_t n_routes, const api_raw_request *in,
                                   api_request *req, char path[API_URI_MAX + 1],
                                   char params[API_MAX_PARAMS][STORE_ID_MAX + 1], api_response *resp,
                                   int *route_index) {
  *route_index = -1;
  const char *uri = in->uri;
  if (in->body_len > in->max_body) {
    char msg[128];
    snprintf(msg, sizeof msg, "request body over the limit of %zu bytes ([api] max_body)", in->max_body);
    api_error(resp, 413, "too_large", msg);
    return NULL;
  }
  size_t path_len = uri ? strcspn(uri, "?") : 0;
  if (!uri || uri[0] != '/' || path_len > API_URI_MAX || strlen(uri) > API_URI_MAX) {
    api_error(resp, 400, "invalid", "request URI missing, not a path, or longer than 2048 bytes");
    return NULL;
  }
  memcpy(path, uri, path_len);
  path[path_len] = '\0';
  *req = (api_request){.method = in->method, .path = path, .query = uri[path_len] ? uri + path_len + 1 : NULL,
                       .if_match = in->if_match};
  bool path_known = false;
  char allow[sizeof resp->allow] = "";
  for (size_t i = 0; i < n_routes; i++) {
    lisec_err serr = {0};
    int matched = route_match(routes[i].pattern, path, path_len, req, params, &serr);
    if (matched < 0) {
      api_error_from(resp, matched, &serr);
      return NULL;
    }
    if (!matched) continue;
    path_known = true;
    if (strcmp(routes[i].method, in->method) == 0) {
      *route_index = (int)i;
      return &routes[i];
    }
    size_t at = strlen(allow);
    snprintf(allow + at, sizeof allow - at, "%s%s", at ? ", " : "", routes[i].method);
  }
  if (path_known) {
    api_error(resp, 405, "method_not_allowed", "this path does not take that method");
    memcpy(resp->allow, allow, sizeof allow);
  } else {
    api_error(resp, 404, "not_found", "no such route");
  }
  return NULL;
}

/* The URI goes to the controller as printable ASCII (RFC 3986 has no
 * other bytes in a URI). */
static bool uri_printable(const char *uri) {
  for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
    if (*p < 0x20 || *p > 0x7e) return false;
  return true;
}


int api_admit_routes(const api_route *routes, size_t n_routes, const api_principal *who,
                     const api_raw_request *in, api_response *resp, int *route_index, char **body,
                     size_t *body_len) {
  memset(resp, 0, sizeof *resp);
  *body = NULL;
  *body_len = 0;
  api_request req;
  char path[API_URI_MAX + 1];
  char params[API_MAX_PARAMS][STORE_ID_MAX + 1];
  const api_route *route = route_find(routes, n_routes, in, &req, path, params, resp, route_index);
  if (!route) return 0;
  if (!uri_printable(in->uri)) {
    *route_index = -1;
    api_error(resp, 400, "invalid", "request URI with bytes that are not printable ASCII");
    return 0;
  }
  /* A role the route does not admit goes on without its body: the refusal
   * (and its audit record, when the route asks for one) is the
   * controller's, and comes before any word about the body. */
  bool xml = api_route_takes_xml(route);
  if (!(route->roles & who->role_bit) || (!route->takes_body && !xml)) return 1;
  if (in->body_len == 0) {
    api_error(resp, 400, "invalid", xml ? "an XML request body is required" : "a JSON request body is required");
    return 0;
  }
  if (xml) {
    /* read by the handler's own parser (bounded, DTD-free), in the controller */
    if (!(*body = malloc(in->body_len))) {
      api_error(resp, 503, "unavailable", "out of memory");
      return 0;
    }
    memcpy(*body, in->body, in->body_len);
    *body_len = in->body_len;
    return 1;
  }
  if (!api_body_plain(in->body, in->body_len)) {
    json_t *v = NULL;
    lisec_err err = {0};
    if (lisec_json_parse(in->body, in->body_len, &v, &err) != 0) {
      api_error_from(resp, LISEC_EINVAL, &err);
      return 0;
    }
    json_decref(v);
  }
  /* The controller gets the bytes this parser just accepted, not a
   * re-rendering: it parses them with the same function (lisec_json_parse,
   * same flags), so it builds the same tree the front did, and the bytes are
   * within [api] max_body already. Re-rendering would give no input the
   * front accepts a different meaning, and cost a second pass over every
   * body: an evidence report is ~14 KB of long strings (bench/inventory). */
  *body = malloc(in->body_len);
  if (!*body) {
    api_error(resp, 503, "unavailable", "out of memory");
    return 0;
  }
  memcpy(*body, in->body, in->body_len);
  *body_len = in->body_len;
  return 1;
}

int api_admit(const api_principal *who, const api_raw_request *in, api_response *resp,
              int *route_index, char **body, size_t *body_len) {
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  return api_admit_routes(routes, n, who, in, resp, route_index, body, body_len);
}

void api_dispatch_routes(const api_route *routes, size_t n_routes, lisec_ctl *ctl,
                         const api_principal *who, const api_raw_request *in, api_response *resp,
                         int *route_index) {
  memset(resp, 0, sizeof *resp);
  api_request req;
  char path[API_URI_MAX + 1];
  char params[API_MAX_PARAMS][STORE_ID_MAX + 1];
  const api_route *route = route_find(routes, n_routes, in, &req, path, params, resp, route_index);
  if (!route) return;
  if (!(route->roles & who->role_bit)) {
    refuse_role(ctl, who, route, path, resp);
    return;
  }
  lisec_err err = {0};
  if (api_route_takes_xml(route)) {
    if (in->body_len == 0) {
      api_error(resp, 400, "invalid", "an XML request body is required");
      return;
    }
    req.raw = in->body;
    req.raw_len = in->body_len;
  } else if (route->takes_body) {
    if (in->body_len == 0) {
      api_error(resp, 400, "invalid", "a JSON request body is required");
      return;
    }
    if (!(req.body = api_body_tree(in->body, in->body_len)) &&
        lisec_json_parse(in->body, in->body_len, &req.body, &err) != 0) {
      api_error_from(resp, LISEC_EINVAL, &err);
      return;
    }
  }
  /* Some use cases record their own refusals (a route open to every role
   * whose controller refuses after loading): a client that has used up its
   * refusals is not let in to write more, and each 403 a handler gives
   * spends one. */
  unsigned wait_s = 0;
  if (!api_ratelimit_allows(who, &wait_s)) {
    json_decref(req.body);
    refuse_limited(resp, wait_s);
    return;
  }
  ctl_actor actor = {.subject = who->subject, .role = who->role, .kind = api_role_kind(who->role_bit)};
  ctl_peer_cert peer = {who->cert_sha256, who->cert_serial, who->cert_issuer};
  const ctl_peer_cert *was = ctl ? ctl->peer : NULL;
  if (ctl) ctl->peer = &peer;
  /* A de-enrolled host's certificate is refused for the host role even
   * while its CA still trusts it (ctl/hosts_end.c). */
  if (ctl && actor.kind == CTL_ROLE_HOST && ctl_hosts_cert_check(ctl, &actor, &err) != 0) {
    ctl->peer = was;
    json_decref(req.body);
    api_error_from(resp, err.code, &err);
    (void)api_ratelimit_take(who, &wait_s);
    return;
  }
  int rc = route->handler(ctl, &actor, &req, resp);
  if (ctl) ctl->peer = was;
  json_decref(req.body);
  if (resp->status == 403) (void)api_ratelimit_take(who, &wait_s);
  if (ctl && ctl_attest_wait_pending(ctl->wait)) {
    /* Waiting for fresh quotes: whatever the handler made of "no answer
     * yet" is dropped, and the transport dispatches the request again. */
    api_response_free(resp);
    resp->pending = true;
  } else if (rc && resp->status == 0) {
    /* Handlers report through resp; a bare failure is mapped by its code. */
    lisec_err herr = {0};
    lisec_err_set(&herr, rc, "%s", lisec_err_name(rc));
    api_error_from(resp, rc, &herr);
  } else if (resp->status == 0) {
    resp->status = 200;
  }
}

void api_dispatch(lisec_ctl *ctl, const api_principal *who, const api_raw_request *in,
                  api_response *resp, int *route_index) {
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  api_dispatch_routes(routes, n, ctl, who, in, resp, route_index);
}
