/* Routes of the placement and migration decisions (TR 103 308 §6.2 moveVM)
 * and of the compliance report. A deny is an answer (200 with "allow":
 * false and every failed requirement); bad input is a 400 naming the field
 * and an unknown VM or target a 404. MANO, the platform's operators and
 * the hosts (the libvirt migration hook) ask; compliance is for operators,
 * auditors and the LI administration, the LI details for the latter only. */
#include "api/api.h"
#include "ctl/model.h"

static int migration(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                     api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_decide_migration(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int placement(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                     api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_decide_placement(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int compliance(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                      api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_compliance(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

#define DECIDERS (API_ROLE_OPERATOR | API_ROLE_HV_ADMIN | API_ROLE_MANO | API_ROLE_HOST | API_ROLE_LI_ADMIN)

const api_route api_routes_decisions[] = {
    {"POST", "/v1/decisions/migration", DECIDERS, true, migration, NULL},
    {"POST", "/v1/decisions/placement", DECIDERS, true, placement, NULL},
    {"GET", "/v1/compliance", API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_LI_ADMIN | API_ROLE_RD_ADMIN, false,
     compliance, NULL},
    {0},
};
