/* Use cases of the LI function of VMs (TR 103 308 §4.1 pairing and the
 * activation lock, §4.2 only known LI VMs; NFV-SEC 025 key pair injection):
 * an LI VM is registered at instantiation with its own key pair (generated
 * in the PKCS#11 token, or by the VM), the hypervisor administration
 * enables its LI function, the LI administration pairs it by a signed
 * statement, and once paired only a command signed by the LI
 * administration, with a counter above every earlier one, switches it off.
 * The counter is persisted with the VM, so a replay is refused across
 * restarts. Every act and every refusal is recorded, sealed to the LI
 * administration. */
#ifndef LISEC_CTL_LI_H
#define LISEC_CTL_LI_H

#include "ctl/ctl.h"

struct ctl_li_state;
/* [li] admin_pubkey (PEM: the LI administration's ECDSA P-256 or Ed25519
 * public key), [li] pkcs11_module / token / pin_file (where per-VM keys
 * are generated). Called from the pkg topic's open hook (ctl/pkg.c): the
 * shared state has no slot of its own for li yet. */
int ctl_li_state_open(const lisec_config *cfg, struct ctl_li_state **out, lisec_err *err);
void ctl_li_state_close(struct ctl_li_state *st);
/* 0 when [li] has a token session that is open and logged in as the user
 * (what generating a VM's key pair needs); EUNAVAIL saying why otherwise. */
int ctl_li_token_check(struct ctl_li_state *st, lisec_err *err);
/* The LI state the pkg topic keeps for this topic (ctl/pkg.c); may be NULL. */
struct ctl_li_state *ctl_pkg_li_state(ctl_shared *sh);
/* At start: every VM stored as paired is a known LI VM in the trust model. */
int ctl_li_model_sync(ctl_shared *sh, lisec_store *s, lisec_err *err);

/* body: {"vm": ID, "pubkey": PEM (optional: a key the VM generated)}. Without
 * pubkey the key pair is generated in the token; its private key never
 * leaves it. *out: the VM's record with its public key. */
int ctl_li_instantiate(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                       lisec_err *err);
/* off -> enabled (hypervisor-admin). */
int ctl_li_enable(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                  lisec_err *err);
/* enabled -> paired; body {"statement": the LI administration's pairing
 * statement (object or its text)}. */
int ctl_li_pair(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const json_t *body,
                json_t **out, lisec_err *err);
/* A direct switch-off: the hypervisor administration before pairing only. */
int ctl_li_disable(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                   lisec_err *err);
/* paired -> off; body {"command": the signed disable command (object or text)}. */
int ctl_li_disable_signed(lisec_ctl *ctl, const ctl_actor *actor, const char *vm,
                          const json_t *body, json_t **out, lisec_err *err);
int ctl_li_get(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
               lisec_err *err);
int ctl_li_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);

/* The lock on the host (TR 103 308 §4.1, issue 15 item 3). */
#define CTL_LI_LOCK_RULE "TR103308-4.1-LOCK"
struct ctl_observation;
/* After a good appraisal of one host's inventory: a paired LI VM observed
 * paused, shut off, crashed (or gone from the host the model says runs it)
 * is a high TR103308-4.1-LOCK finding, recorded sealed once per change of
 * what was seen, and, with [li] restart_stopped (default true), queued for
 * that host's agent to start; one observed running again is recorded too. */
int ctl_li_observe(lisec_ctl *ctl, const ctl_actor *actor, const struct ctl_observation *obs,
                   lisec_err *err);
/* The VM ids the host's agent is to start now (each handed out once, the
 * asking recorded sealed), or NULL when none. */
json_t *ctl_li_restarts_take(lisec_ctl *ctl, const ctl_actor *actor, const char *host);
/* Appends to violations one TR103308-4.1-LOCK violation per paired LI VM
 * whose last observation is a finding in force (subject "li-vm <id>";
 * compliance withholds it from every role but li-admin). */
int ctl_li_lock_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err);

#endif
