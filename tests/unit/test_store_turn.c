/* The SQLite writers' turn inside one process (src/store/turn.c; issue 22
 * item 6): while one connection holds a write transaction, the writers
 * waiting for the same file go in the turn's order once it ends: a waiting
 * normal-priority thread before a thread that runs lowered (it said so,
 * store_thread_set_lowered: the bulk channels, the KEK rotation), and a
 * lowered one after at most 8 normal ones that went ahead of it, so bulk
 * work is delayed, not starved.
 * Real threads on real connections to one SQLite file; each waiter is known
 * to wait (the turn's own count) before the holder commits, so the order
 * is the rule's, not the scheduler's. And the WAL's copy back into the
 * database runs after the turn is given, by a lowered thread past 1000
 * pages and by a normal one only past 4000, so a decision's commit rarely
 * pays for it. A writer's wait for the turn is bounded by a duration that a
 * wall clock stepped back does not lengthen. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_impl.h"

static char dir[64], path[128], url[160];

typedef struct order {
  pthread_mutex_t mu;
  char names[32][8];
  int n;
} order;

typedef struct writer {
  const char *name;
  bool lowered; /* the thread says it runs lowered (store_thread_set_lowered) */
  order *o;
  int rc;
} writer;

/* A writer: its own connection, one write transaction, its name noted
 * while it holds the write lock (so the note's order is the turn's). */
static void *write_once(void *arg) {
  writer *w = arg;
  store_thread_set_lowered(w->lowered);
  lisec_store *s = NULL;
  lisec_err err = {0};
  w->rc = store_open(url, &s, &err);
  if (w->rc) return NULL;
  w->rc = store_begin(s, &err);
  if (!w->rc) {
    pthread_mutex_lock(&w->o->mu);
    snprintf(w->o->names[w->o->n++], sizeof w->o->names[0], "%s", w->name);
    pthread_mutex_unlock(&w->o->mu);
    w->rc = store_doc_put(s, "test.turn", w->name, "{}", -1, NULL, &err);
    if (!w->rc) w->rc = store_commit(s, &err);
  }
  store_close(s);
  return NULL;
}

/* Waits (no fixed time: until the turn's count says so, at most 10 s) for
 * normal and lowered writers to be waiting. */
static void wait_for_waiters(unsigned normal, unsigned lowered) {
  unsigned n = 0, l = 0;
  for (int i = 0; i < 10000; i++) {
    store_turn_waiting(path, &n, &l);
    if (n == normal && l == lowered) return;
    usleep(1000);
  }
  fail_msg("waiters: %u normal and %u lowered, want %u and %u", n, l, normal, lowered);
}

static lisec_store *hold(void) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  assert_int_equal(store_open(url, &s, &err), 0);
  assert_int_equal(store_begin(s, &err), 0);
  return s;
}

static void release(lisec_store *s) {
  lisec_err err = {0};
  assert_int_equal(store_doc_put(s, "test.turn", "holder", "{}", -1, NULL, &err), 0);
  assert_int_equal(store_commit(s, &err), 0);
  store_close(s);
}

static int at(const order *o, const char *name) {
  for (int i = 0; i < o->n; i++)
    if (strcmp(o->names[i], name) == 0) return i;
  return -1;
}

/* The lowered writer waits first, the normal one after it: the normal one
 * gets the write lock first. Several times, each with a fresh holder. */
static void test_normal_before_lowered(void **state) {
  (void)state;
  for (int round = 0; round < 10; round++) {
    order o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    lisec_store *h = hold();
    writer low = {"low", true, &o, 0}, norm = {"norm", false, &o, 0};
    pthread_t tl, tn;
    assert_int_equal(pthread_create(&tl, NULL, write_once, &low), 0);
    wait_for_waiters(0, 1);
    assert_int_equal(pthread_create(&tn, NULL, write_once, &norm), 0);
    wait_for_waiters(1, 1);
    release(h);
    pthread_join(tl, NULL);
    pthread_join(tn, NULL);
    assert_int_equal(low.rc, 0);
    assert_int_equal(norm.rc, 0);
    assert_int_equal(o.n, 2);
    if (at(&o, "norm") != 0)
      fail_msg("round %d: the lowered writer got the write lock before the normal one waiting beside it", round);
  }
}

/* Eleven normal writers wait beside one lowered writer: it goes after at
 * most 8 of them, not last. */
static void test_lowered_not_starved(void **state) {
  (void)state;
  order o = {.mu = PTHREAD_MUTEX_INITIALIZER};
  lisec_store *h = hold();
  writer low = {"low", true, &o, 0}, norm[11];
  pthread_t tl, tn[11];
  assert_int_equal(pthread_create(&tl, NULL, write_once, &low), 0);
  wait_for_waiters(0, 1);
  for (int i = 0; i < 11; i++) {
    char *name = malloc(8);
    snprintf(name, 8, "n%d", i);
    norm[i] = (writer){name, false, &o, 0};
    assert_int_equal(pthread_create(&tn[i], NULL, write_once, &norm[i]), 0);
  }
  wait_for_waiters(11, 1);
  release(h);
  pthread_join(tl, NULL);
  for (int i = 0; i < 11; i++) {
    pthread_join(tn[i], NULL);
    assert_int_equal(norm[i].rc, 0);
    free((char *)norm[i].name);
  }
  assert_int_equal(low.rc, 0);
  assert_int_equal(o.n, 12);
  int pos = at(&o, "low");
  if (pos < 1 || pos > 8)
    fail_msg("the lowered writer went %d-th of 12 (want after 1 to 8 normal writers)", pos + 1);
}

/* ---- a wall clock stepped back -------------------------------------------- */

/* The process's wall clock: the kernel's plus wall_ahead_s. Defined in the
 * test program, this clock_gettime comes before libc's for every caller in
 * it (the store library is linked in), so the clock can be stepped without
 * touching the machine's. */
static atomic_llong wall_ahead_s;
int clock_gettime(clockid_t id, struct timespec *ts) {
  static int (*real)(clockid_t, struct timespec *);
  if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  int rc = real(id, ts);
  if (rc == 0 && id == CLOCK_REALTIME) ts->tv_sec += (time_t)atomic_load(&wall_ahead_s);
  return rc;
}

typedef struct taker {
  store_turn *t;
  bool took;
  atomic_bool done;
} taker;

static void *take_300ms(void *arg) {
  taker *k = arg;
  k->took = store_turn_take(k->t, false, 300);
  atomic_store(&k->done, true);
  return NULL;
}

/* The turn is held; a writer waits for it at most 300 ms, its wait begun
 * while the wall clock read an hour ahead, which is then stepped back the
 * hour (chrony correcting a clock that ran ahead). It is refused after its
 * 300 ms, not after the hour; before, it waited until a wall-clock time. */
static void test_wait_outlives_step_back(void **state) {
  (void)state;
  store_turn *t = store_turn_get(path);
  assert_non_null(t);
  assert_true(store_turn_take(t, false, 1000));
  atomic_store(&wall_ahead_s, 3600);
  taker k = {.t = t};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, take_300ms, &k), 0);
  wait_for_waiters(1, 0); /* its bound is set */
  atomic_store(&wall_ahead_s, 0);
  int ms = 0;
  while (ms < 5000 && !atomic_load(&k.done)) usleep(1000), ms++;
  bool done = atomic_load(&k.done);
  store_turn_give(t); /* a waiter still there takes it now and ends */
  pthread_join(th, NULL);
  if (k.took) store_turn_give(t);
  store_turn_put(t);
  if (!done) fail_msg("a 300 ms wait for the turn still waited 5 s after the wall clock was stepped back an hour");
  assert_false(k.took);
}

/* A :memory: database is one connection's own: no turn, no waiting. */
static void test_memory_has_no_turn(void **state) {
  (void)state;
  lisec_store *a = NULL;
  lisec_err err = {0};
  assert_int_equal(store_open("sqlite::memory:", &a, &err), 0);
  assert_int_equal(store_begin(a, &err), 0);
  assert_int_equal(store_commit(a, &err), 0);
  store_close(a);
}

/* ---- the WAL's checkpoint ------------------------------------------------ */

static int raw_frames;
static int raw_hook(void *ctx, sqlite3 *db, const char *name, int frames) {
  (void)ctx, (void)db, (void)name;
  raw_frames = frames;
  return SQLITE_OK;
}

/* Pages in the WAL after one small write from a raw connection: small when
 * the WAL was copied back whole before (the write starts it over), else
 * what was there plus the write. */
static int wal_pages(void) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_wal_hook(db, raw_hook, NULL);
  raw_frames = -1;
  assert_int_equal(sqlite3_exec(db, "UPDATE documents SET updated_at = updated_at + 1 WHERE kind = 'test.turn' "
                                    "AND id = 'holder'", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  return raw_frames;
}

typedef struct filler {
  bool lowered;
  int docs, rc;
} filler;

/* docs documents of 4 KiB each, in one transaction: that many WAL pages and more. */
static void *fill(void *arg) {
  filler *f = arg;
  store_thread_set_lowered(f->lowered);
  static char body[4200];
  memset(body, 0, sizeof body);
  body[0] = '"';
  memset(body + 1, 'x', 4096);
  body[4097] = '"';
  lisec_store *s = NULL;
  lisec_err err = {0};
  if ((f->rc = store_open(url, &s, &err)) || (f->rc = store_begin(s, &err))) return NULL;
  for (int i = 0; i < f->docs && !f->rc; i++) {
    char id[32];
    snprintf(id, sizeof id, "fill-%d-%d", f->lowered, i);
    f->rc = store_doc_put(s, "test.fill", id, body, -1, NULL, &err);
  }
  if (!f->rc) f->rc = store_commit(s, &err);
  store_close(s);
  return NULL;
}

static void fill_in_thread(bool lowered, int docs) {
  filler f = {lowered, docs, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fill, &f), 0);
  pthread_join(t, NULL);
  assert_int_equal(f.rc, 0);
}

/* A normal writer's commit leaves ~1,700 pages in the WAL (SQLite's own
 * checkpoint would have copied them back at 1,000); a lowered writer's
 * commit past 1,000 copies them back, after giving the turn. */
static void test_checkpoint_falls_to_lowered(void **state) {
  (void)state;
  sqlite3 *db = NULL; /* the WAL copied back whole and emptied first */
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  fill_in_thread(false, 1500); /* 4 KiB bodies: ~1,700 pages in all */
  int after_normal = wal_pages();
  if (after_normal < 1000)
    fail_msg("after a normal writer's ~1,700 pages the WAL holds %d: it was copied back by the normal writer",
             after_normal);
  fill_in_thread(true, 10);
  int after_lowered = wal_pages();
  if (after_lowered > 100)
    fail_msg("after a lowered writer's commit past 1,000 pages the WAL holds %d: not copied back", after_lowered);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/lisec-turn-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/t.db", dir);
  snprintf(url, sizeof url, "sqlite:%s", path);
  /* the file and its schema, before any thread opens it */
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normal_before_lowered),
      cmocka_unit_test(test_lowered_not_starved),
      cmocka_unit_test(test_memory_has_no_turn),
      cmocka_unit_test(test_wait_outlives_step_back),
      cmocka_unit_test(test_checkpoint_falls_to_lowered),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  store_close(s);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
