/* Use cases of host attestation (TR 103 308 §5.1, §5.4, §5.8; §6.2 req.
 * 8-10, 12-14; O.1.6): enrolment, challenges, evidence appraisal and the
 * results that set a host's trust and location in the model, overdue hosts,
 * the location asset management re-confirms, quarantine, and the freshness
 * guarantee decisions about LI VMs rely on.
 *
 * A host acts only for itself: every use case whose actor has the role
 * "host" refuses (EAUTH) unless the certificate's CN is the host id, the
 * hex SHA-256 of the EK's SubjectPublicKeyInfo (attest_host_id). Bodies
 * carry binary evidence as standard base64. */
#ifndef LISEC_CTL_ATTEST_H
#define LISEC_CTL_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

/* For decisions about a VM involved in LI: 0 when the host's newest
 * successful appraisal is at most max_age_s old, or when a new one was
 * obtained while the request waited (*refreshed true, so the decision can
 * say so). Otherwise a refusal naming why (no attestation, the agent did
 * not answer in time, the new evidence failed): the decision then denies
 * (fail closed). why (why_len bytes) gets the same reason without the
 * requirement and host, for the note of a decision that goes on without a
 * fresh quote (a VM no LI involves), so both read alike.
 *
 * Nothing here blocks. When the request carries a wait (ctl->wait, set by
 * the transport) that is not final and the host is stale, the host is
 * flagged (its agent sees that at its next challenge poll and attests at
 * once), added to the wait once however often it is asked for, and
 * *pending is set with 0 returned: the use case goes on to collect every
 * stale host, then returns 0 with nothing recorded and no answer. The
 * transport parks the request, and dispatches it again in final mode when
 * every host of the wait has a new appraisal or is silent, or when
 * [attest] fresh_wait_ms passed (ctl_attest_wait_expire). A host still
 * stale when a request's bound passed is refused ("did not attest within
 * N ms of being asked; this decision waited M ms") and silent from then
 * on: every request parked on it is answered at once the same way, with
 * its own wait, and later ones are refused without waiting ("gave no
 * fresh quote when last asked (at HH:MM:SS UTC ...)") until it is
 * appraised again. Without a wait (ctl->wait NULL) a stale host is refused
 * at once. */
int ctl_attest_ensure_fresh(lisec_ctl *ctl, const char *host, int64_t max_age_s, bool *refreshed,
                            bool *pending, char *why, size_t why_len, lisec_err *err);

/* A request's wait for fresh appraisals (see ctl_attest_ensure_fresh). The
 * transport creates one per request, sets ctl->wait around each dispatch of
 * that request, and frees it when the request is answered. */
typedef struct ctl_attest_wait ctl_attest_wait;
/* Called from the thread that completed an appraisal, with attestation's
 * lock held: it must only wake the waiting event loop (event_active). */
typedef void (*ctl_attest_wake_fn)(void *arg);

ctl_attest_wait *ctl_attest_wait_new(void);
/* Disarms (ctl_attest_wait_disarm) and frees the wait. NULL is accepted. */
void ctl_attest_wait_free(ctl_attest_wait *w);
/* true when the last dispatch deferred at least one host. */
bool ctl_attest_wait_pending(const ctl_attest_wait *w);
/* The request's one bound: [attest] fresh_wait_ms. */
int64_t ctl_attest_wait_bound_ms(lisec_ctl *ctl);
/* Starts notifications: wake(arg) once every host of the wait has a new
 * appraisal or went silent (at once, from this thread, when that happened
 * already). */
void ctl_attest_wait_arm(lisec_ctl *ctl, ctl_attest_wait *w, ctl_attest_wake_fn wake, void *arg);
/* Stops them: after it returns, wake is never called again. */
void ctl_attest_wait_disarm(ctl_attest_wait *w);
/* The next dispatch is the last: stale hosts are refused, not deferred. */
void ctl_attest_wait_finalise(ctl_attest_wait *w);
/* The same, because the request's bound passed: the next dispatch also
 * marks each host of the wait that gave no new appraisal silent, and wakes
 * the other requests parked on it. Only the bound's timer calls this; a
 * request decided early (lisecd stopping) marks no host silent. */
void ctl_attest_wait_expire(ctl_attest_wait *w);

/* Hosts whose attestation went overdue since the overdue timer last looked
 * are untrusted in the model now, so every view and decision that follows
 * sees the trust the attestation status shows (the timer records and
 * quarantines them). Call without the model's lock held. */
void ctl_attest_expire_overdue(lisec_ctl *ctl);

/* true once every stored appraisal is back in attestation's table and in
 * the model (ctl_attest_open): until then a host's trust in the model says
 * nothing about the host, and the ADMF loop must not act on it. */
bool ctl_attest_reloaded(const ctl_shared *sh);

/* POST /v1/attest/enrol {"ek_pub", "ak_pub", ["ek_cert"]} (TPM2B_PUBLICs,
 * DER): the host id from the EK, the EK certificate against [attest] ek_ca
 * (required when that is set), the AK's attributes, then a 32-byte secret
 * sealed with TPM2_MakeCredential to the EK and the AK's Name. The AK stays
 * pending until the secret comes back. Out: {"host", "credential"}. */
int ctl_attest_enrol_begin(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                           json_t **out, lisec_err *err);
/* POST /v1/attest/enrol/finish {"host", "secret"}: the secret the TPM
 * released with TPM2_ActivateCredential proves the AK is in that TPM; the
 * pending AK becomes the host's AK. A wrong secret drops the pending AK
 * (EDENIED): enrolment starts over and that AK is never trusted. */
int ctl_attest_enrol_finish(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                            json_t **out, lisec_err *err);
/* POST /v1/attest/challenge {"host"}: what the controller wants from the
 * agent now: {"attest_now": bool, "why", "interval_s", ["location"]}
 * (attest_now when an attestation is due or was asked for; location: a
 * certificate asset management confirmed, for the agent to measure). */
int ctl_attest_challenge(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         json_t **out, lisec_err *err);
/* POST /v1/attest/nonce {"host"}: a single-use nonce for that enrolled host,
 * valid [attest] nonce_ttl_s. Out: {"nonce": hex, "expires_in_s"}. */
int ctl_attest_nonce(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                     lisec_err *err);
/* POST /v1/attest/evidence {"host", "nonce", "quote", "signature", "pcrs",
 * ["eventlog"], ["location"]}: the appraisal (attest_verify with the
 * enrolled AK, [attest] reference_file and location_ca), recorded with its
 * reasons before it takes effect, stored, and handed to the model. A
 * completed appraisal answers 0 whatever its outcome: out is
 * {"host", "verified", "trust", "location_ok", "reasons", "warnings", "model"}. */
int ctl_attest_submit(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                      lisec_err *err);
/* GET /v1/hosts/{id}/attestation: the last appraisal as an EAR claims set,
 * with lisec's own view (current trust, overdue or not) under "lisec". */
int ctl_attest_host_show(lisec_ctl *ctl, const ctl_actor *actor, const char *host, json_t **out,
                         lisec_err *err);
/* GET /v1/attest/hosts: {"hosts": [{"host", "trust", "enrolled", ...}]}. */
int ctl_attest_host_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* POST /v1/hosts/{id}/confirm-location {"certificate"} (operator): asset
 * management re-confirms the location after a power cycle. The certificate
 * must chain to [attest] location_ca, name this host and carry the TPM's
 * current resetCount (the one of its last quote); it is recorded, kept for
 * the agent (which measures it into PCR 15) and the host asked to attest. */
int ctl_attest_confirm_location(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const json_t *body, json_t **out, lisec_err *err);

/* De-enrolment (ctl/hosts_end.c): forgets host's AK binding in this
 * lisecd's table (not enrolled, not trusted, no good appraisal, its nonces
 * spent, no location offer) and wakes the requests parked for its quote.
 * The stored document and the model are the caller's. */
void ctl_attest_host_forget(lisec_ctl *ctl, const char *host);
/* The one record, sealed to the LI administration, of what a host that
 * left or lost its trust touched: what (the finding, naming its
 * requirement) and the LI authorisations naming a VM the host ran (lis,
 * from ctl_model_host_li_touch; NULL when the model could not say). Made
 * for every such host, whether it touched any LI or none, so the log's
 * shape tells no other reader which hosts run a VM an LI names (§4.1). */
void ctl_attest_li_finding(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                           const char *what, const json_t *lis);
/* The revoked host certificates this controller keeps (ctl/attest_revoked.h),
 * or NULL before attestation is open (the store is then asked each time). */
struct ctl_revoked_set *ctl_attest_revoked(lisec_ctl *ctl);

#endif
