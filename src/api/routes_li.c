/* Routes of the LI function of VMs: MANO and the hypervisor administration
 * register an LI VM at instantiation, the hypervisor administration enables
 * it, the LI administration pairs it and alone switches a paired one off by
 * a signed command, and retires it (its end: key destroyed) by another;
 * after a restore of the store it confirms the LI state of the VMs held.
 * Every refusal is recorded sealed to the LI
 * administration before the 403: the router seals a role refusal only on
 * routes admitting li-admin alone, so the routes other roles use admit
 * every role here and ctl/li.c decides (li/'s state machine names the
 * role it wants) and records the refusal sealed, because even the path of
 * a refused request names an LI VM. */
#include "api/api.h"
#include "ctl/li.h"


static int instantiate(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                       api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_instantiate(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 201);
}

static int enable(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_enable(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int pair(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_pair(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int disable(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_disable(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int disable_command(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                           api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_disable_signed(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int retire(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_retire(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int confirm(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_confirm(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_get(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_li_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_li[] = {
    {"POST", "/v1/li/vms", API_ROLE_ANY, true, instantiate, NULL},
    {"GET", "/v1/li/vms", API_ROLE_ANY, false, list, NULL},
    {"GET", "/v1/li/vms/{vm}", API_ROLE_ANY, false, get, NULL},
    {"POST", "/v1/li/vms/{vm}/enable", API_ROLE_ANY, false, enable, NULL},
    {"POST", "/v1/li/vms/{vm}/pair", API_ROLE_LI_ADMIN, true, pair, "li.pair"},
    {"POST", "/v1/li/vms/{vm}/disable", API_ROLE_ANY, false, disable, NULL},
    {"POST", "/v1/li/vms/{vm}/disable-command", API_ROLE_LI_ADMIN, true, disable_command,
     "li.disable-command"},
    {"POST", "/v1/li/vms/{vm}/retire", API_ROLE_LI_ADMIN, true, retire, "li.retire"},
    {"POST", "/v1/li/vms/{vm}/confirm", API_ROLE_ANY, false, confirm, NULL},
    {0},
};
