/* One test suite for both store back ends. The URL comes from
 * LISEC_TEST_STORE_URL (tests/integration/store_postgres.sh points it at a
 * real PostgreSQL); without it, a SQLite file in a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "store/store.h"

static char url[512];
static char tmpdir[64];

static int suite_setup(void **state) {
  (void)state;
  const char *env = getenv("LISEC_TEST_STORE_URL");
  if (env) {
    snprintf(url, sizeof url, "%s", env);
    return 0;
  }
  strcpy(tmpdir, "/tmp/lisec-test-store-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", tmpdir);
  return 0;
}

static int suite_teardown(void **state) {
  (void)state;
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
  }
  return 0;
}

static lisec_store *open_store(void) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  int rc = store_open(url, &s, &err);
  if (rc) fail_msg("store_open(%s): %s", url, err.msg);
  return s;
}

static int count_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)body, (void)version;
  (*(int *)ctx)++;
  return 0;
}

/* Each test works in its own document kind, so the suite can share one DB. */
static void test_migrations_idempotent(void **state) {
  (void)state;
  lisec_store *s = open_store();
  int v1 = 0, v2 = 0;
  lisec_err err = {0};
  assert_int_equal(store_schema_version(s, &v1, &err), 0);
  assert_true(v1 >= 1);
  store_close(s);
  s = open_store();
  assert_int_equal(store_schema_version(s, &v2, &err), 0);
  assert_int_equal(v1, v2);
  assert_int_equal(store_ping(s, &err), 0);
  store_close(s);
}

static void test_doc_crud_and_versions(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  int64_t v = 0;
  assert_int_equal(store_doc_put(s, "t-crud", "h1", "{\"a\":1}", 0, &v, &err), 0);
  assert_int_equal(v, 1);
  /* 0 = must not exist yet */
  assert_int_equal(store_doc_put(s, "t-crud", "h1", "{\"a\":2}", 0, &v, &err), LISEC_ECONFLICT);
  assert_int_equal(store_doc_put(s, "t-crud", "h1", "{\"a\":2}", 5, &v, &err), LISEC_ECONFLICT);
  assert_int_equal(store_doc_put(s, "t-crud", "h1", "{\"a\":2}", 1, &v, &err), 0);
  assert_int_equal(v, 2);
  assert_int_equal(store_doc_put(s, "t-crud", "h1", "{\"a\":3}", -1, &v, &err), 0);
  assert_int_equal(v, 3);
  char *body = NULL;
  int64_t got = 0;
  assert_int_equal(store_doc_get(s, "t-crud", "h1", &body, &got, &err), 0);
  assert_string_equal(body, "{\"a\":3}");
  assert_int_equal(got, 3);
  free(body);
  assert_int_equal(store_doc_put(s, "t-crud", "h0", "{}", 0, NULL, &err), 0);
  int n = 0;
  assert_int_equal(store_doc_list(s, "t-crud", count_cb, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(store_doc_delete(s, "t-crud", "h1", &err), 0);
  assert_int_equal(store_doc_delete(s, "t-crud", "h1", &err), LISEC_ENOTFOUND);
  assert_int_equal(store_doc_get(s, "t-crud", "h1", &body, NULL, &err), LISEC_ENOTFOUND);
  store_close(s);
}

static void test_doc_bad_names(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  char longid[STORE_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(store_doc_put(s, "", "a", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "kind"));
  assert_int_equal(store_doc_put(s, "t-bad", "", "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_int_equal(store_doc_put(s, "t-bad", longid, "{}", -1, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "id"));
  assert_int_equal(store_doc_put(s, "t-bad", "a", NULL, -1, NULL, &err), LISEC_ETOOBIG);
  int n = 0;
  assert_int_equal(store_doc_list(s, "t-bad", count_cb, &n, &err), 0);
  assert_int_equal(n, 0);
  store_close(s);
}

static void test_rollback_leaves_nothing(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "b", "{}", 0, NULL, &err), 0);
  /* the second write of the transaction fails: the caller rolls back */
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), LISEC_ECONFLICT);
  assert_int_equal(store_rollback(s), 0);
  int n = 0;
  assert_int_equal(store_doc_list(s, "t-tx", count_cb, &n, &err), 0);
  assert_int_equal(n, 0);
  /* a committed transaction keeps both */
  assert_int_equal(store_begin(s, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "a", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, "t-tx", "b", "{}", 0, NULL, &err), 0);
  assert_int_equal(store_commit(s, &err), 0);
  assert_int_equal(store_doc_list(s, "t-tx", count_cb, &n, &err), 0);
  assert_int_equal(n, 2);
  store_close(s);
}

static store_log_entry make_entry(uint64_t index, const char *text) {
  store_log_entry e = {.index = index, .time_ms = 1000 + (int64_t)index, .sealed = (int)(index & 1),
                       .data = (const uint8_t *)text, .len = strlen(text)};
  crypto_sha256(text, strlen(text), e.leaf_hash);
  return e;
}

typedef struct collect {
  int n;
  uint64_t idx[16];
  char data[16][32];
  int sealed[16];
  uint8_t hash[16][32];
} collect;

static int collect_cb(void *ctx, const store_log_entry *e) {
  collect *c = ctx;
  if (c->n >= 16) return -1;
  c->idx[c->n] = e->index;
  snprintf(c->data[c->n], 32, "%.*s", (int)e->len, (const char *)e->data);
  c->sealed[c->n] = e->sealed;
  memcpy(c->hash[c->n], e->leaf_hash, 32);
  c->n++;
  return 0;
}

static void test_log_append_contiguous(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = 99;
  assert_int_equal(store_log_size(s, &size, &err), 0);
  uint64_t base = size;
  store_log_entry batch[3] = {make_entry(base, "zero"), make_entry(base + 1, "one"),
                              make_entry(base + 2, "two")};
  assert_int_equal(store_log_append(s, batch, 3, &err), 0);
  assert_int_equal(store_log_size(s, &size, &err), 0);
  assert_int_equal(size, base + 3);
  /* a gap and an overlap are refused and store nothing */
  store_log_entry gap = make_entry(base + 5, "gap");
  assert_int_equal(store_log_append(s, &gap, 1, &err), LISEC_ECONFLICT);
  store_log_entry overlap[2] = {make_entry(base + 2, "again"), make_entry(base + 3, "three")};
  assert_int_equal(store_log_append(s, overlap, 2, &err), LISEC_ECONFLICT);
  store_log_entry holes[2] = {make_entry(base + 3, "a"), make_entry(base + 5, "b")};
  assert_int_equal(store_log_append(s, holes, 2, &err), LISEC_EINVAL);
  assert_int_equal(store_log_size(s, &size, &err), 0);
  assert_int_equal(size, base + 3);
  collect c = {0};
  assert_int_equal(store_log_range(s, base, base + 3, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.data[1], "one");
  assert_int_equal(c.idx[2], base + 2);
  assert_int_equal(c.sealed[1], (int)((base + 1) & 1));
  assert_memory_equal(c.hash[2], batch[2].leaf_hash, 32);
  assert_int_equal(store_log_range(s, base + 3, base + 2, collect_cb, &c, &err), LISEC_EINVAL);
  store_close(s);
}

static void test_log_refuses_update_delete(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = 0;
  assert_int_equal(store_log_size(s, &size, &err), 0);
  store_log_entry e = make_entry(size, "keep me");
  assert_int_equal(store_log_append(s, &e, 1, &err), 0);
  store_close(s);
  /* Reach past the interface, as a tamperer with the database would. */
  char cmd[2048];
  if (strncmp(url, "sqlite:", 7) == 0)
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s \"UPDATE audit_log SET data = x'00' WHERE idx = %llu\" 2>/dev/null; "
             "sqlite3 %s \"DELETE FROM audit_log WHERE idx = %llu\" 2>/dev/null",
             url + 7, (unsigned long long)size, url + 7, (unsigned long long)size);
  else
    snprintf(cmd, sizeof cmd,
             "psql -q '%s' -c \"UPDATE audit_log SET data = '\\\\x00' WHERE idx = %llu\" 2>/dev/null; "
             "psql -q '%s' -c \"DELETE FROM audit_log WHERE idx = %llu\" 2>/dev/null",
             url, (unsigned long long)size, url, (unsigned long long)size);
  assert_int_not_equal(system(cmd), -1);
  s = open_store();
  collect c = {0};
  assert_int_equal(store_log_range(s, size, size + 1, collect_cb, &c, &err), 0);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.data[0], "keep me");
  store_close(s);
}

static void test_log_bad_entries(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = 0;
  assert_int_equal(store_log_size(s, &size, &err), 0);
  store_log_entry e = make_entry(size, "x");
  e.len = 0;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  e.len = STORE_LOG_DATA_MAX + 1;
  assert_int_equal(store_log_append(s, &e, 1, &err), LISEC_EINVAL);
  store_close(s);
}

static int count_cp(void *ctx, uint64_t size, const char *note) {
  (void)size, (void)note;
  (*(int *)ctx)++;
  return 0;
}

static void test_checkpoints(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  uint64_t size = 0;
  char *note = NULL;
  assert_int_equal(store_checkpoint_put(s, 3, "origin\n3\nAAAA\n", &err), 0);
  assert_int_equal(store_checkpoint_put(s, 7, "origin\n7\nBBBB\n", &err), 0);
  assert_int_equal(store_checkpoint_latest(s, &size, &note, &err), 0);
  assert_int_equal(size, 7);
  assert_string_equal(note, "origin\n7\nBBBB\n");
  free(note);
  int n = 0;
  assert_int_equal(store_checkpoint_list(s, count_cp, &n, &err), 0);
  assert_true(n >= 2);
  assert_int_equal(store_checkpoint_put(s, 8, "", &err), LISEC_EINVAL);
  store_close(s);
}

static void test_unreachable_and_bad_url(void **state) {
  (void)state;
  lisec_store *s = NULL;
  lisec_err err = {0};
  /* port 1 on loopback: nothing listens there */
  assert_int_equal(store_open("postgresql://lisec@127.0.0.1:1/lisec?connect_timeout=2", &s, &err),
                   LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "cannot connect"));
  assert_int_equal(store_open("sqlite:/nonexistent-dir/x/y.db", &s, &err), LISEC_EUNAVAIL);
  assert_int_equal(store_open("mysql://x", &s, &err), LISEC_EINVAL);
  assert_int_equal(store_open(NULL, &s, &err), LISEC_EINVAL);
}

static void test_future_schema_refused(void **state) {
  (void)state;
  lisec_store *s = open_store();
  lisec_err err = {0};
  int v = 0;
  assert_int_equal(store_schema_version(s, &v, &err), 0);
  store_close(s);
  char cmd[2048];
  if (strncmp(url, "sqlite:", 7) == 0)
    snprintf(cmd, sizeof cmd, "sqlite3 %s \"INSERT INTO schema_migrations VALUES (%d, 0)\"",
             url + 7, v + 100);
  else
    snprintf(cmd, sizeof cmd, "psql -q '%s' -c \"INSERT INTO schema_migrations VALUES (%d, 0)\"",
             url, v + 100);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(store_open(url, &s, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "newer than this lisec"));
  if (strncmp(url, "sqlite:", 7) == 0)
    snprintf(cmd, sizeof cmd, "sqlite3 %s \"DELETE FROM schema_migrations WHERE version = %d\"",
             url + 7, v + 100);
  else
    snprintf(cmd, sizeof cmd, "psql -q '%s' -c \"DELETE FROM schema_migrations WHERE version = %d\"",
             url, v + 100);
  assert_int_equal(system(cmd), 0);
  s = open_store();
  store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrations_idempotent),  cmocka_unit_test(test_doc_crud_and_versions),
      cmocka_unit_test(test_doc_bad_names),          cmocka_unit_test(test_rollback_leaves_nothing),
      cmocka_unit_test(test_log_append_contiguous),  cmocka_unit_test(test_log_refuses_update_delete),
      cmocka_unit_test(test_log_bad_entries),        cmocka_unit_test(test_checkpoints),
      cmocka_unit_test(test_unreachable_and_bad_url), cmocka_unit_test(test_future_schema_refused),
  };
  return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
