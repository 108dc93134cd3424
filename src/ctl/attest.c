/* The attest topic's shared controller state. */
#include <stdlib.h>

#include "ctl/attest.h"
#include "ctl/internal.h"

struct ctl_attest_state {
  int unused;
};

int ctl_attest_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg, (void)s;
  sh->attest = calloc(1, sizeof *sh->attest);
  return sh->attest ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

void ctl_attest_close(ctl_shared *sh) {
  free(sh->attest);
  sh->attest = NULL;
}

int ctl_attest_ensure_fresh(lisec_ctl *ctl, const char *host, int64_t max_age_s, bool *refreshed,
                            lisec_err *err) {
  (void)ctl, (void)max_age_s;
  *refreshed = false;
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.1: host %s has no appraised attestation", host);
}
