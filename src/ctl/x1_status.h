/* The ADMF's view of each network element's X1 state (TS 103 221-1 clause
 * 6.6: Ping and Keepalive; 6.5: the NE's reports), kept between
 * reconciliations instead of rebuilt and dropped by each: whether lisecd's
 * last check (Ping) reached it, when the NE last sent its own Keepalive,
 * its last error, ReportNEIssue and ReportDestinationIssue, how many of its
 * reports were refused past its rate, the version it answers in and what
 * lisecd removed from it. An NE that has sent
 * Keepalive and then stays silent longer than [x1] keepalive_timeout_s
 * shows as unreachable, as does one lisecd's check does not reach; each
 * change between reachable and unreachable is logged once. The LI
 * administration reads it (GET /v1/x1/nes/{id}); nothing here is sent
 * anywhere else. In memory, shared by the controller's threads under its
 * own lock; times are passed in, so the rules can be tested without a
 * clock: now_ms, wall-clock milliseconds since the epoch, is what the
 * status shows (when the NE last sent Keepalive, since when it is
 * reachable); mono_ms, lisec_time_mono_ms, is what the silence is measured
 * by, so a step of the wall clock does not decide reachability. */
#ifndef LISEC_CTL_X1_STATUS_H
#define LISEC_CTL_X1_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CTL_X1_KEEPALIVE_TIMEOUT_S_DEFAULT 90

typedef struct ctl_x1_status ctl_x1_status;

/* timeout_ms 0: an NE's silence is never held against it. NULL when out
 * of memory. */
ctl_x1_status *ctl_x1_status_new(int64_t keepalive_timeout_ms);
void ctl_x1_status_free(ctl_x1_status *s);

/* lisecd's check of the NE (Ping): reached or not, why not, the version
 * the NE answered in ("" when it did not answer). */
void ctl_x1_status_checked(ctl_x1_status *s, const char *ne, bool reached, const char *error,
                           const char *version, int64_t now_ms);
/* A Keepalive the NE sent to lisecd's X1 endpoint. */
void ctl_x1_status_keepalive(ctl_x1_status *s, const char *ne, int64_t now_ms, int64_t mono_ms);
/* One of the NE's reports or lisecd's own findings, kept as the latest of
 * its kind: "ne_issue" (ReportNEIssue), "destination_issue"
 * (ReportDestinationIssue), "error" (the last X1 error with this NE). */
void ctl_x1_status_note(ctl_x1_status *s, const char *ne, const char *kind, const char *text, int64_t now_ms);
/* A report of the NE's refused past its rate ([x1] report_rate_per_ne)
 * or past [x1] report_queue_max: counted, with when the last was. */
void ctl_x1_status_refused(ctl_x1_status *s, const char *ne, int64_t now_ms);
/* A destination lisecd removed from the NE because its registration does
 * not name it. */
void ctl_x1_status_removed(ctl_x1_status *s, const char *ne, const char *did, int64_t now_ms);

/* Decides whether the NE is reachable now and logs once when that changed:
 * returns 1 when it became reachable, -1 unreachable, 0 no change. */
int ctl_x1_status_evaluate(ctl_x1_status *s, const char *ne, int64_t now_ms, int64_t mono_ms);
/* The NE's status as of mono_ms (a new object; its "reachable" and "why"
 * decided as ctl_x1_status_evaluate would, without logging), or an object
 * saying "unknown" when nothing is known yet. */
json_t *ctl_x1_status_get(ctl_x1_status *s, const char *ne, int64_t mono_ms);
/* The NE was removed: its status goes with it. */
void ctl_x1_status_forget(ctl_x1_status *s, const char *ne);

#endif
