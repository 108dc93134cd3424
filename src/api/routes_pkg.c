/* Routes of VNF package on-boarding: the operator, MANO (for the operator)
 * and tenants on-board, list, read, replace and retire packages (a tenant
 * only its own, which ctl/pkg.c decides); the operator loads vendor CRLs;
 * hosts and MANO report the image a VM runs, and a host checks a VM's
 * image before starting it.
 * The package travels base64 in a JSON body, so [api] max_body bounds the
 * upload before anything is parsed and [pkg] max_package after decoding. */
#include "api/api.h"
#include "ctl/pkg.h"

#define PKG_ROLES (API_ROLE_OPERATOR | API_ROLE_MANO | API_ROLE_TENANT)

static int onboard(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_onboard(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 201);
}

static int replace(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_replace(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_get(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int image_report(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                        api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_image_report(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int image_check(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                       api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_image_check(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int image_status(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                        api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_image_status(ctl, a, req->params[0], &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int retire(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_retire(ctl, a, req->params[0], req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int crl_put(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_crl_put(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int crl_list(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_pkg_crl_list(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_pkg[] = {
    {"POST", "/v1/packages", PKG_ROLES, true, onboard, "pkg.onboard"},
    {"GET", "/v1/packages", PKG_ROLES, false, list, NULL},
    {"GET", "/v1/packages/{id}", PKG_ROLES, false, get, NULL},
    {"PUT", "/v1/packages/{id}", PKG_ROLES, true, replace, "pkg.replace"},
    {"POST", "/v1/packages/{id}/retire", PKG_ROLES, true, retire, "pkg.retire"},
    /* vendor CRLs: the operator loads them; those who read packages read them */
    {"PUT", "/v1/packages/vendors/crl", API_ROLE_OPERATOR, true, crl_put, "pkg.crl"},
    {"GET", "/v1/packages/vendors/crl", API_ROLE_OPERATOR | API_ROLE_MANO | API_ROLE_AUDITOR, false,
     crl_list, NULL},
    {"POST", "/v1/packages/{id}/image-reports", API_ROLE_HOST | API_ROLE_MANO | API_ROLE_OPERATOR,
     true, image_report, "pkg.image-report"},
    {"POST", "/v1/image-checks", API_ROLE_HOST, true, image_check, "pkg.image-check"},
    {"GET", "/v1/image-reports/{vm}", API_ROLE_OPERATOR | API_ROLE_MANO | API_ROLE_AUDITOR, false,
     image_status, NULL},
    {0},
};
