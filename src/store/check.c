/* The store as lisecd --check-config sees it: opened so that nothing can be
 * changed (SQLite read-only, PostgreSQL in a read-only transaction), the
 * schema version read and compared with the one this lisec migrates to, and
 * closed again. No migration runs, no table is created: a check that
 * changed the database would be a start in disguise (issue 25). */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_impl.h"

#define PG_HAS_TABLE                                                                         \
  "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND "       \
  "tablename = 'schema_migrations'"
#define SQLITE_HAS_TABLE "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"

static int sqlite_version(const char *path, store_check_result *r, lisec_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) {
    r->exists = false; /* lisecd creates it at its first start */
    return 0;
  }
  sqlite3 *db = NULL;
  /* read-only and immutable=0: SQLite neither creates nor writes the file,
   * nor its journal; a WAL database still needs its -shm readable */
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  sqlite3_stmt *q = NULL;
  int64_t n = 0;
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 5000);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, SQLITE_HAS_TABLE, -1, &q, NULL);
  if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
  else if (rc == SQLITE_OK) rc = sqlite3_errcode(db);
  sqlite3_finalize(q);
  q = NULL;
  if (rc == SQLITE_OK && n > 0) {
    rc = sqlite3_prepare_v2(db, STORE_SQL_SCHEMA_VERSION, -1, &q, NULL);
    if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) r->schema = (int)sqlite3_column_int64(q, 0);
    else if (rc == SQLITE_OK) rc = sqlite3_errcode(db);
    sqlite3_finalize(q);
  }
  int out = 0;
  if (rc != SQLITE_OK)
    out = lisec_err_set(err, LISEC_EUNAVAIL, "sqlite: %s cannot be read: %s", path,
                        db ? sqlite3_errmsg(db) : "out of memory");
  sqlite3_close(db);
  r->exists = true;
  return out;
}

static int pg_int(PGconn *c, const char *sql, int64_t *v, lisec_err *err) {
  PGresult *res = PQexec(c, sql);
  int rc = 0;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    sscanf(PQgetvalue(res, 0, 0), "%lld", (long long *)v);
  else if (PQresultStatus(res) != PGRES_COMMAND_OK)
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: %.300s", PQresultErrorMessage(res));
  PQclear(res);
  return rc;
}

static int pg_version(const char *url, store_check_result *r, lisec_err *err) {
  const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
  const char *const vals[] = {"10", "lisec-check", url, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = 0;
  if (PQstatus(c) != CONNECTION_OK) {
    /* libpq's message on one line: its lines joined, the end trimmed */
    char msg[301];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    for (char *p = msg; *p; p++)
      if (*p == '\n' || *p == '\t') *p = ' ';
    size_t n = strlen(msg);
    while (n && msg[n - 1] == ' ') msg[--n] = '\0';
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: cannot connect: %s", msg);
  }
  int64_t dummy = 0, n = 0, v = 0;
  if (!rc) rc = pg_int(c, "BEGIN TRANSACTION READ ONLY", &dummy, err);
  if (!rc) rc = pg_int(c, PG_HAS_TABLE, &n, err);
  if (!rc && n > 0) rc = pg_int(c, STORE_SQL_SCHEMA_VERSION, &v, err);
  if (!rc) rc = pg_int(c, "ROLLBACK", &dummy, err);
  PQfinish(c);
  r->exists = true;
  r->schema = (int)v;
  return rc;
}

int store_check(const char *url, store_check_result *r, lisec_err *err) {
  memset(r, 0, sizeof *r);
  r->latest = store_migrations_latest();
  if (!url) return lisec_err_set(err, LISEC_EINVAL, "store: no URL");
  if (strncmp(url, "sqlite:", 7) == 0) {
    if (strcmp(url + 7, ":memory:") == 0) return r->exists = false, 0;
    if (!url[7]) return lisec_err_set(err, LISEC_EINVAL, "store: sqlite: URL names no file (sqlite:PATH)");
    return sqlite_version(url + 7, r, err);
  }
  if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    PQfreemem(perr); /* may quote the URL, password included: not repeated */
    if (!opts) return lisec_err_set(err, LISEC_EINVAL, "postgresql: the store URL is not a valid libpq connection URI");
    PQconninfoFree(opts);
    return pg_version(url, r, err);
  }
  return lisec_err_set(err, LISEC_EINVAL, "store: URL must be sqlite:PATH, sqlite::memory: or postgresql://...");
}
