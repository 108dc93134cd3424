/* Words for verdicts: each violation becomes its requirement id, the
 * subject it concerns, a sentence that names every entity involved ("LI
 * li-7 is issued in FI; host lon-3 is located in GB ...") and the fact that
 * evaluated false, written like the preconditions of §6.2's moveVM. Also the
 * rule table (ids, clauses, titles) and the JSON form of a verdict. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

static const struct {
  const char *id, *clauses, *title;
} rules[MODEL_RULE_COUNT] = {
    [MODEL_R1] = {"TR103308-6.2-R1", "TR 103 308 §6.2 req. 1; §4.2 (location)",
                  "the monitored VM and the VM hosting the LI run on hardware located inside the "
                  "LI's jurisdiction"},
    [MODEL_R2] = {"TR103308-6.2-R2", "TR 103 308 §6.2 req. 2",
                  "the VM providing the LI's storage is inside the LI's jurisdiction"},
    [MODEL_R3] = {"TR103308-6.2-R3", "TR 103 308 §6.2 req. 3",
                  "the VM utilised to store the LI's data is inside the LI's jurisdiction"},
    [MODEL_R4] = {"TR103308-6.2-R4", "TR 103 308 §6.2 req. 4",
                  "a connection path joins the monitored VM and the VM running the LI"},
    [MODEL_R5] = {"TR103308-6.2-R5", "TR 103 308 §6.2 req. 5; §6.2 storage implies a connection",
                  "a connection path joins the VM utilising storage and the VM providing it"},
    [MODEL_R6] = {"TR103308-6.2-R6", "TR 103 308 §6.2 req. 6",
                  "every connection of the VM hosting the LI, and every connection group carrying "
                  "LI traffic, is secure"},
    [MODEL_R7] = {"TR103308-6.2-R7", "TR 103 308 §6.2 req. 7",
                  "no intermediate VM of a connection group carrying LI traffic stores information"},
    [MODEL_R8] = {"TR103308-6.2-R8", "TR 103 308 §6.2 req. 8 and 12",
                  "the hardware hosting the LI VM is trusted and its trust mechanism provides the "
                  "location"},
    [MODEL_R9] = {"TR103308-6.2-R9", "TR 103 308 §6.2 req. 9 and 13",
                  "the hardware hosting the LI's provided storage is trusted"},
    [MODEL_R10] = {"TR103308-6.2-R10", "TR 103 308 §6.2 req. 10 and 14",
                   "moving hardware voids its location and trust until it attests again"},
    [MODEL_R11] = {"TR103308-6.2-R11", "TR 103 308 §6.2 req. 11 and 15",
                   "a VM involved in an LI migrates only to trusted hardware inside the LI's "
                   "jurisdiction"},
    [MODEL_MOVE1] = {"TR103308-6.2-MOVE1", "TR 103 308 §6.2 moveVM pre v.runsOn != h",
                     "a VM is not moved onto the hypervisor it already runs on"},
    [MODEL_MOVE2] = {"TR103308-6.2-MOVE2", "TR 103 308 §6.2 moveVM pre h.executesOn.trusted",
                     "a VM is moved or placed only onto trusted hardware"},
    [MODEL_DOMAIN] = {"TR103308-4.1-DOMAIN", "TR 103 308 §4.1 (separate security domain)",
                      "LI VMs live in a security domain of their own"},
    [MODEL_KNOWN] = {"TR103308-4.2-KNOWN", "TR 103 308 §4.2 (only known LI VMs)",
                     "LI functions run only in known (paired) LI VMs, and an LI VM operates only "
                     "with the VMs it is allowed to"},
    [MODEL_O13] = {"TR103308-7-O.1.3", "TR 103 308 §7.1 O.1.3; §7.2 O.1.7",
                   "a host runs only VNFs whose sensitivity its protection level admits"},
};

const char *model_rule_id(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].id : "unknown";
}
const char *model_rule_clauses(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].clauses : "";
}
const char *model_rule_title(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].title : "";
}

int model_rule_parse(const char *id, model_rule *out) {
  for (int i = 0; i < MODEL_RULE_COUNT; i++)
    if (strcmp(id, rules[i].id) == 0) {
      *out = (model_rule)i;
      return 0;
    }
  return LISEC_EINVAL;
}

/* ---- verdicts ------------------------------------------------------------ */

/* The three strings of a reason share one allocation, owned by subject. */
int verdict_add(model_verdict *v, model_rule rule, const char *subject, const char *sentence,
                const char *fact) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    model_reason *r = realloc(v->reasons, cap * sizeof *r);
    if (!r) return LISEC_ENOMEM;
    v->reasons = r;
    v->cap = cap;
  }
  model_reason *r = &v->reasons[v->n];
  r->rule = rule;
  r->requirement = model_rule_id(rule);
  r->clauses = model_rule_clauses(rule);
  size_t a = strlen(subject) + 1, b = strlen(sentence) + 1, c = strlen(fact) + 1;
  char *block = malloc(a + b + c);
  if (!block) return LISEC_ENOMEM;
  memcpy(block, subject, a);
  memcpy(block + a, sentence, b);
  memcpy(block + a + b, fact, c);
  r->subject = block;
  r->sentence = block + a;
  r->fact = block + a + b;
  v->n++;
  v->allow = false;
  return 0;
}

void model_verdict_free(model_verdict *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) free(v->reasons[i].subject);
  free(v->reasons);
  memset(v, 0, sizeof *v);
}

json_t *model_verdict_json(const model_verdict *v) {
  json_t *arr = json_array(), *o = NULL;
  if (!arr) return NULL;
  for (size_t i = 0; i < v->n; i++) {
    const model_reason *r = &v->reasons[i];
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "requirement", r->requirement, "clauses",
                          r->clauses, "subject", r->subject, "sentence", r->sentence, "fact",
                          r->fact);
    if (!e || json_array_append_new(arr, e)) goto fail;
  }
  o = json_pack("{s:b,s:o}", "allow", v->allow, "violations", arr);
  if (!o) goto fail;
  return o;
fail:
  json_decref(arr);
  return NULL;
}

/* ---- describing entities ------------------------------------------------- */

void render_jur(const mjur *j, char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < j->ncodes && at < cap; i++) {
    if (i == 8) {
      at += (size_t)snprintf(buf + at, cap - at, "/+%u more", j->ncodes - 8);
      break;
    }
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "/" : "", j->codes[i]);
  }
  if (j->npolys && at < cap)
    snprintf(buf + at, cap - at, "%sthe area of jurisdiction %s (%u polygon%s)",
             j->ncodes ? " or " : "", j->id, j->npolys, j->npolys == 1 ? "" : "s");
}

void render_loc(const mhost *h, char *buf, size_t cap) {
  if (!h->loc.known) {
    snprintf(buf, cap, "an unknown place");
    return;
  }
  size_t at = (size_t)snprintf(buf, cap, "%s", h->loc.country);
  const char *sep = " (";
  if (h->loc.subdivision[0] && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", sep, h->loc.subdivision);
    sep = ", ";
  }
  if (h->loc.site && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", sep, h->loc.site);
    sep = ", ";
  }
  if (h->loc.has_coords && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%.4f,%.4f", sep, h->loc.lat, h->loc.lon);
    sep = ", ";
  }
  if (sep[0] == ',' && at < cap) snprintf(buf + at, cap - at, ")");
}

void host_describe(mhost *h) {
  char buf[512];
  render_loc(h, buf, sizeof buf);
  free(h->where);
  h->where = strdup(buf); /* NULL reads as "?" */
}

void jur_describe(mjur *j) {
  char buf[512];
  render_jur(j, buf, sizeof buf);
  free(j->desc);
  j->desc = strdup(buf);
}

#define WHERE(h) ((h)->where ? (h)->where : "?")
#define DESC(j) ((j)->desc ? (j)->desc : "?")

static const char *trust_words(model_trust t) {
  switch (t) {
    case MODEL_TRUST_TRUSTED: return "trusted";
    case MODEL_TRUST_UNTRUSTED: return "untrusted: its attestation failed";
    default: return "unknown: it has not attested";
  }
}

/* What vm is to LI l, for sentences. */
static const char *role_words(const model *m, const mli *l, uint32_t vm) {
  if (vm == l->monitored) return "which the LI monitors";
  if (vm == l->host) return "which hosts the LI function";
  if (vm == l->via) return "which stores the LI's data";
  if (vm == li_provider(m, l)) return "which provides the LI's storage";
  return "which the LI involves";
}

static const char *role_noun(const model *m, const mli *l, uint32_t vm) {
  if (vm == l->monitored) return "monitored by";
  if (vm == l->host) return "the LI VM of";
  if (vm == l->via) return "the storage VM of";
  if (vm == li_provider(m, l)) return "the storage provider of";
  return "involved in";
}

/* Joins the strings up to NULL into buf (truncating at cap): the sentences
 * of the common decisions are only concatenation, and this keeps a
 * decision's reasons cheap to write. */
static const char *cat(char *buf, size_t cap, ...) __attribute__((sentinel));
static const char *cat(char *buf, size_t cap, ...) {
  va_list ap;
  size_t at = 0;
  va_start(ap, cap);
  for (const char *p; (p = va_arg(ap, const char *)) != NULL;) {
    size_t n = strlen(p);
    if (n > cap - 1 - at) n = cap - 1 - at;
    memcpy(buf + at, p, n);
    at += n;
  }
  va_end(ap);
  buf[at] = '\0';
  return buf;
}

static int add(model_verdict *out, model_rule rule, const char *subject, const char *fact,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add(model_verdict *out, model_rule rule, const char *subject, const char *fact,
               const char *fmt, ...) {
  char sentence[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sentence, sizeof sentence, fmt, ap);
  va_end(ap);
  return verdict_add(out, rule, subject, sentence, fact);
}

/* The sentence for a path rule that failed: none, or every one broken. */
static void path_words(const model *m, const mviol *x, char *buf, size_t cap, char *fact,
                       size_t fcap, const char *a, const char *b) {
  if (x->code == F_NO_PATH || x->e[1] == NONE) {
    snprintf(buf, cap, "no connection group joins %s and %s", a, b);
    snprintf(fact, fcap, "exists connection group joining %s and %s: false", a, b);
    return;
  }
  const mconn *c = &m->conns.a[x->e[1]];
  const char *ha = m->hosts.a[vm_host(m, c->a)].id, *hb = m->hosts.a[vm_host(m, c->b)].id;
  snprintf(buf, cap,
           "every connection group joining %s and %s is broken: group %s uses IPC connection "
           "%s between %s on host %s and %s on host %s, and IPC does not cross machines",
           a, b, m->groups.a[x->e[2]].id, c->id, m->vms.a[c->a].id, ha, m->vms.a[c->b].id, hb);
  snprintf(fact, fcap, "usable(group %s): IPC connection %s spans host %s and host %s: false",
           m->groups.a[x->e[2]].id, c->id, ha, hb);
}

int render_viol(const model *m, const mviol *x, model_verdict *out) {
  char subj[MODEL_ID_MAX + 32], fact[2048], words[1024];
  const model_rule rule = (model_rule)x->rule;
  const mli *l = x->sk == SK_LI ? &m->lis.a[x->subj] : NULL;
  switch (x->sk) {
    case SK_LI: cat(subj, sizeof subj, "li ", l->id, NULL); break;
    case SK_GROUP: snprintf(subj, sizeof subj, "group %s", m->groups.a[x->subj].id); break;
    case SK_CONN: snprintf(subj, sizeof subj, "connection %s", m->conns.a[x->subj].id); break;
    case SK_ATTACH: {
      const mattach *a = &m->attach.a[x->subj];
      snprintf(subj, sizeof subj, "storage %s to %s", m->stores.a[a->storage].id,
               m->vms.a[a->user].id);
      break;
    }
    case SK_HOST: snprintf(subj, sizeof subj, "host %s", m->hosts.a[x->subj].id); break;
    case SK_DOMAIN: snprintf(subj, sizeof subj, "domain %s", m->domains.a[x->subj].name); break;
    default: cat(subj, sizeof subj, "vm ", m->vms.a[x->subj].id, NULL); break;
  }

  switch (rule) {
    case MODEL_R1:
    case MODEL_R2:
    case MODEL_R3: {
      const mvm *v = &m->vms.a[x->e[0]];
      const mhost *h = &m->hosts.a[x->e[1]];
      const char *jur = DESC(&m->jurs.a[l->jur]), *loc = WHERE(h);
      if (x->code == F_LOC_UNKNOWN) {
        snprintf(fact, sizeof fact, "location(host %s) IN jurisdiction(li %s) = {%s}: location unknown",
                 h->id, l->id, jur);
        return add(out, rule, subj, fact,
                   "LI %s is issued in %s; host %s has no known location, and runs VM %s, %s",
                   l->id, jur, h->id, v->id, role_words(m, l, x->e[0]));
      }
      cat(fact, sizeof fact, "location(host ", h->id, ") = ", loc, " IN jurisdiction(li ", l->id,
          ") = {", jur, "}: false", NULL);
      cat(words, sizeof words, "LI ", l->id, " is issued in ", jur, "; host ", h->id,
          " is located in ", loc, ", and runs VM ", v->id, ", ", role_words(m, l, x->e[0]), NULL);
      return verdict_add(out, rule, subj, words, fact);
    }
    case MODEL_R4: {
      const char *a = m->vms.a[l->monitored].id, *b = m->vms.a[l->host].id;
      path_words(m, x, words, sizeof words, fact, sizeof fact, a, b);
      return add(out, rule, subj, fact, "LI %s monitors VM %s from VM %s, but %s", l->id, a, b,
                 words);
    }
    case MODEL_R5: {
      if (x->sk == SK_ATTACH) {
        const mattach *a = &m->attach.a[x->subj];
        const mstorage *s = &m->stores.a[a->storage];
        const char *u = m->vms.a[a->user].id, *p = m->vms.a[s->root].id;
        path_words(m, x, words, sizeof words, fact, sizeof fact, u, p);
        return add(out, rule, subj, fact, "storage %s is rooted in VM %s and provided to VM %s, but %s",
                   s->id, p, u, words);
      }
      const mstorage *s = &m->stores.a[l->storage];
      const char *via = m->vms.a[l->via].id;
      if (x->code == F_NOT_ATTACHED) {
        snprintf(fact, sizeof fact, "%s IN providedTo(storage %s): false", via, s->id);
        return add(out, rule, subj, fact,
                   "LI %s stores its data in storage %s through VM %s, but %s is not provided to "
                   "%s (it is rooted in VM %s)",
                   l->id, s->id, via, s->id, via, m->vms.a[s->root].id);
      }
      const char *host = m->vms.a[l->host].id;
      path_words(m, x, words, sizeof words, fact, sizeof fact, host, via);
      return add(out, rule, subj, fact,
                 "LI %s runs in VM %s and stores its data through VM %s, but %s", l->id, host, via,
                 words);
    }
    case MODEL_R6: {
      if (x->sk == SK_CONN) {
        const mconn *c = &m->conns.a[x->subj];
        const mvm *lv = &m->vms.a[x->e[0]];
        const char *li = "an LI";
        for (uint32_t i = 0; i < lv->lis.n; i++) {
          const mli *y = &m->lis.a[lv->lis.v[i]];
          if (y->active && y->host == x->e[0]) {
            li = y->id;
            break;
          }
        }
        snprintf(fact, sizeof fact, "secure(connection %s): false", c->id);
        return add(out, rule, subj, fact,
                   "VM %s hosts LI %s, and its %s connection %s to VM %s is not secure", lv->id,
                   li, model_conn_kind_name(c->kind), c->id, m->vms.a[x->e[1]].id);
      }
      const mgroup *g = &m->groups.a[x->subj];
      const mconn *c = &m->conns.a[x->e[1]];
      uint32_t li = NONE;
      group_carries_li(m, g, &li);
      snprintf(fact, sizeof fact,
               "secure(group %s) = every connection secure: false (%u of %u insecure)", g->id,
               x->e[2], g->n);
      return add(out, rule, subj, fact,
                 "connection group %s between VM %s and VM %s carries the traffic of LI %s, but "
                 "its %s connection %s (%s to %s) is not secure",
                 g->id, m->vms.a[g->path[0]].id, m->vms.a[g->path[g->n]].id,
                 li == NONE ? "?" : m->lis.a[li].id, model_conn_kind_name(c->kind), c->id,
                 m->vms.a[c->a].id, m->vms.a[c->b].id);
    }
    case MODEL_R7: {
      const mgroup *g = &m->groups.a[x->subj];
      uint32_t li = NONE;
      group_carries_li(m, g, &li);
      snprintf(fact, sizeof fact, "stores(intermediate %s of group %s): true", m->vms.a[x->e[0]].id,
               g->id);
      return add(out, rule, subj, fact,
                 "intermediate VM %s of connection group %s (between VM %s and VM %s, carrying "
                 "the traffic of LI %s) stores information",
                 m->vms.a[x->e[0]].id, g->id, m->vms.a[g->path[0]].id, m->vms.a[g->path[g->n]].id,
                 li == NONE ? "?" : m->lis.a[li].id);
    }
    case MODEL_R8:
    case MODEL_R9: {
      const mhost *h = &m->hosts.a[x->e[1]];
      const char *v = m->vms.a[x->e[0]].id;
      if (x->code == F_NO_TRUSTED_LOC) {
        snprintf(fact, sizeof fact, "location(host %s) provided by its trust mechanism: false",
                 h->id);
        return add(out, rule, subj, fact,
                   "VM %s is %s LI %s; its hardware, host %s, is trusted but its trust mechanism "
                   "provides no location",
                   v, role_noun(m, l, x->e[0]), l->id, h->id);
      }
      snprintf(fact, sizeof fact, "trusted(host %s): false (%s)", h->id,
               model_trust_name(h->trust));
      return add(out, rule, subj, fact, "VM %s is %s LI %s; its hardware, host %s, is not trusted (%s)",
                 v, role_noun(m, l, x->e[0]), l->id, h->id, trust_words(h->trust));
    }
    case MODEL_R10: {
      const mhost *h = &m->hosts.a[x->subj];
      snprintf(fact, sizeof fact, "trusted(host %s) and location(host %s) unknown", h->id, h->id);
      return add(out, rule, subj, fact,
                 "host %s is marked trusted but no location is bound to its attestation; "
                 "hardware that moved has to attest again at its new place",
                 h->id);
    }
    case MODEL_R11: {
      /* decisions: e0 hypervisor, e1 host, e2 LI */
      const mvm *v = &m->vms.a[x->subj];
      const mhost *h = &m->hosts.a[x->e[1]];
      const mli *y = &m->lis.a[x->e[2]];
      if (x->code == F_UNTRUSTED || x->code == F_NO_TRUSTED_LOC) {
        snprintf(fact, sizeof fact, "h.executesOn.trusted: host %s: false (%s%s)", h->id,
                 model_trust_name(h->trust), h->loc.known ? "" : ", no location");
        return add(out, rule, subj, fact,
                   "VM %s is %s LI %s and may move only to trusted hardware; hypervisor %s runs "
                   "on host %s, which is not (%s%s)",
                   v->id, role_noun(m, y, x->subj), y->id, m->hyps.a[x->e[0]].id, h->id,
                   trust_words(h->trust), h->loc.known ? "" : "; no location");
      }
      const char *jur = DESC(&m->jurs.a[y->jur]), *loc = WHERE(h);
      cat(fact, sizeof fact, "h.executesOn.geographicalLocation IN v.hosts.jurisdiction: host ",
          h->id, " at ", loc, " IN {", jur, "}: false", NULL);
      cat(words, sizeof words, "LI ", y->id, " is issued in ", jur, "; host ", h->id,
          " is located in ", loc, "; VM ", v->id, ", ", role_words(m, y, x->subj),
          ", would run there", NULL);
      return verdict_add(out, rule, subj, words, fact);
    }
    case MODEL_MOVE1: {
      const mvm *v = &m->vms.a[x->subj];
      snprintf(fact, sizeof fact, "v.runsOn != h: %s != %s: false", m->hyps.a[v->hyp].id,
               m->hyps.a[x->e[0]].id);
      return add(out, rule, subj, fact, "VM %s already runs on hypervisor %s", v->id,
                 m->hyps.a[x->e[0]].id);
    }
    case MODEL_MOVE2: {
      const mhost *h = &m->hosts.a[x->e[1]];
      cat(fact, sizeof fact, "h.executesOn.trusted: host ", h->id, ": false (",
          model_trust_name(h->trust), h->loc.known ? ")" : ", no location)", NULL);
      cat(words, sizeof words, "VM ", m->vms.a[x->subj].id,
          " may run only on trusted hardware; hypervisor ", m->hyps.a[x->e[0]].id,
          " runs on host ", h->id, ", which is not trusted (", trust_words(h->trust),
          h->loc.known ? ")" : "; no location)", NULL);
      return verdict_add(out, rule, subj, words, fact);
    }
    case MODEL_DOMAIN: {
      const mdomain *d = &m->domains.a[x->subj];
      snprintf(fact, sizeof fact,
               "domain %s holds only LI VMs or only other VMs: false (%u LI, %u other)", d->name,
               d->li.n, d->other.n);
      return add(out, rule, subj, fact,
                 "security domain %s holds LI VM %s and %u VM%s that %s not LI VMs, e.g. %s; LI "
                 "VMs need a domain of their own",
                 d->name, m->vms.a[x->e[1]].id, d->other.n, d->other.n == 1 ? "" : "s",
                 d->other.n == 1 ? "is" : "are", m->vms.a[x->e[2]].id);
    }
    case MODEL_KNOWN: {
      if (x->sk == SK_CONN) {
        const mconn *c = &m->conns.a[x->subj];
        const char *lv = m->vms.a[x->e[0]].id, *o = m->vms.a[x->e[1]].id;
        snprintf(fact, sizeof fact, "allowedPeer(LI VM %s, VM %s): false", lv, o);
        return add(out, rule, subj, fact,
                   "LI VM %s is connected to VM %s (connection %s), which no active LI hosted by "
                   "%s monitors or stores through and which is not a known LI VM",
                   lv, o, c->id, lv);
      }
      const mvm *v = &m->vms.a[x->e[0]];
      if (x->code == F_NOT_LI_VM) {
        snprintf(fact, sizeof fact, "class(vm %s) = li: false (%s)", v->id,
                 model_class_name(v->cls));
        return add(out, rule, subj, fact,
                   "LI %s is hosted by VM %s, which is not an LI VM (sensitivity %s)", l->id,
                   v->id, model_class_name(v->cls));
      }
      snprintf(fact, sizeof fact, "paired(vm %s): false", v->id);
      return add(out, rule, subj, fact,
                 "LI %s is hosted by LI VM %s, which is not paired with the LI administration "
                 "system, so it is not a known LI VM",
                 l->id, v->id);
    }
    case MODEL_O13: {
      const mvm *v = &m->vms.a[x->subj];
      const mhost *h = &m->hosts.a[x->e[0]];
      cat(fact, sizeof fact, "class(vm ", v->id, ") = ", model_class_name(v->cls),
          " <= protection(host ", h->id, ") = ", model_class_name(h->protection), ": false", NULL);
      cat(words, sizeof words, "VM ", v->id, " has sensitivity ", model_class_name(v->cls),
          "; host ", h->id, "'s protection level admits VNFs up to ",
          model_class_name(h->protection), NULL);
      return verdict_add(out, rule, subj, words, fact);
    }
    default: break;
  }
  snprintf(fact, sizeof fact, "rule %u code %u", x->rule, x->code);
  return add(out, rule, subj, fact, "%s failed", model_rule_id(rule));
}
