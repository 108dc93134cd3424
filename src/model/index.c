/* The compliance index: every subject keeps the list of its current
 * violations. A change collects the subjects it can affect (its scope),
 * and only those are evaluated again, so one host losing trust or one VM
 * moving costs the size of its neighbourhood, not of the platform. During a
 * decision the index also captures the old lists of what it re-evaluates,
 * which is how a decision learns exactly what a change would newly break. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

msubj *subj_of(model *m, uint8_t sk, uint32_t i) { return (msubj *)subj_of_c(m, sk, i); }

const msubj *subj_of_c(const model *m, uint8_t sk, uint32_t i) {
  switch (sk) {
    case SK_LI: return &m->lis.a[i].s;
    case SK_GROUP: return &m->groups.a[i].s;
    case SK_CONN: return &m->conns.a[i].s;
    case SK_ATTACH: return &m->attach.a[i].s;
    case SK_HOST: return &m->hosts.a[i].s;
    case SK_DOMAIN: return &m->domains.a[i].s;
    default: return &m->vms.a[i].s;
  }
}

bool subj_alive(const model *m, uint8_t sk, uint32_t i) {
  switch (sk) {
    case SK_LI: return m->lis.a[i].alive;
    case SK_GROUP: return m->groups.a[i].alive;
    case SK_CONN: return m->conns.a[i].alive;
    case SK_ATTACH: return m->attach.a[i].alive;
    case SK_HOST: return m->hosts.a[i].alive;
    case SK_DOMAIN: return true;
    default: return m->vms.a[i].alive;
  }
}

uint32_t subj_count(const model *m, uint8_t sk) {
  switch (sk) {
    case SK_LI: return m->lis.n;
    case SK_GROUP: return m->groups.n;
    case SK_CONN: return m->conns.n;
    case SK_ATTACH: return m->attach.n;
    case SK_HOST: return m->hosts.n;
    case SK_DOMAIN: return m->domains.n;
    default: return m->vms.n;
  }
}

void scope_begin(model *m) {
  m->nscope = 0;
  if (++m->epoch == 0) m->epoch = 1; /* 0 is every new slot's mark */
}

void scope_add(model *m, uint8_t sk, uint32_t i) {
  if (m->batch) return;
  msubj *s = subj_of(m, sk, i);
  if (s->mark == m->epoch) return;
  if (m->nscope == m->capscope &&
      grow((void **)&m->scope, &m->capscope, m->nscope + 1, sizeof *m->scope)) {
    m->oom = true;
    return;
  }
  s->mark = m->epoch;
  m->scope[m->nscope].sk = sk;
  m->scope[m->nscope].idx = i;
  m->nscope++;
}

static void scope_add_lis_of(model *m, uint32_t v) {
  const idvec *l = &m->vms.a[v].lis;
  for (uint32_t i = 0; i < l->n; i++) scope_add(m, SK_LI, l->v[i]);
}

/* The attachments where v is the user: TR103308-4.2-STORE judges v there
 * against the LIs storing to that storage (its hardware, class and
 * pairing, and whether it is the storage VM of another LI). */
static void scope_add_attach_of(model *m, uint32_t v) {
  const idvec *as = &m->vms.a[v].attach;
  for (uint32_t i = 0; i < as->n; i++) scope_add(m, SK_ATTACH, as->v[i]);
}

/* Attachments whose user and provider are a and b (either way round). */
static void scope_add_attach_between(model *m, uint32_t a, uint32_t b) {
  for (int k = 0; k < 2; k++) {
    uint32_t user = k ? b : a, prov = k ? a : b;
    const idvec *l = &m->vms.a[user].attach;
    for (uint32_t i = 0; i < l->n; i++)
      if (m->stores.a[m->attach.a[l->v[i]].storage].root == prov) scope_add(m, SK_ATTACH, l->v[i]);
  }
}

static bool pair_is(uint32_t x, uint32_t y, uint32_t a, uint32_t b) {
  return (x == a && y == b) || (x == b && y == a);
}

/* What can change when only whether a path between a and b is usable
 * changes (an IPC hop of it moving between machines): the path rules of the
 * LIs whose monitored and LI VMs, or LI and storage VMs, are a and b, and
 * the attachments between them. The group's own rules and its connections' (security, storing
 * intermediates, known peers) do not depend on where a VM runs. */
static void scope_add_pair_paths(model *m, uint32_t a, uint32_t b) {
  const idvec *l = &m->vms.a[a].lis;
  for (uint32_t i = 0; i < l->n; i++) {
    const mli *y = &m->lis.a[l->v[i]];
    if (pair_is(y->monitored, y->host, a, b) || pair_is(y->host, y->via, a, b))
      scope_add(m, SK_LI, l->v[i]);
  }
  scope_add_attach_between(m, a, b);
}

void scope_add_group_paths(model *m, uint32_t g) {
  if (m->batch) return;
  const mgroup *x = &m->groups.a[g];
  scope_add_pair_paths(m, x->path[0], x->path[x->n]);
}

/* The same for a direct connection, which is a path of its own (a group
 * of one, §6.2) whether or not a group names it. */
void scope_add_conn_paths(model *m, uint32_t c) {
  if (m->batch) return;
  scope_add_pair_paths(m, m->conns.a[c].a, m->conns.a[c].b);
}

void scope_add_group_deps(model *m, uint32_t g) {
  if (m->batch) return;
  const mgroup *x = &m->groups.a[g];
  scope_add(m, SK_GROUP, g);
  for (uint32_t i = 0; i < x->n; i++) scope_add(m, SK_CONN, x->conns[i]);
  uint32_t a = x->path[0], b = x->path[x->n];
  scope_add_lis_of(m, a);
  scope_add_lis_of(m, b);
  scope_add_attach_between(m, a, b);
}

void scope_add_vm_move_deps(model *m, uint32_t v) {
  if (m->batch) return;
  scope_add(m, SK_VM, v);
  scope_add_lis_of(m, v);
  scope_add_attach_of(m, v);
  const idvec *gs = &m->vms.a[v].groups;
  for (uint32_t i = 0; i < gs->n; i++) scope_add_group_deps(m, gs->v[i]);
  const idvec *cs = &m->vms.a[v].conns;
  for (uint32_t i = 0; i < cs->n; i++) scope_add_conn_paths(m, cs->v[i]);
}

void scope_add_vm_attr_deps(model *m, uint32_t v) {
  if (m->batch) return;
  const mvm *x = &m->vms.a[v];
  scope_add(m, SK_VM, v);
  scope_add(m, SK_DOMAIN, x->domain);
  scope_add_lis_of(m, v);
  scope_add_attach_of(m, v);
  for (uint32_t i = 0; i < x->conns.n; i++) scope_add(m, SK_CONN, x->conns.v[i]);
  /* Whether an LI VM may use a hop depends on the far end of the group the
   * hop belongs to, which may be v (§4.2 known LI VMs). */
  for (uint32_t i = 0; i < x->groups.n; i++) {
    const mgroup *g = &m->groups.a[x->groups.v[i]];
    for (uint32_t k = 0; k < g->n; k++) scope_add(m, SK_CONN, g->conns[k]);
  }
}

void scope_add_li_users(model *m, uint32_t li) {
  if (m->batch) return;
  const mli *l = &m->lis.a[li];
  const idvec *as = &m->stores.a[l->storage].attach;
  for (uint32_t i = 0; i < as->n; i++) scope_add(m, SK_ATTACH, as->v[i]);
  scope_add_attach_of(m, l->via);
}

/* An LI decides: its own rules, whether the groups at its VMs carry LI
 * traffic, the connections of its LI VM (R6, known peers), and the
 * users of its storage (4.2-STORE). */
void scope_add_li_deps(model *m, uint32_t li) {
  if (m->batch) return;
  const mli *l = &m->lis.a[li];
  scope_add(m, SK_LI, li);
  scope_add_li_users(m, li);
  uint32_t vs[4] = {l->monitored, l->host, l->via, li_provider(m, l)};
  for (int k = 0; k < 4; k++) {
    const mvm *x = &m->vms.a[vs[k]];
    for (uint32_t i = 0; i < x->groups.n; i++) scope_add(m, SK_GROUP, x->groups.v[i]);
    for (uint32_t i = 0; i < x->conns.n; i++) scope_add(m, SK_CONN, x->conns.v[i]);
  }
}

/* A host's trust, location or protection: the host, each VM on it, the
 * LIs of those VMs and the attachments where they use storage. */
void scope_add_host_deps(model *m, uint32_t h) {
  if (m->batch) return;
  const mhost *x = &m->hosts.a[h];
  scope_add(m, SK_HOST, h);
  for (uint32_t i = 0; i < x->hyps.n; i++) {
    const mhyp *y = &m->hyps.a[x->hyps.v[i]];
    for (uint32_t k = 0; k < y->vms.n; k++) {
      scope_add(m, SK_VM, y->vms.v[k]);
      scope_add_lis_of(m, y->vms.v[k]);
      scope_add_attach_of(m, y->vms.v[k]);
    }
  }
}

static void capture(model *m, uint8_t sk, uint32_t i, msubj *s) {
  if (m->ncaps == m->capcaps &&
      grow((void **)&m->caps, &m->capcaps, m->ncaps + 1, sizeof *m->caps)) {
    m->oom = true;
    return;
  }
  mcap *c = &m->caps[m->ncaps++];
  c->sk = sk;
  c->idx = i;
  c->off = m->capbuf.n;
  c->n = s->viol.n;
  for (uint32_t k = 0; k < s->viol.n; k++)
    if (vvec_push(&m->capbuf, &s->viol.v[k])) m->oom = true;
}

static void reindex(model *m, uint8_t sk, uint32_t i) {
  msubj *s = subj_of(m, sk, i);
  if (m->capturing && s->cmark != m->cepoch) {
    s->cmark = m->cepoch;
    capture(m, sk, i, s);
  }
  m->nviol -= s->viol.n;
  s->viol.n = 0;
  if (subj_alive(m, sk, i) && eval_subject(m, sk, i, &s->viol)) m->oom = true;
  m->nviol += s->viol.n;
}

void scope_commit(model *m) {
  if (m->batch) return;
  for (uint32_t k = 0; k < m->nscope; k++) reindex(m, m->scope[k].sk, m->scope[k].idx);
  m->nscope = 0;
}

void index_clear_subject(model *m, uint8_t sk, uint32_t i) {
  msubj *s = subj_of(m, sk, i);
  m->nviol -= s->viol.n;
  free(s->viol.v);
  memset(s, 0, sizeof *s);
}

void capture_begin(model *m) {
  m->capturing = true;
  if (++m->cepoch == 0) m->cepoch = 1;
  m->ncaps = 0;
  m->capbuf.n = 0;
}

void capture_end(model *m) { m->capturing = false; }

/* Puts back the violations captured before a change that has since been
 * undone: the state is the one they were evaluated on, and every subject
 * the change re-evaluated was captured, so this is what evaluating them
 * again would give, at the cost of a copy. False (nothing restored) when a
 * capture ran out of memory: the caller evaluates again instead. */
bool capture_restore(model *m) {
  if (m->oom) return false;
  for (uint32_t k = 0; k < m->ncaps; k++) {
    const mcap *c = &m->caps[k];
    msubj *s = subj_of(m, c->sk, c->idx);
    m->nviol -= s->viol.n;
    s->viol.n = 0;
    for (uint32_t q = 0; q < c->n; q++)
      if (vvec_push(&s->viol, &m->capbuf.v[c->off + q])) m->oom = true;
    m->nviol += s->viol.n;
  }
  return !m->oom;
}

int capture_diff(model *m, uint32_t skip_mask, model_verdict *out) {
  for (uint32_t k = 0; k < m->ncaps; k++) {
    const mcap *c = &m->caps[k];
    if (!subj_alive(m, c->sk, c->idx)) continue;
    const msubj *s = subj_of(m, c->sk, c->idx);
    for (uint32_t j = 0; j < s->viol.n; j++) {
      const mviol *p = &s->viol.v[j];
      if (skip_mask & (1u << p->rule)) continue;
      bool old = false;
      for (uint32_t q = 0; q < c->n && !old; q++) {
        const mviol *o = &m->capbuf.v[c->off + q];
        old = o->rule == p->rule && o->e[0] == p->e[0];
      }
      if (!old) {
        int rc = render_viol(m, p, out);
        if (rc) return rc;
      }
    }
  }
  return 0;
}

size_t model_violation_count(const model *m) { return m->nviol; }

void model_count_by_rule(const model *m, size_t counts[MODEL_RULE_COUNT]) {
  memset(counts, 0, MODEL_RULE_COUNT * sizeof *counts);
  for (uint8_t sk = 0; sk < SK_COUNT; sk++) {
    uint32_t n = subj_count(m, sk);
    for (uint32_t i = 0; i < n; i++) {
      if (!subj_alive(m, sk, i)) continue;
      const msubj *s = subj_of_c(m, sk, i);
      for (uint32_t j = 0; j < s->viol.n; j++)
        if (s->viol.v[j].rule < MODEL_RULE_COUNT) counts[s->viol.v[j].rule]++;
    }
  }
}

static int reason_cmp(const void *a, const void *b) {
  const model_reason *x = a, *y = b;
  if (x->rule != y->rule) return x->rule < y->rule ? -1 : 1;
  int c = strcmp(x->subject, y->subject);
  return c ? c : strcmp(x->sentence, y->sentence);
}

int model_compliance(const model *m, model_verdict *out) {
  memset(out, 0, sizeof *out);
  if (m->oom) return LISEC_ENOMEM;
  for (uint8_t sk = 0; sk < SK_COUNT; sk++) {
    uint32_t n = subj_count(m, sk);
    for (uint32_t i = 0; i < n; i++) {
      if (!subj_alive(m, sk, i)) continue;
      const msubj *s = subj_of_c(m, sk, i);
      for (uint32_t j = 0; j < s->viol.n; j++) {
        int rc = render_viol(m, &s->viol.v[j], out);
        if (rc) {
          model_verdict_free(out);
          return rc;
        }
      }
    }
  }
  if (out->n > 1) qsort(out->reasons, out->n, sizeof *out->reasons, reason_cmp);
  out->allow = out->n == 0;
  return 0;
}

static int render_subject(const model *m, uint8_t sk, uint32_t i, model_verdict *out) {
  const msubj *s = subj_of_c(m, sk, i);
  int rc = 0;
  for (uint32_t j = 0; j < s->viol.n && !rc; j++) rc = render_viol(m, &s->viol.v[j], out);
  return rc;
}

/* The violations kept on other subjects that are this LI's too: req. 6
 * and 7 on the groups its data travels (those with an end at its LI VM,
 * and those joining its storage VM and the storage provider), req. 6 and
 * §4.2 on its LI VM's own connections and req. 6 on a direct connection
 * that is its storage path, req. 5 on its storage VM's attachment, and
 * 4.2-STORE on the attachments of its storage. */
static int render_li_paths(const model *m, uint32_t li, model_verdict *out) {
  const mli *l = &m->lis.a[li];
  uint32_t host = l->host, via = l->via, prov = li_provider(m, l);
  bool store_path = via != prov;
  int rc = 0;
  const idvec *us = &m->stores.a[l->storage].attach;
  for (uint32_t k = 0; k < us->n && !rc; k++) {
    const msubj *s = subj_of_c(m, SK_ATTACH, us->v[k]);
    for (uint32_t j = 0; j < s->viol.n && !rc; j++)
      if (s->viol.v[j].rule == MODEL_STORE && s->viol.v[j].e[0] == li)
        rc = render_viol(m, &s->viol.v[j], out);
  }
  const idvec *gs = &m->vms.a[host].groups;
  for (uint32_t k = 0; k < gs->n && !rc; k++) {
    const mgroup *g = &m->groups.a[gs->v[k]];
    if (g->path[0] == host || g->path[g->n] == host) rc = render_subject(m, SK_GROUP, gs->v[k], out);
  }
  if (store_path && via != host) {
    gs = &m->vms.a[via].groups;
    for (uint32_t k = 0; k < gs->n && !rc; k++) {
      const mgroup *g = &m->groups.a[gs->v[k]];
      uint32_t a = g->path[0], b = g->path[g->n];
      if ((a == via && b == prov) || (a == prov && b == via))
        rc = render_subject(m, SK_GROUP, gs->v[k], out);
    }
  }
  const idvec *cs = &m->vms.a[host].conns;
  for (uint32_t k = 0; k < cs->n && !rc; k++) {
    const msubj *s = subj_of_c(m, SK_CONN, cs->v[k]);
    for (uint32_t j = 0; j < s->viol.n && !rc; j++)
      if (s->viol.v[j].e[0] == host && s->viol.v[j].code != F_INSECURE_PATH)
        rc = render_viol(m, &s->viol.v[j], out);
  }
  if (store_path) {
    cs = &m->vms.a[via].conns;
    for (uint32_t k = 0; k < cs->n && !rc; k++) {
      const mconn *c = &m->conns.a[cs->v[k]];
      if (!((c->a == via && c->b == prov) || (c->a == prov && c->b == via))) continue;
      const msubj *s = subj_of_c(m, SK_CONN, cs->v[k]);
      for (uint32_t j = 0; j < s->viol.n && !rc; j++)
        if (s->viol.v[j].code == F_INSECURE_PATH) rc = render_viol(m, &s->viol.v[j], out);
    }
    /* R5 only: its 4.2-STORE rows, about other LIs sharing the storage,
     * are theirs (and this LI's are rendered above) */
    const idvec *as = &m->vms.a[via].attach;
    for (uint32_t k = 0; k < as->n && !rc; k++) {
      if (m->attach.a[as->v[k]].storage != l->storage) continue;
      const msubj *s = subj_of_c(m, SK_ATTACH, as->v[k]);
      for (uint32_t j = 0; j < s->viol.n && !rc; j++)
        if (s->viol.v[j].rule == MODEL_R5) rc = render_viol(m, &s->viol.v[j], out);
    }
  }
  return rc;
}

int model_li_compliance(const model *m, const char *li, model_verdict *out, bool *active,
                        lisec_err *err) {
  memset(out, 0, sizeof *out);
  uint32_t i;
  int rc = find_id(&m->lis.ids, li, "li", "LI authorisation", &i, err);
  if (rc) return rc;
  if (m->oom)
    return lisec_err_set(err, LISEC_ENOMEM, "the compliance index is incomplete (out of memory)");
  rc = render_subject(m, SK_LI, i, out);
  if (!rc) rc = render_li_paths(m, i, out);
  if (rc) {
    model_verdict_free(out);
    return lisec_err_set(err, rc, "out of memory");
  }
  *active = m->lis.a[i].active;
  out->allow = out->n == 0;
  return 0;
}
