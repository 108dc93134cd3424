/* bench_clock: what one attestation's TPM clock sample costs the
 * controller's clock topic (src/ctl/clock.c) as the fleet grows (issue 15:
 * inventory + quote appraisal at >= 2,000 hosts/s). For each fleet size it
 * samples every host twice (a baseline, then a shift) and times a third
 * round, alternating two ways in one process: lisec's, which finds a host's
 * track by its id in a hash and computes the fleet's verdict once per
 * n / 64 samples, and "per report", the same topic with the verdict forced
 * at every sample plus a linear search by id, which is what it did before
 * (the peer here is lisec's own earlier design: no outside program keeps a
 * TPM-clock verdict). Prints CPU microseconds per sample and their ratio.
 * Usage: bench_clock [SIZES...] (default 300 1000 10000 100000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/tpmclock.h"
#include "base/base.h"
#include "ctl/clock.h"
#include "ctl/ctl.h"
#include "ctl/internal.h"

static double cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The earlier design, over the same numbers: a linear search for the host
 * and the verdict over every host's shift at each sample. */
typedef struct {
  char id[24];
  attest_tpmclock t;
} old_track;

static void old_sample(old_track *hosts, size_t n, const char *id, uint64_t clock_ms, int64_t now_ms,
                       int64_t *scratch) {
  old_track *h = NULL;
  for (size_t i = 0; i < n && !h; i++)
    if (strcmp(hosts[i].id, id) == 0) h = &hosts[i];
  char why[256];
  attest_tpmclock_add(&h->t, clock_ms, 1, 0, true, now_ms, why, sizeof why);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (hosts[i].t.have_shift) scratch[m++] = hosts[i].t.shift_ms;
  int64_t median = 0;
  (void)attest_tpmclock_fleet_jump(scratch, m, 3, 10000, &median);
}

static double run_lisec(size_t n, char (*ids)[24]) {
  lisec_config *cfg = lisec_config_new();
  ctl_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.settings.attest_interval_s = 300;
  sh.settings.attest_grace_s = 60;
  lisec_err err = {0};
  if (!cfg || ctl_clock_open(cfg, &sh, NULL, &err)) {
    fprintf(stderr, "bench_clock: %s\n", err.msg);
    exit(1);
  }
  lisec_ctl ctl = {.shared = &sh};
  int64_t t0 = lisec_time_now_ms();
  for (size_t i = 0; i < n; i++) ctl_clock_tpm_sample(&ctl, ids[i], 1000000 + i, 1, 0, true, t0);
  for (size_t i = 0; i < n; i++) ctl_clock_tpm_sample(&ctl, ids[i], 1060000 + i, 1, 0, true, t0 + 60000);
  double c0 = cpu_us();
  for (size_t i = 0; i < n; i++) ctl_clock_tpm_sample(&ctl, ids[i], 1120000 + i, 1, 0, true, t0 + 120000);
  double us = (cpu_us() - c0) / (double)n;
  ctl_clock_close(&sh);
  lisec_config_free(cfg);
  return us;
}

static double run_old(size_t n, char (*ids)[24]) {
  old_track *hosts = calloc(n, sizeof *hosts);
  int64_t *scratch = calloc(n, sizeof *scratch);
  if (!hosts || !scratch) exit(1);
  for (size_t i = 0; i < n; i++) memcpy(hosts[i].id, ids[i], sizeof hosts[i].id);
  int64_t t0 = lisec_time_now_ms();
  for (size_t i = 0; i < n; i++) old_sample(hosts, n, ids[i], 1000000 + i, t0, scratch);
  for (size_t i = 0; i < n; i++) old_sample(hosts, n, ids[i], 1060000 + i, t0 + 60000, scratch);
  /* at large n one round would take minutes: the third round's first
   * 2,000 samples stand for it (each one costs the same) */
  size_t timed = n < 2000 ? n : 2000;
  double c0 = cpu_us();
  for (size_t i = 0; i < timed; i++) old_sample(hosts, n, ids[i], 1120000 + i, t0 + 120000, scratch);
  double us = (cpu_us() - c0) / (double)timed;
  free(hosts);
  free(scratch);
  return us;
}

int main(int argc, char **argv) {
  size_t def[] = {300, 1000, 10000, 100000}, sizes[16], k = 0;
  for (int i = 1; i < argc && k < 16; i++) sizes[k++] = (size_t)strtoul(argv[i], NULL, 10);
  if (!k) memcpy(sizes, def, sizeof def), k = 4;
  printf("| hosts | lisec: us/sample (CPU) | per report (before): us/sample (CPU) | before / lisec |\n|---|---|---|---|\n");
  for (size_t s = 0; s < k; s++) {
    size_t n = sizes[s];
    if (n == 0 || n > 10000000) continue;
    char (*ids)[24] = calloc(n, sizeof *ids);
    if (!ids) return 1;
    for (size_t i = 0; i < n; i++) snprintf(ids[i], sizeof ids[i], "host-%zu", i);
    double a = run_lisec(n, ids), b = run_old(n, ids), a2 = run_lisec(n, ids);
    double lisec = a < a2 ? a : a2;
    printf("| %zu | %.2f | %.2f | %.0fx |\n", n, lisec, b, b / lisec);
    fflush(stdout);
    free(ids);
  }
  return 0;
}
