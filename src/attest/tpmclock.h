/* The TPM's clock as a witness of the controller's (issue 19, TR 103 308
 * §4.2): every quote carries TPMS_CLOCK_INFO, the milliseconds the TPM has
 * counted (never settable backwards by software), its resetCount and
 * restartCount and whether the value is "safe". Per host, the difference
 * between the TPM's clock and the controller's at each appraisal stays
 * nearly constant while both run at the right rate; when the controller's
 * clock jumps, every host's difference shifts by the jump at its next
 * appraisal. Functions over numbers only, so a unit test drives them with
 * synthetic fleets. The state per host and the findings are ctl/clock.c's. */
#ifndef LISEC_ATTEST_TPMCLOCK_H
#define LISEC_ATTEST_TPMCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One host's track: the last sample and the shift it showed. */
typedef struct attest_tpmclock {
  bool have;
  uint32_t reset_count, restart_count;
  uint64_t clock_ms;
  int64_t delta_ms;   /* TPM clock - controller clock at the last sample */
  bool have_shift;    /* the last two samples were of one reset and restart epoch */
  int64_t shift_ms;   /* delta at the last sample - delta at the one before */
  int64_t at_ms;      /* the controller's time of the last sample */
} attest_tpmclock;

typedef enum attest_tpmclock_result {
  ATTEST_TPMCLOCK_OK,        /* a shift was measured */
  ATTEST_TPMCLOCK_BASELINE,  /* first sample, or a new reset/restart epoch: no shift yet */
  ATTEST_TPMCLOCK_BACKWARDS, /* finding: the clock went back within one reset epoch */
  ATTEST_TPMCLOCK_UNSAFE,    /* finding: safe = 0, the clock may have gone back */
} attest_tpmclock_result;

/* Adds one appraisal's clock information, read at controller_ms. A
 * finding sets why (the host's track starts again from this sample). A
 * TPM Restart (resume) or Reset (power cycle) pauses the TPM's clock:
 * either starts a new baseline, not a finding. The clock is kept across
 * both, so a lower one after them (safe = 1), or restartCount going back
 * within one resetCount, is a finding (a rolled-back TPM); TPM2_Clear
 * (resetCount lower) starts a new baseline. */
attest_tpmclock_result attest_tpmclock_add(attest_tpmclock *t, uint64_t clock_ms, uint32_t reset_count,
                                           uint32_t restart_count, bool safe, int64_t controller_ms,
                                           char *why, size_t why_len);

/* The fleet's verdict over each host's latest shift (shifts, n of them;
 * sorted in place): true when at least min_hosts hosts have one and the
 * median's magnitude exceeds bound_ms — the controller's clock moved
 * against the fleet's TPMs. *median_ms gets the median (0 when n is 0). */
bool attest_tpmclock_fleet_jump(int64_t *shifts, size_t n, size_t min_hosts, int64_t bound_ms,
                                int64_t *median_ms);

#endif
