/* What enrolment needs to know about the end of a host's enrolment
 * (issue 21 item 2), kept apart from ctl/hosts_end.c so that attestation,
 * which de-enrolment calls, does not include it: the client certificates a
 * host enrols with (noted in its document, revoked at its de-enrolment),
 * the refusal of a de-enrolled host's requests, and the identity rules of
 * re-enrolment (an EK other than the one a host id enrolled with is another
 * host; an AK a de-enrolment revoked is never bound again). */
#ifndef LISEC_CTL_ENROL_ID_H
#define LISEC_CTL_ENROL_ID_H

#include "ctl/ctl.h"

/* Certificates a host document keeps (the newest ones it enrolled with),
 * all revoked at its de-enrolment. */
#define CTL_HOSTS_CERTS_MAX 8

/* For ctl/attest.c. A refusal (recorded under action) of a request a
 * de-enrolled host makes with a certificate lisec did not revoke: its AK
 * binding is revoked, so its evidence is refused (EDENIED); a challenge or
 * nonce gets ENOTFOUND, on which the agent enrols again. */
int ctl_hosts_refuse_deenrolled(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const char *action, lisec_err *err);
/* At enrolment: a host certificate whose CN names another host id that
 * enrolled with a different EK is refused (EDENIED, recorded), saying that
 * the TPM is a different host and how it enrols. 0 in every other case. */
int ctl_hosts_enrol_identity(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                             lisec_err *err);
/* At enrolment: an AK (its TPM2B_PUBLIC, ak_len bytes) that a
 * de-enrolment of host revoked (the SHA-256 in doc's "revoked_aks") is
 * refused (EDENIED, recorded, naming ATTEST_AK_REVOKED), so a re-enrolment
 * binds a new AK, never the revoked one again. 0 otherwise. */
int ctl_hosts_refuse_revoked_ak(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const json_t *doc, const uint8_t *ak, size_t ak_len, lisec_err *err);
/* Adds the request's client certificate (ctl->peer) to a host document's
 * "certs" (at most CTL_HOSTS_CERTS_MAX, newest kept), so de-enrolment
 * revokes it. */
void ctl_hosts_note_cert(json_t *doc, const lisec_ctl *ctl);

#endif
