/* The route groups, one per topic; routes.c joins them into api_routes. */
#ifndef LISEC_API_ROUTES_H
#define LISEC_API_ROUTES_H

#include "api/api.h"

extern const api_route api_routes_core[];
extern const api_route api_routes_targets[];

#endif
