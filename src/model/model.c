/* The model's life: creating it with its own GEOS context, freeing every
 * entity, the clock LI validity periods are judged against, batch loading,
 * counts, and the names of the enumerations as the topology format and the
 * sentences spell them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

static void geos_message(const char *msg, void *user) {
  model *m = user;
  snprintf(m->geos_msg, sizeof m->geos_msg, "%s", msg);
}

model *model_new(void) {
  model *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->geos = GEOS_init_r();
  if (!m->geos) {
    free(m);
    return NULL;
  }
  GEOSContext_setErrorMessageHandler_r(m->geos, geos_message, m);
  GEOSContext_setNoticeMessageHandler_r(m->geos, geos_message, m);
  pthread_mutex_init(&m->geos_mu, NULL);
  m->eval_min = MODEL_EVAL_PAR_MIN;
  m->epoch = 1;
  m->cepoch = 1;
  m->time_lo = INT64_MIN;
  m->time_hi = INT64_MAX;
  return m;
}

void model_free(model *m) {
  if (!m) return;
  observe_free(m);
  rd_free(m);
  for (uint32_t i = 0; i < m->hosts.n; i++) {
    mhost *h = &m->hosts.a[i];
    if (h->alive) {
      free(h->id);
      free(h->where);
      loc_free(&h->loc);
      if (h->point) GEOSGeom_destroy_r(m->geos, h->point);
      idvec_free(&h->hyps);
    }
    free(h->s.viol.v);
  }
  for (uint32_t i = 0; i < m->hyps.n; i++) {
    if (!m->hyps.a[i].alive) continue;
    free(m->hyps.a[i].id);
    idvec_free(&m->hyps.a[i].vms);
  }
  for (uint32_t i = 0; i < m->vms.n; i++) {
    mvm *v = &m->vms.a[i];
    if (v->alive) {
      free(v->id);
      idvec_free(&v->lis);
      idvec_free(&v->conns);
      idvec_free(&v->groups);
      idvec_free(&v->roots);
      idvec_free(&v->attach);
    }
    free(v->s.viol.v);
  }
  for (uint32_t i = 0; i < m->stores.n; i++) {
    if (!m->stores.a[i].alive) continue;
    free(m->stores.a[i].id);
    idvec_free(&m->stores.a[i].attach);
    idvec_free(&m->stores.a[i].lis);
  }
  for (uint32_t i = 0; i < m->attach.n; i++) free(m->attach.a[i].s.viol.v);
  for (uint32_t i = 0; i < m->conns.n; i++) {
    mconn *c = &m->conns.a[i];
    if (c->alive) {
      free(c->id);
      idvec_free(&c->groups);
    }
    free(c->s.viol.v);
  }
  for (uint32_t i = 0; i < m->groups.n; i++) {
    mgroup *g = &m->groups.a[i];
    if (g->alive) {
      free(g->id);
      free(g->conns);
      free(g->path);
      free(g->stores);
    }
    free(g->s.viol.v);
  }
  for (uint32_t i = 0; i < m->jurs.n; i++) {
    mjur *j = &m->jurs.a[i];
    if (!j->alive) continue;
    free(j->id);
    jur_release(m, j);
    idvec_free(&j->lis);
    idvec_free(&j->leas);
  }
  for (uint32_t i = 0; i < m->leas.n; i++) {
    if (!m->leas.a[i].alive) continue;
    free(m->leas.a[i].id);
    free(m->leas.a[i].name);
    idvec_free(&m->leas.a[i].lis);
  }
  for (uint32_t i = 0; i < m->lis.n; i++) {
    if (m->lis.a[i].alive) free(m->lis.a[i].id);
    free(m->lis.a[i].s.viol.v);
  }
  for (uint32_t i = 0; i < m->domains.n; i++) {
    mdomain *d = &m->domains.a[i];
    free(d->name);
    idvec_free(&d->li);
    idvec_free(&d->other);
    free(d->s.viol.v);
  }
#define FREE_TABLE(t) \
  do {                \
    free((t).a);      \
    strmap_free(&(t).ids); \
    idvec_free(&(t).free); \
  } while (0)
  FREE_TABLE(m->hosts);
  FREE_TABLE(m->hyps);
  FREE_TABLE(m->vms);
  FREE_TABLE(m->stores);
  FREE_TABLE(m->conns);
  FREE_TABLE(m->groups);
  FREE_TABLE(m->jurs);
  FREE_TABLE(m->leas);
  FREE_TABLE(m->lis);
  FREE_TABLE(m->domains);
#undef FREE_TABLE
  free(m->attach.a);
  idvec_free(&m->attach.free);
  free(m->scope);
  free(m->caps);
  free(m->capbuf.v);
  free(m->scratch.v);
  GEOS_finish_r(m->geos);
  pthread_mutex_destroy(&m->geos_mu);
  free(m);
}

int li_refresh_active(model *m, uint32_t li) {
  mli *l = &m->lis.a[li];
  bool active = l->alive && l->from <= m->now && m->now < l->until;
  if (active == l->active) return 0;
  scope_add_li_deps(m, li);
  l->active = active;
  if (active) {
    m->vms.a[l->host].n_hosted++;
    m->nactive++;
  } else {
    m->vms.a[l->host].n_hosted--;
    m->nactive--;
  }
  return 1;
}

void time_narrow(model *m, const mli *l) {
  const int64_t b[2] = {l->from, l->until};
  for (int k = 0; k < 2; k++) {
    if (b[k] <= m->now) {
      if (b[k] > m->time_lo) m->time_lo = b[k];
    } else if (b[k] < m->time_hi) {
      m->time_hi = b[k];
    }
  }
}

/* lisecd sets the time before every decision; inside the quiet window that
 * is one comparison instead of a walk over every LI. */
int model_set_time(model *m, int64_t now, lisec_err *err) {
  (void)err;
  if (now >= m->time_lo && now < m->time_hi) {
    m->now = now;
    return 0;
  }
  m->now = now;
  m->time_lo = INT64_MIN;
  m->time_hi = INT64_MAX;
  scope_begin(m);
  for (uint32_t i = 0; i < m->lis.n; i++)
    if (m->lis.a[i].alive) {
      li_refresh_active(m, i);
      time_narrow(m, &m->lis.a[i]);
    }
  scope_commit(m);
  return 0;
}

int64_t model_time(const model *m) { return m->now; }

void model_batch_begin(model *m) { m->batch = true; }

void model_batch_end(model *m) {
  m->batch = false;
  model_evaluate_all(m);
}

void model_get_stats(const model *m, model_stats *out) {
  memset(out, 0, sizeof *out);
  out->hosts = m->hosts.live;
  out->hypervisors = m->hyps.live;
  out->vms = m->vms.live;
  out->storage = m->stores.live;
  out->attachments = m->attach.live;
  out->connections = m->conns.live;
  out->groups = m->groups.live;
  out->jurisdictions = m->jurs.live;
  out->leas = m->leas.live;
  out->lis = m->lis.live;
  out->lis_active = m->nactive;
  out->domains = m->domains.n;
  out->violations = m->nviol;
}

/* ---- names ---------------------------------------------------------------- */

static const char *const trust_names[] = {"unknown", "trusted", "untrusted"};
static const char *const class_names[] = {"general", "sensitive", "li"};
static const char *const kind_names[] = {"ipc", "network", "nfs", "block", "other"};

const char *model_trust_name(model_trust t) {
  return (unsigned)t < LISEC_ARRAY_LEN(trust_names) ? trust_names[t] : "?";
}
const char *model_class_name(model_class c) {
  return (unsigned)c < LISEC_ARRAY_LEN(class_names) ? class_names[c] : "?";
}
const char *model_conn_kind_name(model_conn_kind k) {
  return (unsigned)k < LISEC_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

static int parse_name(const char *s, const char *const *names, size_t n, int *out) {
  if (!s) return LISEC_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (int)i;
      return 0;
    }
  return LISEC_EINVAL;
}

int model_trust_parse(const char *s, model_trust *out) {
  int v;
  if (parse_name(s, trust_names, LISEC_ARRAY_LEN(trust_names), &v)) return LISEC_EINVAL;
  *out = (model_trust)v;
  return 0;
}
int model_class_parse(const char *s, model_class *out) {
  int v;
  if (parse_name(s, class_names, LISEC_ARRAY_LEN(class_names), &v)) return LISEC_EINVAL;
  *out = (model_class)v;
  return 0;
}
int model_conn_kind_parse(const char *s, model_conn_kind *out) {
  int v;
  if (parse_name(s, kind_names, LISEC_ARRAY_LEN(kind_names), &v)) return LISEC_EINVAL;
  *out = (model_conn_kind)v;
  return 0;
}
