/* Routes of the trust model's entities (TR 103 308 §6.2): create, read,
 * update and delete hosts, hypervisors, VMs, storage, connections,
 * connection groups, jurisdictions, LEAs and LI authorisations under
 * /v1/model/{kind}. The route admits every role; the use case admits
 * li-admin for LI authorisations only and operator or hypervisor-admin for
 * the rest, and records every other role's attempt (sealed for LI
 * authorisations and LEAs). DELETE of a VM is its termination (issue 21):
 * MANO may ask it too, and it waits for the hosts' proof.
 *
 * Versions in HTTP headers (issue 17, docs/api.md "Versions"): an entity
 * read or written answers ETag: "<stored version>"; PUT and DELETE take
 * If-Match: "<version>" as the body's "version" or ?version= (which stay),
 * and a write whose precondition fails is 412 naming TR103308-5.5 and both
 * versions (the body and query forms keep 409). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ctl/model.h"

#define IF_MATCH_FORM "If-Match: one strong entity tag, a quoted stored version (\"3\")"

/* The version an If-Match names: -1 without one; EINVAL (400) naming the
 * header for anything but '"' 1-18 digits '"' (a list, "*", a weak tag). */
static int if_match_version(const api_request *req, long long *v, lisec_err *err) {
  *v = -1;
  const char *h = req->if_match;
  if (!h) return 0;
  size_t n = strlen(h);
  if (n < 3 || n > 20 || h[0] != '"' || h[n - 1] != '"' || strspn(h + 1, "0123456789") != n - 2)
    return lisec_err_set(err, LISEC_EINVAL, IF_MATCH_FORM);
  *v = strtoll(h + 1, NULL, 10);
  return 0;
}

/* An entity's stored version as its ETag. */
static void set_etag(api_response *resp, const json_t *out) {
  const json_t *v = json_object_get(out, "version");
  if (json_is_integer(v))
    snprintf(resp->etag, sizeof resp->etag, "\"%lld\"", (long long)json_integer_value(v));
}

/* The answer to a write: with If-Match, a refusal of TR103308-5.5 (the
 * version named is not the stored one, here or in the store) is 412. */
static int write_reply(api_response *resp, bool if_match, int rc, const lisec_err *err, json_t *out,
                       int status) {
  if (rc == LISEC_ECONFLICT && if_match && strncmp(err->msg, "TR103308-5.5:", 13) == 0) {
    api_error(resp, 412, "conflict", err->msg);
    return 0;
  }
  if (!rc) set_etag(resp, out);
  return api_reply(resp, rc, err, out, status);
}

static int create(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  bool created = false;
  int rc = ctl_model_put(ctl, a, req->params[0], NULL, req->body, true, &out, &created, &err);
  if (!rc) set_etag(resp, out);
  return api_reply(resp, rc, &err, out, 201);
}

static int put(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  bool created = false;
  long long want = -1;
  int rc = if_match_version(req, &want, &err);
  if (rc) return api_reply(resp, rc, &err, NULL, 0);
  if (want >= 0) {
    /* the header and the body's "version" say one thing, or the body none */
    const json_t *bv = json_object_get(req->body, "version");
    if (bv && !(json_is_integer(bv) && json_integer_value(bv) == want)) {
      lisec_err_set(&err, LISEC_EINVAL, "version: the body says %s, If-Match \"%lld\"; send one of them",
                    json_is_integer(bv) ? "another" : "no integer", want);
      return api_reply(resp, LISEC_EINVAL, &err, NULL, 0);
    }
    if (json_object_set_new(req->body, "version", json_integer(want))) {
      lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
      return api_reply(resp, LISEC_ENOMEM, &err, NULL, 0);
    }
  }
  rc = ctl_model_put(ctl, a, req->params[0], req->params[1], req->body, false, &out, &created, &err);
  return write_reply(resp, want >= 0, rc, &err, out, created ? 201 : 200);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_list(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_get(ctl, a, req->params[0], req->params[1], &out, &err);
  if (!rc) set_etag(resp, out);
  return api_reply(resp, rc, &err, out, 200);
}

static int remove_(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  long long want = -1;
  int rc = if_match_version(req, &want, &err);
  if (rc) return api_reply(resp, rc, &err, NULL, 0);
  if (strcmp(req->params[0], "vm") == 0) {
    if (want >= 0) {
      lisec_err_set(&err, LISEC_EINVAL, "If-Match: a VM's termination takes no version (it waits for "
                                        "the hosts' proof); send the DELETE without it");
      return api_reply(resp, LISEC_EINVAL, &err, NULL, 0);
    }
    /* A VM is terminated: it leaves once its host proves it gone (202 until
     * then), or at once when nothing could ever prove it (200). */
    json_t *out = NULL;
    rc = ctl_model_vm_terminate(ctl, a, req->params[1], &out, &err);
    const char *state = json_string_value(json_object_get(out, "state"));
    return api_reply(resp, rc, &err, out, state && strcmp(state, "terminating") == 0 ? 202 : 200);
  }
  /* If-Match as ?version=, ahead of the query (the first one counts);
   * a query naming another version as well is refused */
  char query[API_URI_MAX + 32];
  const char *q = req->query;
  if (want >= 0) {
    const char *qv = q ? strstr(q, "version=") : NULL;
    if (qv && (qv == q || qv[-1] == '&') && (strtoll(qv + 8, NULL, 10) != want || !qv[8] ||
                                             strspn(qv + 8, "0123456789") != strcspn(qv + 8, "&"))) {
      lisec_err_set(&err, LISEC_EINVAL, "version: the query says another, If-Match \"%lld\"; send one of them",
                    want);
      return api_reply(resp, LISEC_EINVAL, &err, NULL, 0);
    }
    snprintf(query, sizeof query, "version=%lld%s%s", want, q ? "&" : "", q ? q : "");
    q = query;
  }
  rc = ctl_model_delete_query(ctl, a, req->params[0], req->params[1], q, &err);
  return write_reply(resp, want >= 0, rc, &err,
                     rc ? NULL : json_pack("{s:s, s:s}", "removed", req->params[1], "kind", req->params[0]),
                     200);
}

/* Every role reaches the use case, which admits by kind and records each
 * refusal itself: the router would record the path of a refused request in
 * the clear, and that path may name an LI authorisation or an LEA. */
#define MODEL_ROLES API_ROLE_ANY

const api_route api_routes_model[] = {
    {"POST", "/v1/model/{kind}", MODEL_ROLES, true, create, NULL},
    {"GET", "/v1/model/{kind}", MODEL_ROLES, false, list, NULL},
    {"GET", "/v1/model/{kind}/{id}", MODEL_ROLES, false, get, NULL},
    {"PUT", "/v1/model/{kind}/{id}", MODEL_ROLES, true, put, NULL},
    {"DELETE", "/v1/model/{kind}/{id}", MODEL_ROLES, false, remove_, NULL},
    {0},
};
