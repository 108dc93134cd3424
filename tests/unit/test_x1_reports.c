/* What the ADMF takes of NEs' X1 reports (ctl/x1_reports.c), with times
 * given, not read from a clock: an NE's burst is admitted at once, then
 * its rate, and not a report more; one NE's flood leaves another's bucket
 * alone; a flood is flagged once, and again only after the bucket has been
 * full; a wall clock stepped back (chrony correcting a clock that ran
 * ahead) refills an empty bucket at the rate from the new time, as the
 * caller's monotonic clock would; a bucket taken over when the table is
 * full starts full; the task
 * issue queue holds one entry a task (the latest), refuses a new task past
 * its bound without recording, records nothing when the record fails, and
 * is empty once taken; a report is recorded outside the queue's lock, so a
 * slow record (an audit write's fsync) holds up neither the ADMF loop's
 * take nor another report, and of two reports on a task the one recorded
 * later is shown, whichever finishes first. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/base.h"
#include "ctl/x1_reports.h"

#define T0 1790000000000 /* ms since the epoch, in 2026 */

/* How many of n reports at `at` are admitted; *floods counts the floods flagged. */
static int admitted(ctl_x1_reports *r, const char *ne, int64_t at, int n, int *floods) {
  int ok = 0;
  for (int i = 0; i < n; i++) {
    bool began = false;
    ok += ctl_x1_reports_admit(r, ne, at, &began);
    *floods += began;
  }
  return ok;
}

static void test_rate_and_burst(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(5, 20, 8);
  int floods = 0;
  assert_int_equal(admitted(r, "poi-1", T0, 1000, &floods), 20); /* the burst, at once */
  assert_int_equal(floods, 1);
  assert_int_equal(admitted(r, "poi-1", T0 + 199, 100, &floods), 0); /* 0.995 of a token */
  assert_int_equal(admitted(r, "poi-1", T0 + 200, 100, &floods), 1);
  assert_int_equal(admitted(r, "poi-1", T0 + 1200, 100, &floods), 5); /* 5 a second */
  assert_int_equal(floods, 1); /* one flood, however long */
  /* another NE has its own burst */
  assert_int_equal(admitted(r, "poi-2", T0 + 1200, 100, &floods), 20);
  assert_int_equal(floods, 2);
  /* refilled to the burst (4 s at 5 a second): the flood is over, and the
   * next one is flagged again; never more than the burst is saved up */
  assert_int_equal(admitted(r, "poi-1", T0 + 1200 + 60000, 100, &floods), 20);
  assert_int_equal(floods, 3);
  /* time going back admits nothing extra */
  assert_int_equal(admitted(r, "poi-1", T0, 100, &floods), 0);
  ctl_x1_reports_free(r);
}

static void test_clock_back(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(5, 20, 8);
  int floods = 0;
  /* the clock an hour ahead: the NE uses its burst */
  int64_t ahead = T0 + 3600000;
  assert_int_equal(admitted(r, "poi-1", ahead, 100, &floods), 20);
  /* stepped back to the right time: going back gives nothing... */
  assert_int_equal(admitted(r, "poi-1", T0, 100, &floods), 0);
  /* ...but a second later the NE has its rate again, not after an hour */
  assert_int_equal(admitted(r, "poi-1", T0 + 1000, 100, &floods), 5);
  assert_int_equal(admitted(r, "poi-1", T0 + 2000, 100, &floods), 5);
  ctl_x1_reports_free(r);
}

static void test_table_full(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(1, 2, 8);
  int floods = 0;
  char ne[32];
  /* more NEs than the table keeps, each emptying its bucket */
  for (int i = 0; i < 3000; i++) {
    snprintf(ne, sizeof ne, "poi-%d", i);
    assert_int_equal(admitted(r, ne, T0 + i, 5, &floods), 2);
  }
  /* the most recent is still known (empty), the first was taken over (full) */
  assert_int_equal(admitted(r, "poi-2999", T0 + 3000, 5, &floods), 0);
  assert_int_equal(admitted(r, "poi-0", T0 + 3000, 5, &floods), 2);
  ctl_x1_reports_free(r);
}

typedef struct rec {
  int calls, fail;
  const char *says;
  uint64_t next; /* the order of the next record (an audit entry's index) */
} rec;

static int record(void *ctx, char *shown, size_t cap, uint64_t *order) {
  rec *c = ctx;
  c->calls++;
  if (c->fail) return LISEC_ESTORE;
  snprintf(shown, cap, "%s", c->says);
  *order = c->next++;
  return 0;
}

typedef struct taken {
  char keys[4][64], shown[4][64];
  size_t n;
} taken;

static void apply(void *ctx, const char *key, const char *shown) {
  taken *t = ctx;
  if (t->n < 4) {
    snprintf(t->keys[t->n], sizeof t->keys[0], "%s", key);
    snprintf(t->shown[t->n], sizeof t->shown[0], "%s", shown);
  }
  t->n++;
}

static void test_queue(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(5, 20, 2);
  rec c = {0, 0, "first", 0};
  assert_int_equal(ctl_x1_reports_queue(r, "t-1|poi-1", record, &c), 0);
  c.says = "second";
  assert_int_equal(ctl_x1_reports_queue(r, "t-2|poi-1", record, &c), 0);
  /* full: a third task is refused before anything is recorded */
  assert_int_equal(ctl_x1_reports_queue(r, "t-3|poi-1", record, &c), LISEC_ETOOBIG);
  assert_int_equal(c.calls, 2);
  /* a task already waiting takes its latest report */
  c.says = "latest";
  assert_int_equal(ctl_x1_reports_queue(r, "t-1|poi-1", record, &c), 0);
  /* a record that fails queues nothing */
  c.fail = 1;
  assert_int_equal(ctl_x1_reports_queue(r, "t-2|poi-1", record, &c), LISEC_ESTORE);
  taken t = {0};
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 2);
  assert_string_equal(t.keys[0], "t-1|poi-1");
  assert_string_equal(t.shown[0], "latest");
  assert_string_equal(t.keys[1], "t-2|poi-1");
  assert_string_equal(t.shown[1], "second");
  /* taken: empty, and room again */
  memset(&t, 0, sizeof t);
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 0);
  c.fail = 0;
  assert_int_equal(ctl_x1_reports_queue(r, "t-3|poi-1", record, &c), 0);
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 1);
  ctl_x1_reports_free(r);
}

/* ---- a record that takes its time ----------------------------------------- */

static struct timespec deadline(int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  return ts;
}

/* A record standing for a slow audit write (an fsync on a busy disk): it
 * says it has begun, then waits until the test opens the gate (at most
 * 10 s), and shows `says`. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool begun, open;
  const char *says;
  uint64_t order; /* the audit entry's index it gives */
  int fail;
} gate;

#define GATE(s, o) {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, s, o, 0}

static int gated_record(void *ctx, char *shown, size_t cap, uint64_t *order) {
  gate *g = ctx;
  pthread_mutex_lock(&g->mu);
  g->begun = true;
  pthread_cond_broadcast(&g->cv);
  struct timespec until = deadline(10000);
  while (!g->open)
    if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) break;
  pthread_mutex_unlock(&g->mu);
  if (g->fail) return LISEC_ESTORE;
  snprintf(shown, cap, "%s", g->says);
  *order = g->order;
  return 0;
}

static bool gate_begun(gate *g, int ms) {
  struct timespec until = deadline(ms);
  pthread_mutex_lock(&g->mu);
  while (!g->begun)
    if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) break;
  bool begun = g->begun;
  pthread_mutex_unlock(&g->mu);
  return begun;
}

static void gate_open(gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* A queue or a take on a thread of its own, as a report's request and the
 * ADMF loop run; the test waits, bounded, for it to finish. */
typedef struct job {
  ctl_x1_reports *r;
  const char *key; /* a queue: this task, recorded through g */
  gate *g;
  int rc;
  taken t; /* a take: what it applied */
  size_t n;
  bool done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t th;
} job;

static void job_done(job *j) {
  pthread_mutex_lock(&j->mu);
  j->done = true;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void *queue_job(void *arg) {
  job *j = arg;
  j->rc = ctl_x1_reports_queue(j->r, j->key, gated_record, j->g);
  job_done(j);
  return NULL;
}

static void *take_job(void *arg) {
  job *j = arg;
  j->n = ctl_x1_reports_take(j->r, apply, &j->t);
  job_done(j);
  return NULL;
}

static void job_start(job *j, ctl_x1_reports *r, const char *key, gate *g, void *(*fn)(void *)) {
  memset(j, 0, sizeof *j);
  j->r = r, j->key = key, j->g = g;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  assert_int_equal(pthread_create(&j->th, NULL, fn, j), 0);
}

static bool job_finished(job *j, int ms) {
  struct timespec until = deadline(ms);
  pthread_mutex_lock(&j->mu);
  while (!j->done)
    if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT) break;
  bool done = j->done;
  pthread_mutex_unlock(&j->mu);
  return done;
}

static void job_join(job *j) {
  pthread_join(j->th, NULL);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
}

/* A report being recorded (an audit write and its fsync) holds up neither
 * the ADMF loop's take nor another NE's report: with one report's record
 * stuck, the take and another task's report both finish. */
static void test_record_holds_nothing(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(5, 20, 4);
  rec c = {0, 0, "earlier", 1};
  assert_int_equal(ctl_x1_reports_queue(r, "t-1|poi-1", record, &c), 0);
  gate slow = GATE("slow", 100), quick = GATE("quick", 101);
  quick.open = true;
  job reporting, taking, other;
  job_start(&reporting, r, "t-2|poi-1", &slow, queue_job);
  bool begun = gate_begun(&slow, 5000);
  job_start(&taking, r, NULL, NULL, take_job);
  bool took = job_finished(&taking, 2000);
  job_start(&other, r, "t-3|poi-2", &quick, queue_job);
  bool other_queued = job_finished(&other, 2000);
  /* let the slow record end before asserting, so no thread outlives the test */
  gate_open(&slow);
  job_join(&reporting);
  job_join(&taking);
  job_join(&other);
  assert_true(begun);
  assert_true(took);         /* the loop's take did not wait for the record */
  assert_true(other_queued); /* nor did another NE's report */
  assert_int_equal(reporting.rc, 0);
  assert_int_equal(other.rc, 0);
  assert_int_equal(taking.n, 1); /* what was queued: not the report still being recorded */
  assert_string_equal(taking.t.keys[0], "t-1|poi-1");
  assert_string_equal(taking.t.shown[0], "earlier");
  /* once recorded, the slow report is queued like any, in the order they came */
  taken t = {0};
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 2);
  assert_string_equal(t.keys[0], "t-2|poi-1");
  assert_string_equal(t.shown[0], "slow");
  assert_string_equal(t.keys[1], "t-3|poi-2");
  assert_string_equal(t.shown[1], "quick");
  ctl_x1_reports_free(r);
}

/* Recorded outside the lock, two reports on a task may finish out of
 * order: the one recorded later (the greater audit entry) is shown,
 * whichever comes back first, also across a take; a task whose report is
 * still being recorded counts against the bound (refused past it, never
 * recorded), and its place is freed when the record fails. */
static void test_record_order(void **st) {
  (void)st;
  ctl_x1_reports *r = ctl_x1_reports_new(5, 20, 2);
  /* recorded first (entry 7), back last */
  gate older = GATE("entry 7", 7);
  job first;
  job_start(&first, r, "t-1|poi-1", &older, queue_job);
  bool begun = gate_begun(&older, 5000);
  /* recorded after it (entry 8), back at once, and taken */
  rec c = {0, 0, "entry 8", 8};
  int rc8 = ctl_x1_reports_queue(r, "t-1|poi-1", record, &c);
  taken t = {0};
  size_t n8 = ctl_x1_reports_take(r, apply, &t);
  /* full: t-1 (still being recorded) and t-2; t-3 is refused unrecorded */
  c.says = "t-2";
  int rc2 = ctl_x1_reports_queue(r, "t-2|poi-1", record, &c);
  int calls = c.calls;
  int rc3 = ctl_x1_reports_queue(r, "t-3|poi-1", record, &c);
  int calls3 = c.calls;
  gate_open(&older);
  job_join(&first);
  assert_true(begun);
  assert_int_equal(rc8, 0);
  assert_int_equal(n8, 1);
  assert_string_equal(t.keys[0], "t-1|poi-1");
  assert_string_equal(t.shown[0], "entry 8");
  assert_int_equal(rc2, 0);
  assert_int_equal(rc3, LISEC_ETOOBIG);
  assert_int_equal(calls3, calls); /* refused before anything was recorded */
  assert_int_equal(first.rc, 0);   /* recorded, answered oK... */
  /* ...but not shown over the later one already taken */
  memset(&t, 0, sizeof t);
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 1);
  assert_string_equal(t.keys[0], "t-2|poi-1");
  /* the same the other way round, within one take: the later one is kept */
  gate later = GATE("entry 20", 20);
  job second;
  job_start(&second, r, "t-1|poi-1", &later, queue_job);
  begun = gate_begun(&later, 5000);
  c.says = "entry 10";
  c.next = 10;
  int rc10 = ctl_x1_reports_queue(r, "t-1|poi-1", record, &c);
  gate_open(&later);
  job_join(&second);
  assert_true(begun);
  assert_int_equal(rc10, 0);
  assert_int_equal(second.rc, 0);
  memset(&t, 0, sizeof t);
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 1);
  assert_string_equal(t.shown[0], "entry 20");
  /* a record that fails frees its task's place */
  gate failing = GATE("never", 30);
  failing.fail = 1;
  failing.open = true;
  c.says = "t-5";
  assert_int_equal(ctl_x1_reports_queue(r, "t-4|poi-1", gated_record, &failing), LISEC_ESTORE);
  assert_int_equal(ctl_x1_reports_queue(r, "t-5|poi-1", record, &c), 0);
  assert_int_equal(ctl_x1_reports_queue(r, "t-6|poi-1", record, &c), 0);
  memset(&t, 0, sizeof t);
  assert_int_equal(ctl_x1_reports_take(r, apply, &t), 2);
  assert_string_equal(t.keys[0], "t-5|poi-1");
  assert_string_equal(t.keys[1], "t-6|poi-1");
  ctl_x1_reports_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate_and_burst),
      cmocka_unit_test(test_clock_back),
      cmocka_unit_test(test_table_full),
      cmocka_unit_test(test_queue),
      cmocka_unit_test(test_record_holds_nothing),
      cmocka_unit_test(test_record_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
