/* Use cases of reading the audit log (TR 103 308 §5.5, O.1.4), and the
 * record that carries its act's documents. Anyone in an
 * admitted role may fetch checkpoints, entries (sealed ones stay ciphertext)
 * and RFC 9162 proofs, so the log can be verified without trusting lisecd;
 * only the LI administration's key opens sealed entries, and that happens
 * outside lisecd (lisec audit read). */
#ifndef LISEC_CTL_AUDIT_H
#define LISEC_CTL_AUDIT_H

#include "ctl/ctl.h"

struct ctl_auditlog_doc; /* ctl/auditlog.h */

#define CTL_AUDIT_PAGE_MAX 10000

/* {"tree_size", "note"}: the newest signed checkpoint (ENOTFOUND before the
 * first), and the verifier key lisecd signs with (ctl_audit_vkey). */
int ctl_audit_checkpoint(lisec_ctl *ctl, json_t **out, lisec_err *err);
int ctl_audit_vkey(lisec_ctl *ctl, json_t **out, lisec_err *err);
/* POST /v1/audit/rollover (LI administration): a new checkpoint key,
 * introduced by a checkpoint both keys sign; the old key is retired.
 * {"previous_vkey", "vkey", "tree_size", "checkpoint"}. */
int ctl_audit_rollover(lisec_ctl *ctl, const ctl_actor *a, json_t **out, lisec_err *err);
/* {"checkpoints": [{"tree_size", "note"}...][, "next"]}, oldest first:
 * count (1..CTL_AUDIT_CP_PAGE_MAX) of tree size from on; "next", when more
 * follow, is the from of the next page. */
#define CTL_AUDIT_CP_PAGE_MAX 1000
int ctl_audit_checkpoints(lisec_ctl *ctl, uint64_t from, uint64_t count, json_t **out, lisec_err *err);
/* {"from", "size", "entries": [...]}: count (1..CTL_AUDIT_PAGE_MAX) entries
 * from index from, fewer at the end of the log. */
int ctl_audit_entries(lisec_ctl *ctl, uint64_t from, uint64_t count, json_t **out,
                      lisec_err *err);
/* Inclusion proof for the entry at index, or the one whose leaf hash is
 * leaf_hex when it is not NULL, in the tree of size entries (0: the newest
 * checkpoint's size, or the current size before the first checkpoint). The
 * reply carries the checkpoint note when size is a checkpointed one. */
int ctl_audit_inclusion(lisec_ctl *ctl, uint64_t index, const char *leaf_hex, uint64_t size,
                        json_t **out, lisec_err *err);
/* Consistency proof between old_size and size (0: as above). */
int ctl_audit_consistency(lisec_ctl *ctl, uint64_t old_size, uint64_t size, json_t **out,
                          lisec_err *err);

#endif
