/* The shared trust model: one model for all workers (the model serialises
 * its own calls), opened with the controller. */
#include <stdlib.h>

#include "ctl/internal.h"
#include "ctl/model.h"

struct ctl_model_state {
  model *m;
};

int ctl_model_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg, (void)s;
  struct ctl_model_state *st = calloc(1, sizeof *st);
  if (st) st->m = model_new();
  if (!st || !st->m) {
    free(st);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  sh->model = st;
  return 0;
}

void ctl_model_close(ctl_shared *sh) {
  if (!sh->model) return;
  model_free(sh->model->m);
  free(sh->model);
  sh->model = NULL;
}

int ctl_model_host_attested(lisec_ctl *ctl, const char *host, model_trust trust,
                            const model_location *loc, lisec_err *err) {
  model *m = ctl->shared->model->m;
  int rc = model_host_set_location(m, host, loc, err);
  return rc ? rc : model_host_set_trust(m, host, trust, err);
}
