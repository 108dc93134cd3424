/* Observation beside intent (issue 15; TR 103 308 T.1.4 falsified host
 * reporting, §4.2 known and verified VNFs, O.1.4): what each host last
 * proved it runs, kept apart from where MANO or an operator says a VM
 * runs, and the violations between the two: a VM observed on a host other
 * than its intent, on two hosts, reported by no host for longer than the
 * attestation interval plus grace, a domain no lisec VM id names on a host
 * that carries an LI VM, and an image that is not its package's. Records
 * are keyed by id, never by the model's slot numbers, so hosts and VMs may
 * be added and removed around them without hooks; a record, once made,
 * lives as long as the model (there are at most as many as ids ever
 * observed). Applying one host's inventory touches only that host's
 * domains and the VMs placed on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

enum { O_PLACEMENT = 1, O_DUPLICATE = 2, O_UNREPORTED = 4, O_IMAGE = 8 };

typedef struct odom {
  char *uuid;
  char *vm; /* NULL: none */
  uint8_t state;
  bool has_image, bad_image;
  char image[65];
  char *expected; /* the package's images in words, when the image is bad */
} odom;

typedef struct ohost {
  char *id;
  int64_t at, first_at;
  char ev[65];
  odom *d;
  uint32_t n;
} ohost;

typedef struct ovm {
  char *id;
  idvec hosts; /* ohost records whose inventory lists it (once per listing) */
  int64_t last_seen;
  uint32_t last_host;
  uint32_t mark;
  uint8_t flags; /* kinds found the last time it was judged */
} ovm;

struct mobserve {
  ohost *h;
  uint32_t nh, caph;
  strmap hids;
  ovm *v;
  uint32_t nv, capv;
  strmap vids;
  uint32_t epoch;
};

static const char *const state_names[] = {"running", "paused", "shutoff", "crashed", "other"};

int model_dom_state_parse(const char *s, model_dom_state *out) {
  for (int i = 0; s && i <= MODEL_DOM_OTHER; i++)
    if (strcmp(s, state_names[i]) == 0) {
      *out = (model_dom_state)i;
      return 0;
    }
  return LISEC_EINVAL;
}

const char *model_dom_state_name(model_dom_state s) {
  return (unsigned)s <= MODEL_DOM_OTHER ? state_names[s] : "other";
}

/* Running or paused: the domain occupies the host (a shut-off definition
 * left behind after a migration does not). */
static bool active(uint8_t state) { return state == MODEL_DOM_RUNNING || state == MODEL_DOM_PAUSED; }

static bool hex64(const char *s) {
  if (!s || strnlen(s, 65) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

void observe_free(model *m) {
  struct mobserve *o = m->obs;
  if (!o) return;
  for (uint32_t i = 0; i < o->nh; i++) {
    for (uint32_t k = 0; k < o->h[i].n; k++) {
      free(o->h[i].d[k].uuid);
      free(o->h[i].d[k].vm);
      free(o->h[i].d[k].expected);
    }
    free(o->h[i].d);
    free(o->h[i].id);
  }
  for (uint32_t i = 0; i < o->nv; i++) {
    free(o->v[i].id);
    idvec_free(&o->v[i].hosts);
  }
  free(o->h);
  free(o->v);
  strmap_free(&o->hids);
  strmap_free(&o->vids);
  free(o);
  m->obs = NULL;
}

static struct mobserve *obs_of(model *m) {
  if (!m->obs) m->obs = calloc(1, sizeof *m->obs);
  return m->obs;
}

/* The record of id, made when missing (*out NONE when out of memory). */
static int rec_get(struct mobserve *o, bool host, const char *id, uint32_t *out) {
  strmap *ids = host ? &o->hids : &o->vids;
  if (strmap_get(ids, id, out)) return 0;
  uint32_t i = host ? o->nh : o->nv;
  char *copy = strdup(id);
  int rc = copy ? 0 : LISEC_ENOMEM;
  if (!rc) rc = host ? grow((void **)&o->h, &o->caph, i + 1, sizeof *o->h)
                     : grow((void **)&o->v, &o->capv, i + 1, sizeof *o->v);
  if (!rc) rc = strmap_put(ids, copy, i);
  if (rc) {
    free(copy);
    return LISEC_ENOMEM;
  }
  if (host) {
    memset(&o->h[i], 0, sizeof o->h[i]);
    o->h[i].id = copy;
    o->nh++;
  } else {
    memset(&o->v[i], 0, sizeof o->v[i]);
    o->v[i].id = copy;
    o->v[i].last_host = NONE;
    o->nv++;
  }
  *out = i;
  return 0;
}

/* ---- judging ------------------------------------------------------------- */

static const char *when(int64_t t, char buf[32]) {
  lisec_time_format(t, buf);
  return buf;
}

/* A reason whose requirement is not one of the §6.2 rules: the verdict
 * keeps it under MODEL_RULE_COUNT with its own id. */
static int add(model_verdict *out, const char *req, const char *clauses, const char *subject,
               const char *sentence, const char *fact) {
  int rc = verdict_add(out, MODEL_O13, subject, sentence, fact);
  if (rc) return rc;
  model_reason *r = &out->reasons[out->n - 1];
  r->rule = MODEL_RULE_COUNT;
  r->requirement = req;
  r->clauses = clauses;
  return 0;
}

/* Whether entry i of a list repeats an earlier one (a host listing a VM in
 * two domains appears twice). */
static bool seen_before(const idvec *l, uint32_t i) {
  for (uint32_t j = 0; j < i; j++)
    if (l->v[j] == l->v[i]) return true;
  return false;
}

/* A domain of vm in host record hi's inventory (the first, active first). */
static const odom *listing(const ohost *h, const char *vm) {
  const odom *any = NULL;
  for (uint32_t k = 0; k < h->n; k++) {
    if (!h->d[k].vm || strcmp(h->d[k].vm, vm) != 0) continue;
    if (active(h->d[k].state)) return &h->d[k];
    if (!any) any = &h->d[k];
  }
  return any;
}

/* Judges one VM of the model (x its observation record, NULL when no host
 * ever listed it); renders the kinds in mask into out. */
static uint8_t judge_vm(const model *m, uint32_t v, const ovm *x, int64_t window, uint8_t mask,
                        model_verdict *out, int *rc) {
  const struct mobserve *o = m->obs;
  const mvm *vm = &m->vms.a[v];
  const mhost *dh = &m->hosts.a[vm_host(m, v)];
  const char *hyp = m->hyps.a[vm->hyp].id;
  uint8_t kinds = 0;
  const size_t n0 = out ? out->n : 0; /* no out: the kinds alone (mask 0) */
  char subject[MODEL_ID_MAX + 8], sentence[1024], fact[512], t1[32], t2[32];
  snprintf(subject, sizeof subject, "vm %s", vm->id);
  uint32_t nact = 0, first = NONE, second = NONE;
  bool fresh = false;
  for (uint32_t i = 0; x && i < x->hosts.n; i++) {
    uint32_t hi = x->hosts.v[i];
    const ohost *h = &o->h[hi];
    if (m->now - h->at <= window) fresh = true;
    const odom *d = listing(h, vm->id);
    if (!d || !active(d->state)) continue;
    bool again = seen_before(&x->hosts, i);
    if (!again) {
      nact++;
      if (first == NONE) first = hi;
      else if (second == NONE) second = hi;
    }
    if (!again && strcmp(h->id, dh->id) != 0) {
      kinds |= O_PLACEMENT;
      if ((mask & O_PLACEMENT) && !*rc) {
        snprintf(sentence, sizeof sentence,
                 "VM %s is declared on host %s (hypervisor %s), but host %s's attested inventory "
                 "shows it %s (domain %s) at %s, quote %s",
                 vm->id, dh->id, hyp, h->id, model_dom_state_name(d->state), d->uuid,
                 when(h->at, t1), h->ev);
        snprintf(fact, sizeof fact, "observed host(vm %s) = %s == declared host = %s: false",
                 vm->id, h->id, dh->id);
        *rc = add(out, MODEL_REQ_PLACEMENT, "TR 103 308 T.1.4 (falsified host reporting)",
                  subject, sentence, fact);
      }
    }
    if (!again && d->bad_image) {
      kinds |= O_IMAGE;
      if ((mask & O_IMAGE) && !*rc) {
        snprintf(sentence, sizeof sentence,
                 "VM %s runs image sha256:%s on host %s (attested inventory at %s, quote %s), "
                 "which is not one of its package's images (%s)",
                 vm->id, d->image, h->id, when(h->at, t1), h->ev,
                 d->expected ? d->expected : "none");
        snprintf(fact, sizeof fact, "image(vm %s) = sha256:%.16s... in images(package): false",
                 vm->id, d->image);
        *rc = add(out, MODEL_REQ_IMAGE, "TR 103 308 §4.2 (verified VNFs at boot and run-time)",
                  subject, sentence, fact);
      }
    }
  }
  if (nact >= 2) {
    kinds |= O_DUPLICATE;
    if ((mask & O_DUPLICATE) && !*rc) {
      const ohost *a = &o->h[first], *b = &o->h[second];
      snprintf(sentence, sizeof sentence,
               "VM %s is shown running or paused by %u hosts' attested inventories: host %s at "
               "%s (quote %s) and host %s at %s (quote %s); it is declared on host %s",
               vm->id, nact, a->id, when(a->at, t1), a->ev, b->id, when(b->at, t2), b->ev,
               dh->id);
      snprintf(fact, sizeof fact, "hosts running vm %s = %u <= 1: false", vm->id, nact);
      *rc = add(out, MODEL_REQ_DUPLICATE, "TR 103 308 T.1.4 (falsified host reporting)", subject,
                sentence, fact);
    }
  }
  if (!fresh) {
    /* Since when a report is due: its last one, else the first inventory
     * of the host its intent names (no inventory there: nothing is due). */
    uint32_t dhi = NONE;
    int64_t since = x && x->last_seen ? x->last_seen : 0;
    if (!since && o && strmap_get(&o->hids, dh->id, &dhi)) since = o->h[dhi].first_at;
    if (since && m->now - since > window) {
      kinds |= O_UNREPORTED;
      if ((mask & O_UNREPORTED) && !*rc) {
        if (x && x->last_seen) {
          /* the host that reported it last may have left the model since */
          const ohost *lh = x->last_host != NONE ? &o->h[x->last_host] : NULL;
          snprintf(sentence, sizeof sentence,
                   "VM %s is declared on host %s, but no attested host has reported it since %s "
                   "(last by host %s, quote %s); reports are due within the attestation "
                   "interval plus grace, %lld s",
                   vm->id, dh->id, when(x->last_seen, t1), lh ? lh->id : "(removed)",
                   lh && lh->ev[0] ? lh->ev : "-", (long long)window);
        } else {
          const ohost *h = &o->h[dhi];
          snprintf(sentence, sizeof sentence,
                   "VM %s is declared on host %s, which reports attested inventories since %s "
                   "(latest at %s, quote %s), none of which lists the VM; reports are due "
                   "within the attestation interval plus grace, %lld s",
                   vm->id, dh->id, when(h->first_at, t1), when(h->at, t2), h->ev,
                   (long long)window);
        }
        snprintf(fact, sizeof fact, "now - last report(vm %s) = %lld s <= %lld s: false", vm->id,
                 (long long)(m->now - since), (long long)window);
        *rc = add(out, MODEL_REQ_UNREPORTED, "TR 103 308 T.1.4 (falsified host reporting)",
                  subject, sentence, fact);
      }
    }
  }
  /* each names the VM (and hosts only): marked when it is declared "li" */
  for (size_t i = n0; out && !*rc && vm->cls == MODEL_CLASS_LI && i < out->n; i++)
    *rc = verdict_name_li_at(out, i, vm->id);
  return kinds;
}

/* Whether a host carries a VM declared "li", by intent or by observation.
 * Not for a VM an LI names that is not declared "li": a finding only such
 * a host got would tell every reader of the compliance report that an LI
 * names a VM on it (§4.1); an LI VM not declared "li" fails its LI's rule
 * already (rules.c). */
static bool host_carries_li(const model *m, const ohost *oh) {
  uint32_t h, v;
  if (strmap_get(&m->hosts.ids, oh->id, &h) && m->hosts.a[h].alive) {
    const mhost *x = &m->hosts.a[h];
    for (uint32_t i = 0; i < x->hyps.n; i++) {
      const mhyp *y = &m->hyps.a[x->hyps.v[i]];
      for (uint32_t k = 0; k < y->vms.n; k++) {
        const mvm *z = &m->vms.a[y->vms.v[k]];
        if (z->cls == MODEL_CLASS_LI) return true;
      }
    }
  }
  for (uint32_t k = 0; k < oh->n; k++)
    if (oh->d[k].vm && strmap_get(&m->vms.ids, oh->d[k].vm, &v) &&
        m->vms.a[v].cls == MODEL_CLASS_LI)
      return true;
  return false;
}

static bool known_vm(const model *m, const char *vm) {
  uint32_t v;
  return vm && strmap_get(&m->vms.ids, vm, &v) && m->vms.a[v].alive;
}

/* The unknown domains of a host that carries an LI VM; only those whose
 * UUID is not in skip (the old inventory's unknown ones) when skip given. */
static int judge_host(const model *m, const ohost *h, const strmap *skip, model_verdict *out) {
  if (!host_carries_li(m, h)) return 0;
  char subject[MODEL_ID_MAX + 8], sentence[1024], fact[512], t1[32];
  snprintf(subject, sizeof subject, "host %s", h->id);
  for (uint32_t k = 0; k < h->n; k++) {
    const odom *d = &h->d[k];
    uint32_t dummy;
    if (known_vm(m, d->vm) || (skip && strmap_get(skip, d->uuid, &dummy))) continue;
    char what[MODEL_ID_MAX + 64];
    if (d->vm) snprintf(what, sizeof what, "names VM %s, which is not in the trust model", d->vm);
    else snprintf(what, sizeof what, "carries no lisec VM id");
    snprintf(sentence, sizeof sentence,
             "host %s, which carries an LI VM, runs domain %s (%s), which %s (attested "
             "inventory at %s, quote %s); only known VMs may share a host with an LI VM",
             h->id, d->uuid, model_dom_state_name(d->state), what, when(h->at, t1), h->ev);
    snprintf(fact, sizeof fact, "known(domain %s on host %s): false", d->uuid, h->id);
    int rc = add(out, MODEL_REQ_UNKNOWN_DOMAIN, "TR 103 308 §4.2 (only known VMs with LI VMs)",
                 subject, sentence, fact);
    /* the VM it names is not a live one of the model; one that is yet in
     * its table with sensitivity "li" is marked all the same */
    uint32_t v;
    if (!rc && d->vm && strmap_get(&m->vms.ids, d->vm, &v)) rc = verdict_name_vm(out, m, v);
    if (rc) return rc;
  }
  return 0;
}

/* ---- applying an inventory ------------------------------------------------- */

static int check_obs(const model *m, const model_observation *ob, uint32_t *h, lisec_err *err) {
  if (!ob || !ob->host) return lisec_err_set(err, LISEC_EINVAL, "host: required");
  int rc = find_id(&m->hosts.ids, ob->host, "host", "host", h, err);
  if (rc) return rc;
  if (ob->n > MODEL_OBS_DOMAINS_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "domains: %zu, at most %u", ob->n,
                         MODEL_OBS_DOMAINS_MAX);
  if (ob->n && !ob->domains) return lisec_err_set(err, LISEC_EINVAL, "domains: missing");
  if (!ob->evidence || strlen(ob->evidence) > 64)
    return lisec_err_set(err, LISEC_EINVAL, "evidence: required, at most 64 characters");
  for (size_t i = 0; i < ob->n; i++) {
    const model_obs_domain *d = &ob->domains[i];
    if (!d->uuid || strnlen(d->uuid, 64) >= 64)
      return lisec_err_set(err, LISEC_EINVAL, "domains[%zu].uuid: required, under 64 bytes", i);
    if (d->vm && !id_valid(d->vm)) return id_check("domains[].vm", d->vm, err);
    if ((unsigned)d->state > MODEL_DOM_OTHER)
      return lisec_err_set(err, LISEC_EINVAL, "domains[%zu].state: unknown", i);
    if (d->image && !hex64(d->image))
      return lisec_err_set(err, LISEC_EINVAL, "domains[%zu].image: 64 lower-case hex", i);
    if (d->n_expected > MODEL_OBS_EXPECTED_MAX || (d->n_expected && !d->expected))
      return lisec_err_set(err, LISEC_EINVAL, "domains[%zu].expected: at most %u digests", i,
                           MODEL_OBS_EXPECTED_MAX);
    for (size_t k = 0; k < d->n_expected; k++)
      if (!hex64(d->expected[k]))
        return lisec_err_set(err, LISEC_EINVAL, "domains[%zu].expected[%zu]: 64 lower-case hex",
                             i, k);
  }
  return 0;
}

/* The image judged against the package's (none given: not judged). */
static int dom_fill(odom *o, const model_obs_domain *d) {
  memset(o, 0, sizeof *o);
  o->state = (uint8_t)d->state;
  o->uuid = strdup(d->uuid);
  o->vm = d->vm ? strdup(d->vm) : NULL;
  if (!o->uuid || (d->vm && !o->vm)) return LISEC_ENOMEM;
  if (!d->image) return 0;
  o->has_image = true;
  memcpy(o->image, d->image, 65);
  if (!d->n_expected) return 0;
  for (size_t k = 0; k < d->n_expected; k++)
    if (strcmp(d->expected[k], d->image) == 0) return 0;
  o->bad_image = true;
  size_t cap = d->n_expected * 80 + 1;
  if (!(o->expected = malloc(cap))) return LISEC_ENOMEM;
  size_t off = 0;
  for (size_t k = 0; k < d->n_expected; k++)
    off += (size_t)snprintf(o->expected + off, cap - off, "%ssha256:%s", k ? ", " : "",
                            d->expected[k]);
  return 0;
}

static void touch(struct mobserve *o, uint32_t vi, idvec *list) {
  if (o->v[vi].mark == o->epoch) return;
  o->v[vi].mark = o->epoch;
  idvec_push(list, vi);
}

int model_observe_host(model *m, const model_observation *ob, int64_t window_s,
                       model_verdict *found, lisec_err *err) {
  uint32_t h, hi, vi;
  int rc = check_obs(m, ob, &h, err);
  if (rc) return rc;
  struct mobserve *o = obs_of(m);
  if (!o || rec_get(o, true, ob->host, &hi)) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  odom *nd = calloc(ob->n ? ob->n : 1, sizeof *nd);
  if (!nd) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < ob->n && !rc; i++) rc = dom_fill(&nd[i], &ob->domains[i]);
  idvec touched = {0};
  strmap old_unknown = {0};
  if (++o->epoch == 0) o->epoch = 1;
  /* Every VM record the new inventory needs, before anything changes, so
   * that running out of memory leaves the old observation whole. */
  for (size_t i = 0; i < ob->n && !rc; i++)
    if (nd[i].vm) rc = rec_get(o, false, nd[i].vm, &vi);
  ohost *x = &o->h[hi];
  for (uint32_t k = 0; k < x->n && !rc; k++)
    if (!known_vm(m, x->d[k].vm)) rc = strmap_put(&old_unknown, x->d[k].uuid, k);
  if (rc) {
    for (size_t i = 0; i < ob->n; i++) {
      free(nd[i].uuid);
      free(nd[i].vm);
      free(nd[i].expected);
    }
    free(nd);
    strmap_free(&old_unknown);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  /* What the host said before stops counting. */
  for (uint32_t k = 0; k < x->n; k++) {
    if (x->d[k].vm && strmap_get(&o->vids, x->d[k].vm, &vi)) {
      idvec_del(&o->v[vi].hosts, hi);
      touch(o, vi, &touched);
    }
  }
  odom *old = x->d;
  uint32_t nold = x->n;
  x->d = nd;
  x->n = (uint32_t)ob->n;
  x->at = ob->at;
  if (!x->first_at) x->first_at = ob->at;
  snprintf(x->ev, sizeof x->ev, "%s", ob->evidence);
  for (uint32_t k = 0; k < x->n; k++) {
    if (!x->d[k].vm || !strmap_get(&o->vids, x->d[k].vm, &vi)) continue;
    ovm *r = &o->v[vi];
    if (idvec_push(&r->hosts, hi)) m->oom = true;
    if (ob->at >= r->last_seen) {
      r->last_seen = ob->at;
      r->last_host = hi;
    }
    touch(o, vi, &touched);
  }
  /* The VMs whose intent places them here: their reports are due here. */
  const mhost *mh = &m->hosts.a[h];
  for (uint32_t i = 0; i < mh->hyps.n; i++) {
    const mhyp *y = &m->hyps.a[mh->hyps.v[i]];
    for (uint32_t k = 0; k < y->vms.n; k++)
      if (!rec_get(o, false, m->vms.a[y->vms.v[k]].id, &vi)) touch(o, vi, &touched);
  }
  /* Judge what was touched; only what is new goes to found. */
  model_verdict sink = {0};
  model_verdict *dst = found ? found : &sink;
  for (uint32_t i = 0; i < touched.n && !rc; i++) {
    ovm *r = &o->v[touched.v[i]];
    uint32_t v;
    if (!strmap_get(&m->vms.ids, r->id, &v) || !m->vms.a[v].alive) {
      r->flags = 0;
      continue;
    }
    uint8_t kinds = judge_vm(m, v, r, window_s, 0, NULL, &rc);
    uint8_t fresh_kinds = kinds & (uint8_t)~r->flags;
    if (fresh_kinds && found) judge_vm(m, v, r, window_s, fresh_kinds, dst, &rc);
    r->flags = kinds;
  }
  if (!rc && found) rc = judge_host(m, x, &old_unknown, found);
  model_verdict_free(&sink);
  for (uint32_t k = 0; k < nold; k++) {
    free(old[k].uuid);
    free(old[k].vm);
    free(old[k].expected);
  }
  free(old);
  idvec_free(&touched);
  strmap_free(&old_unknown);
  if (rc) return lisec_err_set(err, rc, "judging the observation: out of memory");
  return 0;
}

int model_observe_reconcile(model *m, int64_t window_s, model_verdict *out) {
  const struct mobserve *o = m->obs;
  if (!o) return 0; /* no host ever reported: nothing to compare */
  int rc = 0;
  for (uint32_t v = 0; v < m->vms.n && !rc; v++) {
    if (!m->vms.a[v].alive) continue;
    uint32_t vi;
    const ovm *x = strmap_get(&o->vids, m->vms.a[v].id, &vi) ? &o->v[vi] : NULL;
    judge_vm(m, v, x, window_s, 0xff, out, &rc);
  }
  for (uint32_t i = 0; i < o->nh && !rc; i++) rc = judge_host(m, &o->h[i], NULL, out);
  return rc;
}

bool model_vm_observed(const model *m, const char *vm, model_vm_observation *out) {
  const struct mobserve *o = m->obs;
  uint32_t vi;
  memset(out, 0, sizeof *out);
  if (!o || !vm || !strmap_get(&o->vids, vm, &vi)) return false;
  const ovm *x = &o->v[vi];
  const ohost *best = NULL;
  const odom *bd = NULL;
  bool best_active = false;
  for (uint32_t i = 0; i < x->hosts.n; i++) {
    const ohost *h = &o->h[x->hosts.v[i]];
    const odom *d = listing(h, vm);
    if (!d) continue;
    bool act = active(d->state);
    if (seen_before(&x->hosts, i)) continue;
    if (act) out->n_hosts++;
    if (!best || (act && !best_active) || (act == best_active && h->at > best->at)) {
      best = h;
      bd = d;
      best_active = act;
    }
  }
  if (!best) return false;
  out->host = out->n_hosts > 1 ? NULL : best->id;
  out->state = (model_dom_state)bd->state;
  out->image = bd->has_image ? bd->image : NULL;
  out->at = best->at;
  out->evidence = best->ev;
  return true;
}

bool model_host_observed(const model *m, const char *host, int64_t *at, int64_t *first_at) {
  uint32_t hi;
  if (!m->obs || !host || !strmap_get(&m->obs->hids, host, &hi)) return false;
  /* forgotten (model_observe_forget keeps the slot): it reports nothing
   * now, and starts afresh when it does */
  if (m->obs->h[hi].at == 0 && m->obs->h[hi].first_at == 0) return false;
  if (at) *at = m->obs->h[hi].at;
  if (first_at) *first_at = m->obs->h[hi].first_at;
  return true;
}

void model_observe_forget(model *m, const char *host) {
  struct mobserve *o = m->obs;
  uint32_t hi, vi;
  if (!o || !host || !strmap_get(&o->hids, host, &hi)) return;
  ohost *x = &o->h[hi];
  for (uint32_t k = 0; k < x->n; k++) {
    if (x->d[k].vm && strmap_get(&o->vids, x->d[k].vm, &vi)) {
      idvec_del(&o->v[vi].hosts, hi);
      if (o->v[vi].last_host == hi) o->v[vi].last_host = NONE;
    }
    free(x->d[k].uuid);
    free(x->d[k].vm);
    free(x->d[k].expected);
  }
  free(x->d);
  x->d = NULL;
  x->n = 0;
  x->at = x->first_at = 0;
  x->ev[0] = '\0';
}

void model_host_observed_since(model *m, const char *host, int64_t first_at) {
  uint32_t hi;
  if (m->obs && host && strmap_get(&m->obs->hids, host, &hi) && first_at > 0 &&
      first_at < m->obs->h[hi].first_at)
    m->obs->h[hi].first_at = first_at;
}

static bool hyp_declares_li(const model *m, const mhyp *y) {
  for (uint32_t k = 0; k < y->vms.n; k++)
    if (m->vms.a[y->vms.v[k]].cls == MODEL_CLASS_LI) return true;
  return false;
}

bool model_hyp_declares_li(const model *m, const char *hyp) {
  uint32_t y;
  return hyp && strmap_get(&m->hyps.ids, hyp, &y) && m->hyps.a[y].alive && hyp_declares_li(m, &m->hyps.a[y]);
}

bool model_host_declares_li(const model *m, const char *host) {
  uint32_t h;
  if (!host || !strmap_get(&m->hosts.ids, host, &h) || !m->hosts.a[h].alive) return false;
  const mhost *x = &m->hosts.a[h];
  for (uint32_t i = 0; i < x->hyps.n; i++)
    if (hyp_declares_li(m, &m->hyps.a[x->hyps.v[i]])) return true;
  return false;
}

/* Calls fn with each VM that host runs, by intent (on its hypervisors) or
 * by its attested inventory; a VM may come twice. */
typedef void host_vm_fn(const model *m, const mvm *x, json_t *set);
static void each_host_vm(const model *m, const char *host, host_vm_fn *fn, json_t *set) {
  uint32_t h, hi, v;
  if (host && strmap_get(&m->hosts.ids, host, &h) && m->hosts.a[h].alive) {
    const mhost *x = &m->hosts.a[h];
    for (uint32_t i = 0; i < x->hyps.n; i++) {
      const mhyp *y = &m->hyps.a[x->hyps.v[i]];
      for (uint32_t k = 0; k < y->vms.n; k++) fn(m, &m->vms.a[y->vms.v[k]], set);
    }
  }
  if (!m->obs || !host || !strmap_get(&m->obs->hids, host, &hi)) return;
  const ohost *oh = &m->obs->h[hi];
  for (uint32_t k = 0; k < oh->n; k++)
    if (oh->d[k].vm && strmap_get(&m->vms.ids, oh->d[k].vm, &v) && m->vms.a[v].alive)
      fn(m, &m->vms.a[v], set);
}

static void add_li_vm(const model *m, const mvm *x, json_t *set) {
  (void)m;
  if (x->cls == MODEL_CLASS_LI) json_object_set_new(set, x->id, json_true());
}

static void add_lis(const model *m, const mvm *x, json_t *set) {
  for (uint32_t i = 0; i < x->lis.n; i++) {
    const mli *l = &m->lis.a[x->lis.v[i]];
    if (l->alive) json_object_set_new(set, l->id, json_true());
  }
}

/* The ids fn adds for the VMs host runs, each once, in the order found. */
static json_t *host_ids(const model *m, const char *host, host_vm_fn *fn) {
  json_t *set = json_object(), *out = json_array(), *v;
  const char *k;
  if (set && out) {
    each_host_vm(m, host, fn, set);
    json_object_foreach(set, k, v) if (json_array_append_new(out, json_string(k))) break;
  }
  if (!set || !out || json_array_size(out) != json_object_size(set)) json_decref(out), out = NULL;
  json_decref(set);
  return out;
}

json_t *model_host_li_vms(const model *m, const char *host) { return host_ids(m, host, add_li_vm); }

json_t *model_host_lis(const model *m, const char *host) { return host_ids(m, host, add_lis); }

static void add_vm(const model *m, const mvm *x, json_t *set) {
  (void)m;
  json_object_set_new(set, x->id, json_true());
}

json_t *model_host_vms(const model *m, const char *host) { return host_ids(m, host, add_vm); }
