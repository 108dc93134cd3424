/* Routes of the entropy service: lisec-entropyd (role host, its own client
 * certificate) posts its issuance and health reports; operators and auditors
 * read the findings. The body is bounded by [api] max_body before it is
 * parsed, and the report's own bounds are checked by the parser. */
#include <string.h>

#include "api/api.h"
#include "ctl/rng.h"

static int post_events(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                       api_response *resp) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_rng_report(ctl, a, req->body, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int get_findings(lisec_ctl *ctl, const ctl_actor *a, const api_request *req,
                        api_response *resp) {
  lisec_err err = {0};
  char open[8] = "";
  bool given = false;
  int rc = api_query_str(req, "open", open, sizeof open, &given, &err);
  if (!rc && given && strcmp(open, "true") != 0 && strcmp(open, "false") != 0)
    rc = lisec_err_set(&err, LISEC_EINVAL, "query parameter open must be true or false");
  json_t *out = NULL;
  if (!rc) rc = ctl_rng_findings(ctl, a, given && strcmp(open, "true") == 0, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_rng[] = {
    {"POST", "/v1/rng/events", API_ROLE_HOST, true, post_events, NULL},
    {"GET", "/v1/rng/findings", API_ROLE_OPERATOR | API_ROLE_AUDITOR, false, get_findings, NULL},
    {0},
};
