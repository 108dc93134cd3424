/* The per-host track of TPM clock samples and the fleet's median shift
 * (attest/tpmclock.h). A sample's delta is TPM clock minus controller
 * clock; the shift between two samples of one epoch is what the controller
 * clock moved beyond what the TPM counted. The median, not the mean, so
 * that a few hosts whose TPM clocks run off (or lie) cannot move it. */
#include "attest/tpmclock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

attest_tpmclock_result attest_tpmclock_add(attest_tpmclock *t, uint64_t clock_ms, uint32_t reset_count,
                                           uint32_t restart_count, bool safe, int64_t controller_ms,
                                           char *why, size_t why_len) {
  attest_tpmclock prev = *t;
  /* a TPM clock beyond int64_t (292 million years) is clamped, not wrapped */
  int64_t c = clock_ms > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)clock_ms;
  t->have = true;
  t->reset_count = reset_count;
  t->restart_count = restart_count;
  t->clock_ms = clock_ms;
  t->delta_ms = c - controller_ms;
  t->at_ms = controller_ms;
  t->have_shift = false;
  t->shift_ms = 0;
  if (why_len) why[0] = '\0';
  if (!safe) {
    snprintf(why, why_len,
             "the TPM reports its clock as not safe (safe = 0): it may have gone back since an "
             "earlier quote (resetCount %" PRIu32 ")",
             reset_count);
    return ATTEST_TPMCLOCK_UNSAFE;
  }
  /* The TPM keeps Clock across a Reset and a Restart, and safe = 1 says
   * no higher value was ever reported; only TPM2_Clear sets it back, and
   * resetCount back to 0 with it. So a lower clock, or a lower
   * restartCount in one resetCount, is a TPM whose state was rolled back,
   * whatever resetCount it has counted up to since. */
  /* TPM2_Clear sets Clock to 0 with resetCount: after one the TPM has
   * counted at most the time since the sample before (a tenth more for a
   * TPM clock that runs fast), however often it was reset since. A lower
   * resetCount with an older clock than that is a state restored from an
   * older copy, not a clear. */
  int64_t since = controller_ms > prev.at_ms ? controller_ms - prev.at_ms : 0;
  bool cleared = prev.have && reset_count < prev.reset_count &&
                 (reset_count == 0 || clock_ms <= (uint64_t)since + (uint64_t)since / 10);
  if (prev.have && !cleared && clock_ms < prev.clock_ms &&
      (prev.reset_count != reset_count || prev.restart_count != restart_count)) {
    snprintf(why, why_len,
             "the TPM clock went back from %" PRIu64 " ms to %" PRIu64 " ms across a TPM reset or "
             "restart (resetCount %" PRIu32 " to %" PRIu32 ", restartCount %" PRIu32 " to %" PRIu32
             ") while the TPM reports it safe: the TPM's state was rolled back",
             prev.clock_ms, clock_ms, prev.reset_count, reset_count, prev.restart_count, restart_count);
    return ATTEST_TPMCLOCK_BACKWARDS;
  }
  if (prev.have && reset_count == prev.reset_count && restart_count < prev.restart_count) {
    snprintf(why, why_len,
             "the TPM's restartCount went back from %" PRIu32 " to %" PRIu32 " within resetCount %" PRIu32
             ": the TPM's state was rolled back",
             prev.restart_count, restart_count, reset_count);
    return ATTEST_TPMCLOCK_BACKWARDS;
  }
  if (!prev.have || prev.reset_count != reset_count || prev.restart_count != restart_count)
    return ATTEST_TPMCLOCK_BASELINE;
  if (clock_ms < prev.clock_ms) {
    snprintf(why, why_len,
             "the TPM clock went back from %" PRIu64 " ms to %" PRIu64 " ms within one reset "
             "epoch (resetCount %" PRIu32 ", restartCount %" PRIu32 ")",
             prev.clock_ms, clock_ms, reset_count, restart_count);
    return ATTEST_TPMCLOCK_BACKWARDS;
  }
  t->have_shift = true;
  t->shift_ms = t->delta_ms - prev.delta_ms;
  return ATTEST_TPMCLOCK_OK;
}

static int64_t mag(int64_t x) { return x == INT64_MIN ? INT64_MAX : x < 0 ? -x : x; }

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

bool attest_tpmclock_fleet_jump(int64_t *shifts, size_t n, size_t min_hosts, int64_t bound_ms,
                                int64_t *median_ms) {
  *median_ms = 0;
  if (n == 0) return false;
  qsort(shifts, n, sizeof *shifts, cmp_i64);
  /* the lower median for an even count: the midpoint of two could
   * overflow, and either middle value is a host's own */
  int64_t m = shifts[(n - 1) / 2];
  if (n % 2 == 0) {
    int64_t hi = shifts[n / 2];
    /* the one nearer zero: a jump needs both middle hosts to agree */
    if (mag(m) > mag(hi)) m = hi;
  }
  *median_ms = m;
  if (n < min_hosts || min_hosts == 0) return false;
  return mag(m) > bound_ms;
}
