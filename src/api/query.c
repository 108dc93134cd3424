/* Query parameters of a request URI ("?from=10&count=100"): found by exact
 * name, values bounded and decoded only as far as the routes need (decimal
 * numbers and plain tokens; a '%' escape is refused rather than guessed).
 * Each value has one spelling: a parameter given twice, or a number with a
 * leading zero ("01"), is refused rather than read one of several ways, so
 * what a client meant and what lisecd answered for cannot differ. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* The value of name in q (not NUL-terminated: *len bytes), or NULL; *count
 * says how often the name occurs ("name" without '=' counts, empty). */
static const char *find(const char *q, const char *name, size_t *len, unsigned *count) {
  size_t nlen = strlen(name);
  const char *found = NULL;
  *count = 0;
  while (q && *q) {
    const char *end = strchr(q, '&');
    size_t plen = end ? (size_t)(end - q) : strlen(q);
    if (plen >= nlen && strncmp(q, name, nlen) == 0 && (plen == nlen || q[nlen] == '=')) {
      if (++*count == 1) {
        found = plen == nlen ? q + nlen : q + nlen + 1;
        *len = plen == nlen ? 0 : plen - nlen - 1;
      }
    }
    q = end ? end + 1 : NULL;
  }
  return found;
}

int api_query_str(const api_request *req, const char *name, char *out, size_t cap, bool *present,
                  lisec_err *err) {
  size_t len = 0;
  unsigned count = 0;
  const char *v = find(req->query, name, &len, &count);
  *present = v != NULL;
  if (!v) return 0;
  if (count > 1)
    return lisec_err_set(err, LISEC_EINVAL, "query parameter %s: given %u times; give it once", name, count);
  if (len == 0 || len >= cap)
    return lisec_err_set(err, LISEC_EINVAL, "query parameter %s: 1 to %zu characters", name, cap - 1);
  for (size_t i = 0; i < len; i++)
    if (!(v[i] >= '0' && v[i] <= '9') && !(v[i] >= 'a' && v[i] <= 'z') &&
        !(v[i] >= 'A' && v[i] <= 'Z') && !strchr("-_.:", v[i]))
      return lisec_err_set(err, LISEC_EINVAL, "query parameter %s: only letters, digits and -_.: are allowed", name);
  memcpy(out, v, len);
  out[len] = '\0';
  return 0;
}

int api_query_u64(const api_request *req, const char *name, uint64_t max, uint64_t *out,
                  bool *present, lisec_err *err) {
  char buf[24];
  int rc = api_query_str(req, name, buf, sizeof buf, present, err);
  if (rc || !*present) return rc;
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(buf, &end, 10);
  /* Digits only, and "0" is the only number that starts with 0. */
  if (buf[0] < '0' || buf[0] > '9' || (buf[0] == '0' && buf[1]) || errno || *end || n > max)
    return lisec_err_set(err, LISEC_EINVAL,
                         "query parameter %s: a whole number from 0 to %llu in decimal without leading zeros",
                         name, (unsigned long long)max);
  *out = n;
  return 0;
}
