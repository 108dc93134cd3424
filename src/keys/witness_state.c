/* The witness's state where it lives (witness_state.h).
 *
 * In the token: the CKA_VALUE of a private CKO_DATA token object. Second
 * form: 0x02, flags (bit 0: a base follows), the size (8 bytes,
 * big-endian), the root (32), the base's size and root (the state this one
 * was moved from, 40 bytes, zero when none: a first use) and the origin
 * line (1 to 255 bytes). First form (before the origin was kept): the size
 * and the root only, 40 bytes. A token need not let a data object's value
 * change (SoftHSM2 does not), so each move creates a new object and then
 * destroys the ones it replaces. Keys processes sharing the token (the
 * nodes of [ha]) cannot lock it, so a move compares on write: it reads the
 * objects again after its create and keeps its object only when the set is
 * what it read plus its own; otherwise another keys process moved or
 * removed the state meanwhile, the object goes and nothing is signed
 * (ECONFLICT: the caller asks again). Objects that do not link up (each
 * one's base the one below it) are a move in flight or the trace of a stop
 * mid-move beside another writer: not a state to sign from. Between a
 * create and its destroys the objects are a line of states; the highest
 * is the state.
 *
 * The development file: "<size> <64 hex digits> <origin>\n" (first form
 * without the origin), replaced atomically under an exclusive lock on
 * "<file>.lock" held from the read to the write.
 *
 * A state that is there but cannot be read or parsed is never taken for
 * "none": that would make the next checkpoint trusted on first use. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "keys/p11.h"
#include "keys/witness_state.h"

#define FORM2 0x02
#define HEAD_LEN (2 + 2 * (8 + AUDIT_HASH_LEN)) /* form, flags, state, base */
#define FORM1_LEN (8 + AUDIT_HASH_LEN)
#define VALUE_MAX (HEAD_LEN + AUDIT_ORIGIN_MAX)
#define FILE_MAX (20 + 1 + 2 * AUDIT_HASH_LEN + 1 + AUDIT_ORIGIN_MAX + 1)
#define LOCK_WAIT_MS 30000

static int fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[audit] witness", what, rv); }

static int damaged(const keys_witness *w, lisec_err *err) {
  return lisec_err_set(err, LISEC_EDENIED,
                       KEYS_WITNESS_REQ ": the audit witness state %s%s%s is damaged; nothing is signed until an "
                       "operator who checked the log (lisec audit verify) removes it, so that the next "
                       "checkpoint is trusted on first use",
                       w->path ? w->path : "\"", w->path ? "" : w->label, w->path ? "" : "\"");
}

/* ---- the token ---------------------------------------------------------- */

typedef struct object {
  CK_OBJECT_HANDLE h;
  keys_wstate st;
  bool form2;    /* the second form (the first names no base) */
  bool has_base; /* ... naming the state it was moved from */
  uint64_t base_size;
  uint8_t base_root[AUDIT_HASH_LEN];
} object;

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* The objects under the label (*n of them, at most the maximum: more are refused). */
static int find(keys_witness *w, CK_OBJECT_HANDLE h[KEYS_WITNESS_OBJECTS_MAX], CK_ULONG *n, lisec_err *err) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_LABEL, w->label, strlen(w->label)}};
  CK_OBJECT_HANDLE found[KEYS_WITNESS_OBJECTS_MAX + 1];
  *n = 0;
  CK_RV rv = w->fn->C_FindObjectsInit(w->s, tmpl, LISEC_ARRAY_LEN(tmpl));
  if (rv == CKR_OK) {
    rv = w->fn->C_FindObjects(w->s, found, LISEC_ARRAY_LEN(found), n);
    w->fn->C_FindObjectsFinal(w->s);
  }
  if (rv != CKR_OK) return fail(err, "C_FindObjects (the audit witness state)", rv);
  if (*n > KEYS_WITNESS_OBJECTS_MAX)
    return lisec_err_set(err, LISEC_EDENIED,
                         KEYS_WITNESS_REQ ": the token holds more than %d audit witness states \"%s\": which one "
                         "is the last signed checkpoint is not for lisecd to guess, so nothing is signed; an "
                         "operator who checked the log resets it (lisec audit witness-reset)",
                         KEYS_WITNESS_OBJECTS_MAX, w->label);
  memcpy(h, found, *n * sizeof *h);
  return 0;
}

static int decode(keys_witness *w, CK_OBJECT_HANDLE h, object *o, lisec_err *err) {
  uint8_t v[VALUE_MAX + 1];
  CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof v};
  CK_RV rv = w->fn->C_GetAttributeValue(w->s, h, &a, 1);
  if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) return fail(err, "C_GetAttributeValue (the audit witness state)", rv);
  if (rv != CKR_OK) return damaged(w, err);
  memset(o, 0, sizeof *o);
  o->h = h;
  o->st.have = true;
  size_t len = a.ulValueLen;
  if (len == FORM1_LEN) {
    o->st.size = get64(v);
    memcpy(o->st.root, v + 8, AUDIT_HASH_LEN);
  } else if (len > HEAD_LEN && len <= VALUE_MAX && v[0] == FORM2 && (v[1] & ~1u) == 0) {
    o->form2 = true;
    o->has_base = v[1] & 1;
    o->st.size = get64(v + 2);
    memcpy(o->st.root, v + 10, AUDIT_HASH_LEN);
    o->base_size = get64(v + 42);
    memcpy(o->base_root, v + 50, AUDIT_HASH_LEN);
    memcpy(o->st.origin, v + HEAD_LEN, len - HEAD_LEN);
    if (strlen(o->st.origin) != len - HEAD_LEN || memchr(o->st.origin, '\n', len - HEAD_LEN)) return damaged(w, err);
  } else {
    return damaged(w, err);
  }
  return o->st.size <= AUDIT_SIZE_MAX && o->base_size <= o->st.size ? 0 : damaged(w, err);
}

static int not_a_line(const keys_witness *w, CK_ULONG n, lisec_err *err) {
  return lisec_err_set(err, LISEC_ECONFLICT,
                       KEYS_WITNESS_REQ ": the token holds %lu audit witness states \"%s\" that do not follow one "
                       "another (keys processes moving it at once, as in an overlapping [ha] handover, or one "
                       "stopped mid-move beside another): nothing is signed from them; ask again, and if this "
                       "stays an operator who checked the log resets it (lisec audit witness-reset)",
                       (unsigned long)n, w->label);
}

static int read_token(keys_witness *w, keys_wstate *st, lisec_err *err) {
  CK_OBJECT_HANDLE h[KEYS_WITNESS_OBJECTS_MAX];
  CK_ULONG n = 0;
  w->n_seen = 0;
  int rc = find(w, h, &n, err);
  if (rc) return rc;
  object o[KEYS_WITNESS_OBJECTS_MAX];
  for (CK_ULONG i = 0; i < n; i++) {
    if ((rc = decode(w, h[i], &o[i], err))) return rc;
    for (CK_ULONG j = i; j > 0 && o[j].st.size < o[j - 1].st.size; j--) { /* by size */
      object t = o[j];
      o[j] = o[j - 1], o[j - 1] = t;
    }
  }
  /* one line: each above the lowest names the one below it as its base
   * (the first form names none and is taken as before: the larger wins);
   * the same state twice is one state */
  for (CK_ULONG i = 1; i < n; i++) {
    const object *lo = &o[i - 1], *hi = &o[i];
    bool same = hi->st.size == lo->st.size && sodium_memcmp(hi->st.root, lo->st.root, AUDIT_HASH_LEN) == 0;
    if (hi->st.size == lo->st.size && !same) return not_a_line(w, n, err);
    if (!same && hi->form2 &&
        (!hi->has_base || hi->base_size != lo->st.size ||
         sodium_memcmp(hi->base_root, lo->st.root, AUDIT_HASH_LEN) != 0))
      return not_a_line(w, n, err);
  }
  if (n) {
    *st = o[n - 1].st;
    for (CK_ULONG i = n - 1; i > 0 && !st->origin[0] && o[i - 1].st.size == st->size; i--)
      memcpy(st->origin, o[i - 1].st.origin, sizeof st->origin);
  }
  memcpy(w->seen, h, n * sizeof *h);
  w->n_seen = n;
  return 0;
}

static bool listed(const CK_OBJECT_HANDLE *h, CK_ULONG n, CK_OBJECT_HANDLE x) {
  for (CK_ULONG i = 0; i < n; i++)
    if (h[i] == x) return true;
  return false;
}

static int write_token(keys_witness *w, const keys_wstate *base, const keys_wstate *next, lisec_err *err) {
  uint8_t v[VALUE_MAX];
  size_t olen = strlen(next->origin);
  if (olen == 0 || olen > AUDIT_ORIGIN_MAX) return lisec_err_set(err, LISEC_EINVAL, "audit witness: no origin");
  memset(v, 0, HEAD_LEN);
  v[0] = FORM2;
  v[1] = base->have ? 1 : 0;
  put64(v + 2, next->size);
  memcpy(v + 10, next->root, AUDIT_HASH_LEN);
  if (base->have) {
    put64(v + 42, base->size);
    memcpy(v + 50, base->root, AUDIT_HASH_LEN);
  }
  memcpy(v + HEAD_LEN, next->origin, olen);
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  static const char app[] = "lisec audit witness";
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_LABEL, w->label, strlen(w->label)},
                         {CKA_APPLICATION, (void *)app, sizeof app - 1},
                         {CKA_VALUE, v, HEAD_LEN + olen}};
  CK_OBJECT_HANDLE mine = 0;
  CK_RV rv = w->fn->C_CreateObject(w->s, tmpl, LISEC_ARRAY_LEN(tmpl), &mine);
  if (rv != CKR_OK) return fail(err, "C_CreateObject (the audit witness state)", rv);
  /* The compare: what was read, and this one, nothing else. */
  CK_OBJECT_HANDLE now[KEYS_WITNESS_OBJECTS_MAX];
  CK_ULONG n = 0;
  lisec_err ferr = {0};
  int rc = find(w, now, &n, &ferr);
  bool same = !rc && n == w->n_seen + 1 && listed(now, n, mine);
  for (CK_ULONG i = 0; same && i < w->n_seen; i++) same = listed(now, n, w->seen[i]);
  if (!same) {
    if ((rv = w->fn->C_DestroyObject(w->s, mine)) != CKR_OK)
      LOG_WARN("audit witness: a state object not kept could not be destroyed (%s)", keys_p11_rv_name(rv));
    w->n_seen = 0;
    if (rc) {
      *err = ferr;
      return rc;
    }
    return lisec_err_set(err, LISEC_ECONFLICT,
                         KEYS_WITNESS_REQ ": another keys process moved or removed the audit witness state \"%s\" "
                         "while this one moved it from size %llu to %llu (a shared token: an overlapping [ha] "
                         "handover): nothing is signed; ask for the state again and prove from it",
                         w->label, (unsigned long long)base->size, (unsigned long long)next->size);
  }
  /* kept: the ones it replaces may go (one left over is the line's lower end) */
  for (CK_ULONG i = 0; i < w->n_seen; i++)
    if ((rv = w->fn->C_DestroyObject(w->s, w->seen[i])) != CKR_OK)
      LOG_WARN("audit witness: an older state object could not be destroyed (%s); the newest is used",
               keys_p11_rv_name(rv));
  w->seen[0] = mine;
  w->n_seen = 1;
  return 0;
}

static int remove_token(keys_witness *w, lisec_err *err) {
  /* Every object under the label, however many a damaged token holds (the
   * state refuses more than the maximum); in rounds, bounded. */
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

/* ---- the development file ----------------------------------------------- */

static int read_file(keys_witness *w, keys_wstate *st, lisec_err *err) {
  if (access(w->path, F_OK) != 0 && errno == ENOENT) return 0;
  uint8_t *text = NULL;
  size_t len = 0;
  if (lisec_file_read(w->path, FILE_MAX + 1, &text, &len, err)) return damaged(w, err);
  const char *t = (const char *)text, *sp = memchr(t, ' ', len);
  int64_t v = 0;
  char hex[2 * AUDIT_HASH_LEN + 1];
  size_t head = sp ? (size_t)(sp - t) + 1 + 2 * AUDIT_HASH_LEN : 0; /* "<size> <hex>" */
  bool ok = sp && len > head && t[len - 1] == '\n' && lisec_decimal(t, (size_t)(sp - t), 0, (int64_t)AUDIT_SIZE_MAX, &v) &&
            t[0] != '+' && t[0] != '-';
  if (ok && len > head + 1) { /* second form: " <origin>" */
    size_t olen = len - head - 2;
    ok = t[head] == ' ' && olen > 0 && olen <= AUDIT_ORIGIN_MAX && !memchr(t + head + 1, '\n', olen) &&
         !memchr(t + head + 1, '\0', olen);
    if (ok) memcpy(st->origin, t + head + 1, olen), st->origin[olen] = '\0';
  }
  if (ok) {
    memcpy(hex, sp + 1, 2 * AUDIT_HASH_LEN);
    hex[2 * AUDIT_HASH_LEN] = '\0';
    ok = lisec_hex_decode(hex, st->root, AUDIT_HASH_LEN) == 0;
  }
  free(text);
  if (!ok) return damaged(w, err);
  st->size = (uint64_t)v;
  st->have = true;
  return 0;
}

static int write_file(keys_witness *w, const keys_wstate *next, lisec_err *err) {
  char line[FILE_MAX + 1], hex[2 * AUDIT_HASH_LEN + 1];
  lisec_hex_encode(next->root, AUDIT_HASH_LEN, hex);
  int n = snprintf(line, sizeof line, "%llu %s %s\n", (unsigned long long)next->size, hex, next->origin);
  if (n < 0 || (size_t)n >= sizeof line) return lisec_err_set(err, LISEC_EINVAL, "audit witness: origin too long");
  return lisec_file_write_atomic(w->path, line, (size_t)n, 0600, err);
}

/* Test builds: a file that LISEC_TEST_WITNESS_HOLD names, beside it. */
static void test_mark(const char *suffix) {
#ifdef LISEC_TEST_HOOKS
  const char *path = getenv("LISEC_TEST_WITNESS_HOLD");
  char p[512];
  if (!path || (size_t)snprintf(p, sizeof p, "%s%s", path, suffix) >= sizeof p) return;
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
#else
  (void)suffix;
#endif
}

void keys_wstate_test_hold(void) {
#ifdef LISEC_TEST_HOOKS
  const char *path = getenv("LISEC_TEST_WITNESS_HOLD");
  char held[512];
  if (!path || (size_t)snprintf(held, sizeof held, "%s.held", path) >= sizeof held || rename(path, held) != 0) return;
  for (int i = 0; i < 12000 && access(held, F_OK) == 0; i++) /* at most a minute */
    nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
#endif
}

int keys_wstate_lock(keys_witness *w, lisec_err *err) {
  if (w->fn || w->lock_fd >= 0) return 0;
  char *p = NULL;
  if (asprintf(&p, "%s.lock", w->path) < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  int e = errno;
  free(p);
  if (fd < 0)
    return lisec_err_set(err, LISEC_EIO, "the audit witness state %s cannot be locked: %s", w->path, strerror(e));
  for (int ms = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; ms += 5) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || ms >= LOCK_WAIT_MS) {
      e = errno;
      close(fd);
      return lisec_err_set(err, LISEC_EUNAVAIL, "the audit witness state %s stays locked by another keys process (%s)",
                           w->path, e == EWOULDBLOCK ? "for 30 s" : strerror(e));
    }
    if (ms == 0) test_mark(".waiting");
    nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
  }
  w->lock_fd = fd;
  return 0;
}

void keys_wstate_unlock(keys_witness *w) {
  if (w->lock_fd < 0) return;
  close(w->lock_fd); /* releases the lock */
  w->lock_fd = -1;
}

/* ---- either ------------------------------------------------------------- */

int keys_wstate_read(keys_witness *w, keys_wstate *st, lisec_err *err) {
  memset(st, 0, sizeof *st);
  return w->fn ? read_token(w, st, err) : read_file(w, st, err);
}

int keys_wstate_write(keys_witness *w, const keys_wstate *base, const keys_wstate *next, lisec_err *err) {
  return w->fn ? write_token(w, base, next, err) : write_file(w, next, err);
}

int keys_wstate_remove(keys_witness *w, lisec_err *err) {
  if (w->fn) return remove_token(w, err);
  int rc = keys_wstate_lock(w, err);
  if (!rc && unlink(w->path) != 0 && errno != ENOENT)
    rc = lisec_err_set(err, LISEC_EIO, "the audit witness state %s cannot be removed: %s", w->path, strerror(errno));
  keys_wstate_unlock(w);
  return rc;
}
