/* lisecd --witness-reset [--yes], which `lisec audit witness-reset` runs:
 * the operator's reset of the audit log's witness (keys/witness.h) after
 * `lisec restore` or before a new log under the same key. It shows where
 * the state is and what it holds (the size and the start of the root of
 * the last checkpoint the keys process signed), removes it only when --yes
 * says so, and says what follows: the next checkpoint lisecd signs is
 * trusted on first use, and lisecd records that in the audit log
 * ("audit.witness", "first_use"). The token is reached as the keys process
 * reaches it ([audit] pkcs11_module, token, pin_file, key_label). Exit
 * status: 0 removed (or nothing to remove), 1 not confirmed (nothing
 * removed), 2 an error (nothing removed). */
#include <stdio.h>

#include "keys/keys.h"
#include "lisecd.h"

static void show(const keys_witness_info *w) {
  if (w->have)
    printf("audit witness (%s): the last checkpoint the keys process signed is "
           "at size %llu, root "
           "%02x%02x%02x%02x%02x%02x%02x%02x..., %s%s%s\n",
           w->where, (unsigned long long)w->size, w->root[0], w->root[1],
           w->root[2], w->root[3], w->root[4], w->root[5], w->root[6],
           w->root[7], w->origin[0] ? "of the log \"" : "",
           w->origin[0] ? w->origin
                        : "of a log it does not name yet (a state kept "
                          "before the origin was: the next checkpoint names it)",
           w->origin[0] ? "\"" : "");
  else if (w->damaged)
    printf("audit witness (%s): there but damaged: %s\n", w->where,
           w->damaged_why);
  else
    printf("audit witness (%s): absent: the next checkpoint is trusted on "
           "first use already\n",
           w->where);
}

int lisecd_witness_reset(const lisec_config *cfg, bool yes) {
  keys_witness_info w;
  lisec_err err = {0};
  if (keys_witness_config(cfg, false, &w, &err) != 0) {
    fprintf(stderr, "lisecd: witness-reset: %s; nothing was removed\n",
            err.msg);
    return 2;
  }
  show(&w);
  if (!w.have && !w.damaged)
    return 0;
  if (!yes) {
    fprintf(stderr, "lisecd: witness-reset: nothing was removed: give --yes to "
                    "remove it (after checking the log, "
                    "lisec audit verify --db; with lisecd stopped)\n");
    return 1;
  }
  keys_witness_info again;
  if (keys_witness_config(cfg, true, &again, &err) != 0) {
    fprintf(stderr, "lisecd: witness-reset: %s\n", err.msg);
    return 2;
  }
  printf("removed: the next checkpoint lisecd signs is trusted on first use "
         "(TR103308-5.5) and recorded in the "
         "audit log (audit.witness, first_use); from then on the keys process "
         "signs only checkpoints that "
         "extend it\n");
  return 0;
}
