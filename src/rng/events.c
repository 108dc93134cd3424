/* The parser of lisec-entropyd's reports to the controller (issuance counts
 * per client and the state of each entropy source, see rng.h). The report
 * crosses the network from a daemon that may be compromised or buggy, so the
 * parser is strict: a closed set of keys at every level, numbers in range,
 * names in a small alphabet (they end up in audit records and store ids),
 * no repeated source or client, and every count bounded before anything is
 * allocated. It never sees a seed value: the format has no place for one. */
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"

/* 2^53: every count stays exact in JSON numbers and far from overflow. */
#define COUNT_MAX ((int64_t)1 << 53)
/* Times: 2000-01-01 .. 2200-01-01, seconds since the epoch. */
#define TIME_MIN 946684800LL
#define TIME_MAX 7258118400LL

static const char *const src_names[] = {"ok", "failed_repetition_count",
                                        "failed_adaptive_proportion", "unavailable", "disabled"};

const char *rng_src_state_name(rng_src_state s) {
  return (unsigned)s < sizeof src_names / sizeof src_names[0] ? src_names[s] : "unknown";
}

int rng_src_state_parse(const char *s) {
  for (size_t i = 0; i < sizeof src_names / sizeof src_names[0]; i++)
    if (strcmp(s, src_names[i]) == 0) return (int)i;
  return -1;
}

bool rng_src_state_failed(rng_src_state s) {
  return s == RNG_SRC_FAILED_RCT || s == RNG_SRC_FAILED_APT;
}

/* Refuses any key of obj outside the NULL-terminated list. */
static int only_keys(const json_t *obj, const char *where, const char *const *keys,
                     lisec_err *err) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    (void)v;
    bool ok = false;
    for (const char *const *p = keys; *p && !ok; p++) ok = strcmp(*p, k) == 0;
    if (!ok) return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: unknown key '%.40s'", where, k);
  }
  return 0;
}

/* Client identities are certificate CNs: letters, digits, space and
 * . _ - : @ /; no control characters, quotes or separators. */
bool rng_report_name_ok(const char *s, bool client) {
  if (!*s) return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (client)
      ok = ok || (c >= 'A' && c <= 'Z') || c == '.' || c == ':' || c == '@' || c == '/' ||
           (c == ' ' && p != s && p[1]);
    if (!ok) return false;
  }
  return true;
}

/* Details are free text for people: printable ASCII only. */
static bool text_ok(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p > 0x7e) return false;
  return true;
}

static int get_text(const json_t *o, const char *key, const char *where, char *out, size_t cap,
                    lisec_err *err) {
  const char *s = NULL;
  int rc = lisec_json_get_str(o, key, false, cap - 1, &s, err);
  if (rc) return lisec_err_wrap(err, "rng report: %s", where);
  if (!s) s = "";
  if (!text_ok(s))
    return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: %s holds a non-printable character",
                         where, key);
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

static int get_time(const json_t *o, const char *key, bool required, const char *where,
                    int64_t *out, lisec_err *err) {
  *out = 0;
  if (!required && !json_object_get(o, key)) return 0;
  int rc = lisec_json_get_int(o, key, true, TIME_MIN, TIME_MAX, out, err);
  return rc ? lisec_err_wrap(err, "rng report: %s", where) : 0;
}

static int parse_source(const json_t *o, rng_report *r, size_t i, lisec_err *err) {
  static const char *const keys[] = {"source", "state", "since", "detail", NULL};
  char where[48];
  snprintf(where, sizeof where, "sources[%zu]", i);
  if (!json_is_object(o)) return lisec_err_set(err, LISEC_EINVAL, "rng report: %s is not an object", where);
  rng_report_source *s = &r->sources[i];
  const char *name = NULL, *state = NULL;
  int rc = only_keys(o, where, keys, err);
  if (!rc && (rc = lisec_json_get_str(o, "source", true, RNG_REPORT_SOURCE_MAX, &name, err)))
    return lisec_err_wrap(err, "rng report: %s", where);
  if (!rc && (rc = lisec_json_get_str(o, "state", true, 40, &state, err)))
    return lisec_err_wrap(err, "rng report: %s", where);
  if (rc) return rc;
  if (!rng_report_name_ok(name, false))
    return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: source name outside [a-z0-9_-]", where);
  int st = rng_src_state_parse(state);
  if (st < 0) return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: unknown state '%.40s'", where, state);
  for (size_t j = 0; j < i; j++)
    if (strcmp(r->sources[j].name, name) == 0)
      return lisec_err_set(err, LISEC_EINVAL, "rng report: source '%s' listed twice", name);
  memcpy(s->name, name, strlen(name) + 1);
  s->state = (rng_src_state)st;
  if ((rc = get_time(o, "since", false, where, &s->since, err))) return rc;
  return get_text(o, "detail", where, s->detail, sizeof s->detail, err);
}

static int parse_issue(const json_t *o, rng_report *r, size_t i, lisec_err *err) {
  static const char *const keys[] = {"client", "seeds", "bytes", "li", "replays", "ref", NULL};
  char where[48];
  snprintf(where, sizeof where, "issuance[%zu]", i);
  if (!json_is_object(o)) return lisec_err_set(err, LISEC_EINVAL, "rng report: %s is not an object", where);
  rng_report_issue *c = &r->issuance[i];
  const char *name = NULL, *ref = NULL;
  int64_t seeds = 0, bytes = 0, replays = 0;
  int rc = only_keys(o, where, keys, err);
  if (rc) return rc;
  if ((rc = lisec_json_get_str(o, "client", true, RNG_REPORT_NAME_MAX, &name, err)) ||
      (rc = lisec_json_get_int(o, "seeds", true, 0, COUNT_MAX, &seeds, err)) ||
      (rc = lisec_json_get_int(o, "bytes", true, 0, COUNT_MAX, &bytes, err)) ||
      (rc = lisec_json_get_bool(o, "li", false, &c->li, err)) ||
      (rc = lisec_json_get_int(o, "replays", false, 1, COUNT_MAX, &replays, err)) ||
      (rc = lisec_json_get_str(o, "ref", false, RNG_REPORT_REF_LEN, &ref, err)))
    return lisec_err_wrap(err, "rng report: %s", where);
  /* replays and the log reference they were logged under go together */
  if (!replays != !ref)
    return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: replays and ref go together", where);
  if (ref && (strlen(ref) != RNG_REPORT_REF_LEN || strspn(ref, "0123456789abcdef") != RNG_REPORT_REF_LEN))
    return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: ref is not %d lowercase hex digits", where,
                         RNG_REPORT_REF_LEN);
  if (!rng_report_name_ok(name, true))
    return lisec_err_set(err, LISEC_EINVAL, "rng report: %s: client name has a character outside "
                                            "[A-Za-z0-9 ._:@/-]", where);
  /* A seed is RNG_SEED_MIN..RNG_SEED_MAX bytes: counts that cannot be
   * true are refused rather than recorded. */
  if ((uint64_t)bytes < (uint64_t)seeds * RNG_SEED_MIN || (uint64_t)bytes > (uint64_t)seeds * RNG_SEED_MAX)
    return lisec_err_set(err, LISEC_EINVAL,
                         "rng report: %s: %lld bytes cannot be %lld seeds of %d..%d bytes", where,
                         (long long)bytes, (long long)seeds, RNG_SEED_MIN, RNG_SEED_MAX);
  for (size_t j = 0; j < i; j++)
    if (strcmp(r->issuance[j].client, name) == 0)
      return lisec_err_set(err, LISEC_EINVAL, "rng report: client '%s' listed twice", name);
  memcpy(c->client, name, strlen(name) + 1);
  c->seeds = (uint64_t)seeds;
  c->bytes = (uint64_t)bytes;
  c->replays = (uint64_t)replays;
  if (ref) memcpy(c->ref, ref, RNG_REPORT_REF_LEN + 1);
  return 0;
}

int rng_report_parse(const json_t *j, rng_report *r, lisec_err *err) {
  static const char *const keys[] = {"v", "instance", "seq", "from", "to", "serving",
                                     "detail", "sources", "issuance", NULL};
  memset(r, 0, sizeof *r);
  if (!json_is_object(j)) return lisec_err_set(err, LISEC_EINVAL, "rng report: not a JSON object");
  int rc = only_keys(j, "report", keys, err);
  if (rc) return rc;
  int64_t v = 0, seq = 0;
  const char *inst = NULL;
  if ((rc = lisec_json_get_int(j, "v", true, RNG_REPORT_VERSION, RNG_REPORT_VERSION, &v, err)) ||
      (rc = lisec_json_get_str(j, "instance", true, RNG_REPORT_INSTANCE_LEN, &inst, err)) ||
      (rc = lisec_json_get_int(j, "seq", true, 1, COUNT_MAX, &seq, err)) ||
      (rc = lisec_json_get_bool(j, "serving", true, &r->serving, err)))
    return lisec_err_wrap(err, "rng report");
  if (strlen(inst) != RNG_REPORT_INSTANCE_LEN || strspn(inst, "0123456789abcdef") != RNG_REPORT_INSTANCE_LEN)
    return lisec_err_set(err, LISEC_EINVAL, "rng report: instance is not %d lowercase hex digits",
                         RNG_REPORT_INSTANCE_LEN);
  memcpy(r->instance, inst, RNG_REPORT_INSTANCE_LEN + 1);
  r->seq = (uint64_t)seq;
  if ((rc = get_time(j, "from", true, "report", &r->from, err)) ||
      (rc = get_time(j, "to", true, "report", &r->to, err)))
    return rc;
  if (r->from > r->to) return lisec_err_set(err, LISEC_EINVAL, "rng report: period ends before it starts");
  if ((rc = get_text(j, "detail", "report", r->detail, sizeof r->detail, err))) return rc;

  const json_t *srcs = json_object_get(j, "sources"), *iss = json_object_get(j, "issuance");
  if (!json_is_array(srcs)) return lisec_err_set(err, LISEC_EINVAL, "rng report: sources is not an array");
  if (!json_is_array(iss)) return lisec_err_set(err, LISEC_EINVAL, "rng report: issuance is not an array");
  size_t ns = json_array_size(srcs), ni = json_array_size(iss);
  if (ns > RNG_REPORT_SOURCES_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "rng report: %zu sources, at most %d", ns, RNG_REPORT_SOURCES_MAX);
  if (ni > RNG_REPORT_CLIENTS_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "rng report: %zu clients, at most %d", ni, RNG_REPORT_CLIENTS_MAX);
  for (size_t i = 0; i < ns; i++) {
    if ((rc = parse_source(json_array_get(srcs, i), r, i, err))) return rc;
    r->n_sources = i + 1;
  }
  if (ni) {
    r->issuance = calloc(ni, sizeof *r->issuance);
    if (!r->issuance) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < ni; i++) {
    if ((rc = parse_issue(json_array_get(iss, i), r, i, err))) return rc;
    r->n_issuance = i + 1;
  }
  return 0;
}

void rng_report_free(rng_report *r) {
  free(r->issuance);
  r->issuance = NULL;
  r->n_issuance = 0;
}
