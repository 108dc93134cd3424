/* The shared trust model: one model for all workers, opened with the
 * controller. model/ is not thread-safe, so every call holds the state's
 * lock. */
#include <pthread.h>
#include <stdlib.h>

#include "ctl/internal.h"
#include "ctl/model.h"

struct ctl_model_state {
  pthread_mutex_t lock;
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
  pthread_mutex_init(&st->lock, NULL);
  sh->model = st;
  return 0;
}

void ctl_model_close(ctl_shared *sh) {
  if (!sh->model) return;
  model_free(sh->model->m);
  pthread_mutex_destroy(&sh->model->lock);
  free(sh->model);
  sh->model = NULL;
}

int ctl_model_host_attested(lisec_ctl *ctl, const char *host, model_trust trust,
                            const model_location *loc, lisec_err *err) {
  struct ctl_model_state *st = ctl->shared->model;
  pthread_mutex_lock(&st->lock);
  model_set_time(st->m, lisec_time_now(), NULL);
  int rc = model_host_set_location(st->m, host, loc, err);
  if (!rc) rc = model_host_set_trust(st->m, host, trust, err);
  pthread_mutex_unlock(&st->lock);
  return rc;
}

int ctl_model_li_compliance(lisec_ctl *ctl, const char *li, model_verdict *out, bool *active,
                            lisec_err *err) {
  struct ctl_model_state *st = ctl->shared->model;
  pthread_mutex_lock(&st->lock);
  int rc = model_set_time(st->m, lisec_time_now(), err);
  if (!rc) rc = model_li_compliance(st->m, li, out, active, err);
  pthread_mutex_unlock(&st->lock);
  return rc;
}
