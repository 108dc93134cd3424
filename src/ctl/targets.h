/* Use cases of the target vault (TR 103 308 §5.2, §5.7): only the LI
 * administration adds, reads, changes and removes targets; every one of
 * these acts, and every refused attempt, is recorded (sealed to the LI
 * administration) before the answer, and refused when it cannot be. */
#ifndef LISEC_CTL_TARGETS_H
#define LISEC_CTL_TARGETS_H

#include "ctl/ctl.h"
#include "vault/vault.h"

/* body: {"id", "authorisation", "identifiers": [{"kind","value"}...]} */
int ctl_target_add(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                   lisec_err *err);
/* The identifiers in clear, for the LI administration. */
int ctl_target_read(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
                    lisec_err *err);
/* body: {"version": current version, "identifiers": [...]} */
int ctl_target_update(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                      json_t **out, lisec_err *err);
int ctl_target_remove(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err);
/* Metadata only: id, authorisation, version, KEK; never identifiers. */
int ctl_target_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* KEK rotation (ctl/vault_rotation.c), body {"key_label": NAME}: checked,
 * recorded (sealed) and NAME (a key of the vault's token, generated there
 * when absent) made current before the answer; every target's data key is
 * then re-wrapped to it on the controller's rotation thread, in store
 * transactions of [vault] rotation_chunk records, without touching a
 * ciphertext, and the end is recorded with its counts. *out: the job,
 * {"id", "state": "running", "kek", "previous", ...}. A second rotation
 * while one runs is LISEC_ECONFLICT. The store keeps which key is current
 * once every record is under it; until then the previous one. */
int ctl_target_rotate_kek(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err);
/* A rotation job by id: {"id", "state": running|done|failed|interrupted,
 * "kek", "previous", "targets", "prepared", "rewrapped", "started_at",
 * "ended_at", "error"}; LISEC_ENOTFOUND for an unknown id. */
int ctl_target_rotation(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
                        lisec_err *err);

/* LI authorisation li has ended (the trust model no longer holds it): the
 * keys process wipes the cached data keys of its targets, which no X1 task
 * sends any more, rather than keeping them until [vault] cache_ttl_s
 * (TR 103 308 §5.7). The targets stay in the vault (the LI administration
 * removes them); a read of one asks the token again. */
void ctl_targets_authorisation_ended(lisec_ctl *ctl, const char *li);
/* The targets' topic, opened after the model: hooks the above into it. */
int ctl_targets_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);

/* For the rotation (ctl/vault_rotation.c): the stored form of targets, and
 * the document naming the current KEK. */
#define CTL_TARGET_KIND "target"
#define CTL_VAULT_KEK_DOC_KIND "vault"
#define CTL_VAULT_KEK_DOC_ID "kek"
int ctl_target_load(lisec_ctl *ctl, const char *id, vault_sealed *s, int64_t *doc_version, lisec_err *err);
int ctl_target_save(lisec_ctl *ctl, const vault_sealed *s, int64_t expected, lisec_err *err);
/* A use case on targets or their keys refused before its act: recorded
 * sealed before the answer (TR 103 308 §5.2, §5.7: every access is
 * audited), outcome "refused" for a broken rule (EINVAL, ETOOBIG,
 * ENOTFOUND, ECONFLICT) and "failed" otherwise, err's message the reason,
 * led by req (e.g. "TR103308-5.7") unless it names a requirement already;
 * the subject "target <id>" (id "*": all of them; one that is no id is
 * not named). Returns rc (ctl_audit's rule for a refusal that cannot be
 * recorded). */
int ctl_target_refused(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *req,
                       const char *id, int rc, lisec_err *err);

#endif
