/* Where the audit log's witness (witness.h) keeps the last checkpoint it
 * signed, inside the keys module only: the state's two forms (a private
 * token object; the development file), how each is read, and how a new
 * state is written so that two keys processes sharing it cannot both move
 * it from one state to two conflicting ones: a compare on write in the
 * token (create, read again, keep only if nothing else changed), an
 * exclusive lock on the development file (witness_state.c). */
#ifndef LISEC_KEYS_WITNESS_STATE_H
#define LISEC_KEYS_WITNESS_STATE_H

#include "keys/witness.h"

#define KEYS_WITNESS_OBJECTS_MAX 8 /* objects under the label: 1; more while keys processes race, or after a stop */

/* A state: the last signed checkpoint's size, root and origin. origin ""
 * is a state of the first form (before the origin was kept): the next
 * checkpoint admitted against its size and root binds it. */
typedef struct keys_wstate {
  bool have;
  uint64_t size;
  uint8_t root[AUDIT_HASH_LEN];
  char origin[AUDIT_ORIGIN_MAX + 1];
} keys_wstate;

struct keys_witness {
  CK_FUNCTION_LIST_PTR fn; /* NULL: the development file */
  CK_SESSION_HANDLE s;
  char *label, *path;
  int lock_fd; /* the development file's lock while held, else -1 */
  /* the token objects the last keys_wstate_read saw (the compare on write) */
  CK_OBJECT_HANDLE seen[KEYS_WITNESS_OBJECTS_MAX];
  CK_ULONG n_seen;
};

/* The state now. Refused: a state that is there but unreadable (EDENIED,
 * "damaged": never taken for none); token objects that do not form one
 * line of states, as while two keys processes write at once (ECONFLICT). */
int keys_wstate_read(keys_witness *w, keys_wstate *st, lisec_err *err);
/* Moves the state from base (what keys_wstate_read returned just before,
 * the lock held) to next. In the token ECONFLICT, with nothing changed,
 * when another keys process wrote or removed a state meanwhile. */
int keys_wstate_write(keys_witness *w, const keys_wstate *base, const keys_wstate *next, lisec_err *err);
/* The development file's lock around a read and its write (a no-op in a
 * token, where the write compares); unlock is safe when not held. */
int keys_wstate_lock(keys_witness *w, lisec_err *err);
void keys_wstate_unlock(keys_witness *w);
/* Test builds only: when the file LISEC_TEST_WITNESS_HOLD names exists,
 * the first caller takes it (renamed "<file>.held") and waits while that
 * is there; the development lock, when it must wait, makes
 * "<file>.waiting". */
void keys_wstate_test_hold(void);
/* Every state removed (the operator's reset). */
int keys_wstate_remove(keys_witness *w, lisec_err *err);

#endif
