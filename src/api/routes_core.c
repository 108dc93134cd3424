/* The routes every deployment has: health, metrics and status. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int get_healthz(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                       api_response *resp) {
  (void)actor, (void)req;
  lisec_err err = {0};
  if (ctl_health(ctl, &err) != 0) {
    api_error(resp, 503, "unavailable", err.msg);
    return 0;
  }
  resp->text = strdup("ok\n");
  resp->content_type = "text/plain";
  return 0;
}

/* Answered by the front (api_route_is_front), which counts every reply;
 * ctl is NULL there, and the uptime is the front's. */
static int get_metrics(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                       api_response *resp) {
  (void)ctl, (void)req;
  /* Counts per LI route are LI information: for the LI administration only. */
  bool li_view = api_role_bit(actor->role) == API_ROLE_LI_ADMIN;
  resp->text = api_metrics_render(api_metrics_uptime_seconds(), li_view);
  resp->content_type = "text/plain; version=0.0.4";
  return 0;
}

static int get_status(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                      api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *st = NULL;
  int rc = ctl_status(ctl, &st, &err);
  if (rc) {
    api_error_from(resp, rc, &err);
    return 0;
  }
  json_object_set_new(st, "you", json_pack("{s:s, s:s}", "subject", actor->subject, "role", actor->role));
  resp->body = st;
  return 0;
}

bool api_route_is_front(const api_route *route) { return route->handler == get_metrics; }

const api_route api_routes_core[] = {
    {"GET", "/healthz", API_ROLE_ANY, false, get_healthz, NULL},
    {"GET", "/metrics", API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_LI_ADMIN, false, get_metrics,
     NULL},
    {"GET", "/v1/status", API_ROLE_ANY, false, get_status, NULL},
    {0},
};
