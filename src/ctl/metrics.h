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

#include "ctl/counters.h"
#include "ctl/ctl.h"

/* The Prometheus text of the controller's metrics (malloc'd; NULL when out
 * of memory). li_view: the reader is the LI administration. */
char *ctl_metrics_render(lisec_ctl *ctl, bool li_view);

/* Ready to serve: the store answers, the keys process answers for the
 * tokens lisecd holds (the vault's KEK, the LI session), and the checkpoint
 * signer is open and its last checkpoint was published. 0, or EUNAVAIL
 * with every check that failed in err. */
int ctl_ready(lisec_ctl *ctl, lisec_err *err);

#endif
