/* Which requests are bulk work (issue 22 item 6): the controller runs them
 * on threads of their own at a lower CPU priority ([server] bulk_channels,
 * bulk_nice; api/backend.c), so placement and migration decisions keep the
 * cores they need while hosts report. A route is bulk when its handler is
 * heavy on CPU and nobody waits on it interactively: an attestation report
 * (quote verification, event-log replay, the VM inventory), a TPM
 * enrolment (credential activation), a VNF package on-boarded or replaced
 * (CMS signatures, manifest digests over the whole archive), an image
 * report. A decision is never bulk, nor is anything a decision may wait
 * for other than a report (nonces stay on the decision channels, so a
 * host's next quote is never asked for late). The rule is a pure function
 * of the route's method and pattern, tested on its own. */
#include <string.h>

#include "api/api.h"

bool api_route_is_bulk(const char *method, const char *pattern) {
  static const struct {
    const char *method, *pattern;
  } bulk[] = {
      {"POST", "/v1/attest/evidence"},      {"POST", "/v1/attest/enrol"},
      {"POST", "/v1/attest/enrol/finish"},  {"POST", "/v1/packages"},
      {"PUT", "/v1/packages/{id}"},         {"POST", "/v1/packages/{id}/image-reports"},
  };
  if (!method || !pattern) return false;
  for (size_t i = 0; i < sizeof bulk / sizeof bulk[0]; i++)
    if (strcmp(method, bulk[i].method) == 0 && strcmp(pattern, bulk[i].pattern) == 0) return true;
  return false;
}
