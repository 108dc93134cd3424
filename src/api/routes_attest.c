/* Routes of host attestation: the agent's own endpoints (role host, and the
 * use cases refuse a certificate whose CN is not the host it acts for), the
 * results for operators, auditors and MANO, and asset management's
 * re-confirmation of a location (operator), and the end of a host's
 * enrolment: its de-enrolment (operator) and the list of the host
 * certificates lisec revoked. */
#include <stdlib.h>

#include "api/api.h"
#include "ctl/attest.h"
#include "ctl/hosts_end.h"

typedef int (*body_case)(lisec_ctl *, const ctl_actor *, const json_t *, json_t **, lisec_err *);

static int with_body(body_case f, lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                     api_response *resp, int status) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = f(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, status);
}

static int enrol(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  return with_body(ctl_attest_enrol_begin, ctl, a, req, resp, 201);
}

static int enrol_finish(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                        api_response *resp) {
  return with_body(ctl_attest_enrol_finish, ctl, a, req, resp, 200);
}

static int challenge(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                     api_response *resp) {
  return with_body(ctl_attest_challenge, ctl, a, req, resp, 200);
}

static int nonce(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  return with_body(ctl_attest_nonce, ctl, a, req, resp, 201);
}

static int evidence(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                    api_response *resp) {
  return with_body(ctl_attest_submit, ctl, a, req, resp, 200);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_attest_host_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int show(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_attest_host_show(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int confirm(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                   api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_attest_confirm_location(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int deenrol(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                   api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_host_deenrol(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int revoked(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                   api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_hosts_revoked(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_attest[] = {
    {"POST", "/v1/attest/enrol", API_ROLE_HOST, true, enrol, NULL},
    {"POST", "/v1/attest/enrol/finish", API_ROLE_HOST, true, enrol_finish, NULL},
    {"POST", "/v1/attest/challenge", API_ROLE_HOST, true, challenge, NULL},
    {"POST", "/v1/attest/nonce", API_ROLE_HOST, true, nonce, NULL},
    {"POST", "/v1/attest/evidence", API_ROLE_HOST, true, evidence, NULL},
    {"GET", "/v1/attest/hosts", API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_MANO, false, list,
     NULL},
    {"GET", "/v1/hosts/{id}/attestation",
     API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_MANO | API_ROLE_HOST, false, show, NULL},
    {"POST", "/v1/hosts/{id}/confirm-location", API_ROLE_OPERATOR, true, confirm, NULL},
    {"DELETE", "/v1/hosts/{id}", API_ROLE_OPERATOR, false, deenrol, "attest.deenrol"},
    {"GET", "/v1/attest/revoked", API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_MANO, false,
     revoked, NULL},
    {0},
};
