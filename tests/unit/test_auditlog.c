/* Tests of the durable audit appender (src/ctl/auditlog.c) on a real SQLite
 * file, or on PostgreSQL when LISEC_TEST_STORE_URL names one: concurrent
 * appends get unique contiguous indices and wait for durability, proofs and
 * checkpoints verify with the audit module's RFC 9162 verifiers, LI records
 * are stored sealed, a store that refuses the write refuses the caller with
 * the TR 103 308 §5.5 reason (and the log carries on without a gap once the
 * store works again), documents written with a record land with it or not
 * at all, a failed commit fails its batch only, a tampered log is refused
 * at open (a large one opened from its newest checkpoint stops at the
 * recheck after it), and checkpoints
 * follow the entry and time policy. With SOFTHSM2_CONF and LISEC_P11_MODULE
 * set (tests/integration/audit_pkcs11.sh) the checkpoint key lives in a
 * SoftHSM2 token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>

#include "ctl/auditlog.h"
#include "keys/signer.h"

static char tmpdir[64], url[700], keyfile[200], dbfile[200];
/* The checkpoint key, as the keys process holds it (keys/signer.h): in the
 * token when there is one, else the development file (keyfile). */
static keys_signer *signer;
static uint8_t signer_pk[32];
static uint8_t li_pk[32], li_sk[32];
static bool external_store;

static int suite_setup(void **state) {
  (void)state;
  if (sodium_init() < 0) return -1;
  strcpy(tmpdir, "/tmp/lisec-test-auditlog-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  snprintf(keyfile, sizeof keyfile, "%s/checkpoint.pem", tmpdir);
  crypto_box_keypair(li_pk, li_sk);
  return 0;
}

static int suite_teardown(void **state) {
  (void)state;
  keys_signer_close(signer);
  signer = NULL;
  /* The appender leaves the PKCS#11 module initialised (another part of
   * lisecd may share it); at the end of the process this test finalises it
   * so SoftHSM2 releases what it holds. */
  const char *module = getenv("LISEC_P11_MODULE");
  void *h = module && getenv("SOFTHSM2_CONF") ? dlopen(module, RTLD_NOW | RTLD_NOLOAD) : NULL;
  if (h) {
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR) = NULL;
    CK_FUNCTION_LIST_PTR p11 = NULL;
    *(void **)&get_list = dlsym(h, "C_GetFunctionList");
    if (get_list && get_list(&p11) == CKR_OK) p11->C_Finalize(NULL);
    dlclose(h);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd);
}

/* Each test gets a fresh database (a new SQLite file, or a wiped PostgreSQL
 * log through SQL the store helper does not offer). */
static int fresh_store(void **state) {
  (void)state;
  static int n;
  const char *env = getenv("LISEC_TEST_STORE_URL");
  if (env) {
    external_store = true;
    snprintf(url, sizeof url, "%s", env);
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "psql -q '%s' -c 'ALTER TABLE audit_log DISABLE TRIGGER USER; DELETE FROM audit_log; "
             "ALTER TABLE audit_log ENABLE TRIGGER USER; ALTER TABLE checkpoints DISABLE TRIGGER USER; "
             "DELETE FROM checkpoints; ALTER TABLE checkpoints ENABLE TRIGGER USER; "
             "DELETE FROM documents WHERE kind = '\\''audit.frontier'\\'';' >/dev/null 2>&1",
             env);
    if (system(cmd) != 0) { /* the tables exist only after the first open */
    }
    return 0;
  }
  snprintf(dbfile, sizeof dbfile, "%s/audit%d.db", tmpdir, n++);
  snprintf(url, sizeof url, "sqlite:%s", dbfile);
  return 0;
}

static lisec_store *open_store(void) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) fail_msg("store_open(%s): %s", url, err.msg);
  return s;
}

static bool with_token(void) { return getenv("LISEC_P11_MODULE") && getenv("SOFTHSM2_CONF"); }

static keys_signer_pkcs11 token_key(void) {
  return (keys_signer_pkcs11){getenv("LISEC_P11_MODULE"), "lisec-test", "1234", "lisec-audit-checkpoint", true};
}

static void signer_open(void) {
  lisec_err err = {0};
  keys_signer_pkcs11 t = token_key();
  int rc = with_token() ? keys_signer_open_pkcs11(&t, &signer, &err)
                        : keys_signer_open_file(keyfile, true, &signer, &err);
  if (rc) fail_msg("checkpoint key: %s", err.msg);
  keys_signer_public_key(signer, signer_pk);
}

static ctl_auditlog_config base_config(void) {
  if (!signer) signer_open();
  ctl_auditlog_config c = {.store_url = url, .origin = "lisec.test/audit", .li_pk = li_pk,
                           .sign = keys_signer_sign, .sign_ctx = signer, .pk = signer_pk,
                           .development = keys_signer_development(signer),
                           .checkpoint_entries = 100000, .checkpoint_ms = 600000};
  return c;
}

static ctl_auditlog *open_log(lisec_store *s, const ctl_auditlog_config *c) {
  ctl_auditlog *log = NULL;
  lisec_err err = {0};
  if (ctl_auditlog_open(s, c, &log, &err)) fail_msg("ctl_auditlog_open: %s", err.msg);
  return log;
}

static audit_record record(const char *action) {
  audit_record r = {.actor = "CN=op-1", .role = "operator", .action = action, .outcome = "ok"};
  r.subjects[0] = "vm v-1";
  r.n_subjects = 1;
  return r;
}

static void vkey_of(ctl_auditlog *log, audit_vkey *k) {
  char *text = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_auditlog_vkey(log, &text, &err), 0);
  assert_int_equal(audit_vkey_parse(text, k, &err), 0);
  free(text);
}

/* ---- concurrent appends -------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 250

typedef struct worker {
  ctl_auditlog *log;
  uint64_t idx[PER_THREAD];
  int failures;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    audit_record r = record(i % 5 == 0 ? "li.target.add" : "decision.migration");
    lisec_err err = {0};
    if (ctl_auditlog_append(w->log, &r, i % 5 == 0, &w->idx[i], &err) != 0) w->failures++;
  }
  return NULL;
}

typedef struct seen_ctx {
  uint8_t *seen;
  uint64_t n, sealed;
} seen_ctx;

static int mark_seen(void *ctx, const store_log_entry *e) {
  seen_ctx *c = ctx;
  c->seen[e->index]++;
  c->n++;
  if (e->sealed) {
    c->sealed++;
    assert_int_equal(e->data[0], AUDIT_ENTRY_SEALED);
    assert_null(memmem(e->data, e->len, "li.target", 9));
  }
  return 0;
}

static void test_concurrent_appends_are_durable_and_provable(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  pthread_t t[THREADS];
  worker w[THREADS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < THREADS; i++) {
    w[i].log = log;
    pthread_create(&t[i], NULL, worker_main, &w[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  const uint64_t total = THREADS * PER_THREAD;
  for (int i = 0; i < THREADS; i++) assert_int_equal(w[i].failures, 0);
  assert_int_equal(ctl_auditlog_size(log), total);
  /* Every acknowledged index is in the store exactly once, with no gap. */
  seen_ctx sc = {.seen = calloc(total, 1)};
  lisec_err err = {0};
  assert_int_equal(store_log_range(s, 0, total, mark_seen, &sc, &err), 0);
  assert_int_equal(sc.n, total);
  assert_int_equal(sc.sealed, total / 5);
  for (int i = 0; i < THREADS; i++)
    for (int j = 0; j < PER_THREAD; j++) assert_int_equal(sc.seen[w[i].idx[j]], 1);
  free(sc.seen);

  /* A checkpoint at the full size, and proofs against it. */
  assert_int_equal(ctl_auditlog_checkpoint_now(log, &err), 0);
  char *note = NULL;
  uint64_t cp_size = 0;
  assert_int_equal(ctl_auditlog_latest_checkpoint(log, &note, &cp_size, &err), 0);
  assert_int_equal(cp_size, total);
  audit_vkey k;
  vkey_of(log, &k);
  audit_checkpoint cp;
  assert_int_equal(audit_note_open(note, strlen(note), &k, &cp, &err), 0);
  assert_int_equal(cp.size, total);
  assert_string_equal(cp.origin, "lisec.test/audit");
  free(note);
  for (uint64_t i = 0; i < total; i += 37) {
    audit_proof p;
    uint8_t leaf[32], root[32];
    uint64_t size = 0;
    assert_int_equal(ctl_auditlog_prove_inclusion(log, s, i, 0, &p, leaf, root, &size, &err), 0);
    assert_int_equal(size, total);
    assert_memory_equal(root, cp.root, 32);
    assert_int_equal(audit_verify_inclusion(i, size, leaf, &p, cp.root, &err), 0);
    uint64_t found = 0;
    assert_int_equal(ctl_auditlog_find_leaf(log, s, leaf, 0, &found, &err), 0);
    assert_int_equal(found, i);
    uint8_t old_root[32], new_root[32];
    assert_int_equal(ctl_auditlog_prove_consistency(log, s, i + 1, 0, &p, old_root, new_root, &size, &err), 0);
    assert_memory_equal(new_root, cp.root, 32);
    assert_int_equal(audit_verify_consistency(i + 1, size, old_root, cp.root, &p, &err), 0);
  }
  uint8_t nowhere[32] = {1, 2, 3};
  uint64_t idx = 0;
  assert_int_equal(ctl_auditlog_find_leaf(log, s, nowhere, 0, &idx, &err), LISEC_ENOTFOUND);
  audit_proof p;
  assert_int_equal(ctl_auditlog_prove_inclusion(log, s, 0, total + 1, &p, NULL, NULL, NULL, &err), LISEC_EINVAL);
  ctl_auditlog_close(log);

  /* Reopened, the log is loaded and checked, and goes on where it was. */
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), total);
  audit_record r = record("after.reopen");
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(idx, total);
  ctl_auditlog_close(log);
  store_close(s);
}

/* ---- sealing ----------------------------------------------------------- */

typedef struct grab_ctx {
  uint8_t *data;
  size_t len;
  int sealed;
} grab_ctx;

static int grab(void *ctx, const store_log_entry *e) {
  grab_ctx *g = ctx;
  g->data = malloc(e->len);
  memcpy(g->data, e->data, e->len);
  g->len = e->len;
  g->sealed = e->sealed;
  return 0;
}

static void test_li_records_are_sealed(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("li.authorisation.add");
  r.reasons[0] = "warrant W-123 for target +4930123456";
  r.n_reasons = 1;
  lisec_err err = {0};
  uint64_t idx = 0;
  assert_int_equal(ctl_auditlog_append(log, &r, true, &idx, &err), 0);
  grab_ctx g = {0};
  assert_int_equal(store_log_range(s, idx, idx + 1, grab, &g, &err), 0);
  assert_int_equal(g.sealed, 1);
  assert_null(memmem(g.data, g.len, "W-123", 5));
  assert_null(memmem(g.data, g.len, "li.authorisation", 16));
  uint8_t *plain = NULL;
  size_t plen = 0;
  uint8_t other_pk[32], other_sk[32];
  crypto_box_keypair(other_pk, other_sk);
  assert_int_equal(audit_entry_open(g.data, g.len, other_sk, &plain, &plen, &err), LISEC_ECRYPTO);
  assert_int_equal(audit_entry_open(g.data, g.len, li_sk, &plain, &plen, &err), 0);
  audit_record d;
  assert_int_equal(audit_entry_decode(plain, plen, &d, &err), 0);
  assert_int_equal(d.seq, idx);
  assert_true(d.li);
  assert_string_equal(d.reasons[0], r.reasons[0]);
  audit_record_clear(&d);
  free(plain);
  free(g.data);
  ctl_auditlog_close(log);

  /* Without the LI administration's key, an LI record is refused. */
  c.li_pk = NULL;
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_append(log, &r, true, &idx, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  ctl_auditlog_close(log);
  store_close(s);
}

/* ---- failure is refusal ------------------------------------------------- */

/* Runs SQL on the database behind the store's back, as a failing disk or a
 * tamperer would act. */
static void raw_sql(const char *sql) {
  if (external_store) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "psql -q '%s' -c \"%s\" >/dev/null", url, sql);
    assert_int_equal(system(cmd), 0);
    return;
  }
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(dbfile, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fail_msg("sql %s: %s", sql, msg);
  sqlite3_close(db);
}

/* A tamperer drops the append-only trigger and changes one byte of an
 * entry's data (inside its actor string), its stored leaf hash left alone. */
static void edit_entry_data(int idx) {
  char sql[300];
  if (external_store)
    snprintf(sql, sizeof sql, "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET data = "
             "overlay(data placing '\\\\x78'::bytea from 23 for 1) WHERE idx = %d;", idx);
  else
    snprintf(sql, sizeof sql, "DROP TRIGGER IF EXISTS audit_log_no_update; UPDATE audit_log SET data = "
             "CAST(substr(data, 1, 22) || X'78' || substr(data, 24) AS BLOB) WHERE idx = %d;", idx);
  raw_sql(sql);
}

static void *appender(void *arg) {
  ctl_auditlog *log = arg;
  audit_record r = record("during.failure");
  lisec_err err = {0};
  uint64_t idx;
  return (void *)(intptr_t)ctl_auditlog_append(log, &r, false, &idx, &err);
}

static void test_failed_write_refuses_the_action(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("before");
  lisec_err err = {0};
  uint64_t idx = 0;
  for (int i = 0; i < 5; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  /* The store now refuses every insert into the log. */
  if (external_store)
    raw_sql("CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION "
            "''disk full''; END'; CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log FOR EACH ROW "
            "EXECUTE FUNCTION fail_audit();");
  else
    raw_sql("CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  r = record("during");
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "audit record could not be made durable; action refused (TR103308-5.5)"));
  /* Concurrent callers in the failing batches all fail. */
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, appender, log);
  for (int i = 0; i < 4; i++) {
    void *rc;
    pthread_join(t[i], &rc);
    assert_int_equal((int)(intptr_t)rc, LISEC_ESTORE);
  }
  assert_int_equal(ctl_auditlog_size(log), 5);
  /* Once the store works again the log continues at 5, with no gap. */
  if (external_store) raw_sql("DROP TRIGGER fail_insert ON audit_log; DROP FUNCTION fail_audit();");
  else raw_sql("DROP TRIGGER fail_insert;");
  r = record("after");
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(idx, 5);
  assert_int_equal(ctl_auditlog_checkpoint_now(log, &err), 0);
  ctl_auditlog_close(log);
  /* And it still verifies on reopen. */
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 6);
  ctl_auditlog_close(log);
  store_close(s);
}

/* ---- one failed transaction fails its batch only ----------------------- */

#define BATCH_WRITERS 16
#define BATCH_PER 12

typedef struct batch_worker {
  ctl_auditlog *log;
  int id;
  uint64_t idx[BATCH_PER];
  bool ok[BATCH_PER];
  int failures;
  char why[LISEC_ERR_MSG_MAX];
} batch_worker;

static void *batch_worker_main(void *arg) {
  batch_worker *w = arg;
  for (int j = 0; j < BATCH_PER; j++) {
    char subject[32];
    snprintf(subject, sizeof subject, "w%02d-r%03d.", w->id, j);
    audit_record r = record("batch.order");
    r.subjects[0] = subject;
    lisec_err err = {0};
    w->ok[j] = ctl_auditlog_append(w->log, &r, false, &w->idx[j], &err) == 0;
    if (!w->ok[j]) {
      w->failures++;
      snprintf(w->why, sizeof w->why, "%s", err.msg);
    }
  }
  return NULL;
}

typedef struct owner_ctx {
  batch_worker *w;
  uint64_t n;
} owner_ctx;

/* Every stored entry is the record its caller was told it got: the entry
 * at index i carries sequence number i and the subject of that caller's
 * record (the subjects are unique). */
static int check_owner(void *ctx, const store_log_entry *e) {
  owner_ctx *c = ctx;
  uint64_t seq = 0;
  assert_int_equal(audit_entry_peek_seq(e->data, e->len, &seq, NULL), 0);
  assert_int_equal(seq, e->index);
  int found = 0;
  for (int i = 0; i < BATCH_WRITERS; i++)
    for (int j = 0; j < BATCH_PER; j++) {
      if (!c->w[i].ok[j] || c->w[i].idx[j] != e->index) continue;
      char subject[32];
      snprintf(subject, sizeof subject, "w%02d-r%03d.", i, j);
      assert_non_null(memmem(e->data, e->len, subject, strlen(subject)));
      found++;
    }
  assert_int_equal(found, 1);
  c->n++;
  return 0;
}

/* Writers queue their records while the committing thread commits; one
 * injected transaction failure (the fourth) fails the callers in that
 * batch (at most max_batch of them) and nobody else: the records queued
 * behind it are renumbered and land, every acknowledged record is stored at
 * the index it was given and in each caller's order, nothing durable before
 * is lost, and the log verifies on reopen. */
static void test_failed_commit_fails_only_its_batch(void **state) {
  (void)state;
#ifndef LISEC_TEST_HOOKS
  skip();
#else
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  c.max_batch = 4;
  ctl_auditlog *log = open_log(s, &c);
  setenv("LISEC_TEST_AUDIT_FAIL_TXN", "4", 1);
  pthread_t t[BATCH_WRITERS];
  batch_worker w[BATCH_WRITERS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < BATCH_WRITERS; i++) {
    w[i].log = log;
    w[i].id = i;
    assert_int_equal(pthread_create(&t[i], NULL, batch_worker_main, &w[i]), 0);
  }
  for (int i = 0; i < BATCH_WRITERS; i++) pthread_join(t[i], NULL);
  unsetenv("LISEC_TEST_AUDIT_FAIL_TXN");
  int failures = 0;
  for (int i = 0; i < BATCH_WRITERS; i++) {
    failures += w[i].failures;
    if (w[i].failures) assert_non_null(strstr(w[i].why, "action refused (TR103308-5.5)"));
    /* a caller's records are in the log in the order it made them */
    uint64_t next = 0; /* the lowest index its next record may have */
    for (int j = 0; j < BATCH_PER; j++) {
      if (!w[i].ok[j]) continue;
      assert_true(w[i].idx[j] >= next);
      next = w[i].idx[j] + 1;
    }
  }
  /* the failed batch, and only it: at least one record, at most max_batch
   * (four more were queued behind it when it failed) */
  assert_true(failures >= 1 && failures <= 4);
  const uint64_t stored = BATCH_WRITERS * BATCH_PER - (uint64_t)failures;
  assert_int_equal(ctl_auditlog_size(log), stored);
  lisec_err err = {0};
  owner_ctx oc = {.w = w};
  assert_int_equal(store_log_range(s, 0, stored + 1, check_owner, &oc, &err), 0);
  assert_int_equal(oc.n, stored);
  ctl_auditlog_close(log);
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), stored);
  ctl_auditlog_close(log);
  store_close(s);
#endif
}

/* ---- documents written with their record -------------------------------- */

static char doc_ids[4][64];

/* The body of document (kind, id), or NULL when the store has none. */
static char *doc_body(lisec_store *s, const char *kind, const char *id, int64_t *ver) {
  char *body = NULL;
  lisec_err err = {0};
  int rc = store_doc_get(s, kind, id, &body, ver, &err);
  if (rc == LISEC_ENOTFOUND) return NULL;
  if (rc) fail_msg("store_doc_get: %s", err.msg);
  return body;
}

static uint64_t stored_log_size(lisec_store *s) {
  uint64_t n = 0;
  lisec_err err = {0};
  if (store_log_size(s, &n, &err)) fail_msg("store_log_size: %s", err.msg);
  return n;
}

static void fail_inserts(const char *table, bool on) {
  char sql[600];
  if (external_store && on)
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION fail_%s() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION "
             "''disk full''; END'; CREATE TRIGGER fail_insert BEFORE INSERT OR UPDATE ON %s FOR EACH ROW "
             "EXECUTE FUNCTION fail_%s();", table, table, table);
  else if (external_store)
    snprintf(sql, sizeof sql, "DROP TRIGGER fail_insert ON %s; DROP FUNCTION fail_%s();", table, table);
  else if (on)
    snprintf(sql, sizeof sql, "CREATE TRIGGER fail_insert BEFORE INSERT ON %s BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
             table);
  else
    snprintf(sql, sizeof sql, "DROP TRIGGER fail_insert;");
  raw_sql(sql);
}

typedef struct doc_worker {
  ctl_auditlog *log;
  int n, failures, written;
  char id[80];
} doc_worker;

static void *doc_worker_main(void *arg) {
  doc_worker *w = arg;
  for (int i = 0; i < w->n; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"n\":%d}", i);
    ctl_auditlog_doc d[1] = {{"test.doc", w->id, body, -1, 0}};
    audit_record r = record("doc.write");
    lisec_err err = {0};
    if (ctl_auditlog_append_docs(w->log, &r, false, d, 1, NULL, &err)) w->failures++;
    else if (d[0].rc == 0) w->written++;
  }
  return NULL;
}

/* The host and observation documents of a report are written in the audit
 * record's transaction: both with the record or nothing, whichever of the
 * three writes the store refuses; a version conflict leaves the record's
 * documents out (all of them) and tells the caller; records in the same
 * batch keep theirs. */
static void test_documents_land_with_their_record(void **state) {
  (void)state;
  static int run;
  for (int i = 0; i < 4; i++) snprintf(doc_ids[i], sizeof doc_ids[i], "h%d-%d-%ld", i, run, (long)getpid());
  run++;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  lisec_err err = {0};
  uint64_t idx = 0, base = ctl_auditlog_size(log);
  int64_t ver = 0;

  /* Both documents with the record. */
  audit_record r = record("attest.appraise");
  ctl_auditlog_doc d[2] = {{"test.host", doc_ids[0], "{\"trust\":\"trusted\"}", 0, -99},
                           {"test.obs", doc_ids[0], "{\"domains\":[]}", -1, -99}};
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, d, 2, &idx, &err), 0);
  assert_int_equal(idx, base);
  assert_int_equal(d[0].rc, 0);
  assert_int_equal(d[1].rc, 0);
  char *b = doc_body(s, "test.host", doc_ids[0], &ver);
  assert_non_null(b);
  assert_string_equal(b, "{\"trust\":\"trusted\"}");
  assert_int_equal(ver, 1);
  free(b);
  assert_non_null((b = doc_body(s, "test.obs", doc_ids[0], NULL)));
  free(b);
  assert_int_equal(stored_log_size(s), base + 1);

  /* A conflict (the host document is at version 1, not new): the record
   * stands, neither document is written, the caller is told. */
  ctl_auditlog_doc d2[2] = {{"test.host", doc_ids[0], "{\"trust\":\"second\"}", 0, -99},
                            {"test.obs", doc_ids[0], "{\"domains\":[1]}", -1, -99}};
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, d2, 2, &idx, &err), 0);
  assert_int_equal(idx, base + 1);
  assert_int_equal(d2[0].rc, LISEC_ECONFLICT);
  assert_int_equal(d2[1].rc, LISEC_ECONFLICT);
  assert_non_null((b = doc_body(s, "test.host", doc_ids[0], &ver)));
  assert_string_equal(b, "{\"trust\":\"trusted\"}");
  free(b);
  assert_non_null((b = doc_body(s, "test.obs", doc_ids[0], NULL)));
  assert_string_equal(b, "{\"domains\":[]}");
  free(b);
  /* At the right version it is written. */
  d2[0].expected_version = 1;
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, d2, 2, &idx, &err), 0);
  assert_int_equal(d2[0].rc, 0);
  assert_non_null((b = doc_body(s, "test.host", doc_ids[0], &ver)));
  assert_string_equal(b, "{\"trust\":\"second\"}");
  assert_int_equal(ver, 2);
  free(b);

  /* A document the store refuses: no record either. */
  uint64_t before = ctl_auditlog_size(log);
  fail_inserts("documents", true);
  ctl_auditlog_doc d3[2] = {{"test.host", doc_ids[1], "{\"trust\":\"trusted\"}", 0, 0},
                            {"test.obs", doc_ids[1], "{\"domains\":[]}", -1, 0}};
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, d3, 2, &idx, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "audit record could not be made durable; action refused (TR103308-5.5)"));
  fail_inserts("documents", false);
  assert_int_equal(ctl_auditlog_size(log), before);
  assert_int_equal(stored_log_size(s), before);
  assert_null(doc_body(s, "test.host", doc_ids[1], NULL));
  assert_null(doc_body(s, "test.obs", doc_ids[1], NULL));

  /* A record the store refuses: no document either. */
  fail_inserts("audit_log", true);
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, d3, 2, &idx, &err), LISEC_ESTORE);
  fail_inserts("audit_log", false);
  assert_int_equal(stored_log_size(s), before);
  assert_null(doc_body(s, "test.host", doc_ids[1], NULL));
  assert_null(doc_body(s, "test.obs", doc_ids[1], NULL));

  /* A document the store would refuse is refused before it takes a place. */
  ctl_auditlog_doc bad[1] = {{"test.host", doc_ids[2], NULL, -1, 0}};
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, bad, 1, &idx, &err), LISEC_EINVAL);
  bad[0].body = "{}";
  bad[0].id = "";
  assert_int_equal(ctl_auditlog_append_docs(log, &r, false, bad, 1, &idx, &err), LISEC_EINVAL);
  assert_int_equal(ctl_auditlog_size(log), before);

  /* Concurrent records with documents share batches; each lands with its
   * own, and a conflicting one in the same crowd does not stop the others. */
  pthread_t t[4];
  doc_worker w[4];
  memset(w, 0, sizeof w);
  for (int i = 0; i < 4; i++) {
    w[i].log = log;
    w[i].n = 25;
    snprintf(w[i].id, sizeof w[i].id, "%s-w%d", doc_ids[3], i);
    pthread_create(&t[i], NULL, doc_worker_main, &w[i]);
  }
  int conflicts = 0;
  for (int i = 0; i < 25; i++) {
    ctl_auditlog_doc dc[1] = {{"test.host", doc_ids[0], "{\"stale\":true}", 1, 0}};
    assert_int_equal(ctl_auditlog_append_docs(log, &r, false, dc, 1, NULL, &err), 0);
    conflicts += dc[0].rc == LISEC_ECONFLICT;
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  assert_int_equal(conflicts, 25);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(w[i].failures, 0);
    assert_int_equal(w[i].written, 25);
    assert_non_null((b = doc_body(s, "test.doc", w[i].id, &ver)));
    assert_string_equal(b, "{\"n\":24}");
    assert_int_equal(ver, 25);
    free(b);
  }
  assert_int_equal(ctl_auditlog_size(log), before + 125);
  assert_int_equal(stored_log_size(s), before + 125);
  ctl_auditlog_close(log);
  /* The log with its documents' records verifies on reopen. */
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), before + 125);
  ctl_auditlog_close(log);
  store_close(s);
}

static void test_tampered_log_is_not_extended(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("x");
  lisec_err err = {0};
  uint64_t idx;
  for (int i = 0; i < 20; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(ctl_auditlog_checkpoint_now(log, &err), 0);
  ctl_auditlog_close(log);
  edit_entry_data(7);
  log = NULL;
  assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EDENIED);
  assert_null(log);
  assert_non_null(strstr(err.msg, "TR103308-5.5"));
  store_close(s);
}

/* ---- opening from the newest checkpoint (issue 22 item 7) ----------------- */

/* 30 entries, checkpoints at 10 and 20, then the one close signs at 30
 * dropped, as a crash before it would leave: entries 20..29 are the tail
 * after the newest checkpoint. */
static void checkpointed_log(lisec_store *s) {
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("x");
  lisec_err err = {0};
  uint64_t idx;
  for (int i = 0; i < 30; i++) {
    assert_int_equal(ctl_auditlog_append(log, &r, i % 7 == 3, &idx, &err), 0);
    if (i == 9 || i == 19) assert_int_equal(ctl_auditlog_checkpoint_now(log, &err), 0);
  }
  ctl_auditlog_close(log);
  if (external_store)
    raw_sql("ALTER TABLE checkpoints DISABLE TRIGGER USER; DELETE FROM checkpoints WHERE tree_size > 20; "
            "ALTER TABLE checkpoints ENABLE TRIGGER USER;");
  else
    raw_sql("DROP TRIGGER IF EXISTS checkpoints_no_delete; DELETE FROM checkpoints WHERE tree_size > 20;");
}

/* Polls the recheck (bounded: 30 s) until it is done; whether intact. */
static bool recheck_result(ctl_auditlog *log, uint64_t want_below) {
  uint64_t below = 0, checked = 0;
  bool done = false, intact = false;
  for (int i = 0; i < 3000; i++) {
    ctl_auditlog_recheck(log, &below, &checked, &done, &intact);
    if (done) break;
    usleep(10000);
  }
  assert_true(done);
  assert_int_equal(below, want_below);
  if (intact) assert_int_equal(checked, want_below);
  return intact;
}

static void test_open_from_checkpoint(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  ctl_auditlog_config c = base_config();
  /* the default: a log this small is checked in full at open */
  ctl_auditlog *log = open_log(s, &c);
  uint64_t below = 1, checked = 1;
  bool done = false, intact = false;
  ctl_auditlog_recheck(log, &below, &checked, &done, &intact);
  assert_true(below == 0 && done && intact);
  ctl_auditlog_close(log); /* signs at 30 */
  raw_sql(external_store ? "ALTER TABLE checkpoints DISABLE TRIGGER USER; DELETE FROM checkpoints WHERE "
                           "tree_size > 20; ALTER TABLE checkpoints ENABLE TRIGGER USER;"
                         : "DELETE FROM checkpoints WHERE tree_size > 20;");
  /* from the checkpoint at 20: the 20 entries below it checked after the
   * open, the 10 after it at open; the log goes on */
  c.open_full_below = 1;
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 30);
  assert_true(recheck_result(log, 20));
  audit_record r = record("after");
  lisec_err err = {0};
  uint64_t idx;
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(idx, 30);
  ctl_auditlog_close(log);
  store_close(s);
}

/* The one tampering the open from a checkpoint does not see at open: an
 * entry's data changed below the checkpoint, its leaf hash left alone. The
 * recheck finds it and the log stops (appends refused, TR103308-5.5); a full
 * open still refuses it outright. */
static void test_open_from_checkpoint_data_edit(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  edit_entry_data(7);
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = NULL;
  lisec_err err = {0};
  c.open_full_below = UINT64_MAX;
  assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "entry 7: its data does not match its stored leaf hash"));
  c.open_full_below = 1;
  log = open_log(s, &c);
  assert_false(recheck_result(log, 20));
  audit_record r = record("after");
  uint64_t idx;
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "TR103308-5.5"));
  assert_non_null(strstr(err.msg, "entry 7: its data does not match its stored leaf hash"));
  ctl_auditlog_close(log);
  store_close(s);
}

/* What the open from a checkpoint still refuses at open: a data edit in
 * the tail after it, and an entry copied over another there (its leaf hash
 * with it). Below the checkpoint nothing is read at open: an entry copied
 * over another with its leaf hash (8 over 7) is found by the recheck after
 * it, which stops the log; a full open refuses it outright. */
static void test_open_from_checkpoint_refuses(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  ctl_auditlog_config c = base_config();
  c.open_full_below = 1;
  ctl_auditlog *log = NULL;
  lisec_err err = {0};
  edit_entry_data(25);
  assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EDENIED);
  assert_null(log);
  assert_non_null(strstr(err.msg, "entry 25: its data does not match its stored leaf hash"));
  raw_sql("UPDATE audit_log SET data = (SELECT data FROM audit_log WHERE idx = 8), leaf_hash = "
          "(SELECT leaf_hash FROM audit_log WHERE idx = 8) WHERE idx = 25;");
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EDENIED);
  assert_null(log);
  assert_non_null(strstr(err.msg, "TR103308-5.5"));
  assert_non_null(strstr(err.msg, "entry 25: it says it is entry 8"));
  store_close(s);
}

/* ---- the open from a checkpoint's stored frontier (issue 22 item 7) ------- */

static char hold_file[256];

/* The recheck held (LISEC_TEST_AUDIT_RECHECK_HOLD) until release_recheck. */
static void hold_recheck(void) {
  snprintf(hold_file, sizeof hold_file, "%s/hold-recheck", tmpdir);
  FILE *f = fopen(hold_file, "w");
  assert_non_null(f);
  fclose(f);
  setenv("LISEC_TEST_AUDIT_RECHECK_HOLD", hold_file, 1);
}

static void release_recheck(void) {
  unlink(hold_file);
  unsetenv("LISEC_TEST_AUDIT_RECHECK_HOLD");
}

/* The stored frontier of the checkpoint at size, or NULL. */
static char *frontier_doc(lisec_store *s, uint64_t size) {
  char id[24], *body = NULL;
  snprintf(id, sizeof id, "%llu", (unsigned long long)size);
  lisec_err err = {0};
  return store_doc_get(s, AUDIT_FRONTIER_DOC_KIND, id, &body, NULL, &err) == 0 ? body : NULL;
}

static void put_frontier_doc(lisec_store *s, uint64_t size, const char *body) {
  char id[24];
  snprintf(id, sizeof id, "%llu", (unsigned long long)size);
  lisec_err err = {0};
  assert_int_equal(store_doc_put(s, AUDIT_FRONTIER_DOC_KIND, id, body, -1, NULL, &err), 0);
}

/* The log opened from the frontier stored with its checkpoint at 20: only
 * the 10 entries after it are read at open. Until the recheck has rebuilt
 * the tree below 20, appends and checkpoints go on (on the right edge) and
 * proofs say to come back; after it, every proof verifies against the
 * checkpoints signed before and during that time, and a full open of the
 * log checks all of them: nothing appended is lost. */
static void test_open_from_frontier(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  char *body = frontier_doc(s, 20);
  assert_non_null(body); /* stored with the checkpoint at 20 */
  audit_frontier f;
  lisec_err err = {0};
  assert_int_equal(audit_frontier_parse(body, strlen(body), &f, &err), 0);
  assert_int_equal(f.size, 20);
  free(body);
  ctl_auditlog_config c = base_config();
  c.open_full_below = 1;
  hold_recheck();
  ctl_auditlog *log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 30);
  audit_proof p;
  uint8_t leaf[32] = {0}, root[32];
  uint64_t size = 0, found = 0;
  assert_int_equal(ctl_auditlog_prove_inclusion(log, s, 3, 0, &p, leaf, root, &size, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "retry"));
  assert_int_equal(ctl_auditlog_prove_consistency(log, s, 3, 0, &p, NULL, root, &size, &err), LISEC_EUNAVAIL);
  assert_int_equal(ctl_auditlog_find_leaf(log, s, leaf, 0, &found, &err), LISEC_EUNAVAIL);
  /* appends and a checkpoint while the tree is deferred */
  audit_record r = record("deferred");
  uint64_t idx = 0;
  for (int i = 0; i < 7; i++) {
    assert_int_equal(ctl_auditlog_append(log, &r, i == 2, &idx, &err), 0);
    assert_int_equal(idx, 30 + (uint64_t)i);
  }
  assert_int_equal(ctl_auditlog_checkpoint_now(log, &err), 0);
  char *note = NULL;
  uint64_t cp_size = 0;
  assert_int_equal(ctl_auditlog_latest_checkpoint(log, &note, &cp_size, &err), 0);
  assert_int_equal(cp_size, 37);
  audit_vkey k;
  vkey_of(log, &k);
  audit_checkpoint cp;
  assert_int_equal(audit_note_open(note, strlen(note), &k, &cp, &err), 0);
  free(note);
  release_recheck();
  assert_true(recheck_result(log, 20));
  /* the rebuilt tree, caught up with the appends, proves the checkpoint
   * signed while it was deferred */
  for (uint64_t i = 0; i < 37; i++) {
    assert_int_equal(ctl_auditlog_prove_inclusion(log, s, i, 37, &p, leaf, root, &size, &err), 0);
    assert_memory_equal(root, cp.root, 32);
    assert_int_equal(audit_verify_inclusion(i, 37, leaf, &p, cp.root, &err), 0);
    assert_int_equal(ctl_auditlog_find_leaf(log, s, leaf, 37, &found, &err), 0);
    assert_int_equal(found, i);
    uint8_t old_root[32];
    assert_int_equal(ctl_auditlog_prove_consistency(log, s, i + 1, 37, &p, old_root, root, &size, &err), 0);
    assert_int_equal(audit_verify_consistency(i + 1, 37, old_root, cp.root, &p, &err), 0);
  }
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(idx, 37);
  ctl_auditlog_close(log); /* signs at 38 */
  c.open_full_below = UINT64_MAX;
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 38);
  ctl_auditlog_close(log);
  store_close(s);
}

/* A tail after the newest checkpoint longer than the log below it (here 20
 * entries after the one at 10): the open reads it all anyway, so it loads
 * by the stored leaf hashes into the compact tree, and proofs work at once
 * (the recheck held). */
static void test_open_long_tail_by_leaf_hashes(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  raw_sql(external_store ? "ALTER TABLE checkpoints DISABLE TRIGGER USER; DELETE FROM checkpoints WHERE "
                           "tree_size > 10; ALTER TABLE checkpoints ENABLE TRIGGER USER;"
                         : "DELETE FROM checkpoints WHERE tree_size > 10;");
  char *body = frontier_doc(s, 10);
  assert_non_null(body);
  free(body);
  ctl_auditlog_config c = base_config();
  c.open_full_below = 1;
  hold_recheck();
  ctl_auditlog *log = open_log(s, &c);
  audit_proof p;
  uint8_t leaf[32], root[32];
  uint64_t size = 0;
  lisec_err err = {0};
  assert_int_equal(ctl_auditlog_prove_inclusion(log, s, 3, 0, &p, leaf, root, &size, &err), 0);
  assert_int_equal(size, 30);
  release_recheck();
  assert_true(recheck_result(log, 10));
  ctl_auditlog_close(log);
  store_close(s);
}

/* A stored frontier that was edited (one node changed, one from another
 * size, malformed) refuses the open naming TR103308-5.5 and the frontier;
 * put back, the log opens with nothing lost. A leaf hash and data copied
 * below the checkpoint (never read at open) stop the log at the recheck. */
static void test_open_from_frontier_refuses_edits(void **state) {
  (void)state;
  lisec_store *s = open_store();
  checkpointed_log(s);
  char *good = frontier_doc(s, 20), *other = frontier_doc(s, 10);
  assert_non_null(good);
  assert_non_null(other);
  ctl_auditlog_config c = base_config();
  c.open_full_below = 1;
  ctl_auditlog *log = NULL;
  lisec_err err = {0};
  char *edited = strdup(good);
  char *hex = strstr(edited, "[\"") + 2;
  hex[5] = hex[5] == '0' ? '1' : '0';
  const char *bad[] = {edited, other, "{\"tree_size\":20,\"nodes\":[]}", "not a frontier"};
  const char *why[] = {"does not give the checkpoint's signed root", "does not give the checkpoint's signed root",
                       "malformed", "malformed"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put_frontier_doc(s, 20, bad[i]);
    memset(&err, 0, sizeof err);
    assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EDENIED);
    assert_null(log);
    assert_non_null(strstr(err.msg, "TR103308-5.5"));
    assert_non_null(strstr(err.msg, "frontier"));
    assert_non_null(strstr(err.msg, why[i]));
  }
  put_frontier_doc(s, 20, good);
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 30);
  assert_true(recheck_result(log, 20));
  ctl_auditlog_close(log); /* signs at 30 */
  raw_sql(external_store ? "ALTER TABLE checkpoints DISABLE TRIGGER USER; DELETE FROM checkpoints WHERE "
                           "tree_size > 20; ALTER TABLE checkpoints ENABLE TRIGGER USER;"
                         : "DELETE FROM checkpoints WHERE tree_size > 20;");
  raw_sql(external_store ? "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET data = (SELECT data FROM "
                           "audit_log WHERE idx = 8), leaf_hash = (SELECT leaf_hash FROM audit_log WHERE idx = 8) "
                           "WHERE idx = 7;"
                         : "DROP TRIGGER IF EXISTS audit_log_no_update; UPDATE audit_log SET data = (SELECT data FROM "
                           "audit_log WHERE idx = 8), leaf_hash = (SELECT leaf_hash FROM audit_log WHERE idx = 8) "
                           "WHERE idx = 7;");
  log = open_log(s, &c);
  assert_false(recheck_result(log, 20));
  audit_record r = record("after");
  uint64_t idx;
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "TR103308-5.5"));
  audit_proof p;
  assert_int_equal(ctl_auditlog_prove_inclusion(log, s, 3, 0, &p, NULL, NULL, NULL, &err), LISEC_EUNAVAIL);
  ctl_auditlog_close(log);
  free(edited);
  free(good);
  free(other);
  store_close(s);
}

/* ---- checkpoint policy --------------------------------------------------- */

static int count_cp(void *ctx, uint64_t size, const char *note) {
  (void)note;
  uint64_t *sizes = ctx;
  sizes[++sizes[0]] = size;
  return 0;
}

/* Waits up to 3 s for the newest checkpoint to reach size; returns it. */
static uint64_t newest_checkpoint(lisec_store *s, uint64_t size) {
  uint64_t sizes[64];
  lisec_err err = {0};
  for (int i = 0; i < 300; i++) {
    sizes[0] = 0;
    assert_int_equal(store_checkpoint_list(s, count_cp, sizes, &err), 0);
    if (sizes[0] && sizes[sizes[0]] >= size) break;
    usleep(10 * 1000);
  }
  return sizes[0] ? sizes[sizes[0]] : 0;
}

static void test_checkpoint_policy(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  c.checkpoint_entries = 10;
  c.checkpoint_ms = 600000;
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("x");
  lisec_err err = {0};
  uint64_t idx;
  /* Ten entries: a checkpoint at 10, signed by its own thread. */
  for (int i = 0; i < 10; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(newest_checkpoint(s, 10), 10);
  /* Five more: below the count, and the time bound is far: none. */
  for (int i = 0; i < 5; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  usleep(400 * 1000);
  assert_int_equal(newest_checkpoint(s, 0), 10);
  lisec_err cerr;
  ctl_auditlog_checkpoint_error(log, &cerr);
  assert_int_equal(cerr.code, 0);
  /* Closing signs the tail. */
  ctl_auditlog_close(log);
  assert_int_equal(newest_checkpoint(s, 15), 15);
  /* The time bound: three entries, signed within 300 ms (waited up to 3 s). */
  c.checkpoint_entries = 1000;
  c.checkpoint_ms = 300;
  log = open_log(s, &c);
  for (int i = 0; i < 3; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(newest_checkpoint(s, 18), 18);
  ctl_auditlog_close(log);
  store_close(s);
}

/* Writes count entries at the end of the log through s, behind the
 * appender's back: what a commit that succeeded after its connection was
 * lost, or a second writer on the same database, leaves for the appender to
 * find when it reopens its store handle (a resync). */
static void append_behind(lisec_store *s, uint64_t from, uint64_t count) {
  lisec_err err = {0};
  for (uint64_t i = from; i < from + count; i++) {
    audit_record r = record("written.elsewhere");
    r.seq = i;
    r.time_ms = lisec_time_now_ms();
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(audit_entry_encode(&r, &data, &len, &err), 0);
    store_log_entry e = {.index = i, .time_ms = r.time_ms, .data = data, .len = len};
    audit_hash_leaf(data, len, e.leaf_hash);
    if (store_log_append(s, &e, 1, &err)) fail_msg("store_log_append: %s", err.msg);
    free(data);
  }
}

/* Issue 14 item 19: entries taken in at a resync start the checkpoint_ms
 * clock like committed ones do. Before, a resync right after a checkpoint
 * left them (and every later entry) unsigned until checkpoint_entries more
 * arrived. */
static void test_checkpoint_after_resync(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  c.checkpoint_entries = 1000;
  c.checkpoint_ms = 200;
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("x");
  lisec_err err = {0};
  uint64_t idx = 0;
  for (int i = 0; i < 3; i++) assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(newest_checkpoint(s, 3), 3);
  /* A failed transaction makes the appender drop its store handle ... */
  if (external_store)
    raw_sql("CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION "
            "''disk full''; END'; CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log FOR EACH ROW "
            "EXECUTE FUNCTION fail_audit();");
  else
    raw_sql("CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), LISEC_ESTORE);
  if (external_store) raw_sql("DROP TRIGGER fail_insert ON audit_log; DROP FUNCTION fail_audit();");
  else raw_sql("DROP TRIGGER fail_insert;");
  /* ... and meanwhile 7 entries reach the store another way. */
  append_behind(s, 3, 7);
  /* The next append reopens, finds them and takes them in (this caller's
   * position is taken, so it is refused); the one after goes on at 10. */
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), LISEC_ESTORE);
  assert_int_equal(ctl_auditlog_size(log), 10);
  /* The resynced entries are signed within checkpoint_ms (waited up to 3 s). */
  assert_int_equal(newest_checkpoint(s, 10), 10);
  /* And entries after them too. */
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  assert_int_equal(idx, 10);
  assert_int_equal(newest_checkpoint(s, 11), 11);
  lisec_err cerr;
  ctl_auditlog_checkpoint_error(log, &cerr);
  assert_int_equal(cerr.code, 0);
  ctl_auditlog_close(log);
  /* The log with the entries written elsewhere verifies on reopen. */
  log = open_log(s, &c);
  assert_int_equal(ctl_auditlog_size(log), 11);
  ctl_auditlog_close(log);
  store_close(s);
}

/* Issue 17 item 4: a checkpoint is never ahead of the entries served. The
 * tree takes a batch's leaves before the batch counts as committed (and a
 * resync's before the size moves); a checkpoint signed at the tree's size
 * in that moment committed to entries that `entries` and the proofs, bound
 * by the committed size, do not serve yet. The test hook holds a batch in
 * that moment for 600 ms while the checkpoint clock (100 ms) runs out. */
typedef struct late_ctx {
  ctl_auditlog *log;
  atomic_int done; /* read by the test's thread while this one runs */
} late_ctx;

static void *append_late(void *arg) {
  late_ctx *c = arg;
  audit_record r = record("late");
  lisec_err err = {0};
  uint64_t idx = 0;
  if (ctl_auditlog_append(c->log, &r, false, &idx, &err) != 0) fail_msg("late append: %s", err.msg);
  atomic_store(&c->done, 1);
  return NULL;
}

static void test_checkpoint_not_ahead_of_entries(void **state) {
  (void)state;
#ifndef LISEC_TEST_HOOKS
  skip();
#else
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  c.checkpoint_entries = 1000;
  c.checkpoint_ms = 100;
  ctl_auditlog *log = open_log(s, &c);
  audit_record r = record("x");
  lisec_err err = {0};
  uint64_t idx = 0;
  assert_int_equal(ctl_auditlog_append(log, &r, false, &idx, &err), 0);
  setenv("LISEC_TEST_AUDIT_COMMIT_DELAY_MS", "600", 1);
  late_ctx lc = {.log = log};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, append_late, &lc), 0);
  bool signed_two = false;
  for (int i = 0; i < 3000 && !(atomic_load(&lc.done) && signed_two); i++) {
    /* the checkpoint first, the size after: the size only grows, so a
     * checkpoint bigger than a size read later was signed ahead */
    uint64_t cp_size = 0, stored = 0;
    char *note = NULL;
    lisec_err e = {0};
    if (ctl_auditlog_latest_checkpoint(log, &note, &cp_size, &e) == 0) free(note);
    if (store_checkpoint_latest(s, &stored, &note, &e) == 0) free(note);
    json_t *list = NULL;
    uint64_t served = ctl_auditlog_size(log);
    assert_int_equal(ctl_auditlog_checkpoints_json(s, served, 0, CTL_AUDITLOG_CP_PAGE_MAX, &list, &e), 0);
    json_t *last = json_array_get(json_object_get(list, "checkpoints"),
                                  json_array_size(json_object_get(list, "checkpoints")) - 1);
    uint64_t listed = last ? (uint64_t)json_integer_value(json_object_get(last, "tree_size")) : 0;
    json_decref(list);
    if (cp_size > served || stored > served || listed > served)
      fail_msg("checkpoint ahead of the entries served: published %llu, stored %llu, listed %llu, served %llu",
               (unsigned long long)cp_size, (unsigned long long)stored, (unsigned long long)listed,
               (unsigned long long)served);
    signed_two = stored >= 2;
    usleep(1000);
  }
  pthread_join(t, NULL);
  unsetenv("LISEC_TEST_AUDIT_COMMIT_DELAY_MS");
  /* and the late entry is signed once it is committed */
  assert_int_equal(newest_checkpoint(s, 2), 2);
  ctl_auditlog_close(log);
  store_close(s);
#endif
}

/* ---- who leads a group commit (issue 22 item 6) --------------------------- */

typedef struct lead_ctx {
  ctl_auditlog *log;
  bool lowered;
  int rc;
  uint64_t led;
  uint64_t locks; /* times it took the log's lock */
} lead_ctx;

static void *append_and_count(void *arg) {
  lead_ctx *c = arg;
  ctl_auditlog_thread_lowered(c->lowered);
  audit_record r = record(c->lowered ? "bulk" : "decision");
  lisec_err err = {0};
  uint64_t before = ctl_auditlog_thread_led(), locks = ctl_auditlog_thread_locks();
  c->rc = ctl_auditlog_append(c->log, &r, false, NULL, &err);
  c->led = ctl_auditlog_thread_led() - before;
  c->locks = ctl_auditlog_thread_locks() - locks;
  return NULL;
}

/* Waits (at most 60 s) until n records are taken in and not yet durable. */
static void wait_queued(ctl_auditlog *log, uint64_t n) {
  for (int i = 0; i < 60000 && ctl_auditlog_queued(log) < n; i++) usleep(1000);
  assert_true(ctl_auditlog_queued(log) >= n);
}

/* Three callers, in this order, queued behind a commit held open
 * (LISEC_TEST_AUDIT_HOLD), then the commit let go; returns once all three
 * have returned. */
static void append_three_behind_hold(ctl_auditlog *log, lead_ctx c[3]) {
  char hold[256];
  snprintf(hold, sizeof hold, "%s/hold", tmpdir);
  FILE *f = fopen(hold, "w");
  assert_non_null(f);
  fclose(f);
  setenv("LISEC_TEST_AUDIT_HOLD", hold, 1);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    c[i].log = log;
    assert_int_equal(pthread_create(&t[i], NULL, append_and_count, &c[i]), 0);
    wait_queued(log, (uint64_t)i + 1);
  }
  unlink(hold);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  unsetenv("LISEC_TEST_AUDIT_HOLD");
}

/* A caller marked lowered (a bulk thread at nice 10) leads its own commit
 * when it is alone, but not while a caller at the normal priority waits
 * with a record: the lowered caller's record is at the head of the log
 * behind a commit held open (LISEC_TEST_AUDIT_HOLD), a normal caller's
 * behind it; when the commit ends, the lowered caller is the head's owner
 * and would lead, and the normal caller must lead the batch instead. Both
 * records are durable either way. */
static void test_lowered_caller_hands_the_lead_over(void **state) {
  (void)state;
#ifndef LISEC_TEST_HOOKS
  skip();
#else
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  lead_ctx alone = {.log = log, .lowered = true};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, append_and_count, &alone), 0);
  pthread_join(t, NULL);
  assert_int_equal(alone.rc, 0);
  assert_int_equal(alone.led, 1); /* bulk work alone progresses */

  lead_ctx c3[3] = {{0}, {.lowered = true}, {0}}; /* first, lowered, normal */
  append_three_behind_hold(log, c3);
  for (int i = 0; i < 3; i++) assert_int_equal(c3[i].rc, 0);
  assert_int_equal(c3[0].led, 1);
  assert_int_equal(c3[1].led, 0);
  assert_int_equal(c3[2].led, 1);
  assert_int_equal(ctl_auditlog_size(log), 4);
  ctl_auditlog_close(log);
  store_close(s);
#endif
}

/* A caller whose record another caller's commit made durable is woken
 * after that leader has released the log's lock and returns without taking
 * it again: it takes the lock once, to take its position (issue 22 item 1:
 * woken while the leader held the lock, a batch's callers all queued on it
 * behind the leader and each other). Two records wait behind a commit held
 * open (LISEC_TEST_AUDIT_HOLD); the first one's caller leads both, the
 * other's is only woken. */
static void test_woken_caller_does_not_retake_the_lock(void **state) {
  (void)state;
#ifndef LISEC_TEST_HOOKS
  skip();
#else
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  lead_ctx c3[3] = {{0}}; /* first, the head behind it, one behind that */
  append_three_behind_hold(log, c3);
  for (int i = 0; i < 3; i++) assert_int_equal(c3[i].rc, 0);
  assert_int_equal(c3[0].led, 1);
  assert_int_equal(c3[1].led, 1);
  assert_int_equal(c3[2].led, 0);
  assert_int_equal(c3[2].locks, 1);
  assert_int_equal(ctl_auditlog_size(log), 3);
  ctl_auditlog_close(log);
  store_close(s);
#endif
}

static void test_checkpoint_key(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  char vkey_path[700];
  snprintf(vkey_path, sizeof vkey_path, "%s/vkey", tmpdir);
  c.vkey_file = vkey_path;
  ctl_auditlog *log = open_log(s, &c);
  if (with_token()) {
    assert_false(ctl_auditlog_development(log));
  } else {
    /* Development key: created for this user only, and flagged. */
    assert_true(ctl_auditlog_development(log));
    struct stat st;
    assert_int_equal(stat(keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
  }
  audit_vkey k, k2;
  vkey_of(log, &k);
  uint8_t *text = NULL;
  size_t len = 0;
  lisec_err err = {0};
  assert_int_equal(lisec_file_read(vkey_path, 1024, &text, &len, &err), 0);
  assert_int_equal(audit_vkey_parse((const char *)text, &k2, &err), 0);
  assert_memory_equal(k.pk, k2.pk, 32);
  free(text);
  ctl_auditlog_close(log);
  /* The same key is found again (file or token) by a new signer. */
  keys_signer_close(signer);
  signer = NULL;
  c = base_config();
  log = open_log(s, &c);
  vkey_of(log, &k2);
  assert_memory_equal(k.pk, k2.pk, 32);
  ctl_auditlog_close(log);
  /* A file that is not an Ed25519 PKCS#8 key is refused, and so is a
   * wrong PIN; a log without a key does not open. */
  keys_signer *other = NULL;
  if (!with_token()) {
    char bad[700];
    snprintf(bad, sizeof bad, "%s/bad.pem", tmpdir);
    assert_int_equal(lisec_file_write_atomic(bad, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58, 0600, &err), 0);
    assert_int_equal(keys_signer_open_file(bad, false, &other, &err), LISEC_EINVAL);
  } else {
    /* (the process's open signer would share its login: close it first) */
    keys_signer_close(signer);
    signer = NULL;
    keys_signer_pkcs11 t = token_key();
    t.pin = "0000";
    assert_int_equal(keys_signer_open_pkcs11(&t, &other, &err), LISEC_EAUTH);
  }
  assert_null(other);
  c.sign = NULL;
  c.vkey_file = NULL;
  log = NULL;
  assert_int_equal(ctl_auditlog_open(s, &c, &log, &err), LISEC_EINVAL);
  assert_null(log);
  store_close(s);
}

/* A proof asked by leaf hash is the proof by index (issue 22): for the
 * first, a middle and the last entry the hash finds the entry's own index and
 * the proofs are byte for byte the same; a hash beyond the size asked, or
 * unknown, is not found; after a reopen (the index rebuilt at load) the same. */
static void test_find_by_leaf_hash(void **state) {
  (void)state;
  lisec_store *s = open_store();
  ctl_auditlog_config c = base_config();
  ctl_auditlog *log = open_log(s, &c);
  lisec_err err = {0};
  enum { N = 37 }; /* two full 16-leaf groups and part of a third */
  char action[32];
  for (int i = 0; i < N; i++) {
    snprintf(action, sizeof action, "find.%d", i);
    audit_record r = record(action);
    assert_int_equal(ctl_auditlog_append(log, &r, i % 7 == 3, NULL, &err), 0);
  }
  for (int round = 0; round < 2; round++) {
    const uint64_t at[] = {0, N / 2, N - 1};
    for (size_t k = 0; k < 3; k++) {
      audit_proof by_index, by_hash;
      uint8_t leaf[32], root[32], root2[32];
      uint64_t size = 0, found = UINT64_MAX;
      assert_int_equal(ctl_auditlog_prove_inclusion(log, s, at[k], 0, &by_index, leaf, root, &size, &err), 0);
      assert_int_equal(size, N);
      assert_int_equal(ctl_auditlog_find_leaf(log, s, leaf, 0, &found, &err), 0);
      assert_int_equal(found, at[k]);
      assert_int_equal(ctl_auditlog_prove_inclusion(log, s, found, 0, &by_hash, NULL, root2, NULL, &err), 0);
      assert_int_equal(by_hash.len, by_index.len);
      assert_memory_equal(by_hash.hash, by_index.hash, by_index.len * 32);
      assert_memory_equal(root2, root, 32);
      assert_int_equal(audit_verify_inclusion(found, N, leaf, &by_hash, root, &err), 0);
      /* not in a tree that ends before it */
      if (at[k] > 0) {
        assert_int_equal(ctl_auditlog_find_leaf(log, s, leaf, at[k], &found, &err), LISEC_ENOTFOUND);
        assert_non_null(strstr(err.msg, "no audit entry with that leaf hash"));
      }
    }
    uint8_t unknown[32];
    audit_hash_leaf("not an entry", 12, unknown);
    uint64_t idx = 7;
    assert_int_equal(ctl_auditlog_find_leaf(log, s, unknown, 0, &idx, &err), LISEC_ENOTFOUND);
    assert_int_equal(idx, 7);
    ctl_auditlog_close(log);
    log = round == 0 ? open_log(s, &c) : NULL;
  }
  store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_concurrent_appends_are_durable_and_provable, fresh_store),
      cmocka_unit_test_setup(test_li_records_are_sealed, fresh_store),
      cmocka_unit_test_setup(test_failed_write_refuses_the_action, fresh_store),
      cmocka_unit_test_setup(test_failed_commit_fails_only_its_batch, fresh_store),
      cmocka_unit_test_setup(test_documents_land_with_their_record, fresh_store),
      cmocka_unit_test_setup(test_tampered_log_is_not_extended, fresh_store),
      cmocka_unit_test_setup(test_open_from_checkpoint, fresh_store),
      cmocka_unit_test_setup(test_open_from_checkpoint_data_edit, fresh_store),
      cmocka_unit_test_setup(test_open_from_checkpoint_refuses, fresh_store),
      cmocka_unit_test_setup(test_open_from_frontier, fresh_store),
      cmocka_unit_test_setup(test_open_long_tail_by_leaf_hashes, fresh_store),
      cmocka_unit_test_setup(test_open_from_frontier_refuses_edits, fresh_store),
      cmocka_unit_test_setup(test_checkpoint_policy, fresh_store),
      cmocka_unit_test_setup(test_checkpoint_after_resync, fresh_store),
      cmocka_unit_test_setup(test_checkpoint_not_ahead_of_entries, fresh_store),
      cmocka_unit_test_setup(test_lowered_caller_hands_the_lead_over, fresh_store),
      cmocka_unit_test_setup(test_woken_caller_does_not_retake_the_lock, fresh_store),
      cmocka_unit_test_setup(test_checkpoint_key, fresh_store),
      cmocka_unit_test_setup(test_find_by_leaf_hash, fresh_store),
  };
  return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
