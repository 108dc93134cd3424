/* Routes of the target vault: LI administration only; refused attempts by
 * any other role are recorded. A KEK rotation is a job: POST answers 202
 * with its id at once, GET .../rotate-kek/{id} tells its progress and end. */
#include <stdlib.h>

#include "api/api.h"
#include "ctl/targets.h"

static int add(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_add(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 201);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_read(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int update(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_update(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int remove_(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  int rc = ctl_target_remove(ctl, a, req->params[0], &err);
  return api_reply(resp, rc, &err, rc ? NULL : json_pack("{s:s}", "removed", req->params[0]), 200);
}

static int rotate_kek(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_rotate_kek(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 202); /* the job runs on: GET .../rotate-kek/{id} */
}

static int rotation(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_target_rotation(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_targets[] = {
    {"POST", "/v1/targets", API_ROLE_LI_ADMIN, true, add, "target.add"},
    {"GET", "/v1/targets", API_ROLE_LI_ADMIN, false, list, "target.list"},
    {"GET", "/v1/targets/{id}", API_ROLE_LI_ADMIN, false, get, "target.read"},
    {"PUT", "/v1/targets/{id}", API_ROLE_LI_ADMIN, true, update, "target.update"},
    {"DELETE", "/v1/targets/{id}", API_ROLE_LI_ADMIN, false, remove_, "target.remove"},
    {"POST", "/v1/vault/rotate-kek", API_ROLE_LI_ADMIN, true, rotate_kek, "target.rotate-kek"},
    {"GET", "/v1/vault/rotate-kek/{id}", API_ROLE_LI_ADMIN, false, rotation, "target.rotate-kek"},
    {0},
};
