/* Kubernetes: the scheduler extender (kube-scheduler's HTTP extender
 * protocol, filter verb: ExtenderArgs in, ExtenderFilterResult out, keys
 * capitalised as on the wire) and the validating admission webhook
 * (AdmissionReview in and out). A pod annotated with the lisec VM it is
 * lands only on nodes the trust model allows; a node lisec does not know is
 * filtered out with its reason (fail closed); a pod created in a guarded
 * namespace must name a VM and either a node the filter keeps or the
 * scheduler that asks lisec. Malformed arguments are a 400: the filter's
 * body also carries "Error", so the scheduler fails the pod rather than
 * place it unchecked (ignorable: false); the API server refuses the request
 * a malformed review came with (failurePolicy: Fail). */
#include <string.h>

#include "api/api.h"
#include "ctl/k8s_admit.h"
#include "ctl/model.h"

static int filter(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_k8s_filter(ctl, a, req->body, &out, &err);
  if (!rc) {
    resp->status = 200;
    resp->body = out;
    return 0;
  }
  api_error_from(resp, rc, &err);
  if (resp->body) json_object_set_new(resp->body, "Error", json_string(err.msg[0] ? err.msg : lisec_err_name(rc)));
  return 0;
}

static int admit(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_k8s_admit(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_k8s[] = {
    {"POST", "/k8s/filter", API_ROLE_MANO, true, filter, NULL},
    {"POST", "/k8s/admit", API_ROLE_MANO, true, admit, NULL},
    {0},
};
