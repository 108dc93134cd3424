/* Use case: the signed events of LI VMs reach the audit log (TR 103 308
 * §4.1 "any events on the LI VMs are logged, and only the LI
 * administration can read those logs", O.1.4; issue 20 item 3). A VM
 * (role vm) posts one signed event or a batch of its own; lisecd parses it
 * within [events] max_event and max_batch, verifies every signature
 * against the VM's own key the LI administration paired, applies the
 * sequence rules against the VM's last accepted seq (kept in the store,
 * document kind li-event-seq), and appends the batch as one audit record
 * sealed to the VM's administration, with the new last seq in the same
 * durable transaction, before it answers. Refusals are recorded sealed
 * too; what the sender reads names the requirement, never a VM. */
#ifndef LISEC_CTL_EVENTS_H
#define LISEC_CTL_EVENTS_H

#include "ctl/ctl.h"

#define CTL_EVENTS_GAP_RULE "TR103308-4.1-EVENTS-GAP"
/* the VM signed another event at a seq it had used: its counter went back */
#define CTL_EVENTS_ROLLBACK_RULE "TR103308-4.1-EVENTS-ROLLBACK"

/* body: one signed event or {"events": [...]} (docs/events.md). *out:
 * {"accepted": n, "last_seq": s, "gaps": g}. Refusals: EINVAL/ETOOBIG
 * (malformed, oversized, a batch over the limit), EAUTH (not role vm),
 * EDENIED (VM unknown, not paired, retired; a signature that does not
 * verify), ECONFLICT (replayed or out-of-order seq). A replay's refusal
 * also sets *out to {"last_seq": L} (the VM's last accepted seq), the
 * fields its error carries; the caller frees it. */
int ctl_events_intake(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                      lisec_err *err);

#endif
