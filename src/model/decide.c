/* Decisions: may VM v move to hypervisor h (§6.2 moveVM with every
 * precondition), may a new VM be placed there, may a connection group be
 * established, may storage be provided to a VM. The checks that belong to
 * the target itself (trusted now, inside every involved LI's jurisdiction,
 * protection level, domain) are asked directly, whatever the current state.
 * Everything else is found by applying the change with the index capturing
 * what it re-evaluates, keeping the violations that are new, and undoing
 * the change: the same rule code as compliance(), so a decision and the
 * state after it can never disagree. */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

static int decide_start(model *m, model_verdict *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (m->batch)
    return lisec_err_set(err, LISEC_EINVAL, "the model is loading (batch); decide after it ends");
  if (m->oom)
    return lisec_err_set(err, LISEC_ENOMEM,
                         "the compliance index is incomplete (out of memory); refusing to decide");
  return 0;
}

static int decide_finish(model *m, model_verdict *out, int rc, lisec_err *err) {
  if (rc == 0 && m->oom) rc = LISEC_ENOMEM;
  if (rc) {
    model_verdict_free(out);
    return lisec_err_set(err, rc, "deciding: %s", rc == LISEC_ENOMEM ? "out of memory" : "failed");
  }
  out->allow = out->n == 0;
  return 0;
}

static int add_viol(const model *m, model_verdict *out, uint8_t rule, uint8_t code, uint32_t vm,
                    uint32_t hyp, uint32_t host, uint32_t li) {
  mviol x = {.rule = rule, .code = code, .sk = SK_VM, .subj = vm, .e = {hyp, host, li}};
  return render_viol(m, &x, out);
}

/* Rules a move's direct checks already answer for the target; their
 * post-move counterparts would only repeat the same fact. */
#define MOVE_DIRECT                                                                        \
  ((1u << MODEL_R1) | (1u << MODEL_R2) | (1u << MODEL_R3) | (1u << MODEL_R8) |             \
   (1u << MODEL_R9) | (1u << MODEL_O13) | (1u << MODEL_STORE))

/* TR103308-4.2-STORE for a VM that utilises the storage of active LIs
 * besides their own storage VM and LI VM (those are R11's, above): the
 * target has to lie inside each such LI's jurisdiction, whether the VM is
 * allowed there or not (a VM that should not have the data takes it
 * abroad all the same). The target's trust is MOVE2's (and R11's). */
static int store_users_target(model *m, uint32_t v, uint32_t h, uint32_t hw, model_verdict *out) {
  const mvm *x = &m->vms.a[v];
  const mhost *t = &m->hosts.a[hw];
  int rc = 0;
  for (uint32_t a = 0; a < x->attach.n && !rc; a++) {
    const idvec *ls = &m->stores.a[m->attach.a[x->attach.v[a]].storage].lis;
    for (uint32_t i = 0; i < ls->n && !rc; i++) {
      const mli *l = &m->lis.a[ls->v[i]];
      uint8_t code;
      if (l->active && li_store_other(l, v) && (code = hw_where(m, t, &m->jurs.a[l->jur])) &&
          code != F_LOC_UNKNOWN) /* no location: the target's trust, MOVE2 */
        rc = add_viol(m, out, MODEL_STORE, code, v, h, hw, ls->v[i]);
    }
  }
  return rc;
}

/* Moves v with a scope of only what the usability of the groups with an
 * IPC hop at v decides: the path rules that have those groups' ends as
 * their pair. */
static void vm_move_paths(model *m, uint32_t v, uint32_t hyp) {
  scope_begin(m);
  const idvec *cs = &m->vms.a[v].conns;
  for (uint32_t i = 0; i < cs->n; i++) {
    const mconn *c = &m->conns.a[cs->v[i]];
    if (c->kind != MODEL_CONN_IPC) continue;
    scope_add_conn_paths(m, cs->v[i]);
    for (uint32_t k = 0; k < c->groups.n; k++) scope_add_group_paths(m, c->groups.v[k]);
  }
  vm_place(m, v, hyp);
  scope_commit(m);
}

/* The hash of an id, for the prefetch and then the lookup (find_id_h;
 * bounded like id_valid: a bad id gets some hash, no key matches it, and it
 * is refused by find_id). */
static uint32_t id_hash(const char *id) {
  uint32_t h = STRMAP_HASH0;
  for (size_t n = 0; id && n <= MODEL_ID_MAX && id[n]; n++) h = strmap_step(h, (unsigned char)id[n]);
  return h;
}

int model_decide_move(model *m, const char *vm, const char *hyp, model_verdict *out,
                      lisec_err *err) {
  uint32_t v, h;
  /* A decision's first loads (the two map slots, the two ids, the VM and
   * the hypervisor) are independent: asked for together, their misses
   * overlap instead of following one another. */
  uint32_t hv = id_hash(vm), hh = id_hash(hyp);
  strmap_touch(&m->vms.ids, hv);
  strmap_touch(&m->hyps.ids, hh);
  uint32_t gv = strmap_guess(&m->vms.ids, hv), gh = strmap_guess(&m->hyps.ids, hh);
  if (gv < m->vms.n) __builtin_prefetch(&m->vms.a[gv]);
  if (gh < m->hyps.n) __builtin_prefetch(&m->hyps.a[gh]);
  int rc = decide_start(m, out, err);
  if (rc || (rc = find_id_h(&m->vms.ids, vm, hv, "vm", "VM", &v, err)) ||
      (rc = find_id_h(&m->hyps.ids, hyp, hh, "hypervisor", "hypervisor", &h, err)))
    return rc;
  return decide_move_impl(m, v, h, out, false, err);
}

int decide_move_impl(model *m, uint32_t v, uint32_t h, model_verdict *out, bool generic,
                     lisec_err *err) {
  int rc = 0;
  memset(out, 0, sizeof *out);
  const mvm *x = &m->vms.a[v];
  uint32_t hw = m->hyps.a[h].host;
  __builtin_prefetch(x->lis.v);
  const mhost *t = &m->hosts.a[hw];
  __builtin_prefetch(t);
  /* Where v runs is what a host last proved when one did (issue 15): it
   * already runs on the target when the target's host shows it, and a VM
   * declared on the target but observed elsewhere is really moved there.
   * Only running or paused counts as running there (moveVM's v.runsOn): a
   * definition left shut off on a host is not the VM on it, as the
   * placement rule reads it too (observe.c). */
  model_vm_observation ob;
  bool observed = model_vm_observed(m, x->id, &ob) && ob.host &&
                  (ob.state == MODEL_DOM_RUNNING || ob.state == MODEL_DOM_PAUSED);
  /* Already there is MOVE1, and the checks of the target still follow:
   * a scheduler reads MOVE1 alone as "recorded there, no objection" (the
   * Kubernetes extender, the Nova filter), so it must not hide that the
   * target's trust lapsed or that it lies outside an LI's jurisdiction. */
  bool same = false;
  if (observed && strcmp(ob.host, t->id) == 0) {
    char subj[MODEL_ID_MAX + 8], sentence[768], fact[512], at[32];
    lisec_time_format(ob.at, at);
    snprintf(subj, sizeof subj, "vm %s", x->id);
    snprintf(sentence, sizeof sentence,
             "VM %s already runs on host %s of hypervisor %s, as that host's attested inventory "
             "shows (%s at %s, quote %s)",
             x->id, t->id, m->hyps.a[h].id, model_dom_state_name(ob.state), at, ob.evidence);
    snprintf(fact, sizeof fact, "observed host(vm %s) = %s != host(hypervisor %s): false", x->id,
             ob.host, m->hyps.a[h].id);
    rc = verdict_add(out, MODEL_MOVE1, subj, sentence, fact);
    if (!rc) rc = verdict_name_vm(out, m, v);
    same = true;
  } else if (!observed && x->hyp == h) {
    rc = add_viol(m, out, MODEL_MOVE1, F_SAME_HYP, v, h, hw, NONE);
    same = true;
  }
  if (rc) return decide_finish(m, out, rc, err);
  /* The LIs that bind v now: trust and location are judged against each.
   * A VM hosting LIs may have dozens, scattered through memory: their
   * records, then their jurisdictions and ids, are asked for all at once, so
   * the cache misses overlap instead of following one another. */
  for (uint32_t i = 0; i < x->lis.n; i++) __builtin_prefetch(&m->lis.a[x->lis.v[i]]);
  for (uint32_t i = 0; i < x->lis.n; i++) {
    const mli *l = &m->lis.a[x->lis.v[i]];
    __builtin_prefetch(&m->jurs.a[l->jur]);
    __builtin_prefetch(&m->stores.a[l->storage]);
    __builtin_prefetch(l->id);
  }
  for (uint32_t i = 0; i < x->lis.n; i++)
    __builtin_prefetch(m->jurs.a[m->lis.a[x->lis.v[i]].jur].desc);
  if (x->lis.n) __builtin_prefetch(t->where);
  uint32_t first_li = NONE;
  for (uint32_t i = 0; i < x->lis.n && !rc; i++) {
    const mli *l = &m->lis.a[x->lis.v[i]];
    if (!l->active) continue;
    if (first_li == NONE) first_li = x->lis.v[i];
    uint8_t code = hw_where(m, t, &m->jurs.a[l->jur]);
    /* no location is the trust failure's (hw_trust), below, for every VM */
    if (code && code != F_LOC_UNKNOWN) rc = add_viol(m, out, MODEL_R11, code, v, h, hw, x->lis.v[i]);
  }
  if (!rc) rc = store_users_target(m, v, h, hw, out);
  /* Untrusted hardware, or hardware whose trust gives no location, fails
   * moveVM's precondition for every VM alike (MOVE2); for a VM an LI
   * involves it is also R11's, marked so (model_reason.trust): only the
   * LI administration is shown it (ctl/model.c drops it from every other
   * role's view, so that the answer is the same whatever the VM, §4.1). */
  uint8_t code;
  if (!rc && (code = hw_trust(t))) {
    rc = add_viol(m, out, MODEL_MOVE2, code, v, h, hw, NONE);
    if (!rc && first_li != NONE && !(rc = add_viol(m, out, MODEL_R11, code, v, h, hw, first_li)))
      out->reasons[out->n - 1].trust = true;
  }
  /* Retained Data: the obligations naming v (issue 20). */
  if (!rc) rc = rd_decide_target(m, x->id, h, hw, out);
  if (!rc && x->cls > t->protection) {
    mviol o = {.rule = MODEL_O13, .code = F_PROTECTION, .sk = SK_VM, .subj = v, .e = {hw, 0, 0}};
    rc = render_viol(m, &o, out);
  }
  if (rc) return decide_finish(m, out, rc, err);
  /* Connection-path and storage rules after the move. Placement enters the
   * rules only through the location and trust of v's hardware (answered
   * above), its protection (above) and whether v's IPC connections still
   * join VMs on one machine; so only groups with an IPC hop at v can newly
   * fail, and with none there is nothing more to ask. The generic way
   * (re-evaluating everything the move touches) gives the same answer and
   * is what the tests compare against. */
  if (same || (!generic && !x->ipc_grouped) || x->hyp == h) return decide_finish(m, out, 0, err);
  uint32_t from = x->hyp;
  capture_begin(m);
  if (generic) vm_move_idx(m, v, h);
  else vm_move_paths(m, v, h);
  rc = capture_diff(m, MOVE_DIRECT, out);
  capture_end(m);
  if (generic) {
    vm_move_idx(m, v, from);
  } else {
    /* Undone by putting v back and the captured violations with it, rather
     * than by evaluating its neighbourhood a second time. */
    vm_place(m, v, from);
    if (!capture_restore(m)) vm_move_paths(m, v, from);
  }
  return decide_finish(m, out, rc, err);
}

int model_decide_place(model *m, const model_vm_spec *s, model_verdict *out, lisec_err *err) {
  uint32_t h, v;
  int rc = decide_start(m, out, err);
  if (rc) return rc;
  if (!id_valid(s->id)) return id_check("id", s->id, err);
  if (strmap_get(&m->vms.ids, s->id, &v))
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "id: VM %s already runs on hypervisor %s; ask for a move instead", s->id,
                         m->hyps.a[m->vms.a[v].hyp].id);
  if ((rc = find_id(&m->hyps.ids, s->hypervisor, "hypervisor", "hypervisor", &h, err))) return rc;
  if ((unsigned)s->sensitivity > MODEL_CLASS_LI)
    return lisec_err_set(err, LISEC_EINVAL, "sensitivity: must be general, sensitive or li");
  if (!id_valid(s->domain)) return id_check("domain", s->domain, err);
  uint32_t hw = m->hyps.a[h].host;
  const mhost *t = &m->hosts.a[hw];
  char subj[MODEL_ID_MAX + 8], sentence[768], fact[512];
  snprintf(subj, sizeof subj, "vm %s", s->id);
  if (!host_trusted(t)) {
    snprintf(sentence, sizeof sentence,
             "VM %s may be placed only on trusted hardware; hypervisor %s runs on host %s, which "
             "is not trusted (%s%s)",
             s->id, m->hyps.a[h].id, t->id, model_trust_name(t->trust),
             t->loc.known ? "" : "; no location");
    snprintf(fact, sizeof fact, "h.executesOn.trusted: host %s: false", t->id);
    rc |= verdict_add(out, MODEL_MOVE2, subj, sentence, fact);
  }
  if (s->sensitivity > t->protection) {
    snprintf(sentence, sizeof sentence,
             "VM %s has sensitivity %s; host %s's protection level admits VNFs up to %s", s->id,
             model_class_name(s->sensitivity), t->id, model_class_name(t->protection));
    snprintf(fact, sizeof fact, "class(vm %s) = %s <= protection(host %s) = %s: false", s->id,
             model_class_name(s->sensitivity), t->id, model_class_name(t->protection));
    rc |= verdict_add(out, MODEL_O13, subj, sentence, fact);
  }
  /* A declared RD function is placed only inside its obligation's
   * jurisdiction, on trusted hardware (issue 20). */
  if (rd_decide_target(m, s->id, h, hw, out)) rc |= 1;
  uint32_t d;
  if (strmap_get(&m->domains.ids, s->domain, &d)) {
    const mdomain *dm = &m->domains.a[d];
    bool li = s->sensitivity == MODEL_CLASS_LI;
    const idvec *opp = li ? &dm->other : &dm->li;
    if (opp->n) {
      snprintf(sentence, sizeof sentence,
               "security domain %s holds %s VMs (e.g. %s); VM %s, %s an LI VM, may not join it",
               dm->name, li ? "non-LI" : "LI", m->vms.a[opp->v[0]].id, s->id, li ? "" : "not");
      snprintf(fact, sizeof fact, "domain %s holds only %s VMs after placing %s: false", dm->name,
               li ? "LI" : "non-LI", s->id);
      rc |= verdict_add(out, MODEL_DOMAIN, subj, sentence, fact);
      if (!rc) rc |= verdict_name_vm(out, m, opp->v[0]);
    }
  }
  /* every reason names the VM placed: marked when it is declared "li"
   * (model_reason.li_vms) */
  for (size_t i = 0; !rc && s->sensitivity == MODEL_CLASS_LI && i < out->n; i++)
    rc |= verdict_name_li_at(out, i, s->id);
  return decide_finish(m, out, rc ? LISEC_ENOMEM : 0, err);
}

int model_decide_connect(model *m, const model_group_spec *g, const model_conn_spec *new_conns,
                         size_t n_new, model_verdict *out, lisec_err *err) {
  int rc = decide_start(m, out, err);
  if (rc) return rc;
  if (n_new > MODEL_GROUP_HOPS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "connections: more than %d new connections",
                         MODEL_GROUP_HOPS_MAX);
  uint32_t x;
  if (id_valid(g->id) && strmap_get(&m->groups.ids, g->id, &x))
    return lisec_err_set(err, LISEC_ECONFLICT, "id: connection group %s exists already", g->id);
  for (size_t i = 0; i < n_new; i++) {
    if (id_valid(new_conns[i].id) && strmap_get(&m->conns.ids, new_conns[i].id, &x))
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "new_connections[%zu].id: connection %s exists already", i,
                           new_conns[i].id);
    for (size_t k = 0; k < i; k++)
      if (new_conns[k].id && new_conns[i].id && strcmp(new_conns[k].id, new_conns[i].id) == 0)
        return lisec_err_set(err, LISEC_EINVAL, "new_connections[%zu].id: listed twice", i);
  }
  capture_begin(m);
  size_t added = 0;
  bool grouped = false;
  for (; added < n_new && !rc; added++) {
    rc = model_conn_put(m, &new_conns[added], err);
    if (rc) lisec_err_wrap(err, "new_connections[%zu]", added);
  }
  if (rc) added--;
  if (!rc) {
    rc = model_group_put(m, g, err);
    grouped = rc == 0;
  }
  if (!rc) rc = capture_diff(m, 0, out);
  capture_end(m);
  if (grouped) model_group_remove(m, g->id, NULL);
  while (added--) model_conn_remove(m, new_conns[added].id, NULL);
  if (rc && out->n == 0 && err && err->code == rc) {
    model_verdict_free(out);
    return rc; /* bad input: the reason is already in err */
  }
  return decide_finish(m, out, rc, err);
}

int model_decide_attach(model *m, const char *storage, const char *vm, model_verdict *out,
                        lisec_err *err) {
  uint32_t s, v;
  int rc = decide_start(m, out, err);
  if (rc || (rc = find_id(&m->stores.ids, storage, "storage", "storage", &s, err)) ||
      (rc = find_id(&m->vms.ids, vm, "vm", "VM", &v, err)))
    return rc;
  const idvec *l = &m->vms.a[v].attach;
  for (uint32_t i = 0; i < l->n; i++)
    if (m->attach.a[l->v[i]].storage == s) return decide_finish(m, out, 0, err);
  capture_begin(m);
  rc = model_storage_attach(m, storage, vm, err);
  bool attached = rc == 0;
  if (!rc) rc = capture_diff(m, 0, out);
  capture_end(m);
  if (attached) model_storage_detach(m, storage, vm, NULL);
  else return rc; /* refused as bad input; err says why */
  return decide_finish(m, out, rc, err);
}

int model_resolve_target(const model *m, const char *name, const char **hyp, lisec_err *err) {
  uint32_t i;
  if (!id_valid(name)) return id_check("target", name, err);
  if (strmap_get(&m->hyps.ids, name, &i)) {
    *hyp = m->hyps.a[i].id;
    return 0;
  }
  if (!strmap_get(&m->hosts.ids, name, &i))
    return lisec_err_set(err, LISEC_ENOTFOUND, "target: no hypervisor or host \"%s\"", name);
  const mhost *h = &m->hosts.a[i];
  if (h->hyps.n != 1)
    return lisec_err_set(err, LISEC_EINVAL,
                         "target: host %s runs %u hypervisors; name the hypervisor", name,
                         h->hyps.n);
  *hyp = m->hyps.a[h->hyps.v[0]].id;
  return 0;
}
