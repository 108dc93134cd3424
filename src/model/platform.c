/* The platform facts: physical hosts (trust, location, protection level),
 * the hypervisors on them, and VMs with their class, security domain and
 * placement, plus the slot and id helpers every entity kind uses. Each
 * change validates everything first, then updates the adjacency arrays and
 * re-evaluates only the subjects it touches. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* The model's ids follow lisec's one id rule (base/id.c). */
_Static_assert(MODEL_ID_MAX == LISEC_ID_MAX, "model ids are lisec ids");

bool id_valid(const char *id) { return lisec_id_valid(id); }

int slot_alloc(void **a, uint32_t *n, uint32_t *cap, idvec *freel, size_t sz, uint32_t *out) {
  uint32_t i;
  if (freel->n) {
    i = freel->v[--freel->n];
  } else {
    if (*n >= MODEL_ENTITIES_MAX) return LISEC_ETOOBIG;
    if (grow(a, cap, *n + 1, sz)) return LISEC_ENOMEM;
    i = (*n)++;
  }
  memset((char *)*a + (size_t)i * sz, 0, sz);
  *out = i;
  return 0;
}

void slot_release(uint32_t *n, idvec *freel, uint32_t i) {
  if (i + 1 == *n) (*n)--;
  else (void)idvec_push(freel, i); /* on failure the slot stays unused */
}

int find_id(const strmap *ids, const char *id, const char *field, const char *kind, uint32_t *out,
            lisec_err *err) {
  if (!id) return lisec_err_set(err, LISEC_EINVAL, "%s: required", field);
  /* id_valid and the map's hash in one pass over the id: every decision
   * starts with two of these. */
  uint32_t h = STRMAP_HASH0;
  size_t n = 0;
  for (; n <= MODEL_ID_MAX && id[n]; n++) {
    unsigned char c = (unsigned char)id[n];
    if (!lisec_id_char(c, n)) break;
    h = strmap_step(h, c);
  }
  if (n == 0 || n > MODEL_ID_MAX || id[n])
    return lisec_id_check(field, id, strnlen(id, MODEL_ID_MAX + 1), err);
  if (!strmap_get_h(ids, id, h, out))
    return lisec_err_set(err, LISEC_ENOTFOUND, "%s: unknown %s \"%s\"", field, kind, id);
  return 0;
}

int find_id_h(const strmap *ids, const char *id, uint32_t hash, const char *field,
              const char *kind, uint32_t *out, lisec_err *err) {
  if (id && strmap_get_h(ids, id, hash, out)) return 0;
  /* not held: refused as find_id refuses it, as not an id or as unknown */
  return find_id(ids, id, field, kind, out, err);
}

int id_check(const char *field, const char *id, lisec_err *err) {
  return lisec_id_check(field, id, id ? strnlen(id, MODEL_ID_MAX + 1) : 0, err);
}

static int check_new_id(const char *id, lisec_err *err) { return id_check("id", id, err); }

/* ---- hosts ------------------------------------------------------------------ */

static int host_fields(model *m, const model_host_spec *s, mloc *loc, GEOSGeometry **pt,
                       lisec_err *err) {
  *pt = NULL;
  if ((unsigned)s->trust > MODEL_TRUST_UNTRUSTED)
    return lisec_err_set(err, LISEC_EINVAL, "trust: must be trusted, untrusted or unknown");
  if ((unsigned)s->protection > MODEL_CLASS_LI)
    return lisec_err_set(err, LISEC_EINVAL, "protection: must be general, sensitive or li");
  int rc = loc_from_spec(s->location, loc, err);
  if (rc) return rc;
  if (loc->has_coords && geo_point(m, loc->lat, loc->lon, pt)) {
    loc_free(loc);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  return 0;
}

static void host_set_loc(model *m, mhost *h, mloc *loc, GEOSGeometry *pt) {
  loc_free(&h->loc);
  if (h->point) GEOSGeom_destroy_r(m->geos, h->point);
  h->loc = *loc;
  h->point = pt;
  host_describe(h);
}

int model_host_put(model *m, const model_host_spec *s, lisec_err *err) {
  int rc = check_new_id(s->id, err);
  if (rc) return rc;
  mloc loc;
  GEOSGeometry *pt;
  if ((rc = host_fields(m, s, &loc, &pt, err))) return rc;
  uint32_t i;
  if (strmap_get(&m->hosts.ids, s->id, &i)) {
    scope_begin(m);
    scope_add_host_deps(m, i);
    mhost *h = &m->hosts.a[i];
    h->trust = s->trust;
    h->protection = s->protection;
    host_set_loc(m, h, &loc, pt);
    scope_commit(m);
    return 0;
  }
  char *id = strdup(s->id);
  if (!id || (rc = SLOT_ALLOC(m->hosts, &i))) {
    free(id);
    loc_free(&loc);
    if (pt) GEOSGeom_destroy_r(m->geos, pt);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "hosts: cannot add \"%s\"", s->id);
  }
  mhost *h = &m->hosts.a[i];
  h->id = id;
  h->id_len = (uint16_t)strlen(id);
  h->alive = true;
  h->trust = s->trust;
  h->protection = s->protection;
  h->loc = loc;
  h->point = pt;
  host_describe(h);
  if (strmap_put(&m->hosts.ids, h->id, i)) {
    free(h->where);
    loc_free(&h->loc);
    if (pt) GEOSGeom_destroy_r(m->geos, pt);
    free(id);
    h->alive = false;
    slot_release(&m->hosts.n, &m->hosts.free, i);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->hosts.live++;
  scope_begin(m);
  scope_add(m, SK_HOST, i);
  scope_commit(m);
  return 0;
}

int model_host_set_trust(model *m, const char *host, model_trust t, lisec_err *err) {
  uint32_t i;
  int rc = find_id(&m->hosts.ids, host, "host", "host", &i, err);
  if (rc) return rc;
  if ((unsigned)t > MODEL_TRUST_UNTRUSTED)
    return lisec_err_set(err, LISEC_EINVAL, "trust: must be trusted, untrusted or unknown");
  if (m->hosts.a[i].trust == t) return 0;
  scope_begin(m);
  scope_add_host_deps(m, i);
  m->hosts.a[i].trust = t;
  scope_commit(m);
  return 0;
}

int model_host_set_location(model *m, const char *host, const model_location *l, lisec_err *err) {
  uint32_t i;
  int rc = find_id(&m->hosts.ids, host, "host", "host", &i, err);
  if (rc) return rc;
  mloc loc;
  GEOSGeometry *pt = NULL;
  if ((rc = loc_from_spec(l, &loc, err))) return rc;
  if (loc.has_coords && geo_point(m, loc.lat, loc.lon, &pt)) {
    loc_free(&loc);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  mhost *h = &m->hosts.a[i];
  if (loc_equal(&h->loc, &loc)) {
    loc_free(&loc);
    if (pt) GEOSGeom_destroy_r(m->geos, pt);
    return 0;
  }
  scope_begin(m);
  scope_add_host_deps(m, i);
  /* §6.2 req. 10/14: moved hardware has to attest again before it is trusted. */
  h->trust = MODEL_TRUST_UNKNOWN;
  host_set_loc(m, h, &loc, pt);
  scope_commit(m);
  return 0;
}

int model_host_remove(model *m, const char *host, lisec_err *err) {
  uint32_t i;
  int rc = find_id(&m->hosts.ids, host, "host", "host", &i, err);
  if (rc) return rc;
  mhost *h = &m->hosts.a[i];
  if (h->hyps.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "host %s still runs hypervisor %s", h->id,
                         m->hyps.a[h->hyps.v[0]].id);
  index_clear_subject(m, SK_HOST, i);
  strmap_del(&m->hosts.ids, h->id);
  free(h->id);
  free(h->where);
  loc_free(&h->loc);
  if (h->point) GEOSGeom_destroy_r(m->geos, h->point);
  idvec_free(&h->hyps);
  h->alive = false;
  m->hosts.live--;
  slot_release(&m->hosts.n, &m->hosts.free, i);
  return 0;
}

/* ---- hypervisors ------------------------------------------------------------- */

int model_hypervisor_put(model *m, const char *id, const char *host, lisec_err *err) {
  int rc = check_new_id(id, err);
  uint32_t h, i;
  if (rc || (rc = find_id(&m->hosts.ids, host, "host", "host", &h, err))) return rc;
  if (strmap_get(&m->hyps.ids, id, &i)) {
    if (m->hyps.a[i].host == h) return 0;
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "host: hypervisor %s runs on host %s; a hypervisor runs on exactly one "
                         "piece of hardware",
                         id, m->hosts.a[m->hyps.a[i].host].id);
  }
  char *copy = strdup(id);
  if (!copy || (rc = SLOT_ALLOC(m->hyps, &i))) {
    free(copy);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "hypervisors: cannot add \"%s\"", id);
  }
  mhyp *y = &m->hyps.a[i];
  y->id = copy;
  y->id_len = (uint16_t)strlen(copy);
  y->alive = true;
  y->host = h;
  if (strmap_put(&m->hyps.ids, y->id, i) || idvec_push(&m->hosts.a[h].hyps, i)) {
    strmap_del(&m->hyps.ids, copy);
    free(copy);
    y->alive = false;
    slot_release(&m->hyps.n, &m->hyps.free, i);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->hyps.live++;
  return 0;
}

int model_hypervisor_remove(model *m, const char *id, lisec_err *err) {
  uint32_t i;
  int rc = find_id(&m->hyps.ids, id, "hypervisor", "hypervisor", &i, err);
  if (rc) return rc;
  mhyp *y = &m->hyps.a[i];
  if (y->vms.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "hypervisor %s still runs VM %s", y->id,
                         m->vms.a[y->vms.v[0]].id);
  idvec_del(&m->hosts.a[y->host].hyps, i);
  strmap_del(&m->hyps.ids, y->id);
  free(y->id);
  idvec_free(&y->vms);
  y->alive = false;
  m->hyps.live--;
  slot_release(&m->hyps.n, &m->hyps.free, i);
  return 0;
}

/* ---- VMs ---------------------------------------------------------------------- */

static int domain_intern(model *m, const char *name, uint32_t *out, lisec_err *err) {
  if (!id_valid(name)) return id_check("domain", name, err);
  if (strmap_get(&m->domains.ids, name, out)) return 0;
  char *copy = strdup(name);
  uint32_t i;
  int rc;
  if (!copy || (rc = SLOT_ALLOC(m->domains, &i))) {
    free(copy);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->domains.a[i].name = copy;
  if (strmap_put(&m->domains.ids, copy, i)) {
    free(copy);
    slot_release(&m->domains.n, &m->domains.free, i);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->domains.live++;
  *out = i;
  return 0;
}

/* Membership lists with each VM's position, so leaving costs O(1). */
static idvec *dom_list(model *m, uint32_t v) {
  mvm *x = &m->vms.a[v];
  mdomain *d = &m->domains.a[x->domain];
  return x->cls == MODEL_CLASS_LI ? &d->li : &d->other;
}

static void dom_add(model *m, uint32_t v) {
  idvec *l = dom_list(m, v);
  m->vms.a[v].dom_pos = l->n;
  if (idvec_push(l, v)) m->oom = true;
}

static void dom_del(model *m, uint32_t v) {
  idvec *l = dom_list(m, v);
  uint32_t pos = m->vms.a[v].dom_pos, last = l->v[l->n - 1];
  l->v[pos] = last;
  m->vms.a[last].dom_pos = pos;
  l->n--;
}

static void hyp_add(model *m, uint32_t v) {
  idvec *l = &m->hyps.a[m->vms.a[v].hyp].vms;
  m->vms.a[v].hyp_pos = l->n;
  if (idvec_push(l, v)) m->oom = true;
}

static void hyp_del(model *m, uint32_t v) {
  idvec *l = &m->hyps.a[m->vms.a[v].hyp].vms;
  uint32_t pos = m->vms.a[v].hyp_pos, last = l->v[l->n - 1];
  l->v[pos] = last;
  m->vms.a[last].hyp_pos = pos;
  l->n--;
}

void vm_place(model *m, uint32_t v, uint32_t hyp) {
  hyp_del(m, v);
  m->vms.a[v].hyp = hyp;
  hyp_add(m, v);
}

int vm_move_idx(model *m, uint32_t v, uint32_t hyp) {
  if (m->vms.a[v].hyp == hyp) return 0;
  scope_begin(m);
  scope_add_vm_move_deps(m, v);
  vm_place(m, v, hyp);
  scope_commit(m);
  return 0;
}

int model_vm_move(model *m, const char *vm, const char *hyp, lisec_err *err) {
  uint32_t v, h;
  int rc = find_id(&m->vms.ids, vm, "vm", "VM", &v, err);
  if (rc || (rc = find_id(&m->hyps.ids, hyp, "hypervisor", "hypervisor", &h, err))) return rc;
  return vm_move_idx(m, v, h);
}

int model_vm_put(model *m, const model_vm_spec *s, lisec_err *err) {
  int rc = check_new_id(s->id, err);
  uint32_t h, d, v;
  if (rc || (rc = find_id(&m->hyps.ids, s->hypervisor, "hypervisor", "hypervisor", &h, err)))
    return rc;
  if ((unsigned)s->sensitivity > MODEL_CLASS_LI)
    return lisec_err_set(err, LISEC_EINVAL, "sensitivity: must be general, sensitive or li");
  if ((rc = domain_intern(m, s->domain, &d, err))) return rc;
  if (strmap_get(&m->vms.ids, s->id, &v)) {
    vm_move_idx(m, v, h);
    mvm *x = &m->vms.a[v];
    if (x->cls == s->sensitivity && x->domain == d && x->paired == s->paired) return 0;
    scope_begin(m);
    scope_add_vm_attr_deps(m, v);
    dom_del(m, v);
    x->cls = s->sensitivity;
    x->domain = d;
    x->paired = s->paired;
    dom_add(m, v);
    scope_add(m, SK_DOMAIN, d);
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(s->id);
  if (!copy || (rc = SLOT_ALLOC(m->vms, &v))) {
    free(copy);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "vms: cannot add \"%s\"", s->id);
  }
  mvm *x = &m->vms.a[v];
  x->id = copy;
  x->id_len = (uint16_t)strlen(copy);
  x->alive = true;
  x->hyp = h;
  x->cls = s->sensitivity;
  x->domain = d;
  x->paired = s->paired;
  if (strmap_put(&m->vms.ids, copy, v)) {
    free(copy);
    x->alive = false;
    slot_release(&m->vms.n, &m->vms.free, v);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->vms.live++;
  hyp_add(m, v);
  dom_add(m, v);
  scope_begin(m);
  scope_add(m, SK_VM, v);
  scope_add(m, SK_DOMAIN, d);
  scope_commit(m);
  return 0;
}

int model_vm_remove(model *m, const char *vm, lisec_err *err) {
  uint32_t v;
  int rc = find_id(&m->vms.ids, vm, "vm", "VM", &v, err);
  if (rc) return rc;
  mvm *x = &m->vms.a[v];
  if (x->lis.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "VM %s is named by LI %s", x->id,
                         m->lis.a[x->lis.v[0]].id);
  if (x->roots.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "storage %s is rooted in VM %s",
                         m->stores.a[x->roots.v[0]].id, x->id);
  if (x->attach.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "storage %s is provided to VM %s",
                         m->stores.a[m->attach.a[x->attach.v[0]].storage].id, x->id);
  if (x->conns.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "connection %s ends at VM %s",
                         m->conns.a[x->conns.v[0]].id, x->id);
  uint32_t d = x->domain;
  dom_del(m, v);
  hyp_del(m, v);
  index_clear_subject(m, SK_VM, v);
  strmap_del(&m->vms.ids, x->id);
  free(x->id);
  idvec_free(&x->lis);
  idvec_free(&x->conns);
  idvec_free(&x->groups);
  idvec_free(&x->roots);
  idvec_free(&x->attach);
  x->alive = false;
  m->vms.live--;
  slot_release(&m->vms.n, &m->vms.free, v);
  scope_begin(m);
  scope_add(m, SK_DOMAIN, d);
  scope_commit(m);
  return 0;
}
