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
 * is empty once taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
} rec;

static int record(void *ctx, char *shown, size_t cap) {
  rec *c = ctx;
  c->calls++;
  if (c->fail) return LISEC_ESTORE;
  snprintf(shown, cap, "%s", c->says);
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
  rec c = {0, 0, "first"};
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate_and_burst),
      cmocka_unit_test(test_clock_back),
      cmocka_unit_test(test_table_full),
      cmocka_unit_test(test_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
