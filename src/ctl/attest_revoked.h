/* The host client certificates lisec revoked, as a set kept in the
 * controller (issue 15's figure; issue 21 item 2 for the list itself,
 * ctl/hosts_end.h). Every request of the host role is checked against the
 * revocation list; the list is stored, one document per certificate (kind
 * "attest.revoked", keyed by the hex SHA-256 of its DER), and this set
 * holds those keys so the check is a lookup in memory instead of a store
 * read per request. It is:
 *  - loaded from the store at its first use and read again from the store
 *    whenever it is older than refresh_ms ([attest] check_ms), so a
 *    revocation stored by a writer this lisecd did not see (one that
 *    bypassed the leader's fence) is honoured within that time; a lisecd
 *    that is promoted opens a new controller, and so a new set;
 *  - told of a revocation of this lisecd before its transaction commits
 *    (ctl_revoked_note) and of the outcome after (ctl_revoked_settle), so
 *    no request is accepted between the commit and the set knowing it;
 *  - only ever the reason to accept: a certificate it holds is refused with
 *    what the stored document says (a store read, on the refusal only).
 * A store that cannot be read when the set must be loaded fails the check
 * closed. Thread-safe. */
#ifndef LISEC_CTL_ATTEST_REVOKED_H
#define LISEC_CTL_ATTEST_REVOKED_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define CTL_REVOKED_KIND "attest.revoked"

typedef struct ctl_revoked_set ctl_revoked_set;

/* max: how many certificates the set holds at most; beyond it (or with
 * refresh_ms <= 0) every check reads the store, as without a set. */
ctl_revoked_set *ctl_revoked_new(size_t max, int64_t refresh_ms);
void ctl_revoked_free(ctl_revoked_set *r);

/* Whether the certificate sha256 (lower-case hex) is on the list: 0 = not
 * revoked; 1 = revoked, with *body (malloc'd; NULL for a revocation noted
 * and not yet committed) its stored document; any other value: the list
 * could not be read (err says why; the caller fails closed). */
int ctl_revoked_lookup(ctl_revoked_set *r, lisec_store *s, const char *sha256, char **body,
                       lisec_err *err);

/* A revocation of this lisecd, before its transaction commits: from now
 * on the certificate is refused. Then settled: committed keeps it;
 * otherwise the set is read from the store at the next lookup (a commit
 * that reported a failure may still have landed). */
void ctl_revoked_note(ctl_revoked_set *r, const char *sha256);
void ctl_revoked_settle(ctl_revoked_set *r, const char *sha256, bool committed);

#endif
