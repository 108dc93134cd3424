/* The XIDs one network element lists (ListAllDetails) that the ADMF does
 * not know, and when each is to be asked away (DeactivateTask) again. The
 * ADMF deactivates them, but an NE that refuses (or lists up to 1,024
 * made-up XIDs) would otherwise be sent one DeactivateTask, and one sealed
 * record, per XID at every check, without end. So each XID is remembered
 * with the times it was asked: asked again after 1 s, then 2, 4, ... up to
 * [x1] unknown_xid_backoff_max_s, and never given up (an XID the ADMF does
 * not know may be an interception still running). An XID the NE no longer
 * lists is forgotten: listed again, it is asked at once. At most
 * CTL_X1_UNKNOWN_PER_CHECK are picked per check, those never asked first,
 * then those waiting longest, so one record can list them all.
 * In memory, one table per NE, used by the ADMF loop alone; bounded by
 * what one list can name (X1_MAX_LIST), so no listed XID waits for a
 * place. Times are passed in, so the rules can be tested without a clock. */
#ifndef LISEC_CTL_X1_UNKNOWN_H
#define LISEC_CTL_X1_UNKNOWN_H

#include <stddef.h>
#include <stdint.h>

#define CTL_X1_UNKNOWN_BACKOFF_MAX_S_DEFAULT 300 /* [x1] unknown_xid_backoff_max_s */
#define CTL_X1_UNKNOWN_BACKOFF_MIN_MS 1000       /* after the first ask */
#define CTL_X1_UNKNOWN_PER_CHECK 16              /* asked per check: one record lists them */
#define CTL_X1_UNKNOWN_MAX 1024                  /* remembered: X1_MAX_LIST, one list's XIDs */

typedef struct ctl_x1_unknown ctl_x1_unknown;

/* backoff_max_ms at least CTL_X1_UNKNOWN_BACKOFF_MIN_MS. NULL when out of memory. */
ctl_x1_unknown *ctl_x1_unknown_new(int64_t backoff_max_ms);
void ctl_x1_unknown_free(ctl_x1_unknown *u);

/* The NE's unknown XIDs as listed now (n at most CTL_X1_UNKNOWN_MAX; more
 * are not looked at): every remembered XID not among them is forgotten;
 * then the indexes (into xids) of at most max of them due at now_ms go to
 * picked, never asked first, then the earliest due, in list order among
 * equals. A wait longer than the maximum (a wall clock stepped back) is
 * due. Returns how many were picked. */
size_t ctl_x1_unknown_due(ctl_x1_unknown *u, const char *const *xids, size_t n, int64_t now_ms, size_t *picked,
                          size_t max);

/* xid was asked at now_ms (a DeactivateTask sent, whatever the answer):
 * it is due again after its next backoff. An XID the table has no room
 * for is not remembered (it stays due). */
void ctl_x1_unknown_asked(ctl_x1_unknown *u, const char *xid, int64_t now_ms);

/* When xid is due next (ms; 0: not remembered, due now) and how many
 * times it has been asked; for tests and the NE's status. */
int64_t ctl_x1_unknown_next(const ctl_x1_unknown *u, const char *xid, unsigned *asked);
size_t ctl_x1_unknown_count(const ctl_x1_unknown *u);

#endif
