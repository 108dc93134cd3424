/* What the ADMF takes of an NE's X1 reports (TS 103 221-1 clause 6.5:
 * ReportTaskIssue, ReportDestinationIssue, ReportNEIssue), so that one NE,
 * or a stolen NE certificate, sending them in a tight loop neither fills
 * the audit log (each report is recorded sealed) nor holds up the ADMF
 * loop's work for other NEs:
 *  - a token bucket per NE admits reports: [x1] report_burst_per_ne at
 *    once, then report_rate_per_ne a second; past it a report is refused;
 *    a flood (refusals until the bucket is full again) is flagged once;
 *  - the issue a ReportTaskIssue shows on its task waits here, recorded,
 *    for the loop to write before its next pass (only the loop writes a
 *    task while a pass may run): at most [x1] report_queue_max tasks, a
 *    later report on a task replacing the earlier one's; each report is
 *    recorded outside the queue's lock, so the loop never waits for an
 *    audit write to take the queue.
 * In memory under locks of its own; times are passed in, so the rules can be
 * tested without a clock. */
#ifndef LISEC_CTL_X1_REPORTS_H
#define LISEC_CTL_X1_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_X1_REPORT_RATE_DEFAULT 5    /* [x1] report_rate_per_ne, a second */
#define CTL_X1_REPORT_BURST_DEFAULT 20  /* [x1] report_burst_per_ne */
#define CTL_X1_REPORT_QUEUE_DEFAULT 1024 /* [x1] report_queue_max */
#define CTL_X1_REPORT_SHOWN_MAX 128     /* what a task shows of its issue */

typedef struct ctl_x1_reports ctl_x1_reports;

/* rate_per_s, burst and queue_max at least 1. NULL when out of memory. */
ctl_x1_reports *ctl_x1_reports_new(unsigned rate_per_s, unsigned burst, size_t queue_max);
void ctl_x1_reports_free(ctl_x1_reports *r);

/* Whether NE's report at now_ms is admitted (a token taken). A now_ms
 * earlier than the NE's last gives nothing, and the bucket refills from
 * it (a clock stepped back costs no more than the time it went back).
 * Refused:
 * *flood_began is true for the first refusal since the NE's bucket was last
 * full, so a flood is said once. The table keeps the NEs seen most
 * recently; one forgotten starts again with a full bucket. */
bool ctl_x1_reports_admit(ctl_x1_reports *r, const char *ne, int64_t now_ms, bool *flood_began);

/* The issue of the task `key`: with room in the queue (or the task already
 * in it), a place is kept for the task and record(ctx, shown, cap, order)
 * is called, outside the queue's lock (an audit write and its fsync hold
 * up neither the loop's take nor another report), to record the report,
 * say what the task shows (at most CTL_X1_REPORT_SHOWN_MAX bytes) and give
 * *order, a number that grows with each record made (the audit entry's
 * index); when it returns 0 that is queued, unless a report on the task
 * recorded after it (a greater order) is already queued or taken: the
 * latest recorded is the one shown. A task whose report is being recorded
 * counts against the bound. Returns record's result, or LISEC_ETOOBIG
 * without calling it when the queue is full. */
int ctl_x1_reports_queue(ctl_x1_reports *r, const char *key,
                         int (*record)(void *ctx, char *shown, size_t cap, uint64_t *order), void *ctx);

/* Empties the queue of what is recorded: apply(ctx, key, shown) for each
 * task, oldest first, outside the lock; a report still being recorded is
 * queued when it is, for the next take. Returns how many. */
size_t ctl_x1_reports_take(ctl_x1_reports *r, void (*apply)(void *ctx, const char *key, const char *shown),
                           void *ctx);

#endif
