/* The table of route groups that CMake generates from routes_<topic>.c (see
 * api.h); only routes.c reads it. */
#ifndef LISEC_API_ROUTE_GROUPS_H
#define LISEC_API_ROUTE_GROUPS_H

#include "api/api.h"

typedef struct api_route_group {
  const char *topic;
  const api_route *routes; /* ends with a zeroed entry */
} api_route_group;

/* Ends with {NULL, NULL}. */
extern const api_route_group api_route_groups[];

#endif
