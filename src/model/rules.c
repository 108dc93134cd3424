/* The requirements, evaluated per subject: each function below looks at one
 * LI authorisation, connection group, connection, storage attachment, host,
 * security domain or VM and lists what fails for it right now. Every
 * requirement is written once here; the compliance index, the full
 * evaluation and every decision call these same functions, which is what
 * keeps incremental and full evaluation equal. */
#include "model/internal.h"

uint32_t vm_host(const model *m, uint32_t v) { return m->hyps.a[m->vms.a[v].hyp].host; }

/* Trusted for LI purposes: attested trusted, and the trust mechanism gives
 * a location (§6.2 req. 8: "has to be able to provide the geographical
 * location"). */
bool host_trusted(const mhost *h) { return h->trust == MODEL_TRUST_TRUSTED && h->loc.known; }

uint32_t li_provider(const model *m, const mli *l) { return m->stores.a[l->storage].root; }

static int push(vvec *out, uint8_t rule, uint8_t code, uint8_t sk, uint32_t subj, uint32_t e0,
                uint32_t e1, uint32_t e2) {
  mviol v = {.rule = rule, .code = code, .sk = sk, .subj = subj, .e = {e0, e1, e2}};
  return vvec_push(out, &v);
}

/* An IPC connection only works between VMs on the same physical hardware;
 * other kinds cross machines. */
static bool conn_usable(const model *m, const mconn *c) {
  return c->kind != MODEL_CONN_IPC || vm_host(m, c->a) == vm_host(m, c->b);
}

static bool group_usable(const model *m, const mgroup *g, uint32_t *bad) {
  for (uint32_t i = 0; i < g->n; i++)
    if (!conn_usable(m, &m->conns.a[g->conns[i]])) {
      *bad = g->conns[i];
      return false;
    }
  return true;
}

static bool group_joins(const mgroup *g, uint32_t a, uint32_t b) {
  uint32_t x = g->path[0], y = g->path[g->n];
  return (x == a && y == b) || (x == b && y == a);
}

/* Is there a usable connection group between a and b? A direct connection
 * between them counts as a group of one connection whether or not a group
 * object names it (§6.2: "a simple direct connection between two VMs
 * implies that the connection group has a single connection"). When not,
 * *why says whether none exists or all that exist are broken (first broken
 * one in *bad_conn / *bad_group; *bad_group is NONE for a direct
 * connection no group names). */
static bool pair_path(const model *m, uint32_t a, uint32_t b, uint8_t *why, uint32_t *bad_conn,
                      uint32_t *bad_group) {
  const idvec *ca = &m->vms.a[a].conns, *cb = &m->vms.a[b].conns;
  const idvec *d = ca->n <= cb->n ? ca : cb;
  const idvec *ga = &m->vms.a[a].groups, *gb = &m->vms.a[b].groups;
  const idvec *l = ga->n <= gb->n ? ga : gb;
  bool any = false;
  *bad_conn = *bad_group = NONE;
  for (uint32_t i = 0; i < l->n; i++) {
    const mgroup *g = &m->groups.a[l->v[i]];
    if (!group_joins(g, a, b)) continue;
    uint32_t bad = NONE;
    if (group_usable(m, g, &bad)) return true;
    if (!any) {
      *bad_conn = bad;
      *bad_group = l->v[i];
    }
    any = true;
  }
  /* after the groups, so that a broken path is named by its group when
   * one names it */
  for (uint32_t i = 0; i < d->n; i++) {
    const mconn *c = &m->conns.a[d->v[i]];
    if (!((c->a == a && c->b == b) || (c->a == b && c->b == a))) continue;
    if (conn_usable(m, c)) return true;
    if (!any) *bad_conn = d->v[i];
    any = true;
  }
  *why = any ? F_PATH_BROKEN : F_NO_PATH;
  return false;
}

static bool attached(const model *m, uint32_t storage, uint32_t vm) {
  const idvec *l = &m->vms.a[vm].attach;
  for (uint32_t i = 0; i < l->n; i++)
    if (m->attach.a[l->v[i]].storage == storage) return true;
  return false;
}

uint8_t hw_where(const model *m, const mhost *h, const mjur *j) {
  if (!h->loc.known) return F_LOC_UNKNOWN;
  return j && host_in_jur(m, h, j) ? 0 : F_LOC_OUTSIDE;
}

uint8_t hw_trust(const mhost *h) {
  if (h->trust != MODEL_TRUST_TRUSTED) return F_UNTRUSTED;
  return h->loc.known ? 0 : F_NO_TRUSTED_LOC;
}

static int check_loc(const model *m, vvec *out, uint8_t rule, uint32_t li, uint32_t vm) {
  uint32_t hw = vm_host(m, vm);
  uint8_t code = hw_where(m, &m->hosts.a[hw], &m->jurs.a[m->lis.a[li].jur]);
  return code ? push(out, rule, code, SK_LI, li, vm, hw, 0) : 0;
}

static int check_trust(const model *m, vvec *out, uint8_t rule, uint32_t li, uint32_t vm) {
  uint32_t hw = vm_host(m, vm);
  uint8_t code = hw_trust(&m->hosts.a[hw]);
  return code ? push(out, rule, code, SK_LI, li, vm, hw, 0) : 0;
}

bool li_store_other(const mli *l, uint32_t u) { return u != l->via && u != l->host; }

/* §4.2: the LI VM "can only operate with the VMs it is allowed to", and a
 * VM utilising storage provided by another is connected to it (§6.2), so
 * a VM the LI's storage is provided to reads what the LI collected. Beside
 * its own storage VM and LI VM, the LI's storage may serve a known (paired)
 * LI VM, or the storage VM of another active LI that the same LI VM hosts
 * (a VM it stores through): the VMs docs/model.md's "allowed" names, less
 * the VMs monitored (an allowed peer of the LI VM for the interception, but
 * never a reader of what was collected: a target that mounts the store
 * reads its own interception). */
bool li_store_allowed(const model *m, const mli *l, uint32_t u) {
  if (!li_store_other(l, u)) return true;
  if (u == l->monitored) return false;
  const mvm *p = &m->vms.a[u];
  if (p->cls == MODEL_CLASS_LI && p->paired) return true;
  for (uint32_t i = 0; i < p->lis.n; i++) {
    const mli *y = &m->lis.a[p->lis.v[i]];
    if (y->active && y->host == l->host && y->via == u) return true;
  }
  return false;
}

/* TR103308-4.2-STORE for attachment i (storage s to VM u): for each
 * active LI storing to s of which u is neither the storage VM nor the LI
 * VM, u is allowed (above), on hardware inside the LI's jurisdiction
 * (req. 3 holds every VM utilised to store the LI's data to it) and, when
 * it is an LI VM, trusted with a location (req. 8, as the LI's own LI VM).
 * A VM not allowed is that one fact: it has no business with the data,
 * wherever it runs. Kept on the attachment, not on the LI: a change to the
 * VM's hardware re-evaluates its few attachments, not every LI of a
 * storage that many LIs share. e0 the LI, e1 u's host. */
static int check_store_user(const model *m, vvec *out, uint32_t i) {
  const mattach *a = &m->attach.a[i];
  const idvec *ls = &m->stores.a[a->storage].lis;
  uint32_t u = a->user, hw = vm_host(m, u);
  const mhost *h = &m->hosts.a[hw];
  int rc = 0;
  for (uint32_t k = 0; k < ls->n; k++) {
    const mli *l = &m->lis.a[ls->v[k]];
    if (!l->active || !li_store_other(l, u)) continue;
    if (!li_store_allowed(m, l, u)) {
      rc |= push(out, MODEL_STORE, F_STORE_PEER, SK_ATTACH, i, ls->v[k], hw, 0);
      continue;
    }
    uint8_t code = hw_where(m, h, &m->jurs.a[l->jur]);
    if (code) rc |= push(out, MODEL_STORE, code, SK_ATTACH, i, ls->v[k], hw, 0);
    if (m->vms.a[u].cls == MODEL_CLASS_LI && (code = hw_trust(h)))
      rc |= push(out, MODEL_STORE, code, SK_ATTACH, i, ls->v[k], hw, 0);
  }
  return rc;
}

static int eval_li(const model *m, uint32_t i, vvec *out) {
  const mli *l = &m->lis.a[i];
  if (!l->active) return 0; /* outside its validity period it authorises nothing */
  uint32_t mon = l->monitored, host = l->host, via = l->via, prov = li_provider(m, l);
  int rc = 0;
  uint8_t why;
  uint32_t bc, bg;
  /* R1-R3: each VM's location once, under the first requirement naming it. */
  rc |= check_loc(m, out, MODEL_R1, i, mon);
  if (host != mon) rc |= check_loc(m, out, MODEL_R1, i, host);
  if (via != mon && via != host) rc |= check_loc(m, out, MODEL_R3, i, via);
  if (prov != mon && prov != host && prov != via) rc |= check_loc(m, out, MODEL_R2, i, prov);
  /* R4: monitored VM to LI VM. */
  if (mon != host && !pair_path(m, mon, host, &why, &bc, &bg))
    rc |= push(out, MODEL_R4, why, SK_LI, i, 0, bc, bg);
  /* R5 for the LI's data: LI VM to the VM that stores, which must be
   * provided the storage; that VM's path to the provider is the
   * attachment's own R5. */
  if (via != host && !pair_path(m, host, via, &why, &bc, &bg))
    rc |= push(out, MODEL_R5, why, SK_LI, i, 1, bc, bg);
  if (via != prov && !attached(m, l->storage, via))
    rc |= push(out, MODEL_R5, F_NOT_ATTACHED, SK_LI, i, 2, via, l->storage);
  /* R8/R12 and R9/R13: trusted hardware. */
  rc |= check_trust(m, out, MODEL_R8, i, host);
  rc |= check_trust(m, out, MODEL_R9, i, prov);
  /* §4.2: the LI function runs only in a known (paired) LI VM. */
  const mvm *hv = &m->vms.a[host];
  if (hv->cls != MODEL_CLASS_LI) rc |= push(out, MODEL_KNOWN, F_NOT_LI_VM, SK_LI, i, host, 0, 0);
  else if (!hv->paired) rc |= push(out, MODEL_KNOWN, F_NOT_PAIRED, SK_LI, i, host, 0, 0);
  return rc;
}

/* A group carries LI traffic when one end hosts an active LI or when it is
 * the path from an active LI's storage VM to the storage provider; *li
 * gets an LI that makes it so. */
bool group_carries_li(const model *m, const mgroup *g, uint32_t *li) {
  uint32_t a = g->path[0], b = g->path[g->n];
  for (int k = 0; k < 2; k++) {
    uint32_t v = k ? b : a;
    const mvm *x = &m->vms.a[v];
    for (uint32_t i = 0; i < x->lis.n; i++) {
      const mli *l = &m->lis.a[x->lis.v[i]];
      if (!l->active) continue;
      uint32_t prov = li_provider(m, l);
      if (l->host == v || (l->via != prov && ((l->via == a && prov == b) || (l->via == b && prov == a)))) {
        if (li) *li = x->lis.v[i];
        return true;
      }
    }
  }
  return false;
}

static int eval_group(const model *m, uint32_t i, vvec *out) {
  const mgroup *g = &m->groups.a[i];
  /* Quick exit for the common case: neither end involved in any LI. */
  if (!m->vms.a[g->path[0]].lis.n && !m->vms.a[g->path[g->n]].lis.n) return 0;
  if (!group_carries_li(m, g, NULL)) return 0;
  int rc = 0;
  uint32_t first = NONE, count = 0;
  for (uint32_t k = 0; k < g->n; k++)
    if (!m->conns.a[g->conns[k]].secure) {
      if (first == NONE) first = g->conns[k];
      count++;
    }
  if (count) rc |= push(out, MODEL_R6, F_INSECURE, SK_GROUP, i, 0, first, count);
  for (uint32_t k = 1; k < g->n; k++)
    if (g->stores[k]) rc |= push(out, MODEL_R7, F_STORES, SK_GROUP, i, g->path[k], k, 0);
  return rc;
}

/* x is a VM the LI VM lv may operate with: a known LI VM, or a VM that an
 * active LI hosted by lv monitors or stores through. */
static bool peer_allowed(const model *m, uint32_t lv, uint32_t x) {
  const mvm *p = &m->vms.a[x];
  if (p->cls == MODEL_CLASS_LI && p->paired) return true;
  for (uint32_t i = 0; i < p->lis.n; i++) {
    const mli *l = &m->lis.a[p->lis.v[i]];
    if (l->active && l->host == lv &&
        (l->monitored == x || l->via == x || li_provider(m, l) == x))
      return true;
  }
  return false;
}

static bool conn_peer_ok(const model *m, const mconn *c, uint32_t lv, uint32_t other) {
  if (peer_allowed(m, lv, other)) return true;
  /* A hop to an intermediate (firewall, router) is allowed when it is part
   * of a group from lv to a VM lv may operate with. */
  for (uint32_t i = 0; i < c->groups.n; i++) {
    const mgroup *g = &m->groups.a[c->groups.v[i]];
    uint32_t a = g->path[0], b = g->path[g->n];
    if ((a == lv && peer_allowed(m, lv, b)) || (b == lv && peer_allowed(m, lv, a))) return true;
  }
  return false;
}

/* An active LI whose storage VM and storage provider are this
 * connection's ends: the connection is then that LI's data path, as a
 * one-connection group would be. */
static bool conn_is_li_store_path(const model *m, const mconn *c, uint32_t *li) {
  const mvm *x = &m->vms.a[c->a];
  for (uint32_t i = 0; i < x->lis.n; i++) {
    const mli *l = &m->lis.a[x->lis.v[i]];
    uint32_t prov = li_provider(m, l);
    if (l->active && l->via != prov &&
        ((l->via == c->a && prov == c->b) || (l->via == c->b && prov == c->a))) {
      *li = x->lis.v[i];
      return true;
    }
  }
  return false;
}

/* A group through c with lv at one end whose far end lv may not operate
 * with (NONE: none). One group to an allowed VM lets the hop pass above;
 * another group sharing the hop still joins lv to its far end, which has
 * to be allowed too (§4.2). */
static uint32_t conn_bad_group(const model *m, const mconn *c, uint32_t lv, uint32_t *far) {
  for (uint32_t i = 0; i < c->groups.n; i++) {
    const mgroup *g = &m->groups.a[c->groups.v[i]];
    uint32_t a = g->path[0], b = g->path[g->n];
    if (a != lv && b != lv) continue;
    *far = a == lv ? b : a;
    if (!peer_allowed(m, lv, *far)) return c->groups.v[i];
  }
  return NONE;
}

static int eval_conn(const model *m, uint32_t i, vvec *out) {
  const mconn *c = &m->conns.a[i];
  int rc = 0;
  bool at_li_vm = false;
  for (int k = 0; k < 2; k++) {
    uint32_t end = k ? c->b : c->a, other = k ? c->a : c->b;
    const mvm *v = &m->vms.a[end];
    if (v->n_hosted && !c->secure) {
      rc |= push(out, MODEL_R6, F_INSECURE, SK_CONN, i, end, other, 0);
      at_li_vm = true;
    }
    if (v->cls == MODEL_CLASS_LI) {
      uint32_t far = NONE, g = NONE;
      if (!conn_peer_ok(m, c, end, other))
        rc |= push(out, MODEL_KNOWN, F_PEER, SK_CONN, i, end, other, NONE);
      else if ((g = conn_bad_group(m, c, end, &far)) != NONE)
        rc |= push(out, MODEL_KNOWN, F_PEER, SK_CONN, i, end, far, g);
    }
  }
  /* A direct connection no group names is a group of one (§6.2), so it is
   * held to what a one-connection group carrying LI traffic is: secure.
   * (At an LI VM that was said above; a named group says it itself.) */
  uint32_t li;
  if (!c->secure && !at_li_vm && !c->groups.n && conn_is_li_store_path(m, c, &li))
    rc |= push(out, MODEL_R6, F_INSECURE_PATH, SK_CONN, i, c->a, c->b, li);
  return rc;
}

static int eval_attach(const model *m, uint32_t i, vvec *out) {
  const mattach *a = &m->attach.a[i];
  uint32_t prov = m->stores.a[a->storage].root;
  uint8_t why;
  uint32_t bc, bg;
  int rc = 0;
  if (a->user != prov && !pair_path(m, a->user, prov, &why, &bc, &bg))
    rc |= push(out, MODEL_R5, why, SK_ATTACH, i, 0, bc, bg);
  if (m->stores.a[a->storage].lis.n) rc |= check_store_user(m, out, i);
  return rc;
}

static int eval_host(const model *m, uint32_t i, vvec *out) {
  const mhost *h = &m->hosts.a[i];
  if (h->trust == MODEL_TRUST_TRUSTED && !h->loc.known)
    return push(out, MODEL_R10, F_NO_TRUSTED_LOC, SK_HOST, i, 0, 0, 0);
  return 0;
}

static int eval_domain(const model *m, uint32_t i, vvec *out) {
  const mdomain *d = &m->domains.a[i];
  if (d->li.n && d->other.n)
    return push(out, MODEL_DOMAIN, F_MIXED_DOMAIN, SK_DOMAIN, i, 0, d->li.v[0], d->other.v[0]);
  return 0;
}

static int eval_vm(const model *m, uint32_t i, vvec *out) {
  uint32_t hw = vm_host(m, i);
  if (m->vms.a[i].cls > m->hosts.a[hw].protection)
    return push(out, MODEL_O13, F_PROTECTION, SK_VM, i, hw, 0, 0);
  return 0;
}

int eval_subject(const model *m, uint8_t sk, uint32_t i, vvec *out) {
  switch (sk) {
    case SK_LI: return eval_li(m, i, out);
    case SK_GROUP: return eval_group(m, i, out);
    case SK_CONN: return eval_conn(m, i, out);
    case SK_ATTACH: return eval_attach(m, i, out);
    case SK_HOST: return eval_host(m, i, out);
    case SK_DOMAIN: return eval_domain(m, i, out);
    case SK_VM: return eval_vm(m, i, out);
    default: return LISEC_EINTERNAL;
  }
}
