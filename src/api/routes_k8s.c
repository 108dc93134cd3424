/* The Kubernetes scheduler extender (kube-scheduler's HTTP extender
 * protocol, filter verb): ExtenderArgs in, ExtenderFilterResult out, keys
 * capitalised as on the wire. A pod annotated with the lisec VM it is
 * lands only on nodes the trust model allows; a node lisec does not know is
 * filtered out with its reason (fail closed). Malformed arguments are a 400
 * whose body also carries "Error", so the scheduler fails the pod rather
 * than place it unchecked (with ignorable: false). */
#include <string.h>

#include "api/api.h"
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

const api_route api_routes_k8s[] = {
    {"POST", "/k8s/filter", API_ROLE_MANO, true, filter, NULL},
    {0},
};
