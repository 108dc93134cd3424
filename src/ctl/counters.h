/* The counters the controller's use cases bump as they work: appraisals
 * and their latency, vault operations, store errors. ctl/metrics.c renders
 * them at each scrape. A leaf of the controller: it includes no topic, so
 * any topic may count without the topics including each other through the
 * metrics (tests/integration/ctl_layers.sh). */
#ifndef LISEC_CTL_COUNTERS_H
#define LISEC_CTL_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* One appraisal decided (ctl/attest.c): counted, its latency observed, and
 * one log line naming the host (its id is the SHA-256 of its EK) and the
 * result. */
void ctl_metrics_appraisal(const char *host, bool trusted, bool location_ok, uint64_t duration_ns);

typedef enum {
  CTL_METRICS_VAULT_SEAL,   /* a target added or updated */
  CTL_METRICS_VAULT_OPEN,   /* a target read */
  CTL_METRICS_VAULT_REWRAP, /* a record moved to the current KEK */
  CTL_METRICS_VAULT_N
} ctl_metrics_vault_op;
void ctl_metrics_vault(ctl_metrics_vault_op op, bool ok);

/* An NE's X1 report refused past [x1] report_rate_per_ne (ctl/tasks.c). */
void ctl_metrics_x1_report_refused(void);

/* A request failed because the store did (LISEC_ESTORE). */
void ctl_metrics_store_error(void);

/* The appraisal latency histogram's upper bounds (seconds), and the reads. */
#define CTL_APPRAISAL_N 10
extern const double ctl_appraisal_le[CTL_APPRAISAL_N];
unsigned long long ctl_counters_appraisals(bool trusted);
unsigned long long ctl_counters_appraisal_bucket(size_t i); /* i == CTL_APPRAISAL_N: above the last bound */
unsigned long long ctl_counters_appraisal_sum_ns(void);
unsigned long long ctl_counters_vault(ctl_metrics_vault_op op, bool ok);
unsigned long long ctl_counters_store_errors(void);
unsigned long long ctl_counters_x1_reports_refused(void);

#endif
