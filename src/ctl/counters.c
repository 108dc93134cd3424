/* The counters the controller's use cases bump as they work (counters.h).
 * Process-wide atomics: the use cases run on every API worker and on the
 * controller's own threads. */
#include <stdatomic.h>

#include "ctl/counters.h"

const double ctl_appraisal_le[CTL_APPRAISAL_N] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static atomic_ullong appraisals[2]; /* [0] untrusted, [1] trusted */
static atomic_ullong appraisal_bucket[CTL_APPRAISAL_N + 1];
static atomic_ullong appraisal_sum_ns;
static atomic_ullong vault_ops[CTL_METRICS_VAULT_N][2]; /* [op][ok] */
static atomic_ullong store_errors;
static atomic_ullong x1_reports_refused;

void ctl_metrics_appraisal(const char *host, bool trusted, bool location_ok, uint64_t duration_ns) {
  atomic_fetch_add_explicit(&appraisals[trusted ? 1 : 0], 1, memory_order_relaxed);
  double s = (double)duration_ns / 1e9;
  size_t b = 0;
  while (b < CTL_APPRAISAL_N && s > ctl_appraisal_le[b]) b++;
  atomic_fetch_add_explicit(&appraisal_bucket[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&appraisal_sum_ns, duration_ns, memory_order_relaxed);
  LOG_INFO("attest: appraisal of host %s: %s%s (%.1f ms)", host, trusted ? "trusted" : "untrusted",
           trusted && !location_ok ? ", location not proven" : "", (double)duration_ns / 1e6);
}

void ctl_metrics_vault(ctl_metrics_vault_op op, bool ok) {
  if (op < CTL_METRICS_VAULT_N) atomic_fetch_add_explicit(&vault_ops[op][ok ? 1 : 0], 1, memory_order_relaxed);
}

void ctl_metrics_store_error(void) { atomic_fetch_add_explicit(&store_errors, 1, memory_order_relaxed); }

void ctl_metrics_x1_report_refused(void) { atomic_fetch_add_explicit(&x1_reports_refused, 1, memory_order_relaxed); }

static unsigned long long ld(atomic_ullong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

unsigned long long ctl_counters_appraisals(bool trusted) { return ld(&appraisals[trusted ? 1 : 0]); }
unsigned long long ctl_counters_appraisal_bucket(size_t i) { return i <= CTL_APPRAISAL_N ? ld(&appraisal_bucket[i]) : 0; }
unsigned long long ctl_counters_appraisal_sum_ns(void) { return ld(&appraisal_sum_ns); }
unsigned long long ctl_counters_vault(ctl_metrics_vault_op op, bool ok) {
  return op < CTL_METRICS_VAULT_N ? ld(&vault_ops[op][ok ? 1 : 0]) : 0;
}
unsigned long long ctl_counters_store_errors(void) { return ld(&store_errors); }
unsigned long long ctl_counters_x1_reports_refused(void) { return ld(&x1_reports_refused); }
