/* Reading the audit log: checkpoints, pages of entries and RFC 9162 proofs,
 * each worker reading with its own store handle while the appender's tree
 * supplies the proofs. A proof is checked with the audit module's verifier
 * before it leaves, so lisecd never hands out a proof that does not hold. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/json.h"
#include "ctl/audit.h"
#include "ctl/internal.h"

int ctl_audit_checkpoint(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  char *note = NULL;
  uint64_t size = 0;
  int rc = ctl_auditlog_latest_checkpoint(ctl->shared->audit, &note, &size, err);
  if (rc) return rc;
  *out = json_pack("{s:I, s:s}", "tree_size", (json_int_t)size, "note", note);
  free(note);
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  /* its RFC 3161 timestamp, when it has one (or why not) */
  json_t *ts = NULL;
  lisec_err ignore = {0};
  if (ctl_auditlog_timestamp_json(ctl->store, size, &ts, &ignore) == 0) json_object_set_new(*out, "timestamp", ts);
  return 0;
}

int ctl_audit_vkey(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  char *vkey = NULL;
  int rc = ctl_auditlog_vkey(ctl->shared->audit, &vkey, err);
  if (rc) return rc;
  *out = json_pack("{s:s, s:b}", "vkey", vkey, "development",
                   ctl_auditlog_development(ctl->shared->audit));
  free(vkey);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ctl_audit_rollover(lisec_ctl *ctl, const ctl_actor *a, json_t **out, lisec_err *err) {
  ctl_auditlog *log = ctl->shared->audit;
  char *old = NULL, *next = NULL, *note = NULL;
  uint64_t size = 0;
  int rc = ctl_auditlog_vkey(log, &old, err);
  if (!rc && (rc = ctl_auditlog_rollover_begin(log, &next, err)) != 0)
    rc = ctl_audit(ctl, a, CTL_OUTCOME_REFUSED, "audit.key_rollover", false, NULL, rc, NULL, err,
                   "checkpoint key %s", old);
  /* The record of the rollover is the entry its checkpoint covers. */
  else if (!rc && (rc = ctl_audit(ctl, a, CTL_OUTCOME_OK, "audit.key_rollover", false, NULL, 0, NULL, err,
                             "checkpoint key %s -> %s", old, next)) != 0)
    ctl_auditlog_rollover_cancel(log);
  else if (!rc && (rc = ctl_auditlog_checkpoint_now(log, err)) == 0)
    rc = ctl_auditlog_latest_checkpoint(log, &note, &size, err);
  if (!rc && !(*out = json_pack("{s:s, s:s, s:I, s:s}", "previous_vkey", old, "vkey", next, "tree_size",
                                (json_int_t)size, "checkpoint", note)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  free(old), free(next), free(note);
  return rc;
}

int ctl_audit_checkpoints(lisec_ctl *ctl, uint64_t from, uint64_t count, json_t **out, lisec_err *err) {
  /* read after the size: only checkpoints the entries served reach */
  uint64_t size = ctl_auditlog_size(ctl->shared->audit);
  return ctl_auditlog_checkpoints_json(ctl->store, size, from, count, out, err);
}

int ctl_audit_entries(lisec_ctl *ctl, uint64_t from, uint64_t count, json_t **out,
                      lisec_err *err) {
  if (count == 0 || count > CTL_AUDIT_PAGE_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "count: 1 to %d entries per request", CTL_AUDIT_PAGE_MAX);
  uint64_t size = ctl_auditlog_size(ctl->shared->audit);
  uint64_t to = from >= size ? from : (size - from < count ? size : from + count);
  int rc = ctl_auditlog_entries_json(ctl->store, from, to, out, err);
  if (!rc) json_object_set_new(*out, "size", json_integer((json_int_t)size));
  return rc;
}

/* The size a proof is made for, and the signed note that commits to it.
 * A size asked for must be one the log has reached (checked before a leaf
 * is looked up, so a size beyond the log is a 400, not a 404). */
static int proof_size(lisec_ctl *ctl, uint64_t *size, char **note, lisec_err *err) {
  uint64_t cp_size = 0, have = ctl_auditlog_size(ctl->shared->audit);
  lisec_err ignore = {0};
  *note = NULL;
  if (*size > have)
    return lisec_err_set(err, LISEC_EINVAL, "tree_size %llu is beyond the log's %llu entries",
                         (unsigned long long)*size, (unsigned long long)have);
  if (ctl_auditlog_latest_checkpoint(ctl->shared->audit, note, &cp_size, &ignore) != 0) {
    if (*size == 0) *size = ctl_auditlog_size(ctl->shared->audit);
  } else if (*size == 0) {
    *size = cp_size;
  } else if (*size != cp_size) {
    free(*note);
    *note = NULL;
  }
  if (*size == 0) return lisec_err_set(err, LISEC_ENOTFOUND, "the audit log is empty");
  return 0;
}

static int finish(json_t *j, char *note, json_t **out, lisec_err *err) {
  if (j && note) json_object_set_new(j, "checkpoint", json_string(note));
  free(note);
  *out = j;
  return j ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ctl_audit_inclusion(lisec_ctl *ctl, uint64_t index, const char *leaf_hex, uint64_t size,
                        json_t **out, lisec_err *err) {
  ctl_auditlog *log = ctl->shared->audit;
  char *note = NULL;
  int rc = proof_size(ctl, &size, &note, err);
  uint8_t want[32], leaf[32], root[32];
  if (!rc && leaf_hex) {
    if (strlen(leaf_hex) != 64 || lisec_hex_decode(leaf_hex, want, 32) != 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "leaf_hash: 64 hex digits (SHA-256)");
    else
      rc = ctl_auditlog_find_leaf(log, ctl->store, want, size, &index, err);
  }
  if (!rc && index >= size)
    rc = lisec_err_set(err, LISEC_EINVAL, "index %llu is not below the tree size %llu",
                       (unsigned long long)index, (unsigned long long)size);
  audit_proof p;
  if (!rc) rc = ctl_auditlog_prove_inclusion(log, ctl->store, index, size, &p, leaf, root, NULL, err);
  if (!rc) rc = audit_verify_inclusion(index, size, leaf, &p, root, err);
  if (rc) {
    free(note);
    return rc;
  }
  return finish(audit_inclusion_json(index, size, leaf, root, &p), note, out, err);
}

int ctl_audit_consistency(lisec_ctl *ctl, uint64_t old_size, uint64_t size, json_t **out,
                          lisec_err *err) {
  char *note = NULL;
  int rc = proof_size(ctl, &size, &note, err);
  if (!rc && (old_size == 0 || old_size > size))
    rc = lisec_err_set(err, LISEC_EINVAL, "old: from 1 to the tree size %llu", (unsigned long long)size);
  uint8_t old_root[32], root[32];
  audit_proof p;
  if (!rc)
    rc = ctl_auditlog_prove_consistency(ctl->shared->audit, ctl->store, old_size, size, &p, old_root,
                                        root, NULL, err);
  if (!rc) rc = audit_verify_consistency(old_size, size, old_root, root, &p, err);
  if (rc) {
    free(note);
    return rc;
  }
  return finish(audit_consistency_json(old_size, size, old_root, root, &p), note, out, err);
}
