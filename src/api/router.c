/* Request dispatch, independent of the transport: match the route (404, 405),
 * admit the role (403 naming the roles the route admits), parse a bounded JSON
 * body (400 naming the position), call the handler and map its failure to a
 * status and a JSON error. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

void api_error(api_response *resp, int status, const char *code, const char *message) {
  json_decref(resp->body);
  resp->body = NULL;
  free(resp->text);
  resp->text = NULL;
  resp->status = status;
  json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
  /* A refusal that names a requirement ("TR103308-6.2-R8: ...") carries it apart too. */
  if (e && (strncmp(message, "TR103308-", 9) == 0 || strncmp(message, "SEC025-", 7) == 0)) {
    size_t n = strcspn(message, ": ");
    json_object_set_new(e, "requirement", json_stringn(message, n));
  }
  resp->body = json_pack("{s:o}", "error", e);
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
    case LISEC_ESTORE:
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

/* Matches "/v1/hosts/{id}" against a path, collecting the {..} segments. */
static bool route_match(const char *pattern, const char *path, size_t path_len, api_request *req,
                        char params[API_MAX_PARAMS][STORE_ID_MAX + 1]) {
  const char *p = pattern, *s = path, *end = path + path_len;
  req->n_params = 0;
  while (*p && s < end) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      size_t n = strcspn(s, "/");
      if (s + n > end) n = (size_t)(end - s);
      if (!close || n == 0 || n > STORE_ID_MAX || req->n_params == API_MAX_PARAMS) return false;
      memcpy(params[req->n_params], s, n);
      params[req->n_params][n] = '\0';
      req->params[req->n_params] = params[req->n_params];
      req->n_params++;
      p = close + 1;
      s += n;
    } else if (*p++ != *s++) {
      return false;
    }
  }
  return *p == '\0' && s == end;
}

void api_dispatch(lisec_ctl *ctl, const api_principal *who, const char *method, const char *uri,
                  const char *body, size_t body_len, api_response *resp, int *route_index) {
  memset(resp, 0, sizeof *resp);
  *route_index = -1;
  api_request req = {.method = method};
  char params[API_MAX_PARAMS][STORE_ID_MAX + 1];
  const char *q = strchr(uri, '?');
  size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
  req.query = q ? q + 1 : NULL;
  bool path_known = false;
  const api_route *route = NULL;
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  for (size_t i = 0; i < n_routes; i++) {
    if (!route_match(routes[i].pattern, uri, path_len, &req, params)) continue;
    path_known = true;
    if (strcmp(routes[i].method, method) == 0) {
      route = &routes[i];
      *route_index = (int)i;
      break;
    }
  }
  if (!route) {
    if (path_known) api_error(resp, 405, "method_not_allowed", "this path does not take that method");
    else api_error(resp, 404, "not_found", "no such route");
    return;
  }
  if (!(route->roles & who->role_bit)) {
    char roles[256], msg[LISEC_ERR_MSG_MAX];
    api_roles_describe(route->roles, roles, sizeof roles);
    snprintf(msg, sizeof msg, "role %s may not %s %s; admitted roles: %s", who->role, method,
             route->pattern, roles);
    if (route->audit_denied) {
      ctl_actor actor = {.subject = who->subject, .role = who->role};
      ctl_event ev = {route->audit_denied, uri, "denied", msg, true};
      lisec_err rerr = {0};
      if (ctl_record(ctl, &actor, &ev, NULL, &rerr) != 0) {
        api_error(resp, 503, "store_error", rerr.msg);
        return;
      }
    }
    api_error(resp, 403, "forbidden", msg);
    return;
  }
  lisec_err err = {0};
  if (route->takes_body) {
    if (body_len == 0) {
      api_error(resp, 400, "invalid", "a JSON request body is required");
      return;
    }
    if (lisec_json_parse(body, body_len, &req.body, &err) != 0) {
      api_error(resp, 400, "invalid", err.msg);
      return;
    }
  }
  req.path = uri;
  ctl_actor actor = {.subject = who->subject, .role = who->role};
  int rc = route->handler(ctl, &actor, &req, resp);
  json_decref(req.body);
  if (rc) {
    lisec_err herr = {0};
    /* Handlers report through resp; a bare failure without one is internal. */
    if (resp->status == 0) {
      lisec_err_set(&herr, rc, "%s", lisec_err_name(rc));
      api_error_from(resp, rc, &herr);
    }
  } else if (resp->status == 0) {
    resp->status = 200;
  }
}
