/* Kept so that route files written against the earlier layout still build:
 * a routes_<topic>.c needs only api/api.h, which explains how groups are
 * found. */
#ifndef LISEC_API_ROUTES_H
#define LISEC_API_ROUTES_H

#include "api/api.h"

#endif
