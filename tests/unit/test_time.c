/* Trusted time's pure parts (issue 19) with bytes and numbers made here:
 * chrony's tracking and authdata replies read field by field (a reply
 * built by hand with known values reads back as them; a truncated,
 * oversized, wrong-version, wrong-sequence, refused or out-of-range one is
 * an error naming what is wrong), the judgement of a reading against the
 * [time] bounds (each failed condition named), and the TPM clock's
 * per-host track and fleet median (a controller jump seen by most hosts
 * is a jump, one drifting host is not, fewer than the minimum decide
 * nothing, a clock that goes back or is not safe is a finding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attest/tpmclock.h"
#include "base/chrony.h"

#define NOW_MS 1796458800000LL

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

/* chrony's float for a value that is coef * 2^(exp - 25) exactly. */
static uint32_t cfloat(int32_t coef, int32_t exp) {
  return ((uint32_t)(exp & 0x7f) << 25) | ((uint32_t)coef & 0x1ffffff);
}

/* A tracking reply: synchronised to 127.0.0.1, offset 2^-10 s, root
 * dispersion 2^-12 s, updated at NOW_MS - 1 s. */
static size_t tracking_reply(uint8_t *p, uint32_t seq) {
  memset(p, 0, 104);
  p[0] = 6;
  p[1] = 2;
  put16(p + 4, 33);
  put16(p + 6, 5);
  put32(p + 16, seq);
  uint8_t *d = p + 28;
  put32(d, 0x7f000001);
  d[4] = 127, d[7] = 1;
  put16(d + 20, 1);
  put16(d + 24, 2);
  put16(d + 26, 0);
  int64_t ref = NOW_MS / 1000 - 1;
  put32(d + 28, (uint32_t)(ref >> 32));
  put32(d + 32, (uint32_t)ref);
  put32(d + 36, 0);
  put32(d + 40, cfloat(1 << 15, 0));  /* 2^15 * 2^-25 = 2^-10 s */
  put32(d + 68, cfloat(1 << 13, 0));  /* 2^-12 s */
  put32(d + 72, cfloat(1, 25));       /* 1 s */
  return 104;
}

static size_t auth_reply(uint8_t *p, uint32_t seq, unsigned mode) {
  memset(p, 0, 52);
  p[0] = 6;
  p[1] = 2;
  put16(p + 4, 67);
  put16(p + 6, 20);
  put32(p + 16, seq);
  put16(p + 28, mode);
  put16(p + 28 + 16, 8); /* cookies */
  return 52;
}

static void test_float(void **st) {
  (void)st;
  assert_true(lisec_chrony_float(cfloat(1, 25)) == 1.0);
  assert_true(lisec_chrony_float(cfloat(-3, 24)) == -1.5);
  assert_true(lisec_chrony_float(cfloat(1 << 15, 0)) == 1.0 / 1024);
  assert_true(lisec_chrony_float(0) == 0.0);
}

static void test_request(void **st) {
  (void)st;
  uint8_t r[LISEC_CHRONY_REQ_MAX];
  assert_int_equal(lisec_chrony_request(r, LISEC_CHRONY_TRACKING, 0x01020304, NULL), 104);
  assert_int_equal(r[0], 6);
  assert_int_equal(r[1], 1);
  assert_int_equal(r[5], 33);
  assert_int_equal(r[8], 1);
  assert_int_equal(r[11], 4);
  lisec_chrony_addr a = {.family = 1, .addr = {127, 0, 0, 1}};
  assert_int_equal(lisec_chrony_request(r, LISEC_CHRONY_AUTH_DATA, 7, &a), 52);
  assert_int_equal(r[5], 67);
  assert_int_equal(r[20], 127);
  assert_int_equal(r[37], 1); /* family, network order */
  assert_int_equal(lisec_chrony_request(r, LISEC_CHRONY_AUTH_DATA, 7, NULL), 0);
  assert_int_equal(lisec_chrony_request(r, 14, 7, NULL), 0);
}

static void test_tracking_reads(void **st) {
  (void)st;
  uint8_t p[LISEC_CHRONY_REPLY_MAX + 8];
  size_t n = tracking_reply(p, 42);
  lisec_chrony_tracking t;
  lisec_err err = {0};
  assert_int_equal(lisec_chrony_parse_tracking(p, n, 42, &t, &err), 0);
  assert_int_equal(t.ref_id, 0x7f000001);
  assert_int_equal(t.stratum, 2);
  assert_int_equal(t.leap, 0);
  assert_true(t.offset_s == 1.0 / 1024);
  assert_true(t.root_dispersion_s == 1.0 / 4096);
  assert_true(t.update_interval_s == 1.0);
  assert_int_equal(t.ref_time_ms, (NOW_MS / 1000 - 1) * 1000);
  char a[48];
  lisec_chrony_addr_text(&t.addr, a);
  assert_string_equal(a, "127.0.0.1");
  /* a longer reply (a future chronyd with more fields) still reads */
  assert_int_equal(lisec_chrony_parse_tracking(p, n + 8, 42, &t, &err), 0);
}

static void expect_bad(const uint8_t *p, size_t n, uint32_t seq, int code, const char *words) {
  lisec_chrony_tracking t;
  lisec_err err = {0};
  assert_int_equal(lisec_chrony_parse_tracking(p, n, seq, &t, &err), code);
  if (!strstr(err.msg, words)) fail_msg("\"%s\" does not say \"%s\"", err.msg, words);
}

static void test_tracking_bad(void **st) {
  (void)st;
  uint8_t p[LISEC_CHRONY_REPLY_MAX + 8], q[LISEC_CHRONY_REPLY_MAX + 8];
  size_t n = tracking_reply(p, 42);
  expect_bad(p, 0, 42, LISEC_EINVAL, "truncated header");
  expect_bad(p, 27, 42, LISEC_EINVAL, "truncated header");
  expect_bad(p, n - 1, 42, LISEC_EINVAL, "truncated (103 of 104");
  expect_bad(p, LISEC_CHRONY_REPLY_MAX + 1, 42, LISEC_EINVAL, "oversized");
  expect_bad(p, n, 43, LISEC_EINVAL, "sequence 42, asked 43");
  memcpy(q, p, n), q[0] = 5;
  expect_bad(q, n, 42, LISEC_EINVAL, "protocol version 5");
  memcpy(q, p, n), q[1] = 1;
  expect_bad(q, n, 42, LISEC_EINVAL, "not a reply");
  memcpy(q, p, n), q[5] = 34;
  expect_bad(q, n, 42, LISEC_EINVAL, "answers command 34");
  memcpy(q, p, n), q[7] = 6;
  expect_bad(q, n, 42, LISEC_EINVAL, "format 6");
  memcpy(q, p, n), q[9] = 2;
  expect_bad(q, n, 42, LISEC_EDENIED, "not authorised");
  memcpy(q, p, n), q[28 + 27] = 4;
  expect_bad(q, n, 42, LISEC_EINVAL, "leap status 4");
  memcpy(q, p, n), q[28 + 21] = 9;
  expect_bad(q, n, 42, LISEC_EINVAL, "address family 9");
  memcpy(q, p, n), put32(q + 28 + 36, 1000000000u);
  expect_bad(q, n, 42, LISEC_EINVAL, "nanoseconds");
  memcpy(q, p, n), put32(q + 28 + 28, 0x7ffffff0u);
  expect_bad(q, n, 42, LISEC_EINVAL, "reference time out of range");
}

static void test_auth(void **st) {
  (void)st;
  uint8_t p[64];
  lisec_chrony_auth a;
  lisec_err err = {0};
  size_t n = auth_reply(p, 9, 2);
  assert_int_equal(lisec_chrony_parse_auth(p, n, 9, &a, &err), 0);
  assert_int_equal(a.mode, 2);
  assert_int_equal(a.cookies, 8);
  assert_int_equal(lisec_chrony_parse_auth(p, n - 4, 9, &a, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "truncated"));
  n = auth_reply(p, 9, 3);
  assert_int_equal(lisec_chrony_parse_auth(p, n, 9, &a, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "authentication mode 3"));
  n = auth_reply(p, 9, 2);
  p[9] = 4;
  assert_int_equal(lisec_chrony_parse_auth(p, n, 9, &a, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "no such source"));
  /* a tracking reply is not an authdata reply */
  uint8_t t[128];
  n = tracking_reply(t, 9);
  assert_int_equal(lisec_chrony_parse_auth(t, n, 9, &a, &err), LISEC_EINVAL);
}

static void test_judge(void **st) {
  (void)st;
  uint8_t p[128];
  lisec_chrony_tracking t;
  lisec_err err = {0};
  assert_int_equal(lisec_chrony_parse_tracking(p, tracking_reply(p, 1), 1, &t, &err), 0);
  lisec_chrony_auth nts = {.mode = 2}, none = {.mode = 0};
  lisec_clock_bounds b = {.max_offset_ms = 100, .max_root_dispersion_ms = 100, .require_nts = true};
  char why[256];
  assert_true(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
  assert_string_equal(why, "");
  /* not NTS, or authdata unknown: refused only when NTS is required */
  assert_false(lisec_clock_judge(&t, &none, &b, NOW_MS, why, sizeof why));
  assert_non_null(strstr(why, "127.0.0.1 is not authenticated with NTS"));
  assert_false(lisec_clock_judge(&t, NULL, &b, NOW_MS, why, sizeof why));
  assert_non_null(strstr(why, "could not be read"));
  b.require_nts = false;
  assert_true(lisec_clock_judge(&t, &none, &b, NOW_MS, why, sizeof why));
  b.require_nts = true;
  /* offset 0.977 ms against a bound of 0 ms */
  b.max_offset_ms = 0;
  assert_false(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
  assert_non_null(strstr(why, "|offset| 0.977 ms exceeds [time] max_offset_ms = 0"));
  b.max_offset_ms = 100;
  t.offset_s = -2.0;
  assert_false(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
  assert_non_null(strstr(why, "|offset| 2000.000 ms"));
  t.offset_s = 0;
  /* dispersion grows 15 ppm with the age of the last update: 0.244 ms at
   * 1 s; after 3 hours 162 ms, over the bound */
  assert_true(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
  assert_false(lisec_clock_judge(&t, &nts, &b, NOW_MS + 3 * 3600 * 1000LL, why, sizeof why));
  assert_non_null(strstr(why, "root dispersion"));
  assert_non_null(strstr(why, "max_root_dispersion_ms = 100"));
  /* not synchronised */
  t.leap = 3;
  assert_false(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
  assert_non_null(strstr(why, "not synchronised"));
  t.leap = 0, t.ref_id = 0;
  assert_false(lisec_clock_judge(&t, &nts, &b, NOW_MS, why, sizeof why));
}

/* ---- TPM clock ----------------------------------------------------------- */

static void test_tpm_host(void **st) {
  (void)st;
  attest_tpmclock t = {0};
  char why[256];
  /* first sample: baseline; then 60 s later on both clocks: shift 0 */
  assert_int_equal(attest_tpmclock_add(&t, 1000000, 3, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_false(t.have_shift);
  assert_int_equal(attest_tpmclock_add(&t, 1060000, 3, 0, true, NOW_MS + 60000, why, sizeof why),
                   ATTEST_TPMCLOCK_OK);
  assert_true(t.have_shift);
  assert_int_equal(t.shift_ms, 0);
  /* the controller jumped 1 h forward: the delta shifts by -1 h */
  assert_int_equal(attest_tpmclock_add(&t, 1120000, 3, 0, true, NOW_MS + 120000 + 3600000, why,
                                       sizeof why),
                   ATTEST_TPMCLOCK_OK);
  assert_int_equal(t.shift_ms, -3600000);
  /* backwards within one reset epoch: a finding, and a new baseline */
  assert_int_equal(attest_tpmclock_add(&t, 1000, 3, 0, true, NOW_MS + 4000000, why, sizeof why),
                   ATTEST_TPMCLOCK_BACKWARDS);
  assert_non_null(strstr(why, "went back from 1120000 ms to 1000 ms"));
  assert_false(t.have_shift);
  assert_int_equal(attest_tpmclock_add(&t, 61000, 3, 0, true, NOW_MS + 4060000, why, sizeof why),
                   ATTEST_TPMCLOCK_OK);
  assert_int_equal(t.shift_ms, 0);
  /* a power cycle (resetCount) or a resume (restartCount) starts a new
   * baseline: the TPM's clock did not count while it was off */
  assert_int_equal(attest_tpmclock_add(&t, 61010, 4, 0, true, NOW_MS + 5000000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_int_equal(attest_tpmclock_add(&t, 61020, 4, 1, true, NOW_MS + 5060000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  /* ... but the TPM keeps Clock across both (only TPM2_Clear, which sets
   * resetCount back to 0 too, resets it; an unorderly shutdown says
   * safe = 0): a lower clock after one with safe = 1 is a TPM whose state
   * was rolled back, whatever resetCount it has counted up to since */
  assert_int_equal(attest_tpmclock_add(&t, 30000, 9, 0, true, NOW_MS + 5120000, why, sizeof why),
                   ATTEST_TPMCLOCK_BACKWARDS);
  assert_non_null(strstr(why, "went back from 61020 ms to 30000 ms across a TPM reset or restart"));
  assert_int_equal(attest_tpmclock_add(&t, 40000, 9, 2, true, NOW_MS + 5180000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  /* restartCount going back within one resetCount: rolled back too, even
   * when the clock was set forward (TPM2_ClockSet) to hide it */
  assert_int_equal(attest_tpmclock_add(&t, 9000000, 9, 1, true, NOW_MS + 5240000, why, sizeof why),
                   ATTEST_TPMCLOCK_BACKWARDS);
  assert_non_null(strstr(why, "restartCount went back from 2 to 1 within resetCount 9"));
  /* TPM2_Clear: resetCount and Clock back to 0, a new owner's baseline
   * (the location's void for a lower resetCount is ctl/attest.c's) */
  assert_int_equal(attest_tpmclock_add(&t, 20, 0, 0, true, NOW_MS + 5300000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_string_equal(why, "");
  /* safe = 0 is a finding whatever the numbers */
  assert_int_equal(attest_tpmclock_add(&t, 70000, 4, 1, false, NOW_MS + 5120000, why, sizeof why),
                   ATTEST_TPMCLOCK_UNSAFE);
  assert_non_null(strstr(why, "safe = 0"));
  /* huge clocks are clamped, never overflow */
  assert_int_equal(attest_tpmclock_add(&t, UINT64_MAX, 5, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_int_equal(attest_tpmclock_add(&t, UINT64_MAX, 5, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_OK);
  assert_int_equal(t.shift_ms, 0);
}

/* A lower resetCount is TPM2_Clear only when the clock restarted with it:
 * a clear sets Clock to 0, so after one the TPM has counted no more than
 * the time since the sample before. A state restored from an older copy
 * (a lower resetCount and a clock far beyond that) is a rollback. */
static void test_tpm_lower_reset(void **st) {
  (void)st;
  attest_tpmclock t = {0};
  char why[256];
  assert_int_equal(attest_tpmclock_add(&t, 90000000, 7, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  /* restored from a copy made at resetCount 5, its clock 40000 s */
  assert_int_equal(attest_tpmclock_add(&t, 40000000, 5, 0, true, NOW_MS + 60000, why, sizeof why),
                   ATTEST_TPMCLOCK_BACKWARDS);
  assert_non_null(strstr(why, "went back from 90000000 ms to 40000000 ms"));
  assert_non_null(strstr(why, "resetCount 7 to 5"));
  /* cleared (resetCount 0), whatever its clock: a new owner's baseline */
  t = (attest_tpmclock){0};
  assert_int_equal(attest_tpmclock_add(&t, 90000000, 7, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_int_equal(attest_tpmclock_add(&t, 900, 0, 0, true, NOW_MS + 60000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_string_equal(why, "");
  /* cleared and reset twice before its next quote: its clock is younger
   * than the time since the sample before, so a clear, not a rollback */
  t = (attest_tpmclock){0};
  assert_int_equal(attest_tpmclock_add(&t, 90000000, 7, 0, true, NOW_MS, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_int_equal(attest_tpmclock_add(&t, 500000, 2, 0, true, NOW_MS + 600000, why, sizeof why),
                   ATTEST_TPMCLOCK_BASELINE);
  assert_string_equal(why, "");
}

static void test_tpm_fleet(void **st) {
  (void)st;
  int64_t med;
  /* most hosts saw the controller move 30 s: a jump */
  int64_t a[] = {-30010, 5, -29990, -30000, 12};
  assert_true(attest_tpmclock_fleet_jump(a, 5, 3, 5000, &med));
  assert_int_equal(med, -29990);
  /* one host's TPM drifts or lies: the median does not move */
  int64_t b[] = {3, -2, 900000, 1, -4};
  assert_false(attest_tpmclock_fleet_jump(b, 5, 3, 5000, &med));
  assert_int_equal(med, 1);
  /* fewer hosts than the minimum decide nothing */
  int64_t c[] = {-30000, -30000};
  assert_false(attest_tpmclock_fleet_jump(c, 2, 3, 5000, &med));
  assert_int_equal(med, -30000);
  /* an even count: both middle hosts must agree */
  int64_t d[] = {0, 40000, 40000, 0};
  assert_false(attest_tpmclock_fleet_jump(d, 4, 3, 5000, &med));
  int64_t e[] = {40000, 41000, 0, 39000};
  assert_true(attest_tpmclock_fleet_jump(e, 4, 3, 5000, &med));
  assert_int_equal(med, 39000);
  /* exactly at the bound is not over it; extremes do not overflow */
  int64_t f[] = {5000, 5000, 5000};
  assert_false(attest_tpmclock_fleet_jump(f, 3, 3, 5000, &med));
  int64_t g[] = {INT64_MIN, INT64_MIN, INT64_MAX};
  assert_true(attest_tpmclock_fleet_jump(g, 3, 3, 5000, &med));
  assert_false(attest_tpmclock_fleet_jump(g, 0, 3, 5000, &med));
  assert_int_equal(med, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_float),          cmocka_unit_test(test_request),
      cmocka_unit_test(test_tracking_reads), cmocka_unit_test(test_tracking_bad),
      cmocka_unit_test(test_auth),           cmocka_unit_test(test_judge),
      cmocka_unit_test(test_tpm_host),       cmocka_unit_test(test_tpm_fleet),
      cmocka_unit_test(test_tpm_lower_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
