/* The bound on an RD store's live data keys ([rd] max_live_keys; ctl/rd.h,
 * docs/rd.md): how many keys of one store an obligation keeps live at once
 * (1 + ceil(retention_s / period_s)), checked against a count of the live
 * periods at every second of a window for small periods and retentions;
 * and the rule at a put or extension: each of the obligation's stores,
 * with every other obligation naming it, within the bound (at it
 * accepted, one over refused naming the setting and TR103308-5.7-RD-BOUND),
 * the obligation's own stored form left out, other stores not counted,
 * and sums of huge needs refused without overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "ctl/rd.h"

static void test_keys_needed(void **state) {
  (void)state;
  assert_int_equal(ctl_rd_keys_needed(3600, 7200), 3);
  assert_int_equal(ctl_rd_keys_needed(3600, 7201), 4);
  assert_int_equal(ctl_rd_keys_needed(3600, 1), 2);
  assert_int_equal(ctl_rd_keys_needed(86400, 730 * 86400LL), 731);   /* daily keys, two years */
  assert_int_equal(ctl_rd_keys_needed(1, 73000 * 86400LL), 6307200001); /* 1 s, 200 years */
  assert_true(ctl_rd_keys_needed(0, 10) == INT64_MAX);
  assert_true(ctl_rd_keys_needed(10, -1) == INT64_MAX);
}

/* The most periods whose key lives at one time, counted: period k's key
 * lives in [from + k*p, from + (k+1)*p + r). */
static int64_t live_at_most(int64_t from, int64_t p, int64_t r) {
  int64_t most = 0;
  for (int64_t t = from; t < from + 4 * (p + r); t++) {
    int64_t n = 0;
    for (int64_t k = 0; from + k * p <= t; k++)
      if (t < from + (k + 1) * p + r) n++;
    if (n > most) most = n;
  }
  return most;
}

static void test_keys_needed_is_the_most_live(void **state) {
  (void)state;
  for (int64_t p = 1; p <= 7; p++)
    for (int64_t r = 1; r <= 20; r++) assert_int_equal(ctl_rd_keys_needed(p, r), live_at_most(13, p, r));
}

static json_t *stored(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  assert_non_null(j);
  return j;
}

static void test_bound_check(void **state) {
  (void)state;
  const char *one[] = {"st-a"}, *both[] = {"st-b", "st-a"};
  json_t *none = json_object();
  lisec_err err = {0};
  /* alone: 3 at a bound of 3, 4 over it */
  assert_int_equal(ctl_rd_bound_check(none, "ob-1", one, 1, 3600, 7200, 3, &err), 0);
  assert_int_equal(ctl_rd_bound_check(none, "ob-1", one, 1, 3600, 7201, 3, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "TR103308-5.7-RD-BOUND"));
  assert_non_null(strstr(err.msg, "[rd] max_live_keys (3)"));
  assert_non_null(strstr(err.msg, "st-a would keep up to 4"));
  /* with another obligation on st-a (2) and one on st-c (which does not count) */
  json_t *others = stored("{\"ob-2\":{\"stores\":[\"st-x\",\"st-a\"],\"period_s\":60,\"retention_s\":60},"
                          "\"ob-3\":{\"stores\":[\"st-c\"],\"period_s\":1,\"retention_s\":100000}}");
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_rd_bound_check(others, "ob-1", one, 1, 3600, 7200, 5, &err), 0);
  assert_int_equal(ctl_rd_bound_check(others, "ob-1", one, 1, 3600, 7200, 4, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "st-a would keep up to 5"));
  /* a store listed after one within the bound is still checked */
  assert_int_equal(ctl_rd_bound_check(others, "ob-1", both, 2, 3600, 7200, 4, &err), LISEC_ECONFLICT);
  /* the obligation's own stored form is being replaced: not counted twice */
  assert_int_equal(ctl_rd_bound_check(others, "ob-2", one, 1, 60, 60, 2, &err), 0);
  /* needs past INT64_MAX: refused, not wrapped round */
  json_t *huge = stored("{\"ob-4\":{\"stores\":[\"st-a\"],\"period_s\":0,\"retention_s\":1}}");
  assert_int_equal(ctl_rd_bound_check(huge, "ob-1", one, 1, 1, 6324480000LL, 1000000, &err), LISEC_ECONFLICT);
  assert_int_equal(ctl_rd_bound_check(huge, "ob-1", one, 1, 3600, 3600, 1000000, &err), LISEC_ECONFLICT);
  json_decref(huge);
  json_decref(others);
  json_decref(none);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_needed),
      cmocka_unit_test(test_keys_needed_is_the_most_live),
      cmocka_unit_test(test_bound_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
