/* Prints lisecd's own route table, one route a line, for the openapi test
 * (tests/integration/openapi.sh) to hold docs/openapi.yaml against:
 *
 *     METHOD PATTERN ROLES BODY AUDITED
 *
 * ROLES the admitted roles joined by ',' (tenant for any tenant:<name>),
 * BODY json, xml or none (what the route requires), AUDITED the action a
 * refused role is recorded under, or '-'. The table is the one lisecd
 * serves (api_route_table, checked by api_routes_check as at start), so a
 * route added in any routes_<topic>.c shows up here with no edit. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

static const struct {
  unsigned bit;
  const char *name;
} roles[] = {
    {API_ROLE_OPERATOR, "operator"}, {API_ROLE_LI_ADMIN, "li-admin"},
    {API_ROLE_HV_ADMIN, "hypervisor-admin"}, {API_ROLE_HOST, "host"},
    {API_ROLE_MANO, "mano"}, {API_ROLE_AUDITOR, "auditor"},
    {API_ROLE_TENANT, "tenant"}, {API_ROLE_METRICS, "metrics"},
    {API_ROLE_VM, "vm"},
    {API_ROLE_RD_ADMIN, "rd-admin"},
};

int main(void) {
  size_t n = 0;
  const api_route *table = api_route_table(&n);
  lisec_err err = {0};
  if (api_routes_check(table, n, &err) != 0) {
    fprintf(stderr, "openapi_routes: the route table is refused: %s\n", err.msg);
    return 1;
  }
  unsigned known = 0;
  for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) known |= roles[i].bit;
  for (size_t i = 0; i < n; i++) {
    const api_route *r = &table[i];
    if (r->roles & ~known) {
      fprintf(stderr, "openapi_routes: %s %s admits a role bit this helper does not name\n",
              r->method, r->pattern);
      return 1;
    }
    printf("%s %s ", r->method, r->pattern);
    const char *sep = "";
    for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
      if (r->roles & roles[k].bit) {
        printf("%s%s", sep, roles[k].name);
        sep = ",";
      }
    printf(" %s %s\n", api_route_takes_xml(r) ? "xml" : r->takes_body ? "json" : "none",
           r->audit_denied ? r->audit_denied : "-");
  }
  return 0;
}
