/* The ADMF's per-NE X1 status (ctl/x1_status.c) with times given, not
 * read from a clock: an NE whose Keepalives stop shows as unreachable once
 * it has been silent longer than the timeout (not before), and reachable
 * again at its next one; lisecd's own failed check makes it unreachable
 * whatever its Keepalives say; each change is reported once, however often
 * it is evaluated; what the NE reported is kept, printable and bounded;
 * a forgotten NE is unknown. The silence is measured by the monotonic
 * clock: a wall clock stepped forward does not make a healthy NE
 * unreachable, one stepped back does not keep a silent NE reachable, and
 * the times shown stay the wall clock's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "ctl/x1_status.h"

#define T0 1790000000000 /* ms since the epoch, in 2026 */
#define M0 5000000         /* monotonic ms (since boot) */
#define HOUR_MS 3600000

/* The state as of a monotonic time. */
static const char *state(ctl_x1_status *s, const char *ne, int64_t mono) {
  static char out[32];
  json_t *j = ctl_x1_status_get(s, ne, mono);
  snprintf(out, sizeof out, "%s", json_string_value(json_object_get(j, "state")));
  json_decref(j);
  return out;
}

static void test_keepalive_timeout(void **st) {
  (void)st;
  ctl_x1_status *s = ctl_x1_status_new(2000);
  assert_string_equal(state(s, "poi-1", M0), "unknown");
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0, M0), 0); /* nothing known: nothing to say */
  ctl_x1_status_checked(s, "poi-1", true, "", "v1.21.1", T0);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0, M0), 1);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 10, M0 + 10), 0); /* once */
  /* an NE that never sent Keepalive is not held to it */
  assert_string_equal(state(s, "poi-1", M0 + 60000), "reachable");
  ctl_x1_status_keepalive(s, "poi-1", T0 + 1000, M0 + 1000);
  assert_string_equal(state(s, "poi-1", M0 + 3000), "reachable"); /* exactly the timeout: not more */
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 3000, M0 + 3000), 0);
  assert_string_equal(state(s, "poi-1", M0 + 3001), "unreachable");
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 3001, M0 + 3001), -1);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 9000, M0 + 9000), 0); /* once */
  json_t *j = ctl_x1_status_get(s, "poi-1", M0 + 9000);
  assert_false(json_is_true(json_object_get(j, "reachable")));
  assert_non_null(strstr(json_string_value(json_object_get(j, "why")), "keepalive_timeout_s = 2"));
  assert_string_equal(json_string_value(json_object_get(j, "answered_version")), "v1.21.1");
  json_decref(j);
  ctl_x1_status_keepalive(s, "poi-1", T0 + 9500, M0 + 9500);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 9500, M0 + 9500), 1);
  /* lisecd's check failing wins over fresh Keepalives */
  ctl_x1_status_checked(s, "poi-1", false, "connection refused", "", T0 + 9600);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 9600, M0 + 9600), -1);
  j = ctl_x1_status_get(s, "poi-1", M0 + 9600);
  assert_non_null(strstr(json_string_value(json_object_get(j, "why")), "connection refused"));
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "text")), "connection refused");
  json_decref(j);
  ctl_x1_status_free(s);
}

/* The wall clock stepped an hour forward one second after a Keepalive
 * (timeout 2 s): the NE stays reachable; stepped an hour back, its silence
 * of more than 2 s makes it unreachable all the same, with the seconds it
 * was silent in the reason. What the status shows stays the wall clock's:
 * the Keepalive's time as it was received, the change's as it was made. */
static void test_wall_clock_step_decides_nothing(void **st) {
  (void)st;
  char at[32];
  ctl_x1_status *s = ctl_x1_status_new(2000);
  ctl_x1_status_keepalive(s, "poi-1", T0, M0);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0, M0), 1);
  /* forward: an hour of wall clock in one second */
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + HOUR_MS + 1000, M0 + 1000), 0);
  assert_string_equal(state(s, "poi-1", M0 + 1000), "reachable");
  /* a Keepalive after the step forward, then the clock stepped back the
   * hour and more: 2001 ms of silence is more than the timeout */
  ctl_x1_status_keepalive(s, "poi-1", T0 + HOUR_MS + 1500, M0 + 1500);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 - HOUR_MS, M0 + 3000), 0);
  assert_string_equal(state(s, "poi-1", M0 + 3500), "reachable"); /* exactly the timeout */
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 1000, M0 + 3501), -1);
  json_t *j = ctl_x1_status_get(s, "poi-1", M0 + 3501);
  assert_string_equal(json_string_value(json_object_get(j, "state")), "unreachable");
  assert_non_null(strstr(json_string_value(json_object_get(j, "why")), "no Keepalive from the NE for 2 s"));
  lisec_time_format((T0 + HOUR_MS + 1500) / 1000, at);
  assert_string_equal(json_string_value(json_object_get(j, "last_keepalive")), at);
  lisec_time_format((T0 + 1000) / 1000, at);
  assert_string_equal(json_string_value(json_object_get(j, "since")), at);
  json_decref(j);
  /* and reachable again at its next Keepalive, whatever the wall clock says */
  ctl_x1_status_keepalive(s, "poi-1", T0 - 2 * HOUR_MS, M0 + 4000);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 - 2 * HOUR_MS, M0 + 4000), 1);
  ctl_x1_status_free(s);
}

static void test_timeout_zero_never_times_out(void **st) {
  (void)st;
  ctl_x1_status *s = ctl_x1_status_new(0);
  ctl_x1_status_keepalive(s, "poi-1", T0, M0);
  assert_int_equal(ctl_x1_status_evaluate(s, "poi-1", T0 + 86400000, M0 + 86400000), 1);
  assert_string_equal(state(s, "poi-1", M0 + 86400000), "reachable");
  ctl_x1_status_free(s);
}

static void test_reports_kept_plain_and_forgotten(void **st) {
  (void)st;
  ctl_x1_status *s = ctl_x1_status_new(90000);
  char long_text[1000];
  memset(long_text, 'x', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  long_text[3] = '\n';
  ctl_x1_status_note(s, "poi-1", "ne_issue", long_text, T0);
  ctl_x1_status_note(s, "poi-1", "destination_issue", "destination d: Warning: late", T0 + 1000);
  for (int i = 0; i < 12; i++) ctl_x1_status_removed(s, "poi-1", "0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c", T0);
  json_t *j = ctl_x1_status_get(s, "poi-1", M0 + 2000);
  const char *issue = json_string_value(json_object_get(json_object_get(j, "ne_issue"), "text"));
  assert_true(strlen(issue) < 300);
  assert_null(strchr(issue, '\n'));
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "destination_issue"), "text")),
                      "destination d: Warning: late");
  assert_int_equal(json_integer_value(json_object_get(j, "destinations_removed")), 12);
  assert_int_equal(json_array_size(json_object_get(j, "removed")), 8);
  json_decref(j);
  ctl_x1_status_forget(s, "poi-1");
  assert_string_equal(state(s, "poi-1", M0 + 3000), "unknown");
  ctl_x1_status_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keepalive_timeout),
      cmocka_unit_test(test_wall_clock_step_decides_nothing),
      cmocka_unit_test(test_timeout_zero_never_times_out),
      cmocka_unit_test(test_reports_kept_plain_and_forgotten),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
