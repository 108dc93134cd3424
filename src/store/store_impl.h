/* The contract between store.c (URL dispatch, argument checks, transaction
 * bookkeeping), migrations.c (the versioned schema) and each back end: a
 * table of functions over an opaque back-end handle. Arguments reaching a
 * back end have been checked by store.c already (names non-empty, bounded,
 * valid UTF-8; sizes within the header's limits). */
#ifndef LISEC_STORE_IMPL_H
#define LISEC_STORE_IMPL_H

#include "store/store.h"

/* Checkpoint notes are signed C2SP notes: a few hundred bytes in practice. */
#define STORE_NOTE_MAX (64u * 1024)

typedef enum { STORE_DIALECT_SQLITE, STORE_DIALECT_POSTGRES } store_dialect;

typedef struct store_ops {
  const char *name;
  store_dialect dialect;
  int (*open)(const char *target, void **be, lisec_err *err);
  void (*close)(void *be);
  /* Transactions. begin takes the write lock at once where the back end has
   * one (SQLite BEGIN IMMEDIATE), so read-then-write never deadlocks. commit
   * fails unless the back end really committed. */
  int (*begin)(void *be, lisec_err *err);
  /* PostgreSQL only (NULL elsewhere): begin, take the fence's shared
   * transaction lock, then read the stored leader epoch into *epoch, in one
   * round trip (lock.c, store.c). */
  int (*begin_fenced)(void *be, int64_t *epoch, lisec_err *err);
  int (*commit)(void *be, lisec_err *err);
  int (*rollback)(void *be);
  /* A round trip; reconnects once first if idle and the connection is gone. */
  int (*ping)(void *be, lisec_err *err);
  /* Runs SQL with no parameters and no result rows wanted (DDL, locks). */
  int (*exec)(void *be, const char *sql, lisec_err *err);
  /* Reads an integer from a one-row, one-column query; ENOTFOUND if no row. */
  int (*query_int)(void *be, const char *sql, int64_t *out, lisec_err *err);
  int (*doc_put)(void *be, const char *kind, const char *id, const char *body,
                 int64_t expected_version, int64_t *new_version, lisec_err *err);
  int (*doc_get)(void *be, const char *kind, const char *id, char **body, int64_t *version,
                 lisec_err *err);
  int (*doc_delete)(void *be, const char *kind, const char *id, lisec_err *err);
  int (*doc_list)(void *be, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err);
  /* One entry; ECONFLICT when its index is taken or not at the end. */
  int (*log_insert)(void *be, const store_log_entry *e, lisec_err *err);
  int (*log_range)(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                   lisec_err *err);
  /* Inserts; ECONFLICT when tree_size holds a different note, 0 when the same. */
  int (*checkpoint_put)(void *be, uint64_t tree_size, const char *note, lisec_err *err);
  int (*checkpoint_latest)(void *be, uint64_t *tree_size, char **note, lisec_err *err);
  int (*checkpoint_list)(void *be, uint64_t from, store_checkpoint_cb cb, void *ctx, lisec_err *err);
  /* PostgreSQL only (NULL elsewhere): the statements that follow wait for
   * their answer ms at most, the setting so named in a refusal, instead of
   * [store] timeout_ms; ms = 0 puts [store] timeout_ms back (migrations.c). */
  void (*bound)(void *be, int64_t ms, const char *setting);
} store_ops;

/* The key of the fence's transaction lock: every fenced transaction holds
 * it shared, a new holder takes it exclusive to bump the epoch. */
#define STORE_FENCE_KEY "7151300020260018"

/* lock.c: the application_name of this process's sessions ("lisec" or
 * "lisec:<node>", store_session_name_set). */
const char *store_session_name(void);

extern const store_ops store_sqlite_ops;
extern const store_ops store_postgres_ops;

/* store.c: the ECONFLICT reason for a refused document write, the same on
 * both back ends. current is the stored version, 0 when absent. */
int store_doc_conflict(lisec_err *err, const char *kind, const char *id, int64_t expected,
                       int64_t current);

/* migrations.c: brings the schema up to date (each step in its own
 * transaction, serialised against other processes opening the same
 * database); refuses a database whose schema is newer than this code. */
int store_migrate(const store_ops *ops, void *be, lisec_err *err);
/* libpq's connection error on one line: with a multi-host URL it says why
 * each host failed, one line (and a hint line) each; joined with "; " and
 * bounded by size, so a failover's "refused" and "read-only" both show. */
const char *store_pg_reason(const char *msg, char *buf, size_t size);
/* The highest schema version this code knows. */
int store_migrations_latest(void);
/* The SQL reading the applied version (0 for a database never migrated). */
#define STORE_SQL_SCHEMA_VERSION "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"

/* pg_wait.c: waiting on a libpq connection by the monotonic clock (ms).
 * flush_by sends what libpq holds of a statement sent on a non-blocking
 * connection: false when limit passed first (the server has part of a
 * message; the connection can carry no other). result_by: true once
 * PQgetResult does not block (an answer is whole, or the connection
 * failed), false when limit passed first. give_up shuts the connection's
 * socket down, so libpq finds it closed. */
struct pg_conn;
/* stop: NULL, or STORE_PG_STOPS descriptors (negative ones unused): a wait
 * ends (false) once one of them is readable, the process being asked to
 * stop; stopping says whether one is. */
#define STORE_PG_STOPS 2
bool store_pg_flush_by(struct pg_conn *c, int64_t limit, const int *stop);
bool store_pg_result_by(struct pg_conn *c, int64_t limit, const int *stop);
bool store_pg_stopping(const int *stop);
/* limit, or the stop's deadline when the process is stopping and that is
 * earlier (store.h, store_stop_by) */
int64_t store_pg_bounded(int64_t limit);
void store_pg_give_up(struct pg_conn *c);
/* PQconnectdbParams(keys, vals, expand_dbname) on a thread of its own,
 * waited for until it is done (libpq's connect_timeout bounds each host)
 * or a stop descriptor is readable or the stop's deadline passed: then
 * NULL with *stopped set, and the
 * thread finishes and frees the connection by itself. NULL without
 * *stopped: out of memory. */
struct pg_conn *store_pg_connect(const char *const *keys, const char *const *vals, const int *stop, bool *stopped);

/* pg_cancel.c: the PostgreSQL back end's cancel requests, each from a
 * detached thread, at most one in flight per connection and
 * STORE_PG_CANCELS_MAX in the process. start is false when none was sent
 * (one of this connection's is still under way, the cap is reached, no
 * memory): the caller gives the connection up instead. */
typedef struct pg_canceller pg_canceller;
pg_canceller *pg_canceller_new(void);
void pg_canceller_put(pg_canceller *o); /* the connection's reference */
bool pg_canceller_start(pg_canceller *o, struct pg_conn *conn);

/* turn.c: one SQLite file's write turn in this process (NULL for
 * :memory:, or when it cannot be made: writers then meet SQLite's lock
 * alone). take waits at most timeout_ms and says whether it took it. */
typedef struct store_turn store_turn;
store_turn *store_turn_get(const char *path);
void store_turn_put(store_turn *t);
bool store_turn_take(store_turn *t, bool lowered, int64_t timeout_ms);
void store_turn_give(store_turn *t);

#endif
