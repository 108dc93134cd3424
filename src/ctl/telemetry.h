/* lisecd's side of chassis telemetry (issue 19; TR 103 308 §5.6 O.1.1,
 * §6.2 R10/R14): the [telemetry] settings, reading a host's chassis report
 * out of its evidence, appraising it against what the host's attestation
 * document keeps (the BMC seen since the last confirmation, the highest
 * power-on hours, a void in force), and the findings it adds to the
 * compliance report. The parser and the appraiser are attest/telemetry.c;
 * ctl/attest.c calls these from its appraisal and its confirm step. */
#ifndef LISEC_CTL_TELEMETRY_H
#define LISEC_CTL_TELEMETRY_H

#include <jansson.h>

#include "attest/attest.h"
#include "ctl/ctl.h"

typedef struct ctl_telemetry_conf {
  attest_chassis_policy policy;
  int64_t max_bytes; /* a report's bytes */
} ctl_telemetry_conf;

/* [telemetry] missing = "off"|"finding"|"untrusted", max_age_s, idle_w,
 * peak_w, busy_vms, max_bytes; a bad value names its key. */
int ctl_telemetry_conf_read(const lisec_config *cfg, ctl_telemetry_conf *out, lisec_err *err);

/* The evidence's "chassis" (a JSON string: the bytes the agent hashed).
 * 0 with *has false when there is none. A report that does not parse, is
 * out of physical range or names another host refuses the whole evidence:
 * the denial is audited, the error names the requirement, nothing stored
 * changes. */
int ctl_telemetry_get(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, const char *host,
                      const ctl_telemetry_conf *conf, attest_chassis *out,
                      uint8_t sha[ATTEST_DIGEST_LEN], bool *has, lisec_err *err);

/* Appraises the report (NULL: none) of an appraisal whose quote verified,
 * against doc (the host's attestation document), and writes the result
 * into doc: "chassis" (the reading, the baseline, the findings) and
 * "chassis_void" (a void in force, kept until asset management confirms).
 * out->voids also carries a void in force from before. inv may be NULL. */
void ctl_telemetry_appraise(json_t *doc, const attest_chassis *c, const ctl_telemetry_conf *conf,
                            const char *cert_asset_tag, const attest_inventory *inv, int64_t now,
                            attest_chassis_verdict *out);

/* Asset management confirmed the host's location again: the void ends, and
 * the last report, the chassis it looked at, is the new baseline (BMC
 * identity, power-on hours, the event log's newest intrusion); what that
 * report lacks (no BMC answer, a log not read) the next one gives. */
void ctl_telemetry_confirmed(json_t *doc);

/* The compliance report's findings: every host whose last report raised
 * one, and every host whose location a chassis void holds. */
int ctl_telemetry_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err);

#endif
