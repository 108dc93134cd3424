/* For the audit benches (bench_audit, scale_audit): a log opened from a
 * checkpoint's stored frontier answers proofs only once the thread after
 * the open has rebuilt the tree below it; these wait for that. */
#ifndef LISEC_BENCH_AUDIT_READY_H
#define LISEC_BENCH_AUDIT_READY_H

#include <stdbool.h>
#include <unistd.h>

#include "ctl/auditlog.h"

/* Waits in steps of 20 ms, at most max_s of them in all; true once the
 * rebuild is done and found the log intact. */
static inline bool bench_audit_wait_ready(ctl_auditlog *log, double max_s) {
  uint64_t below = 0, checked = 0;
  bool done = false, intact = false;
  ctl_auditlog_recheck(log, &below, &checked, &done, &intact);
  for (double waited = 0; !done && waited < max_s; waited += 0.02) {
    usleep(20000);
    ctl_auditlog_recheck(log, &below, &checked, &done, &intact);
  }
  return done && intact;
}

#endif
