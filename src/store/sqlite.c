/* The embedded SQLite back end: one database file in WAL mode with
 * synchronous=FULL, so every committed transaction — every acknowledged
 * audit record — is on disk before the call returns and survives a crash or
 * power loss. Writers take the write lock when their transaction begins
 * (BEGIN IMMEDIATE), so two processes never deadlock on a read-then-write and
 * a busy database is waited for (busy_timeout) instead of failing at once.
 * The file is created readable by its owner only: it holds the audit log and
 * the vault's records. Triggers keep the audit log append-only; the Merkle
 * tree above it detects whatever gets past them. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_impl.h"

#define STMT_CACHE 32
#define BUSY_TIMEOUT_MS 10000
/* WAL pages after which a commit copies them back into the database
 * (SQLite's own default is 1000): a thread at a lowered priority at 1000, a
 * normal one only at 4000, so the copying falls to bulk work when there is
 * any, and the WAL stays bounded (16 MiB of 4 KiB pages) when there is none. */
#define WAL_CHECKPOINT_LOWERED 1000
#define WAL_CHECKPOINT_NORMAL 4000

/* Prepared statements are kept per SQL text; the texts are the static arrays
 * below, so their address identifies them. A statement in use (a walk whose
 * callback calls the store again) is never handed out twice: the nested use
 * gets a fresh statement of its own. */
typedef struct sqlite_be {
  sqlite3 *db;
  store_turn *turn;  /* this file's write turn in the process (turn.c); NULL: none */
  bool has_turn;     /* the open transaction holds it */
  bool lowered;      /* the open transaction's thread runs at a lowered priority */
  uint64_t began_us; /* when the open transaction took the write lock */
  int wal_frames;    /* pages in the WAL after the last commit (wal_noted) */
  struct {
    const char *sql;
    sqlite3_stmt *st;
    bool busy;
  } cache[STMT_CACHE];
} sqlite_be;

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_DOC_VERSION[] = "SELECT version FROM documents WHERE kind = ?1 AND id = ?2";
/* The three writes decide the version check in the statement itself, so it
 * holds even for a writer that does not go through this code's locking. */
static const char SQL_DOC_CREATE[] =
    "INSERT INTO documents (kind, id, body, version, updated_at) VALUES (?1, ?2, ?3, 1, ?4) "
    "ON CONFLICT (kind, id) DO NOTHING RETURNING version";
static const char SQL_DOC_UPDATE[] =
    "UPDATE documents SET body = ?3, version = version + 1, updated_at = ?4 "
    "WHERE kind = ?1 AND id = ?2 AND version = ?5 RETURNING version";
static const char SQL_DOC_UPSERT[] =
    "INSERT INTO documents (kind, id, body, version, updated_at) VALUES (?1, ?2, ?3, 1, ?4) "
    "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, version = version + 1, "
    "updated_at = excluded.updated_at RETURNING version";
static const char SQL_DOC_GET[] = "SELECT body, version FROM documents WHERE kind = ?1 AND id = ?2";
static const char SQL_DOC_DELETE[] = "DELETE FROM documents WHERE kind = ?1 AND id = ?2";
/* ORDER BY id uses SQLite's BINARY collation: byte order, as PostgreSQL's "C". */
static const char SQL_DOC_LIST[] =
    "SELECT id, body, version FROM documents WHERE kind = ?1 ORDER BY id";
static const char SQL_LOG_INSERT[] =
    "INSERT INTO audit_log (idx, time_ms, sealed, data, leaf_hash) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_LOG_RANGE[] =
    "SELECT idx, time_ms, sealed, data, leaf_hash FROM audit_log "
    "WHERE idx >= ?1 AND idx < ?2 ORDER BY idx";
static const char SQL_CP_GET[] = "SELECT note FROM checkpoints WHERE tree_size = ?1";
static const char SQL_CP_INSERT[] =
    "INSERT INTO checkpoints (tree_size, note, created_at) VALUES (?1, ?2, ?3)";
static const char SQL_CP_LATEST[] =
    "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1";
static const char SQL_CP_LIST[] = "SELECT tree_size, note FROM checkpoints WHERE tree_size >= ? ORDER BY tree_size";

/* lisec's code for a SQLite result: a locked or unopenable database is
 * unavailable (try later), a constraint (a taken log index, a trigger's
 * refusal) is a conflict, anything else a store failure. */
static int sqlite_code(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return LISEC_EUNAVAIL;
    case SQLITE_CONSTRAINT: return LISEC_ECONFLICT;
    case SQLITE_NOMEM: return LISEC_ENOMEM;
    default: return LISEC_ESTORE;
  }
}

static int sqlite_fail(sqlite_be *b, const char *what, lisec_err *err) {
  return lisec_err_set(err, sqlite_code(sqlite3_errcode(b->db)), "sqlite: %s: %s", what,
                       sqlite3_errmsg(b->db));
}

static int sqlite_prepare(sqlite_be *b, const char *sql, sqlite3_stmt **st, lisec_err *err) {
  size_t free_slot = STMT_CACHE;
  bool taken = false;
  for (size_t i = 0; i < STMT_CACHE; i++) {
    if (b->cache[i].sql == sql) {
      if (!b->cache[i].busy) {
        b->cache[i].busy = true;
        *st = b->cache[i].st;
        return 0;
      }
      taken = true;
    } else if (!b->cache[i].sql && free_slot == STMT_CACHE) {
      free_slot = i;
    }
  }
  bool keep = !taken && free_slot < STMT_CACHE;
  if (sqlite3_prepare_v3(b->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL) !=
      SQLITE_OK)
    return sqlite_fail(b, "prepare", err);
  if (keep) {
    b->cache[free_slot].sql = sql;
    b->cache[free_slot].st = *st;
    b->cache[free_slot].busy = true;
  }
  return 0;
}

/* Ends the use of a statement: cached ones are reset for the next call. */
static void sqlite_done(sqlite_be *b, sqlite3_stmt *st) {
  for (size_t i = 0; i < STMT_CACHE; i++) {
    if (b->cache[i].st == st) {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      b->cache[i].busy = false;
      return;
    }
  }
  sqlite3_finalize(st);
}

/* Runs a prepared statement that returns no rows. */
static int sqlite_run(sqlite_be *b, const char *sql, const char *what, lisec_err *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, sql, &st, err);
  if (rc) return rc;
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, what, err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_query_int(void *be, const char *sql, int64_t *out, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, sql, &st, err);
  if (rc) return rc;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  else if (step == SQLITE_DONE) rc = lisec_err_set(err, LISEC_ENOTFOUND, "sqlite: no row");
  else rc = sqlite_fail(b, "query", err);
  sqlite_done(b, st);
  return rc;
}

/* Reads a one-word PRAGMA answer ("wal", "memory") into out. */
static int sqlite_pragma_text(sqlite_be *b, const char *sql, char *out, size_t size,
                              lisec_err *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) == SQLITE_OK ? 0
                                                                      : sqlite_fail(b, sql, err);
  if (rc) return rc;
  out[0] = '\0';
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
  else
    rc = sqlite_fail(b, sql, err);
  sqlite3_finalize(st);
  return rc;
}

/* SQLite's WAL hook: how many pages the WAL holds after a commit. */
static int wal_noted(void *ctx, sqlite3 *db, const char *name, int frames) {
  (void)db, (void)name;
  ((sqlite_be *)ctx)->wal_frames = frames;
  return SQLITE_OK;
}

/* After a commit, once the turn is given: the WAL's pages copied back into
 * the database (PASSIVE: beside writers, never waiting for one) when it has
 * grown past this thread's bound, so the next writer does not wait for it. */
static void checkpoint_after(sqlite_be *b, bool lowered) {
  if (b->wal_frames < (lowered ? WAL_CHECKPOINT_LOWERED : WAL_CHECKPOINT_NORMAL)) return;
  b->wal_frames = 0;
  (void)sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static int sqlite_open(const char *target, void **out, lisec_err *err) {
  sqlite_be *b = calloc(1, sizeof *b);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *out = b;
  bool memory = strcmp(target, ":memory:") == 0;
  if (!memory) {
    /* Create the file owner-only before SQLite does (SQLite gives its WAL
     * and shared-memory files the database file's permissions). */
    int fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    else if (errno != EEXIST)
      return lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot create %s: %s", target,
                           strerror(errno));
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(target, &b->db, flags, NULL) != SQLITE_OK)
    return lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot open %s: %s", target,
                         b->db ? sqlite3_errmsg(b->db) : "out of memory");
  sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS);
  char mode[16];
  /* Switching a new file to WAL needs it to itself for a moment. When
   * another process opens it at the same time, SQLite answers "database is
   * locked" at once instead of calling the busy handler (waiting could
   * deadlock two switchers), so wait here, bounded by the busy timeout. */
  int rc;
  for (int waited_ms = 0;; waited_ms += 5) {
    rc = sqlite_pragma_text(b, "PRAGMA journal_mode=WAL", mode, sizeof mode, err);
    int code = sqlite3_errcode(b->db);
    if (!rc || waited_ms >= BUSY_TIMEOUT_MS || (code != SQLITE_BUSY && code != SQLITE_LOCKED)) break;
    usleep(5000);
  }
  if (rc) {
    lisec_err_wrap(err, "sqlite: cannot use %s", target);
    return rc;
  }
  if (strcmp(mode, memory ? "memory" : "wal") != 0)
    return lisec_err_set(err, LISEC_ESTORE, "sqlite: %s cannot use WAL mode (journal mode is %s)",
                         target, mode);
  if (sqlite3_exec(b->db,
                   "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
                   NULL, NULL, NULL) != SQLITE_OK)
    return sqlite_fail(b, "configure", err);
  int64_t sync = 0;
  if ((rc = sqlite_query_int(b, "PRAGMA synchronous", &sync, err))) return rc;
  if (sync != 2) /* FULL */
    return lisec_err_set(err, LISEC_ESTORE, "sqlite: synchronous=FULL did not take (%lld)",
                         (long long)sync);
  if (!memory) {
    b->turn = store_turn_get(target);
    /* replaces SQLite's automatic checkpoint, which ran inside COMMIT,
     * before the turn was given (checkpoint_after) */
    sqlite3_wal_hook(b->db, wal_noted, b);
  }
  return 0;
}

static void sqlite_close(void *be) {
  sqlite_be *b = be;
  for (size_t i = 0; i < STMT_CACHE; i++) sqlite3_finalize(b->cache[i].st);
  sqlite3_close_v2(b->db);
  store_turn_put(b->turn);
  free(b);
}

/* The transaction's end: the process's write turn given to the next
 * writer, and how long a lowered thread held it counted. */
static void turn_end(sqlite_be *b) {
  if (b->began_us) store_wait_note_held(STORE_WAIT_STORE, b->lowered, store_wait_clock_us() - b->began_us);
  b->began_us = 0;
  if (b->has_turn) store_turn_give(b->turn);
  b->has_turn = false;
}

/* The process's turn first (turn.c: woken when it is free, normal-priority
 * writers before lowered ones), then SQLite's write lock. */
static int sqlite_begin(void *be, lisec_err *err) {
  sqlite_be *b = be;
  uint64_t t0 = store_wait_clock_us();
  b->lowered = store_thread_lowered();
  b->has_turn = b->turn && store_turn_take(b->turn, b->lowered, BUSY_TIMEOUT_MS);
  int rc = sqlite_run(be, SQL_BEGIN, "begin", err);
  b->began_us = store_wait_clock_us();
  store_wait_note(STORE_WAIT_STORE, b->lowered, b->began_us - t0);
  store_wait_dump();
  if (rc) turn_end(b);
  return rc;
}

static int sqlite_commit(void *be, lisec_err *err) {
  sqlite_be *b = be;
  /* Some errors (disk full, I/O) make SQLite roll back by itself; COMMIT
   * would then succeed on nothing. (store.c then calls rollback, which
   * ends the turn.) */
  if (sqlite3_get_autocommit(b->db))
    return lisec_err_set(err, LISEC_ESTORE,
                         "sqlite: the transaction was rolled back after an error; nothing written");
  int rc = sqlite_run(b, SQL_COMMIT, "commit", err);
  if (!rc) {
    bool lowered = b->lowered;
    turn_end(b);
    checkpoint_after(b, lowered);
  }
  return rc;
}

static int sqlite_rollback(void *be) {
  sqlite_be *b = be;
  int rc = sqlite3_get_autocommit(b->db) ? 0 : sqlite_run(b, SQL_ROLLBACK, "rollback", NULL);
  turn_end(b);
  return rc;
}

static int sqlite_ping(void *be, lisec_err *err) {
  int64_t v = 0;
  /* Reads the file header, so a vanished or unreadable file shows. */
  int rc = sqlite_query_int(be, "PRAGMA schema_version", &v, err);
  return rc ? LISEC_EUNAVAIL : 0;
}

static int sqlite_exec(void *be, const char *sql, lisec_err *err) {
  sqlite_be *b = be;
  char *msg = NULL;
  int rc = sqlite3_exec(b->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    lisec_err_set(err, sqlite_code(rc), "sqlite: %s", msg ? msg : sqlite3_errmsg(b->db));
    sqlite3_free(msg);
    return sqlite_code(rc);
  }
  return 0;
}

static void bind_key(sqlite3_stmt *st, const char *kind, const char *id) {
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
}

static int sqlite_doc_version(sqlite_be *b, const char *kind, const char *id, int64_t *v,
                              lisec_err *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_DOC_VERSION, &st, err);
  if (rc) return rc;
  bind_key(st, kind, id);
  int step = sqlite3_step(st);
  *v = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = sqlite_fail(b, "read version", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_put(void *be, const char *kind, const char *id, const char *body,
                          int64_t expected, int64_t *new_version, lisec_err *err) {
  sqlite_be *b = be;
  const char *sql = expected == 0 ? SQL_DOC_CREATE : expected > 0 ? SQL_DOC_UPDATE : SQL_DOC_UPSERT;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, sql, &st, err);
  if (rc) return rc;
  bind_key(st, kind, id);
  sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, lisec_time_now_ms());
  if (expected > 0) sqlite3_bind_int64(st, 5, expected);
  bool wrote = false;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    *new_version = sqlite3_column_int64(st, 0);
    wrote = true;
  }
  if (step != SQLITE_DONE) rc = sqlite_fail(b, "write document", err);
  sqlite_done(b, st);
  if (rc || wrote) return rc;
  int64_t cur = 0;
  if ((rc = sqlite_doc_version(b, kind, id, &cur, err))) return rc;
  return store_doc_conflict(err, kind, id, expected, cur);
}

static int sqlite_doc_get(void *be, const char *kind, const char *id, char **body,
                          int64_t *version, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_DOC_GET, &st, err);
  if (rc) return rc;
  bind_key(st, kind, id);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    *body = text ? strdup(text) : NULL;
    *version = sqlite3_column_int64(st, 1);
    if (!*body) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (step == SQLITE_DONE) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "store: %s %s does not exist", kind, id);
  } else {
    rc = sqlite_fail(b, "read document", err);
  }
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_delete(void *be, const char *kind, const char *id, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_DOC_DELETE, &st, err);
  if (rc) return rc;
  bind_key(st, kind, id);
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, "delete document", err);
  else if (sqlite3_changes(b->db) == 0)
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "store: %s %s does not exist", kind, id);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_doc_list(void *be, const char *kind, store_doc_cb cb, void *ctx,
                           lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_DOC_LIST, &st, err);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  int step = SQLITE_DONE;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *body = (const char *)sqlite3_column_text(st, 1);
    if (!id || !body) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else rc = cb(ctx, id, body, sqlite3_column_int64(st, 2));
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, "list documents", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_log_insert(void *be, const store_log_entry *e, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_LOG_INSERT, &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)e->index);
  sqlite3_bind_int64(st, 2, e->time_ms);
  sqlite3_bind_int(st, 3, e->sealed);
  sqlite3_bind_blob(st, 4, e->data, (int)e->len, SQLITE_STATIC);
  sqlite3_bind_blob(st, 5, e->leaf_hash, 32, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, "append log", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_log_range(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                            lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_LOG_RANGE, &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
  int step = SQLITE_DONE;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    store_log_entry e = {.index = (uint64_t)sqlite3_column_int64(st, 0),
                         .time_ms = sqlite3_column_int64(st, 1),
                         .sealed = sqlite3_column_int(st, 2),
                         .data = sqlite3_column_blob(st, 3),
                         .len = (size_t)sqlite3_column_bytes(st, 3)};
    const void *h = sqlite3_column_blob(st, 4);
    /* A row this code could not have written is reported, not passed on. */
    if (!e.data || !h || sqlite3_column_bytes(st, 4) != 32) {
      rc = lisec_err_set(err, LISEC_ESTORE, "sqlite: audit log row %llu is malformed",
                         (unsigned long long)e.index);
      break;
    }
    memcpy(e.leaf_hash, h, 32);
    rc = cb(ctx, &e);
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, "read log", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_put(void *be, uint64_t size, const char *note, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_CP_GET, &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    const char *have = (const char *)sqlite3_column_text(st, 0);
    if (!have || strcmp(have, note) != 0)
      rc = lisec_err_set(err, LISEC_ECONFLICT,
                         "store: a different checkpoint for tree size %llu exists already",
                         (unsigned long long)size);
  } else if (step != SQLITE_DONE) {
    rc = sqlite_fail(b, "read checkpoint", err);
  }
  sqlite_done(b, st);
  if (rc || step == SQLITE_ROW) return rc; /* the same note again: nothing to do */
  if ((rc = sqlite_prepare(b, SQL_CP_INSERT, &st, err))) return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
  sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, lisec_time_now_ms());
  if (sqlite3_step(st) != SQLITE_DONE) rc = sqlite_fail(b, "write checkpoint", err);
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_latest(void *be, uint64_t *size, char **note, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_CP_LATEST, &st, err);
  if (rc) return rc;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 1);
    *size = (uint64_t)sqlite3_column_int64(st, 0);
    *note = text ? strdup(text) : NULL;
    if (!*note) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (step == SQLITE_DONE) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "store: no checkpoint yet");
  } else {
    rc = sqlite_fail(b, "read checkpoint", err);
  }
  sqlite_done(b, st);
  return rc;
}

static int sqlite_checkpoint_list(void *be, uint64_t from, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  sqlite_be *b = be;
  sqlite3_stmt *st = NULL;
  int rc = sqlite_prepare(b, SQL_CP_LIST, &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, from > INT64_MAX ? INT64_MAX : (sqlite3_int64)from);
  int step = SQLITE_DONE;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *note = (const char *)sqlite3_column_text(st, 1);
    if (!note) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else rc = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), note);
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sqlite_fail(b, "list checkpoints", err);
  sqlite_done(b, st);
  return rc;
}

const store_ops store_sqlite_ops = {
    .name = "sqlite",
    .dialect = STORE_DIALECT_SQLITE,
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .ping = sqlite_ping,
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
};

/* ---- online copies (lisec backup / restore) ------------------------------ */

int store_sqlite_copy(const char *from, const char *to, lisec_err *err) {
  sqlite3 *src = NULL, *dst = NULL;
  int rc = 0;
  if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot open %s: %s", from, src ? sqlite3_errmsg(src) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(src, BUSY_TIMEOUT_MS);
  int fd = open(to, O_RDWR | O_CREAT | O_CLOEXEC, 0600); /* owner-only before SQLite writes into it */
  if (fd < 0) {
    rc = lisec_err_set(err, LISEC_EIO, "cannot create %s: %s", to, strerror(errno));
    goto out;
  }
  close(fd);
  if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: cannot open %s: %s", to, dst ? sqlite3_errmsg(dst) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(dst, BUSY_TIMEOUT_MS);
  /* One step copies every page inside one read transaction on the source:
   * a snapshot consistent with itself while lisecd goes on writing. */
  sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    rc = lisec_err_set(err, LISEC_EIO, "sqlite: cannot copy %s to %s: %s", from, to, sqlite3_errmsg(dst));
    goto out;
  }
  int step = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (step != SQLITE_DONE)
    rc = lisec_err_set(err, step == SQLITE_BUSY || step == SQLITE_LOCKED ? LISEC_EUNAVAIL : LISEC_EIO,
                       "sqlite: copying %s to %s: %s", from, to, sqlite3_errstr(step));
out:
  sqlite3_close(src);
  sqlite3_close(dst);
  return rc;
}
