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

#endif
