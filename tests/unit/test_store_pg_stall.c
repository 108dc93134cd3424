/* Stalls of a real PostgreSQL that the store must bound (docs/ha.md,
 * failure cases), run by tests/integration/store_pg_stall.sh with
 * LISEC_TEST_STORE_URL pointing at a server of its own (skipped without):
 * - a schema migration slower than [store] timeout_ms runs under its own
 *   bound, [store] migration_timeout_ms; one past that bound is cancelled
 *   and rolled back whole, the schema left at the version before it, and
 *   the open refused naming the migration and the setting;
 * - the threads sending cancels stay bounded however many statements time
 *   out while the server takes no cancel: the store reaches the server
 *   through a loopback relay of this test's own that holds every cancel
 *   request unanswered (as a cut-off host or a stopped postmaster would)
 *   and forwards sessions as they are;
 * - a statement too large for the sockets' buffers, sent to a stopped
 *   backend, is given up within [store] timeout_ms instead of blocking in
 *   its send. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "base/base.h"
#include "store/store.h"

static char url[512];
static int fresh_counter;

/* ---- the raw connection ------------------------------------------------ */

static void quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

static PGconn *raw_connect(const char *u) {
  PGconn *c = PQconnectdb(u);
  if (PQstatus(c) != CONNECTION_OK)
    fail_msg("raw connect %s: %s", u, PQerrorMessage(c));
  PQsetNoticeProcessor(c, quiet, NULL);
  return c;
}

static void raw_on(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("raw %s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
}

static void raw_exec(const char *u, const char *sql) {
  PGconn *c = raw_connect(u);
  raw_on(c, sql);
  PQfinish(c);
}

static long long raw_int(const char *u, const char *sql) {
  PGconn *c = raw_connect(u);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    fail_msg("raw %s: %s", sql, PQresultErrorMessage(r));
  long long v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return v;
}

/* The server's host, port and user from the suite's URL. */
static void url_parts(char *host, char *port, char *user, size_t n) {
  PQconninfoOption *o = PQconninfoParse(url, NULL);
  if (!o)
    fail_msg("cannot parse %s", url);
  host[0] = port[0] = user[0] = 0;
  for (PQconninfoOption *p = o; p->keyword; p++) {
    if (!p->val)
      continue;
    if (!strcmp(p->keyword, "host"))
      snprintf(host, n, "%s", p->val);
    if (!strcmp(p->keyword, "port"))
      snprintf(port, n, "%s", p->val);
    if (!strcmp(p->keyword, "user"))
      snprintf(user, n, "%s", p->val);
  }
  PQconninfoFree(o);
}

/* A new database on the server; its URL (through port when given) in out. */
static void fresh_db(char *out, size_t n, const char *via_port, char *name,
                     size_t name_n) {
  char host[128], port[128], user[128], sql[160];
  url_parts(host, port, user, sizeof host);
  snprintf(name, name_n, "lisec_stall_%d_%d", (int)getpid(), ++fresh_counter);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  raw_exec(url, sql);
  snprintf(out, n, "postgresql://%s@%s:%s/%s", user,
           via_port ? "127.0.0.1" : host, via_port ? via_port : port, name);
}

static lisec_store *open_url(const char *u) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(u, &s, &err))
    fail_msg("store_open(%s): %s", u, err.msg);
  return s;
}

/* The threads of this process now (/proc/self/status). */
static int threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1)
      break;
  if (f)
    fclose(f);
  if (n < 1)
    fail_msg("cannot read this process's threads");
  return n;
}

static int suite_setup(void **state) {
  (void)state;
  const char *env = getenv("LISEC_TEST_STORE_URL");
  if (env && *env)
    snprintf(url, sizeof url, "%s", env);
  return 0;
}

static void defaults(void) {
  store_timeout_set(0);
  store_migration_timeout_set(0);
}

/* ---- migrations ---------------------------------------------------------- */

/* A database left at schema version 2 with a tenant's package, so that
 * migration 3 rewrites it, each row of documents taking 2 s to update (a
 * trigger of the test's: a large table's rewrite, made slow). */
static void at_version_2_slow(char *u, size_t n) {
  char name[64];
  fresh_db(u, n, NULL, name, sizeof name);
  store_close(open_url(u));
  raw_exec(u, "DELETE FROM schema_migrations WHERE version >= 3; DROP TABLE "
              "leader_epoch;"
              "INSERT INTO documents VALUES ('pkg', 'p-1', "
              "'{\"record\":{\"owner\":\"tenant:a\"}}', 1, 0);"
              "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS"
              "  $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;"
              "CREATE TRIGGER slow_row BEFORE UPDATE ON documents FOR EACH ROW "
              "EXECUTE FUNCTION slow_row();");
}

static long long schema_version(const char *u) {
  return raw_int(u, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
}

/* Migration 3 takes 2 s, [store] timeout_ms is 1 s: it runs under
 * [store] migration_timeout_ms (default an hour) and the open succeeds.
 * Before: cut off at 1 s, the open refused. */
static void test_migration_not_cut_by_statement_bound(void **state) {
  (void)state;
  if (!*url)
    skip();
  char u[600];
  at_version_2_slow(u, sizeof u);
  store_timeout_set(1000);
  lisec_store *s = NULL;
  lisec_err err = {0};
  int rc = store_open(u, &s, &err);
  defaults();
  if (rc)
    fail_msg("a migration longer than [store] timeout_ms was cut off: %s",
             err.msg);
  store_close(s);
  assert_int_equal(schema_version(u), 4);
  assert_int_equal(
      raw_int(u, "SELECT COUNT(*) FROM documents WHERE id = 'tenant:a:p-1'"),
      1);
}

/* Past [store] migration_timeout_ms the migration is cancelled and rolled
 * back whole: version 2, the package where it was, no leader_epoch (the
 * next migration not attempted), the refusal naming the migration and the
 * setting. With the bound raised, the next open migrates. */
static void test_migration_past_its_bound_rolled_back(void **state) {
  (void)state;
  if (!*url)
    skip();
  char u[600];
  at_version_2_slow(u, sizeof u);
  store_migration_timeout_set(1000);
  lisec_store *s = NULL;
  lisec_err err = {0};
  int64_t t0 = lisec_time_mono_ms();
  int rc = store_open(u, &s, &err);
  int64_t took = lisec_time_mono_ms() - t0;
  defaults();
  assert_int_equal(rc, LISEC_EUNAVAIL);
  assert_null(s);
  assert_true(took < 1000 + 2000 + 1500);
  if (!strstr(err.msg, "schema migration 3") ||
      !strstr(err.msg, "[store] migration_timeout_ms = 1000") ||
      !strstr(err.msg, "rolled back whole") ||
      !strstr(err.msg, "stays at version 2") ||
      !strstr(err.msg, "TR103308-5.5"))
    fail_msg("unclear refusal: %s", err.msg);
  assert_int_equal(schema_version(u), 2);
  assert_int_equal(
      raw_int(
          u,
          "SELECT COUNT(*) FROM documents WHERE kind = 'pkg' AND id = 'p-1'"),
      1);
  assert_int_equal(
      raw_int(
          u, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'leader_epoch'"),
      0);
  store_close(open_url(u));
  assert_int_equal(schema_version(u), 4);
}

/* ---- the relay ------------------------------------------------------------
 */

#define RELAY_MAX 64
typedef struct relay_conn {
  int c, u; /* client, upstream; -1 when closed */
  int got;  /* bytes of the first 8 read (length, code) */
  unsigned char head[8];
  bool held; /* a cancel request, kept unanswered */
} relay_conn;

typedef struct relay {
  int lfd, up_port;
  char port[16];
  pthread_t t;
  atomic_bool stop;
  atomic_int held;
  relay_conn conns[RELAY_MAX];
} relay;

static void relay_close(relay_conn *k) {
  if (k->c >= 0)
    close(k->c);
  if (k->u >= 0)
    close(k->u);
  k->c = k->u = -1;
}

static bool write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* The first 8 bytes tell a cancel request (length 16, code 80877102) from
 * the start of a session: the first is held, the second forwarded. */
static void relay_head(relay *r, relay_conn *k) {
  ssize_t n = recv(k->c, k->head + k->got, sizeof k->head - (size_t)k->got, 0);
  if (n <= 0)
    return relay_close(k);
  k->got += (int)n;
  if (k->got < 8)
    return;
  uint32_t len = ntohl(*(uint32_t *)k->head),
           code = ntohl(*(uint32_t *)(k->head + 4));
  if (len == 16 && code == 80877102u) {
    k->held = true;
    atomic_fetch_add(&r->held, 1);
    return;
  }
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)r->up_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  k->u = socket(AF_INET, SOCK_STREAM, 0);
  if (k->u < 0 || connect(k->u, (struct sockaddr *)&a, sizeof a) != 0 ||
      !write_all(k->u, k->head, 8))
    relay_close(k);
}

static void relay_pass(relay_conn *k, int from, int to) {
  unsigned char buf[65536];
  ssize_t n = recv(from, buf, sizeof buf, 0);
  if (n <= 0 || !write_all(to, buf, (size_t)n))
    relay_close(k);
}

static void *relay_main(void *arg) {
  relay *r = arg;
  while (!atomic_load(&r->stop)) {
    struct pollfd p[1 + 2 * RELAY_MAX];
    relay_conn *who[1 + 2 * RELAY_MAX];
    int n = 0;
    p[n++] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
    for (int i = 0; i < RELAY_MAX; i++) {
      relay_conn *k = &r->conns[i];
      if (k->c < 0 || k->held)
        continue;
      who[n] = k, p[n++] = (struct pollfd){.fd = k->c, .events = POLLIN};
      if (k->u >= 0)
        who[n] = k, p[n++] = (struct pollfd){.fd = k->u, .events = POLLIN};
    }
    if (poll(p, (nfds_t)n, 100) <= 0)
      continue;
    if (p[0].revents & POLLIN) {
      int c = accept(r->lfd, NULL, NULL);
      int i = 0;
      while (i < RELAY_MAX && r->conns[i].c >= 0)
        i++;
      if (c >= 0 && i < RELAY_MAX)
        r->conns[i] = (relay_conn){.c = c, .u = -1};
      else if (c >= 0)
        close(c);
    }
    for (int j = 1; j < n; j++) {
      relay_conn *k = who[j];
      if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR)) || k->c < 0)
        continue;
      if (k->u < 0)
        relay_head(arg, k);
      else if (p[j].fd == k->c)
        relay_pass(k, k->c, k->u);
      else
        relay_pass(k, k->u, k->c);
    }
  }
  for (int i = 0; i < RELAY_MAX; i++)
    relay_close(&r->conns[i]);
  return NULL;
}

static void relay_start(relay *r) {
  char host[128], port[128], user[128];
  url_parts(host, port, user, sizeof host);
  memset(r, 0, sizeof *r);
  for (int i = 0; i < RELAY_MAX; i++)
    r->conns[i].c = r->conns[i].u = -1;
  r->up_port = atoi(port);
  r->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(r->lfd, 64) != 0 ||
      getsockname(r->lfd, (struct sockaddr *)&a, &len) != 0)
    fail_msg("relay: cannot listen on loopback");
  snprintf(r->port, sizeof r->port, "%d", ntohs(a.sin_port));
  if (pthread_create(&r->t, NULL, relay_main, r) != 0)
    fail_msg("relay: no thread");
}

/* Ends the relay: the held cancel requests see their connection closed. */
static void relay_stop(relay *r) {
  atomic_store(&r->stop, true);
  pthread_join(r->t, NULL);
  close(r->lfd);
}

/* ---- cancels --------------------------------------------------------------
 */

/* A write that waits for a table lock another session holds, past
 * [store] timeout_ms = 1000: refused EUNAVAIL naming the setting, within
 * the bound and the cancel's grace. */
static void stalled_put(lisec_store *s, const char *id) {
  lisec_err err = {0};
  int64_t t0 = lisec_time_mono_ms();
  int rc = store_doc_put(s, "stall", id, "{}", 0, NULL, &err);
  int64_t took = lisec_time_mono_ms() - t0;
  assert_int_equal(rc, LISEC_EUNAVAIL);
  if (!strstr(err.msg, "[store] timeout_ms = 1000"))
    fail_msg("%s: %s", id, err.msg);
  if (took > 1000 + 2000 + 1500)
    fail_msg("%s: refused after %lld ms", id, (long long)took);
}

/* Cancels the server never answers: one connection timing out again and
 * again holds one canceller at most; many connections, at most
 * STORE_PG_CANCELS_MAX. Before: a thread per timed-out statement, each
 * held as long as the cancel is. Once the server answers them (the relay
 * gone) the threads end. */
static void test_cancel_threads_bounded(void **state) {
  (void)state;
  if (!*url)
    skip();
  relay r;
  relay_start(&r);
  char u[600], direct[600], name[64];
  fresh_db(u, sizeof u, r.port, name, sizeof name);
  snprintf(direct, sizeof direct, "%.*s%s", (int)(strrchr(url, '/') - url + 1),
           url, name);
  store_timeout_set(1000);
  lisec_store *one = open_url(u), *many[STORE_PG_CANCELS_MAX + 2];
  for (int i = 0; i < STORE_PG_CANCELS_MAX + 2; i++)
    many[i] = open_url(u);
  PGconn *holder = raw_connect(direct);
  raw_on(holder, "BEGIN; LOCK TABLE documents IN ACCESS EXCLUSIVE MODE");
  int base = threads();
  for (int i = 0; i < 5; i++) {
    char id[16];
    snprintf(id, sizeof id, "one-%d", i);
    stalled_put(one, id);
    int extra = threads() - base;
    if (extra > 1)
      fail_msg(
          "%d cancel threads for one connection after %d timed-out statements",
          extra, i + 1);
  }
  assert_true(atomic_load(&r.held) >= 1); /* a cancel was sent, and held */
  for (int i = 0; i < STORE_PG_CANCELS_MAX + 2; i++) {
    char id[16];
    snprintf(id, sizeof id, "many-%d", i);
    stalled_put(many[i], id);
    int extra = threads() - base;
    if (extra > STORE_PG_CANCELS_MAX)
      fail_msg("%d cancel threads after %d connections' statements timed out "
               "(at most %d)",
               extra, i + 1, STORE_PG_CANCELS_MAX);
  }
  assert_int_equal(store_pg_cancels_in_flight(), STORE_PG_CANCELS_MAX);
  relay_stop(&r);
  for (int i = 0; i < 100 && threads() > base - 1; i++)
    usleep(50000);
  assert_int_equal(threads(), base - 1);
  assert_int_equal(store_pg_cancels_in_flight(), 0);
  raw_on(holder, "ROLLBACK");
  PQfinish(holder);
  store_close(one);
  for (int i = 0; i < STORE_PG_CANCELS_MAX + 2; i++)
    store_close(many[i]);
  defaults();
}

/* ---- a large statement ----------------------------------------------------
 */

typedef struct big_put {
  lisec_store *s;
  const char *body;
  lisec_err err;
  int rc;
  atomic_bool done;
} big_put;

static void *big_main(void *arg) {
  big_put *b = arg;
  b->rc = store_doc_put(b->s, "big", "doc", b->body, 0, NULL, &b->err);
  atomic_store(&b->done, true);
  return NULL;
}

/* A 16 MiB document (the largest a document may be) sent inside a
 * transaction whose backend was then stopped: the sockets' buffers fill
 * and the send would wait for good; it is given up within [store]
 * timeout_ms, refused naming it, nothing stored, and the store works again
 * once the backend runs. Before: the send never returned. */
static void test_large_statement_to_stopped_backend(void **state) {
  (void)state;
  if (!*url)
    skip();
  char u[600], name[64];
  fresh_db(u, sizeof u, NULL, name, sizeof name);
  store_timeout_set(1000);
  big_put b = {.s = open_url(u)};
  size_t n = STORE_BODY_MAX;
  char *body = malloc(n + 1);
  assert_non_null(body);
  memset(body, 'x', n);
  body[0] = body[n - 1] = '"';
  body[n] = 0;
  b.body = body;
  assert_int_equal(store_begin(b.s, &b.err), 0);
  long long pid = raw_int(
      u, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
         "AND pid <> pg_backend_pid() AND application_name = 'lisec'");
  assert_true(pid > 0);
  assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, big_main, &b), 0);
  int64_t t0 = lisec_time_mono_ms();
  while (!atomic_load(&b.done) &&
         lisec_time_mono_ms() - t0 < 1000 + 2000 + 4000)
    usleep(20000);
  bool done = atomic_load(&b.done);
  int64_t took = lisec_time_mono_ms() - t0;
  kill((pid_t)pid, SIGCONT);
  pthread_join(t, NULL);
  if (!done)
    fail_msg("a 16 MiB statement to a stopped backend was still being sent "
             "after %lld ms",
             (long long)took);
  assert_int_equal(b.rc, LISEC_EUNAVAIL);
  if (!strstr(b.err.msg, "[store] timeout_ms = 1000"))
    fail_msg("%s", b.err.msg);
  lisec_err err = {0};
  store_rollback(b.s);
  assert_int_equal(store_doc_put(b.s, "big", "after", "{}", 0, NULL, &err), 0);
  assert_int_equal(
      raw_int(
          u,
          "SELECT COUNT(*) FROM documents WHERE kind = 'big' AND id = 'doc'"),
      0);
  store_close(b.s);
  free(body);
  defaults();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migration_not_cut_by_statement_bound),
      cmocka_unit_test(test_migration_past_its_bound_rolled_back),
      cmocka_unit_test(test_large_statement_to_stopped_backend),
      cmocka_unit_test(test_cancel_threads_bounded),
  };
  return cmocka_run_group_tests(tests, suite_setup, NULL);
}
