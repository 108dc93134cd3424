/* Attestation nonces kept in the store (issue 17 item 2, docs/ha.md): the
 * nonces issued to a host are one document per host (kind
 * CTL_NONCES_KIND), changed only by compare-and-set on its version, so a
 * nonce issued by one lisecd is accepted by whichever lisecd leads when the
 * quote arrives (a failover between GET nonce and POST quote), and stays
 * single use and expiring across them: a nonce consumed by one is refused
 * by every other. */
#ifndef LISEC_CTL_ATTEST_NONCES_H
#define LISEC_CTL_ATTEST_NONCES_H

#include "attest/attest.h"
#include "store/store.h"

#define CTL_NONCES_KIND "attest.nonces"

/* Draws a fresh nonce for host, valid until now_ms + ttl_ms, and stores it
 * among at most max outstanding (the one closest to expiry makes room). */
int ctl_nonces_issue(lisec_store *s, const char *host, size_t max, int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[ATTEST_NONCE_LEN], lisec_err *err);
/* Consumes a nonce of host: 0 once; EDENIED naming TR103308-5.1 when it was
 * never issued, is spent (here or by another lisecd) or has expired; any
 * other code when the store could not be asked (the caller fails closed). */
int ctl_nonces_consume(lisec_store *s, const char *host, size_t max, const uint8_t *nonce,
                       size_t len, int64_t now_ms, lisec_err *err);
/* Takes a nonce of host without writing: 0 with *text, the table with the
 * nonce spent (malloc'd), to be stored as CTL_NONCES_KIND host at version
 * *ver (the one read) in the caller's transaction; until that commit the
 * nonce is not spent, and a commit refused for that version means another
 * writer changed the table (ctl_nonces_consume decides then). The same
 * refusals as ctl_nonces_consume, nothing written. */
int ctl_nonces_take(lisec_store *s, const char *host, size_t max, const uint8_t *nonce, size_t len,
                    int64_t now_ms, char **text, int64_t *ver, lisec_err *err);
/* Drops every nonce of host (de-enrolment: they are spent with its AK). */
int ctl_nonces_forget(lisec_store *s, const char *host, lisec_err *err);

#endif
