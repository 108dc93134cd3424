/* Fuzzes where the audit log's witness keeps the last checkpoint it signed
 * (keys/witness_state.c), read before every checkpoint is signed: the
 * development file ("<size> <hex root> <origin>\n") and the token's data
 * objects (their CKA_VALUE: the first form, 40 bytes; the second, with the
 * state it was moved from and the origin), up to the bound of objects,
 * served by a stand-in PKCS#11 function list holding the input's values.
 * What is asserted: a state read is within AUDIT_SIZE_MAX with an origin on
 * one line; a refusal names the requirement; the file's state written back
 * reads as the same state; the token's objects read the same in any order
 * (the state does not depend on which object the token lists first). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/witness_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a token holding n data objects, handles 1..n ----------------------- */

static struct {
  const uint8_t *value[KEYS_WITNESS_OBJECTS_MAX + 1];
  size_t len[KEYS_WITNESS_OBJECTS_MAX + 1];
  size_t n;
  bool found;
} tok;

static CK_RV find_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  (void)s, (void)t, (void)n;
  tok.found = false;
  return CKR_OK;
}

static CK_RV find(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR h, CK_ULONG max, CK_ULONG_PTR n) {
  (void)s;
  *n = 0;
  for (size_t i = 0; !tok.found && i < tok.n && *n < max; i++) h[(*n)++] = i + 1;
  tok.found = true;
  return CKR_OK;
}

static CK_RV find_final(CK_SESSION_HANDLE s) {
  (void)s;
  return CKR_OK;
}

static CK_RV get_attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR a, CK_ULONG n) {
  (void)s;
  if (n != 1 || a->type != CKA_VALUE || h < 1 || h > tok.n) return CKR_ARGUMENTS_BAD;
  size_t len = tok.len[h - 1];
  CK_RV rv = CKR_OK;
  if (a->pValue && a->ulValueLen < len) rv = CKR_BUFFER_TOO_SMALL;
  else if (a->pValue) memcpy(a->pValue, tok.value[h - 1], len);
  a->ulValueLen = len;
  return rv;
}

static CK_FUNCTION_LIST fn = {.C_FindObjectsInit = find_init, .C_FindObjects = find,
                              .C_FindObjectsFinal = find_final, .C_GetAttributeValue = get_attribute};

static void check_state(const keys_wstate *st) {
  if (st->size > AUDIT_SIZE_MAX || memchr(st->origin, '\n', strlen(st->origin))) abort();
  if (!st->have && (st->size || st->origin[0])) abort();
}

static int read_token(keys_wstate *st, lisec_err *err) {
  keys_witness *w = NULL;
  if (keys_witness_open_pkcs11(&fn, 1, "lisec-audit-witness", &w, err) != 0) abort();
  int rc = keys_wstate_read(w, st, err);
  keys_witness_close(w);
  return rc;
}

static void token(const uint8_t *data, size_t size) {
  tok.n = 0;
  while (size >= 2 && tok.n <= KEYS_WITNESS_OBJECTS_MAX) { /* one past the bound: refused */
    size_t len = (size_t)(data[0] << 8 | data[1]) % 512;
    data += 2, size -= 2;
    if (len > size) len = size;
    tok.value[tok.n] = data, tok.len[tok.n++] = len;
    data += len, size -= len;
  }
  keys_wstate st, rev;
  lisec_err err = {0}, err2 = {0};
  int rc = read_token(&st, &err);
  if (rc != 0) {
    if (!strstr(err.msg, KEYS_WITNESS_REQ)) abort();
  } else {
    check_state(&st);
    if (st.have != (tok.n > 0)) abort();
  }
  /* the same objects, listed the other way round */
  for (size_t i = 0, j = tok.n ? tok.n - 1 : 0; i < j; i++, j--) {
    const uint8_t *v = tok.value[i];
    size_t l = tok.len[i];
    tok.value[i] = tok.value[j], tok.len[i] = tok.len[j];
    tok.value[j] = v, tok.len[j] = l;
  }
  int rc2 = read_token(&rev, &err2);
  if ((rc == 0) != (rc2 == 0)) abort();
  if (rc == 0 && (rev.have != st.have || rev.size != st.size || memcmp(rev.root, st.root, sizeof st.root)))
    abort();
}

/* ---- the development file ----------------------------------------------- */

static char dir[64], path[96];

static void file(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "w");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
  keys_witness *w = NULL;
  lisec_err err = {0};
  keys_wstate st, again;
  if (keys_witness_open_file(path, &w, &err) != 0) abort();
  int rc = keys_wstate_read(w, &st, &err);
  if (rc != 0) {
    if (!strstr(err.msg, KEYS_WITNESS_REQ)) abort();
  } else {
    check_state(&st);
    if (!st.have) abort(); /* the file is there */
    /* written back, as the witness writes its next state (whose origin
     * is a checkpoint's, never empty), and read again */
    if (st.origin[0]) {
      if (keys_wstate_lock(w, &err) != 0 || keys_wstate_write(w, &st, &st, &err) != 0) abort();
      keys_wstate_unlock(w);
      if (keys_wstate_read(w, &again, &err) != 0 || memcmp(&st, &again, sizeof st) != 0) abort();
    }
  }
  keys_witness_close(w);
}

static void cleanup(void) {
  char lock[128];
  snprintf(lock, sizeof lock, "%s.lock", path);
  unlink(lock);
  unlink(path);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/lisec-fuzz-witness-XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/witness", dir);
    atexit(cleanup);
  }
  if (data[0] & 1) token(data + 1, size - 1);
  else file(data + 1, size - 1);
  return 0;
}
