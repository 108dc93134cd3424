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

/* ---- the tables kept in the controller (issue 15's figure) ----------------
 * Each host's table as this lisecd last wrote it, with its stored version,
 * so an issue or a take needs no store read. The write after it is still
 * the compare-and-set on that version: a stale copy costs one refused
 * write and a read of the stored table, and a nonce the copy does not
 * accept is decided again on the stored table. At most max_hosts hosts are
 * kept (others are read from the store each time). Thread-safe. A
 * controller keeps one for its life: a lisecd that is promoted opens a new
 * controller, with an empty one, and a deposed one exits. */
typedef struct ctl_nonce_cache ctl_nonce_cache;
ctl_nonce_cache *ctl_nonce_cache_new(size_t max_hosts);
void ctl_nonce_cache_free(ctl_nonce_cache *c);
/* Forgets host's copy, or every copy (the next use reads the store). */
void ctl_nonce_cache_drop(ctl_nonce_cache *c, const char *host);
void ctl_nonce_cache_clear(ctl_nonce_cache *c);

/* A nonce taken (ctl_nonces_take_kept): text, the table with it spent, to
 * store at ver in the caller's transaction; table, the same for the cache;
 * expires_ms, when the nonce would have expired (the order of issue). */
typedef struct ctl_nonces_taken {
  char *text;
  int64_t ver;
  int64_t expires_ms;
  attest_nonces *table;
} ctl_nonces_taken;

/* ctl_nonces_issue, ctl_nonces_consume, ctl_nonces_take and
 * ctl_nonces_forget with the kept tables (c may be NULL: none kept). */
int ctl_nonces_issue_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                          int64_t now_ms, int64_t ttl_ms, uint8_t out[ATTEST_NONCE_LEN], lisec_err *err);
int ctl_nonces_consume_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                            const uint8_t *nonce, size_t len, int64_t now_ms, lisec_err *err);
int ctl_nonces_take_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                         const uint8_t *nonce, size_t len, int64_t now_ms, ctl_nonces_taken *tk,
                         lisec_err *err);
/* After the caller's commit: stored says whether the table was written at
 * tk->ver (it is then kept at the next version); otherwise the copy is
 * forgotten. Frees what tk holds; nothing when it holds nothing. */
void ctl_nonces_taken_done(ctl_nonce_cache *c, const char *host, ctl_nonces_taken *tk, bool stored);
int ctl_nonces_forget_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, lisec_err *err);

#endif
