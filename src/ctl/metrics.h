/* The controller's metrics and readiness (docs/operations.md, "Metrics" and
 * "Probes"): counters the use cases bump as they work (appraisals and their
 * latency, vault operations, store errors), gauges read from the state at
 * each scrape (hosts by trust state, overdue hosts, the audit log's
 * checkpoint lag and unsigned entries, X1 tasks by state), and the checks
 * /readyz makes. Counts that tell how much LI work there is (X1 tasks,
 * vault operations) are rendered only for the LI administration, as the
 * API's per-route LI counts are. */
#ifndef LISEC_CTL_METRICS_H
#define LISEC_CTL_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

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

/* A request failed because the store did (LISEC_ESTORE). */
void ctl_metrics_store_error(void);

/* The Prometheus text of the controller's metrics (malloc'd; NULL when out
 * of memory). li_view: the reader is the LI administration. */
char *ctl_metrics_render(lisec_ctl *ctl, bool li_view);

/* Ready to serve: the store answers, the keys process answers for the
 * tokens lisecd holds (the vault's KEK, the LI session), and the checkpoint
 * signer is open and its last checkpoint was published. 0, or EUNAVAIL
 * with every check that failed in err. */
int ctl_ready(lisec_ctl *ctl, lisec_err *err);

#endif
