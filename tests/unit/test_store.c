/* One test suite for both store back ends. The URL comes from
 * LISEC_TEST_STORE_URL (tests/integration/store_postgres.sh points it at a
 * real PostgreSQL); without it, a SQLite file in a fresh temporary directory.
 * What the store wrote is checked through a second, raw connection (the
 * sqlite3 and libpq APIs directly), never through the store's own reads
 * alone, and the tamper tests use that raw connection the way someone with
 * access to the database would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store.h"

/* The schema version this suite was written against. A new migration must
 * update it, so the change is a deliberate one. */
#define SCHEMA_VERSION 4

static char url[512];
static char tmpdir[64];
static int fresh_counter;

static bool is_sqlite(const char *u) { return strncmp(u, "sqlite:", 7) == 0; }

/* ---- the raw connection ------------------------------------------------ */

static void quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

/* Runs sql on the database behind u without the store. 0 on success, else -1
 * with the database's reason in why. */
static int raw_exec(const char *u, const char *sql, char *why, size_t n) {
  if (why && n) why[0] = '\0';
  if (is_sqlite(u)) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(u + 7, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
      fail_msg("raw open %s: %s", u, db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && why) snprintf(why, n, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
  }
  PGconn *c = PQconnectdb(u);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("raw connect %s: %s", u, PQerrorMessage(c));
  PQsetNoticeProcessor(c, quiet, NULL);
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok && why) snprintf(why, n, "%s", PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return ok ? 0 : -1;
}

static int int_cb(void *ctx, int n, char **vals, char **names) {
  (void)n, (void)names;
  *(long long *)ctx = vals[0] ? atoll(vals[0]) : -1;
  return 0;
}

/* The integer in the first column of the first row of sql. */
static long long raw_int(const char *u, const char *sql) {
  long long v = -1;
  if (is_sqlite(u)) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(u + 7, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
      fail_msg("raw open %s", u);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, int_cb, &v, &msg) != SQLITE_OK) fail_msg("raw %s: %s", sql, msg);
    sqlite3_close(db);
    return v;
  }
  PGconn *c = PQconnectdb(u);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("raw connect: %s", PQerrorMessage(c));
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    fail_msg("raw %s: %s", sql, PQresultErrorMessage(r));
  v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return v;
}

/* A database nobody has opened yet, on the same back end: a new file, or a
 * new PostgreSQL database on the same server. */
static void fresh_url(char *out, size_t n) {
  int k = ++fresh_counter;
  if (is_sqlite(url)) {
    snprintf(out, n, "sqlite:%s/fresh-%d.db", tmpdir, k);
    return;
  }
  char sql[128];
  snprintf(sql, sizeof sql, "CREATE DATABASE lisec_fresh_%d_%d", (int)getpid(), k);
  char why[256];
  if (raw_exec(url, sql, why, sizeof why)) fail_msg("%s: %s", sql, why);
  const char *q = strchr(url, '?');
  size_t path_end = q ? (size_t)(q - url) : strlen(url);
  size_t slash = path_end;
  while (slash > 0 && url[slash - 1] != '/') slash--;
  snprintf(out, n, "%.*slisec_fresh_%d_%d%s", (int)slash, url, (int)getpid(), k, q ? q : "");
}

/* ---- suite ------------------------------------------------------------- */

static int suite_setup(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/lisec-test-store-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  const char *env = getenv("LISEC_TEST_STORE_URL");
  if (env && *env) snprintf(url, sizeof url, "%s", env);
  else snprintf(url, sizeof url, "sqlite:%s/lisec.db", tmpdir);
  return 0;
}

static int suite_teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static lisec_store *open_url(const char *u) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(u, &s, &err)) fail_msg("store_open(%s): %s", u, err.msg);
  return s;
}

static lisec_store *open_store(void) { return open_url(url); }

static int count_docs(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)body, (void)version;
  (*(int *)ctx)++;
  return 0;
}

static int kind_count(lisec_store *s, const char *kind) {
  int n = 0;
  lisec_err err = {0};
  assert_int_equal(store_doc_list(s, kind, count_docs, &n, &err), 0);
  return n;
}

static uint64_t log_size(lisec_store *s) {
  uint64_t n = 0;
  lisec_err err = {0};
  assert_int_equal(store_log_size(s, &n, &err), 0);
  return n;
}

/* ---- migrations -------------------------------------------------------- */

static void test_migrations_run_once(void **state) {
  (void)state;
  char u[600];
  fresh_url(u, sizeof u);
  lisec_store *s = open_url(u);
  lisec_err err = {0};
  int v = 0;
  assert_int_equal(store_schema_version(s, &v, &err), 0);
  assert_int_equal(v, SCHEMA_VERSION);
  assert_string_equal(store_backend(s), is_sqlite(u) ? "sqlite" : "postgresql");
  store_close(s);
  /* every migration recorded exactly once, every table there */
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM schema_migrations"), SCHEMA_VERSION);
  assert_int_equal(raw_int(u, "SELECT COUNT(DISTINCT version) FROM schema_migrations"),
                   SCHEMA_VERSION);
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM documents"), 0);
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM audit_log"), 0);
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM checkpoints"), 0);
  /* reopening applies nothing again */
  s = open_url(u);
  assert_int_equal(store_schema_version(s, &v, &err), 0);
  assert_int_equal(v, SCHEMA_VERSION);
  assert_int_equal(store_ping(s, &err), 0);
  store_close(s);
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM schema_migrations"), SCHEMA_VERSION);
  if (is_sqlite(u)) {
    /* WAL, and a file only its owner can read */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(u + 7, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct stat sb;
    assert_int_equal(stat(u + 7, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
  }
  /* an in-memory database migrates too */
  assert_int_equal(store_open("sqlite::memory:", &s, &err), 0);
  assert_int_equal(store_schema_version(s, &v, &err), 0);
  assert_int_equal(v, SCHEMA_VERSION);
  store_close(s);
}

/* Daemons starting together on a new database: every one opens it, and the
 * schema is migrated once. */
static void test_migrations_concurrent_open(void **state) {
  (void)state;
  char u[600];
  fresh_url(u, sizeof u);
  pid_t kids[4];
  for (int i = 0; i < 4; i++) {
    kids[i] = fork();
    assert_true(kids[i] >= 0);
    if (kids[i] == 0) {
      lisec_store *s = NULL;
      lisec_err err = {0};
      int rc = store_open(u, &s, &err);
      if (rc) fprintf(stderr, "child %d: %s\n", i, err.msg);
      store_close(s);
      _exit(rc ? 1 : 0);
    }
  }
  for (int i = 0; i < 4; i++) {
    int st = 0;
    assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM schema_migrations"), SCHEMA_VERSION);
}

static void test_future_schema_refused(void **state) {
  (void)state;
  char u[600], why[256];
  fresh_url(u, sizeof u);
  lisec_store *s = open_url(u);
  lisec_err err = {0};
  assert_int_equal(store_doc_put(s, "t-future", "keep", "{\"k\":1}", 0, NULL, &err), 0);
  store_close(s);
  /* a newer lisec migrated this database */
  assert_int_equal(raw_exec(u, "INSERT INTO schema_migrations VALUES (99, 0)", why, sizeof why), 0);
  s = NULL;
  assert_int_equal(store_open(u, &s, &err), LISEC_ESTORE);
  assert_null(s);
  assert_non_null(strstr(err.msg, "newer than this lisec"));
  assert_non_null(strstr(err.msg, "99"));
  /* and was left as it was */
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM schema_migrations"), SCHEMA_VERSION + 1);
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM documents WHERE id = 'keep'"), 1);
  assert_int_equal(raw_exec(u, "DELETE FROM schema_migrations WHERE version = 99", why, sizeof why),
                   0);
  s = open_url(u);
  store_close(s);
}

/* A database made by the first release (schema version 1, as shipped in
 * commit f6834c7) is brought up to date at open and keeps its contents. */
static const char *const v1_sqlite =
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);"
    "INSERT INTO schema_migrations VALUES (1, 0);"
    "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
    "  version INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (kind, id));"
    "CREATE TABLE audit_log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    "  sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TABLE checkpoints (tree_size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "INSERT INTO documents VALUES ('target', 't-1', '{\"old\":true}', 4, 0);"
    "INSERT INTO documents VALUES ('pkg', 'p-1', '{\"record\":{\"owner\":\"tenant:a\"}}', 1, 0);"
    "INSERT INTO documents VALUES ('pkg', 'p-2', '{\"record\":{\"owner\":\"operator\"}}', 1, 0);"
    "INSERT INTO audit_log VALUES (0, 5, 0, x'6f6c64', zeroblob(32));"
    "INSERT INTO checkpoints VALUES (1, 'old checkpoint', 0);";
static const char *const v1_postgres =
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);"
    "INSERT INTO schema_migrations VALUES (1, 0);"
    "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
    "  version BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (kind, id));"
    "CREATE TABLE audit_log (idx BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,"
    "  sealed INTEGER NOT NULL, data BYTEA NOT NULL, leaf_hash BYTEA NOT NULL);"
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;"
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
    "  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
    "CREATE TABLE checkpoints (tree_size BIGINT PRIMARY KEY, note TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "INSERT INTO documents VALUES ('target', 't-1', '{\"old\":true}', 4, 0);"
    "INSERT INTO documents VALUES ('pkg', 'p-1', '{\"record\":{\"owner\":\"tenant:a\"}}', 1, 0);"
    "INSERT INTO documents VALUES ('pkg', 'p-2', '{\"record\":{\"owner\":\"operator\"}}', 1, 0);"
    "INSERT INTO audit_log VALUES (0, 5, 0, '\\x6f6c64', decode(repeat('00', 32), 'hex'));"
    "INSERT INTO checkpoints VALUES (1, 'old checkpoint', 0);";

static void test_migration_from_v1(void **state) {
  (void)state;
  char u[600], why[256];
  fresh_url(u, sizeof u);
  if (is_sqlite(u)) {
    /* a file the test makes, so the store does not create it */
    FILE *f = fopen(u + 7, "w");
    assert_non_null(f);
    fclose(f);
  }
  if (raw_exec(u, is_sqlite(u) ? v1_sqlite : v1_postgres, why, sizeof why))
    fail_msg("v1 fixture: %s", why);
  lisec_store *s = open_url(u);
  lisec_err err = {0};
  int v = 0;
  assert_int_equal(store_schema_version(s, &v, &err), 0);
  assert_int_equal(v, SCHEMA_VERSION);
  char *body = NULL;
  int64_t version = 0;
  assert_int_equal(store_doc_get(s, "target", "t-1", &body, &version, &err), 0);
  assert_string_equal(body, "{\"old\":true}");
  assert_int_equal(version, 4);
  free(body);
  /* migration 3: a tenant's package moves to its own namespace, the
   * operator's stays */
  assert_int_equal(store_doc_get(s, "pkg", "tenant:a:p-1", &body, NULL, &err), 0);
  free(body);
  assert_int_equal(store_doc_get(s, "pkg", "p-1", &body, NULL, &err), LISEC_ENOTFOUND);
  assert_int_equal(store_doc_get(s, "pkg", "p-2", &body, NULL, &err), 0);
  free(body);
  assert_int_equal(log_size(s), 1);
  store_log_entry e = {.index = 1, .time_ms = 6, .data = (const uint8_t *)"new", .len = 3};
  assert_int_equal(store_log_append(s, &e, 1, &err), 0);
  uint64_t cp = 0;
  char *note = NULL;
  assert_int_equal(store_checkpoint_latest(s, &cp, &note, &err), 0);
  assert_int_equal(cp, 1);
  assert_string_equal(note, "old checkpoint");
  free(note);
  store_close(s);
  /* the new triggers hold on the upgraded database */
  assert_int_equal(raw_exec(u,
                            is_sqlite(u)
                                ? "INSERT OR REPLACE INTO audit_log VALUES (0, 0, 0, x'00', x'00')"
                                : "TRUNCATE audit_log",
                            why, sizeof why),
                   -1);
  assert_non_null(strstr(why, "append-only"));
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM audit_log"), 2);
}

/* ---- documents --------------------------------------------------------- */

static void test_doc_versions(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  int64_t v = 0;
  /* 0: must not exist yet */
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":1}", 0, &v, &err), 0);
  assert_int_equal(v, 1);
  v = 77;
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":2}", 0, &v, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "exists already"));
  assert_int_equal(v, 77); /* untouched on failure */
  /* n: must be at version n */
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":2}", 5, &v, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "version 1, not 5"));
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":2}", 1, &v, &err), 0);
  assert_int_equal(v, 2);
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":9}", 1, &v, &err), LISEC_ECONFLICT);
  assert_int_equal(store_doc_put(s, "t-ver", "nope", "{}", 3, &v, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "does not exist"));
  /* -1: whatever is there */
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"a\":3}", -1, &v, &err), 0);
  assert_int_equal(v, 3);
  assert_int_equal(store_doc_put(s, "t-ver", "h2", "{}", -1, &v, &err), 0);
  assert_int_equal(v, 1);
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{}", -2, &v, &err), LISEC_EINVAL);
  /* the refused writes changed nothing, seen from outside */
  assert_int_equal(raw_int(url, "SELECT version FROM documents WHERE kind = 't-ver' AND id = 'h1'"),
                   3);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-ver'"), 2);
  /* a second handle (another process or thread) sees the same versions */
  lisec_store *s2 = open_store();
  assert_int_equal(store_doc_put(s2, "t-ver", "h1", "{\"b\":1}", 2, &v, &err), LISEC_ECONFLICT);
  assert_int_equal(store_doc_put(s2, "t-ver", "h1", "{\"b\":1}", 3, &v, &err), 0);
  assert_int_equal(store_doc_put(s, "t-ver", "h1", "{\"c\":1}", 3, &v, &err), LISEC_ECONFLICT);
  store_close(s2);
  store_close(s);
}

typedef struct ids {
  int n;
  char id[8][64];
  int stop_after;
} ids;

static int collect_ids(void *ctx, const char *id, const char *body, int64_t version) {
  (void)body, (void)version;
  ids *c = ctx;
  if (c->n < 8) snprintf(c->id[c->n], sizeof c->id[0], "%s", id);
  c->n++;
  return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

static void test_doc_get_list_delete(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  /* UTF-8 and JSON escapes come back byte for byte */
  const char *body = "{\"name\":\"G\xc3\xbcnther \xe2\x82\xac\",\"q\":\"a\\\"b\\\\c\\n\"}";
  assert_int_equal(store_doc_put(s, "t-crud", "b", body, 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-crud", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-crud", "B", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-crud", "\xc3\xa9", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-crud-other", "a", "{\"other\":1}", 0, NULL, &err), 0);
  char *got = NULL;
  int64_t v = 0;
  assert_int_equal(store_doc_get(s, "t-crud", "b", &got, &v, &err), 0);
  assert_string_equal(got, body);
  assert_int_equal(v, 1);
  free(got);
  assert_int_equal(store_doc_get(s, "t-crud", "a", &got, NULL, &err), 0);
  assert_string_equal(got, "{}"); /* not the other kind's "a" */
  free(got);
  /* listed in byte order: 'B' (0x42) < 'a' < 'b' < 0xC3 */
  ids c = {0};
  assert_int_equal(store_doc_list(s, "t-crud", collect_ids, &c, &err), 0);
  assert_int_equal(c.n, 4);
  assert_string_equal(c.id[0], "B");
  assert_string_equal(c.id[1], "a");
  assert_string_equal(c.id[2], "b");
  assert_string_equal(c.id[3], "\xc3\xa9");
  /* a callback stops the walk, and its code comes back */
  ids stop = {.stop_after = 2};
  assert_int_equal(store_doc_list(s, "t-crud", collect_ids, &stop, &err), 42);
  assert_int_equal(stop.n, 2);
  assert_int_equal(kind_count(s, "t-crud-none"), 0);
  /* delete, once */
  assert_int_equal(store_doc_delete(s, "t-crud", "b", &err), 0);
  assert_int_equal(store_doc_delete(s, "t-crud", "b", &err), LISEC_ENOTFOUND);
  got = NULL;
  assert_int_equal(store_doc_get(s, "t-crud", "b", &got, NULL, &err), LISEC_ENOTFOUND);
  assert_null(got);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-crud'"), 3);
  /* a deleted document can be created anew, from version 1 */
  assert_int_equal(store_doc_put(s, "t-crud", "b", "{}", 0, &v, &err), 0);
  assert_int_equal(v, 1);
  store_close(s);
}

/* More documents than one page of a paged walk, and a walk whose callback
 * uses the store again (the same query, nested). */
static int nested_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)body, (void)version;
  lisec_store *s = ctx;
  lisec_err err = {0};
  char *got = NULL;
  if (store_doc_get(s, "t-many", id, &got, NULL, &err)) return -100;
  free(got);
  if (strcmp(id, "d0007") == 0 && kind_count(s, "t-many") != 300) return -101;
  /* a write (its own transaction) in the middle of the walk */
  if (strcmp(id, "d0100") == 0 && store_doc_put(s, "t-many-side", id, "{}", 0, NULL, &err))
    return -102;
  return 0;
}

static void test_doc_many_and_nested(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  assert_int_equal(store_begin(s, &err), 0);
  for (int i = 0; i < 300; i++) {
    char id[16];
    snprintf(id, sizeof id, "d%04d", i);
    assert_int_equal(store_doc_put(s, "t-many", id, "{}", 0, NULL, &err), 0);
  }
  assert_int_equal(store_commit(s, &err), 0);
  assert_int_equal(kind_count(s, "t-many"), 300);
  assert_int_equal(store_doc_list(s, "t-many", nested_cb, s, &err), 0);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-many-side'"), 1);
  store_close(s);
}

static void test_doc_bad_arguments(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  char kind_max[STORE_KIND_MAX + 2], id_max[STORE_ID_MAX + 2];
  memset(kind_max, 'k', sizeof kind_max);
  memset(id_max, 'i', sizeof id_max);
  kind_max[STORE_KIND_MAX] = id_max[STORE_ID_MAX] = '\0';
  /* exactly at the bounds: accepted */
  assert_int_equal(store_doc_put(s, kind_max, id_max, "{}", 0, NULL, &err), 0);
  /* one byte over: refused, naming the field */
  kind_max[STORE_KIND_MAX] = 'k';
  kind_max[STORE_KIND_MAX + 1] = '\0';
  assert_int_equal(store_doc_put(s, kind_max, "a", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "kind"));
  id_max[STORE_ID_MAX] = 'i';
  id_max[STORE_ID_MAX + 1] = '\0';
  assert_int_equal(store_doc_put(s, "t-bad", id_max, "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "id"));
  /* empty or missing names */
  assert_int_equal(store_doc_put(s, "", "a", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "kind is empty"));
  assert_int_equal(store_doc_put(s, NULL, "a", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_doc_put(s, "t-bad", "", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "id is empty"));
  assert_int_equal(store_doc_put(s, "t-bad", NULL, "{}", -1, NULL, &err), LISEC_EINVAL);
  /* control characters and malformed UTF-8 (invalid byte, overlong '/',
   * UTF-16 surrogate, truncated sequence, beyond U+10FFFF) */
  const char *bad_names[] = {"a\nb", "a\x7f", "\t", "\xff", "\xc0\xaf", "\xed\xa0\x80",
                             "\xe2\x82", "\xf4\x90\x80\x80"};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
    assert_int_equal(store_doc_put(s, "t-bad", bad_names[i], "{}", -1, NULL, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "id"));
    assert_int_equal(store_doc_put(s, bad_names[i], "a", "{}", -1, NULL, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "kind"));
  }
  /* the body */
  assert_int_equal(store_doc_put(s, "t-bad", "a", NULL, -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "body"));
  assert_int_equal(store_doc_put(s, "t-bad", "a", "", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "body"));
  assert_int_equal(store_doc_put(s, "t-bad", "a", "{\"x\":\"\xff\"}", -1, NULL, &err),
                   LISEC_EINVAL);
  char *big = malloc(STORE_BODY_MAX + 2);
  assert_non_null(big);
  memset(big, ' ', STORE_BODY_MAX + 1);
  big[0] = '"';
  big[STORE_BODY_MAX - 1] = '"';
  big[STORE_BODY_MAX] = '\0';
  assert_int_equal(store_doc_put(s, "t-big", "max", big, 0, NULL, &err), 0);
  big[STORE_BODY_MAX] = ' ';
  big[STORE_BODY_MAX + 1] = '\0';
  assert_int_equal(store_doc_put(s, "t-bad", "over", big, -1, NULL, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "body"));
  free(big);
  char *got = NULL;
  int64_t v = 0;
  assert_int_equal(store_doc_get(s, "t-big", "max", &got, &v, &err), 0);
  assert_int_equal(strlen(got), STORE_BODY_MAX);
  free(got);
  /* reads and deletes check names the same way */
  assert_int_equal(store_doc_get(s, "", "a", &got, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_doc_get(s, "t-bad", "\xff", &got, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_doc_delete(s, "t-bad", "", &err), LISEC_EINVAL);
  assert_int_equal(store_doc_list(s, "", count_docs, NULL, &err), LISEC_EINVAL);
  /* nothing was stored by any refused call */
  assert_int_equal(kind_count(s, "t-bad"), 0);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-bad'"), 0);
  store_close(s);
}

/* ---- transactions ------------------------------------------------------ */

static store_log_entry entry(uint64_t index, const char *text) {
  store_log_entry e = {.index = index, .time_ms = 1700000000000 + (int64_t)index,
                       .sealed = (int)(index & 1), .data = (const uint8_t *)text,
                       .len = strlen(text)};
  for (int i = 0; i < 32; i++) e.leaf_hash[i] = (uint8_t)(index * 31 + (uint64_t)i);
  return e;
}

static void test_rollback_leaves_nothing(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  /* a failed call poisons the transaction: committing anyway writes nothing */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "b", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), LISEC_ECONFLICT);
  assert_int_equal(store_commit(s, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "rolled back"));
  assert_int_equal(kind_count(s, "t-tx"), 0);
  /* so does a refused argument */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "", "{}", 0, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_commit(s, &err), LISEC_ESTORE);
  assert_int_equal(kind_count(s, "t-tx"), 0);
  /* documents, log entries and a checkpoint together, then a log conflict */
  uint64_t size = log_size(s);
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "c", "{}", 0, NULL, &err), 0);
  store_log_entry e[2] = {entry(size, "tx-1"), entry(size + 1, "tx-2")};
  assert_int_equal(store_log_append(s, e, 2, &err), 0);
  assert_int_equal(store_checkpoint_put(s, size + 2, "tx-checkpoint\n", &err), 0);
  store_log_entry late = entry(size, "late");
  assert_int_equal(store_log_append(s, &late, 1, &err), LISEC_ECONFLICT);
  assert_int_equal(store_commit(s, &err), LISEC_ESTORE);
  assert_int_equal(log_size(s), size);
  assert_int_equal(kind_count(s, "t-tx"), 0);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM checkpoints WHERE tree_size = %llu",
           (unsigned long long)size + 2);
  assert_int_equal(raw_int(url, sql), 0);
  /* an explicit rollback */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "d", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_rollback(s), 0);
  assert_int_equal(kind_count(s, "t-tx"), 0);
  /* an answer is not a failure: ENOTFOUND and a stopped walk keep it alive */
  assert_int_equal(store_begin(s, &err), 0);
  char *got = NULL;
  assert_int_equal(store_doc_get(s, "t-tx", "missing", &got, NULL, &err), LISEC_ENOTFOUND);
  assert_int_equal(store_doc_put(s, "t-tx", "e", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "f", "{}", 0, NULL, &err), 0);
  ids stop = {.stop_after = 1};
  assert_int_equal(store_doc_list(s, "t-tx", collect_ids, &stop, &err), 42);
  assert_int_equal(store_commit(s, &err), 0);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-tx'"), 2);
  /* no nesting, no commit without a begin */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_begin(s, &err), LISEC_EINTERNAL);
  assert_int_equal(store_rollback(s), 0);
  assert_int_equal(store_commit(s, &err), LISEC_EINTERNAL);
  /* closing with a transaction open rolls it back */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "g", "{}", 0, NULL, &err), 0);
  store_close(s);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-tx'"), 2);
}

/* A transaction that does not wait for the disk (a nonce's issue): its
 * commit lands whole and is seen from another connection; inside it the
 * connection does not wait, before and after it does, whether it commits,
 * rolls back or fails; and it nests with nothing. */
static void test_commit_nowait(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  bool durable = false;
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  assert_int_equal(store_begin_nowait(s, &err), 0);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_false(durable);
  assert_int_equal(store_doc_put(s, "t-nowait", "a", "{\"n\":1}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-nowait", "b", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_commit(s, &err), 0);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-nowait'"), 2);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  /* rolled back: nothing written, durable again */
  assert_int_equal(store_begin_nowait(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-nowait", "c", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_rollback(s), 0);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-nowait'"), 2);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  /* a failed call inside it: the commit writes nothing, durable again */
  assert_int_equal(store_begin_nowait(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-nowait", "d", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-nowait", "a", "{}", 0, NULL, &err), LISEC_ECONFLICT);
  assert_int_equal(store_commit(s, &err), LISEC_ESTORE);
  assert_int_equal(raw_int(url, "SELECT COUNT(*) FROM documents WHERE kind = 't-nowait'"), 2);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  /* no nesting either way; the open transaction keeps its own mode */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_begin_nowait(s, &err), LISEC_EINTERNAL);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  assert_int_equal(store_rollback(s), 0);
  assert_int_equal(store_begin_nowait(s, &err), 0);
  assert_int_equal(store_begin(s, &err), LISEC_EINTERNAL);
  assert_int_equal(store_rollback(s), 0);
  /* a write of its own after it waits for the disk again */
  assert_int_equal(store_doc_put(s, "t-nowait", "e", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_durable(s, &durable, &err), 0);
  assert_true(durable);
  store_close(s);
}

/* The database refuses the second entry of a batch (a trigger added from
 * outside for the test): the first must not stay behind. */
static void test_batch_failure_midway(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = log_size(s);
  char sql[512], why[256];
  if (is_sqlite(url))
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_log WHEN NEW.idx = %llu "
             "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
             (unsigned long long)size + 1);
  else
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "IF NEW.idx = %llu THEN RAISE EXCEPTION 'refused for the test'; END IF; "
             "RETURN NEW; END $$; CREATE TRIGGER test_refuse BEFORE INSERT ON audit_log "
             "FOR EACH ROW EXECUTE FUNCTION test_refuse();",
             (unsigned long long)size + 1);
  assert_int_equal(raw_exec(url, sql, why, sizeof why), 0);
  store_log_entry e[3] = {entry(size, "m0"), entry(size + 1, "m1"), entry(size + 2, "m2")};
  int rc = store_log_append(s, e, 3, &err);
  assert_true(rc < 0);
  assert_non_null(strstr(err.msg, "refused for the test"));
  assert_int_equal(log_size(s), size);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit_log WHERE idx >= %llu",
           (unsigned long long)size);
  assert_int_equal(raw_int(url, sql), 0);
  assert_int_equal(raw_exec(url,
                            is_sqlite(url) ? "DROP TRIGGER test_refuse"
                                           : "DROP TRIGGER test_refuse ON audit_log; "
                                             "DROP FUNCTION test_refuse()",
                            why, sizeof why),
                   0);
  assert_int_equal(store_log_append(s, e, 3, &err), 0);
  assert_int_equal(log_size(s), size + 3);
  store_close(s);
}

/* ---- the audit log ----------------------------------------------------- */

typedef struct collect {
  int n;
  uint64_t idx[400];
  int64_t time[4];
  int sealed[4];
  uint8_t data[4][64];
  size_t len[4];
  uint8_t hash[4][32];
  int stop_after;
} collect;

static int collect_cb(void *ctx, const store_log_entry *e) {
  collect *c = ctx;
  if (c->n >= 400) return -1;
  c->idx[c->n] = e->index;
  if (c->n < 4) {
    c->time[c->n] = e->time_ms;
    c->sealed[c->n] = e->sealed;
    c->len[c->n] = e->len < 64 ? e->len : 64;
    memcpy(c->data[c->n], e->data, c->len[c->n]);
    memcpy(c->hash[c->n], e->leaf_hash, 32);
  }
  c->n++;
  return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static void test_log_append_and_read(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t base = log_size(s);
  /* binary data with NUL and 0xff bytes travels unchanged */
  static const uint8_t bin[] = {0x00, 0xff, 0x00, 0x5c, 0x27, 0x22, 0x01};
  store_log_entry batch[3] = {entry(base, "zero"), entry(base + 1, "one"), entry(base + 2, "x")};
  batch[2].data = bin;
  batch[2].len = sizeof bin;
  batch[2].time_ms = -5;
  assert_int_equal(store_log_append(s, batch, 3, &err), 0);
  assert_int_equal(log_size(s), base + 3);
  /* committed on return: another connection sees the entries at once */
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit_log WHERE idx >= %llu",
           (unsigned long long)base);
  assert_int_equal(raw_int(url, sql), 3);
  collect c = {0};
  assert_int_equal(store_log_range(s, base, base + 3, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c.idx[i], base + (uint64_t)i);
    assert_int_equal(c.time[i], batch[i].time_ms);
    assert_int_equal(c.sealed[i], batch[i].sealed);
    assert_int_equal(c.len[i], batch[i].len);
    assert_memory_equal(c.data[i], batch[i].data, batch[i].len);
    assert_memory_equal(c.hash[i], batch[i].leaf_hash, 32);
  }
  /* partial ranges, a range past the end, an empty range */
  memset(&c, 0, sizeof c);
  assert_int_equal(store_log_range(s, base + 1, base + 100, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.idx[0], base + 1);
  memset(&c, 0, sizeof c);
  assert_int_equal(store_log_range(s, base + 2, base + 2, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 0);
  assert_int_equal(store_log_range(s, base + 3, base + 2, collect_cb, &c, &err), LISEC_EINVAL);
  assert_int_equal(store_log_range(s, 0, (uint64_t)INT64_MAX + 1, collect_cb, &c, &err),
                   LISEC_EINVAL);
  /* a callback stops the walk */
  collect stop = {.stop_after = 2};
  assert_int_equal(store_log_range(s, base, base + 3, collect_cb, &stop, &err), 7);
  assert_int_equal(stop.n, 2);
  /* n = 0 appends nothing */
  assert_int_equal(store_log_append(s, batch, 0, &err), 0);
  assert_int_equal(log_size(s), base + 3);
  /* more entries than one page of a paged read */
  static store_log_entry many[300];
  for (int i = 0; i < 300; i++) many[i] = entry(base + 3 + (uint64_t)i, "many");
  assert_int_equal(store_log_append(s, many, 300, &err), 0);
  memset(&c, 0, sizeof c);
  assert_int_equal(store_log_range(s, base, base + 303, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 303);
  for (int i = 0; i < 303; i++) assert_int_equal(c.idx[i], base + (uint64_t)i);
  store_close(s);
}

static void test_log_contiguity(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t base = log_size(s);
  store_log_entry first = entry(base, "first");
  assert_int_equal(store_log_append(s, &first, 1, &err), 0);
  /* a gap after the end */
  store_log_entry gap = entry(base + 2, "gap");
  assert_int_equal(store_log_append(s, &gap, 1, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "holds"));
  /* an overlap with what is stored, even when the batch runs on past it */
  store_log_entry overlap[2] = {entry(base, "again"), entry(base + 1, "next")};
  assert_int_equal(store_log_append(s, overlap, 2, &err), LISEC_ECONFLICT);
  /* a batch with a hole or a repeat inside it */
  store_log_entry holes[2] = {entry(base + 1, "a"), entry(base + 3, "b")};
  assert_int_equal(store_log_append(s, holes, 2, &err), LISEC_EINVAL);
  store_log_entry repeat[2] = {entry(base + 1, "a"), entry(base + 1, "b")};
  assert_int_equal(store_log_append(s, repeat, 2, &err), LISEC_EINVAL);
  /* two writers that both read the size: the second one loses */
  lisec_store *s2 = open_store();
  uint64_t n1 = log_size(s), n2 = log_size(s2);
  assert_int_equal(n1, n2);
  store_log_entry w1 = entry(n1, "writer-1"), w2 = entry(n2, "writer-2");
  assert_int_equal(store_log_append(s, &w1, 1, &err), 0);
  assert_int_equal(store_log_append(s2, &w2, 1, &err), LISEC_ECONFLICT);
  store_close(s2);
  /* nothing of the refused appends is stored */
  assert_int_equal(log_size(s), base + 2);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit_log WHERE idx >= %llu",
           (unsigned long long)base);
  assert_int_equal(raw_int(url, sql), 2);
  collect c = {0};
  assert_int_equal(store_log_range(s, base, base + 2, collect_cb, &c, &err), 0);
  assert_memory_equal(c.data[0], "first", 5);
  assert_memory_equal(c.data[1], "writer-1", 8);
  store_close(s);
}

static void test_log_bad_entries(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = log_size(s);
  store_log_entry e = entry(size, "x");
  e.len = 0;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  e = entry(size, "x");
  e.data = NULL;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  e = entry(size, "x");
  e.sealed = 2;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "sealed"));
  e = entry(size, "x");
  e.index = (uint64_t)INT64_MAX;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  assert_int_equal(store_log_append(s, NULL, 1, &err), LISEC_EINVAL);
  /* exactly STORE_LOG_DATA_MAX is accepted, one byte more is not */
  uint8_t *big = calloc(1, STORE_LOG_DATA_MAX + 1);
  assert_non_null(big);
  e = entry(size, "x");
  e.data = big;
  e.len = STORE_LOG_DATA_MAX + 1;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_ETOOBIG);
  assert_int_equal(log_size(s), size);
  e.len = STORE_LOG_DATA_MAX;
  assert_int_equal(store_log_append(s, &e, 1, &err), 0);
  free(big);
  assert_int_equal(log_size(s), size + 1);
  store_close(s);
}

/* tmpl with each '@' replaced by v (the tamper statements name an index). */
static void subst(char *out, size_t n, const char *tmpl, uint64_t v) {
  size_t at = 0;
  for (const char *p = tmpl; *p && at + 24 < n; p++) {
    if (*p == '@') at += (size_t)snprintf(out + at, n - at, "%llu", (unsigned long long)v);
    else out[at++] = *p;
  }
  out[at] = '\0';
}

/* Someone with write access to the database, past the store: the log's
 * triggers refuse to change or remove entries or to slot one in. */
static void test_log_refuses_tampering(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = log_size(s);
  store_log_entry e = entry(size, "keep me");
  assert_int_equal(store_log_append(s, &e, 1, &err), 0);
  assert_int_equal(store_checkpoint_put(s, size + 1, "tamper-test checkpoint\n", &err), 0);
  char sql[256], why[512];
  const bool lite = is_sqlite(url);
  const char *attempts[] = {
      lite ? "UPDATE audit_log SET data = x'00' WHERE idx = @"
           : "UPDATE audit_log SET data = '\\x00' WHERE idx = @",
      "UPDATE audit_log SET sealed = 1 - sealed WHERE idx = @",
      "DELETE FROM audit_log WHERE idx = @",
      "DELETE FROM audit_log WHERE idx >= 0 OR idx = @",
      /* replacing a row (SQLite's REPLACE bypasses DELETE triggers) */
      lite ? "INSERT OR REPLACE INTO audit_log VALUES (@, 0, 0, x'00', zeroblob(32))"
           : "INSERT INTO audit_log VALUES (@, 0, 0, '\\x00', '\\x00') "
             "ON CONFLICT (idx) DO UPDATE SET data = EXCLUDED.data",
      /* an entry past the end, leaving a gap */
      lite ? "INSERT INTO audit_log VALUES (@ + 5, 0, 0, x'00', zeroblob(32))"
           : "INSERT INTO audit_log VALUES (@ + 5, 0, 0, '\\x00', '\\x00')",
      lite ? "DELETE FROM audit_log WHERE @ >= 0" : "TRUNCATE audit_log /* @ */",
      "UPDATE checkpoints SET note = 'forged' WHERE tree_size = @ + 1",
      "DELETE FROM checkpoints WHERE tree_size = @ + 1",
      lite ? "INSERT OR REPLACE INTO checkpoints VALUES (@ + 1, 'forged', 0)"
           : "TRUNCATE checkpoints /* @ */",
  };
  for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
    subst(sql, sizeof sql, attempts[i], size);
    if (raw_exec(url, sql, why, sizeof why) == 0) fail_msg("not refused: %s", sql);
    if (!strstr(why, "append-only")) fail_msg("%s refused for another reason: %s", sql, why);
  }
  collect c = {0};
  assert_int_equal(store_log_range(s, size, size + 10, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.len[0], 7);
  assert_memory_equal(c.data[0], "keep me", 7);
  assert_int_equal(c.sealed[0], e.sealed);
  assert_int_equal(log_size(s), size + 1);
  uint64_t cp = 0;
  char *note = NULL;
  assert_int_equal(store_checkpoint_latest(s, &cp, &note, &err), 0);
  assert_int_equal(cp, size + 1);
  assert_string_equal(note, "tamper-test checkpoint\n");
  free(note);
  store_close(s);
}

/* A row at the largest index (put there by someone who dropped the
 * triggers) is refused by name, not summed past the integer's range. */
static void test_log_size_at_the_edge(void **state) {
  (void)state;
  char u[512];
  fresh_url(u, sizeof u); /* the shared database's log stays as it is */
  lisec_store *s = open_url(u);
  lisec_err err = {0};
  const bool lite = is_sqlite(u);
  char why[512];
  const char *sql = lite ? "DROP TRIGGER audit_log_at_end; "
                           "INSERT INTO audit_log VALUES (9223372036854775807, 0, 0, x'00', zeroblob(32))"
                         : "DROP TRIGGER audit_log_at_end ON audit_log; "
                           "INSERT INTO audit_log VALUES (9223372036854775807, 0, 0, '\\x00', '\\x00')";
  if (raw_exec(u, sql, why, sizeof why) != 0) fail_msg("%s: %s", sql, why);
  uint64_t got = 0;
  assert_int_equal(store_log_size(s, &got, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "index 9223372036854775807"));
  assert_int_equal(got, 0);
  store_close(s);
}

/* ---- checkpoints ------------------------------------------------------- */

typedef struct cps {
  int n;
  uint64_t size[8];
  char note[8][64];
} cps;

static int collect_cp(void *ctx, uint64_t size, const char *note) {
  cps *c = ctx;
  if (c->n < 8) {
    c->size[c->n] = size;
    snprintf(c->note[c->n], sizeof c->note[0], "%s", note);
  }
  c->n++;
  return c->n == 99 ? 5 : 0;
}

static int stop_cp(void *ctx, uint64_t size, const char *note) {
  (void)size, (void)note;
  (*(int *)ctx)++;
  return 9;
}

static void test_checkpoints(void **state) {
  (void)state;
  char u[600];
  fresh_url(u, sizeof u);
  lisec_store *s = open_url(u);
  lisec_err err = {0};
  uint64_t size = 99;
  char *note = NULL;
  assert_int_equal(store_checkpoint_latest(s, &size, &note, &err), LISEC_ENOTFOUND);
  assert_null(note);
  assert_int_equal(store_checkpoint_put(s, 3, "origin\n3\nAAAA\n", &err), 0);
  assert_int_equal(store_checkpoint_put(s, 7, "origin\n7\nBBBB\n", &err), 0);
  assert_int_equal(store_checkpoint_put(s, 5, "origin\n5\nCCCC\n", &err), 0);
  assert_int_equal(store_checkpoint_put(s, 0, "origin\n0\nDDDD\n", &err), 0);
  assert_int_equal(store_checkpoint_latest(s, &size, &note, &err), 0);
  assert_int_equal(size, 7);
  assert_string_equal(note, "origin\n7\nBBBB\n");
  free(note);
  cps c = {0};
  assert_int_equal(store_checkpoint_list(s, collect_cp, &c, &err), 0);
  assert_int_equal(c.n, 4);
  assert_int_equal(c.size[0], 0);
  assert_int_equal(c.size[1], 3);
  assert_int_equal(c.size[2], 5);
  assert_int_equal(c.size[3], 7);
  assert_string_equal(c.note[2], "origin\n5\nCCCC\n");
  int calls = 0;
  assert_int_equal(store_checkpoint_list(s, stop_cp, &calls, &err), 9);
  assert_int_equal(calls, 1);
  /* from a size on (the audit log's open from a stored frontier) */
  memset(&c, 0, sizeof c);
  assert_int_equal(store_checkpoint_list_from(s, 5, collect_cp, &c, &err), 0);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.size[0], 5);
  assert_int_equal(c.size[1], 7);
  memset(&c, 0, sizeof c);
  assert_int_equal(store_checkpoint_list_from(s, 8, collect_cp, &c, &err), 0);
  assert_int_equal(c.n, 0);
  /* the same checkpoint again is a no-op; a different one for the same size
   * is refused and the first kept */
  assert_int_equal(store_checkpoint_put(s, 7, "origin\n7\nBBBB\n", &err), 0);
  assert_int_equal(store_checkpoint_put(s, 7, "origin\n7\nEVIL\n", &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "different checkpoint"));
  /* bad notes and sizes */
  assert_int_equal(store_checkpoint_put(s, 8, "", &err), LISEC_EINVAL);
  assert_int_equal(store_checkpoint_put(s, 8, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_checkpoint_put(s, 8, "\xff\n", &err), LISEC_EINVAL);
  assert_int_equal(store_checkpoint_put(s, (uint64_t)INT64_MAX + 1, "n\n", &err), LISEC_EINVAL);
  char *big = malloc(64 * 1024 + 2);
  assert_non_null(big);
  memset(big, 'n', 64 * 1024 + 1);
  big[64 * 1024 + 1] = '\0';
  assert_int_equal(store_checkpoint_put(s, 8, big, &err), LISEC_ETOOBIG);
  free(big);
  memset(&c, 0, sizeof c);
  assert_int_equal(store_checkpoint_list(s, collect_cp, &c, &err), 0);
  assert_int_equal(c.n, 4);
  assert_string_equal(c.note[3], "origin\n7\nBBBB\n");
  assert_int_equal(raw_int(u, "SELECT COUNT(*) FROM checkpoints"), 4);
  store_close(s);
}

/* ---- reachability ------------------------------------------------------ */

static void test_unreachable_and_bad_url(void **state) {
  (void)state;
  lisec_store *s = NULL;
  lisec_err err = {0};
  /* port 1 on loopback: nothing listens there */
  assert_int_equal(store_open("postgresql://lisec@127.0.0.1:1/lisec?connect_timeout=2", &s, &err),
                   LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "cannot connect"));
  assert_non_null(strstr(err.msg, "127.0.0.1"));
  assert_null(s);
  assert_int_equal(store_open("postgres://lisec@127.0.0.1:1/lisec?connect_timeout=2", &s, &err),
                   LISEC_EUNAVAIL);
  assert_int_equal(store_open("sqlite:/nonexistent-dir/x/y.db", &s, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/x/y.db"));
  /* a URL that is not one, without repeating the password in it */
  assert_int_equal(store_open("mysql://u:secretpw@h/db", &s, &err), LISEC_EINVAL);
  assert_null(strstr(err.msg, "secretpw"));
  assert_int_equal(store_open("postgresql://u:secretpw@h/db?no_such_parameter=1", &s, &err),
                   LISEC_EINVAL);
  assert_null(strstr(err.msg, "secretpw"));
  assert_int_equal(store_open("sqlite:", &s, &err), LISEC_EINVAL);
  assert_int_equal(store_open(NULL, &s, &err), LISEC_EINVAL);
  /* a file that is not a SQLite database */
  char path[128];
  snprintf(path, sizeof path, "%s/garbage.db", tmpdir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 512; i++) fputs("not a database ", f);
  fclose(f);
  char u[160];
  snprintf(u, sizeof u, "sqlite:%s", path);
  assert_true(store_open(u, &s, &err) < 0);
  assert_null(s);
}

/* The server ends the session (as on a failover or restart): inside a
 * transaction the store says so and the transaction is gone whole; outside
 * one, the next call reconnects. PostgreSQL only: SQLite has no server. */
static void test_connection_lost(void **state) {
  (void)state;
  if (is_sqlite(url)) skip();
  char victim[600];
  snprintf(victim, sizeof victim, "%s%sapplication_name=lisec_victim", url,
           strchr(url, '?') ? "&" : "?");
  const char *kill_sql =
      "SELECT COUNT(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
      "WHERE application_name = 'lisec_victim'";
  lisec_store *s = open_url(victim);
  lisec_err err = {0};
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-lost", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(raw_int(url, kill_sql), 1);
  assert_int_equal(store_doc_put(s, "t-lost", "b", "{}", 0, NULL, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "postgresql"));
  assert_true(store_commit(s, &err) < 0);
  /* outside the transaction the store is back at once */
  assert_int_equal(store_ping(s, &err), 0);
  assert_int_equal(kind_count(s, "t-lost"), 0);
  assert_int_equal(store_doc_put(s, "t-lost", "c", "{}", 0, NULL, &err), 0);
  /* killed while idle: ping reconnects within the one call */
  assert_int_equal(raw_int(url, kill_sql), 1);
  assert_int_equal(store_ping(s, &err), 0);
  assert_int_equal(kind_count(s, "t-lost"), 1);
  store_close(s);
}

/* A writer held up by another connection's open transaction gives up after
 * the lock timeout with EUNAVAIL (try again), and the URL can set that
 * timeout. PostgreSQL only: SQLite's fixed 10 s busy timeout is too slow for
 * a unit test. */
static void test_lock_wait_unavailable(void **state) {
  (void)state;
  if (is_sqlite(url)) skip();
  char impatient[600];
  snprintf(impatient, sizeof impatient, "%s%soptions=-c%%20lock_timeout%%3D300", url,
           strchr(url, '?') ? "&" : "?");
  lisec_store *holder = open_store(), *waiter = open_url(impatient);
  lisec_err err = {0};
  assert_int_equal(store_begin(holder, &err), 0);
  assert_int_equal(store_doc_put(holder, "t-lock", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(waiter, "t-lock", "a", "{}", 0, NULL, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "lock"));
  assert_int_equal(store_commit(holder, &err), 0);
  /* once the holder is done, the waiter sees its write */
  assert_int_equal(store_doc_put(waiter, "t-lock", "a", "{}", 0, NULL, &err), LISEC_ECONFLICT);
  store_close(waiter);
  store_close(holder);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrations_run_once),
      cmocka_unit_test(test_migrations_concurrent_open),
      cmocka_unit_test(test_future_schema_refused),
      cmocka_unit_test(test_migration_from_v1),
      cmocka_unit_test(test_doc_versions),
      cmocka_unit_test(test_doc_get_list_delete),
      cmocka_unit_test(test_doc_many_and_nested),
      cmocka_unit_test(test_doc_bad_arguments),
      cmocka_unit_test(test_rollback_leaves_nothing),
      cmocka_unit_test(test_commit_nowait),
      cmocka_unit_test(test_batch_failure_midway),
      cmocka_unit_test(test_log_append_and_read),
      cmocka_unit_test(test_log_contiguity),
      cmocka_unit_test(test_log_bad_entries),
      cmocka_unit_test(test_log_refuses_tampering),
      cmocka_unit_test(test_log_size_at_the_edge),
      cmocka_unit_test(test_checkpoints),
      cmocka_unit_test(test_unreachable_and_bad_url),
      cmocka_unit_test(test_connection_lost),
      cmocka_unit_test(test_lock_wait_unavailable),
  };
  return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
