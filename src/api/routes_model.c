/* Routes of the trust model's entities (TR 103 308 §6.2): create, read,
 * update and delete hosts, hypervisors, VMs, storage, connections,
 * connection groups, jurisdictions, LEAs and LI authorisations under
 * /v1/model/{kind}. The route admits every role; the use case admits
 * li-admin for LI authorisations only and operator or hypervisor-admin for
 * the rest, and records every other role's attempt (sealed for LI
 * authorisations and LEAs). DELETE of a VM is its termination (issue 21):
 * MANO may ask it too, and it waits for the hosts' proof. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ctl/model.h"

static int create(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  bool created = false;
  int rc = ctl_model_put(ctl, a, req->params[0], NULL, req->body, true, &out, &created, &err);
  return api_reply(resp, rc, &err, out, 201);
}

static int put(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  bool created = false;
  int rc = ctl_model_put(ctl, a, req->params[0], req->params[1], req->body, false, &out, &created,
                         &err);
  return api_reply(resp, rc, &err, out, created ? 201 : 200);
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
  return api_reply(resp, rc, &err, out, 200);
}

static int remove_(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  if (strcmp(req->params[0], "vm") == 0) {
    /* A VM is terminated: it leaves once its host proves it gone (202 until
     * then), or at once when nothing could ever prove it (200). */
    json_t *out = NULL;
    int rc = ctl_model_vm_terminate(ctl, a, req->params[1], &out, &err);
    const char *state = json_string_value(json_object_get(out, "state"));
    return api_reply(resp, rc, &err, out, state && strcmp(state, "terminating") == 0 ? 202 : 200);
  }
  int rc = ctl_model_delete_query(ctl, a, req->params[0], req->params[1], req->query, &err);
  return api_reply(resp, rc, &err,
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
