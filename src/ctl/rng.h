/* Use cases of the entropy service (TR 103 308 §4.2, §5.15, O.1.4): the
 * reports lisec-entropyd sends about what it issued and about its sources.
 * Each issuance summary (who, which period, how many seeds and bytes, never
 * a value) and each change of a source's or the daemon's health becomes an
 * audit record; a failing source or a daemon that fails closed becomes a
 * finding that stays open until a report shows it healthy again. */
#ifndef LISEC_CTL_RNG_H
#define LISEC_CTL_RNG_H

#include "ctl/ctl.h"

/* POST /v1/rng/events, from the daemon's own identity (role host). body is
 * a report (rng.h). Records first, then updates the findings and the
 * reporter's last sequence number; a report whose (instance, seq) was
 * already recorded is acknowledged without recording it twice.
 * out: {"accepted":b, "duplicate":b, "seq":n, "recorded":n}. */
int ctl_rng_report(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                   lisec_err *err);
/* GET /v1/rng/findings: {"findings":[{"reporter","subject","kind","state",
 * "severity","requirement","detail","since","open","updated"}...]}; with
 * open_only, the open ones only. */
int ctl_rng_findings(lisec_ctl *ctl, const ctl_actor *actor, bool open_only, json_t **out,
                     lisec_err *err);

#endif
