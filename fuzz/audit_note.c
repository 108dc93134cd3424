/* Fuzzes the C2SP signed-note and checkpoint parsers (audit/note.c) with
 * whatever a database row or a network reply could hold: parsing must stay
 * within bounds, and anything accepted must be well-formed (a non-empty
 * origin, a size in range, a note that verifies again byte for byte). The
 * verifier key is the fixed one whose checkpoints the seeds carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

#define SEED_VKEY "lisec.test/audit+9d073a24+AbLE6m/9yOGUYEykQWYRBPZNygbgP4ALge/Phsn8hczw"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static audit_vkey key;
  static int ready;
  lisec_err err = {0};
  if (!ready) {
    if (audit_vkey_parse(SEED_VKEY, &key, &err) != 0) abort();
    ready = 1;
  }
  const char *text = (const char *)data;
  audit_checkpoint cp;
  if (audit_note_open(text, size, &key, &cp, &err) == 0) {
    if (!cp.origin[0] || cp.size > AUDIT_SIZE_MAX) abort();
    audit_checkpoint again;
    if (audit_note_open(text, size, &key, &again, &err) != 0 || memcmp(&cp, &again, sizeof cp) != 0) abort();
  }
  size_t text_len = 0;
  if (audit_note_verify(text, size, &key, &text_len, &err) == 0 && text_len > size) abort();
  if (audit_checkpoint_parse(text, size, &cp, &err) == 0 && !cp.origin[0]) abort();
  /* The extension lines lisec writes: a key rollover names two different
   * keys; a restore names a size within the bound. */
  audit_rollover ro;
  bool found = false;
  if (audit_rollover_find(text, size, &ro, &found, &err) == 0 && found && audit_vkey_equal(&ro.old_key, &ro.new_key))
    abort();
  if (audit_restore_find(text, size, &cp, &found, &err) == 0 && found && cp.size > AUDIT_SIZE_MAX) abort();
  /* The same bytes as a verifier key (a NUL-terminated copy). */
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  audit_vkey k;
  if (audit_vkey_parse(s, &k, &err) == 0) {
    char *round = NULL;
    if (audit_vkey_format(&k, &round, &err) != 0) abort();
    audit_vkey k2;
    if (audit_vkey_parse(round, &k2, &err) != 0 || k2.id != k.id || memcmp(k2.pk, k.pk, 32) != 0) abort();
    free(round);
  }
  free(s);
  return 0;
}
