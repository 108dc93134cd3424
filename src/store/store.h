/* store/ is lisec's persistence behind one interface with two back ends:
 * SQLite (embedded default: WAL, synchronous=FULL) and PostgreSQL via libpq
 * (HA and scale). It keeps three things: versioned JSON documents (the model's
 * entities, vault records, state), the append-only audit log leaves, and the
 * signed audit checkpoints. Schema migrations are versioned and run at open.
 * A store handle is used by one thread at a time; open one per thread. */
#ifndef LISEC_STORE_H
#define LISEC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct lisec_store lisec_store;

/* url: "sqlite:/path/file.db" (created if absent), "sqlite::memory:" or a
 * libpq URI "postgresql://user@127.0.0.1:5432/db". Runs pending migrations.
 * EUNAVAIL when the server cannot be reached, with libpq's reason. */
int store_open(const char *url, lisec_store **out, lisec_err *err);
void store_close(lisec_store *s);
const char *store_backend(const lisec_store *s); /* "sqlite" or "postgresql" */
/* A consistent copy of the SQLite database file from (which lisecd may be
 * writing) into the file to (created 0600, its pages replaced), with
 * SQLite's online backup API: `lisec backup` and `lisec restore`. */
int store_sqlite_copy(const char *from, const char *to, lisec_err *err);
/* The schema version after migrations (the highest applied). */
int store_schema_version(lisec_store *s, int *out, lisec_err *err);
/* What lisecd --check-config reads of the store without changing it
 * (check.c): whether it exists yet, its schema version (0: never migrated)
 * and the version this lisec migrates to. EUNAVAIL when it cannot be read. */
typedef struct store_check_result {
  bool exists;
  int schema, latest;
} store_check_result;
int store_check(const char *url, store_check_result *r, lisec_err *err);
/* A cheap round trip; EUNAVAIL when the back end is gone. */
int store_ping(lisec_store *s, lisec_err *err);

/* Transactions (not nested). Every function below that changes something
 * runs in its own transaction unless one is open. */
int store_begin(lisec_store *s, lisec_err *err);
int store_commit(lisec_store *s, lisec_err *err);
int store_rollback(lisec_store *s);
/* A transaction whose commit does not wait for the disk (SQLite
 * synchronous=NORMAL, PostgreSQL synchronous_commit=off, for it alone): it
 * lands whole or not at all, a crash of the machine may lose it, and the
 * next durable commit on the same database makes it durable too (the log
 * is flushed in order). Only for a write whose loss is harmless: a nonce's
 * issue (ctl/attest_nonces.c; docs/attestation.md says why). Commit and
 * rollback as for store_begin; the connection waits for the disk again
 * afterwards, or refuses every later transaction if that cannot be set. */
int store_begin_nowait(lisec_store *s, lisec_err *err);
/* Whether a commit on this connection now waits for the disk (*durable). */
int store_durable(lisec_store *s, bool *durable, lisec_err *err);

/* ---- documents: (kind, id) -> JSON body with a version counter ---------- */

#define STORE_KIND_MAX 64
#define STORE_ID_MAX 256
#define STORE_BODY_MAX (16u * 1024 * 1024)

/* Writes a document. expected_version: -1 = any, 0 = must not exist yet,
 * n > 0 = must currently be at version n (ECONFLICT otherwise). The new
 * version goes to *new_version (may be NULL). */
int store_doc_put(lisec_store *s, const char *kind, const char *id, const char *body,
                  int64_t expected_version, int64_t *new_version, lisec_err *err);
/* *body is malloc'd; ENOTFOUND when absent. version may be NULL. */
int store_doc_get(lisec_store *s, const char *kind, const char *id, char **body,
                  int64_t *version, lisec_err *err);
int store_doc_delete(lisec_store *s, const char *kind, const char *id, lisec_err *err);
/* Calls cb for every document of kind, ordered by id; a non-zero return from
 * cb stops the walk and is returned. */
typedef int (*store_doc_cb)(void *ctx, const char *id, const char *body, int64_t version);
int store_doc_list(lisec_store *s, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err);

/* ---- the audit log: leaves 0..n-1, append only -------------------------- */

#define STORE_LOG_DATA_MAX (1u * 1024 * 1024)

typedef struct store_log_entry {
  uint64_t index;   /* position in the log; appends must continue at size */
  int64_t time_ms;  /* when the entry was made */
  int sealed;       /* 1 when data is sealed to the LI administration */
  const uint8_t *data;
  size_t len;
  uint8_t leaf_hash[32]; /* RFC 9162 leaf hash of data */
} store_log_entry;

/* Appends n entries in one durable transaction (fsync'd before return).
 * ECONFLICT when entries[0].index is not the current size. */
int store_log_append(lisec_store *s, const store_log_entry *entries, size_t n, lisec_err *err);
int store_log_size(lisec_store *s, uint64_t *size, lisec_err *err);
/* Calls cb for entries from <= index < to, in order. The entry's data is
 * valid only during the call. */
typedef int (*store_log_cb)(void *ctx, const store_log_entry *e);
int store_log_range(lisec_store *s, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                    lisec_err *err);

/* ---- signed checkpoints of the audit log -------------------------------- */

int store_checkpoint_put(lisec_store *s, uint64_t tree_size, const char *note, lisec_err *err);
/* ENOTFOUND when there is none. *note is malloc'd. */
int store_checkpoint_latest(lisec_store *s, uint64_t *tree_size, char **note, lisec_err *err);
typedef int (*store_checkpoint_cb)(void *ctx, uint64_t tree_size, const char *note);
int store_checkpoint_list(lisec_store *s, store_checkpoint_cb cb, void *ctx, lisec_err *err);
/* Only those at tree size from or more (the open from a stored frontier
 * reads none below it). */
int store_checkpoint_list_from(lisec_store *s, uint64_t from, store_checkpoint_cb cb, void *ctx, lisec_err *err);

/* ---- one writer (issue 17; lock.c) --------------------------------------
 * The lock a lisecd holds for as long as it writes the store: on SQLite an
 * exclusive flock on "<database>.lock", on PostgreSQL a session advisory
 * lock on a connection of its own, taken together with a bump of the
 * leader_epoch row. Whoever finds it taken learns the holder. */
#define STORE_NODE_MAX 64
#define STORE_ADVERTISE_MAX 256
#define STORE_HOST_MAX 64
#define STORE_HOLDER_TEXT_MAX 512

typedef struct store_holder {
  bool known;
  char node[STORE_NODE_MAX + 1];
  char host[STORE_HOST_MAX + 1];
  char advertise[STORE_ADVERTISE_MAX + 1];
  long long pid;
  int64_t since_ms, epoch;
} store_holder;

typedef struct store_lock store_lock;
/* Opens what the lock needs (the lock file; for PostgreSQL the schema is
 * migrated and the lock's connection opened, every statement on it bounded
 * by timeout_ms on the server and 2 s more by this side, which gives the
 * connection up past that: EUNAVAIL) without taking it. node and advertise name this holder. */
int store_lock_open(const char *url, const char *node, const char *advertise, int64_t timeout_ms,
                    store_lock **out, lisec_err *err);
/* Takes the lock when free (*held true; on PostgreSQL the epoch bumped);
 * when another holds it, *held is false and *holder says who. */
int store_lock_try(store_lock *l, bool *held, store_holder *holder, lisec_err *err);
/* Whether a held lock is still held: EUNAVAIL when its connection is lost
 * (the lock went with it), ECONFLICT when the stored epoch is another's. */
int store_lock_check(store_lock *l, lisec_err *err);
/* After EUNAVAIL: reconnects (to whichever host of a multi-host URL
 * answers as the URL asks: target_session_attrs=read-write finds a
 * promoted standby) and takes the lock back, but only when the epoch is
 * still this holder's (nobody held it meanwhile); ECONFLICT names the one
 * who did. With bump, the epoch is then bumped as at a take-over (and the
 * process's fence moved with it): the lock was gone, so the leadership
 * starts anew; ECONFLICT too when the bump's COMMIT went unanswered. */
int store_lock_regain(store_lock *l, bool bump, lisec_err *err);
/* After a regain's EUNAVAIL: true when the lock was found held by this
 * holder's own previous session (its connection given up, its backend
 * stopped or hung), which was asked to end; false when no server took the
 * connection. */
bool store_lock_stuck(const store_lock *l);
/* PostgreSQL: the server ends the lock's session (and the lock) when it
 * has been idle for lease_ms (0: never), kept on every reconnect; the
 * holder renews it with each store_lock_check. Needs PostgreSQL 14. */
int store_lock_lease(store_lock *l, int64_t lease_ms, lisec_err *err);
int64_t store_lock_epoch(const store_lock *l);
bool store_lock_postgres(const store_lock *l);
/* The process is stopping: every wait on the lock's connection (a
 * statement's answer, a new connection) ends at once, now and from then
 * on, failing EUNAVAIL ("this lisecd is stopping"). interrupt says so from
 * any thread; stop_fd gives a descriptor that says so by being readable
 * (a signalfd of the stop signal), owned by the caller. */
void store_lock_interrupt(store_lock *l);
bool store_lock_stopping(const store_lock *l); /* a wait was cut short so */
void store_lock_stop_fd(store_lock *l, int fd);

/* The process is stopping and must be gone soon after mono_ms (monotonic
 * ms): from now on every PostgreSQL wait (a statement's send and answer,
 * a cancel's grace, a new connection), those under way included, ends by
 * then at the latest, as when its own bound passes (refused EUNAVAIL).
 * The first deadline set stays. SQLite is not concerned. */
void store_stop_by(int64_t mono_ms);
void store_lock_close(store_lock *l); /* lets the lock go */
/* "node "a" (pid 12 on host "h", advertised at https://...)" into buf. */
int store_holder_describe(const store_holder *h, char *buf, size_t size);

/* Names the process's PostgreSQL sessions "lisec:<node>" (their
 * application_name unless the URL sets one), so a new holder of the lock
 * can end a previous holder's sessions before it bumps the epoch. Called
 * once, before any store is opened. */
void store_session_name_set(const char *node);

/* [store] timeout_ms, for the whole process: how long a PostgreSQL
 * statement's answer is waited for before it is cancelled and refused
 * (LISEC_EUNAVAIL naming the setting); a server that does not answer the
 * cancel within 2 s more loses the connection, made again at its next use.
 * Called before any store is opened; STORE_TIMEOUT_DEFAULT_MS otherwise. */
#define STORE_TIMEOUT_DEFAULT_MS 30000
void store_timeout_set(int64_t ms);
/* [store] migration_timeout_ms, for the whole process: the bound on each
 * statement of a schema migration at open (its lock wait and its SQL),
 * which may rewrite a large table: [store] timeout_ms does not apply to
 * them. A migration past it is cancelled, rolled back whole (the schema
 * stays at the version before it) and the open refused naming the setting.
 * Called before any store is opened; STORE_MIGRATION_TIMEOUT_DEFAULT_MS
 * otherwise. */
#define STORE_MIGRATION_TIMEOUT_DEFAULT_MS 3600000
void store_migration_timeout_set(int64_t ms);
/* The cancel requests a timed-out PostgreSQL statement sends run in
 * threads of their own (libpq 15's PQcancel has no timeout): at most one
 * per connection and this many in the process are in flight; a statement
 * that would need another gives its connection up at once instead. */
#define STORE_PG_CANCELS_MAX 4
unsigned store_pg_cancels_in_flight(void);

/* The fence, for the whole process: with epoch > 0 every PostgreSQL
 * transaction begins by taking the fence's transaction lock shared (a new
 * holder's bump takes it exclusive, so it waits until the transaction
 * ends) and reading the stored epoch in the same round trip, and, when it is not
 * epoch, is refused (ECONFLICT naming TR103308-5.5) after deposed is
 * called with the reason. 0 turns the fence off. */
void store_fence_set(int64_t epoch, void (*deposed)(const char *why));
/* Moves a set fence to epoch (no-op when the fence is off): the lock's own
 * bump calls it while it holds the fence's lock exclusive, so this
 * process's transactions waiting behind it find their own epoch. */
void store_fence_move(int64_t epoch);

/* ---- lock waits (turn.c; issue 22 item 6) --------------------------------
 * Writers of one SQLite file in one process take turns: a thread at a
 * lowered priority (store_thread_set_lowered) lets waiting normal-priority writers go
 * first. Counted for bench/api: waits for the store's write turn and for
 * the controller's model lock (ctl/model.c), by class of thread. */
enum { STORE_WAIT_STORE, STORE_WAIT_MODEL, STORE_WAIT_LOCKS };
/* The calling thread runs at a lowered CPU priority (it lowered its nice
 * value: a bulk thread, the KEK rotation). Per thread; false until set. */
void store_thread_set_lowered(bool lowered);
bool store_thread_lowered(void);
uint64_t store_wait_clock_us(void);
void store_wait_note(int lock, bool lowered, uint64_t waited_us);
void store_wait_note_held(int lock, bool lowered, uint64_t held_us);
/* Test builds, LISEC_BENCH_WAITS set: the counts to that file (at most once a second). */
void store_wait_dump(void);
/* How many writers of this process wait for the turn of the SQLite file at
 * path (tests: a writer is known to wait before the holder lets go). */
void store_turn_waiting(const char *path, unsigned *normal, unsigned *lowered);

#endif
