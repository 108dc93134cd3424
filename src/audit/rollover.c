/* Checkpoint key rollover (issue 21 item 5). A new checkpoint key is
 * introduced by one checkpoint that carries the extension line
 * "lisec-key-rollover <old vkey> <new vkey>" and is signed by both keys, as
 * C2SP signed notes allow several signatures over one text. A verifier that
 * pinned the old key checks the old key's signature, then the new key's, and
 * from then on expects the new key; one that pinned the new key finds, in the
 * rollover that the new key signed, which key came before it. The old key
 * names itself in the line so that the whole chain of keys is in the log. */
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "crypto/crypto.h"

#define ROLLOVER_TAG "lisec-key-rollover "

static bool same_key(const audit_vkey *a, const audit_vkey *b) {
  return a->id == b->id && strcmp(a->name, b->name) == 0 && memcmp(a->pk, b->pk, sizeof a->pk) == 0;
}

bool audit_vkey_equal(const audit_vkey *a, const audit_vkey *b) { return same_key(a, b); }

int audit_rollover_find(const char *note, size_t len, audit_rollover *out, bool *found, lisec_err *err) {
  *found = false;
  if (len > AUDIT_NOTE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "signed note over %d bytes", AUDIT_NOTE_MAX);
  /* The body's lines run to the first blank line; the first three are the
   * checkpoint's own, extension lines follow. */
  const char *p = note, *end = note + len;
  for (int line = 0; p < end && *p != '\n'; line++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    size_t n = (size_t)(nl - p), tag = strlen(ROLLOVER_TAG);
    if (line >= 3 && n > tag && memcmp(p, ROLLOVER_TAG, tag) == 0) {
      if (*found) return lisec_err_set(err, LISEC_EINVAL, "checkpoint names two key rollovers");
      const char *a = p + tag, *sp = memchr(a, ' ', (size_t)(nl - a));
      char k1[1024], k2[1024];
      size_t l1 = sp ? (size_t)(sp - a) : 0, l2 = sp ? (size_t)(nl - sp - 1) : 0;
      if (!sp || l1 == 0 || l2 == 0 || l1 >= sizeof k1 || l2 >= sizeof k2)
        return lisec_err_set(err, LISEC_EINVAL, "key rollover line is not \"" ROLLOVER_TAG "<old key> <new key>\"");
      memcpy(k1, a, l1), k1[l1] = '\0';
      memcpy(k2, sp + 1, l2), k2[l2] = '\0';
      if (audit_vkey_parse(k1, &out->old_key, err) || audit_vkey_parse(k2, &out->new_key, err))
        return lisec_err_wrap(err, "key rollover line");
      if (same_key(&out->old_key, &out->new_key))
        return lisec_err_set(err, LISEC_EINVAL, "key rollover to the same key");
      *found = true;
    }
    p = nl + 1;
  }
  return 0;
}

/* Appends the signature line of signed (a note over the same text) to note. */
static int add_signature(char **note, const char *signed_note, size_t text_len, lisec_err *err) {
  const char *line = signed_note + text_len + 1; /* past the text and its blank line */
  size_t have = strlen(*note), more = strlen(line);
  char *s = realloc(*note, have + more + 1);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  memcpy(s + have, line, more + 1);
  *note = s;
  return 0;
}

int audit_note_sign_rollover(const audit_checkpoint *cp, const audit_vkey *old_key, audit_sign_fn old_sign,
                             void *old_ctx, const audit_vkey *new_key, audit_sign_fn new_sign, void *new_ctx,
                             char **note, lisec_err *err) {
  char *root = NULL, *k1 = NULL, *k2 = NULL, *text = NULL, *second = NULL;
  int rc = 0;
  if (same_key(old_key, new_key)) return lisec_err_set(err, LISEC_EINVAL, "key rollover to the same key");
  if (crypto_base64_encode(cp->root, AUDIT_HASH_LEN, &root) != 0) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = audit_vkey_format(old_key, &k1, err);
  if (!rc) rc = audit_vkey_format(new_key, &k2, err);
  if (!rc && asprintf(&text, "%s\n%llu\n%s\n" ROLLOVER_TAG "%s %s\n", cp->origin, (unsigned long long)cp->size,
                      root, k1, k2) < 0) {
    text = NULL;
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  size_t n = text ? strlen(text) : 0;
  if (!rc) rc = audit_note_sign_text(text, n, old_key, old_sign, old_ctx, note, err);
  if (!rc) rc = audit_note_sign_text(text, n, new_key, new_sign, new_ctx, &second, err);
  if (!rc) rc = add_signature(note, second, n, err);
  if (rc && *note) {
    free(*note);
    *note = NULL;
  }
  free(root), free(k1), free(k2), free(text), free(second);
  return rc;
}
