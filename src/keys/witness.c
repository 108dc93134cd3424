/* The audit log's witness (witness.h): what it signs. A checkpoint note
 * is admitted against the last one signed (witness_state.c keeps it): the
 * same origin, then a tree that a verified consistency proof shows to
 * extend it; the new state is written before the caller signs. A state of
 * the first form, kept before the origin was, is judged by its size and
 * root as before, and the first note admitted against them binds its
 * origin: a note of another log cannot pass that check (its tree does not
 * extend this one), so nothing is signed that the first form would not
 * have signed. */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/witness_state.h"

static keys_witness *witness_new(const char *label, const char *path, lisec_err *err) {
  keys_witness *w = calloc(1, sizeof *w);
  if (w) w->lock_fd = -1;
  if (!w || (label && !(w->label = strdup(label))) || (path && !(w->path = strdup(path)))) {
    if (w) free(w->label);
    free(w);
    lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return NULL;
  }
  return w;
}

int keys_witness_open_pkcs11(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, keys_witness **out,
                             lisec_err *err) {
  keys_witness *w = witness_new(label, NULL, err);
  if (!w) return LISEC_ENOMEM;
  w->fn = fn;
  w->s = s;
  *out = w;
  return 0;
}

int keys_witness_open_file(const char *path, keys_witness **out, lisec_err *err) {
  keys_witness *w = witness_new(NULL, path, err);
  if (!w) return LISEC_ENOMEM;
  *out = w;
  return 0;
}

void keys_witness_close(keys_witness *w) {
  if (!w) return;
  keys_wstate_unlock(w);
  free(w->label);
  free(w->path);
  free(w);
}

int keys_witness_state(keys_witness *w, bool *have, uint64_t *size, uint8_t root[AUDIT_HASH_LEN], lisec_err *err) {
  keys_wstate st;
  int rc = keys_wstate_read(w, &st, err);
  *have = !rc && st.have;
  *size = *have ? st.size : 0;
  if (*have) memcpy(root, st.root, AUDIT_HASH_LEN);
  else memset(root, 0, AUDIT_HASH_LEN);
  return rc;
}

int keys_witness_origin(keys_witness *w, char origin[AUDIT_ORIGIN_MAX + 1], lisec_err *err) {
  keys_wstate st;
  int rc = keys_wstate_read(w, &st, err);
  memcpy(origin, rc ? "" : st.origin, rc ? 1 : sizeof st.origin);
  return rc;
}

static int refuse(lisec_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(lisec_err *err, const char *fmt, ...) {
  char why[LISEC_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return lisec_err_set(err, LISEC_EDENIED,
                       KEYS_WITNESS_REQ ": the keys process does not sign this checkpoint: %s (a rewritten, forked "
                       "or rolled back audit log, or a controller not to be trusted)",
                       why);
}

/* The judgement, with the state st read; *move: st is to become cp. */
static int judge(const keys_wstate *st, const audit_checkpoint *cp, uint64_t old_size, const uint8_t *proof,
                 size_t proof_len, bool *move, lisec_err *err) {
  *move = false;
  if (!st->have) {
    /* No state, and the controller proves from one: it was removed since
     * the controller asked (an operator's reset while lisecd runs). The
     * controller asks again, learns of the reset and records its first
     * use (audit.witness, first_use) rather than have it pass unseen. */
    if (old_size)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           KEYS_WITNESS_REQ ": the consistency proof starts at size %llu, but the keys process holds "
                           "no last signed checkpoint (an operator reset it): ask again",
                           (unsigned long long)old_size);
    LOG_WARN("audit witness: no checkpoint was signed before; the one of \"%s\" at size %llu is trusted on first use "
             "(a fresh log, an upgrade, or a reset after lisec restore)",
             cp->origin, (unsigned long long)cp->size);
    *move = true;
    return 0;
  }
  if (st->origin[0] && strcmp(st->origin, cp->origin) != 0)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the keys process witnesses the audit log \"%s\" and does not sign a "
                         "checkpoint of \"%s\": another log under the same key is judged against nothing of its "
                         "own (give each log its own [audit] key_label; after an [audit] origin was changed on "
                         "purpose, an operator who checked the log resets the witness: lisec audit witness-reset)",
                         st->origin, cp->origin);
  if (cp->size < st->size)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the keys process last signed a checkpoint at size %llu, beyond this "
                         "log's %llu, and signs no tree smaller than that: the store was rolled back or restored "
                         "(after lisec restore an operator who checked it resets the witness, docs/audit.md), or "
                         "the log was rewritten, or the controller is not to be trusted",
                         (unsigned long long)st->size, (unsigned long long)cp->size);
  if (old_size != st->size)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         KEYS_WITNESS_REQ ": the consistency proof starts at size %llu, but the last checkpoint "
                         "signed is at size %llu: prove from there",
                         (unsigned long long)old_size, (unsigned long long)st->size);
  if (cp->size == st->size && sodium_memcmp(cp->root, st->root, AUDIT_HASH_LEN) != 0)
    return refuse(err, "its tree of %llu entries has another root than the checkpoint it signed at that size",
                  (unsigned long long)cp->size);
  audit_proof p;
  lisec_err perr = {0};
  p.len = proof_len;
  if (proof_len) memcpy(p.hash, proof, proof_len * AUDIT_HASH_LEN);
  if (audit_verify_consistency(st->size, cp->size, st->root, cp->root, &p, &perr) != 0)
    return refuse(err, "its tree of %llu entries is not shown to extend the %llu it signed last (%s)",
                  (unsigned long long)cp->size, (unsigned long long)st->size, perr.msg);
  /* the same checkpoint again (a rollover's second signature) moves
   * nothing, unless the state's first form is to take the origin now */
  *move = cp->size > st->size || !st->origin[0];
  return 0;
}

int keys_witness_admit(keys_witness *w, const uint8_t *msg, size_t len, uint64_t old_size, const uint8_t *proof,
                       size_t proof_len, lisec_err *err) {
  audit_checkpoint cp;
  lisec_err perr = {0};
  if (len > AUDIT_NOTE_MAX / 2 || audit_checkpoint_parse((const char *)msg, len, &cp, &perr) != 0)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the keys process signs only audit checkpoints, and this is none (%s)",
                         len > AUDIT_NOTE_MAX / 2 ? "too long" : perr.msg);
  if (proof_len > AUDIT_PROOF_MAX) return refuse(err, "a proof of %zu hashes (at most %d)", proof_len, AUDIT_PROOF_MAX);
  /* read, judge and write as one step: under the development file's lock;
   * in a token the write compares (witness_state.c) */
  keys_wstate st, next = {.have = true, .size = cp.size};
  bool move = false;
  int rc = keys_wstate_lock(w, err);
  if (!rc) rc = keys_wstate_read(w, &st, err);
  if (!rc) rc = judge(&st, &cp, old_size, proof, proof_len, &move, err);
  if (!rc && move) {
    memcpy(next.root, cp.root, AUDIT_HASH_LEN);
    memcpy(next.origin, cp.origin, sizeof next.origin);
    keys_wstate_test_hold();
    rc = keys_wstate_write(w, &st, &next, err);
  }
  keys_wstate_unlock(w);
  return rc;
}

int keys_witness_reset(keys_witness *w, lisec_err *err) { return keys_wstate_remove(w, err); }
