/* Routes of Retained Data (issue 20; ctl/rd.h, docs/rd.md): the RD
 * administration's retention obligations and its signed extension command,
 * the RD data key a host running an attested RD VM fetches per retention
 * period (wrapped to the RD VM's P-256 key, which the request carries and
 * the RD administration registered for the VM by its signed command, the
 * recipients routes), and the early-destruction request that is refused
 * until the period's retention ends. Every route admits every role: ctl/rd.c decides
 * and records each refusal sealed to the RD administration, because even
 * a refused request's path names an obligation or an RD store. A key whose
 * retention ended is 410 Gone (TR103308-5.8-RD-SHRED). */
#include "api/api.h"
#include "ctl/rd.h"

static int put(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_put(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_get(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int del(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  int rc = ctl_rd_delete(ctl, a, req->params[0], &err);
  return api_reply(resp, rc, &err, rc ? NULL : json_pack("{s:s}", "deleted", req->params[0]), 200);
}

static int extend(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_extend(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int key(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  bool gone = false;
  int rc = ctl_rd_key(ctl, a, req->params[0], req->params[1], req->body, &out, &gone, &err);
  if (rc && gone) {
    api_error(resp, 410, "gone", err.msg);
    return 0;
  }
  return api_reply(resp, rc, &err, out, 200);
}

static int destroy(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_destroy(ctl, a, req->params[0], req->params[1], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int recipient_post(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_recipient_post(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int recipient_get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rd_recipient_get(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

/* every role that uses lisec, and the RD administration (outside ANY) */
#define RD_ROLES (API_ROLE_ANY | API_ROLE_RD_ADMIN)

const api_route api_routes_rd[] = {
    {"GET", "/v1/rd/obligations", RD_ROLES, false, list, NULL},
    {"GET", "/v1/rd/obligations/{id}", RD_ROLES, false, get, NULL},
    {"PUT", "/v1/rd/obligations/{id}", RD_ROLES, true, put, NULL},
    {"DELETE", "/v1/rd/obligations/{id}", RD_ROLES, false, del, NULL},
    {"POST", "/v1/rd/obligations/{id}/extend", RD_ROLES, true, extend, NULL},
    {"POST", "/v1/rd/keys/{store}/{period}", RD_ROLES, true, key, NULL},
    {"POST", "/v1/rd/keys/{store}/{period}/destroy", RD_ROLES, false, destroy, NULL},
    {"POST", "/v1/rd/recipients/{vm}", RD_ROLES, true, recipient_post, NULL},
    {"GET", "/v1/rd/recipients/{vm}", RD_ROLES, false, recipient_get, NULL},
    {0},
};
