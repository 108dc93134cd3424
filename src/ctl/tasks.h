/* Use cases of the ADMF (TR 103 308 §5.2 secure distribution, §4.2 X1):
 * lisecd tasks the network elements (POIs) that must carry an LI
 * authorisation's targets over X1 (ETSI TS 103 221-1), and only while the
 * trust model says that authorisation is compliant and active.
 *
 * An NE is registered by the LI administration with the model VM it runs as
 * ("vm"); it carries the targets of every LI authorisation whose LI VM
 * ("host" of the LI in the model) is that VM. For each (target, NE) pair a
 * task is kept in the store: its XID, what lisec wants (active or absent),
 * its state on the NE (pending, active, failed, deactivated), the target
 * version the NE holds, retries with backoff and the last reason. A loop
 * (a background thread, and on demand) compares all of this with the
 * targets, the model and what each NE reports (Ping, ListAllDetails,
 * GetTaskDetails) and sends ActivateTask, ModifyTask or DeactivateTask,
 * after creating the NE's destinations there; each send is recorded
 * (sealed to the LI administration) before it goes out, and a failed one is
 * recorded again as failed, after which the NE is asked what it holds and
 * the task shows that. The LI administration can stop every NE at once
 * (DeactivateAllTasks), and NEs send their own X1 requests (Keepalive,
 * ReportNEIssue, ReportTaskIssue) to lisecd's X1 endpoint. */
#ifndef LISEC_CTL_TASKS_H
#define LISEC_CTL_TASKS_H

#include "ctl/ctl.h"

#define CTL_X1_CHECK_MS_DEFAULT 5000
/* [x1] compliance_record_s: the ADMF records its compliance reading once
 * per period (sealed compliance.read), changed or not: 288 records a day */
#define CTL_X1_COMPLIANCE_RECORD_S_DEFAULT 300
/* Keepalive to each NE (TS 103 221-1 clause 6.6.2); an NE's keepalive_ms */
#define CTL_X1_KEEPALIVE_MS_DEFAULT 30000
/* [x1] announce_quiet_ms, announce_settle_max_ms: a burst of changes of
 * the trust model settles into one announcement (tasks.c, settle_left):
 * quiet this long, or the first change this long ago, and never sooner
 * than announce_settle_max_ms after the last announcement. A change's
 * sends wait at most announce_settle_max_ms, held to the ADMF loop's own
 * pass interval (CTL_X1_CHECK_MS_DEFAULT): no setting delays a
 * deactivation a change calls for past one pass of the loop. The quiet
 * is at most the maximum (ctl/settings.c). */
#define CTL_X1_ANNOUNCE_QUIET_MS_DEFAULT 200
#define CTL_X1_ANNOUNCE_SETTLE_MAX_MS_DEFAULT 1000
#define CTL_X1_ANNOUNCE_SETTLE_MAX_MS_MIN 100
#define CTL_X1_ANNOUNCE_SETTLE_MAX_MS_MAX CTL_X1_CHECK_MS_DEFAULT

/* Registers or replaces a network element (li-admin). body: {"id", "url",
 * "vm", "cert", "key", "ca", "admf_id"?, "dids"?, "destinations"?,
 * "check_ms"?, "report_cn"?, "x1_version"?, "keepalive_ms"?} (docs/x1.md:
 * dids or destinations is required); cert/key are the ADMF's client certificate and key
 * toward this NE, ca the CA its server certificate must chain to. */
int ctl_x1_ne_put(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                  lisec_err *err);
int ctl_x1_ne_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* ECONFLICT while a task on it is not deactivated. */
int ctl_x1_ne_remove(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err);
/* One NE's X1 status (li-admin only; the read is recorded sealed):
 * {"ne", "state" (reachable, unreachable, unknown), "reachable", "why",
 * "since", "last_check", "last_keepalive", "keepalive_timeout_s",
 * "error"/"ne_issue"/"destination_issue" ({"text", "at"}: the latest),
 * "answered_version", "x1_version", "stopped", "destinations_removed",
 * "removed", "reports_refused", "last_report_refused", "tasks"
 * ({"pending", "active", "failed", "deactivated"})}
 * (ctl/x1_status.h). ENOTFOUND for an NE not registered. */
int ctl_x1_ne_status(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out, lisec_err *err);

/* {"tasks": [{"target","ne","authorisation","xid","want","state",
 * "target_version","ne_version","attempts","reason","error","issue",
 * "updated"}]}: metadata only, never identifiers. */
int ctl_tasks_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* Runs one reconciliation now (in the caller's thread), then lists. */
int ctl_tasks_reconcile(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);

/* The LI administration's emergency stop (li-admin; recorded sealed before
 * anything is sent): body {"reason", "ne"?}. Every NE (or the one named)
 * is marked stopped, so the loop activates nothing there until
 * ctl_x1_resume, and sent DeactivateAllTasks; its tasks become deactivated
 * on the NE's oK, otherwise those the NE still lists stay active and are
 * deactivated one by one. *out: {"nes": [{"ne", "answer", "deactivated",
 * "still_held" (-1: unknown)}]}. */
int ctl_x1_deactivate_all(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err);
/* Lifts the stop (li-admin): body {"ne"?}. *out: {"resumed": [ne ids]}. */
int ctl_x1_resume(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out, lisec_err *err);

/* One X1 request container from an NE, in the ETSI XML form (TS 103
 * 221-1): ReportTaskIssue, ReportDestinationIssue (about a destination
 * of the NE's registration), ReportNEIssue and Keepalive are answered oK
 * (a Keepalive is the NE's sign of life, ctl/x1_status.h);
 * other requests 1080, schema-invalid ones 1010, another version 1020, a
 * message naming an NE the certificate does not speak for 1000, each
 * echoing the request's type and transaction; a container that cannot be
 * read gets X1TopLevelErrorResponse. The actor must be of role host with
 * the CN of an NE's report_cn (else EDENIED, recorded sealed). *out: the
 * X1Response (malloc'd). */
int ctl_x1_ne_request(lisec_ctl *ctl, const ctl_actor *actor, const char *xml, size_t len, char **out,
                      size_t *out_len, lisec_err *err);

/* An NE's ReportTaskIssue, relayed as {"ne", "xml"}: the actor's
 * certificate subject must be the NE's report_cn, the X1 message must
 * validate and name this ADMF and NE. *out: {"xml": the X1 response}. */
int ctl_x1_report(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                  lisec_err *err);

/* The background loop runs on its own thread from ctl_start to ctl_stop
 * (ctl/topics.c); no request starts it.
 * A target changed: the loop reconciles now, not at its next round. */
void ctl_tasks_kick(lisec_ctl *ctl);

#endif
