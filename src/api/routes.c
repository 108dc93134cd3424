/* The one route table, joined from each topic's group at first use. */
#include <pthread.h>
#include <string.h>

#include "api/routes.h"

#define API_ROUTES_MAX 128

static const api_route *const groups[] = {api_routes_core, api_routes_targets};

static api_route table[API_ROUTES_MAX];
static size_t n_routes;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void routes_build(void) {
  for (size_t g = 0; g < LISEC_ARRAY_LEN(groups); g++)
    for (const api_route *r = groups[g]; r->pattern && n_routes < API_ROUTES_MAX; r++)
      table[n_routes++] = *r;
}

const api_route *api_route_table(size_t *n) {
  pthread_once(&once, routes_build);
  *n = n_routes;
  return table;
}
