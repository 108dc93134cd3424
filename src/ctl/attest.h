/* Use cases of host attestation (TR 103 308 §5.1, §5.4, §5.8; §6.2 req.
 * 8-10, 12-14): enrolment, challenges, evidence appraisal and the results
 * that set a host's trust and location in the model. */
#ifndef LISEC_CTL_ATTEST_H
#define LISEC_CTL_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

/* For decisions about a VM involved in LI: 0 when the host's newest
 * successful appraisal is at most max_age_s old, or when a new one was
 * obtained now (*refreshed true, so the decision can say so). Otherwise a
 * refusal naming why (no attestation, the agent did not answer in time, the
 * new evidence failed): the decision then denies (fail closed). */
int ctl_attest_ensure_fresh(lisec_ctl *ctl, const char *host, int64_t max_age_s, bool *refreshed,
                            lisec_err *err);

#endif
