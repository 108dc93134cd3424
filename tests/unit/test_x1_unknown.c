/* When the ADMF asks an NE again to deactivate an XID the ADMF does not
 * know (ctl/x1_unknown.c), with times given, not read from a clock: one
 * never asked is due at once; each ask doubles the wait from 1 s up to the
 * maximum, and the XID is asked again after it, however often (never given
 * up); at most the cap is picked per check, those never asked first, then
 * the earliest due, so every XID of a long list gets its turn; an XID the
 * NE stops listing is forgotten and asked at once when listed again; an
 * XID listed twice is picked once; a wall clock stepped back waits no
 * longer than the maximum; a full list's worth of XIDs is all remembered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/x1_unknown.h"

#define T0 1790000000000 /* ms since the epoch, in 2026 */

static char names[CTL_X1_UNKNOWN_MAX][48];
static const char *xids[CTL_X1_UNKNOWN_MAX];

static void make_xids(size_t n) {
  for (size_t i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "00000000-0000-4000-8000-%012zu", i);
    xids[i] = names[i];
  }
}

/* Picks at now, asks each picked; returns how many. */
static size_t check(ctl_x1_unknown *u, size_t n, int64_t now, size_t max, size_t *picked) {
  size_t k = ctl_x1_unknown_due(u, xids, n, now, picked, max);
  for (size_t i = 0; i < k; i++) ctl_x1_unknown_asked(u, xids[picked[i]], now);
  return k;
}

static void test_backoff_doubles_to_the_maximum_and_never_gives_up(void **st) {
  (void)st;
  make_xids(1);
  ctl_x1_unknown *u = ctl_x1_unknown_new(8000);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK];
  assert_int_equal(check(u, 1, T0, 16, picked), 1); /* never asked: at once */
  assert_int_equal(ctl_x1_unknown_due(u, xids, 1, T0 + 999, picked, 16), 0);
  /* 1, 2, 4, 8, then 8 s for ever */
  int64_t at = T0, waits[] = {1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000, 8000};
  for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
    assert_int_equal(ctl_x1_unknown_due(u, xids, 1, at + waits[i] - 1, picked, 16), 0);
    at += waits[i];
    assert_int_equal(check(u, 1, at, 16, picked), 1);
  }
  unsigned asked = 0;
  assert_int_equal(ctl_x1_unknown_next(u, xids[0], &asked), at + 8000);
  assert_int_equal(asked, 11);
  ctl_x1_unknown_free(u);
}

static void test_cap_per_check_and_every_xid_gets_its_turn(void **st) {
  (void)st;
  make_xids(40);
  ctl_x1_unknown *u = ctl_x1_unknown_new(300000);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK], seen[40] = {0};
  /* a check every 300 ms: 16, 16, then the last 8, before any is asked twice */
  for (int c = 0; c < 3; c++) {
    size_t k = check(u, 40, T0 + c * 300, CTL_X1_UNKNOWN_PER_CHECK, picked);
    assert_int_equal(k, c < 2 ? 16 : 8);
    for (size_t i = 0; i < k; i++) seen[picked[i]]++;
  }
  for (size_t i = 0; i < 40; i++) assert_int_equal(seen[i], 1);
  /* at T0 + 1.5 s: the first 16, due since T0 + 1 s, before the later ones */
  assert_int_equal(check(u, 40, T0 + 1500, CTL_X1_UNKNOWN_PER_CHECK, picked), 16);
  for (size_t i = 0; i < 16; i++) assert_true(picked[i] < 16);
  /* 40 XIDs over a minute of checks every 500 ms, 2 s maximum: 16 at most
   * per check, each asked at least every 2 s + one check */
  ctl_x1_unknown_free(u);
  u = ctl_x1_unknown_new(2000);
  int64_t last[40] = {0};
  for (int c = 0; c < 120; c++) {
    int64_t now = T0 + c * 500;
    size_t k = check(u, 40, now, CTL_X1_UNKNOWN_PER_CHECK, picked);
    assert_true(k <= CTL_X1_UNKNOWN_PER_CHECK);
    for (size_t i = 0; i < k; i++) last[picked[i]] = now;
    for (size_t i = 0; c > 10 && i < 40; i++) assert_true(now - last[i] <= 2000 + 2 * 500);
  }
  ctl_x1_unknown_free(u);
}

static void test_forgotten_when_no_longer_listed(void **st) {
  (void)st;
  make_xids(3);
  ctl_x1_unknown *u = ctl_x1_unknown_new(300000);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK];
  int64_t now = T0;
  for (int i = 0; i < 6; i++) { /* each asked six times, now waiting 32 s */
    now = T0 + i * 40000;
    assert_int_equal(check(u, 3, now, 16, picked), 3);
  }
  assert_int_equal(ctl_x1_unknown_count(u), 3);
  /* the NE lists only the third: the other two are forgotten */
  assert_int_equal(ctl_x1_unknown_due(u, xids + 2, 1, now, picked, 16), 0);
  assert_int_equal(ctl_x1_unknown_count(u), 1);
  assert_int_equal(ctl_x1_unknown_next(u, xids[0], NULL), 0);
  /* listed again: the first two are asked at once, the third still waits */
  assert_int_equal(ctl_x1_unknown_due(u, xids, 3, now, picked, 16), 2);
  assert_true(picked[0] < 2 && picked[1] < 2);
  /* an empty list forgets everything */
  assert_int_equal(ctl_x1_unknown_due(u, xids, 0, now, picked, 16), 0);
  assert_int_equal(ctl_x1_unknown_count(u), 0);
  ctl_x1_unknown_free(u);
}

static void test_listed_twice_picked_once(void **st) {
  (void)st;
  make_xids(2);
  const char *twice[] = {xids[0], xids[1], xids[0]};
  ctl_x1_unknown *u = ctl_x1_unknown_new(300000);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK];
  assert_int_equal(ctl_x1_unknown_due(u, twice, 3, T0, picked, 16), 2);
  ctl_x1_unknown_free(u);
}

static void test_clock_stepped_back(void **st) {
  (void)st;
  make_xids(1);
  ctl_x1_unknown *u = ctl_x1_unknown_new(4000);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK];
  assert_int_equal(check(u, 1, T0, 16, picked), 1);
  /* an hour back: due 1 s after T0 is an hour and a second away, past the maximum */
  assert_int_equal(ctl_x1_unknown_due(u, xids, 1, T0 - 3600000, picked, 16), 1);
  ctl_x1_unknown_free(u);
}

static void test_a_full_list_is_remembered(void **st) {
  (void)st;
  make_xids(CTL_X1_UNKNOWN_MAX);
  ctl_x1_unknown *u = ctl_x1_unknown_new(300000);
  size_t picked[CTL_X1_UNKNOWN_MAX];
  assert_int_equal(check(u, CTL_X1_UNKNOWN_MAX, T0, CTL_X1_UNKNOWN_MAX, picked), CTL_X1_UNKNOWN_MAX);
  assert_int_equal(ctl_x1_unknown_count(u), CTL_X1_UNKNOWN_MAX);
  assert_int_equal(ctl_x1_unknown_due(u, xids, CTL_X1_UNKNOWN_MAX, T0 + 999, picked, CTL_X1_UNKNOWN_MAX), 0);
  /* a name longer than an XID is not remembered: it stays due */
  const char *odd[] = {"an-xid-that-is-far-longer-than-any-uuid-can-be"};
  ctl_x1_unknown_asked(u, odd[0], T0);
  assert_int_equal(ctl_x1_unknown_due(u, odd, 1, T0, picked, 16), 1);
  ctl_x1_unknown_free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff_doubles_to_the_maximum_and_never_gives_up),
      cmocka_unit_test(test_cap_per_check_and_every_xid_gets_its_turn),
      cmocka_unit_test(test_forgotten_when_no_longer_listed),
      cmocka_unit_test(test_listed_twice_picked_once),
      cmocka_unit_test(test_clock_stepped_back),
      cmocka_unit_test(test_a_full_list_is_remembered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
