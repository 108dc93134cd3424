/* The route of LI VMs' signed events (issue 20 item 3, TR 103 308 §4.1):
 * an LI VM, with its client certificate of role vm, posts one signed event
 * or a batch; ctl/events.c verifies and records them sealed. The route
 * admits role vm alone; a refusal answers with the requirement and never
 * names a VM (a replay's also with the VM's last accepted seq, last_seq). */
#include "api/api.h"
#include "ctl/events.h"

static int intake(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_events_intake(ctl, a, req->body, &out, &err);
  if (!rc) return api_reply(resp, rc, &err, out, 201);
  /* a replay's refusal carries last_seq beside its message */
  api_error_from(resp, rc, &err);
  json_t *e = json_object_get(resp->body, "error");
  if (e && out) json_object_update(e, out);
  json_decref(out);
  return 0;
}

const api_route api_routes_events[] = {
    {"POST", "/v1/li/events", API_ROLE_VM, true, intake, NULL},
    {0},
};
