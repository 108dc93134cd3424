/* The store's one face: picks the back end from the URL, checks every
 * argument the same way for both back ends (so SQLite and PostgreSQL accept
 * and refuse exactly the same inputs), and keeps the transaction rules. A
 * write runs in its own transaction unless the caller holds one; inside a
 * caller's transaction, any failed call poisons it, so the commit rolls back
 * instead of keeping the calls that happened to succeed: a transaction is
 * whole or absent on both back ends. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

struct lisec_store {
  const store_ops *ops;
  void *be;
  bool in_tx;
  bool tx_failed; /* a call inside the open transaction failed */
  bool nowait;    /* SQLite: the open transaction's commit does not wait for the disk */
  bool undurable; /* synchronous=FULL could not be set back: no more transactions */
};

/* ---- argument checks ----------------------------------------------------- */

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). PostgreSQL refuses anything else in a text column, so SQLite
 * must refuse it too. */
static bool utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      k = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i <= k) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t j = 2; j <= k; j++)
      if (s[i + j] < 0x80 || s[i + j] > 0xBF) return false;
    i += k + 1;
  }
  return true;
}

/* A kind or id: non-empty, at most max bytes, UTF-8 without control
 * characters (they would corrupt logs and listings that show names). The
 * length is found with strnlen, so a huge or unterminated-looking input is
 * never read past max + 1; a NUL cannot occur inside a C string, so the name
 * the caller meant is exactly the name stored. */
static int check_name(const char *field, const char *s, size_t max, lisec_err *err) {
  if (!s || !*s) return lisec_err_set(err, LISEC_EINVAL, "store: %s is empty", field);
  size_t n = strnlen(s, max + 1);
  if (n > max)
    return lisec_err_set(err, LISEC_EINVAL, "store: %s is longer than %zu bytes", field, max);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return lisec_err_set(err, LISEC_EINVAL, "store: %s contains a control character", field);
  if (!utf8_valid((const unsigned char *)s, n))
    return lisec_err_set(err, LISEC_EINVAL, "store: %s is not valid UTF-8", field);
  return 0;
}

/* A document body or checkpoint note: text up to max bytes. */
static int check_text(const char *field, const char *s, size_t max, lisec_err *err) {
  if (!s) return lisec_err_set(err, LISEC_EINVAL, "store: %s is missing", field);
  if (!*s) return lisec_err_set(err, LISEC_EINVAL, "store: %s is empty", field);
  size_t n = strnlen(s, max + 1);
  if (n > max)
    return lisec_err_set(err, LISEC_ETOOBIG, "store: %s is larger than %zu bytes", field, max);
  if (!utf8_valid((const unsigned char *)s, n))
    return lisec_err_set(err, LISEC_EINVAL, "store: %s is not valid UTF-8", field);
  return 0;
}

static int check_key(const char *kind, const char *id, lisec_err *err) {
  int rc = check_name("document kind", kind, STORE_KIND_MAX, err);
  return rc ? rc : check_name("document id", id, STORE_ID_MAX, err);
}

/* ---- open, close ------------------------------------------------------- */

int store_open(const char *url, lisec_store **out, lisec_err *err) {
  const store_ops *ops = NULL;
  const char *target = NULL;
  if (!out) return lisec_err_set(err, LISEC_EINVAL, "store: no place for the handle");
  *out = NULL;
  if (!url) return lisec_err_set(err, LISEC_EINVAL, "store: no URL configured");
  if (strncmp(url, "sqlite:", 7) == 0) {
    ops = &store_sqlite_ops;
    target = url + 7;
    if (!*target)
      return lisec_err_set(err, LISEC_EINVAL, "store: sqlite: URL names no file (sqlite:PATH)");
  } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
    ops = &store_postgres_ops;
    target = url;
  } else {
    /* Only the scheme is quoted: the rest may hold a password. */
    return lisec_err_set(err, LISEC_EINVAL,
                         "store: URL must be sqlite:PATH, sqlite::memory: or postgresql://... "
                         "(got scheme \"%.*s\")",
                         (int)(strcspn(url, ":/@") < 16 ? strcspn(url, ":/@") : 16), url);
  }
  lisec_store *s = calloc(1, sizeof *s);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  s->ops = ops;
  int rc = ops->open(target, &s->be, err);
  if (rc == 0) rc = store_migrate(ops, s->be, err);
  if (rc) {
    if (s->be) ops->close(s->be);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(lisec_store *s) {
  if (!s) return;
  store_rollback(s);
  s->ops->close(s->be);
  free(s);
}

const char *store_backend(const lisec_store *s) { return s->ops->name; }

int store_schema_version(lisec_store *s, int *out, lisec_err *err) {
  int64_t v = 0;
  int rc = s->ops->query_int(s->be, STORE_SQL_SCHEMA_VERSION, &v, err);
  if (rc == 0) *out = (int)v;
  return rc;
}

int store_ping(lisec_store *s, lisec_err *err) {
  int rc = s->ops->ping(s->be, err);
  if (rc && s->in_tx) s->tx_failed = true;
  if (rc == 0) return 0;
  if (err) err->code = LISEC_EUNAVAIL;
  lisec_err_wrap(err, "store unreachable");
  return LISEC_EUNAVAIL;
}

/* ---- the fence (issue 17) ---------------------------------------------- */

static _Atomic int64_t fence_epoch;
static void (*_Atomic fence_deposed)(const char *why);

void store_fence_set(int64_t epoch, void (*deposed)(const char *why)) {
  atomic_store(&fence_deposed, deposed);
  atomic_store(&fence_epoch, epoch);
}

void store_fence_move(int64_t epoch) {
  int64_t cur = atomic_load(&fence_epoch);
  if (cur > 0) atomic_compare_exchange_strong(&fence_epoch, &cur, epoch);
}

/* Begins the transaction; fenced, it holds the fence's lock shared (so a
 * new holder's bump waits for it to end) and the stored epoch must be this
 * process's: a deposed holder's transaction is refused before it wrote
 * anything. */
static int begin_checked(lisec_store *s, lisec_err *err) {
  int64_t mine = atomic_load(&fence_epoch), stored = 0;
  if (mine <= 0 || !s->ops->begin_fenced) return s->ops->begin(s->be, err);
  int rc = s->ops->begin_fenced(s->be, &stored, err);
  /* mine was read before the round trip: this process's own bump (a leader
   * taking its lock back, lock.c) may have moved the fence meanwhile. */
  if (rc == 0 && stored != mine) mine = atomic_load(&fence_epoch);
  if (rc == 0 && stored == mine) return 0;
  s->ops->rollback(s->be);
  if (rc) return rc;
  rc = lisec_err_set(err, LISEC_ECONFLICT,
                     "TR103308-5.5: this lisecd is no longer the leader (its epoch %lld, the store's %lld): "
                     "nothing is written",
                     (long long)mine, (long long)stored);
  void (*deposed)(const char *) = atomic_load(&fence_deposed);
  if (deposed) deposed(err ? err->msg : "deposed");
  return rc;
}

/* ---- transactions ------------------------------------------------------ */

int store_begin(lisec_store *s, lisec_err *err) {
  if (s->in_tx)
    return lisec_err_set(err, LISEC_EINTERNAL, "store: a transaction is open already (no nesting)");
  if (s->undurable)
    return lisec_err_set(err, LISEC_ESTORE,
                         "store: this connection could not be made to wait for the disk again after a "
                         "transaction that did not; nothing more is written on it (TR103308-5.5)");
  int rc = begin_checked(s, err);
  if (rc == 0) {
    s->in_tx = true;
    s->tx_failed = false;
  }
  return rc;
}

/* ---- commits that do not wait for the disk ------------------------------- */

/* SQLite refuses to change synchronous inside a transaction: it is lowered
 * before BEGIN and set back to FULL (and read back) when the transaction
 * ends. PostgreSQL's SET LOCAL ends with the transaction by itself. */
static void nowait_end(lisec_store *s) {
  if (!s->nowait) return;
  s->nowait = false;
  lisec_err e = {0};
  int64_t v = 0;
  if (s->ops->exec(s->be, "PRAGMA synchronous=FULL", &e) != 0 ||
      s->ops->query_int(s->be, "PRAGMA synchronous", &v, &e) != 0 || v != 2)
    s->undurable = true;
}

int store_begin_nowait(lisec_store *s, lisec_err *err) {
  if (s->in_tx)
    return lisec_err_set(err, LISEC_EINTERNAL, "store: a transaction is open already (no nesting)");
  bool sqlite = s->ops->dialect == STORE_DIALECT_SQLITE;
  if (sqlite && !s->undurable) {
    int rc = s->ops->exec(s->be, "PRAGMA synchronous=NORMAL", err);
    if (rc) return rc;
    s->nowait = true;
  }
  int rc = store_begin(s, err);
  if (rc) {
    nowait_end(s);
    return rc;
  }
  if (!sqlite && (rc = s->ops->exec(s->be, "SET LOCAL synchronous_commit = off", err)) != 0) store_rollback(s);
  return rc;
}

int store_durable(lisec_store *s, bool *durable, lisec_err *err) {
  *durable = false;
  if (s->undurable) return 0;
  if (s->ops->dialect == STORE_DIALECT_SQLITE) {
    int64_t v = 0;
    int rc = s->ops->query_int(s->be, "PRAGMA synchronous", &v, err);
    if (!rc) *durable = v >= 2;
    return rc;
  }
  int64_t off = 0;
  int rc = s->ops->query_int(s->be, "SELECT (current_setting('synchronous_commit') = 'off')::int", &off, err);
  if (!rc) *durable = off == 0;
  return rc;
}

int store_commit(lisec_store *s, lisec_err *err) {
  if (!s->in_tx) return lisec_err_set(err, LISEC_EINTERNAL, "store: no transaction open");
  if (s->tx_failed) {
    store_rollback(s);
    return lisec_err_set(err, LISEC_ESTORE,
                         "store: a call inside the transaction failed, so it was rolled back; "
                         "nothing was written");
  }
  int rc = s->ops->commit(s->be, err);
  if (rc) s->ops->rollback(s->be);
  s->in_tx = false;
  nowait_end(s);
  return rc;
}

int store_rollback(lisec_store *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  s->tx_failed = false;
  int rc = s->ops->rollback(s->be);
  nowait_end(s);
  return rc;
}

/* Marks the caller's transaction failed. ENOTFOUND is an answer, not a
 * failure: nothing was attempted that could be half done. */
static int note_failure(lisec_store *s, int rc) {
  if (rc && rc != LISEC_ENOTFOUND && s->in_tx) s->tx_failed = true;
  return rc;
}

/* A write runs in its own transaction unless the caller holds one: begin
 * here, then end with the write's result (commit on success, else rollback). */
static int write_begin(lisec_store *s, bool *own, lisec_err *err) {
  *own = !s->in_tx;
  return *own ? store_begin(s, err) : 0;
}

static int write_end(lisec_store *s, bool own, int rc, lisec_err *err) {
  if (!own) return note_failure(s, rc);
  if (rc) {
    store_rollback(s);
    return rc;
  }
  return store_commit(s, err);
}

/* Callbacks may stop a walk with a non-zero return; that is the caller's
 * choice, not a store failure, so it must not poison a transaction. */
typedef struct walk {
  void *ctx;
  store_doc_cb doc;
  store_log_cb log;
  store_checkpoint_cb cp;
  bool stopped;
} walk;

static int walk_doc(void *ctx, const char *id, const char *body, int64_t version) {
  walk *w = ctx;
  int rc = w->doc(w->ctx, id, body, version);
  w->stopped = rc != 0;
  return rc;
}

static int walk_log(void *ctx, const store_log_entry *e) {
  walk *w = ctx;
  int rc = w->log(w->ctx, e);
  w->stopped = rc != 0;
  return rc;
}

static int walk_cp(void *ctx, uint64_t tree_size, const char *note) {
  walk *w = ctx;
  int rc = w->cp(w->ctx, tree_size, note);
  w->stopped = rc != 0;
  return rc;
}

static int walk_end(lisec_store *s, const walk *w, int rc) {
  return w->stopped ? rc : note_failure(s, rc);
}

/* ---- documents --------------------------------------------------------- */

int store_doc_conflict(lisec_err *err, const char *kind, const char *id, int64_t expected,
                       int64_t current) {
  if (expected == 0)
    return lisec_err_set(err, LISEC_ECONFLICT, "store: %s %s exists already (version %lld)",
                         kind, id, (long long)current);
  if (current == 0)
    return lisec_err_set(err, LISEC_ECONFLICT, "store: %s %s does not exist (expected version %lld)",
                         kind, id, (long long)expected);
  return lisec_err_set(err, LISEC_ECONFLICT, "store: %s %s is at version %lld, not %lld", kind,
                       id, (long long)current, (long long)expected);
}

int store_doc_put(lisec_store *s, const char *kind, const char *id, const char *body,
                  int64_t expected_version, int64_t *new_version, lisec_err *err) {
  int rc = check_key(kind, id, err);
  if (!rc) rc = check_text("document body", body, STORE_BODY_MAX, err);
  if (!rc && expected_version < -1)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "store: expected version must be -1 (any), 0 (new) or a version");
  if (rc) return note_failure(s, rc);
  bool own;
  int64_t v = 0;
  if ((rc = write_begin(s, &own, err))) return rc;
  rc = s->ops->doc_put(s->be, kind, id, body, expected_version, &v, err);
  rc = write_end(s, own, rc, err);
  if (rc == 0 && new_version) *new_version = v;
  return rc;
}

int store_doc_get(lisec_store *s, const char *kind, const char *id, char **body,
                  int64_t *version, lisec_err *err) {
  int rc = check_key(kind, id, err);
  if (!rc && !body) rc = lisec_err_set(err, LISEC_EINVAL, "store: no place for the body");
  if (rc) return note_failure(s, rc);
  int64_t v = 0;
  *body = NULL;
  rc = s->ops->doc_get(s->be, kind, id, body, &v, err);
  if (rc == 0 && version) *version = v;
  return note_failure(s, rc);
}

int store_doc_delete(lisec_store *s, const char *kind, const char *id, lisec_err *err) {
  int rc = check_key(kind, id, err);
  if (rc) return note_failure(s, rc);
  bool own;
  if ((rc = write_begin(s, &own, err))) return rc;
  return write_end(s, own, s->ops->doc_delete(s->be, kind, id, err), err);
}

int store_doc_list(lisec_store *s, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err) {
  int rc = check_name("document kind", kind, STORE_KIND_MAX, err);
  if (!rc && !cb) rc = lisec_err_set(err, LISEC_EINVAL, "store: no callback");
  if (rc) return note_failure(s, rc);
  walk w = {.ctx = ctx, .doc = cb};
  return walk_end(s, &w, s->ops->doc_list(s->be, kind, walk_doc, &w, err));
}

/* ---- the audit log ----------------------------------------------------- */

/* The highest index plus one, added here: the highest index lisec can
 * append is INT64_MAX - 1 (check_entries), and a row at INT64_MAX (put
 * there past the table's triggers) would overflow the server's sum. */
int store_log_size(lisec_store *s, uint64_t *size, lisec_err *err) {
  int64_t last = -1;
  int rc = s->ops->query_int(s->be, "SELECT COALESCE(MAX(idx), -1) FROM audit_log", &last, err);
  if (rc == 0 && (last < -1 || last == INT64_MAX))
    rc = lisec_err_set(err, LISEC_ESTORE,
                       "TR103308-5.5: the audit log holds an entry at index %lld, which lisec never writes: "
                       "the table was changed outside lisec",
                       (long long)last);
  if (rc == 0) *size = (uint64_t)(last + 1);
  return note_failure(s, rc);
}

static int check_entries(const store_log_entry *entries, size_t n, lisec_err *err) {
  if (!entries) return lisec_err_set(err, LISEC_EINVAL, "store: no log entries");
  if (entries[0].index > (uint64_t)INT64_MAX - n)
    return lisec_err_set(err, LISEC_EINVAL, "store: log index %llu out of range",
                         (unsigned long long)entries[0].index);
  for (size_t i = 0; i < n; i++) {
    const store_log_entry *e = &entries[i];
    if (!e->data || e->len == 0)
      return lisec_err_set(err, LISEC_EINVAL, "store: log entry %llu has no data",
                           (unsigned long long)e->index);
    if (e->len > STORE_LOG_DATA_MAX)
      return lisec_err_set(err, LISEC_ETOOBIG, "store: log entry %llu is larger than %u bytes",
                           (unsigned long long)e->index, STORE_LOG_DATA_MAX);
    if (e->sealed != 0 && e->sealed != 1)
      return lisec_err_set(err, LISEC_EINVAL, "store: log entry %llu: sealed must be 0 or 1",
                           (unsigned long long)e->index);
    /* A batch with a hole or a repeat is the caller's bug, not a race. */
    if (i > 0 && e->index != entries[i - 1].index + 1)
      return lisec_err_set(err, LISEC_EINVAL,
                           "store: log entries are not contiguous (%llu follows %llu)",
                           (unsigned long long)e->index,
                           (unsigned long long)entries[i - 1].index);
  }
  return 0;
}

int store_log_append(lisec_store *s, const store_log_entry *entries, size_t n, lisec_err *err) {
  if (n == 0) return 0;
  int rc = check_entries(entries, n, err);
  if (rc) return note_failure(s, rc);
  bool own;
  if ((rc = write_begin(s, &own, err))) return rc;
  uint64_t size = 0;
  rc = store_log_size(s, &size, err);
  if (rc == 0 && entries[0].index != size)
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "store: log append at index %llu but the log holds %llu entries",
                       (unsigned long long)entries[0].index, (unsigned long long)size);
  for (size_t i = 0; rc == 0 && i < n; i++) rc = s->ops->log_insert(s->be, &entries[i], err);
  return write_end(s, own, rc, err);
}

int store_log_range(lisec_store *s, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                    lisec_err *err) {
  int rc = 0;
  if (from > to || to > INT64_MAX)
    rc = lisec_err_set(err, LISEC_EINVAL, "store: bad log range %llu..%llu",
                       (unsigned long long)from, (unsigned long long)to);
  else if (!cb)
    rc = lisec_err_set(err, LISEC_EINVAL, "store: no callback");
  if (rc) return note_failure(s, rc);
  if (from == to) return 0;
  walk w = {.ctx = ctx, .log = cb};
  return walk_end(s, &w, s->ops->log_range(s->be, from, to, walk_log, &w, err));
}

/* ---- checkpoints ------------------------------------------------------- */

int store_checkpoint_put(lisec_store *s, uint64_t tree_size, const char *note, lisec_err *err) {
  int rc = check_text("checkpoint note", note, STORE_NOTE_MAX, err);
  if (!rc && tree_size > INT64_MAX)
    rc = lisec_err_set(err, LISEC_EINVAL, "store: checkpoint tree size out of range");
  if (rc) return note_failure(s, rc);
  bool own;
  if ((rc = write_begin(s, &own, err))) return rc;
  return write_end(s, own, s->ops->checkpoint_put(s->be, tree_size, note, err), err);
}

int store_checkpoint_latest(lisec_store *s, uint64_t *tree_size, char **note, lisec_err *err) {
  if (!tree_size || !note)
    return note_failure(s, lisec_err_set(err, LISEC_EINVAL, "store: no place for the checkpoint"));
  *note = NULL;
  return note_failure(s, s->ops->checkpoint_latest(s->be, tree_size, note, err));
}

int store_checkpoint_list_from(lisec_store *s, uint64_t from, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  if (!cb) return note_failure(s, lisec_err_set(err, LISEC_EINVAL, "store: no callback"));
  walk w = {.ctx = ctx, .cp = cb};
  return walk_end(s, &w, s->ops->checkpoint_list(s->be, from, walk_cp, &w, err));
}

int store_checkpoint_list(lisec_store *s, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  return store_checkpoint_list_from(s, 0, cb, ctx, err);
}
