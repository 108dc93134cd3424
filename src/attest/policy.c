/* Reference values (§5.4): for each PCR and event type, the digests an
 * operator accepts, kept in a JSON file the operator edits. Entries are
 * sorted by (PCR, type) and their digests sorted too, so appraising an
 * event is two binary searches. There is no default and no wildcard type:
 * a policy that does not mention an event's (PCR, type) rejects it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"

#define POLICY_ENTRIES_MAX 4096
#define POLICY_DIGESTS_MAX 65536

typedef struct policy_entry {
  uint32_t pcr, type;
  bool any_digest;
  size_t ndigests;
  uint8_t (*digests)[ATTEST_DIGEST_LEN];
} policy_entry;

struct attest_policy {
  char id[96];
  uint32_t pcrs;
  size_t nentries;
  policy_entry *entries;
};

static int digest_cmp(const void *a, const void *b) { return memcmp(a, b, ATTEST_DIGEST_LEN); }

static int entry_cmp(const void *a, const void *b) {
  const policy_entry *x = a, *y = b;
  if (x->pcr != y->pcr) return x->pcr < y->pcr ? -1 : 1;
  if (x->type != y->type) return x->type < y->type ? -1 : 1;
  return 0;
}

void attest_policy_free(attest_policy *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nentries; i++) free(p->entries[i].digests);
  free(p->entries);
  free(p);
}

static bool only_keys(const json_t *obj, const char *const *keys, const char **bad) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    bool ok = false;
    for (size_t i = 0; keys[i]; i++) ok |= strcmp(k, keys[i]) == 0;
    if (!ok) {
      *bad = k;
      return false;
    }
  }
  return true;
}

static int parse_entry(const json_t *e, size_t idx, policy_entry *out, size_t *total,
                       lisec_err *err) {
  static const char *const keys[] = {"pcr", "type", "digests", "any_digest", "comment", NULL};
  const char *bad = NULL, *type = NULL;
  int64_t pcr = 0;
  if (!json_is_object(e))
    return lisec_err_set(err, LISEC_EINVAL, "events[%zu]: not an object", idx);
  if (!only_keys(e, keys, &bad))
    return lisec_err_set(err, LISEC_EINVAL, "events[%zu]: unknown key \"%s\"", idx, bad);
  int rc = lisec_json_get_int(e, "pcr", true, 0, ATTEST_PCR_COUNT - 1, &pcr, err);
  if (!rc) rc = lisec_json_get_str(e, "type", true, 64, &type, err);
  if (rc) return ATTEST_WRAP(rc, err, "events[%zu]", idx);
  int64_t t = attest_event_type_parse(type);
  if (t < 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "events[%zu]: event type \"%s\" is neither a TCG name nor 0x-hex", idx,
                         type);
  if (t == ATTEST_EV_NO_ACTION)
    return lisec_err_set(err, LISEC_EINVAL,
                         "events[%zu]: EV_NO_ACTION events are never extended; remove it", idx);
  out->pcr = (uint32_t)pcr;
  out->type = (uint32_t)t;
  bool any = false;
  if ((rc = lisec_json_get_bool(e, "any_digest", false, &any, err)))
    return ATTEST_WRAP(rc, err, "events[%zu]", idx);
  const json_t *ds = json_object_get(e, "digests");
  if (any) {
    if (ds) return lisec_err_set(err, LISEC_EINVAL, "events[%zu]: any_digest and digests", idx);
    out->any_digest = true;
    return 0;
  }
  if (!json_is_array(ds) || json_array_size(ds) == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "events[%zu]: \"digests\" must be a non-empty array of SHA-256 hex", idx);
  size_t n = json_array_size(ds);
  if (n > POLICY_DIGESTS_MAX - *total)
    return lisec_err_set(err, LISEC_ETOOBIG, "policy: more than %d digests", POLICY_DIGESTS_MAX);
  out->digests = calloc(n, ATTEST_DIGEST_LEN);
  if (!out->digests) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *h = json_string_value(json_array_get(ds, i));
    if (!h || strlen(h) != 2 * ATTEST_DIGEST_LEN ||
        lisec_hex_decode(h, out->digests[i], ATTEST_DIGEST_LEN) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "events[%zu].digests[%zu]: not 64 hex digits", idx,
                           i);
  }
  qsort(out->digests, n, ATTEST_DIGEST_LEN, digest_cmp);
  /* Remove duplicates so counts in reports mean something. */
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (w == 0 || memcmp(out->digests[w - 1], out->digests[i], ATTEST_DIGEST_LEN) != 0)
      memmove(out->digests[w++], out->digests[i], ATTEST_DIGEST_LEN);
  out->ndigests = w;
  *total += n;
  return 0;
}

int attest_policy_parse(const char *json, size_t len, attest_policy **out, lisec_err *err) {
  static const char *const keys[] = {"policy_id", "description", "pcrs", "events", NULL};
  *out = NULL;
  if (len > ATTEST_POLICY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "policy: larger than %u bytes", ATTEST_POLICY_MAX);
  json_t *root = NULL;
  int rc = lisec_json_parse(json, len, &root, err);
  if (rc) return ATTEST_WRAP(rc, err, "policy");
  attest_policy *p = calloc(1, sizeof *p);
  const char *id = NULL, *bad = NULL;
  if (!p) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if (!json_is_object(root)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "policy: not a JSON object");
    goto out;
  }
  if (!only_keys(root, keys, &bad)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "policy: unknown key \"%s\"", bad);
    goto out;
  }
  if ((rc = lisec_json_get_str(root, "policy_id", true, sizeof p->id - 1, &id, err))) goto out;
  if (!id[0]) {
    rc = lisec_err_set(err, LISEC_EINVAL, "policy: empty policy_id");
    goto out;
  }
  snprintf(p->id, sizeof p->id, "%s", id);
  const json_t *pcrs = json_object_get(root, "pcrs");
  if (!json_is_array(pcrs) || json_array_size(pcrs) == 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "policy: \"pcrs\" must list the PCRs a quote covers");
    goto out;
  }
  for (size_t i = 0; i < json_array_size(pcrs); i++) {
    const json_t *v = json_array_get(pcrs, i);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= ATTEST_PCR_COUNT) {
      rc = lisec_err_set(err, LISEC_EINVAL, "policy: pcrs[%zu] is not a PCR number 0-23", i);
      goto out;
    }
    p->pcrs |= 1u << json_integer_value(v);
  }
  const json_t *events = json_object_get(root, "events");
  if (!json_is_array(events) || json_array_size(events) == 0) {
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "TR103308-5.4: policy has no reference values (\"events\" is empty)");
    goto out;
  }
  size_t n = json_array_size(events), total = 0;
  if (n > POLICY_ENTRIES_MAX) {
    rc = lisec_err_set(err, LISEC_ETOOBIG, "policy: more than %d entries", POLICY_ENTRIES_MAX);
    goto out;
  }
  p->entries = calloc(n, sizeof *p->entries);
  if (!p->entries) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    p->nentries = i + 1;
    if ((rc = parse_entry(json_array_get(events, i), i, &p->entries[i], &total, err)))
      goto out_wrap;
  }
  /* A PCR the reference values describe is one every quote must cover,
   * listed in "pcrs" or not: else a host could leave it out of its quote
   * and its events would never be compared with them. */
  for (size_t i = 0; i < n; i++) p->pcrs |= 1u << p->entries[i].pcr;
  qsort(p->entries, n, sizeof *p->entries, entry_cmp);
  for (size_t i = 1; i < n; i++)
    if (entry_cmp(&p->entries[i - 1], &p->entries[i]) == 0) {
      const char *name = attest_event_type_name(p->entries[i].type);
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "policy: PCR %u %s is listed twice; merge its digests into one entry",
                         p->entries[i].pcr, name ? name : "(type)");
      goto out;
    }
  *out = p;
  p = NULL;
  goto out;
out_wrap:
  lisec_err_wrap(err, "policy");
out:
  attest_policy_free(p);
  json_decref(root);
  return rc;
}

const char *attest_policy_id(const attest_policy *p) { return p->id; }
uint32_t attest_policy_pcrs(const attest_policy *p) { return p->pcrs; }

int attest_policy_lookup(const attest_policy *p, uint32_t pcr, uint32_t type,
                         const uint8_t digest[ATTEST_DIGEST_LEN], bool *any) {
  policy_entry key = {.pcr = pcr, .type = type};
  const policy_entry *e = bsearch(&key, p->entries, p->nentries, sizeof key, entry_cmp);
  *any = false;
  if (!e) return -1;
  if (e->any_digest) {
    *any = true;
    return 1;
  }
  return bsearch(digest, e->digests, e->ndigests, ATTEST_DIGEST_LEN, digest_cmp) ? 1 : 0;
}
