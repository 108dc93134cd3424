/* Use cases of the trust model (TR 103 308 §6.2, §4.1, §4.2): the model
 * every worker shares, loaded from the store at start and kept in memory,
 * and the entry points other topics use to feed it. */
#ifndef LISEC_CTL_MODEL_H
#define LISEC_CTL_MODEL_H

#include "ctl/ctl.h"
#include "model/model.h"

/* An attestation result for a host (ctl/attest.c calls this): its trust and,
 * when the TPM-bound location certificate verified, its location (NULL: none
 * proven). A location different from the recorded one voids trust (§6.2
 * req. 10/14). ENOTFOUND when the model has no such host. */
int ctl_model_host_attested(lisec_ctl *ctl, const char *host, model_trust trust,
                            const model_location *loc, lisec_err *err);

/* For whoever acts for an LI (the ADMF before it sends or keeps X1 tasks):
 * the LI's current violations (out->allow false: do not act) and whether it
 * is inside its validity now. ENOTFOUND when the model has no such LI. */
int ctl_model_li_compliance(lisec_ctl *ctl, const char *li, model_verdict *out, bool *active,
                            lisec_err *err);

#endif
