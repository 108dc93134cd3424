/* The audit log's witness (witness.h). The state is 8 bytes of tree size
 * (big-endian) and the 32-byte root: in the token as the CKA_VALUE of a
 * private CKO_DATA token object; in the development file as the line
 * "<size> <64 hex digits>\n", replaced atomically. A state that is there
 * but cannot be read or parsed is never taken for "none": that would make
 * the next checkpoint trusted on first use. A token need not let a data
 * object's value change (SoftHSM2 does not), so each move makes a new
 * object and then destroys the old ones; a stop between the two leaves
 * both, and the larger size is the state (sizes only grow). */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/p11.h"
#include "keys/witness.h"

#define STATE_LEN (8 + AUDIT_HASH_LEN)
#define FILE_LEN (20 + 1 + 2 * AUDIT_HASH_LEN + 1)
#define OBJECTS_MAX 4 /* objects under the label: 1, or 2 after a stop mid-move */

struct keys_witness {
  CK_FUNCTION_LIST_PTR fn; /* NULL: the development file */
  CK_SESSION_HANDLE s;
  char *label, *path;
};

static int fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[audit] witness", what, rv); }

int keys_witness_open_pkcs11(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, keys_witness **out,
                             lisec_err *err) {
  keys_witness *w = calloc(1, sizeof *w);
  if (!w || !(w->label = strdup(label))) {
    free(w);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  w->fn = fn;
  w->s = s;
  *out = w;
  return 0;
}

int keys_witness_open_file(const char *path, keys_witness **out, lisec_err *err) {
  keys_witness *w = calloc(1, sizeof *w);
  if (!w || !(w->path = strdup(path))) {
    free(w);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *out = w;
  return 0;
}

void keys_witness_close(keys_witness *w) {
  if (!w) return;
  free(w->label);
  free(w->path);
  free(w);
}

/* The state objects (*n of them, at most OBJECTS_MAX: more are refused). */
static int find(keys_witness *w, CK_OBJECT_HANDLE h[OBJECTS_MAX], CK_ULONG *n, lisec_err *err) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_LABEL, w->label, strlen(w->label)}};
  CK_OBJECT_HANDLE found[OBJECTS_MAX + 1];
  *n = 0;
  CK_RV rv = w->fn->C_FindObjectsInit(w->s, tmpl, LISEC_ARRAY_LEN(tmpl));
  if (rv == CKR_OK) {
    rv = w->fn->C_FindObjects(w->s, found, LISEC_ARRAY_LEN(found), n);
    w->fn->C_FindObjectsFinal(w->s);
  }
  if (rv != CKR_OK) return fail(err, "C_FindObjects (the audit witness state)", rv);
  if (*n > OBJECTS_MAX)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the token holds more than %d audit witness states \"%s\": which one "
                         "is the last signed checkpoint is not for lisecd to guess, so nothing is signed; keep the "
                         "newest (pkcs11-tool --list-objects --type data lists them)",
                         OBJECTS_MAX, w->label);
  memcpy(h, found, *n * sizeof *h);
  return 0;
}

static void encode(uint64_t size, const uint8_t root[AUDIT_HASH_LEN], uint8_t out[STATE_LEN]) {
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(size >> (56 - 8 * i));
  memcpy(out + 8, root, AUDIT_HASH_LEN);
}

static int damaged(const keys_witness *w, lisec_err *err) {
  return lisec_err_set(err, LISEC_EDENIED,
                       KEYS_WITNESS_REQ ": the audit witness state %s%s%s is damaged; nothing is signed until an "
                       "operator who checked the log (lisec audit verify) removes it, so that the next "
                       "checkpoint is trusted on first use",
                       w->path ? w->path : "\"", w->path ? "" : w->label, w->path ? "" : "\"");
}

/* One object's state. */
static int read_one(keys_witness *w, CK_OBJECT_HANDLE h, uint64_t *size, uint8_t root[AUDIT_HASH_LEN],
                    lisec_err *err) {
  uint8_t v[STATE_LEN + 1];
  CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof v};
  CK_RV rv = w->fn->C_GetAttributeValue(w->s, h, &a, 1);
  if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) return fail(err, "C_GetAttributeValue (the audit witness state)", rv);
  if (rv != CKR_OK || a.ulValueLen != STATE_LEN) return damaged(w, err);
  *size = 0;
  for (int i = 0; i < 8; i++) *size = *size << 8 | v[i];
  memcpy(root, v + 8, AUDIT_HASH_LEN);
  return *size <= AUDIT_SIZE_MAX ? 0 : damaged(w, err);
}

static int state_token(keys_witness *w, bool *have, uint64_t *size, uint8_t root[AUDIT_HASH_LEN], lisec_err *err) {
  CK_OBJECT_HANDLE h[OBJECTS_MAX];
  CK_ULONG n = 0;
  int rc = find(w, h, &n, err);
  for (CK_ULONG i = 0; !rc && i < n; i++) {
    uint64_t sz = 0;
    uint8_t r[AUDIT_HASH_LEN];
    if ((rc = read_one(w, h[i], &sz, r, err))) break;
    if (*have && sz == *size && sodium_memcmp(r, root, AUDIT_HASH_LEN) != 0) rc = damaged(w, err);
    if (!*have || sz > *size) memcpy(root, r, AUDIT_HASH_LEN), *size = sz;
    *have = true;
  }
  return rc;
}

static int state_file(keys_witness *w, bool *have, uint64_t *size, uint8_t root[AUDIT_HASH_LEN], lisec_err *err) {
  if (access(w->path, F_OK) != 0 && errno == ENOENT) return 0;
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = lisec_file_read(w->path, FILE_LEN + 1, &text, &len, err);
  if (rc) return damaged(w, err);
  const char *t = (const char *)text, *sp = memchr(t, ' ', len);
  int64_t v = 0;
  char hex[2 * AUDIT_HASH_LEN + 1];
  bool ok = sp && len == (size_t)(sp - t) + 1 + 2 * AUDIT_HASH_LEN + 1 && t[len - 1] == '\n' &&
            lisec_decimal(t, (size_t)(sp - t), 0, (int64_t)AUDIT_SIZE_MAX, &v) && t[0] != '+' && t[0] != '-';
  if (ok) {
    memcpy(hex, sp + 1, 2 * AUDIT_HASH_LEN);
    hex[2 * AUDIT_HASH_LEN] = '\0';
    ok = lisec_hex_decode(hex, root, AUDIT_HASH_LEN) == 0;
  }
  free(text);
  if (!ok) return damaged(w, err);
  *size = (uint64_t)v;
  *have = true;
  return 0;
}

int keys_witness_state(keys_witness *w, bool *have, uint64_t *size, uint8_t root[AUDIT_HASH_LEN], lisec_err *err) {
  *have = false;
  *size = 0;
  memset(root, 0, AUDIT_HASH_LEN);
  return w->fn ? state_token(w, have, size, root, err) : state_file(w, have, size, root, err);
}

static int record(keys_witness *w, uint64_t size, const uint8_t root[AUDIT_HASH_LEN], lisec_err *err) {
  if (!w->fn) {
    char line[FILE_LEN + 1], hex[2 * AUDIT_HASH_LEN + 1];
    lisec_hex_encode(root, AUDIT_HASH_LEN, hex);
    int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)size, hex);
    return lisec_file_write_atomic(w->path, line, (size_t)n, 0600, err);
  }
  uint8_t v[STATE_LEN];
  encode(size, root, v);
  CK_OBJECT_HANDLE old[OBJECTS_MAX], h = 0;
  CK_ULONG n = 0;
  int rc = find(w, old, &n, err);
  if (rc) return rc;
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  static const char app[] = "lisec audit witness";
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_LABEL, w->label, strlen(w->label)},
                         {CKA_APPLICATION, (void *)app, sizeof app - 1},
                         {CKA_VALUE, v, sizeof v}};
  CK_RV rv = w->fn->C_CreateObject(w->s, tmpl, LISEC_ARRAY_LEN(tmpl), &h);
  if (rv != CKR_OK) return fail(err, "C_CreateObject (the audit witness state)", rv);
  /* the new one is there: the old ones may go (one left over is harmless) */
  for (CK_ULONG i = 0; i < n; i++)
    if ((rv = w->fn->C_DestroyObject(w->s, old[i])) != CKR_OK)
      LOG_WARN("audit witness: an older state object could not be destroyed (%s); the newest is used",
               keys_p11_rv_name(rv));
  return 0;
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

int keys_witness_admit(keys_witness *w, const uint8_t *msg, size_t len, uint64_t old_size, const uint8_t *proof,
                       size_t proof_len, lisec_err *err) {
  audit_checkpoint cp;
  lisec_err perr = {0};
  if (len > AUDIT_NOTE_MAX / 2 || audit_checkpoint_parse((const char *)msg, len, &cp, &perr) != 0)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the keys process signs only audit checkpoints, and this is none (%s)",
                         len > AUDIT_NOTE_MAX / 2 ? "too long" : perr.msg);
  if (proof_len > AUDIT_PROOF_MAX) return refuse(err, "a proof of %zu hashes (at most %d)", proof_len, AUDIT_PROOF_MAX);
  bool have = false;
  uint64_t size = 0;
  uint8_t root[AUDIT_HASH_LEN];
  int rc = keys_witness_state(w, &have, &size, root, err);
  if (rc) return rc;
  if (!have) {
    LOG_WARN("audit witness: no checkpoint was signed before; the one at size %llu is trusted on first use "
             "(a fresh log, an upgrade, or a reset after lisec restore)",
             (unsigned long long)cp.size);
    return record(w, cp.size, cp.root, err);
  }
  if (cp.size < size)
    return refuse(err, "its tree of %llu entries is smaller than the %llu of the last checkpoint it signed",
                  (unsigned long long)cp.size, (unsigned long long)size);
  if (old_size != size)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         KEYS_WITNESS_REQ ": the consistency proof starts at size %llu, but the last checkpoint "
                         "signed is at size %llu: prove from there",
                         (unsigned long long)old_size, (unsigned long long)size);
  if (cp.size == size && sodium_memcmp(cp.root, root, AUDIT_HASH_LEN) != 0)
    return refuse(err, "its tree of %llu entries has another root than the checkpoint it signed at that size",
                  (unsigned long long)cp.size);
  audit_proof p;
  p.len = proof_len;
  if (proof_len) memcpy(p.hash, proof, proof_len * AUDIT_HASH_LEN);
  if (audit_verify_consistency(size, cp.size, root, cp.root, &p, &perr) != 0)
    return refuse(err, "its tree of %llu entries is not shown to extend the %llu it signed last (%s)",
                  (unsigned long long)cp.size, (unsigned long long)size, perr.msg);
  if (cp.size == size) return 0; /* the same checkpoint again (a rollover's second signature) */
  return record(w, cp.size, cp.root, err);
}

int keys_witness_reset(keys_witness *w, lisec_err *err) {
  if (!w->fn) {
    if (unlink(w->path) != 0 && errno != ENOENT)
      return lisec_err_set(err, LISEC_EIO, "the audit witness state %s cannot be removed: %s", w->path,
                           strerror(errno));
    return 0;
  }
  /* Every object under the label, however many a damaged token holds (the
   * state refuses more than OBJECTS_MAX); in rounds, bounded. */
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_LABEL, w->label, strlen(w->label)}};
  for (int round = 0; round < 64; round++) {
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n = 0;
    CK_RV rv = w->fn->C_FindObjectsInit(w->s, tmpl, LISEC_ARRAY_LEN(tmpl));
    if (rv == CKR_OK) {
      rv = w->fn->C_FindObjects(w->s, h, LISEC_ARRAY_LEN(h), &n);
      w->fn->C_FindObjectsFinal(w->s);
    }
    if (rv != CKR_OK) return fail(err, "C_FindObjects (the audit witness state)", rv);
    if (n == 0) return 0;
    for (CK_ULONG i = 0; i < n; i++)
      if ((rv = w->fn->C_DestroyObject(w->s, h[i])) != CKR_OK)
        return fail(err, "C_DestroyObject (the audit witness state)", rv);
  }
  return lisec_err_set(err, LISEC_EIO, "[audit] witness: objects \"%s\" are still listed after 4096 were destroyed",
                       w->label);
}
