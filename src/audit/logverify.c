/* The auditor's whole-log check, independent of where the entries come from.
 * Signed checkpoints (and the last checkpoint this auditor saw) become
 * "targets": tree sizes at which the recomputed root must equal a signed
 * root. Entries are streamed in index order into an O(log n) right edge, so
 * a root is available at every target size without keeping the tree. Each
 * kind of tampering leaves its own trace and gets its own finding: a changed
 * entry breaks the root of the first checkpoint after it (and its stored leaf
 * hash, unless that was forged too); a deleted entry leaves a gap in the
 * indices or a sequence number that no longer matches its position;
 * reordering does the latter; truncation and rollback leave signed (or seen)
 * sizes beyond the log's end; a forged checkpoint fails its signature.
 * Each finding names only what happened: once an index is missing, no root
 * of a larger size can be recomputed (the deleted leaf is gone), so the
 * checkpoints above it are not compared, and the log's end is its highest
 * index (or the highest position a plain entry claims), not its count, so
 * a deletion in the middle is not also called a truncation. Checkpoints are
 * kept as they come and checked before the first entry, in size order, so
 * that the key each one must carry follows the rollovers between them
 * (rollover.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "crypto/crypto.h"

#define FINDINGS_KEPT 64
#define TARGETS_MAX (1u << 20)
#define OUT_OF_PLACE_NAMED 3

typedef struct target {
  uint64_t size;
  uint8_t root[AUDIT_HASH_LEN];
  bool seen; /* the auditor's own record, not a checkpoint in the store */
  bool restore_base; /* the backup's checkpoint a restore line names */
  audit_checkpoint cp;
} target;

/* A checkpoint as the store filed it, checked once all have arrived. */
typedef struct pending {
  uint64_t stored_size;
  char *note;
  size_t len;
} pending;

struct audit_verifier {
  audit_vkey key; /* the pinned key, then the key in force */
  pending *pend;
  size_t n_pend, cap_pend;
  bool have_seen;
  audit_checkpoint seen;
  char origin[AUDIT_ORIGIN_MAX + 1];
  target *targets;
  size_t n_targets, cap_targets, next_target;
  bool sorted;
  audit_frontier f;
  uint64_t next_index, sealed, cps_ok, last_good, max_cp_size;
  uint64_t out_of_place; /* entries whose sequence number is not their index */
  bool gap;              /* an index was missing: roots beyond it are unknown */
  uint64_t claimed_end;  /* 1 + the highest sequence number a plain entry gives */
  uint64_t start;        /* audit_verifier_start_at: the size begun at */
  bool any_cp, any_cp_row, allow_unsigned;
  audit_checkpoint newest;
  bool have_newest;
  uint64_t restores, restored_from; /* signed restore lines, the lowest size restored from */
  /* Restores this auditor did not know of (not in its state): only these
   * can replace history it saw, and the lowest size one went back to. */
  uint64_t new_restores, new_restored_from;
  audit_checkpoint *known, *restore_cps; /* known: from the state; restore_cps: this log's */
  size_t n_known, n_restore_cps, cap_restore_cps;
  bool seen_replaced;               /* what this auditor saw was replaced by a restore */
  bool seen_ok;                     /* the log's root at the seen size is the one seen */
  char *findings[FINDINGS_KEPT];
  uint64_t n_findings;
};

static void finding(audit_verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finding(audit_verifier *v, const char *fmt, ...) {
  if (v->n_findings < FINDINGS_KEPT) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    v->findings[v->n_findings] = s;
  }
  v->n_findings++;
}

int audit_verifier_new(const audit_vkey *key, const audit_checkpoint *seen, audit_verifier **out,
                       lisec_err *err) {
  audit_verifier *v = calloc(1, sizeof *v);
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  v->key = *key;
  audit_frontier_init(&v->f);
  if (seen) {
    v->have_seen = true;
    v->seen = *seen;
    memcpy(v->origin, seen->origin, sizeof v->origin);
  }
  *out = v;
  if (seen) {
    target t = {.size = seen->size, .seen = true, .cp = *seen};
    memcpy(t.root, seen->root, AUDIT_HASH_LEN);
    v->targets = malloc(sizeof t);
    if (!v->targets) {
      audit_verifier_free(v);
      *out = NULL;
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    v->targets[0] = t;
    v->n_targets = v->cap_targets = 1;
  }
  return 0;
}

void audit_verifier_free(audit_verifier *v) {
  if (!v) return;
  for (size_t i = 0; i < FINDINGS_KEPT; i++) free(v->findings[i]);
  for (size_t i = 0; i < v->n_pend; i++) free(v->pend[i].note);
  free(v->pend);
  free(v->targets);
  free(v->known);
  free(v->restore_cps);
  free(v);
}

const char *audit_verifier_finding(const audit_verifier *v, size_t i) {
  if (i >= v->n_findings || i >= FINDINGS_KEPT) return NULL;
  return v->findings[i] ? v->findings[i] : "(finding lost: out of memory)";
}

int audit_verifier_add_checkpoint(audit_verifier *v, uint64_t stored_size, const char *note,
                                  size_t len) {
  if (v->sorted) return LISEC_EINVAL; /* checkpoints come before entries */
  if (v->n_pend >= TARGETS_MAX) return LISEC_ETOOBIG;
  if (v->n_pend == v->cap_pend) {
    size_t cap = v->cap_pend ? v->cap_pend * 2 : 64;
    pending *p = realloc(v->pend, cap * sizeof *p);
    if (!p) return LISEC_ENOMEM;
    v->pend = p;
    v->cap_pend = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return LISEC_ENOMEM;
  memcpy(copy, note, len);
  copy[len] = '\0';
  v->pend[v->n_pend++] = (pending){stored_size, copy, len};
  return 0;
}

static bool restore_known(const audit_verifier *v, const audit_checkpoint *cp) {
  for (size_t i = 0; i < v->n_known; i++)
    if (v->known[i].size == cp->size && crypto_ct_equal(v->known[i].root, cp->root, AUDIT_HASH_LEN)) return true;
  return false;
}

static int remember_restore(audit_verifier *v, const audit_checkpoint *cp) {
  if (v->n_restore_cps == v->cap_restore_cps) {
    size_t cap = v->cap_restore_cps ? v->cap_restore_cps * 2 : 8;
    audit_checkpoint *p = realloc(v->restore_cps, cap * sizeof *p);
    if (!p) return LISEC_ENOMEM;
    v->restore_cps = p;
    v->cap_restore_cps = cap;
  }
  v->restore_cps[v->n_restore_cps++] = *cp;
  return 0;
}

int audit_verifier_add_known_restore(audit_verifier *v, const audit_checkpoint *cp) {
  if (v->sorted) return LISEC_EINVAL; /* before the checkpoints are checked */
  if (v->n_known >= TARGETS_MAX) return LISEC_ETOOBIG;
  audit_checkpoint *p = realloc(v->known, (v->n_known + 1) * sizeof *p);
  if (!p) return LISEC_ENOMEM;
  v->known = p;
  v->known[v->n_known++] = *cp;
  return 0;
}

bool audit_verifier_restore(const audit_verifier *v, size_t i, audit_checkpoint *out) {
  if (i >= v->n_restore_cps) return false;
  *out = v->restore_cps[i];
  return true;
}

/* Checks one checkpoint with the key in force; a rollover it carries, signed
 * by both keys, puts the new key in force. */
static int check_checkpoint(audit_verifier *v, uint64_t stored_size, const char *note, size_t len) {
  v->any_cp_row = true;
  lisec_err e = {0};
  audit_checkpoint cp;
  audit_rollover ro;
  bool is_rollover = false;
  int rc = audit_note_open(note, len, &v->key, &cp, &e);
  if (!rc && (rc = audit_rollover_find(note, len, &ro, &is_rollover, &e)) == 0 && is_rollover) {
    size_t text_len = 0;
    if (!audit_vkey_equal(&ro.old_key, &v->key))
      rc = lisec_err_set(&e, LISEC_ECRYPTO, "a key rollover that the key in force (%08x) does not retire",
                         (unsigned)v->key.id);
    else if ((rc = audit_note_verify(note, len, &ro.new_key, &text_len, &e)) != 0)
      lisec_err_wrap(&e, "key rollover not signed by the new key %08x (refused: a rollover needs both signatures)",
                     (unsigned)ro.new_key.id);
  }
  if (rc) {
    /* signed, but by another key only: not necessarily forged, and the
     * message already names the key that signed it */
    char who[256], mine[AUDIT_ORIGIN_MAX + 16];
    snprintf(mine, sizeof mine, "%s+%08x", v->key.name, (unsigned)v->key.id);
    bool other_key = rc == LISEC_ECRYPTO && audit_note_signers(note, len, who, sizeof who) > 0 &&
                     !strstr(who, mine);
    finding(v, "checkpoint filed at size %llu: %s%s", (unsigned long long)stored_size, e.msg,
            other_key ? " (a checkpoint of another key)" : rc == LISEC_ECRYPTO ? " (forged checkpoint)" : "");
    return 0;
  }
  if (cp.size != stored_size) {
    finding(v, "checkpoint filed at size %llu is signed for size %llu (moved checkpoint)",
            (unsigned long long)stored_size, (unsigned long long)cp.size);
    return 0;
  }
  if (!v->origin[0]) memcpy(v->origin, cp.origin, sizeof v->origin);
  if (strcmp(cp.origin, v->origin) != 0) {
    finding(v, "checkpoint at size %llu belongs to log \"%s\", not \"%s\" (checkpoint from another log)",
            (unsigned long long)cp.size, cp.origin, v->origin);
    return 0;
  }
  if (v->n_targets >= TARGETS_MAX) return LISEC_ETOOBIG;
  if (v->n_targets == v->cap_targets) {
    size_t cap = v->cap_targets ? v->cap_targets * 2 : 64;
    target *t = realloc(v->targets, cap * sizeof *t);
    if (!t) return LISEC_ENOMEM;
    v->targets = t;
    v->cap_targets = cap;
  }
  target *t = &v->targets[v->n_targets++];
  memset(t, 0, sizeof *t);
  t->size = cp.size;
  memcpy(t->root, cp.root, AUDIT_HASH_LEN);
  t->cp = cp;
  v->any_cp = true;
  if (cp.size > v->max_cp_size) v->max_cp_size = cp.size;
  if (is_rollover) v->key = ro.new_key; /* only a rollover that passed every check */
  audit_checkpoint from;
  bool is_restore = false;
  if (audit_restore_find(note, len, &from, &is_restore, &e) != 0) {
    finding(v, "checkpoint at size %llu: %s", (unsigned long long)cp.size, e.msg);
  } else if (is_restore) {
    /* The backup's checkpoint is a target like any other: the restored
     * log must begin with exactly that history. */
    if (v->n_targets == v->cap_targets) {
      target *nt = realloc(v->targets, v->cap_targets * 2 * sizeof *nt);
      if (!nt) return LISEC_ENOMEM;
      v->targets = nt;
      v->cap_targets *= 2;
    }
    target *b = &v->targets[v->n_targets++];
    memset(b, 0, sizeof *b);
    b->size = from.size;
    memcpy(b->root, from.root, AUDIT_HASH_LEN);
    b->restore_base = true;
    if (!v->restores || from.size < v->restored_from) v->restored_from = from.size;
    v->restores++;
    if (remember_restore(v, &cp) != 0) return LISEC_ENOMEM;
    if (!restore_known(v, &cp)) {
      if (!v->new_restores || from.size < v->new_restored_from) v->new_restored_from = from.size;
      v->new_restores++;
    }
  }
  return 0;
}

/* A seen checkpoint at size beyond a signed restore's base was replaced by
 * that restore, which the log records: a notice, not a rollback. Only a
 * restore this auditor had not seen counts: one it verified before is part
 * of the history it saw, and explains no departure from it. */
static bool replaced_by_restore(audit_verifier *v, uint64_t size) {
  if (!v->new_restores || v->new_restored_from >= size) return false;
  v->seen_replaced = true;
  return true;
}

static int target_cmp(const void *a, const void *b) {
  const target *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? -1 : 1;
  return (int)x->seen - (int)y->seen;
}

static int pending_cmp(const void *a, const void *b) {
  const pending *x = a, *y = b;
  return x->stored_size < y->stored_size ? -1 : x->stored_size > y->stored_size;
}

/* The key the first checkpoint must carry: the pinned key, unless a
 * rollover in the log introduced it, then the key the chain of rollovers
 * leading to it starts from (each link signed by both of its keys, which
 * check_checkpoint verifies on the way forward). */
static void chain_start(audit_verifier *v) {
  audit_vkey first = v->key;
  bool in_chain = false;
  for (size_t i = 0; i < v->n_pend; i++) {
    audit_rollover ro;
    bool found = false;
    lisec_err e = {0};
    if (audit_rollover_find(v->pend[i].note, v->pend[i].len, &ro, &found, &e) || !found) continue;
    if (!in_chain) first = ro.old_key;
    in_chain = true;
    if (audit_vkey_equal(&ro.new_key, &v->key)) {
      v->key = first;
      return;
    }
  }
}

static void check_pending(audit_verifier *v) {
  if (v->n_pend > 1) qsort(v->pend, v->n_pend, sizeof *v->pend, pending_cmp);
  chain_start(v);
  for (size_t i = 0; i < v->n_pend; i++)
    if (check_checkpoint(v, v->pend[i].stored_size, v->pend[i].note, v->pend[i].len) != 0)
      finding(v, "checkpoint filed at size %llu: out of memory or too many checkpoints",
              (unsigned long long)v->pend[i].stored_size);
}

void audit_verifier_current_key(const audit_verifier *v, audit_vkey *out) { *out = v->key; }

static void sort_targets(audit_verifier *v) {
  if (v->sorted) return;
  check_pending(v);
  if (v->n_targets) qsort(v->targets, v->n_targets, sizeof *v->targets, target_cmp);
  /* Begun at a stored frontier: nothing below it can be recomputed here. */
  while (v->next_target < v->n_targets && v->targets[v->next_target].size < v->start) v->next_target++;
  v->sorted = true;
}

int audit_verifier_start_at(audit_verifier *v, const audit_frontier *f) {
  if (v->sorted || v->next_index || v->f.size) return LISEC_EINVAL;
  v->f = *f;
  v->start = v->next_index = v->claimed_end = f->size;
  return 0;
}

/* Compares the root at the current size with every target of that size. */
static void check_targets(audit_verifier *v) {
  uint8_t root[AUDIT_HASH_LEN];
  bool have_root = false;
  while (v->next_target < v->n_targets && v->targets[v->next_target].size == v->f.size) {
    target *t = &v->targets[v->next_target++];
    /* After a gap the entries counted are fewer than the positions: the
     * missing-entries finding already says what happened. */
    if (v->gap) continue;
    if (!have_root) audit_frontier_root(&v->f, root);
    have_root = true;
    if (crypto_ct_equal(root, t->root, AUDIT_HASH_LEN)) {
      if (t->restore_base) continue;
      if (t->seen) v->seen_ok = true;
      if (!t->seen) {
        v->cps_ok++;
        v->newest = t->cp;
        v->have_newest = true;
      }
      v->last_good = t->size;
      continue;
    }
    if (t->restore_base)
      finding(v, "a signed restore names the backup's checkpoint at size %llu, but the log's first %llu "
                 "entries differ from it (restored from something else)",
              (unsigned long long)t->size, (unsigned long long)t->size);
    else if (t->seen && replaced_by_restore(v, t->size))
      continue;
    else if (t->seen)
      finding(v,
              "the log's first %llu entries no longer match the checkpoint this auditor saw at size "
              "%llu: history was rewritten (an older backup restored and extended, or entries changed)",
              (unsigned long long)t->size, (unsigned long long)t->size);
    else
      finding(v,
              "checkpoint at size %llu: the recomputed root differs from the signed root: an entry "
              "at index %llu..%llu was changed, inserted, removed or moved",
              (unsigned long long)t->size, (unsigned long long)v->last_good,
              (unsigned long long)(t->size ? t->size - 1 : 0));
  }
}

void audit_verifier_allow_unsigned(audit_verifier *v) { v->allow_unsigned = true; }

int audit_verifier_add_entry(audit_verifier *v, uint64_t index, const uint8_t *data, size_t len,
                             const uint8_t *stored_leaf_hash, uint8_t *leaf_hash_out) {
  if (!v->sorted) {
    sort_targets(v);
    check_targets(v); /* targets at size 0 */
  }
  if (index != v->next_index) {
    if (index > v->next_index) {
      finding(v, "entries %llu..%llu are missing (deleted)", (unsigned long long)v->next_index,
              (unsigned long long)(index - 1));
      v->gap = true;
    }
    else
      finding(v, "entry %llu appears again after entry %llu (duplicated or reordered)",
              (unsigned long long)index, (unsigned long long)(v->next_index - 1));
  }
  v->next_index = index + 1;
  uint8_t h[AUDIT_HASH_LEN];
  audit_hash_leaf(data, len, h);
  if (leaf_hash_out) memcpy(leaf_hash_out, h, AUDIT_HASH_LEN);
  if (stored_leaf_hash && !crypto_ct_equal(h, stored_leaf_hash, AUDIT_HASH_LEN))
    finding(v, "entry %llu: its data does not match its stored leaf hash (changed after it was written)",
            (unsigned long long)index);
  if (len > 0 && data[0] == AUDIT_ENTRY_PLAIN) {
    audit_record r;
    lisec_err e = {0};
    if (audit_entry_decode(data, len, &r, &e) != 0) {
      finding(v, "entry %llu: malformed: %s", (unsigned long long)index, e.msg);
    } else {
      /* One deletion shifts every later entry: name the first few only. */
      if (r.seq != index && ++v->out_of_place <= OUT_OF_PLACE_NAMED)
        finding(v, "entry %llu: it says it is entry %llu (entries deleted, inserted or reordered)",
                (unsigned long long)index, (unsigned long long)r.seq);
      if (r.li)
        finding(v, "entry %llu: an LI record stored unsealed (TR103308-4.1)", (unsigned long long)index);
      if (r.seq < UINT64_MAX && r.seq + 1 > v->claimed_end) v->claimed_end = r.seq + 1;
      audit_record_clear(&r);
    }
  } else if (len > 0 && data[0] == AUDIT_ENTRY_SEALED) {
    v->sealed++;
    if (len <= 1 + AUDIT_SEAL_OVERHEAD) finding(v, "entry %llu: sealed entry too short", (unsigned long long)index);
  } else {
    finding(v, "entry %llu: not an audit entry (unknown type)", (unsigned long long)index);
  }
  lisec_err e = {0};
  if (audit_frontier_append(&v->f, h, &e) != 0) return LISEC_ETOOBIG;
  check_targets(v);
  return 0;
}

void audit_verifier_sealed_flag(audit_verifier *v, uint64_t index, bool sealed, const uint8_t *data, size_t len) {
  bool is_sealed = len > 0 && data[0] == AUDIT_ENTRY_SEALED;
  if (sealed != is_sealed)
    finding(v, "entry %llu: stored as %s but its data is %s (the store's sealed flag was changed)",
            (unsigned long long)index, sealed ? "sealed" : "not sealed",
            is_sealed ? "sealed to the LI or RD administration" : "a plain record");
}

int audit_verifier_add_leaf(audit_verifier *v, uint64_t index, const uint8_t leaf_hash[AUDIT_HASH_LEN]) {
  if (!v->sorted) {
    sort_targets(v);
    check_targets(v);
  }
  if (index != v->next_index) {
    if (index > v->next_index) {
      finding(v, "entries %llu..%llu are missing (deleted)", (unsigned long long)v->next_index,
              (unsigned long long)(index - 1));
      v->gap = true;
    } else {
      finding(v, "entry %llu appears again after entry %llu (duplicated or reordered)",
              (unsigned long long)index, (unsigned long long)(v->next_index - 1));
    }
  }
  v->next_index = index + 1;
  lisec_err e = {0};
  if (audit_frontier_append(&v->f, leaf_hash, &e) != 0) return LISEC_ETOOBIG;
  check_targets(v);
  return 0;
}

void audit_verifier_finish(audit_verifier *v, audit_verify_summary *out) {
  if (!v->sorted) {
    sort_targets(v);
    check_targets(v);
  }
  uint64_t n = v->f.size;
  /* Where the log ends: past its highest index, or past the highest
   * position an entry claims when entries were deleted and the rest
   * renumbered. Both differ from n only after a finding (a gap, or an entry
   * out of place), so no tampering goes unreported for this. */
  uint64_t end = v->next_index > v->claimed_end ? v->next_index : v->claimed_end;
  if (end < n) end = n;
  for (; v->next_target < v->n_targets; v->next_target++) {
    const target *t = &v->targets[v->next_target];
    if (t->size <= end) continue; /* within the log: missing or moved entries, named above */
    if (t->seen && replaced_by_restore(v, t->size)) continue;
    if (t->seen)
      finding(v,
              "this auditor saw a checkpoint at size %llu but the log holds %llu entries and its "
              "newest valid checkpoint is at size %llu: rolled back (restored from an older backup) "
              "or truncated",
              (unsigned long long)t->size, (unsigned long long)end, (unsigned long long)v->max_cp_size);
    else
      finding(v,
              "checkpoint at size %llu is signed but the log holds only %llu entries: entries "
              "%llu..%llu were removed (truncated)",
              (unsigned long long)t->size, (unsigned long long)end, (unsigned long long)end,
              (unsigned long long)(t->size - 1));
  }
  /* A restore explains missing checkpoints only when it replaced what this
   * auditor saw: with the seen root still the log's, they were removed. */
  if (v->have_seen && v->max_cp_size < v->seen.size && end >= v->seen.size &&
      (v->seen_ok || !replaced_by_restore(v, v->seen.size)))
    finding(v,
            "the newest valid checkpoint in the store is at size %llu, below the size %llu this "
            "auditor saw: checkpoints were removed or restored from an older backup",
            (unsigned long long)v->max_cp_size, (unsigned long long)v->seen.size);
  if (v->out_of_place > OUT_OF_PLACE_NAMED)
    finding(v, "and %llu more entries whose sequence number is not their position",
            (unsigned long long)(v->out_of_place - OUT_OF_PLACE_NAMED));
  if (n > 0 && !v->any_cp && !v->have_seen && !(v->allow_unsigned && !v->any_cp_row))
    finding(v, "no valid signed checkpoint covers the log's %llu entries: nothing vouches for them",
            (unsigned long long)n);
  memset(out, 0, sizeof *out);
  out->entries = n;
  out->sealed = v->sealed;
  out->checkpoints_ok = v->cps_ok;
  out->findings = v->n_findings;
  out->have_newest = v->have_newest;
  if (v->have_newest) out->newest = v->newest;
  out->unsigned_tail = n - (v->have_newest ? v->newest.size : 0);
  out->restores = v->restores;
  out->restored_from = v->restored_from;
  out->seen_replaced = v->seen_replaced;
}
