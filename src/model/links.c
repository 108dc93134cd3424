/* What joins VMs: storage rooted in a VM and provided to others,
 * connections between two VMs (IPC, network, NFS, ...) that are secure or
 * not, and connection groups, the path between two VMs through intermediate
 * VMs, each intermediate marked whether it stores information. A group has
 * to form a simple path of existing connections; anything else is refused
 * with the field that breaks it. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- storage and attachments ------------------------------------------------ */

int model_storage_put(model *m, const char *id, const char *root_vm, lisec_err *err) {
  uint32_t r, s;
  int rc;
  if (!id_valid(id)) return id_check("id", id, err);
  if ((rc = find_id(&m->vms.ids, root_vm, "vm", "VM", &r, err))) return rc;
  if (strmap_get(&m->stores.ids, id, &s)) {
    mstorage *x = &m->stores.a[s];
    if (x->root == r) return 0;
    if (x->lis.n)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "vm: storage %s is used by LI %s; its root VM cannot change", id,
                           m->lis.a[x->lis.v[0]].id);
    for (uint32_t i = 0; i < x->attach.n; i++)
      if (m->attach.a[x->attach.v[i]].user == r)
        return lisec_err_set(err, LISEC_ECONFLICT,
                             "vm: storage %s is provided to VM %s, which cannot also be its root",
                             id, root_vm);
    scope_begin(m);
    for (uint32_t i = 0; i < x->attach.n; i++) scope_add(m, SK_ATTACH, x->attach.v[i]);
    idvec_del(&m->vms.a[x->root].roots, s);
    x->root = r;
    if (idvec_push(&m->vms.a[r].roots, s)) m->oom = true;
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(id);
  if (!copy || (rc = SLOT_ALLOC(m->stores, &s))) {
    free(copy);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "storage: cannot add \"%s\"", id);
  }
  mstorage *x = &m->stores.a[s];
  x->id = copy;
  x->id_len = (uint16_t)strlen(copy);
  x->alive = true;
  x->root = r;
  if (strmap_put(&m->stores.ids, copy, s) || idvec_push(&m->vms.a[r].roots, s)) {
    strmap_del(&m->stores.ids, copy);
    free(copy);
    x->alive = false;
    slot_release(&m->stores.n, &m->stores.free, s);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->stores.live++;
  return 0;
}

int model_storage_remove(model *m, const char *id, lisec_err *err) {
  uint32_t s;
  int rc = find_id(&m->stores.ids, id, "storage", "storage", &s, err);
  if (rc) return rc;
  mstorage *x = &m->stores.a[s];
  if (x->lis.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "storage %s is used by LI %s", id,
                         m->lis.a[x->lis.v[0]].id);
  if (x->attach.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "storage %s is provided to VM %s", id,
                         m->vms.a[m->attach.a[x->attach.v[0]].user].id);
  idvec_del(&m->vms.a[x->root].roots, s);
  strmap_del(&m->stores.ids, x->id);
  free(x->id);
  idvec_free(&x->attach);
  idvec_free(&x->lis);
  x->alive = false;
  m->stores.live--;
  slot_release(&m->stores.n, &m->stores.free, s);
  return 0;
}

static bool attach_find(const model *m, uint32_t s, uint32_t v, uint32_t *out) {
  const idvec *l = &m->vms.a[v].attach;
  for (uint32_t i = 0; i < l->n; i++)
    if (m->attach.a[l->v[i]].storage == s) {
      *out = l->v[i];
      return true;
    }
  return false;
}

static void scope_add_storage_lis(model *m, uint32_t s) {
  const idvec *l = &m->stores.a[s].lis;
  for (uint32_t i = 0; i < l->n; i++) scope_add(m, SK_LI, l->v[i]);
}

int model_storage_attach(model *m, const char *storage, const char *vm, lisec_err *err) {
  uint32_t s, v, a;
  int rc = find_id(&m->stores.ids, storage, "storage", "storage", &s, err);
  if (rc || (rc = find_id(&m->vms.ids, vm, "vm", "VM", &v, err))) return rc;
  if (m->stores.a[s].root == v)
    return lisec_err_set(err, LISEC_EINVAL,
                         "vm: storage %s is rooted in VM %s; it is not provided to its own root",
                         storage, vm);
  if (attach_find(m, s, v, &a)) return 0;
  if ((rc = slot_alloc((void **)&m->attach.a, &m->attach.n, &m->attach.cap, &m->attach.free,
                       sizeof *m->attach.a, &a)))
    return lisec_err_set(err, rc, "storage: cannot provide %s to %s", storage, vm);
  mattach *x = &m->attach.a[a];
  x->alive = true;
  x->storage = s;
  x->user = v;
  if (idvec_push(&m->stores.a[s].attach, a) || idvec_push(&m->vms.a[v].attach, a)) {
    idvec_del(&m->stores.a[s].attach, a);
    x->alive = false;
    slot_release(&m->attach.n, &m->attach.free, a);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->attach.live++;
  scope_begin(m);
  scope_add(m, SK_ATTACH, a);
  scope_add_storage_lis(m, s);
  scope_commit(m);
  return 0;
}

int model_storage_detach(model *m, const char *storage, const char *vm, lisec_err *err) {
  uint32_t s, v, a;
  int rc = find_id(&m->stores.ids, storage, "storage", "storage", &s, err);
  if (rc || (rc = find_id(&m->vms.ids, vm, "vm", "VM", &v, err))) return rc;
  if (!attach_find(m, s, v, &a))
    return lisec_err_set(err, LISEC_ENOTFOUND, "vm: storage %s is not provided to VM %s", storage,
                         vm);
  scope_begin(m);
  scope_add(m, SK_ATTACH, a);
  scope_add_storage_lis(m, s);
  m->attach.a[a].alive = false;
  idvec_del(&m->stores.a[s].attach, a);
  idvec_del(&m->vms.a[v].attach, a);
  scope_commit(m);
  index_clear_subject(m, SK_ATTACH, a);
  m->attach.live--;
  slot_release(&m->attach.n, &m->attach.free, a);
  return 0;
}

/* ---- connections ----------------------------------------------------------- */

int model_conn_put(model *m, const model_conn_spec *s, lisec_err *err) {
  uint32_t a, b, c;
  int rc;
  if (!id_valid(s->id)) return id_check("id", s->id, err);
  if ((rc = find_id(&m->vms.ids, s->a, "between[0]", "VM", &a, err)) ||
      (rc = find_id(&m->vms.ids, s->b, "between[1]", "VM", &b, err)))
    return rc;
  if (a == b)
    return lisec_err_set(err, LISEC_EINVAL, "between: a connection joins two different VMs");
  if ((unsigned)s->kind > MODEL_CONN_OTHER)
    return lisec_err_set(err, LISEC_EINVAL, "kind: must be ipc, network, nfs, block or other");
  if (strmap_get(&m->conns.ids, s->id, &c)) {
    mconn *x = &m->conns.a[c];
    bool same_ends = (x->a == a && x->b == b) || (x->a == b && x->b == a);
    if (!same_ends && x->groups.n)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "between: connection %s is part of group %s; its ends cannot change",
                           s->id, m->groups.a[x->groups.v[0]].id);
    scope_begin(m);
    scope_add(m, SK_CONN, c);
    scope_add_conn_paths(m, c);
    for (uint32_t i = 0; i < x->groups.n; i++) scope_add_group_deps(m, x->groups.v[i]);
    if (!same_ends) {
      idvec_del(&m->vms.a[x->a].conns, c);
      idvec_del(&m->vms.a[x->b].conns, c);
      x->a = a;
      x->b = b;
      if (idvec_push(&m->vms.a[a].conns, c) || idvec_push(&m->vms.a[b].conns, c)) m->oom = true;
    }
    conn_ipc_count(m, x, -1);
    x->kind = s->kind;
    x->secure = s->secure;
    conn_ipc_count(m, x, +1);
    scope_add_conn_paths(m, c); /* its new ends, when they changed */
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(s->id);
  if (!copy || (rc = SLOT_ALLOC(m->conns, &c))) {
    free(copy);
    return lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "connections: cannot add \"%s\"", s->id);
  }
  mconn *x = &m->conns.a[c];
  x->id = copy;
  x->id_len = (uint16_t)strlen(copy);
  x->alive = true;
  x->a = a;
  x->b = b;
  x->kind = s->kind;
  x->secure = s->secure;
  if (strmap_put(&m->conns.ids, copy, c) || idvec_push(&m->vms.a[a].conns, c) ||
      idvec_push(&m->vms.a[b].conns, c)) {
    strmap_del(&m->conns.ids, copy);
    idvec_del(&m->vms.a[a].conns, c);
    free(copy);
    x->alive = false;
    slot_release(&m->conns.n, &m->conns.free, c);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  m->conns.live++;
  conn_ipc_count(m, x, +1);
  scope_begin(m);
  scope_add(m, SK_CONN, c);
  scope_add_conn_paths(m, c);
  scope_commit(m);
  return 0;
}

int model_conn_remove(model *m, const char *id, lisec_err *err) {
  uint32_t c;
  int rc = find_id(&m->conns.ids, id, "connection", "connection", &c, err);
  if (rc) return rc;
  mconn *x = &m->conns.a[c];
  if (x->groups.n)
    return lisec_err_set(err, LISEC_ECONFLICT, "connection %s is part of group %s", id,
                         m->groups.a[x->groups.v[0]].id);
  /* it may have been the only path between its ends */
  scope_begin(m);
  scope_add_conn_paths(m, c);
  conn_ipc_count(m, x, -1);
  idvec_del(&m->vms.a[x->a].conns, c);
  idvec_del(&m->vms.a[x->b].conns, c);
  x->alive = false;
  scope_commit(m);
  index_clear_subject(m, SK_CONN, c);
  strmap_del(&m->conns.ids, x->id);
  free(x->id);
  idvec_free(&x->groups);
  x->alive = false;
  m->conns.live--;
  slot_release(&m->conns.n, &m->conns.free, c);
  return 0;
}

/* ---- connection groups ------------------------------------------------------- */

static uint32_t other_end(const mconn *c, uint32_t v) {
  return c->a == v ? c->b : c->b == v ? c->a : NONE;
}

/* Resolves a group spec into its connections and the path of VMs they
 * form; refuses anything that is not a simple path. conns and path must
 * hold n and n+1 entries. */
static int group_resolve(model *m, const model_group_spec *s, uint32_t *conns, uint32_t *path,
                         bool *stores, lisec_err *err) {
  size_t n = s->n;
  int rc;
  for (size_t i = 0; i < n; i++) {
    char field[48];
    snprintf(field, sizeof field, "connections[%zu]", i);
    if ((rc = find_id(&m->conns.ids, s->connections[i], field, "connection", &conns[i], err)))
      return rc;
  }
  const mconn *c0 = &m->conns.a[conns[0]];
  if (n == 1) {
    path[0] = c0->a;
    path[1] = c0->b;
  } else {
    const mconn *c1 = &m->conns.a[conns[1]];
    if (other_end(c1, c0->b) != NONE) path[0] = c0->a, path[1] = c0->b;
    else if (other_end(c1, c0->a) != NONE) path[0] = c0->b, path[1] = c0->a;
    else
      return lisec_err_set(err, LISEC_EINVAL,
                           "connections[1]: connection %s shares no VM with connection %s, so "
                           "the group does not form a path",
                           c1->id, c0->id);
    for (size_t i = 1; i < n; i++) {
      const mconn *ci = &m->conns.a[conns[i]];
      uint32_t next = other_end(ci, path[i]);
      if (next == NONE)
        return lisec_err_set(err, LISEC_EINVAL,
                             "connections[%zu]: connection %s does not continue the path at VM "
                             "%s, so the group does not form a path",
                             i, ci->id, m->vms.a[path[i]].id);
      path[i + 1] = next;
    }
  }
  for (size_t i = 0; i <= n; i++)
    for (size_t k = 0; k < i; k++)
      if (path[i] == path[k])
        return lisec_err_set(err, LISEC_EINVAL,
                             "connections[%zu]: the path returns to VM %s; a connection group "
                             "is a path between two different VMs",
                             i ? i - 1 : 0, m->vms.a[path[i]].id);
  memset(stores, 0, (n + 1) * sizeof *stores);
  if (n > 1) {
    if (!s->intermediates || !s->stores)
      return lisec_err_set(err, LISEC_EINVAL,
                           "intermediates: a path of %zu connections passes %zu intermediate "
                           "VMs; list each with whether it stores information",
                           n, n - 1);
    for (size_t i = 0; i + 1 < n; i++) {
      const char *want = m->vms.a[path[i + 1]].id;
      if (!s->intermediates[i] || strcmp(s->intermediates[i], want) != 0)
        return lisec_err_set(err, LISEC_EINVAL,
                             "intermediates[%zu]: \"%.128s\" is not the VM joining connections "
                             "%s and %s (that is %s)",
                             i, s->intermediates[i] ? s->intermediates[i] : "",
                             m->conns.a[conns[i]].id, m->conns.a[conns[i + 1]].id, want);
      stores[i + 1] = s->stores[i];
    }
  }
  if (s->from || s->to) {
    uint32_t f, t;
    if ((rc = find_id(&m->vms.ids, s->from, "between[0]", "VM", &f, err)) ||
        (rc = find_id(&m->vms.ids, s->to, "between[1]", "VM", &t, err)))
      return rc;
    if (!((f == path[0] && t == path[n]) || (f == path[n] && t == path[0])))
      return lisec_err_set(err, LISEC_EINVAL,
                           "between: the connections join VM %s and VM %s, not %s and %s",
                           m->vms.a[path[0]].id, m->vms.a[path[n]].id, s->from, s->to);
  }
  return 0;
}

void conn_ipc_count(model *m, const mconn *c, int delta) {
  if (c->kind != MODEL_CONN_IPC) return;
  m->vms.a[c->a].ipc_grouped += (uint32_t)delta;
  m->vms.a[c->b].ipc_grouped += (uint32_t)delta;
}

static void group_link(model *m, uint32_t g, bool on) {
  mgroup *x = &m->groups.a[g];
  for (uint32_t i = 0; i <= x->n; i++) {
    idvec *l = &m->vms.a[x->path[i]].groups;
    if (on) {
      if (idvec_push(l, g)) m->oom = true;
    } else {
      idvec_del(l, g);
    }
  }
  for (uint32_t i = 0; i < x->n; i++) {
    mconn *c = &m->conns.a[x->conns[i]];
    if (on) {
      if (idvec_push(&c->groups, g)) m->oom = true;
    } else {
      idvec_del(&c->groups, g);
    }
  }
}

int model_group_put(model *m, const model_group_spec *s, lisec_err *err) {
  if (!id_valid(s->id)) return id_check("id", s->id, err);
  if (s->n < 1 || s->n > MODEL_GROUP_HOPS_MAX || !s->connections)
    return lisec_err_set(err, LISEC_EINVAL, "connections: a group has 1 to %d connections",
                         MODEL_GROUP_HOPS_MAX);
  uint32_t *conns = malloc(s->n * sizeof *conns), *path = malloc((s->n + 1) * sizeof *path);
  bool *stores = malloc((s->n + 1) * sizeof *stores);
  int rc = LISEC_ENOMEM;
  uint32_t g;
  if (!conns || !path || !stores) {
    lisec_err_set(err, rc, "out of memory");
    goto fail;
  }
  if ((rc = group_resolve(m, s, conns, path, stores, err))) goto fail;
  if (strmap_get(&m->groups.ids, s->id, &g)) {
    mgroup *x = &m->groups.a[g];
    scope_begin(m);
    scope_add_group_deps(m, g);
    group_link(m, g, false);
    free(x->conns);
    free(x->path);
    free(x->stores);
    x->n = (uint32_t)s->n;
    x->conns = conns;
    x->path = path;
    x->stores = stores;
    group_link(m, g, true);
    scope_add_group_deps(m, g);
    scope_commit(m);
    return 0;
  }
  char *copy = strdup(s->id);
  if (!copy || (rc = SLOT_ALLOC(m->groups, &g))) {
    free(copy);
    rc = lisec_err_set(err, rc ? rc : LISEC_ENOMEM, "groups: cannot add \"%s\"", s->id);
    goto fail;
  }
  mgroup *x = &m->groups.a[g];
  x->id = copy;
  x->id_len = (uint16_t)strlen(copy);
  x->alive = true;
  x->n = (uint32_t)s->n;
  x->conns = conns;
  x->path = path;
  x->stores = stores;
  if (strmap_put(&m->groups.ids, copy, g)) {
    free(copy);
    x->alive = false;
    slot_release(&m->groups.n, &m->groups.free, g);
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto fail;
  }
  m->groups.live++;
  group_link(m, g, true);
  scope_begin(m);
  scope_add_group_deps(m, g);
  scope_commit(m);
  return 0;
fail:
  free(conns);
  free(path);
  free(stores);
  return rc;
}

int model_group_remove(model *m, const char *id, lisec_err *err) {
  uint32_t g;
  int rc = find_id(&m->groups.ids, id, "group", "connection group", &g, err);
  if (rc) return rc;
  mgroup *x = &m->groups.a[g];
  scope_begin(m);
  scope_add_group_deps(m, g);
  x->alive = false;
  group_link(m, g, false);
  scope_commit(m);
  index_clear_subject(m, SK_GROUP, g);
  strmap_del(&m->groups.ids, x->id);
  free(x->id);
  free(x->conns);
  free(x->path);
  free(x->stores);
  m->groups.live--;
  slot_release(&m->groups.n, &m->groups.free, g);
  return 0;
}
