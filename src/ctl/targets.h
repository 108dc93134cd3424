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
/* KEK rotation, body {"key_label": NAME}: NAME (a key of the vault's token,
 * generated there when absent) becomes the current KEK, and every target's
 * data key is re-wrapped to it in one transaction without touching a
 * ciphertext; recorded (sealed) before it starts. *out: {"kek", "previous",
 * "rewrapped", "targets"}. The store keeps which key is current. */
int ctl_target_rotate_kek(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err);

#endif
