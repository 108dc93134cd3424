/* The one route table, joined at first use from the groups that CMake found
 * (route_groups.c.in), and the check lisecd runs on it before serving. */
#include <pthread.h>
#include <string.h>

#include "api/api.h"
#include "api/route_groups.h"

static api_route table[API_ROUTES_MAX];
static size_t n_routes;
static bool overflowed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void routes_build(void) {
  for (const api_route_group *g = api_route_groups; g->routes; g++)
    for (const api_route *r = g->routes; r->method || r->pattern; r++) {
      if (n_routes == API_ROUTES_MAX) {
        overflowed = true;
        return;
      }
      table[n_routes++] = *r;
    }
}

const api_route *api_route_table(size_t *n) {
  pthread_once(&once, routes_build);
  *n = n_routes;
  return table;
}

bool api_route_table_overflowed(void) {
  pthread_once(&once, routes_build);
  return overflowed;
}

int api_routes_check(const api_route *routes, size_t n, lisec_err *err) {
  if (routes == table && api_route_table_overflowed())
    return lisec_err_set(err, LISEC_EINVAL, "more than %d routes: raise API_ROUTES_MAX in api.h",
                         API_ROUTES_MAX);
  for (size_t i = 0; i < n; i++) {
    const api_route *r = &routes[i];
    if (!r->method || !r->pattern || r->pattern[0] != '/' || !r->handler || !r->roles)
      return lisec_err_set(err, LISEC_EINVAL,
                           "route %zu (%s %s) lacks a method, a pattern starting with '/', a "
                           "handler or admitted roles",
                           i, r->method ? r->method : "?", r->pattern ? r->pattern : "?");
    for (size_t j = 0; j < i; j++)
      if (strcmp(routes[j].method, r->method) == 0 && strcmp(routes[j].pattern, r->pattern) == 0)
        return lisec_err_set(err, LISEC_EINVAL, "route %s %s is declared twice", r->method,
                             r->pattern);
  }
  return 0;
}
