/* Use cases of VNF package on-boarding (TR 103 308 §4.1 code signing and
 * dual signing, §4.2 verified VNFs; NFV-SEC 025 on-boarding threats 1-3):
 * a package is verified against the configured trust anchors and the
 * dual-signing policy before it is kept, a tenant sees and replaces only
 * its own packages, a new version must come from the same vendor identity,
 * and the image a VM runs is checked against its package's images. Every
 * act and every refusal is recorded before the answer (sealed to the LI
 * administration when the package is an LI VNF). */
#ifndef LISEC_CTL_PKG_H
#define LISEC_CTL_PKG_H

#include "ctl/ctl.h"

#define CTL_PKG_ID_MAX 128

/* body: {"id": "<package id>", "csar": "<base64 of the CSAR>", "li": bool}.
 * The owner is the actor's role ("operator" or "tenant:<name>"; mano acts
 * for the operator). *out: the stored description. */
int ctl_pkg_onboard(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                    lisec_err *err);
/* A new version of package id, same body without "id". */
int ctl_pkg_replace(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                    json_t **out, lisec_err *err);
/* {"packages": [summary...]}: every package for the operator, a tenant's own. */
int ctl_pkg_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* The stored description of one package (artifacts, signers, digests). */
int ctl_pkg_get(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
                lisec_err *err);
/* body: {"vm": ID, "digest": "sha256:<hex>", "event": "instantiate"|"resume"|"migrate"}:
 * what an agent saw a VM run; *out {"vm", "package", "compliant", ...}. A
 * mismatch is an answer (compliant false, the reason), recorded as denied. */
int ctl_pkg_image_report(lisec_ctl *ctl, const ctl_actor *actor, const char *id,
                         const json_t *body, json_t **out, lisec_err *err);
/* body: {"vm": ID, "digest": "sha256:<hex>" (absent: the domain has no
 * disk file), "package": ID (optional: what the domain's XML names)}:
 * asked by the host about to start the VM (libvirt's prepare, also on the
 * incoming side of a migration), whose certificate's CN must be the VM's
 * recorded host or one lisec allows it to move to; the digest is held to
 * the VM's own package in the trust model. *out {"vm", "package",
 * "checked", "compliant", "image", "reason", "audit_index"}: compliant
 * false is an answer, recorded as denied (sealed for an LI VNF); a VM with
 * no package is not checked (checked false). Nothing is kept as a report.
 * *out stays NULL with 0 when the move decision waits for a fresh quote. */
int ctl_pkg_image_check(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                        lisec_err *err);
/* The requirement an image finding names. */
#define CTL_PKG_IMAGE_RULE "TR103308-4.2-IMAGE"
/* Appends to violations (a JSON array, in the compliance report's form:
 * requirement, clauses, subject, sentence, fact) one entry per VM whose
 * last image report did not match its package. */
int ctl_pkg_image_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err);
/* The last image report of a VM. */
int ctl_pkg_image_status(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                         lisec_err *err);

/* body {"version": V, "reason": text (optional)}: retires version V of
 * package id (its current version or an earlier one). Refused (409 naming
 * NFV-SEC025-RETIRED) while any VM of the model whose document names the
 * package may run V, saying how many (LI VMs counted, never named); a
 * retired version stays readable ("retired" in the description) and is no
 * longer instantiated (placement and image checks deny it). *out {"id",
 * "scoped_id", "version", "current", "retired_at", "retired_by"}. */
int ctl_pkg_retire(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                   json_t **out, lisec_err *err);
/* body {"crl": PEM text or base64 of DER}: the operator loads a vendor CA's
 * CRL. Accepted only when signed by a vendor trust anchor, current, not
 * older than the one held for that CA, at most [pkg] max_crl bytes;
 * refusals name TR103308-4.1-CRL and leave what is held unchanged. *out
 * {"issuer", "anchor_sha256", "this_update", "next_update", "revoked",
 * "number", "loaded_at", "loaded_by", "revoked_packages": [scoped ids]}. */
int ctl_pkg_crl_put(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                    lisec_err *err);
/* {"crls": [what ctl_pkg_crl_put answered, without revoked_packages]}. */
int ctl_pkg_crl_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* Appends one violation per package a held CRL revokes a signer of, and
 * one per VM whose document names such a package (compliance report form). */
int ctl_pkg_revoked_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err);

#endif
