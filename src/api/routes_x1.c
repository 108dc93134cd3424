/* Routes of the ADMF: network elements and X1 tasks are for the LI
 * administration only (refused attempts are recorded, sealed), and so is
 * the emergency stop (DeactivateAllTasks to every NE); an NE's X1 requests
 * come in the ETSI XML form on /v1/x1/admf (or a ReportTaskIssue as JSON
 * carrying the X1 XML), from the certificate registered for that NE. The
 * ADMF loop runs from the controller's start (ctl_start), not from a
 * request. */
#include <stdlib.h>

#include "api/api.h"
#include "ctl/tasks.h"

static int reply(api_response *resp, int rc, const lisec_err *err, json_t *out, int status) {
  if (rc) api_error_from(resp, rc, err);
  else resp->status = status, resp->body = out;
  return 0;
}

static int ne_put(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_ne_put(ctl, a, req->body, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int ne_list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_ne_list(ctl, a, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int ne_remove(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  int rc = ctl_x1_ne_remove(ctl, a, req->params[0], &err);
  return reply(resp, rc, &err, rc ? NULL : json_pack("{s:s}", "removed", req->params[0]), 200);
}

/* One NE's X1 status: reachable, Keepalives, its reports, task counts. */
static int ne_status(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_ne_status(ctl, a, req->params[0], &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int tasks(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_tasks_list(ctl, a, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int reconcile(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_tasks_reconcile(ctl, a, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int deactivate_all(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_deactivate_all(ctl, a, req->body, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int resume(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_resume(ctl, a, req->body, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

static int report(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_x1_report(ctl, a, req->body, &out, &err);
  return reply(resp, rc, &err, out, 200);
}

/* X1 from an NE in the ETSI form: XML in, XML out. A refused certificate
 * gets the API's JSON 403; everything the NE sends is answered in X1. */
static int ne_request(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  char *xml = NULL;
  size_t len = 0;
  int rc = ctl_x1_ne_request(ctl, a, req->raw, req->raw_len, &xml, &len, &err);
  if (rc) return reply(resp, rc, &err, NULL, 200);
  resp->status = 200;
  resp->text = xml;
  resp->content_type = "application/xml";
  return 0;
}

const api_route api_routes_x1[] = {
    {"POST", "/v1/x1/nes", API_ROLE_LI_ADMIN, true, ne_put, "x1.ne.put"},
    {"GET", "/v1/x1/nes", API_ROLE_LI_ADMIN, false, ne_list, "x1.ne.list"},
    {"GET", "/v1/x1/nes/{id}", API_ROLE_LI_ADMIN, false, ne_status, "x1.ne.status"},
    {"DELETE", "/v1/x1/nes/{id}", API_ROLE_LI_ADMIN, false, ne_remove, "x1.ne.remove"},
    {"GET", "/v1/tasks", API_ROLE_LI_ADMIN, false, tasks, "x1.task.list"},
    {"POST", "/v1/tasks/reconcile", API_ROLE_LI_ADMIN, false, reconcile, "x1.reconcile"},
    /* the LI administration's emergency stop (DeactivateAllTasks), and its end */
    {"POST", "/v1/x1/deactivate-all", API_ROLE_LI_ADMIN, true, deactivate_all, "x1.deactivate-all"},
    {"POST", "/v1/x1/resume", API_ROLE_LI_ADMIN, true, resume, "x1.resume"},
    /* the NE's own certificate: checked against the NE's report_cn */
    {"POST", "/v1/x1/reports", API_ROLE_ANY, true, report, NULL},
    /* the ADMF's X1 endpoint: the NE's own certificate, checked as above */
    {"POST", "/v1/x1/admf", API_ROLE_ANY, false, ne_request, NULL},
    {0},
};

bool api_route_takes_xml(const api_route *route) { return route->handler == ne_request; }
