/* The embedded SQLite back end: one database file in WAL mode with
 * synchronous=FULL, so every committed transaction — every acknowledged
 * audit record — survives a crash or power loss. The audit log table refuses
 * UPDATE and DELETE by trigger; the Merkle tree above it detects the rest. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

#define STMT_CACHE 24

/* Prepared statements are kept per SQL text (the texts are string literals,
 * so their address identifies them): preparing costs more than most queries. */
typedef struct sqlite_be {
  sqlite3 *db;
  struct {
    const char *sql;
    sqlite3_stmt *st;
  } cache[STMT_CACHE];
} sqlite_be;

static const char *const sqlite_migrations[] = {
    /* 1: documents, audit log, checkpoints */
    "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
    "  version INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (kind, id));"
    "CREATE TABLE audit_log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    "  sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TABLE checkpoints (tree_size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);",
};

static int sqlite_fail(sqlite_be *b, int code, const char *what, lisec_err *err) {
  return lisec_err_set(err, code, "sqlite: %s: %s", what, sqlite3_errmsg(b->db));
}

static int sqlite_open(const char *target, void **out, lisec_err *err) {
  sqlite_be *b = calloc(1, sizeof *b);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *out = b;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(target, &b->db, flags, NULL) != SQLITE_OK)
    return lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot open %s: %s", target,
                         b->db ? sqlite3_errmsg(b->db) : "out of memory");
  sqlite3_busy_timeout(b->db, 10000);
  const char *pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
      "PRAGMA secure_delete=ON;";
  if (sqlite3_exec(b->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
    return lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot configure %s: %s", target,
                         sqlite3_errmsg(b->db));
  return 0;
}

static void sqlite_close(void *be) {
  sqlite_be *b = be;
  for (size_t i = 0; i < STMT_CACHE; i++) sqlite3_finalize(b->cache[i].st);
  sqlite3_close_v2(b->db);
  free(b);
}

static int sqlite_exec(void *be, const char *sql, lisec_err *err) {
  sqlite_be *b = be;
  char *msg = NULL;
  if (sqlite3_exec(b->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    lisec_err_set(err, LISEC_ESTORE, "sqlite: %s", msg ? msg : sqlite3_errmsg(b->db));
    sqlite3_free(msg);
    return LISEC_ESTORE;
  }
  return 0;
}

static int sqlite_prepare(sqlite_be *b, const char *sql, sqlite3_stmt **st, lisec_err *err) {
  size_t free_slot = STMT_CACHE;
  for (size_t i = 0; i < STMT_CACHE; i++) {
    if (b->cache[i].sql == sql) {
      *st = b->cache[i].st;
      return 0;
    }
    if (!b->cache[i].sql && free_slot == STMT_CACHE) free_slot = i;
  }
  if (sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return sqlite_fail(b, LISEC_ESTORE, "prepare", err);
  if (free_slot < STMT_CACHE) {
    b->cache[free_slot].sql = sql;
    b->cache[free_slot].st = *st;
  }
  return 0;
}

/* Ends the use of a statement: cached ones are reset for the next call. */
static void sqlite_done(sqlite_be *b, sqlite3_stmt *st) {
  for (size_t i = 0; i < STMT_CACHE; i++) {
    if (b->cache[i].st == st) {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      return;
    }
  }
  sqlite3_finalize(st);
}

static int sqlite_query_int(void *be, const char *sql, int64_t *out, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, sql, &st, err);
  if (rc) return rc;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  else if (step == SQLITE_DONE) rc = lisec_err_set(err, LISEC_ENOTFOUND, "sqlite: no row");
  else rc = sqlite_fail(b, LISEC_ESTORE, "query", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_version(sqlite_be *b, const char *kind, const char *id, int64_t *v,
                              lisec_err *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "SELECT version FROM documents WHERE kind = ?1 AND id = ?2", &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  *v = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "read", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_put(void *be, const char *kind, const char *id, const char *body,
                          int64_t expected, int64_t *new_version, lisec_err *err) {
  sqlite_be *b = be;
  int64_t cur = 0;
  int rc = sqlite_doc_version(b, kind, id, &cur, err);
  if (rc) return rc;
  if (expected >= 0 && cur != expected)
    return lisec_err_set(err, LISEC_ECONFLICT, "%s %s is at version %lld, not %lld", kind, id,
                         (long long)cur, (long long)expected);
  sqlite3_stmt *st = NULL;
  rc = sqlite_prepare(b,
                      "INSERT INTO documents (kind, id, body, version, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, id) DO UPDATE SET "
                      "body = excluded.body, version = excluded.version, "
                      "updated_at = excluded.updated_at",
                      &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, cur + 1);
  sqlite3_bind_int64(st, 5, lisec_time_now_ms());
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "write document", err);
  sqlite_done(b, st);
  *new_version = cur + 1;
  return rc;
}

static int sqlite_doc_get(void *be, const char *kind, const char *id, char **body,
                          int64_t *version, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "SELECT body, version FROM documents WHERE kind = ?1 AND id = ?2",
                          &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    *body = strdup((const char *)sqlite3_column_text(st, 0));
    *version = sqlite3_column_int64(st, 1);
    if (!*body) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (step == SQLITE_DONE) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind, id);
  } else {
    rc = sqlite_fail(b, LISEC_ESTORE, "read document", err);
  }
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_delete(void *be, const char *kind, const char *id, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "DELETE FROM documents WHERE kind = ?1 AND id = ?2", &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "delete document", err);
  else if (sqlite3_changes(b->db) == 0)
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind, id);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_list(void *be, const char *kind, store_doc_cb cb, void *ctx,
                           lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "SELECT id, body, version FROM documents WHERE kind = ?1 ORDER BY id",
                          &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
    rc = cb(ctx, (const char *)sqlite3_column_text(st, 0),
            (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "list documents", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_log_insert(void *be, const store_log_entry *e, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "INSERT INTO audit_log VALUES (?1, ?2, ?3, ?4, ?5)", &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)e->index);
  sqlite3_bind_int64(st, 2, e->time_ms);
  sqlite3_bind_int(st, 3, e->sealed ? 1 : 0);
  sqlite3_bind_blob(st, 4, e->data, (int)e->len, SQLITE_STATIC);
  sqlite3_bind_blob(st, 5, e->leaf_hash, 32, SQLITE_STATIC);
  int step = sqlite3_step(st);
  if (step == SQLITE_CONSTRAINT)
    rc = lisec_err_set(err, LISEC_ECONFLICT, "sqlite: log index %llu already taken",
                       (unsigned long long)e->index);
  else if (step != SQLITE_DONE)
    rc = sqlite_fail(b, LISEC_ESTORE, "append log", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_log_range(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                            lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b,
                          "SELECT idx, time_ms, sealed, data, leaf_hash FROM audit_log "
                          "WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                          &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    store_log_entry e = {.index = (uint64_t)sqlite3_column_int64(st, 0),
                         .time_ms = sqlite3_column_int64(st, 1),
                         .sealed = sqlite3_column_int(st, 2),
                         .data = sqlite3_column_blob(st, 3),
                         .len = (size_t)sqlite3_column_bytes(st, 3)};
    const void *h = sqlite3_column_blob(st, 4);
    if (h && sqlite3_column_bytes(st, 4) == 32) memcpy(e.leaf_hash, h, 32);
    rc = cb(ctx, &e);
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "read log", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_put(void *be, uint64_t size, const char *note, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "INSERT OR REPLACE INTO checkpoints VALUES (?1, ?2, ?3)", &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
  sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, lisec_time_now_ms());
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "write checkpoint", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_latest(void *be, uint64_t *size, char **note, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(
      b, "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1", &st, err);
  if (rc) return rc;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    *size = (uint64_t)sqlite3_column_int64(st, 0);
    *note = strdup((const char *)sqlite3_column_text(st, 1));
    if (!*note) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (step == SQLITE_DONE) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "no checkpoint yet");
  } else {
    rc = sqlite_fail(b, LISEC_ESTORE, "read checkpoint", err);
  }
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_list(void *be, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, "SELECT tree_size, note FROM checkpoints ORDER BY tree_size", &st,
                          err);
  if (rc) return rc;
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
    rc = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, LISEC_ESTORE, "list checkpoints", err);
  sqlite_done(b, st);
  return rc;
}

const store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .query_int = sqlite_query_int,
    .doc_put = sqlite_doc_put,
    .doc_get = sqlite_doc_get,
    .doc_delete = sqlite_doc_delete,
    .doc_list = sqlite_doc_list,
    .log_insert = sqlite_log_insert,
    .log_range = sqlite_log_range,
    .checkpoint_put = sqlite_checkpoint_put,
    .checkpoint_latest = sqlite_checkpoint_latest,
    .checkpoint_list = sqlite_checkpoint_list,
    .migrations = sqlite_migrations,
    .n_migrations = LISEC_ARRAY_LEN(sqlite_migrations),
};
