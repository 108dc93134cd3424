/* The end of a host's enrolment (issue 21 item 2; GS NFV-SEC 025 lifecycle,
 * TR 103 308 §5.1, §6.2 R10/R14, O.1.6, O.1.8): the operator de-enrols a
 * host, which revokes its AK binding and the client certificates it
 * enrolled with, voids its location and trust, and leaves its VMs'
 * placement unproven; lisec keeps the list of the certificates it revoked,
 * serves it, and refuses them for the host role while their CA still
 * trusts them (ctl/enrol_id.h has enrolment's side). */
#ifndef LISEC_CTL_HOSTS_END_H
#define LISEC_CTL_HOSTS_END_H

#include "ctl/ctl.h"

/* Every request of the host role: EAUTH (403, recorded) when its client
 * certificate is on lisec's revocation list; 0 otherwise. */
int ctl_hosts_cert_check(lisec_ctl *ctl, const ctl_actor *actor, lisec_err *err);

/* DELETE /v1/hosts/{id} (operator): the de-enrolment. Refused (recorded)
 * for a host that never enrolled (ENOTFOUND), one de-enrolled already or
 * one that runs a VM involved in LI, by intent or as it proved (ECONFLICT,
 * naming no LI). Out: {"host", "trust", "revoked_certificates": [...],
 * "revoked_ak_sha256"}. */
int ctl_host_deenrol(lisec_ctl *ctl, const ctl_actor *actor, const char *host, json_t **out,
                     lisec_err *err);

/* GET /v1/attest/revoked: {"revoked": [{"sha256", "serial", "issuer",
 * "host", "revoked_at"}...]}, oldest hash first. */
int ctl_hosts_revoked(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);

#endif
