/* The LI side of the model: jurisdictions (the area an authorisation is
 * issued for), LEAs, and LI authorisations, each naming its issuing
 * jurisdiction, LEA, monitored VM, the VM hosting the LI function, the
 * storage its data goes to (and the VM that utilises it) and its validity
 * period. An LI only binds while it is valid; its VMs' adjacency lists let
 * every rule find the LIs that involve a VM without a search. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- jurisdictions ----------------------------------------------------------- */

int model_jurisdiction_put(model *m, const char *id, const char *const *codes, size_t ncodes,
                           const json_t *geometry, lisec_err *err) {
  if (!id_valid(id)) return id_check("id", id, err);
  mjur tmp;
  int rc = jur_build(m, codes, ncodes, geometry, &tmp, err);
  if (rc) return rc;
  uint32_t j;
  if (strmap_get(&m->jurs.ids, id, &j)) {
    mjur *x = &m->jurs.a[j];
    scope_begin(m);
    for (uint32_t i = 0; i < x->lis.n; i++) {
      scope_add(m, SK_LI, x->lis.v[i]);
      scope_add_li_users(m, x->lis.v[i]);
    }
    jur_release(m, x);
    memcpy(x->countries, tmp.countries, sizeof x->countries);
    x->subs = tmp.subs;
    x->nsubs = tmp.nsubs;
    x->codes = tmp.codes;
    x->ncodes = tmp.ncodes;
    x->geom = tmp.geom;
    x->prep = tmp.prep;
    x->npolys = tmp.npolys;
    jur_describe(x);
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(id);
  if (!copy || (rc = SLOT_ALLOC(m->jurs, &j))) {
    free(copy);
    jur_release(m, &tmp);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "jurisdictions: cannot add \"%s\"", id);
  }
  mjur *x = &m->jurs.a[j];
  *x = tmp;
  x->id = copy;
  x->alive = true;
  if (strmap_put(&m->jurs.ids, copy, j)) {
    jur_release(m, x);
    free(copy);
    x->alive = false;
    slot_release(&m->jurs.n, &m->jurs.free, j);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->jurs.live++;
  jur_describe(x);
  return 0;
}

int model_jurisdiction_remove(model *m, const char *id, lisec_err *err) {
  uint32_t j;
  int rc = find_id(&m->jurs.ids, id, "jurisdiction", "jurisdiction", &j, err);
  if (rc) return rc;
  mjur *x = &m->jurs.a[j];
  if (x->lis.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "jurisdiction %s is that of LI %s", id,
                         m->lis.a[x->lis.v[0]].id);
  if (model_rd_refers_jurisdiction(m, id))
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "jurisdiction %s is that of a retention obligation", id);
  if (x->leas.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "jurisdiction %s is that of LEA %s", id,
                         m->leas.a[x->leas.v[0]].id);
  strmap_del(&m->jurs.ids, x->id);
  free(x->id);
  jur_release(m, x);
  idvec_free(&x->lis);
  idvec_free(&x->leas);
  x->alive = false;
  m->jurs.live--;
  slot_release(&m->jurs.n, &m->jurs.free, j);
  return 0;
}

/* ---- LEAs ---------------------------------------------------------------------- */

int model_lea_put(model *m, const char *id, const char *name, const char *jurisdiction,
                  lisec_err *err) {
  if (!id_valid(id)) return id_check("id", id, err);
  uint32_t j = NONE, e;
  int rc;
  if (jurisdiction &&
      (rc = find_id(&m->jurs.ids, jurisdiction, "jurisdiction", "jurisdiction", &j, err)))
    return rc;
  if (name) {
    size_t n = strnlen(name, MODEL_TEXT_MAX + 1);
    if (n > MODEL_TEXT_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "name: longer than %d bytes", MODEL_TEXT_MAX);
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
        return lisec_err_set(err, LISEC_EINVAL, "name: contains a control character");
  }
  char *nm = name ? strdup(name) : NULL;
  if (name && !nm) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (strmap_get(&m->leas.ids, id, &e)) {
    mlea *x = &m->leas.a[e];
    if (x->jur != j) {
      if (j != NONE && idvec_push(&m->jurs.a[j].leas, e)) {
        free(nm);
        return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      }
      if (x->jur != NONE) idvec_del(&m->jurs.a[x->jur].leas, e);
      x->jur = j;
    }
    free(x->name);
    x->name = nm;
    return 0;
  }
  char *copy = strdup(id);
  if (!copy || (rc = SLOT_ALLOC(m->leas, &e))) {
    free(copy);
    free(nm);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "leas: cannot add \"%s\"", id);
  }
  mlea *x = &m->leas.a[e];
  x->id = copy;
  x->name = nm;
  x->alive = true;
  x->jur = j;
  if (strmap_put(&m->leas.ids, copy, e) || (j != NONE && idvec_push(&m->jurs.a[j].leas, e))) {
    strmap_del(&m->leas.ids, copy);
    free(copy);
    free(nm);
    x->alive = false;
    slot_release(&m->leas.n, &m->leas.free, e);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->leas.live++;
  return 0;
}

int model_lea_remove(model *m, const char *id, lisec_err *err) {
  uint32_t e;
  int rc = find_id(&m->leas.ids, id, "lea", "LEA", &e, err);
  if (rc) return rc;
  mlea *x = &m->leas.a[e];
  if (x->lis.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "LEA %s has LI %s", id, m->lis.a[x->lis.v[0]].id);
  if (x->jur != NONE) idvec_del(&m->jurs.a[x->jur].leas, e);
  strmap_del(&m->leas.ids, x->id);
  free(x->id);
  free(x->name);
  idvec_free(&x->lis);
  x->alive = false;
  m->leas.live--;
  slot_release(&m->leas.n, &m->leas.free, e);
  return 0;
}

/* ---- what LI authorisations refer to ------------------------------------------ */

bool model_li_refers(const model *m, const char *kind, const char *id) {
  uint32_t i;
  if (!kind || !id) return false;
  if (strcmp(kind, "vm") == 0 && strmap_get(&m->vms.ids, id, &i)) return m->vms.a[i].lis.n > 0;
  if (strcmp(kind, "storage") == 0 && strmap_get(&m->stores.ids, id, &i))
    return m->stores.a[i].lis.n > 0;
  if (strcmp(kind, "lea") == 0 && strmap_get(&m->leas.ids, id, &i)) return m->leas.a[i].lis.n > 0;
  /* An LEA is LI administration too: a jurisdiction an LEA names is
   * refused for that LEA as for an LI. */
  if (strcmp(kind, "jurisdiction") == 0 && strmap_get(&m->jurs.ids, id, &i))
    return m->jurs.a[i].lis.n > 0 || m->jurs.a[i].leas.n > 0;
  return false;
}

/* ---- LI authorisations --------------------------------------------------------- */

/* The distinct VMs an LI names, so each VM lists the LI once. */
static int li_vms(const model *m, const mli *l, uint32_t out[4]) {
  uint32_t c[4] = {l->monitored, l->host, l->via, li_provider(m, l)};
  int n = 0;
  for (int i = 0; i < 4; i++) {
    bool dup = false;
    for (int k = 0; k < n; k++) dup |= out[k] == c[i];
    if (!dup) out[n++] = c[i];
  }
  return n;
}

static void li_link(model *m, uint32_t li, bool on) {
  mli *l = &m->lis.a[li];
  uint32_t vs[4];
  int n = li_vms(m, l, vs);
  idvec *lists[7];
  int k = 0;
  for (int i = 0; i < n; i++) lists[k++] = &m->vms.a[vs[i]].lis;
  lists[k++] = &m->stores.a[l->storage].lis;
  lists[k++] = &m->jurs.a[l->jur].lis;
  lists[k++] = &m->leas.a[l->lea].lis;
  for (int i = 0; i < k; i++) {
    if (on) {
      if (idvec_push(lists[i], li)) m->oom = true;
    } else {
      idvec_del(lists[i], li);
    }
  }
  if (on) {
    time_narrow(m, l);
    l->active = l->from <= m->now && m->now < l->until;
    if (l->active) {
      m->vms.a[l->host].n_hosted++;
      m->nactive++;
    }
  } else if (l->active) {
    m->vms.a[l->host].n_hosted--;
    m->nactive--;
    l->active = false;
  }
}

int model_li_put(model *m, const model_li_spec *s, lisec_err *err) {
  if (!id_valid(s->id)) return id_check("id", s->id, err);
  mli v = {0};
  int rc;
  if ((rc = find_id(&m->jurs.ids, s->jurisdiction, "jurisdiction", "jurisdiction", &v.jur, err)) ||
      (rc = find_id(&m->leas.ids, s->lea, "lea", "LEA", &v.lea, err)) ||
      (rc = find_id(&m->vms.ids, s->monitored, "monitored", "VM", &v.monitored, err)) ||
      (rc = find_id(&m->vms.ids, s->host, "host", "VM", &v.host, err)) ||
      (rc = find_id(&m->stores.ids, s->storage, "storage", "storage", &v.storage, err)))
    return rc;
  v.via = v.host;
  if (s->storage_via &&
      (rc = find_id(&m->vms.ids, s->storage_via, "storage_via", "VM", &v.via, err)))
    return rc;
  if (s->valid_until <= s->valid_from)
    return lisec_err_set(err, LISEC_EINVAL, "valid_until: must be after valid_from");
  v.from = s->valid_from;
  v.until = s->valid_until;
  uint32_t li;
  if (strmap_get(&m->lis.ids, s->id, &li)) {
    mli *x = &m->lis.a[li];
    scope_begin(m);
    scope_add_li_deps(m, li);
    li_link(m, li, false);
    x->jur = v.jur;
    x->lea = v.lea;
    x->monitored = v.monitored;
    x->host = v.host;
    x->storage = v.storage;
    x->via = v.via;
    x->from = v.from;
    x->until = v.until;
    li_link(m, li, true);
    scope_add_li_deps(m, li);
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(s->id);
  if (!copy || (rc = SLOT_ALLOC(m->lis, &li))) {
    free(copy);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "lis: cannot add \"%s\"", s->id);
  }
  mli *x = &m->lis.a[li];
  *x = v;
  x->id = copy;
  x->id_len = (uint16_t)strlen(copy);
  x->alive = true;
  if (strmap_put(&m->lis.ids, copy, li)) {
    free(copy);
    x->alive = false;
    slot_release(&m->lis.n, &m->lis.free, li);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->lis.live++;
  li_link(m, li, true);
  scope_begin(m);
  scope_add_li_deps(m, li);
  scope_commit(m);
  return 0;
}

int model_li_remove(model *m, const char *id, lisec_err *err) {
  uint32_t li;
  int rc = find_id(&m->lis.ids, id, "li", "LI", &li, err);
  if (rc) return rc;
  mli *x = &m->lis.a[li];
  scope_begin(m);
  scope_add_li_deps(m, li);
  li_link(m, li, false);
  x->alive = false;
  scope_commit(m);
  index_clear_subject(m, SK_LI, li);
  strmap_del(&m->lis.ids, x->id);
  free(x->id);
  m->lis.live--;
  slot_release(&m->lis.n, &m->lis.free, li);
  return 0;
}
