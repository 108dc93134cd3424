/* JSON request bodies in the plain form (src/api/body.c): printable-ASCII
 * strings with the short escapes, integers of at most 18 digits, literals,
 * objects of at most 32 keys with none twice, LISEC_JSON_MAX_DEPTH levels.
 * Both answer only for that form; for any other body the caller uses
 * lisec_json_parse, which decides. */
#ifndef LISEC_API_BODY_H
#define LISEC_API_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* true when body (len bytes) is an object or array in the plain form: then
 * lisec_json_parse accepts it too. Allocates nothing. */
bool api_body_plain(const char *body, size_t len);
/* The tree of a plain body, equal to what lisec_json_parse builds; NULL when
 * the body is not in the plain form (or out of memory). */
json_t *api_body_tree(const char *body, size_t len);

#endif
