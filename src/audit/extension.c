/* The extension lines lisec adds to a checkpoint's body, after the root.
 * Key rollover (issue 21 item 5): "lisec-key-rollover <old vkey> <new
 * vkey>", and the checkpoint is signed by both keys, as C2SP signed notes
 * allow several signatures over one text. A verifier that pinned the old
 * key checks the old key's signature, then the new key's, and from then on
 * expects the new key; one that pinned the new key finds, in the rollover
 * that the new key signed, which key came before it. The old key names
 * itself in the line so that the whole chain of keys is in the log.
 * Restore (issue 21 item 4): "lisec-restored-from <size> <base64 root>", the
 * newest checkpoint of the backup the store was restored from, signed by the
 * log's key in the first checkpoint after the restore: history after that
 * size was replaced, and the log says so. */
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "crypto/crypto.h"

#define ROLLOVER_TAG "lisec-key-rollover"
#define RESTORE_TAG "lisec-restored-from"

static bool same_key(const audit_vkey *a, const audit_vkey *b) {
  return a->id == b->id && strcmp(a->name, b->name) == 0 && memcmp(a->pk, b->pk, sizeof a->pk) == 0;
}

bool audit_vkey_equal(const audit_vkey *a, const audit_vkey *b) { return same_key(a, b); }

#define EXT_VALUE_MAX 2048

/* The two space-separated fields after "<tag> " of the body's one extension
 * line with that tag (*found false when there is none; EINVAL for two such
 * lines or another shape). The body's lines run to the first blank line;
 * the first three are the checkpoint's own. */
static int ext_find(const char *note, size_t len, const char *tag, char a[EXT_VALUE_MAX], char b[EXT_VALUE_MAX],
                    bool *found, lisec_err *err) {
  *found = false;
  if (len > AUDIT_NOTE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "signed note over %d bytes", AUDIT_NOTE_MAX);
  const char *p = note, *end = note + len;
  size_t tl = strlen(tag);
  for (int line = 0; p < end && *p != '\n'; line++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    if (line >= 3 && (size_t)(nl - p) > tl + 1 && memcmp(p, tag, tl) == 0 && p[tl] == ' ') {
      if (*found) return lisec_err_set(err, LISEC_EINVAL, "checkpoint has two \"%s\" lines", tag);
      const char *f = p + tl + 1, *sp = memchr(f, ' ', (size_t)(nl - f));
      size_t l1 = sp ? (size_t)(sp - f) : 0, l2 = sp ? (size_t)(nl - sp - 1) : 0;
      if (!sp || l1 == 0 || l2 == 0 || l1 >= EXT_VALUE_MAX || l2 >= EXT_VALUE_MAX || memchr(sp + 1, ' ', l2))
        return lisec_err_set(err, LISEC_EINVAL, "checkpoint line \"%s\" does not have two fields", tag);
      memcpy(a, f, l1), a[l1] = '\0';
      memcpy(b, sp + 1, l2), b[l2] = '\0';
      *found = true;
    }
    p = nl + 1;
  }
  return 0;
}

/* The checkpoint body with one extension line "<tag> <a> <b>" (*text malloc'd). */
static int ext_text(const audit_checkpoint *cp, const char *tag, const char *a, const char *b, char **text,
                    lisec_err *err) {
  char *root = NULL;
  if (crypto_base64_encode(cp->root, AUDIT_HASH_LEN, &root) != 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int n = asprintf(text, "%s\n%llu\n%s\n%s %s %s\n", cp->origin, (unsigned long long)cp->size, root, tag, a, b);
  free(root);
  if (n < 0) {
    *text = NULL;
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  return 0;
}

int audit_rollover_find(const char *note, size_t len, audit_rollover *out, bool *found, lisec_err *err) {
  char k1[EXT_VALUE_MAX], k2[EXT_VALUE_MAX];
  int rc = ext_find(note, len, ROLLOVER_TAG, k1, k2, found, err);
  if (rc || !*found) return rc;
  *found = false;
  if (audit_vkey_parse(k1, &out->old_key, err) || audit_vkey_parse(k2, &out->new_key, err))
    return lisec_err_wrap(err, "key rollover line");
  if (same_key(&out->old_key, &out->new_key)) return lisec_err_set(err, LISEC_EINVAL, "key rollover to the same key");
  *found = true;
  return 0;
}

int audit_restore_find(const char *note, size_t len, audit_checkpoint *from, bool *found, lisec_err *err) {
  char size[EXT_VALUE_MAX], root[EXT_VALUE_MAX];
  int rc = ext_find(note, len, RESTORE_TAG, size, root, found, err);
  if (rc || !*found) return rc;
  *found = false;
  /* the same shape as a checkpoint's own size and root lines */
  char *body = NULL;
  if (asprintf(&body, "-\n%s\n%s\n", size, root) < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = audit_checkpoint_parse(body, strlen(body), from, err);
  free(body);
  if (rc) return lisec_err_wrap(err, "restore line");
  from->origin[0] = '\0';
  *found = true;
  return 0;
}

int audit_note_sign_restore(const audit_checkpoint *cp, const audit_checkpoint *from, const audit_vkey *key,
                            audit_sign_fn sign, void *ctx, char **note, lisec_err *err) {
  char *root = NULL, *text = NULL, size[24];
  if (from->size > cp->size) return lisec_err_set(err, LISEC_EINVAL, "restored from beyond the log's size");
  if (crypto_base64_encode(from->root, AUDIT_HASH_LEN, &root) != 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  snprintf(size, sizeof size, "%llu", (unsigned long long)from->size);
  int rc = ext_text(cp, RESTORE_TAG, size, root, &text, err);
  if (!rc) rc = audit_note_sign_text(text, strlen(text), key, sign, ctx, note, err);
  free(root), free(text);
  return rc;
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
  char *k1 = NULL, *k2 = NULL, *text = NULL, *second = NULL;
  if (same_key(old_key, new_key)) return lisec_err_set(err, LISEC_EINVAL, "key rollover to the same key");
  int rc = audit_vkey_format(old_key, &k1, err);
  if (!rc) rc = audit_vkey_format(new_key, &k2, err);
  if (!rc) rc = ext_text(cp, ROLLOVER_TAG, k1, k2, &text, err);
  size_t n = text ? strlen(text) : 0;
  if (!rc) rc = audit_note_sign_text(text, n, old_key, old_sign, old_ctx, note, err);
  if (!rc) rc = audit_note_sign_text(text, n, new_key, new_sign, new_ctx, &second, err);
  if (!rc) rc = add_signature(note, second, n, err);
  if (rc && *note) {
    free(*note);
    *note = NULL;
  }
  free(k1), free(k2), free(text), free(second);
  return rc;
}
