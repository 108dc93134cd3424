/* The TPM's counters and clock against what a host's TPM showed before
 * (ctl/attest_epoch.c), on host documents as ctl/attest.c keeps them: the
 * first quote, a new Restart and a new Reset start a new epoch; a
 * restartCount below the highest seen at that resetCount, or a clock below
 * the highest seen in the epoch, is a rollback whose void is kept however
 * far the clock runs on; asset management's confirmation is the new
 * baseline; a document written before these fields (only max_reset_count)
 * finds nothing until it has them. attest_rollback shows the same with
 * swtpm and lisecd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/attest_epoch.h"

static attest_quote q_of(uint32_t reset, uint32_t restart, uint64_t clock) {
  attest_quote q = {0};
  q.reset_count = reset, q.restart_count = restart, q.clock = clock, q.safe = true;
  return q;
}

/* One fresh quote as ctl/attest.c handles it: the check, then the note
 * and max_reset_count raised. Returns whether it found a rollback. */
static bool report(json_t *doc, uint32_t reset, uint32_t restart, uint64_t clock, char *why) {
  attest_quote q = q_of(reset, restart, clock);
  int64_t max_reset = json_integer_value(json_object_get(doc, "max_reset_count"));
  bool rb = ctl_attest_epoch_rolled_back(doc, &q, max_reset, why, 320);
  ctl_attest_epoch_note(doc, &q, true, max_reset, 0);
  if ((int64_t)reset > max_reset) json_object_set_new(doc, "max_reset_count", json_integer(reset));
  return rb;
}

static void test_epochs_and_rollbacks(void **state) {
  (void)state;
  char why[320];
  json_t *doc = json_object();
  assert_false(report(doc, 3, 0, 1000, why));
  assert_false(report(doc, 3, 0, 5000, why));
  /* a Restart, its clock resumed from the saved one: a new epoch */
  assert_false(report(doc, 3, 1, 4000, why));
  assert_int_equal(json_integer_value(json_object_get(doc, "max_tpm_clock")), 4000);
  assert_false(report(doc, 3, 1, 9000, why));
  /* the same epoch, the clock behind */
  assert_true(report(doc, 3, 1, 8999, why));
  assert_non_null(strstr(why, "TR103308-6.2-R10: the TPM clock went back from 9000 ms to 8999 ms "
                              "within resetCount 3, restartCount 1"));
  /* kept, however far the clock runs on, and the highest is not moved */
  assert_true(report(doc, 3, 1, 20000, why));
  assert_non_null(strstr(why, "from 9000 ms to 8999 ms"));
  /* confirmed: the last quote's clock and counters are the baseline */
  ctl_attest_epoch_confirmed(doc, 1);
  assert_null(json_object_get(doc, "tpm_rollback"));
  assert_int_equal(json_integer_value(json_object_get(doc, "max_tpm_clock")), 20000);
  assert_false(report(doc, 3, 1, 20001, why));
  /* a restartCount below the highest seen at that resetCount */
  assert_false(report(doc, 3, 2, 21000, why));
  assert_true(report(doc, 3, 1, 30000, why));
  assert_non_null(strstr(why, "restartCount went back from 2 to 1 within resetCount 3"));
  ctl_attest_epoch_confirmed(doc, 1);
  /* a Reset starts again whatever the clock (it may go back after a power loss) */
  assert_false(report(doc, 4, 0, 100, why));
  assert_false(report(doc, 4, 0, 200, why));
  assert_int_equal(json_integer_value(json_object_get(doc, "max_restart_count")), 0);
  /* a lower resetCount (TPM2_Clear) is ctl/attest.c's check, not this one */
  assert_false(report(doc, 1, 0, 50, why));
  json_decref(doc);
}

static void test_older_document_and_replays(void **state) {
  (void)state;
  char why[320];
  /* written before the epoch fields: nothing found, then they are kept */
  json_t *doc = json_pack("{s:I}", "max_reset_count", (json_int_t)7);
  assert_false(report(doc, 7, 2, 500, why));
  assert_int_equal(json_integer_value(json_object_get(doc, "max_restart_count")), 2);
  assert_int_equal(json_integer_value(json_object_get(doc, "max_tpm_clock")), 500);
  /* a quote that is not fresh (a replay) moves only the last clock */
  attest_quote q = q_of(7, 3, 900);
  ctl_attest_epoch_note(doc, &q, false, 7, 0);
  assert_int_equal(json_integer_value(json_object_get(doc, "max_restart_count")), 2);
  assert_int_equal(json_integer_value(json_object_get(doc, "last_tpm_clock")), 900);
  /* a clock beyond JSON's integers is clamped, never negative */
  q = q_of(8, 0, UINT64_MAX);
  ctl_attest_epoch_note(doc, &q, true, 7, 0);
  assert_int_equal(json_integer_value(json_object_get(doc, "max_tpm_clock")), INT64_MAX);
  json_decref(doc);
}

/* A quote made over an earlier nonce and answered after a later quote of
 * the same TPM (nonces expire in their order of issue): lower, but late,
 * not rolled back; a lower one over a later nonce is a rollback. */
static void test_late_quote(void **state) {
  (void)state;
  char why[320];
  json_t *doc = json_object();
  attest_quote q = q_of(3, 1, 5000);
  ctl_attest_epoch_note(doc, &q, true, 0, 2000); /* nonce expiring at 2000 */
  json_object_set_new(doc, "max_reset_count", json_integer(3));
  attest_quote early = q_of(3, 1, 4900), before = q_of(3, 0, 7000);
  assert_true(ctl_attest_epoch_late(doc, &early, 3, 1990, why, sizeof why));
  assert_non_null(strstr(why, "TR103308-6.2-R10: the quote (resetCount 3, restartCount 1, clock 4900 ms) was "
                              "made over a nonce issued before that of a later quote already appraised"));
  assert_true(ctl_attest_epoch_late(doc, &before, 3, 1990, why, sizeof why)); /* before the Restart */
  assert_false(ctl_attest_epoch_late(doc, &early, 3, 2010, why, sizeof why)); /* a later nonce */
  assert_true(ctl_attest_epoch_rolled_back(doc, &early, 3, why, sizeof why));
  attest_quote later = q_of(3, 1, 5100), reset = q_of(4, 0, 10);
  assert_false(ctl_attest_epoch_late(doc, &later, 3, 1990, why, sizeof why)); /* not lower */
  assert_false(ctl_attest_epoch_late(doc, &reset, 3, 1990, why, sizeof why)); /* another epoch */
  json_t *old = json_pack("{s:I, s:I, s:I}", "max_reset_count", 3, "max_restart_count", 1, "max_tpm_clock", 5000);
  assert_false(ctl_attest_epoch_late(old, &early, 3, 1990, why, sizeof why)); /* no nonce kept: as before */
  json_decref(old);
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_epochs_and_rollbacks),
      cmocka_unit_test(test_late_quote),
      cmocka_unit_test(test_older_document_and_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
