/* The routes every deployment has: health, metrics and status. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ctl/ha.h"
#include "ctl/metrics.h"

static int get_healthz(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                       api_response *resp) {
  (void)actor, (void)req;
  lisec_err err = {0};
  if (ctl_health(ctl, &err) != 0) {
    api_error(resp, 503, "unavailable", err.msg);
    return 0;
  }
  /* With [ha] (docs/ha.md) the leader says so; a standby's controller is
   * not open and answers from cmd/lisecd/standby.c (503, "standby"). */
  bool leader = false;
  int64_t epoch = 0;
  const ctl_ha_settings *ha = ctl_ha_current(&leader, &epoch);
  if (ha && ha->enabled && leader) {
    resp->body = json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", "ok", "role", "leader", "node", ha->node,
                           "leader", ha->advertise, "epoch", (json_int_t)epoch);
    if (!resp->body) api_error(resp, 503, "unavailable", "out of memory");
    return 0;
  }
  resp->text = strdup("ok\n");
  resp->content_type = "text/plain";
  return 0;
}

/* Answered in two parts: the controller's (ctl/metrics.c: hosts, appraisals,
 * the audit log, X1 and the vault) here, and the front's (every reply
 * passes through it: requests, latency, TLS) appended by the front
 * (api_route_is_front), which calls this with ctl NULL when it answers
 * alone. */
static int get_metrics(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                       api_response *resp) {
  (void)req;
  /* Counts of LI work are LI information: for the LI administration only. */
  bool li_view = api_role_bit(actor->role) == API_ROLE_LI_ADMIN;
  resp->text = ctl ? ctl_metrics_render(ctl, li_view)
                   : api_metrics_render(api_metrics_uptime_seconds(), li_view);
  if (!resp->text) {
    api_error(resp, 503, "unavailable", "out of memory");
    return 0;
  }
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
    {"GET", "/metrics", API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_LI_ADMIN | API_ROLE_METRICS, false,
     get_metrics, NULL},
    {"GET", "/v1/status", API_ROLE_ANY, false, get_status, NULL},
    {0},
};
