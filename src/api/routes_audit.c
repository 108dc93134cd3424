/* Routes of the audit log: auditors, the LI administration and operators
 * read checkpoints, entries and proofs (sealed entries stay ciphertext);
 * any other role is refused and the attempt is recorded. */
#include "api/api.h"
#include "ctl/audit.h"

#define READERS (API_ROLE_AUDITOR | API_ROLE_LI_ADMIN | API_ROLE_OPERATOR)

/* tree_size, when given, is a tree of 1 or more leaves (RFC 9162 §2.1.3.1
 * proves an index below the size; §2.1.4.1 proves from a size above 0);
 * 0 is refused, not read as "absent". *size stays 0 when it is absent
 * (the use case then takes the newest checkpoint). The upper bound, the
 * log's size, is the use case's to check. */
static int tree_size_param(const api_request *req, uint64_t *size, lisec_err *err) {
  bool given = false;
  int rc = api_query_u64(req, "tree_size", UINT64_MAX, size, &given, err);
  if (!rc && given && *size == 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "tree_size: 1 or more (a proof needs a tree with leaves)");
  return rc;
}

static int checkpoint(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a, (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_audit_checkpoint(ctl, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

/* A page of checkpoints, as entries come in pages: the whole list grows
 * with the log without bound. */
static int checkpoints(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a;
  lisec_err err = {0};
  json_t *out = NULL;
  uint64_t from = 0, count = CTL_AUDIT_CP_PAGE_MAX;
  bool given;
  int rc = api_query_u64(req, "from", UINT64_MAX, &from, &given, &err);
  if (!rc) rc = api_query_u64(req, "count", CTL_AUDIT_CP_PAGE_MAX, &count, &given, &err);
  if (!rc && count == 0) rc = lisec_err_set(&err, LISEC_EINVAL, "count: 1 to %d checkpoints", CTL_AUDIT_CP_PAGE_MAX);
  if (!rc) rc = ctl_audit_checkpoints(ctl, from, count, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int vkey(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a, (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_audit_vkey(ctl, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int entries(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a;
  lisec_err err = {0};
  json_t *out = NULL;
  uint64_t from = 0, count = 1000;
  bool given;
  int rc = api_query_u64(req, "from", UINT64_MAX, &from, &given, &err);
  if (!rc) rc = api_query_u64(req, "count", CTL_AUDIT_PAGE_MAX, &count, &given, &err);
  if (!rc) rc = ctl_audit_entries(ctl, from, count, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int inclusion(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a;
  lisec_err err = {0};
  json_t *out = NULL;
  uint64_t index = 0, size = 0;
  char leaf[72];
  bool has_index = false, has_leaf = false;
  int rc = api_query_u64(req, "index", UINT64_MAX, &index, &has_index, &err);
  if (!rc) rc = api_query_str(req, "leaf_hash", leaf, sizeof leaf, &has_leaf, &err);
  if (!rc) rc = tree_size_param(req, &size, &err);
  if (!rc && has_index == has_leaf)
    rc = lisec_err_set(&err, LISEC_EINVAL, "give exactly one of index and leaf_hash");
  if (!rc) rc = ctl_audit_inclusion(ctl, index, has_leaf ? leaf : NULL, size, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int consistency(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)a;
  lisec_err err = {0};
  json_t *out = NULL;
  uint64_t old = 0, size = 0;
  bool has_old = false;
  int rc = api_query_u64(req, "old", UINT64_MAX, &old, &has_old, &err);
  if (!rc) rc = tree_size_param(req, &size, &err);
  if (!rc && !has_old) rc = lisec_err_set(&err, LISEC_EINVAL, "old: required, the older tree size");
  if (!rc) rc = ctl_audit_consistency(ctl, old, size, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

static int rollover(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)req;
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_audit_rollover(ctl, a, &out, &err);
  return api_reply(resp, rc, &err, out, 200);
}

const api_route api_routes_audit[] = {
    {"GET", "/v1/audit/checkpoint", READERS, false, checkpoint, "audit.read"},
    {"GET", "/v1/audit/checkpoints", READERS, false, checkpoints, "audit.read"},
    {"GET", "/v1/audit/vkey", READERS, false, vkey, "audit.read"},
    {"GET", "/v1/audit/entries", READERS, false, entries, "audit.read"},
    {"GET", "/v1/audit/proof/inclusion", READERS, false, inclusion, "audit.read"},
    {"GET", "/v1/audit/proof/consistency", READERS, false, consistency, "audit.read"},
    {"POST", "/v1/audit/rollover", API_ROLE_LI_ADMIN, false, rollover, "audit.key_rollover"},
    {0},
};
