/* The PostgreSQL back end (libpq), for deployments that need a replicated,
 * highly available store. Every query is parameterised; binary values travel
 * as bytea in binary format. The audit log table refuses UPDATE and DELETE by
 * trigger, as in SQLite. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

typedef struct pg_be {
  PGconn *conn;
} pg_be;

static const char *const pg_migrations[] = {
    /* 1: documents, audit log, checkpoints */
    "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
    "  version BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (kind, id));"
    "CREATE TABLE audit_log (idx BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,"
    "  sealed INTEGER NOT NULL, data BYTEA NOT NULL, leaf_hash BYTEA NOT NULL);"
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;"
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
    "  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
    "CREATE TABLE checkpoints (tree_size BIGINT PRIMARY KEY, note TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);",
};

static int pg_fail(pg_be *b, PGresult *res, int code, const char *what, lisec_err *err) {
  const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(b->conn);
  if (PQstatus(b->conn) != CONNECTION_OK) code = LISEC_EUNAVAIL;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (state && strcmp(state, "23505") == 0) code = LISEC_ECONFLICT; /* unique violation */
  lisec_err_set(err, code, "postgresql: %s: %.*s", what, (int)strcspn(msg, "\n"), msg);
  PQclear(res);
  return code;
}

static int pg_open(const char *target, void **out, lisec_err *err) {
  pg_be *b = calloc(1, sizeof *b);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *out = b;
  b->conn = PQconnectdb(target);
  if (!b->conn || PQstatus(b->conn) != CONNECTION_OK) {
    const char *msg = b->conn ? PQerrorMessage(b->conn) : "out of memory";
    return lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: cannot connect: %.*s",
                         (int)strcspn(msg, "\n"), msg);
  }
  /* Migrations print NOTICEs; a library never prints. */
  PQsetNoticeProcessor(b->conn, NULL, NULL);
  PGresult *r = PQexec(b->conn, "SET client_min_messages = warning");
  PQclear(r);
  return 0;
}

static void pg_close(void *be) {
  pg_be *b = be;
  PQfinish(b->conn);
  free(b);
}

static int pg_exec(void *be, const char *sql, lisec_err *err) {
  pg_be *b = be;
  PGresult *res = PQexec(b->conn, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, LISEC_ESTORE, "exec", err);
  PQclear(res);
  return 0;
}

static PGresult *pg_params(pg_be *b, const char *sql, int n, const char *const *values,
                           const int *lengths, const int *formats) {
  return PQexecParams(b->conn, sql, n, NULL, values, lengths, formats, 0);
}

static int pg_query_int(void *be, const char *sql, int64_t *out, lisec_err *err) {
  pg_be *b = be;
  PGresult *res = PQexec(b->conn, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, LISEC_ESTORE, "query", err);
  int rc = 0;
  if (PQntuples(res) < 1) rc = lisec_err_set(err, LISEC_ENOTFOUND, "postgresql: no row");
  else *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  return rc;
}

static int pg_doc_put(void *be, const char *kind, const char *id, const char *body,
                      int64_t expected, int64_t *new_version, lisec_err *err) {
  pg_be *b = be;
  const char *key[2] = {kind, id};
  PGresult *res = pg_params(b, "SELECT version FROM documents WHERE kind = $1 AND id = $2 FOR UPDATE",
                            2, key, NULL, NULL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, LISEC_ESTORE, "read", err);
  int64_t cur = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
  PQclear(res);
  if (expected >= 0 && cur != expected)
    return lisec_err_set(err, LISEC_ECONFLICT, "%s %s is at version %lld, not %lld", kind, id,
                         (long long)cur, (long long)expected);
  char ver[32], now[32];
  snprintf(ver, sizeof ver, "%lld", (long long)(cur + 1));
  snprintf(now, sizeof now, "%lld", (long long)lisec_time_now_ms());
  const char *vals[5] = {kind, id, body, ver, now};
  res = pg_params(b,
                  "INSERT INTO documents (kind, id, body, version, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, id) DO UPDATE SET "
                  "body = EXCLUDED.body, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at",
                  5, vals, NULL, NULL);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_fail(b, res, LISEC_ESTORE, "write document", err);
  PQclear(res);
  *new_version = cur + 1;
  return 0;
}

static int pg_doc_get(void *be, const char *kind, const char *id, char **body, int64_t *version,
                      lisec_err *err) {
  pg_be *b = be;
  const char *key[2] = {kind, id};
  PGresult *res = pg_params(b, "SELECT body, version FROM documents WHERE kind = $1 AND id = $2",
                            2, key, NULL, NULL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, LISEC_ESTORE, "read document", err);
  int rc = 0;
  if (PQntuples(res) == 0) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind, id);
  } else {
    *body = strdup(PQgetvalue(res, 0, 0));
    *version = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    if (!*body) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

static int pg_doc_delete(void *be, const char *kind, const char *id, lisec_err *err) {
  pg_be *b = be;
  const char *key[2] = {kind, id};
  PGresult *res = pg_params(b, "DELETE FROM documents WHERE kind = $1 AND id = $2", 2, key, NULL,
                            NULL);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_fail(b, res, LISEC_ESTORE, "delete document", err);
  int rc = strcmp(PQcmdTuples(res), "0") == 0
               ? lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind, id)
               : 0;
  PQclear(res);
  return rc;
}

static int pg_doc_list(void *be, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err) {
  pg_be *b = be;
  PGresult *res = pg_params(b, "SELECT id, body, version FROM documents WHERE kind = $1 "
                               "ORDER BY id COLLATE \"C\"",
                            1, &kind, NULL, NULL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, LISEC_ESTORE, "list documents", err);
  int rc = 0;
  for (int i = 0; rc == 0 && i < PQntuples(res); i++)
    rc = cb(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
            strtoll(PQgetvalue(res, i, 2), NULL, 10));
  PQclear(res);
  return rc;
}

static int pg_log_insert(void *be, const store_log_entry *e, lisec_err *err) {
  pg_be *b = be;
  char idx[32], t[32], sealed[4];
  snprintf(idx, sizeof idx, "%llu", (unsigned long long)e->index);
  snprintf(t, sizeof t, "%lld", (long long)e->time_ms);
  snprintf(sealed, sizeof sealed, "%d", e->sealed ? 1 : 0);
  const char *vals[5] = {idx, t, sealed, (const char *)e->data, (const char *)e->leaf_hash};
  int lens[5] = {0, 0, 0, (int)e->len, 32};
  int fmts[5] = {0, 0, 0, 1, 1};
  PGresult *res = pg_params(b, "INSERT INTO audit_log VALUES ($1, $2, $3, $4, $5)", 5, vals, lens,
                            fmts);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_fail(b, res, LISEC_ESTORE, "append log", err);
  PQclear(res);
  return 0;
}

static int pg_log_range(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                        lisec_err *err) {
  pg_be *b = be;
  char f[32], t[32];
  snprintf(f, sizeof f, "%llu", (unsigned long long)from);
  snprintf(t, sizeof t, "%llu", (unsigned long long)to);
  const char *vals[2] = {f, t};
  PGresult *res = PQexecParams(b->conn,
                               "SELECT idx::text, time_ms::text, sealed::text, data, leaf_hash "
                               "FROM audit_log WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                               2, NULL, vals, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, LISEC_ESTORE, "read log", err);
  int rc = 0;
  for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
    size_t dlen = 0, hlen = 0;
    unsigned char *data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3), &dlen);
    unsigned char *hash = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 4), &hlen);
    if (!data || !hash) {
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    } else {
      store_log_entry e = {.index = strtoull(PQgetvalue(res, i, 0), NULL, 10),
                           .time_ms = strtoll(PQgetvalue(res, i, 1), NULL, 10),
                           .sealed = atoi(PQgetvalue(res, i, 2)),
                           .data = data,
                           .len = dlen};
      if (hlen == 32) memcpy(e.leaf_hash, hash, 32);
      rc = cb(ctx, &e);
    }
    PQfreemem(data);
    PQfreemem(hash);
  }
  PQclear(res);
  return rc;
}

static int pg_checkpoint_put(void *be, uint64_t size, const char *note, lisec_err *err) {
  pg_be *b = be;
  char sz[32], now[32];
  snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
  snprintf(now, sizeof now, "%lld", (long long)lisec_time_now_ms());
  const char *vals[3] = {sz, note, now};
  PGresult *res = pg_params(b,
                            "INSERT INTO checkpoints VALUES ($1, $2, $3) ON CONFLICT (tree_size) "
                            "DO UPDATE SET note = EXCLUDED.note, created_at = EXCLUDED.created_at",
                            3, vals, NULL, NULL);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_fail(b, res, LISEC_ESTORE, "write checkpoint", err);
  PQclear(res);
  return 0;
}

static int pg_checkpoint_latest(void *be, uint64_t *size, char **note, lisec_err *err) {
  pg_be *b = be;
  PGresult *res =
      PQexec(b->conn, "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1");
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, LISEC_ESTORE, "read checkpoint", err);
  int rc = 0;
  if (PQntuples(res) == 0) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "no checkpoint yet");
  } else {
    *size = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    *note = strdup(PQgetvalue(res, 0, 1));
    if (!*note) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

static int pg_checkpoint_list(void *be, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  pg_be *b = be;
  PGresult *res = PQexec(b->conn, "SELECT tree_size, note FROM checkpoints ORDER BY tree_size");
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, LISEC_ESTORE, "list checkpoints", err);
  int rc = 0;
  for (int i = 0; rc == 0 && i < PQntuples(res); i++)
    rc = cb(ctx, strtoull(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1));
  PQclear(res);
  return rc;
}

const store_ops store_postgres_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .query_int = pg_query_int,
    .doc_put = pg_doc_put,
    .doc_get = pg_doc_get,
    .doc_delete = pg_doc_delete,
    .doc_list = pg_doc_list,
    .log_insert = pg_log_insert,
    .log_range = pg_log_range,
    .checkpoint_put = pg_checkpoint_put,
    .checkpoint_latest = pg_checkpoint_latest,
    .checkpoint_list = pg_checkpoint_list,
    .migrations = pg_migrations,
    .n_migrations = LISEC_ARRAY_LEN(pg_migrations),
};
