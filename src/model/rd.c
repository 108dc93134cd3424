/* Retained Data in the model (issue 20; TR 103 308 §5.7, §5.8): retention
 * obligations beside the LI authorisations. An obligation is issued under a
 * jurisdiction and names, by id, the RD functions (the VMs that store and
 * query retained data) and the RD stores (storage) serving it, with the
 * length of one data-key period and how long data is retained after its
 * period ends. The §6.2 rules are applied to them with requirement ids of
 * their own (TR103308-5.8-RD-R*): RD functions and the VMs providing or
 * utilising RD stores run on trusted hardware located inside the
 * obligation's jurisdiction, and a placement or migration of one of them is
 * judged against it. Obligations are few next to VMs, so they are kept in a
 * plain table and judged on demand (compliance, a decision about a VM an
 * obligation names, a key request); nothing here enters the incremental
 * index, whose cost for a platform without RD stays what it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

typedef struct mrd {
  char *id;
  char *jur;
  char **fn, **st;
  size_t nfn, nst;
  int64_t period_s, retention_s, from;
} mrd;

struct mrdset {
  mrd *a;
  size_t n, cap;
};

static void rd_clear(mrd *o) {
  for (size_t i = 0; i < o->nfn; i++) free(o->fn[i]);
  for (size_t i = 0; i < o->nst; i++) free(o->st[i]);
  free(o->fn);
  free(o->st);
  free(o->id);
  free(o->jur);
  memset(o, 0, sizeof *o);
}

void rd_free(model *m) {
  if (!m->rd) return;
  for (size_t i = 0; i < m->rd->n; i++) rd_clear(&m->rd->a[i]);
  free(m->rd->a);
  free(m->rd);
  m->rd = NULL;
}

static mrd *rd_find(const model *m, const char *id) {
  if (!m->rd || !id) return NULL;
  for (size_t i = 0; i < m->rd->n; i++)
    if (strcmp(m->rd->a[i].id, id) == 0) return &m->rd->a[i];
  return NULL;
}

static bool names(char *const *list, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], id) == 0) return true;
  return false;
}

static int copy_ids(const char *field, const char *const *in, size_t n, char ***out,
                    lisec_err *err) {
  *out = NULL;
  if (n > MODEL_RD_MEMBERS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "%s: at most %d ids", field, MODEL_RD_MEMBERS_MAX);
  if (n && !in) return lisec_err_set(err, LISEC_EINVAL, "%s: missing", field);
  for (size_t i = 0; i < n; i++) {
    if (!id_valid(in[i])) {
      char f[64];
      snprintf(f, sizeof f, "%s[%zu]", field, i);
      return id_check(f, in[i], err);
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(in[k], in[i]) == 0)
        return lisec_err_set(err, LISEC_EINVAL, "%s[%zu]: listed twice", field, i);
  }
  char **a = calloc(n ? n : 1, sizeof *a);
  if (!a) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    if (!(a[i] = strdup(in[i]))) {
      while (i--) free(a[i]);
      free(a);
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
  *out = a;
  return 0;
}

int model_rd_put(model *m, const model_rd_spec *s, lisec_err *err) {
  if (!id_valid(s->id)) return id_check("id", s->id, err);
  uint32_t j;
  int rc = find_id(&m->jurs.ids, s->jurisdiction, "jurisdiction", "jurisdiction", &j, err);
  if (rc) return rc;
  if (s->n_functions == 0 && s->n_stores == 0)
    return lisec_err_set(err, LISEC_EINVAL, "functions: an obligation names at least one RD "
                                            "function or RD store");
  if (s->period_s <= 0 || s->period_s > MODEL_RD_SECONDS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "period_s: 1 to %lld seconds",
                         (long long)MODEL_RD_SECONDS_MAX);
  if (s->retention_s <= 0 || s->retention_s > MODEL_RD_SECONDS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "retention_s: 1 to %lld seconds",
                         (long long)MODEL_RD_SECONDS_MAX);
  if (s->valid_from < 0 || s->valid_from > INT64_MAX / 4)
    return lisec_err_set(err, LISEC_EINVAL, "valid_from: seconds since the epoch");
  mrd *old = rd_find(m, s->id);
  if (old) {
    if (old->period_s != s->period_s || old->from != s->valid_from)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "TR103308-5.8-RD-EARLY: period_s and valid_from of an obligation are "
                           "fixed once keys may be bound to them");
    if (s->retention_s < old->retention_s)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "TR103308-5.8-RD-EARLY: retention_s may not be shortened (retained data "
                           "is not deleted early)");
  } else if (m->rd && m->rd->n >= MODEL_RD_OBLIGATIONS_MAX) {
    return lisec_err_set(err, LISEC_ETOOBIG, "more than %u retention obligations",
                         MODEL_RD_OBLIGATIONS_MAX);
  }
  mrd o = {.period_s = s->period_s, .retention_s = s->retention_s, .from = s->valid_from};
  o.nfn = s->n_functions;
  o.nst = s->n_stores;
  if ((rc = copy_ids("functions", s->functions, s->n_functions, &o.fn, err))) return rc;
  if ((rc = copy_ids("stores", s->stores, s->n_stores, &o.st, err))) {
    o.nst = 0;
    rd_clear(&o);
    return rc;
  }
  o.id = strdup(s->id);
  o.jur = strdup(s->jurisdiction);
  if (!o.id || !o.jur) {
    rd_clear(&o);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (old) {
    rd_clear(old);
    *old = o;
    return 0;
  }
  if (!m->rd && !(m->rd = calloc(1, sizeof *m->rd))) {
    rd_clear(&o);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  struct mrdset *set = m->rd;
  if (set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 8;
    mrd *a = realloc(set->a, cap * sizeof *a);
    if (!a) {
      rd_clear(&o);
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    set->a = a;
    set->cap = cap;
  }
  set->a[set->n++] = o;
  return 0;
}

int model_rd_remove(model *m, const char *id, lisec_err *err) {
  mrd *o = rd_find(m, id);
  if (!o) return lisec_err_set(err, LISEC_ENOTFOUND, "rd: no retention obligation \"%.128s\"", id ? id : "");
  rd_clear(o);
  *o = m->rd->a[--m->rd->n];
  return 0;
}

size_t model_rd_count(const model *m) { return m->rd ? m->rd->n : 0; }

static json_t *str_array(char *const *a, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, json_string(a[i]))) {
      json_decref(arr);
      return NULL;
    }
  return arr;
}

json_t *model_rd_json(const model *m, const char *id) {
  const mrd *o = rd_find(m, id);
  if (!o) return NULL;
  return json_pack("{s:s, s:s, s:o*, s:o*, s:I, s:I, s:I}", "id", o->id, "jurisdiction", o->jur,
                   "functions", str_array(o->fn, o->nfn), "stores", str_array(o->st, o->nst),
                   "period_s", (json_int_t)o->period_s, "retention_s", (json_int_t)o->retention_s,
                   "valid_from", (json_int_t)o->from);
}

bool model_rd_refers_jurisdiction(const model *m, const char *jur) {
  for (size_t i = 0; m->rd && jur && i < m->rd->n; i++)
    if (strcmp(m->rd->a[i].jur, jur) == 0) return true;
  return false;
}

/* Whether VM v (an index) provides or utilises storage named st. */
static bool vm_serves_store(const model *m, uint32_t v, const char *st) {
  uint32_t s;
  if (!strmap_get(&m->stores.ids, st, &s)) return false;
  const mstorage *x = &m->stores.a[s];
  if (x->root == v) return true;
  for (uint32_t i = 0; i < x->attach.n; i++)
    if (m->attach.a[x->attach.v[i]].user == v) return true;
  return false;
}

/* Whether obligation o involves VM vm_id (index v, or NONE when the VM is
 * not in the model yet: then only as a named function). */
static bool rd_involves(const model *m, const mrd *o, const char *vm_id, uint32_t v) {
  if (names(o->fn, o->nfn, vm_id)) return true;
  for (size_t k = 0; v != NONE && k < o->nst; k++)
    if (vm_serves_store(m, v, o->st[k])) return true;
  return false;
}

/* ---- evaluation ----------------------------------------------------------- */

static const mjur *rd_jur(const model *m, const mrd *o) {
  uint32_t j;
  return strmap_get(&m->jurs.ids, o->jur, &j) ? &m->jurs.a[j] : NULL;
}

/* Trust (rule_trust) and location (rule_loc) of the hardware running VM v
 * in its role ("RD function", "provider of RD store s", ...). */
static int judge_vm(const model *m, const mrd *o, const mjur *j, uint32_t v, const char *role,
                    model_rule rule_trust, model_rule rule_loc, model_verdict *out) {
  const mvm *x = &m->vms.a[v];
  const mhost *h = &m->hosts.a[vm_host(m, v)];
  char subj[MODEL_ID_MAX + 8], sentence[1024], fact[512], where[96];
  snprintf(subj, sizeof subj, "rd %s", o->id);
  render_loc(h, where, sizeof where);
  int rc = 0;
  if (rule_trust != MODEL_RULE_COUNT && hw_trust(h)) {
    snprintf(sentence, sizeof sentence,
             "retention obligation %s: %s VM %s runs on host %s, which is not trusted (%s%s)",
             o->id, role, x->id, h->id, model_trust_name(h->trust),
             h->loc.known ? "" : "; no location");
    snprintf(fact, sizeof fact, "trusted(host %s) and location known: false", h->id);
    rc |= verdict_add(out, rule_trust, subj, sentence, fact);
    if (!rc) rc |= verdict_name_vm(out, m, v);
  }
  if (hw_where(m, h, j)) {
    char area[256] = "?";
    if (j) render_jur(j, area, sizeof area);
    snprintf(sentence, sizeof sentence,
             "retention obligation %s is issued in %s; %s VM %s runs on host %s located in %s",
             o->id, area, role, x->id, h->id, where);
    snprintf(fact, sizeof fact, "location(host %s) in jurisdiction %s: false", h->id, o->jur);
    rc |= verdict_add(out, rule_loc, subj, sentence, fact);
    if (!rc) rc |= verdict_name_vm(out, m, v);
  }
  return rc ? LISEC_ENOMEM : 0;
}

int model_rd_compliance(const model *m, model_verdict *out) {
  int rc = 0;
  for (size_t i = 0; m->rd && i < m->rd->n && !rc; i++) {
    const mrd *o = &m->rd->a[i];
    const mjur *j = rd_jur(m, o);
    uint32_t v, s;
    for (size_t k = 0; k < o->nfn && !rc; k++)
      if (strmap_get(&m->vms.ids, o->fn[k], &v))
        rc = judge_vm(m, o, j, v, "RD function", MODEL_RD8, MODEL_RD1, out);
    for (size_t k = 0; k < o->nst && !rc; k++) {
      if (!strmap_get(&m->stores.ids, o->st[k], &s)) continue;
      const mstorage *x = &m->stores.a[s];
      char role[MODEL_ID_MAX + 40];
      snprintf(role, sizeof role, "the provider of RD store %s,", x->id);
      rc = judge_vm(m, o, j, x->root, role, MODEL_RD9, MODEL_RD2, out);
      snprintf(role, sizeof role, "a user of RD store %s,", x->id);
      for (uint32_t a = 0; a < x->attach.n && !rc; a++) {
        uint32_t u = m->attach.a[x->attach.v[a]].user;
        if (u != x->root) rc = judge_vm(m, o, j, u, role, MODEL_RULE_COUNT, MODEL_RD3, out);
      }
    }
  }
  if (!rc) out->allow = out->n == 0;
  return rc;
}

/* A move or placement of VM vm_id onto host hw, for each obligation naming
 * the VM: RD-R11 when the host lies outside the obligation's jurisdiction
 * (shown, redacted, to every role but rd-admin), and RD-R11 when it is not
 * trusted (no location is that failure too), marked as a trust reason
 * (model_reason.trust): TR103308-6.2-MOVE2 says the same for every VM
 * there, and ctl/model.c shows that row to the RD administration only, so
 * that no other role learns from a refusal for trust which VMs an
 * obligation names (§4.1 read for RD). */
int rd_decide_target(const model *m, const char *vm_id, uint32_t hyp, uint32_t hw,
                     model_verdict *out) {
  if (!m->rd) return 0;
  uint32_t v = NONE;
  if (!strmap_get(&m->vms.ids, vm_id, &v)) v = NONE;
  const mhost *t = &m->hosts.a[hw];
  const uint8_t trust = hw_trust(t);
  for (size_t i = 0; i < m->rd->n; i++) {
    const mrd *o = &m->rd->a[i];
    if (!rd_involves(m, o, vm_id, v)) continue;
    const mjur *j = rd_jur(m, o);
    /* no location is the trust failure's, below, for every VM */
    const uint8_t where = hw_where(m, t, j);
    const bool outside = where && where != F_LOC_UNKNOWN;
    if (!trust && !outside) continue;
    char subj[MODEL_ID_MAX + 8], sentence[1024], fact[512], loc[96], area[256] = "?";
    snprintf(subj, sizeof subj, "rd %s", o->id);
    render_loc(t, loc, sizeof loc);
    if (outside) {
      if (j) render_jur(j, area, sizeof area);
      snprintf(sentence, sizeof sentence,
               "VM %s serves retention obligation %s, issued in %s; hypervisor %s runs on host "
               "%s, %s and located in %s",
               vm_id, o->id, area, m->hyps.a[hyp].id, t->id,
               host_trusted(t) ? "trusted" : "not trusted", loc);
      snprintf(fact, sizeof fact,
               "h.executesOn.trusted and location(host %s) in jurisdiction %s: false", t->id,
               o->jur);
      if (verdict_add(out, MODEL_RD11, subj, sentence, fact) || verdict_name_vm(out, m, v))
        return LISEC_ENOMEM;
    }
    if (trust) {
      snprintf(sentence, sizeof sentence,
               "VM %s serves retention obligation %s; hypervisor %s runs on host %s, which is not "
               "trusted (%s%s)",
               vm_id, o->id, m->hyps.a[hyp].id, t->id, model_trust_name(t->trust),
               t->loc.known ? "" : "; no location");
      snprintf(fact, sizeof fact, "h.executesOn.trusted: host %s: false (%s%s)", t->id,
               model_trust_name(t->trust), t->loc.known ? "" : ", no location");
      if (verdict_add(out, MODEL_RD11, subj, sentence, fact) || verdict_name_vm(out, m, v))
        return LISEC_ENOMEM;
      out->reasons[out->n - 1].trust = true;
    }
  }
  return 0;
}

/* ---- keys ------------------------------------------------------------------- */

int64_t model_rd_period_at(int64_t valid_from, int64_t period_s, int64_t t) {
  if (period_s <= 0 || t < valid_from) return -1;
  return (t - valid_from) / period_s;
}

void model_rd_period_window(int64_t valid_from, int64_t period_s, int64_t retention_s, int64_t k,
                            int64_t *start, int64_t *end, int64_t *destroy_at) {
  /* bounded inputs (MODEL_RD_SECONDS_MAX, k from a parsed id): no overflow
   * for any k up to INT64_MAX / 4 / period_s; beyond, saturate */
  int64_t lim = (INT64_MAX / 4 - valid_from) / (period_s > 0 ? period_s : 1) - 1;
  if (k > lim) k = lim;
  *start = valid_from + k * period_s;
  *end = *start + period_s;
  *destroy_at = *end + retention_s;
}

size_t model_rd_stores_obligation(const model *m, const char *store, char *id, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; m->rd && store && i < m->rd->n; i++)
    if (names(m->rd->a[i].st, m->rd->a[i].nst, store)) {
      if (n == 0 && id && cap) snprintf(id, cap, "%s", m->rd->a[i].id);
      n++;
    }
  return n;
}

int model_rd_key_allowed(const model *m, const char *store, const char *vm, const char *host,
                         model_rd_key_grant *out, lisec_err *err) {
  const mrd *o = NULL;
  for (size_t i = 0; m->rd && store && i < m->rd->n && !o; i++)
    if (names(m->rd->a[i].st, m->rd->a[i].nst, store)) o = &m->rd->a[i];
  /* The first obligation naming the store decides: a store serves one. A
   * store no obligation names is refused with the sentence of a VM that is
   * not an RD function of the one that does, so that a host, asking for a
   * VM it runs, cannot tell which storage ids are RD stores. */
  uint32_t v, hw;
  if (!o || !vm || !names(o->fn, o->nfn, vm) || !strmap_get(&m->vms.ids, vm, &v))
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_RD_KEY ": no retention obligation names this store with the "
                                          "requesting VM as one of its RD functions");
  if (!host || !strmap_get(&m->hosts.ids, host, &hw))
    return lisec_err_set(err, LISEC_EDENIED, MODEL_REQ_RD_KEY ": the RD VM's host is not in the model");
  const mhost *h = &m->hosts.a[hw];
  const mjur *j = rd_jur(m, o);
  if (!host_trusted(h))
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_RD_KEY ": the RD VM's host is not attested trusted with a "
                                          "location (TR 103 308 §6.2 req. 8, 12)");
  if (!j || !host_in_jur(m, h, j))
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_RD_KEY ": the RD VM's host is not located inside the "
                                          "obligation's jurisdiction (TR 103 308 §5.8)");
  snprintf(out->obligation, sizeof out->obligation, "%s", o->id);
  out->period_s = o->period_s;
  out->retention_s = o->retention_s;
  out->valid_from = o->from;
  return 0;
}
