/* The shared trust model and its use cases. One model serves every API
 * worker behind one mutex; beside it the controller keeps the stored
 * document of every entity (for reads, for undoing a change the store then
 * refuses, and for knowing which VMs an LI involves) and each host's latest
 * attestation result, which overrides whatever the document says: trust and
 * location come from evidence (§6.2 req. 8-10, 12-14), and an operator may
 * declare them only when [model] allow_declared_trust is set for
 * development. A change is applied to the model first (that is its
 * validation), then recorded, then stored; a refusal anywhere on the way
 * undoes what was done, so model and store never disagree. Decisions about
 * a VM an LI involves first ask attestation for a fresh appraisal of the
 * destination (outside the lock: attestation feeds the model back).
 *
 * Writes are compare-and-set (issue 17 item 2, docs/ha.md): the controller
 * keeps each document's stored version and the version of the model's
 * generation document, which every model write bumps. A change is stored
 * with its audit record in one transaction only when its document and the
 * generation are still at the versions this lisecd holds; so the
 * references the model checked (a VM's hypervisor, a connection's VMs...)
 * were checked against exactly what is stored, and a model gone stale
 * (another lisecd wrote the store) never overwrites anything: the write is
 * refused (409, TR103308-5.5) and the model loaded again from the store. A
 * client may also name the version it read ("version" in a body, or
 * ?version= on DELETE) and is refused when the document moved on. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/internal.h"
#include "ctl/model_k8s_pods.h"
#include "ctl/model.h"

enum { K_JUR, K_LEA, K_HOST, K_HYP, K_VM, K_STORAGE, K_CONN, K_GROUP, K_LI, K_COUNT };

/* In the model's load order: what an entity names is loaded before it. */
static const char *const kind_names[K_COUNT] = {"jurisdiction", "lea", "host", "hypervisor", "vm",
                                                "storage", "connection", "group", "li"};
static const char *const store_kinds[K_COUNT] = {
    "model.jurisdiction", "model.lea", "model.host", "model.hypervisor", "model.vm",
    "model.storage", "model.connection", "model.group", "model.li"};

struct ctl_model_state {
  pthread_mutex_t mu;
  model *m;
  json_t *docs[K_COUNT]; /* id -> the document as stored */
  json_t *vers[K_COUNT]; /* id -> its stored version */
  int64_t gen;           /* the generation document's stored version, 0 = none yet */
  /* the store failed over under this leader (ctl/ha.c), or a write's
   * commit failed (commit_doc): a write whose commit was in doubt may be
   * stored, so the model is loaded again at the next use (lock_fresh) */
  bool stale;
  json_t *attested;      /* host id -> {"trust", "location"?} from attestation */
  json_t *paired;        /* VM id -> true: paired by the LI administration (ctl/li.c) */
  json_t *li_vms;        /* VM id -> true when an LI involves it */
  /* VM id -> true when declared an LI VM (sensitivity "li"): what no row a
   * role but li-admin, hypervisor-admin and the operator reads names
   * (mark_li_vm_rows, hide_li_vm_rows) */
  json_t *li_declared;
  /* VM id -> {"hypervisor", "host"}: migrations lisec allowed whose
   * destination has not yet proved it runs the VM (issue 15) */
  json_t *moving;
  /* VM id -> {"at", "host"?, "by"}: terminations MANO or an operator asked
   * for, waiting for the hosts' inventories (issue 21); "blocked" (memory
   * only) once its removal was refused, so that is recorded once */
  json_t *terminating;
  /* the pods the admission webhook admitted for lisec's scheduler, with
   * their VMs, until their bindings (memory only: k8s_pods.h) */
  ctl_k8s_pods *k8s_pods;
  ctl_model_li_vm_fn li_vm;       /* the LI topic's hook */
  ctl_model_li_ended_fn li_ended; /* the targets' hook */
  bool allow_declared;
  int64_t max_age_s;
  int64_t obs_window_s; /* [attest] interval_s + grace_s: when a VM is unreported */
  /* host id -> {"sum": obs_content_sum of its stored observation, "at":
   * that document's time}: a report with the same content less than
   * obs_rewrite_s ([attest] grace_s) after it writes none (obs_unchanged) */
  json_t *obs_kept;
  int64_t obs_rewrite_s;
  /* the hooks the topics above register (ctl/model.h), set while opening */
  ctl_model_fresh_fn fresh;
  ctl_model_expire_fn expire;
  struct {
    const char *rule;
    ctl_model_findings_fn fn;
  } findings[CTL_MODEL_FINDINGS_COUNT];
  ctl_model_instantiable_fn instantiable;
  ctl_model_pkg_images_fn pkg_images; /* ctl/pkg.c's kept images, or NULL */
  ctl_model_changed_fn changed; /* the X1 topic's (ctl/tasks.c), or NULL */
};

#define OBS_KIND CTL_MODEL_OBS_KIND
/* One document whose version counts the model's writes (see above). */
#define GEN_KIND "generation"
#define GEN_ID "model"
#define MOVING_KIND "model.moving"
#define TERMINATING_KIND "model.terminating"

static struct ctl_model_state *state(lisec_ctl *ctl) { return ctl->shared->model; }

/* The model's lock. Test builds count its waits and holds by class of
 * thread (store_wait_note: bench/api prints them); that asks the kernel for
 * the thread's priority at every acquisition, which a release build does
 * not pay for. */
#ifdef LISEC_TEST_HOOKS
static _Thread_local uint64_t mu_since_us;
static _Thread_local bool mu_lowered;

static void mu_lock(struct ctl_model_state *st) {
  mu_lowered = store_thread_lowered();
  if (pthread_mutex_trylock(&st->mu) == 0) {
    mu_since_us = store_wait_clock_us();
    store_wait_note(STORE_WAIT_MODEL, mu_lowered, 0);
    return;
  }
  uint64_t t0 = store_wait_clock_us();
  pthread_mutex_lock(&st->mu);
  mu_since_us = store_wait_clock_us();
  store_wait_note(STORE_WAIT_MODEL, mu_lowered, mu_since_us - t0);
}

static void mu_unlock(struct ctl_model_state *st) {
  store_wait_note_held(STORE_WAIT_MODEL, mu_lowered, store_wait_clock_us() - mu_since_us);
  pthread_mutex_unlock(&st->mu);
  store_wait_dump();
}
#else
static void mu_lock(struct ctl_model_state *st) { pthread_mutex_lock(&st->mu); }
static void mu_unlock(struct ctl_model_state *st) { pthread_mutex_unlock(&st->mu); }
#endif

static int reload_locked(struct ctl_model_state *st, lisec_store *s);
static void tell_changed(ctl_shared *sh, struct ctl_model_state *st);

/* The model's lock, with the model loaded again first when the store failed
 * over under this leader (ctl_model_mark_stale): what a use case reads is
 * then what the store committed, an in-doubt write included. */
static void lock_fresh(lisec_ctl *ctl, struct ctl_model_state *st) {
  mu_lock(st);
  if (__atomic_load_n(&st->stale, __ATOMIC_ACQUIRE) && reload_locked(st, ctl->store) == 0) {
    __atomic_store_n(&st->stale, false, __ATOMIC_RELEASE);
    tell_changed(ctl->shared, st); /* what the store holds may differ */
  }
}

/* Without the model's lock: the watch thread that calls it must never wait
 * behind a use case that is itself waiting for the store. */
void ctl_model_mark_stale(ctl_shared *sh) {
  if (sh && sh->model) __atomic_store_n(&sh->model->stale, true, __ATOMIC_RELEASE);
}

void ctl_model_hook_attest(ctl_shared *sh, ctl_model_fresh_fn fresh, ctl_model_expire_fn expire) {
  sh->model->fresh = fresh;
  sh->model->expire = expire;
}

void ctl_model_hook_li_vm(ctl_shared *sh, ctl_model_li_vm_fn fn) { sh->model->li_vm = fn; }
void ctl_model_hook_li_ended(ctl_shared *sh, ctl_model_li_ended_fn fn) { sh->model->li_ended = fn; }

static void sync_time(struct ctl_model_state *st);

model *ctl_model_lock(ctl_shared *sh) {
  if (!sh->model) return NULL;
  mu_lock(sh->model);
  sync_time(sh->model);
  return sh->model->m;
}

void ctl_model_unlock(ctl_shared *sh) {
  if (sh->model) mu_unlock(sh->model);
}

void ctl_model_hook_instantiable(ctl_shared *sh, ctl_model_instantiable_fn fn) {
  sh->model->instantiable = fn;
}

void ctl_model_hook_pkg_images(ctl_shared *sh, ctl_model_pkg_images_fn fn) { sh->model->pkg_images = fn; }

void ctl_model_hook_changed(ctl_shared *sh, ctl_model_changed_fn fn) {
  if (sh->model) sh->model->changed = fn;
}

/* Tells the X1 topic that the model changed (ctl_model_hook_changed).
 * Called with the lock held. */
static void tell_changed(ctl_shared *sh, struct ctl_model_state *st) {
  if (st->changed) st->changed(sh);
}

/* Whether VM vm is declared an LI VM (sensitivity "li"). The roles that
 * write the model (operator, hypervisor-admin) read it in the VM's
 * document; no other role but li-admin reads a VM declared so, and no
 * role but those three reads a row naming one, nor any record in the clear
 * (reads_li_vm_rows, mark_li_vm_rows, hide_li_vm_rows; docs/model.md, "Rows
 * naming an LI VM"). A record about a VM is sealed for that only, never
 * because an LI names the VM: operator and auditor read each entry's seal
 * bit, so such a seal would tell them which VM an LI names (TR 103 308
 * §4.1; decisions alike, decision_sealed). Called with the lock held. */
static bool vm_declared_li(struct ctl_model_state *st, const char *vm) {
  const char *sens = vm ? json_string_value(json_object_get(json_object_get(st->docs[K_VM], vm), "sensitivity"))
                        : NULL;
  return sens && strcmp(sens, "li") == 0;
}

/* st->li_declared for VM id after its document changed (or went). Called
 * with the lock held. */
static void li_declared_note(struct ctl_model_state *st, const char *id) {
  if (vm_declared_li(st, id)) json_object_set_new(st->li_declared, id, json_true());
  else json_object_del(st->li_declared, id);
}

/* st->li_declared from every VM document. Called with the lock held. */
static void li_declared_rebuild(struct ctl_model_state *st) {
  const char *id;
  json_t *doc;
  json_object_clear(st->li_declared);
  json_object_foreach(st->docs[K_VM], id, doc) li_declared_note(st, id);
}

int ctl_model_packaged_vms(ctl_shared *sh, json_t **out, lisec_err *err) {
  struct ctl_model_state *st = sh->model;
  json_t *arr = json_array();
  int rc = arr ? 0 : LISEC_ENOMEM;
  const char *id;
  json_t *doc;
  mu_lock(st);
  json_object_foreach(st->docs[K_VM], id, doc) {
    const char *p = json_string_value(json_object_get(doc, "package"));
    if (!p || rc) continue;
    model_vm_observation ob;
    bool seen = model_vm_observed(st->m, id, &ob) && ob.n_hosts == 1;
    /* "li": declared an LI VM, which the package's readers may know */
    if (json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s?}", "vm", id, "package", p, "li",
                                             vm_declared_li(st, id), "image", seen ? ob.image : NULL)))
      rc = LISEC_ENOMEM;
  }
  mu_unlock(st);
  if (rc) {
    json_decref(arr);
    return lisec_err_set(err, rc, "out of memory");
  }
  *out = arr;
  return 0;
}

void ctl_model_hook_findings(ctl_shared *sh, ctl_model_findings_slot slot, const char *rule,
                             ctl_model_findings_fn fn) {
  sh->model->findings[slot].rule = rule;
  sh->model->findings[slot].fn = fn;
}

/* Overdue hosts turn untrusted (attestation's hook) before a decision reads
 * their trust. Called without the lock held. */
static void expire_overdue(lisec_ctl *ctl) {
  if (state(ctl)->expire) state(ctl)->expire(ctl);
}

static int kind_find(const char *kind, lisec_err *err) {
  for (int k = 0; kind && k < K_COUNT; k++)
    if (strcmp(kind, kind_names[k]) == 0) return k;
  return lisec_err_set(err, LISEC_ENOTFOUND,
                       "kind: \"%.32s\" is not one of jurisdiction, lea, host, hypervisor, vm, "
                       "storage, connection, group, li",
                       kind ? kind : "");
}

static int64_t ver_of(struct ctl_model_state *st, int k, const char *id) {
  return json_integer_value(json_object_get(st->vers[k], id)); /* 0: not stored */
}

/* The model's time follows the clock, judged once per second at most. */
static void sync_time(struct ctl_model_state *st) {
  int64_t now = lisec_time_now();
  if (model_time(st->m) != now) model_set_time(st->m, now, NULL);
}

/* ---- documents ------------------------------------------------------------ */

static bool declares_trust(const json_t *doc) {
  return json_object_get(doc, "trust") || json_object_get(doc, "location");
}

/* What the model is given for a document: for a host, the attestation's
 * trust and location replace the document's; for a VM, whether it is a
 * known (paired) LI VM is what the LI administration's pairing says (a
 * declaration counts too only in development mode). *out is a new
 * reference. */
static json_t *effective(struct ctl_model_state *st, int k, const json_t *doc) {
  /* A deep copy: it outlives the lock in some callers and must share
   * nothing with the stored documents. */
  json_t *e = json_deep_copy(doc);
  /* A VM's package is the controller's (image reports, ctl/pkg.c); the
   * model's VM has no such field. */
  if (e && k == K_VM) json_object_del(e, "package");
  if (e && k == K_VM) {
    bool paired = json_object_get(st->paired, json_string_value(json_object_get(doc, "id"))) ||
                  (st->allow_declared && json_is_true(json_object_get(doc, "paired")));
    json_object_set_new(e, "paired", json_boolean(paired));
  }
  if (!e || k != K_HOST) return e;
  const json_t *a = json_object_get(st->attested, json_string_value(json_object_get(doc, "id")));
  if (a) {
    json_object_set_new(e, "trust", json_deep_copy(json_object_get(a, "trust")));
    const json_t *loc = json_object_get(a, "location");
    if (loc) json_object_set_new(e, "location", json_deep_copy(loc));
    else json_object_del(e, "location");
  }
  return e;
}

/* Which VMs an LI involves (monitored, LI VM, storage user, storage
 * provider, and every other VM its storage is provided to, which
 * TR103308-4.2-STORE judges): rebuilt after any change to an LI or to
 * storage. */
static void li_vms_rebuild(struct ctl_model_state *st) {
  json_object_clear(st->li_vms);
  const char *id;
  json_t *li;
  json_object_foreach(st->docs[K_LI], id, li) {
    static const char *const fields[] = {"monitored", "host", "storage_via"};
    for (size_t i = 0; i < 3; i++) {
      const char *vm = json_string_value(json_object_get(li, fields[i]));
      if (vm) json_object_set_new(st->li_vms, vm, json_true());
    }
    const char *sid = json_string_value(json_object_get(li, "storage"));
    const json_t *s = sid ? json_object_get(st->docs[K_STORAGE], sid) : NULL;
    const char *root = json_string_value(json_object_get(s, "vm"));
    if (root) json_object_set_new(st->li_vms, root, json_true());
    size_t i;
    json_t *user;
    json_array_foreach(json_object_get(s, "provided_to"), i, user) {
      if (json_is_string(user)) json_object_set_new(st->li_vms, json_string_value(user), json_true());
    }
  }
}

/* lisec's one id rule (base/id.c), the same the model applies: an id that
 * is stored can be named in a URL path, read and removed. */
static int check_id(const char *id, lisec_err *err) {
  return lisec_id_check("id", id, id ? strnlen(id, LISEC_ID_MAX + 1) : 0, err);
}

/* ---- opening --------------------------------------------------------------- */

typedef struct load_ctx {
  struct ctl_model_state *st;
  int k;
  lisec_err *err;
} load_ctx;

static int load_one(void *vctx, const char *id, const char *body, int64_t version) {
  load_ctx *c = vctx;
  struct ctl_model_state *st = c->st;
  json_t *doc = NULL;
  int rc = lisec_json_parse(body, strlen(body), &doc, c->err);
  if (!rc && c->k == K_HOST && declares_trust(doc) && !st->allow_declared) {
    /* Stored while declaring was allowed: without the setting the host
     * waits for evidence like any other (fail closed). */
    LOG_WARN("host %s: its stored trust/location was declared; ignored until it attests "
             "([model] allow_declared_trust is off)", id);
    json_object_del(doc, "trust");
    json_object_del(doc, "location");
  }
  json_t *e = rc ? NULL : effective(st, c->k, doc);
  if (!rc) rc = e ? model_put_json(st->m, kind_names[c->k], e, c->err) : LISEC_ENOMEM;
  json_decref(e);
  if (!rc) rc = json_object_set_new(st->docs[c->k], id, doc) ? LISEC_ENOMEM : 0;
  else json_decref(doc);
  if (!rc) rc = json_object_set_new(st->vers[c->k], id, json_integer(version)) ? LISEC_ENOMEM : 0;
  if (rc) lisec_err_wrap(c->err, "stored %s %s", kind_names[c->k], id);
  return rc;
}

/* ---- the stored observation's content, apart from its time ---------------
 * A host reports the same inventory again and again; what changes at every
 * report is only its time ("at") and the quote it came in ("evidence"). The
 * document is written again only when anything else in it changed, or when
 * the stored one is obs_rewrite_s ([attest] grace_s) old: a restart then
 * reads an observation with the same content, at most grace_s older than
 * the newest report, so a host that reports on schedule is still within
 * interval_s + grace_s (judge_vm's window) and nothing is found unreported
 * that is not. The newest report's time and quote are in its audit record
 * and in the model in memory (docs/observed.md). */

/* SHA-256 of text (obs_doc_text's canonical form: {"at":N,"domains":[..],
 * "evidence":"..","first_at":N,"host":".."}) without the values of "at" and
 * "evidence"; false when text is not of that form (then it is written). */
static bool obs_content_sum(const char *text, uint8_t sum[CRYPTO_SHA256_LEN]) {
  static const char dom[] = ",\"domains\":", ev[] = ",\"evidence\":\"";
  if (strncmp(text, "{\"at\":", 6) != 0) return false;
  const char *d = strstr(text, dom), *e = NULL;
  /* the last ",\"evidence\":\"": the domains before it escape their quotes */
  for (const char *p = d; p && (p = strstr(p + 1, ev));) e = p;
  if (!d || !e) return false;
  const char *end = e + sizeof ev - 1;
  while (*end && *end != '"' && *end != '\\') end++;
  if (*end != '"') return false;
  const void *parts[] = {d, end};
  size_t lens[] = {(size_t)(e - d), strlen(end)};
  crypto_sha256_parts(parts, lens, 2, sum);
  return true;
}

#define OBS_SUM_HEX (2 * CRYPTO_SHA256_LEN + 1)

/* obs_content_sum in hex; false as obs_content_sum. */
static bool obs_sum_hex(const char *text, char hex[OBS_SUM_HEX]) {
  uint8_t sum[CRYPTO_SHA256_LEN];
  if (!text || !obs_content_sum(text, sum)) return false;
  lisec_hex_encode(sum, sizeof sum, hex);
  return true;
}

/* Notes what is stored now for host: a document of content sum (hex; NULL:
 * not known, so the next report writes it), written at at (lock held). */
static void obs_kept_set(struct ctl_model_state *st, const char *host, const char *sum, int64_t at) {
  if (!sum || json_object_set_new(st->obs_kept, host, json_pack("{s:s, s:I}", "sum", sum, "at", (json_int_t)at)))
    json_object_del(st->obs_kept, host);
}

/* Whether host's stored observation has content sum and was written less
 * than obs_rewrite_s before at (lock held). */
static bool obs_unchanged(struct ctl_model_state *st, const char *host, const char *sum, int64_t at) {
  const json_t *k = json_object_get(st->obs_kept, host);
  const char *was_sum = json_string_value(json_object_get(k, "sum"));
  int64_t was_at = json_integer_value(json_object_get(k, "at"));
  return sum && was_sum && at >= was_at && at - was_at < st->obs_rewrite_s && strcmp(sum, was_sum) == 0;
}

/* One stored observation (OBS_KIND, by host id) back into the model: the
 * inventory as it was judged, so what was found then is not found (and
 * recorded) again. */
static int obs_load_one(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  struct ctl_model_state *st = vctx;
  json_t *doc = NULL;
  lisec_err e = {0};
  if (lisec_json_parse(body, strlen(body), &doc, &e)) {
    LOG_WARN("observation of host %s: unreadable, ignored: %s", id, e.msg);
    return 0;
  }
  const json_t *doms = json_object_get(doc, "domains");
  size_t n = json_array_size(doms), i;
  model_obs_domain *d = calloc(n ? n : 1, sizeof *d);
  const char **exp = NULL;
  size_t nexp = 0, j;
  const json_t *x, *y;
  json_array_foreach(doms, i, x) nexp += json_array_size(json_object_get(x, "expected"));
  exp = calloc(nexp ? nexp : 1, sizeof *exp);
  if (!d || !exp) {
    free(d);
    free(exp);
    json_decref(doc);
    return LISEC_ENOMEM;
  }
  nexp = 0;
  json_array_foreach(doms, i, x) {
    d[i].uuid = json_string_value(json_object_get(x, "uuid"));
    d[i].vm = json_string_value(json_object_get(x, "vm"));
    d[i].image = json_string_value(json_object_get(x, "image"));
    model_dom_state ds = MODEL_DOM_OTHER;
    model_dom_state_parse(json_string_value(json_object_get(x, "state")), &ds);
    d[i].state = ds;
    d[i].expected = exp + nexp;
    json_array_foreach(json_object_get(x, "expected"), j, y) exp[nexp++] = json_string_value(y);
    d[i].n_expected = (size_t)(exp + nexp - d[i].expected);
  }
  model_observation o = {id, json_integer_value(json_object_get(doc, "at")),
                         json_string_value(json_object_get(doc, "evidence")), d, n};
  if (model_observe_host(st->m, &o, st->obs_window_s, NULL, &e))
    LOG_WARN("observation of host %s: not restored: %s", id, e.msg);
  else {
    model_host_observed_since(st->m, id, json_integer_value(json_object_get(doc, "first_at")));
    char sum[OBS_SUM_HEX];
    obs_kept_set(st, id, obs_sum_hex(body, sum) ? sum : NULL, o.at);
  }
  free(d);
  free(exp);
  json_decref(doc);
  return 0;
}

static int moving_load_one(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  struct ctl_model_state *st = vctx;
  json_t *doc = NULL;
  lisec_err e = {0};
  if (lisec_json_parse(body, strlen(body), &doc, &e)) {
    LOG_WARN("allowed migration of VM %s: unreadable, ignored: %s", id, e.msg);
    return 0;
  }
  return json_object_set_new(st->moving, id, doc) ? LISEC_ENOMEM : 0;
}

static int terminating_load_one(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  struct ctl_model_state *st = vctx;
  json_t *doc = NULL;
  lisec_err e = {0};
  /* A mark that does not read stays a termination asked for: the VM is
   * kept terminating from its request on (now, at worst). */
  if (lisec_json_parse(body, strlen(body), &doc, &e) || !json_is_object(doc)) {
    LOG_WARN("termination of VM %s: unreadable, kept as asked now: %s", id, e.msg);
    json_decref(doc);
    doc = json_pack("{s:I}", "at", (json_int_t)lisec_time_now());
  }
  return !doc || json_object_set_new(st->terminating, id, doc) ? LISEC_ENOMEM : 0;
}

/* The stored model into st's (empty) model, documents, versions, awaited
 * migrations and terminations: at open, and again when the store refused a
 * write because the model changed there. */
static int load_all(struct ctl_model_state *st, lisec_store *s, lisec_err *err) {
  int rc = 0;
  char *gen_body = NULL;
  st->gen = 0;
  if ((rc = store_doc_get(s, GEN_KIND, GEN_ID, &gen_body, &st->gen, err)) == LISEC_ENOTFOUND) rc = 0;
  free(gen_body);
  if (rc) return rc;
  model_set_time(st->m, lisec_time_now(), NULL);
  model_batch_begin(st->m);
  for (int k = 0; k < K_COUNT && !rc; k++) {
    load_ctx c = {st, k, err};
    rc = store_doc_list(s, store_kinds[k], load_one, &c, err);
  }
  model_batch_end(st->m);
  if (rc) {
    lisec_err_wrap(err, "cannot load the trust model from the store");
    return rc;
  }
  li_vms_rebuild(st);
  li_declared_rebuild(st);
  /* What hosts last proved, after the intent it is judged against. */
  json_object_clear(st->obs_kept);
  if ((rc = store_doc_list(s, OBS_KIND, obs_load_one, st, err)) ||
      (rc = store_doc_list(s, MOVING_KIND, moving_load_one, st, err)) ||
      (rc = store_doc_list(s, TERMINATING_KIND, terminating_load_one, st, err))) {
    lisec_err_wrap(err, "cannot load the hosts' observations from the store");
    return rc;
  }
  return 0;
}

/* What load_all fills, empty; false when out of memory. */
static bool fresh_parts(model **m, json_t **docs, json_t **vers, json_t **moving, json_t **terminating) {
  *m = model_new();
  *moving = json_object();
  *terminating = json_object();
  bool ok = *m && *moving && *terminating;
  for (int k = 0; k < K_COUNT; k++) {
    docs[k] = json_object();
    vers[k] = json_object();
    ok = ok && docs[k] && vers[k];
  }
  return ok;
}

static void parts_free(model *m, json_t **docs, json_t **vers, json_t *moving, json_t *terminating) {
  model_free(m);
  for (int k = 0; k < K_COUNT; k++) {
    json_decref(docs[k]);
    json_decref(vers[k]);
  }
  json_decref(moving);
  json_decref(terminating);
}

/* Loads the model again from the store in place of this lisecd's copy,
 * which the store just showed stale. What other topics told the model
 * (appraisals, pairings) is memory of this lisecd and stays. On failure the
 * old copy stays and the failure is logged. Called with the lock held. */
static int reload_locked(struct ctl_model_state *st, lisec_store *s) {
  model *old_m = st->m;
  json_t *old_docs[K_COUNT], *old_vers[K_COUNT], *old_moving = st->moving, *old_term = st->terminating;
  int64_t old_gen = st->gen;
  memcpy(old_docs, st->docs, sizeof old_docs);
  memcpy(old_vers, st->vers, sizeof old_vers);
  lisec_err e = {0};
  int rc = fresh_parts(&st->m, st->docs, st->vers, &st->moving, &st->terminating)
               ? load_all(st, s, &e)
               : lisec_err_set(&e, LISEC_ENOMEM, "out of memory");
  if (rc) {
    parts_free(st->m, st->docs, st->vers, st->moving, st->terminating);
    st->m = old_m, st->moving = old_moving, st->terminating = old_term, st->gen = old_gen;
    memcpy(st->docs, old_docs, sizeof old_docs);
    memcpy(st->vers, old_vers, sizeof old_vers);
    li_vms_rebuild(st);
    li_declared_rebuild(st);
    LOG_ERROR("model: the store's newer model could not be loaded (this lisecd keeps refusing "
              "writes the store refuses): %s", e.msg);
    return rc;
  }
  parts_free(old_m, old_docs, old_vers, old_moving, old_term);
  model_stats ms;
  model_get_stats(st->m, &ms);
  LOG_WARN("TR103308-5.5: the trust model changed in the store under this lisecd; loaded it again "
           "(generation %lld: %zu hosts, %zu hypervisors, %zu VMs)",
           (long long)st->gen, ms.hosts, ms.hypervisors, ms.vms);
  return 0;
}

static bool rule_about_rd(const char *requirement);

/* Whether the model marked reason r as naming a VM declared "li"
 * (model_reason.li_vms). */
static bool reason_names_li_vm(const model_reason *r) { return r->n_li_vms || r->li_vms_more; }

/* How many of the violations model_count_by_rule counts for a rule other
 * than the LI and RD rules name a VM declared "li" (reason_names_li_vm). A
 * full report is made only when a VM is declared "li"; called at the
 * start, with the lock not needed yet. */
static size_t li_vm_rows_counted(struct ctl_model_state *st) {
  if (!json_object_size(st->li_declared)) return 0;
  model_verdict mv = {0};
  size_t n = 0;
  if (model_compliance(st->m, &mv)) mv.n = 0;
  for (size_t i = 0; i < mv.n; i++) {
    const model_reason *r = &mv.reasons[i];
    if ((unsigned)r->rule < MODEL_RULE_COUNT && !model_rule_about_li(r->rule) &&
        !rule_about_rd(r->requirement) && reason_names_li_vm(r))
      n++;
  }
  model_verdict_free(&mv);
  return n;
}

int ctl_model_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  struct ctl_model_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->mu, NULL);
  sh->model = st;
  st->attested = json_object();
  st->paired = json_object();
  st->li_vms = json_object();
  st->li_declared = json_object();
  st->obs_kept = json_object();
  st->k8s_pods = ctl_k8s_pods_new(CTL_K8S_PODS_MAX);
  bool ok = fresh_parts(&st->m, st->docs, st->vers, &st->moving, &st->terminating) && st->attested &&
            st->paired && st->li_vms && st->li_declared && st->obs_kept && st->k8s_pods;
  if (!ok) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  (void)cfg;
  st->allow_declared = sh->settings.model_allow_declared_trust;
  st->max_age_s = sh->settings.model_max_age_s;
  st->obs_window_s = sh->settings.attest_interval_s + sh->settings.attest_grace_s;
  st->obs_rewrite_s = sh->settings.attest_grace_s;
  if (st->allow_declared)
    LOG_WARN("DEVELOPMENT MODE: [model] allow_declared_trust = true: operators may declare a "
             "host's trust and location without attestation evidence; LI placement and "
             "migration decisions about such hosts are NOT backed by TPM evidence "
             "(TR 103 308 6.2 req. 8-15)");
  int rc = load_all(st, s, err);
  if (rc) return rc;
  model_stats ms;
  model_get_stats(st->m, &ms);
  /* no count of LI authorisations: the log is the operator's to read
   * (§4.1); nor of the LI rules' or the RD rules' violations, which the
   * operator's compliance report leaves out too (ctl_model_compliance_hide_li,
   * _rd): counted, they told whoever reads the log at a start whether the
   * host running a monitored VM had lost its trust */
  size_t counts[MODEL_RULE_COUNT], shown = 0;
  model_count_by_rule(st->m, counts);
  for (int r = 0; r < MODEL_RULE_COUNT; r++)
    if (!model_rule_about_li((model_rule)r) &&
        strncmp(model_rule_id((model_rule)r), "TR103308-5.8-RD-", 16) != 0)
      shown += counts[r];
  /* nor the rows naming a VM declared "li" (hide_li_vm_rows), which the
   * operator's report leaves out too: the count told the log's readers
   * that an LI VM fails O.1.3 or shares its domain */
  shown -= li_vm_rows_counted(st);
  LOG_INFO("trust model loaded: %zu hosts, %zu hypervisors, %zu VMs, %zu violations of the "
           "platform rules", ms.hosts, ms.hypervisors, ms.vms, shown);
  return 0;
}

void ctl_model_close(ctl_shared *sh) {
  struct ctl_model_state *st = sh->model;
  if (!st) return;
  parts_free(st->m, st->docs, st->vers, st->moving, st->terminating);
  json_decref(st->attested);
  json_decref(st->paired);
  json_decref(st->li_vms);
  json_decref(st->li_declared);
  json_decref(st->obs_kept);
  ctl_k8s_pods_free(st->k8s_pods);
  pthread_mutex_destroy(&st->mu);
  free(st);
  sh->model = NULL;
}

/* ---- attestation feeds the model -------------------------------------------- */

static json_t *location_json(const model_location *loc) {
  json_t *l = json_pack("{s:s, s:s}", "country", loc->country ? loc->country : "", "source",
                        loc->source == MODEL_LOC_ADMINISTRATIVE ? "administrative" : "attested");
  if (l && loc->subdivision) json_object_set_new(l, "subdivision", json_string(loc->subdivision));
  if (l && loc->site) json_object_set_new(l, "site", json_string(loc->site));
  if (l && loc->has_coords) {
    json_object_set_new(l, "lat", json_real(loc->lat));
    json_object_set_new(l, "lon", json_real(loc->lon));
  }
  return l;
}

int ctl_model_host_attested(lisec_ctl *ctl, const char *host, model_trust trust,
                            const char *detail, const model_location *loc, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  lock_fresh(ctl, st);
  int rc = 0;
  json_t *a = NULL;
  a = host ? json_pack("{s:s, s:s}", "trust", model_trust_name(trust), "attestation",
                       detail ? detail : model_trust_name(trust))
           : NULL;
  if (a && loc) json_object_set_new(a, "location", location_json(loc));
  if (!a) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  /* A host that attests before it is added keeps its appraisal here: the
   * host's put applies it (effective), so it is trusted at once when the
   * appraisal is good and fresh (issue 25 item 3). */
  if (!json_object_get(st->docs[K_HOST], host)) {
    rc = json_object_set_new(st->attested, host, a)
             ? lisec_err_set(err, LISEC_ENOMEM, "out of memory")
             : lisec_err_set(err, LISEC_ENOTFOUND, "host %s is not in the trust model", host);
    goto out;
  }
  sync_time(st);
  /* whether the trust or the attested location the model holds changes:
   * the X1 topic is told, under this lock (ctl_model_hook_changed) */
  const json_t *was = json_object_get(st->attested, host);
  bool changed = !was || !json_equal(json_object_get(was, "trust"), json_object_get(a, "trust")) ||
                 !json_equal(json_object_get(was, "location"), json_object_get(a, "location"));
  rc = model_host_set_location(st->m, host, loc, err);
  if (!rc) rc = model_host_set_trust(st->m, host, trust, err);
  if (!rc) rc = json_object_set_new(st->attested, host, a) ? LISEC_ENOMEM : 0;
  else json_decref(a);
  if (!rc && changed) tell_changed(ctl->shared, st);
out:
  mu_unlock(st);
  return rc;
}

int ctl_model_vm_paired(ctl_shared *sh, const char *vm, bool paired, lisec_err *err) {
  struct ctl_model_state *st = sh->model;
  mu_lock(st);
  int rc = paired ? json_object_set_new(st->paired, vm, json_true()) : 0;
  if (!paired) json_object_del(st->paired, vm);
  const json_t *doc = json_object_get(st->docs[K_VM], vm);
  json_t *e = NULL;
  if (rc) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (!doc) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "VM %s is not in the trust model yet; its pairing "
                                             "applies once it is added", vm);
  } else if (!(e = effective(st, K_VM, doc))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else {
    sync_time(st);
    rc = model_put_json(st->m, kind_names[K_VM], e, err);
    if (!rc) tell_changed(sh, st);
  }
  json_decref(e);
  mu_unlock(st);
  return rc;
}

int ctl_model_vm_placement(ctl_shared *sh, const char *vm, char host[MODEL_ID_MAX + 1],
                           char package[MODEL_ID_MAX + 1], bool *observed, lisec_err *err) {
  struct ctl_model_state *st = sh->model;
  host[0] = package[0] = '\0';
  *observed = false;
  mu_lock(st);
  const json_t *doc = json_object_get(st->docs[K_VM], vm);
  const char *hyp = json_string_value(json_object_get(doc, "hypervisor"));
  const char *h = json_string_value(json_object_get(json_object_get(st->docs[K_HYP], hyp ? hyp : ""), "host"));
  const char *p = json_string_value(json_object_get(doc, "package"));
  /* Where it runs is what a host proved: running or paused on exactly one
   * attested host. A VM only seen shut off stays where its intent puts it
   * (a defined domain is no proof that it runs there); one running on two
   * hosts is nobody's to speak for until that is resolved (fail closed). */
  model_vm_observation ob;
  size_t n_running = 0;
  if (doc && model_vm_observed(st->m, vm, &ob)) {
    n_running = ob.n_hosts;
    if (ob.n_hosts == 1 && ob.host) {
      h = ob.host;
      *observed = true;
    }
  }
  if (h) snprintf(host, MODEL_ID_MAX + 1, "%s", h);
  if (p) snprintf(package, MODEL_ID_MAX + 1, "%s", p);
  mu_unlock(st);
  if (!doc) return lisec_err_set(err, LISEC_ENOTFOUND, "VM %s is not in the trust model", vm);
  if (n_running > 1) {
    host[0] = '\0';
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_DUPLICATE ": VM %s is shown running or paused by %zu hosts' "
                         "attested inventories; no host speaks for it until that is resolved",
                         vm, n_running);
  }
  return 0;
}

bool ctl_model_li_exists(ctl_shared *sh, const char *li) {
  struct ctl_model_state *st = sh->model;
  if (!st || !li) return false; /* no model: no authorisation (fail closed) */
  mu_lock(st);
  bool found = json_object_get(st->docs[K_LI], li) != NULL;
  mu_unlock(st);
  return found;
}

int ctl_model_vm_is_li(lisec_ctl *ctl, const char *vm, bool *li, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  *li = false;
  if (!vm) return 0;
  /* Asked outside the lock (the LI topic reads its records), as
   * ctl_model_vm_terminate does. No LI topic, or a name that cannot be an
   * LI VM's id: not registered there. */
  bool li_vm = false;
  char li_state[16] = "";
  lisec_err lerr = {0};
  int lrc = st && st->li_vm ? st->li_vm(ctl, vm, &li_vm, li_state, &lerr) : 0;
  if (lrc == LISEC_EINVAL) lrc = 0;
  if (st) {
    lock_fresh(ctl, st);
    li_vm = li_vm || json_object_get(st->paired, vm) || vm_declared_li(st, vm);
    mu_unlock(st);
  }
  *li = li_vm;
  /* lerr is not passed on: a store's message may name the VM. */
  if (lrc && !li_vm)
    return lisec_err_set(err, lrc, "TR103308-4.1: whether a VM is an LI VM cannot be told (the LI "
                                   "records could not be read)");
  return 0;
}

bool ctl_model_li_naming_vm(ctl_shared *sh, const char *vm, char li[MODEL_ID_MAX + 1]) {
  struct ctl_model_state *st = sh->model;
  li[0] = '\0';
  if (!st || !vm) return false;
  mu_lock(st);
  const char *id;
  json_t *doc;
  json_object_foreach(st->docs[K_LI], id, doc) {
    static const char *const fields[] = {"monitored", "host", "storage_via"};
    for (size_t i = 0; i < 3 && !li[0]; i++) {
      const char *v = json_string_value(json_object_get(doc, fields[i]));
      if (v && strcmp(v, vm) == 0) snprintf(li, MODEL_ID_MAX + 1, "%s", id);
    }
    if (li[0]) break;
  }
  mu_unlock(st);
  return li[0] != '\0';
}

int ctl_model_host_li_touch(lisec_ctl *ctl, const char *host, json_t **li_vms, json_t **lis,
                            lisec_err *err) {
  struct ctl_model_state *st = ctl->shared->model;
  *li_vms = *lis = NULL;
  if (!st) return lisec_err_set(err, LISEC_EUNAVAIL, "the trust model is not running");
  lock_fresh(ctl, st);
  *li_vms = model_host_li_vms(st->m, host);
  *lis = model_host_lis(st->m, host);
  mu_unlock(st);
  if (*li_vms && *lis) return 0;
  json_decref(*li_vms), json_decref(*lis);
  *li_vms = *lis = NULL;
  return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ctl_model_host_runs_li(lisec_ctl *ctl, const char *host, bool *li, lisec_err *err) {
  struct ctl_model_state *st = ctl->shared->model;
  *li = false;
  if (!st) return lisec_err_set(err, LISEC_EUNAVAIL, "the trust model is not running");
  lock_fresh(ctl, st);
  json_t *vms = model_host_vms(st->m, host);
  mu_unlock(st);
  if (!vms) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  /* each asked outside the lock: the LI topic reads its records */
  int rc = 0;
  size_t i;
  json_t *v;
  json_array_foreach(vms, i, v) {
    if ((rc = ctl_model_vm_is_li(ctl, json_string_value(v), li, err)) || *li) break;
  }
  json_decref(vms);
  return rc;
}

int ctl_model_host_unobserve(lisec_ctl *ctl, const char *host, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  lock_fresh(ctl, st);
  model_observe_forget(st->m, host);
  json_object_del(st->obs_kept, host);
  int rc = store_doc_delete(ctl->store, OBS_KIND, host, err);
  mu_unlock(st);
  return rc == LISEC_ENOTFOUND ? 0 : rc;
}

int ctl_model_vm_runs_on(ctl_shared *sh, const char *vm, char host[MODEL_ID_MAX + 1],
                         char package[MODEL_ID_MAX + 1], lisec_err *err) {
  bool observed;
  return ctl_model_vm_placement(sh, vm, host, package, &observed, err);
}

/* ---- recording --------------------------------------------------------------- */

/* A change the model refuses because other entities still refer to the one
 * changed. The record is sealed when li (an LI object, or a VM declared
 * "li") or when an LI or an LEA refers to a jurisdiction (an LEA's record
 * is sealed, so which of the two it is stays unread); then it keeps the
 * model's full reason. A VM or storage an LI names is not sealed for it:
 * that seal would name what the LI names to the roles reading the log, so
 * the record of every such refusal in the clear says the one sentence the
 * caller reads, whatever the reference is. Every role but li-admin is told
 * that sentence, so the answer does not single out the refusals an LI
 * causes (docs/model.md, "References an LI holds"). Called with the lock
 * held. */
static int refused_in_use(lisec_ctl *ctl, const ctl_actor *actor, const char *action,
                          const char *subject, bool li, int k, const char *id, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  li = li || (k == K_JUR && model_li_refers(st->m, kind_names[k], id));
  /* A jurisdiction an obligation holds: the RD administration's to read,
   * as the LI administration's is one an LI or LEA holds (issue 20). */
  bool rd = !li && k == K_JUR && model_rd_refers_jurisdiction(st->m, id);
  bool li_admin = ctl_actor_role(actor) == CTL_ROLE_LI_ADMIN;
  char same[LISEC_ERR_MSG_MAX];
  snprintf(same, sizeof same,
           "TR103308-4.1: %s %s is still referenced by other entities of the trust model, "
           "which may include entities your role cannot see; change or remove those first",
           kind_names[k], id);
  bool nameable = k == K_VM || k == K_STORAGE; /* what an LI may name besides LI objects */
  int rc = rd ? ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL, LISEC_ECONFLICT, NULL,
                            err, "%s", subject)
              : ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, action, li, !li && nameable ? same : NULL,
                          LISEC_ECONFLICT, NULL, err, "%s", subject);
  if (!li_admin) lisec_err_set(err, rc, "%s", same);
  return rc;
}

/* LI authorisations for li-admin; everything else for the platform's
 * operators. */
static int authorise(lisec_ctl *ctl, const ctl_actor *actor, int k, const char *action,
                     const char *subject, lisec_err *err) {
  const char *role = actor && actor->role ? actor->role : "";
  ctl_role r = ctl_actor_role(actor);
  if (k == K_LI) {
    if (r == CTL_ROLE_LI_ADMIN) return 0;
    lisec_err_set(err, LISEC_EDENIED,
                  "TR103308-4.1: role %s may not perform %s on LI authorisations; admitted roles: li-admin",
                  role[0] ? role : "(none)", action);
    /* The attempt leaves a trace for the LI administration. */
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, LISEC_EDENIED, NULL, err, "%s",
                     subject);
  }
  if (r == CTL_ROLE_OPERATOR || r == CTL_ROLE_HV_ADMIN) return 0;
  lisec_err_set(err, LISEC_EDENIED,
                "role %s may not perform %s on %s entities; admitted roles: operator, hypervisor-admin",
                role[0] ? role : "(none)", action, kind_names[k]);
  /* The route admits every role so that this refusal, whose subject may be
   * an LEA a caller named, is recorded here: sealed for an LEA, and for a
   * VM declared "li" (subject "vm <id>", as the callers write it), whose
   * id the auditor reads in no record in the clear (put_names_li_vm). */
  bool li = k == K_LEA;
  if (k == K_VM && strncmp(subject, "vm ", 3) == 0) {
    struct ctl_model_state *st = state(ctl);
    mu_lock(st);
    li = vm_declared_li(st, subject + 3);
    mu_unlock(st);
  }
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, LISEC_EDENIED, NULL, err,
                   "%s", subject);
}

/* ---- compare-and-set writes (issue 17 item 2) ---------------------------------- */

/* The version a client named: "version" in a body (removed from it), or
 * "version=N" in a query; -1 when none. */
static int client_version(json_t *body, const char *query, int64_t *out, lisec_err *err) {
  *out = -1;
  const json_t *v = body ? json_object_get(body, "version") : NULL;
  if (v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return lisec_err_set(err, LISEC_EINVAL, "version: the stored version read before (an integer, 0 for "
                                              "a new entity)");
    *out = json_integer_value(v);
    json_object_del(body, "version");
    return 0;
  }
  for (const char *p = query; p && *p;) {
    size_t n = strcspn(p, "&");
    if (n > 8 && strncmp(p, "version=", 8) == 0) {
      char num[24];
      size_t d = n - 8;
      if (d >= sizeof num || strspn(p + 8, "0123456789") != d)
        return lisec_err_set(err, LISEC_EINVAL, "version: the stored version read before (digits)");
      memcpy(num, p + 8, d);
      num[d] = '\0';
      *out = strtoll(num, NULL, 10);
      return 0;
    }
    p += n + (p[n] == '&');
  }
  return 0;
}

/* A client's version that is not the stored one: refused before anything
 * is recorded as done. */
static int stale_client(int k, const char *id, int64_t want, int64_t have, lisec_err *err) {
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-5.5: version: %s %s is at version %lld, not %lld; read it again "
                       "and send the change with its current version",
                       kind_names[k], id, (long long)have, (long long)want);
}

/* The version of kind/id in the store now (0: not stored). */
static int stored_version(lisec_store *s, const char *kind, const char *id, int64_t *ver,
                          lisec_err *err) {
  char *body = NULL;
  *ver = 0;
  int rc = store_doc_get(s, kind, id, &body, ver, err);
  free(body);
  if (rc == LISEC_ENOTFOUND) {
    *ver = 0;
    lisec_err_clear(err);
    return 0;
  }
  return rc;
}

/* Records the act and stores its document (text NULL: deletes it) in one
 * transaction, compare-and-set on the document's version and on the model's
 * generation as this lisecd holds them. When the store holds another
 * version of either, nothing is stored and ECONFLICT names TR103308-5.5;
 * the caller undoes its model change first (and not after a reload), then
 * stale_store loads the model again.
 *
 * A write that loses its compare-and-set leaves one record, saying it was
 * refused and why (issue 17 item 3): both versions are read from the store
 * before anything is recorded, and a moved one is refused there. Every
 * model write of this lisecd holds the model's lock, and a lisecd that is
 * not the leader cannot commit (ctl/ha.c's epoch), so once both versions
 * matched, the record and its documents land together. Only a writer that
 * bypasses both (direct SQL, a second lisecd without [ha]) can still slip
 * in between: the record of the act then lands without its documents and
 * is followed by its failure, so the log still says what happened. Called
 * with the lock held. */
static int commit_doc(lisec_ctl *ctl, const ctl_actor *actor, const char *action, bool li,
                      const char *reason, const char *subject, int k, const char *id,
                      const char *text, uint64_t *index, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int64_t ver = ver_of(st, k, id);
  char gen_body[48];
  snprintf(gen_body, sizeof gen_body, "{\"generation\":%lld}", (long long)st->gen + 1);
  ctl_auditlog_doc docs[2] = {{store_kinds[k], id, text ? text : ctl_auditlog_remove, ver, 0},
                              {GEN_KIND, GEN_ID, gen_body, st->gen, 0}};
  int64_t doc_now = 0, gen_now = 0;
  lisec_err rerr = {0};
  int rc = stored_version(ctl->store, store_kinds[k], id, &doc_now, &rerr);
  if (!rc) rc = stored_version(ctl->store, GEN_KIND, GEN_ID, &gen_now, &rerr);
  if (rc) return lisec_err_set(err, rc, "store: %s", rerr.msg); /* nothing recorded, nothing done */
  if (doc_now != ver || gen_now != st->gen) {
    char why[LISEC_ERR_MSG_MAX];
    snprintf(why, sizeof why,
             "TR103308-5.5: compare-and-set lost: %s %s is at version %lld in the store, %lld "
             "here; the model at generation %lld there, %lld here; nothing was written",
             kind_names[k], id, (long long)doc_now, (long long)ver, (long long)gen_now,
             (long long)st->gen);
    lisec_err ferr = {0};
    lisec_err_set(&ferr, LISEC_ECONFLICT, "%s", why);
    /* the caller's stale_store names the versions to the client; a
     * refusal that could not be recorded stands (ctl_audit logs it) */
    return ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, action, li, why, LISEC_ECONFLICT, NULL, &ferr,
                     "%s", subject);
  }
  ctl_event ev = {action, subject, ctl_outcome_name(CTL_OUTCOME_OK), reason, li};
  rc = ctl_record_docs(ctl, actor, &ev, docs, 2, index, err);
  if (rc) {
    /* A store failure may come after the commit landed (the connection
     * lost before its answer, as when PostgreSQL fails over): the model is
     * loaded again before its next use, so the write after this one is
     * checked against what the store holds, not refused as a conflict. */
    if (rc == LISEC_ESTORE || rc == LISEC_EUNAVAIL) __atomic_store_n(&st->stale, true, __ATOMIC_RELEASE);
    return rc;
  }
  if (docs[0].rc == 0 && docs[1].rc == 0) {
    if (text) json_object_set_new(st->vers[k], id, json_integer(ver + 1));
    else json_object_del(st->vers[k], id);
    st->gen++;
    tell_changed(ctl->shared, st); /* any write, whatever it touches */
    return 0;
  }
  char why[LISEC_ERR_MSG_MAX];
  snprintf(why, sizeof why,
           "TR103308-5.5: %s %s or the trust model changed in the store since this lisecd loaded "
           "it (it held %s %s at version %lld, the model at generation %lld)",
           kind_names[k], id, kind_names[k], id, (long long)ver, (long long)st->gen);
  lisec_err ferr = {0};
  (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, li, why, 0, NULL, &ferr, "%s", subject);
  return LISEC_ECONFLICT;
}

/* After commit_doc refused a stale write (and the caller undid its change):
 * the model loaded again, and the refusal naming what the store holds now. */
static int stale_store(lisec_ctl *ctl, int k, const char *id, int64_t had, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int64_t gen_had = st->gen;
  if (reload_locked(st, ctl->store) == 0) tell_changed(ctl->shared, st);
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-5.5: %s %s changed in the store under this lisecd (version %lld "
                       "there, %lld here; model generation %lld there, %lld here): nothing was "
                       "written and the model was loaded again; read it and send the change again",
                       kind_names[k], id, (long long)ver_of(st, k, id), (long long)had,
                       (long long)st->gen, (long long)gen_had);
}

/* ---- observation: the model follows what hosts prove (issue 15) ---------------- */

static void undo(struct ctl_model_state *st, int k, const char *id, const json_t *old_eff);
static void terminations_settle(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs);

/* Whether an observation's finding is recorded sealed: one about a VM
 * declared "li" (the model's mark, reason_names_li_vm), or an unknown
 * domain on a host carrying an LI VM (a finding that exists for LI VMs
 * only, §4.2). Not because an LI names the
 * VM, or a VM on its host: operator and auditor read each entry's seal
 * bit, and that seal would tell them which VM an LI monitors (§4.1). The
 * reasons of those in the clear name VMs, hosts and quotes only. Called
 * with the lock held. */
static bool obs_finding_sealed(const model_reason *r) {
  return strcmp(r->requirement, MODEL_REQ_UNKNOWN_DOMAIN) == 0 || reason_names_li_vm(r);
}

/* The destination of a migration lisec allowed proved it runs the VM: the
 * intent follows (the VM's document names the new hypervisor), stored and
 * recorded. Called with the lock held. */
static void arrived(lisec_ctl *ctl, const ctl_actor *actor, const char *vm,
                    const ctl_observation *obs) {
  struct ctl_model_state *st = state(ctl);
  const json_t *mv = json_object_get(st->moving, vm);
  const char *hyp = json_string_value(json_object_get(mv, "hypervisor"));
  const char *pod = json_string_value(json_object_get(mv, "pod")); /* a pod's node (k8s) */
  const json_t *old = json_object_get(st->docs[K_VM], vm);
  json_t *doc = old ? json_deep_copy(old) : NULL;
  json_t *eff = NULL;
  char *text = NULL;
  lisec_err e = {0};
  int rc = doc && hyp ? 0 : LISEC_ENOTFOUND;
  if (!rc) rc = json_object_set_new(doc, "hypervisor", json_string(hyp)) ? LISEC_ENOMEM : 0;
  if (!rc && !(eff = effective(st, K_VM, doc))) rc = LISEC_ENOMEM;
  if (!rc && !(text = lisec_json_dump_canonical(doc))) rc = LISEC_ENOMEM;
  if (!rc) rc = model_put_json(st->m, kind_names[K_VM], eff, &e);
  char subject[MODEL_ID_MAX + 8], reason[1024], at[32];
  snprintf(subject, sizeof subject, "vm %s", vm);
  lisec_time_format(obs->quote_time, at);
  bool li = vm_declared_li(st, vm), tried = !rc; /* not for an LI naming it */
  int64_t had = ver_of(st, K_VM, vm);
  if (!rc) {
    snprintf(reason, sizeof reason,
             "host %s proved it runs VM %s (attested inventory at %s, quote %s) after the "
             "migration to hypervisor %s that lisec allowed%s%.330s%s; the intent follows",
             obs->host, vm, at, obs->evidence, hyp, pod ? " (pod " : "", pod ? pod : "", pod ? "'s node)" : "");
    /* recorded and stored in one transaction, compare-and-set */
    rc = commit_doc(ctl, actor, "model.vm.arrived", li, reason, subject, K_VM, vm, text, NULL, &e);
    if (rc) {
      json_t *back = effective(st, K_VM, old);
      if (back) undo(st, K_VM, vm, back);
      json_decref(back);
      if (rc == LISEC_ECONFLICT) (void)stale_store(ctl, K_VM, vm, had, &e);
    } else {
      json_object_set_new(st->docs[K_VM], vm, doc);
      doc = NULL;
      li_declared_note(st, vm);
    }
  }
  if (rc && !tried) {
    snprintf(reason, sizeof reason, "host %s proved it runs VM %s (quote %s), but the intent "
             "could not follow: %.300s", obs->host, vm, obs->evidence, e.msg[0] ? e.msg : lisec_err_name(rc));
    lisec_err rerr = {0};
    /* a record that cannot be written is logged by ctl_audit */
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "model.vm.arrived", li, reason, rc, NULL, &rerr, "%s",
                    subject);
  } else if (rc) {
    LOG_WARN("model: VM %s arrived on host %s, but its intent could not follow: %s", vm, obs->host, e.msg);
  }
  lisec_err rerr = {0};
  if (!rc) {
    json_object_del(st->moving, vm);
    (void)store_doc_delete(ctl->store, MOVING_KIND, vm, &rerr);
  }
  free(text);
  json_decref(doc);
  json_decref(eff);
}

/* What an observation is made of, beside the caller's: each VM's package
 * (intent) and its images, the domains for the model and, when wanted,
 * for the stored document. */
struct ctl_model_obs_prep {
  json_t *pkgs, *cache, *doms;
  model_obs_domain *d;
  const char **exp;
  /* ctl_model_observe_doc's: its document's content sum (obs_content_sum;
   * "" when not known), and whether the stored one is that already */
  char sum[OBS_SUM_HEX];
  bool unchanged;
};
typedef struct ctl_model_obs_prep obs_parts;

static void obs_parts_free(obs_parts *p) {
  free(p->d);
  free(p->exp);
  json_decref(p->pkgs);
  json_decref(p->cache);
  json_decref(p->doms);
}

static int obs_parts_build(lisec_ctl *ctl, const ctl_observation *obs, bool want_doms,
                           obs_parts *p, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  *p = (obs_parts){0};
  if (!obs || !obs->host || (obs->n && !obs->domains))
    return lisec_err_set(err, LISEC_EINVAL, "observation: host and domains required");
  if (obs->n > MODEL_OBS_DOMAINS_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "observation: %zu domains, at most %u", obs->n,
                         MODEL_OBS_DOMAINS_MAX);
  /* The images each VM's package names (intent: the VM's document), read
   * from the store outside the lock. */
  (void)want_doms; /* the document is written from p->d (obs_doc_text) */
  p->pkgs = json_object(), p->cache = json_object();
  p->d = calloc(obs->n ? obs->n : 1, sizeof *p->d);
  int rc = p->pkgs && p->cache && p->d ? 0 : LISEC_ENOMEM;
  lock_fresh(ctl, st);
  for (size_t i = 0; i < obs->n && !rc; i++) {
    const char *vm = obs->domains[i].vm;
    const char *pk = vm ? json_string_value(json_object_get(json_object_get(st->docs[K_VM], vm), "package")) : NULL;
    if (pk) rc = json_object_set_new(p->pkgs, vm, json_string(pk)) ? LISEC_ENOMEM : 0;
  }
  mu_unlock(st);
  size_t total = 0;
  for (size_t i = 0; i < obs->n && !rc; i++) {
    const char *vm = obs->domains[i].vm;
    const char *pk = vm ? json_string_value(json_object_get(p->pkgs, vm)) : NULL;
    if (pk && !json_object_get(p->cache, pk)) {
      /* kept per package by ctl/pkg.c (no store read per report); a
       * controller without that topic judges no image */
      json_t *arr = st->pkg_images ? st->pkg_images(ctl, pk) : json_array();
      rc = !arr || json_object_set_new(p->cache, pk, arr) ? LISEC_ENOMEM : 0;
    }
    total += pk ? json_array_size(json_object_get(p->cache, pk)) : 0;
  }
  if (!rc && !(p->exp = calloc(total ? total : 1, sizeof *p->exp))) rc = LISEC_ENOMEM;
  size_t used = 0;
  for (size_t i = 0; i < obs->n && !rc; i++) {
    const ctl_observed_domain *o = &obs->domains[i];
    model_dom_state ds = MODEL_DOM_OTHER;
    model_dom_state_parse(o->state, &ds);
    const char *pk = o->vm ? json_string_value(json_object_get(p->pkgs, o->vm)) : NULL;
    const json_t *arr = pk ? json_object_get(p->cache, pk) : NULL, *x;
    size_t k;
    p->d[i] = (model_obs_domain){o->uuid, o->vm, ds, o->image_sha256, p->exp + used, 0};
    json_array_foreach(arr, k, x) p->exp[used++] = json_string_value(x);
    p->d[i].n_expected = json_array_size(arr);
  }
  if (rc) {
    obs_parts_free(p);
    *p = (obs_parts){0};
    return lisec_err_set(err, rc, "out of memory");
  }
  return 0;
}

/* Whether s is NULL or printable ASCII (what an agent's inventory holds):
 * then obs_doc_plain writes it as the canonical dump would. */
static bool obs_plain(const char *s) {
  for (; s && *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return false;
  return true;
}

/* Appends s as a JSON string (null for NULL), escaped as jansson's dump
 * escapes printable ASCII: only '"' and '\\'. */
static int obs_put_str(lisec_buf *b, const char *s) {
  if (!s) return lisec_buf_append(b, "null", 4);
  int rc = lisec_buf_append(b, "\"", 1);
  while (!rc && *s) {
    size_t n = strcspn(s, "\"\\");
    rc = lisec_buf_append(b, s, n);
    s += n;
    if (!rc && *s) rc = lisec_buf_append(b, *s == '"' ? "\\\"" : "\\\\", 2), s++;
  }
  return rc ? rc : lisec_buf_append(b, "\"", 1);
}

/* The canonical dump (sorted keys, compact) of obs_doc_text's document,
 * written without building it, when every string is plain (obs_plain);
 * NULL otherwise or when out of memory (the caller then builds it). */
static char *obs_doc_plain(const ctl_observation *obs, int64_t first_at, const obs_parts *p) {
  const char *ev = obs->evidence ? obs->evidence : "";
  if (!obs_plain(obs->host) || !obs_plain(ev)) return NULL;
  for (size_t i = 0; i < obs->n; i++) {
    const model_obs_domain *d = &p->d[i];
    if (!obs_plain(d->uuid) || !obs_plain(d->vm) || !obs_plain(d->image)) return NULL;
    for (size_t k = 0; k < d->n_expected; k++)
      if (!obs_plain(d->expected[k])) return NULL;
  }
  lisec_buf b;
  lisec_buf_init(&b, (size_t)1 << 30);
  int rc = lisec_buf_printf(&b, "{\"at\":%lld,\"domains\":[", (long long)obs->quote_time);
  for (size_t i = 0; !rc && i < obs->n; i++) {
    const model_obs_domain *d = &p->d[i];
    rc = lisec_buf_append(&b, i ? ",{\"expected\":[" : "{\"expected\":[", i ? 14 : 13);
    for (size_t k = 0; !rc && k < d->n_expected; k++)
      if (!(rc = k ? lisec_buf_append(&b, ",", 1) : 0)) rc = obs_put_str(&b, d->expected[k]);
    if (!rc) rc = lisec_buf_append(&b, "],\"image\":", 10);
    if (!rc) rc = obs_put_str(&b, d->image);
    if (!rc) rc = lisec_buf_append(&b, ",\"state\":", 9);
    if (!rc) rc = obs_put_str(&b, model_dom_state_name(d->state));
    if (!rc) rc = lisec_buf_append(&b, ",\"uuid\":", 8);
    if (!rc) rc = obs_put_str(&b, d->uuid);
    if (!rc) rc = lisec_buf_append(&b, ",\"vm\":", 6);
    if (!rc) rc = obs_put_str(&b, d->vm);
    if (!rc) rc = lisec_buf_append(&b, "}", 1);
  }
  if (!rc) rc = lisec_buf_append(&b, "],\"evidence\":", 13);
  if (!rc) rc = obs_put_str(&b, ev);
  if (!rc) rc = lisec_buf_printf(&b, ",\"first_at\":%lld,\"host\":", (long long)first_at);
  if (!rc) rc = obs_put_str(&b, obs->host);
  if (!rc) rc = lisec_buf_append(&b, "}", 1);
  if (rc) {
    free(b.data);
    return NULL;
  }
  return (char *)b.data; /* NUL-terminated by lisec_buf */
}

/* The stored observation: what a restart reads back (obs_load_one). Its
 * domains are p's (the model's view of the report, with each VM's package
 * images); written directly in the common case, built with jansson when a
 * string needs more than the plain form. */
static char *obs_doc_text(const ctl_observation *obs, int64_t first_at, const obs_parts *p) {
  char *plain = obs_doc_plain(obs, first_at, p);
  if (plain) return plain;
  json_t *doc = json_object(), *doms = json_array();
  if (!doc || !doms) {
    json_decref(doc);
    json_decref(doms);
    return NULL;
  }
  bool ok = true;
  for (size_t i = 0; ok && i < obs->n; i++) {
    const model_obs_domain *d = &p->d[i];
    json_t *exp = json_array();
    for (size_t k = 0; exp && ok && k < d->n_expected; k++)
      ok = json_array_append_new(exp, json_string(d->expected[k])) == 0;
    json_t *jd = ok && exp ? json_pack("{s:s?, s:s?, s:s, s:s?, s:O}", "uuid", d->uuid, "vm", d->vm, "state",
                                       model_dom_state_name(d->state), "image", d->image, "expected", exp)
                           : NULL;
    json_decref(exp);
    ok = jd && json_array_append_new(doms, jd) == 0;
  }
  if (!ok) {
    json_decref(doc);
    json_decref(doms);
    return NULL;
  }
  json_object_set_new(doc, "host", json_string(obs->host));
  json_object_set_new(doc, "at", json_integer((json_int_t)obs->quote_time));
  json_object_set_new(doc, "first_at", json_integer((json_int_t)first_at));
  json_object_set_new(doc, "evidence", json_string(obs->evidence ? obs->evidence : ""));
  json_object_set_new(doc, "domains", doms);
  char *text = lisec_json_dump_canonical(doc);
  json_decref(doc);
  return text;
}

void ctl_model_obs_prep_free(ctl_model_obs_prep *prep) {
  if (!prep) return;
  obs_parts_free(prep);
  free(prep);
}

int ctl_model_observe_doc(lisec_ctl *ctl, const ctl_observation *obs, ctl_model_obs_prep **prep,
                          char **text, bool *unchanged, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  *text = NULL;
  *prep = NULL;
  *unchanged = false;
  obs_parts *pp = calloc(1, sizeof *pp);
  if (!pp) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = obs_parts_build(ctl, obs, true, pp, err);
  if (rc) {
    free(pp);
    return rc;
  }
  obs_parts p = *pp;
  /* first_at as model_observe_host will keep it: the host's first
   * observation, or this one. */
  int64_t first_at = 0;
  lock_fresh(ctl, st);
  bool known = json_object_get(st->docs[K_HOST], obs->host) != NULL;
  if (!model_host_observed(st->m, obs->host, NULL, &first_at) || !first_at)
    first_at = obs->quote_time;
  mu_unlock(st);
  if (!known)
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "host %s is not in the model", obs->host);
  else if (!(*text = obs_doc_text(obs, first_at, &p)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc) {
    ctl_model_obs_prep_free(pp);
    return rc;
  }
  if (!obs_sum_hex(*text, pp->sum)) pp->sum[0] = '\0';
  mu_lock(st);
  pp->unchanged = obs_unchanged(st, obs->host, pp->sum[0] ? pp->sum : NULL, obs->quote_time);
  mu_unlock(st);
  *unchanged = pp->unchanged;
  *prep = pp;
  return 0;
}

int ctl_model_observe_put(lisec_ctl *ctl, const char *host, const char *text, lisec_err *err) {
  return store_doc_put(ctl->store, OBS_KIND, host, text, -1, NULL, err);
}

int ctl_model_observe(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                      lisec_err *err) {
  return ctl_model_observe_stored(ctl, actor, obs, NULL, false, err);
}

int ctl_model_observe_stored(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                             const ctl_model_obs_prep *prep, bool stored, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  /* The caller's parts when given (they carry the document's domains);
   * otherwise read here, and freed here. */
  obs_parts p = {0};
  int rc = 0;
  if (prep) p = *prep;
  else if ((rc = obs_parts_build(ctl, obs, !stored, &p, err)))
    return rc;
  if (!obs || !obs->host) return lisec_err_set(err, LISEC_EINVAL, "observation: host required");
  model_obs_domain *d = p.d;
  model_observation mo = {obs->host, obs->quote_time, obs->evidence, d, obs->n};
  model_verdict found = {0};
  bool host_li = false;
  lock_fresh(ctl, st);
  sync_time(st);
  /* Migrations lisec allowed to this host end when it shows the VM. */
  for (size_t i = 0; i < obs->n; i++) {
    const json_t *mv = d[i].vm ? json_object_get(st->moving, d[i].vm) : NULL;
    const char *to = json_string_value(json_object_get(mv, "host"));
    if (to && strcmp(to, obs->host) == 0 &&
        (d[i].state == MODEL_DOM_RUNNING || d[i].state == MODEL_DOM_PAUSED))
      arrived(ctl, actor, d[i].vm, obs);
  }
  rc = model_observe_host(st->m, &mo, st->obs_window_s, &found, err);
  if (!rc) terminations_settle(ctl, actor, obs);
  host_li = model_host_declares_li(st->m, obs->host);
  bool *li = rc ? NULL : calloc(found.n ? found.n : 1, sizeof *li);
  for (size_t i = 0; li && i < found.n; i++)
    li[i] = obs_finding_sealed(&found.reasons[i]);
  int64_t first_at = 0;
  model_host_observed(st->m, obs->host, NULL, &first_at);
  mu_unlock(st);
  char subject[MODEL_ID_MAX + 8];
  snprintf(subject, sizeof subject, "host %s", obs->host);
  if (rc) {
    /* The caller stored this observation already (ctl_model_observe_doc):
     * a restart must not take what the model refused now. */
    lisec_err derr = {0};
    int drc = stored ? store_doc_delete(ctl->store, OBS_KIND, obs->host, &derr) : 0;
    if (stored) {
      mu_lock(st);
      json_object_del(st->obs_kept, obs->host);
      mu_unlock(st);
    }
    if (drc && drc != LISEC_ENOTFOUND)
      LOG_WARN("host %s: a refused observation stays stored: %s", obs->host, derr.msg);
    rc = ctl_audit(ctl, actor, (rc) == LISEC_EDENIED ? CTL_OUTCOME_DENIED : CTL_OUTCOME_REFUSED,
                   "model.observe", host_li, NULL, rc, NULL, err, "%s", subject);
    goto out;
  }
  if (!li) {
    model_verdict_free(&found);
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  /* Kept so a restart judges from the same facts (and records nothing
   * twice); the model holds it already, so a store failure is logged.
   * Stored already when the caller wrote it in its own transaction. */
  if (!stored) {
    char *text = obs_doc_text(obs, first_at, &p), sum[OBS_SUM_HEX];
    lisec_err serr = {0};
    bool put = text && ctl_model_observe_put(ctl, obs->host, text, &serr) == 0;
    if (!put)
      LOG_WARN("host %s: its observation is not stored (kept until restart): %s", obs->host,
               text ? serr.msg : "out of memory");
    mu_lock(st);
    obs_kept_set(st, obs->host, put && obs_sum_hex(text, sum) ? sum : NULL, obs->quote_time);
    mu_unlock(st);
    free(text);
  } else if (!prep || !prep->unchanged) {
    /* the caller wrote the document prep is for (none known without it) */
    mu_lock(st);
    obs_kept_set(st, obs->host, prep && prep->sum[0] ? prep->sum : NULL, obs->quote_time);
    mu_unlock(st);
  }
  /* Each violation found now, once (sealed as obs_finding_sealed says). */
  for (size_t i = 0; i < found.n && !rc; i++) {
    const model_reason *r = &found.reasons[i];
    char *line = NULL;
    size_t len = strlen(r->requirement) + strlen(r->sentence) + strlen(r->fact) + 16;
    if ((line = malloc(len))) snprintf(line, len, "%s: %s (%s)", r->requirement, r->sentence, r->fact);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "model.observation", li[i], line, 0, NULL, err,
                   "%s", r->subject);
    free(line);
  }
  free(li);
  model_verdict_free(&found);
out:
  if (!prep) obs_parts_free(&p);
  return rc;
}

/* ---- create / read / update / delete ------------------------------------------ */

/* What get returns: the document, and for a host its state now. Called
 * with the lock held. */
static json_t *observed_json(struct ctl_model_state *st, const char *vm) {
  model_vm_observation ob;
  if (!model_vm_observed(st->m, vm, &ob)) return NULL;
  char at[32];
  lisec_time_format(ob.at, at);
  return json_pack("{s:s?, s:s, s:s?, s:s, s:I, s:s, s:I}", "host", ob.host, "state",
                   model_dom_state_name(ob.state), "image", ob.image, "at", at, "at_unix",
                   (json_int_t)ob.at, "evidence", ob.evidence, "hosts_running",
                   (json_int_t)ob.n_hosts);
}

static json_t *view(struct ctl_model_state *st, int k, const json_t *doc) {
  json_t *v = json_deep_copy(doc);
  /* the stored version, for a compare-and-set write ("version") */
  if (v) json_object_set_new(v, "version", json_integer(ver_of(st, k, json_string_value(json_object_get(doc, "id")))));
  if (v && k == K_VM) {
    /* What a host last proved, beside the intent (docs/observed.md). */
    json_t *o = observed_json(st, json_string_value(json_object_get(doc, "id")));
    if (o) json_object_set_new(v, "observed", o);
    const json_t *mv = json_object_get(st->moving, json_string_value(json_object_get(doc, "id")));
    if (mv) json_object_set_new(v, "migrating_to", json_deep_copy(mv));
  }
  if (!v || k != K_HOST) return v;
  const json_t *a = json_object_get(st->attested, json_string_value(json_object_get(doc, "id")));
  json_t *e = effective(st, k, doc);
  const char *source = a ? "attested" : declares_trust(doc) ? "declared" : "none";
  json_t *s = json_pack("{s:s, s:s}", "trust_source", source, "trust",
                        json_string_value(json_object_get(e, "trust")) ? json_string_value(json_object_get(e, "trust")) : "unknown");
  if (s && json_object_get(e, "location")) json_object_set(s, "location", json_object_get(e, "location"));
  /* Why, in attestation's words ("untrusted:overdue"), as its status says. */
  if (s && json_object_get(a, "attestation"))
    json_object_set(s, "attestation", json_object_get(a, "attestation"));
  json_decref(e);
  json_object_set_new(v, "state", s);
  return v;
}

/* Undoes a change the model accepted: the old document back, or the new
 * entity removed. A failure here would leave model and store apart, so it
 * is logged loudly (it cannot happen for a state the model held before). */
static void undo(struct ctl_model_state *st, int k, const char *id, const json_t *old_eff) {
  lisec_err e = {0};
  int rc = old_eff ? model_put_json(st->m, kind_names[k], old_eff, &e)
                   : model_remove_kind(st->m, kind_names[k], id, &e);
  if (rc) LOG_ERROR("model: undoing a refused change to %s %s failed: %s", kind_names[k], id, e.msg);
}

static int hyp_move(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t *doc,
                    const char *text, int64_t want, json_t **out, bool *created, lisec_err *err);

/* Whether a put of VM id with body names a VM declared "li": the body
 * declares it so, or its document did (vm_declared_li). Its record is then
 * sealed to the LI administration, as the VM's arrival and termination
 * are: the auditor reads every record in the clear and no LI VM (§4.1;
 * docs/audit.md). Takes the lock. */
static bool put_names_li_vm(struct ctl_model_state *st, const char *id, const json_t *body) {
  const char *sens = json_string_value(json_object_get(body, "sensitivity"));
  if (sens && strcmp(sens, "li") == 0) return true;
  mu_lock(st);
  bool li = vm_declared_li(st, id);
  mu_unlock(st);
  return li;
}

int ctl_model_put(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                  const json_t *body, bool create_only, json_t **out, bool *created,
                  lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int k = kind_find(kind, err);
  if (k < 0) return k;
  char action[48], subject[MODEL_ID_MAX + 32];
  snprintf(action, sizeof action, "model.%s.put", kind_names[k]);
  snprintf(subject, sizeof subject, "%s %s", kind_names[k], id ? id : "(new)");
  int rc = authorise(ctl, actor, k, action, subject, err);
  if (rc) return rc;
  /* a kept appraisal applies as it stands now (overdue or not) */
  if (k == K_HOST) expire_overdue(ctl);
  if (!json_is_object(body)) return lisec_err_set(err, LISEC_EINVAL, "body: must be a JSON object");
  const json_t *jid = json_object_get(body, "id");
  if (jid && !json_is_string(jid)) return lisec_err_set(err, LISEC_EINVAL, "id: must be a string");
  const char *bid = json_string_value(jid);
  if (id && bid && strcmp(id, bid) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "id: \"%.*s\" differs from the path's \"%s\"",
                         MODEL_ID_MAX, bid, id);
  if (!id) id = bid;
  if (!id) return lisec_err_set(err, LISEC_EINVAL, "id: required");
  if ((rc = check_id(id, err))) return rc;
  const json_t *pkg = k == K_VM ? json_object_get(body, "package") : NULL;
  if (pkg && !json_is_string(pkg))
    return lisec_err_set(err, LISEC_EINVAL, "package: must be a package id (a string)");
  if (pkg && (rc = lisec_id_check("package", json_string_value(pkg),
                                  strnlen(json_string_value(pkg), LISEC_ID_MAX + 1), err)))
    return rc;
  snprintf(subject, sizeof subject, "%s %s", kind_names[k], id);
  bool li = k == K_LI || k == K_LEA; /* an LEA id is an LI detail too */
  if (k == K_VM) li = put_names_li_vm(st, id, body);
  if (k == K_HOST && declares_trust(body) && !st->allow_declared) {
    lisec_err_set(err, LISEC_EDENIED,
                  "TR103308-6.2-R8: %s: host %s: trust and location come from attestation "
                  "evidence, not from a declaration; [model] allow_declared_trust = true admits "
                  "them for development only",
                  json_object_get(body, "trust") ? "trust" : "location", id);
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, LISEC_EDENIED, NULL, err, "%s",
                     subject);
  }
  if (k == K_VM && json_is_true(json_object_get(body, "paired")) && !st->allow_declared) {
    lisec_err_set(err, LISEC_EDENIED,
                  "TR103308-4.2: paired: VM %s becomes a known LI VM only when the LI "
                  "administration pairs it (POST /v1/li/vms/{vm}/pair); [model] "
                  "allow_declared_trust = true admits a declaration for development only",
                  id);
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, LISEC_EDENIED, NULL, err, "%s",
                     subject);
  }
  json_t *doc = json_deep_copy(body);
  if (!doc || json_object_set_new(doc, "id", json_string(id))) {
    json_decref(doc);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  int64_t want = -1; /* the version the client read, if it says */
  if ((rc = client_version(doc, NULL, &want, err))) {
    json_decref(doc);
    return rc;
  }
  char *text = lisec_json_dump_canonical(doc);
  json_t *old_eff = NULL, *eff = NULL;
  /* A hypervisor put on other hardware is a move, judged like a placement. */
  if (k == K_HYP && text && !create_only &&
      (rc = hyp_move(ctl, actor, id, doc, text, want, out, created, err)) != 1)
    goto done;
  rc = 0;
  lock_fresh(ctl, st);
  const json_t *old = json_object_get(st->docs[k], id);
  if (k == K_VM) li = li || vm_declared_li(st, id); /* as it is now, the lock held */
  if (!text) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (old && create_only) {
    rc = lisec_err_set(err, LISEC_ECONFLICT, "%s %s exists already", kind_names[k], id);
  } else if (want >= 0 && want != ver_of(st, k, id)) {
    rc = stale_client(k, id, want, ver_of(st, k, id), err);
  } else if (k == K_VM && json_object_get(st->terminating, id)) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       CTL_MODEL_REQ_TERMINATE ": VM %s is terminating; it cannot be changed", id);
  } else if (!(eff = effective(st, k, doc)) || (old && !(old_eff = effective(st, k, old)))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else {
    sync_time(st);
    rc = model_put_json(st->m, kind_names[k], eff, err);
    /* An unknown id in a body is bad input (400), naming its field. */
    if (rc == LISEC_ENOTFOUND) rc = err->code = LISEC_EINVAL;
    /* Of the changes a put makes, only a storage's new root VM can be held
     * by an LI; other conflicts (a hypervisor's host, a grouped
     * connection's ends) keep their own reason. */
    else if (rc == LISEC_ECONFLICT && k == K_STORAGE) {
      rc = refused_in_use(ctl, actor, action, subject, li, k, id, err);
      mu_unlock(st);
      goto done;
    }
  }
  if (rc) {
    mu_unlock(st);
    rc = ctl_audit(ctl, actor, (rc) == LISEC_EDENIED ? CTL_OUTCOME_DENIED : CTL_OUTCOME_REFUSED,
                   action, li, NULL, rc, NULL, err, "%s", subject);
    goto done;
  }
  /* Recorded and stored in one transaction, compare-and-set; the model
   * change is not yet visible to anyone (the lock is held). */
  int64_t had = ver_of(st, k, id);
  *created = old == NULL;
  if ((rc = commit_doc(ctl, actor, action, li, NULL, subject, k, id, text, NULL, err))) {
    undo(st, k, id, old_eff);
    if (rc == LISEC_ECONFLICT) rc = stale_store(ctl, k, id, had, err);
    mu_unlock(st);
    goto done;
  }
  *out = view(st, k, doc);
  /* The stored copy is the model's from here on; nothing else holds it. */
  json_object_set_new(st->docs[k], id, doc);
  doc = NULL;
  if (k == K_LI || k == K_STORAGE) li_vms_rebuild(st);
  if (k == K_VM) li_declared_note(st, id);
  mu_unlock(st);
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
done:
  free(text);
  json_decref(doc);
  json_decref(eff);
  json_decref(old_eff);
  return rc;
}

int ctl_model_get(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                  json_t **out, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int k = kind_find(kind, err);
  if (k < 0) return k;
  char action[48], subject[STORE_ID_MAX + 32];
  snprintf(action, sizeof action, "model.%s.read", kind_names[k]);
  snprintf(subject, sizeof subject, "%s %s", kind_names[k], id);
  int rc = authorise(ctl, actor, k, action, subject, err);
  if (rc) return rc;
  if (k == K_HOST) expire_overdue(ctl); /* the trust decisions would use now */
  lock_fresh(ctl, st);
  const json_t *doc = json_object_get(st->docs[k], id);
  *out = doc ? view(st, k, doc) : NULL;
  mu_unlock(st);
  if (!doc) return lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind_names[k], id);
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  /* Reading an LI authorisation is an LI event, recorded before the answer. */
  if (k == K_LI && (rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, true, NULL, 0, NULL, err,
                                   "%s", subject))) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ctl_model_list(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, json_t **out,
                   lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int k = kind_find(kind, err);
  if (k < 0) return k;
  char action[48], key[48];
  snprintf(action, sizeof action, "model.%s.list", kind_names[k]);
  snprintf(key, sizeof key, "%ss", kind_names[k]);
  int rc = authorise(ctl, actor, k, action, kind_names[k], err);
  if (rc) return rc;
  if (k == K_HOST) expire_overdue(ctl); /* the trust decisions would use now */
  json_t *arr = json_array();
  lock_fresh(ctl, st);
  size_t n = json_object_size(st->docs[k]), i = 0;
  const char **ids = calloc(n ? n : 1, sizeof *ids);
  const char *id;
  json_t *doc;
  if (ids && arr) {
    json_object_foreach(st->docs[k], id, doc) ids[i++] = id;
    qsort(ids, n, sizeof *ids, cmp_str);
    for (i = 0; i < n; i++)
      json_array_append_new(arr, view(st, k, json_object_get(st->docs[k], ids[i])));
  }
  mu_unlock(st);
  bool oom = !ids || !arr;
  free(ids);
  if (oom) {
    json_decref(arr);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (k == K_LI && (rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, true, NULL, 0, NULL, err,
                                   "%s", "li *"))) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", key, arr);
  return 0;
}

/* Removes entity k from the model, records it (action, with reason) and
 * deletes its stored document; a refusal is recorded. Called with the lock
 * held. */
static int remove_locked(lisec_ctl *ctl, const ctl_actor *actor, int k, const char *id,
                         const char *action, const char *subject, bool li, const char *reason,
                         int64_t want, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  json_t *old = json_object_get(st->docs[k], id);
  if (!old) return lisec_err_set(err, LISEC_ENOTFOUND, "%s %s does not exist", kind_names[k], id);
  if (want >= 0 && want != ver_of(st, k, id)) {
    int rc = stale_client(k, id, want, ver_of(st, k, id), err);
    return ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, action, li, NULL, rc, NULL, err, "%s", subject);
  }
  json_t *old_eff = effective(st, k, old);
  if (!old_eff) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  sync_time(st);
  int rc = model_remove_kind(st->m, kind_names[k], id, err);
  if (rc == LISEC_ECONFLICT) rc = refused_in_use(ctl, actor, action, subject, li, k, id, err);
  else if (rc) rc = ctl_audit(ctl, actor,
                              (rc) == LISEC_EDENIED ? CTL_OUTCOME_DENIED : CTL_OUTCOME_REFUSED,
                              action, li, NULL, rc, NULL, err, "%s", subject);
  if (rc) {
    json_decref(old_eff);
    return rc;
  }
  int64_t had = ver_of(st, k, id);
  rc = commit_doc(ctl, actor, action, li, reason, subject, k, id, NULL, NULL, err);
  if (rc) {
    undo(st, k, id, old_eff);
    if (rc == LISEC_ECONFLICT) rc = stale_store(ctl, k, id, had, err);
  } else {
    json_object_del(st->docs[k], id);
    if (k == K_VM) li_declared_note(st, id);
    /* st->attested keeps the host's appraisal: it is the host's (its TPM),
     * not the model entry's, and applies again if the host is added again. */
    if (k == K_LI || k == K_STORAGE) li_vms_rebuild(st);
    /* What a removed host proved, or a removed VM's awaited migration or
     * termination, no longer counts (a host added again reports afresh). */
    lisec_err ignore = {0};
    if (k == K_HOST) {
      model_observe_forget(st->m, id);
      json_object_del(st->obs_kept, id);
      (void)store_doc_delete(ctl->store, OBS_KIND, id, &ignore);
    } else if (k == K_VM) {
      if (json_object_get(st->moving, id)) {
        json_object_del(st->moving, id);
        (void)store_doc_delete(ctl->store, MOVING_KIND, id, &ignore);
      }
      if (json_object_get(st->terminating, id)) {
        json_object_del(st->terminating, id);
        (void)store_doc_delete(ctl->store, TERMINATING_KIND, id, &ignore);
      }
    }
  }
  json_decref(old_eff);
  return rc;
}

int ctl_model_delete(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                     lisec_err *err) {
  return ctl_model_delete_query(ctl, actor, kind, id, NULL, err);
}

int ctl_model_delete_query(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                           const char *query, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  int k = kind_find(kind, err);
  if (k < 0) return k;
  int64_t want = -1;
  int vrc = client_version(NULL, query, &want, err);
  if (vrc) return vrc;
  if (k == K_VM) {
    /* a VM is terminated, never simply removed (issue 21) */
    json_t *out = NULL;
    int rc = ctl_model_vm_terminate(ctl, actor, id, &out, err);
    json_decref(out);
    return rc;
  }
  char action[48], subject[STORE_ID_MAX + 32];
  snprintf(action, sizeof action, "model.%s.delete", kind_names[k]);
  snprintf(subject, sizeof subject, "%s %s", kind_names[k], id);
  bool li = k == K_LI || k == K_LEA; /* an LEA id is an LI detail too */
  int rc = authorise(ctl, actor, k, action, subject, err);
  if (rc) return rc;
  lock_fresh(ctl, st);
  rc = remove_locked(ctl, actor, k, id, action, subject, li, NULL, want, err);
  mu_unlock(st);
  if (!rc && k == K_LI && st->li_ended) st->li_ended(ctl, id); /* its data keys leave the cache */
  return rc;
}

/* ---- termination of a VM (issue 21 item 1) ------------------------------------------ */

bool ctl_model_vm_terminating(ctl_shared *sh, const char *vm) {
  struct ctl_model_state *st = sh->model;
  if (!st || !vm) return false;
  mu_lock(st);
  bool t = json_object_get(st->terminating, vm) != NULL;
  mu_unlock(st);
  return t;
}

/* The host vm's intent places it on, or NULL. Called with the lock held. */
static const char *intended_host(struct ctl_model_state *st, const char *vm) {
  const char *hyp = json_string_value(json_object_get(json_object_get(st->docs[K_VM], vm), "hypervisor"));
  return json_string_value(json_object_get(json_object_get(st->docs[K_HYP], hyp ? hyp : ""), "host"));
}

/* Whether a terminating VM is gone: no host's inventory lists it, and the
 * host awaited (the intended host, when it reported inventories at the
 * request) has sent one since the request. *why says what it waits for. */
static bool terminated_now(struct ctl_model_state *st, const char *vm, const json_t *t, char *why,
                           size_t cap) {
  model_vm_observation ob;
  if (model_vm_observed(st->m, vm, &ob)) {
    snprintf(why, cap, "an attested inventory still lists it (%s on host %.128s, quote %.64s)",
             model_dom_state_name(ob.state), ob.host ? ob.host : "(several)",
             ob.evidence ? ob.evidence : "?");
    return false;
  }
  const char *host = json_string_value(json_object_get(t, "host"));
  int64_t at = 0, asked = (int64_t)json_integer_value(json_object_get(t, "at"));
  if (host && model_host_observed(st->m, host, &at, NULL) && at <= asked) {
    snprintf(why, cap, "host %.128s has sent no attested inventory since the request", host);
    return false;
  }
  return true;
}

int ctl_model_vm_terminate(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                           lisec_err *err) {
  static const char *action = "model.vm.delete"; /* the DELETE route's action, as every kind's */
  struct ctl_model_state *st = state(ctl);
  *out = NULL;
  char subject[STORE_ID_MAX + 32], reason[LISEC_ERR_MSG_MAX];
  snprintf(subject, sizeof subject, "vm %s", vm ? vm : "");
  /* MANO terminates what it instantiated; the platform's operators too */
  int rc = ctl_actor_role(actor) == CTL_ROLE_MANO ? 0 : authorise(ctl, actor, K_VM, action, subject, err);
  if (rc) return rc;
  if ((rc = check_id(vm, err))) return rc;
  /* An LI VM ends by the LI administration's signed retire command only
   * (TR 103 308 §4.1); asked outside the lock (the LI topic reads its
   * records). Fail closed without the LI topic's answer. */
  bool li_vm = false;
  char li_state[16] = "";
  lisec_err lerr = {0};
  int lrc = st->li_vm ? st->li_vm(ctl, vm, &li_vm, li_state, &lerr) : LISEC_EUNAVAIL;
  lock_fresh(ctl, st);
  if (!json_object_get(st->docs[K_VM], vm)) {
    mu_unlock(st);
    return lisec_err_set(err, LISEC_ENOTFOUND, CTL_MODEL_REQ_TERMINATE ": vm %s does not exist", vm);
  }
  li_vm = li_vm || json_object_get(st->paired, vm);
  bool li = li_vm || vm_declared_li(st, vm); /* not for an LI naming it (vm_declared_li) */
  const json_t *t = json_object_get(st->terminating, vm);
  if (lrc || li_vm) {
    /* The record, sealed, says why; every role that may ask gets the
     * sentence any referenced entity gets, so the answer tells no one which
     * VMs are LI VMs. */
    if (lrc)
      snprintf(reason, sizeof reason, "TR103308-4.1: whether VM %.128s is an LI VM cannot be told (%.200s); "
               "not terminated (fail closed)", vm, lrc == LISEC_EUNAVAIL && !st->li_vm ? "no LI topic" : lerr.msg);
    else
      snprintf(reason, sizeof reason, "TR103308-4.1: VM %.128s is an LI VM (LI function %.15s); only the LI "
               "administration's signed retire command ends it (POST /v1/li/vms/{vm}/retire)",
               vm, li_state[0] ? li_state : "paired");
    lisec_err_set(err, LISEC_ECONFLICT, "%s", reason);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, LISEC_ECONFLICT, NULL, err, "%s",
                   subject);
    lisec_err_set(err, rc,
                  "TR103308-4.1: vm %s is still referenced by other entities of the trust model, "
                  "which may include entities your role cannot see; change or remove those first",
                  vm);
    mu_unlock(st);
    return rc;
  }
  if (t) {
    char at[32];
    lisec_time_format((int64_t)json_integer_value(json_object_get(t, "at")), at);
    lisec_err_set(err, LISEC_ECONFLICT,
                  CTL_MODEL_REQ_TERMINATE ": VM %s is terminating already (asked at %s); it leaves "
                  "the model when no attested inventory lists it",
                  vm, at);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, action, li, NULL, LISEC_ECONFLICT, NULL, err, "%s",
                   subject);
    mu_unlock(st);
    return rc;
  }
  /* What could still prove it runs: a host listing it, or its intended
   * host when that host reports inventories. */
  model_vm_observation ob;
  const char *host = intended_host(st, vm);
  bool observed = model_vm_observed(st->m, vm, &ob);
  bool host_reports = host && model_host_observed(st->m, host, NULL, NULL);
  if (!observed && !host_reports) {
    snprintf(reason, sizeof reason,
             "no attested host ever reported VM %.128s and its intended host%s%.128s sends no inventory: "
             "removed on intent (nothing could prove it gone)",
             vm, host ? " " : "", host ? host : "");
    rc = remove_locked(ctl, actor, K_VM, vm, action, subject, li, reason, -1, err);
    mu_unlock(st);
    if (!rc && !(*out = json_pack("{s:s, s:s, s:s}", "vm", vm, "state", "terminated", "reason", reason)))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return rc;
  }
  /* Refused now rather than left waiting when something still refers to
   * it: the removal is tried and undone. */
  json_t *old_eff = effective(st, K_VM, json_object_get(st->docs[K_VM], vm));
  sync_time(st);
  rc = old_eff ? model_remove_kind(st->m, kind_names[K_VM], vm, err) : LISEC_ENOMEM;
  if (!rc) undo(st, K_VM, vm, old_eff);
  json_decref(old_eff);
  if (rc == LISEC_ECONFLICT) {
    rc = refused_in_use(ctl, actor, action, subject, li, K_VM, vm, err);
    mu_unlock(st);
    return rc;
  }
  if (rc) {
    mu_unlock(st);
    return rc == LISEC_ENOMEM ? lisec_err_set(err, rc, "out of memory") : rc;
  }
  int64_t now = lisec_time_now();
  json_t *mark = json_pack("{s:I, s:s?, s:s}", "at", (json_int_t)now, "host", host_reports ? host : NULL,
                           "by", actor && actor->subject ? actor->subject : "?");
  char *text = mark ? lisec_json_dump_canonical(mark) : NULL;
  char why[512] = "";
  if (mark) (void)terminated_now(st, vm, mark, why, sizeof why); /* false: why says what it awaits */
  snprintf(reason, sizeof reason,
           "terminating: VM %.128s leaves the model when no attested inventory lists it (now: %.300s)", vm,
           why);
  if (!text) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else if (!(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, li, reason, 0, NULL, err, "%s", subject)) &&
           (rc = store_doc_put(ctl->store, TERMINATING_KIND, vm, text, -1, NULL, err))) {
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, li, err->msg, 0, NULL, &ferr, "%s", subject);
  }
  if (!rc) {
    json_object_set_new(st->terminating, vm, mark);
    mark = NULL;
    if (!(*out = json_pack("{s:s, s:s, s:s}", "vm", vm, "state", "terminating", "awaiting", why)))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  mu_unlock(st);
  json_decref(mark);
  free(text);
  return rc;
}

/* After an observation: every terminating VM that no inventory lists any
 * more (and whose awaited host reported since) leaves the model, recorded
 * with the quote that showed it. Called with the lock held. */
static void terminations_settle(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs) {
  struct ctl_model_state *st = state(ctl);
  if (!json_object_size(st->terminating)) return;
  json_t *ids = json_array();
  const char *vm;
  json_t *t;
  char why[512];
  json_object_foreach(st->terminating, vm, t) if (terminated_now(st, vm, t, why, sizeof why))
      json_array_append_new(ids, json_string(vm));
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) {
    vm = json_string_value(v);
    t = json_object_get(st->terminating, vm);
    if (!t) continue;
    if (json_is_true(json_object_get(t, "blocked"))) {
      /* refused before and recorded: tried quietly until it would pass */
      json_t *eff = effective(st, K_VM, json_object_get(st->docs[K_VM], vm));
      lisec_err q = {0};
      int trc = eff ? model_remove_kind(st->m, kind_names[K_VM], vm, &q) : LISEC_ENOMEM;
      if (!trc) undo(st, K_VM, vm, eff);
      json_decref(eff);
      if (trc) continue;
    }
    char subject[STORE_ID_MAX + 32], reason[LISEC_ERR_MSG_MAX], at[32];
    snprintf(subject, sizeof subject, "vm %s", vm);
    lisec_time_format(obs->quote_time, at);
    snprintf(reason, sizeof reason,
             "terminated: no attested inventory lists VM %.128s any more (host %.128s's at %s, quote %.64s)", vm,
             obs->host, at, obs->evidence ? obs->evidence : "?");
    lisec_err e = {0};
    json_incref(t);
    if (remove_locked(ctl, actor, K_VM, vm, "model.vm.terminated", subject, vm_declared_li(st, vm),
                      reason, -1, &e)) {
      LOG_WARN("model: VM %s stays terminating: %s", vm, e.msg);
      json_object_set_new(t, "blocked", json_true()); /* its refusal is recorded once */
    }
    json_decref(t);
  }
  json_decref(ids);
}

/* ---- decisions ------------------------------------------------------------------- */

static bool rule_about_li(const char *requirement) {
  model_rule r;
  /* What hosts run against intent (where a VM runs, the image it runs)
   * names VMs, hosts and packages, never an LI. */
  /* Nor do a retired package version and a revoked vendor signer: they
   * name packages, versions and signers (an LI VM of such a package is
   * withheld by its subject, below). */
  static const char *const observed[] = {MODEL_REQ_PLACEMENT, MODEL_REQ_DUPLICATE, MODEL_REQ_IMAGE,
                                         MODEL_REQ_UNREPORTED, MODEL_REQ_UNKNOWN_DOMAIN,
                                         "NFV-SEC025-RETIRED", "TR103308-4.1-REVOKED",
                                         CTL_CLOCK_REQ /* names the controller's clock only */,
                                         /* a pod's annotation, node and scheduler */
                                         CTL_MODEL_REQ_K8S_VM, CTL_MODEL_REQ_K8S_NODE,
                                         CTL_MODEL_REQ_K8S_SCHEDULER};
  for (size_t i = 0; requirement && i < sizeof observed / sizeof *observed; i++)
    if (strcmp(requirement, observed[i]) == 0) return false;
  if (!requirement || model_rule_parse(requirement, &r)) return true; /* unknown: withhold */
  return model_rule_about_li(r);
}

/* Whether a requirement is one of the Retained Data rules. */
static bool rule_about_rd(const char *requirement) {
  return requirement && strncmp(requirement, "TR103308-5.8-RD-", 16) == 0;
}

/* A row about Retained Data: an RD rule's, or one whose subject is an RD
 * obligation. */
static bool row_about_rd(const char *requirement, const char *subject) {
  return rule_about_rd(requirement) || (subject && strncmp(subject, "rd ", 3) == 0);
}

static bool trust_row(const json_t *r);
static void drop_trust_rows(json_t *verdict, bool rd);
static const char *str_or_empty(const json_t *o, const char *key);

/* The key that marks a row naming a VM declared "li" other than the VM a
 * decision is about (mark_li_vm_rows); its value is the subject the row
 * keeps when withheld: "vm <the VM asked about>" when that is its subject,
 * else "li (withheld)". Never in an answer or a record (redact and
 * reasons_line read it, redact takes it out). */
#define LI_VM_MARK "lisec.li_vm"

/* The key under which a row lists the VMs declared "li" it names, as the
 * model marked its reason (model_reason.li_vms) or mark_finding_rows a
 * finding of another topic; read by row_names_li_vm, never in an answer
 * or a record (mark_li_vm_rows, redact and ctl_model_compliance_read
 * take it out). */
#define LI_VMS_KEY "lisec.li_vms"

/* The roles that may read LI VMs (ctl/li.c may_read: the LI administration
 * and the hypervisor administration that enables them). Every other role
 * but the operator (reads_li_vm_rows) reads no row naming a VM declared
 * "li" but the one it asked about (docs/model.md, "What each role sees"). */
static bool reads_li_vms(const ctl_actor *actor) {
  ctl_role r = ctl_actor_role(actor);
  return r == CTL_ROLE_LI_ADMIN || r == CTL_ROLE_HV_ADMIN;
}

/* The roles that read the rows naming a VM declared "li" in their replies
 * (compliance, decisions, moves): those that read LI VMs, and the operator,
 * which declared them, reads them in /v1/model/vm and is the one role that
 * places VMs and sets hosts' protection levels, so the one that can mend
 * an O.1.3 or DOMAIN row about one (review of 2026-12-07). A record in the
 * clear still withholds them (reasons_line, ctl_model_compliance): the
 * auditor reads it. */
static bool reads_li_vm_rows(const ctl_actor *actor) {
  return reads_li_vms(actor) || ctl_actor_role(actor) == CTL_ROLE_OPERATOR;
}

/* Whether row r names a VM declared "li" other than asked (NULL: any):
 * marked so where it was made (LI_VMS_KEY: the model's reasons, by
 * verdict_json and li_vms_json; the other topics' findings, by
 * mark_finding_rows). The words are not searched: an id found in them
 * could be another entity's (an LI VM hel-3 beside a host hel-3), and an
 * id written another way would be missed. */
static bool row_names_li_vm(const json_t *r, const char *asked) {
  size_t i;
  json_t *id;
  json_array_foreach(json_object_get(r, LI_VMS_KEY), i, id) {
    const char *s = json_string_value(id); /* null: more than were listed */
    if (!s || !asked || strcmp(s, asked) != 0) return true;
  }
  return false;
}

/* Adds the LI VMs the model marked reason r with (model_reason.li_vms) to
 * row j under LI_VMS_KEY; a null for more than were listed. 0, or
 * LISEC_ENOMEM. */
static int li_vms_json(const model_reason *r, json_t *j) {
  if (!reason_names_li_vm(r)) return 0;
  json_t *a = json_array();
  int rc = a ? 0 : LISEC_ENOMEM;
  for (uint8_t k = 0; !rc && k < r->n_li_vms; k++)
    if (json_array_append_new(a, json_string(r->li_vms[k]))) rc = LISEC_ENOMEM;
  if (!rc && r->li_vms_more && json_array_append_new(a, json_null())) rc = LISEC_ENOMEM;
  if (!rc && json_object_set_new(j, LI_VMS_KEY, a)) return LISEC_ENOMEM;
  if (rc) json_decref(a);
  return rc;
}

/* Takes LI_VMS_KEY out of every row of a verdict. */
static void drop_li_vms_key(json_t *verdict) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(verdict, "violations"), i, r) json_object_del(r, LI_VMS_KEY);
}

/* Marks (LI_VM_MARK) the rows of a decision's verdict that name a VM
 * declared "li" other than asked, the VM the decision is about (NULL: a
 * hypervisor's move, which asks about none), by the model's mark
 * (row_names_li_vm), which it takes out. */
static void mark_li_vm_rows(json_t *verdict, const char *asked) {
  char keep[MODEL_ID_MAX + 8];
  snprintf(keep, sizeof keep, "vm %s", asked ? asked : "");
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(verdict, "violations"), i, r) {
    bool names = row_names_li_vm(r, asked);
    json_object_del(r, LI_VMS_KEY);
    if (!names) continue;
    const char *subj = json_string_value(json_object_get(r, "subject"));
    json_object_set_new(r, LI_VM_MARK,
                        json_string(asked && subj && strcmp(subj, keep) == 0 ? keep : "li (withheld)"));
  }
}

/* The sentence of a row withheld for the LI VMs it names: the
 * requirement's title. */
static void li_vm_sentence(const json_t *r, char *out, size_t n) {
  const char *req = json_string_value(json_object_get(r, "requirement"));
  model_rule rule = MODEL_O13;
  bool known = req && model_rule_parse(req, &rule) == 0;
  snprintf(out, n, "%s (the LI VMs it names are shown to the LI administration only)",
           known ? model_rule_title(rule) : "this requirement fails");
}

/* The key that marks a row redact or redact_rd withheld in place, for
 * collapse_withheld; never in an answer or a record (collapse_withheld
 * takes it out). */
#define WITHHELD_MARK "lisec.withheld"

/* Of the rows withheld in place (WITHHELD_MARK), keeps the first of those
 * that read alike (requirement, clauses, subject, sentence) when collapse
 * is set, and takes the mark out of every row. A withheld row reads alike
 * for every LI authorisation (obligation) and every VM of a hypervisor it
 * is about: the requirement's title, subject "li (withheld)" ("rd
 * (withheld)") or the VM asked about. One such row per VM an LI involves
 * (per LI monitoring the VM, per obligation naming it) told a role that
 * may not read them how many there are: the rows of a hypervisor's move
 * (one per LI VM it runs), a migration's R11 (one per LI monitoring the
 * VM). One row says which requirement refuses the request, as the rows
 * said; the role that reads them in full reads every row (docs/model.md,
 * "What each role sees"). A compliance report keeps its rows (collapse
 * false): its counts are per row. */
static void collapse_withheld(json_t *verdict, bool collapse) {
  json_t *viol = json_object_get(verdict, "violations"), *seen = collapse ? json_object() : NULL;
  char key[4 * LISEC_ERR_MSG_MAX];
  for (size_t i = 0; i < json_array_size(viol);) {
    json_t *r = json_array_get(viol, i);
    if (!json_object_get(r, WITHHELD_MARK)) {
      i++;
      continue;
    }
    json_object_del(r, WITHHELD_MARK);
    snprintf(key, sizeof key, "%s|%s|%s|%s", str_or_empty(r, "requirement"),
             str_or_empty(r, "clauses"), str_or_empty(r, "subject"), str_or_empty(r, "sentence"));
    if (seen && json_object_get(seen, key)) {
      json_array_remove(viol, i);
      continue;
    }
    if (seen) json_object_set_new(seen, key, json_true());
    i++;
  }
  json_decref(seen);
}

/* The same for Retained Data (issue 20): every role but rd-admin, the LI
 * administration included, reads of an RD reason its requirement and
 * clauses only; the obligation is not named. *any says whether one was.
 * RD-R11 refusing the destination's trust is left out (trust_row): MOVE2
 * says the same for every VM, and *any does not count it, so that the
 * answer onto untrusted hardware is the same whatever the VM. */
static void redact_rd(json_t *verdict, bool *any) {
  drop_trust_rows(verdict, true);
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(verdict, "violations"), i, r) {
    const char *req = json_string_value(json_object_get(r, "requirement"));
    const char *about = json_string_value(json_object_get(r, "subject"));
    if (!row_about_rd(req, about)) continue;
    model_rule rule = MODEL_RD1;
    bool known = req && model_rule_parse(req, &rule) == 0;
    char sentence[LISEC_ERR_MSG_MAX];
    snprintf(sentence, sizeof sentence,
             "%s (the retention obligation's details are shown to the RD administration only)",
             known ? model_rule_title(rule) : "a requirement about Retained Data fails");
    json_object_set_new(r, "sentence", json_string(sentence));
    json_object_del(r, "fact");
    json_object_set_new(r, "subject", json_string("rd (withheld)"));
    json_object_set_new(r, WITHHELD_MARK, json_true());
    *any = true;
  }
}

/* Takes row i out of a compliance report, and one from its requirement's
 * count (the count goes with its last row). */
static void drop_row(json_t *report, size_t i) {
  json_t *viol = json_object_get(report, "violations"), *counts = json_object_get(report, "counts");
  const char *req = json_string_value(json_object_get(json_array_get(viol, i), "requirement"));
  json_int_t left = req ? json_integer_value(json_object_get(counts, req)) - 1 : 0;
  if (req && left > 0) json_object_set_new(counts, req, json_integer(left));
  else if (req) json_object_del(counts, req);
  json_array_remove(viol, i);
}

/* Takes the rows about(requirement, subject) says go out of a compliance
 * report, their counts with them (a count is its rows; a count left for
 * such a rule goes too), and "compliant" then says what the remaining
 * rows say, so that nothing in the reply moves with what was taken. */
static void hide_rows(json_t *report, bool (*about)(const char *requirement, const char *subject)) {
  json_t *viol = json_object_get(report, "violations"), *counts = json_object_get(report, "counts");
  for (size_t i = json_array_size(viol); i-- > 0;) {
    json_t *r = json_array_get(viol, i);
    const char *req = json_string_value(json_object_get(r, "requirement"));
    if (about(req, json_string_value(json_object_get(r, "subject")))) drop_row(report, i);
  }
  const char *k;
  json_t *c;
  void *tmp;
  json_object_foreach_safe(counts, tmp, k, c) {
    if (about(k, NULL)) json_object_del(counts, k);
  }
  json_object_set_new(report, "compliant", json_boolean(json_array_size(viol) == 0));
}

/* The compliance report for every role but rd-admin (issue 20 item 2): the
 * RD rows go whole, and their counts with them, so neither an RD rule id
 * nor how many RD violations there are reaches another role (§4.1 read for
 * RD; the LI administration included: neither administration reads the
 * other's). "redacted" does not count RD rows, so that nothing in the
 * reply moves with RD state. The operator still learns of an RD VM it may
 * not place there from the placement and migration decisions
 * (TR103308-5.8-RD-R11). */
void ctl_model_compliance_hide_rd(json_t *report) { hide_rows(report, row_about_rd); }

/* Whether a compliance row goes from the report of a role other than
 * li-admin: a row of an LI rule (model_rule_about_li: R1-R11, KNOWN,
 * STORE), or any row whose subject is an LI or a paired LI VM ("li ...",
 * "li-vm ...": the LI lock, a revoked signer of an LI VM's package). */
static bool row_about_li(const char *requirement, const char *subject) {
  model_rule r;
  if (requirement && model_rule_parse(requirement, &r) == 0 && model_rule_about_li(r)) return true;
  return subject && (strncmp(subject, "li ", 3) == 0 || strncmp(subject, "li-vm ", 6) == 0);
}

/* The compliance report for every role but li-admin (review of 2026-12-06;
 * docs/model.md, "What each role sees"): the LI rows go whole, as the RD
 * rows above. Withheld in place, those rows still moved with the LI's
 * state (a host running a monitored VM loses its trust: an R1 row
 * appears, and none for its twin's), which told the operator and the
 * auditor where a target runs (§4.1). The rows' absence is not a verdict:
 * MANO still learns which requirement refuses its placement or migration
 * from the decision (redact, below). */
void ctl_model_compliance_hide_li(json_t *report) { hide_rows(report, row_about_li); }

/* The compliance report for every role that reads no row naming an LI VM
 * (reads_li_vm_rows; reviews of 2026-12-07): every row naming a VM declared
 * "li" goes whole, with its count, as the LI rows above, whatever its
 * rule: O.1.3 for an LI VM on a host of too low a protection level ("VM
 * vm-li has sensitivity li; ..."), DOMAIN for a domain holding an LI VM
 * and others ("... holds LI VM vm-li ..."), a finding about it. Those
 * roles are refused the LI VMs themselves (/v1/li/vms; the auditor
 * /v1/model/vm too), and their compliance view leaves them out. */
static void hide_li_vm_rows(json_t *report) {
  json_t *viol = json_object_get(report, "violations");
  for (size_t i = json_array_size(viol); i-- > 0;)
    if (row_names_li_vm(json_array_get(viol, i), NULL)) drop_row(report, i);
  json_object_set_new(report, "compliant", json_boolean(json_array_size(viol) == 0));
}

/* How many rows of the compliance report name a VM declared "li"
 * (row_names_li_vm): what a record in the clear of a role that reads them
 * (the operator's, hypervisor-admin's) does not count, as the auditor
 * reads it. */
static size_t li_vm_rows_in(const json_t *report) {
  size_t n = 0, i;
  json_t *r;
  json_array_foreach(json_object_get(report, "violations"), i, r) {
    if (row_names_li_vm(r, NULL)) n++;
  }
  return n;
}

/* The key that marks a trust row in the controller's JSON of a verdict
 * (trust_row); never in an answer or a record: redact takes it out of the
 * rows it leaves, and a record's line is requirements and sentences. */
#define TRUST_MARK "lisec.trust_row"

/* Whether r is a reason about an LI authorisation (an RD obligation) that
 * fails only for the destination's trust, as the model marked it where it
 * made it (model_reason.trust, verdict_json) or freshness below:
 * moveVM's precondition h.executesOn.trusted, which MOVE2 states for every
 * VM alike beside it. Only the LI (RD) administration reads it: to any
 * other role that requirement on a refusal for trust would tell which VMs
 * an LI involves (an obligation names; §4.1; docs/model.md, "What each
 * role sees"). R11 (RD-R11) for the jurisdiction is not such a row: it is
 * shown, redacted. */
static bool trust_row(const json_t *r) { return json_is_true(json_object_get(r, TRUST_MARK)); }

/* Whether r is a trust row (trust_row) about Retained Data (rd) or about
 * an LI authorisation (!rd). */
static bool trust_row_of(const json_t *r, bool rd) {
  return trust_row(r) && rule_about_rd(json_string_value(json_object_get(r, "requirement"))) == rd;
}

/* Takes the trust rows about RD (rd) or about an LI (!rd) out of a verdict. */
static void drop_trust_rows(json_t *verdict, bool rd) {
  json_t *viol = json_object_get(verdict, "violations");
  for (size_t i = json_array_size(viol); i-- > 0;)
    if (trust_row_of(json_array_get(viol, i), rd)) json_array_remove(viol, i);
}

/* The model's verdict as JSON, each trust reason (model_reason.trust)
 * marked for trust_row, and each naming a VM declared "li" for
 * row_names_li_vm (li_vms_json); NULL when out of memory. */
static json_t *verdict_json(const model_verdict *mv) {
  json_t *v = model_verdict_json(mv), *viol = json_object_get(v, "violations");
  for (size_t i = 0; v && i < mv->n; i++) {
    json_t *r = json_array_get(viol, i);
    if ((mv->reasons[i].trust && json_object_set_new(r, TRUST_MARK, json_true())) ||
        li_vms_json(&mv->reasons[i], r)) {
      json_decref(v);
      return NULL;
    }
  }
  return v;
}

/* For any role but li-admin, a reason about an LI authorisation keeps its
 * requirement, clauses and (platform) subject; the sentence and fact, which
 * name the LI, its jurisdiction and LEA, are withheld (§4.1: LI is visible
 * to the LI administration only; the audit record keeps them, sealed). R11
 * refusing the destination's trust is left out (trust_row): MOVE2 says the
 * same for every VM, and "redacted" does not count it, so that the answer
 * onto untrusted hardware is the same whatever the VM; so is RD-R11's for
 * every role but rd-admin (redact_rd). Of a decision's or a hypervisor
 * move's (collapse) rows withheld alike one is kept (collapse_withheld),
 * so that how many VMs (LIs, obligations) they are about is not told. */
static void redact(json_t *verdict, const ctl_actor *actor, bool collapse) {
  bool any = false;
  size_t i;
  json_t *r;
  if (ctl_actor_role(actor) != CTL_ROLE_RD_ADMIN) redact_rd(verdict, &any);
  if (ctl_actor_role(actor) != CTL_ROLE_LI_ADMIN) drop_trust_rows(verdict, false);
  /* the marks are the controller's, not the answer's (a compliance
   * report's rows keep LI_VMS_KEY to here: hide_li_vm_rows) */
  json_array_foreach(json_object_get(verdict, "violations"), i, r) {
    json_object_del(r, TRUST_MARK);
    json_object_del(r, LI_VMS_KEY);
  }
  if (ctl_actor_role(actor) == CTL_ROLE_LI_ADMIN) {
    json_array_foreach(json_object_get(verdict, "violations"), i, r) json_object_del(r, LI_VM_MARK);
    collapse_withheld(verdict, collapse);
    if (any) json_object_set_new(verdict, "redacted", json_true());
    return;
  }
  bool vm_rows = !reads_li_vm_rows(actor);
  json_array_foreach(json_object_get(verdict, "violations"), i, r) {
    const char *req = json_string_value(json_object_get(r, "requirement"));
    const char *about = json_string_value(json_object_get(r, "subject"));
    bool li_subject = about && (strncmp(about, "li ", 3) == 0 || strncmp(about, "li-vm ", 6) == 0);
    /* a row naming a VM declared "li" (mark_li_vm_rows), whatever its rule */
    json_t *vm_keep = vm_rows && !json_object_get(r, WITHHELD_MARK) /* RD's already */
                          ? json_incref(json_object_get(r, LI_VM_MARK))
                          : NULL;
    json_object_del(r, LI_VM_MARK);
    bool li_row = rule_about_li(req) || li_subject;
    if (!li_row && !vm_keep) continue;
    model_rule rule = MODEL_R1;
    bool known = req && model_rule_parse(req, &rule) == 0;
    char sentence[LISEC_ERR_MSG_MAX];
    if (li_row)
      snprintf(sentence, sizeof sentence,
               "%s (the LI authorisation's details are shown to the LI administration only)",
               known ? model_rule_title(rule) : "a requirement about LI fails");
    else
      li_vm_sentence(r, sentence, sizeof sentence);
    json_object_set_new(r, "sentence", json_string(sentence));
    json_object_del(r, "fact");
    /* An LI authorisation or a paired LI VM (the lock, ctl/li.c) is not
     * named, nor is a VM declared "li" but the one asked about. */
    if (li_subject) json_object_set_new(r, "subject", json_string("li (withheld)"));
    else if (vm_keep) json_object_set(r, "subject", vm_keep);
    json_decref(vm_keep);
    json_object_set_new(r, WITHHELD_MARK, json_true());
    any = true;
  }
  collapse_withheld(verdict, collapse);
  json_object_set_new(verdict, "redacted", json_boolean(any));
}

/* The decision's reasons as one line for the audit record (full: a record
 * with a reason about an LI is sealed, decision_sealed; ctl_record shortens
 * a line longer than an audit string and says how much it cut). A trust
 * row (trust_row), which names the LI (the obligation), is kept only in a
 * record sealed to the LI administration (li) or to the RD administration
 * (rd); in any other MOVE2 beside it says the same. */
static char *reasons_line(const json_t *verdict, bool li, bool rd) {
  lisec_buf b;
  size_t i, n = 0;
  json_t *r;
  lisec_buf_init(&b, 1u << 20);
  json_array_foreach(json_object_get(verdict, "violations"), i, r) {
    const char *req = json_string_value(json_object_get(r, "requirement")),
               *sen = json_string_value(json_object_get(r, "sentence"));
    if (trust_row_of(r, false) && !li) continue;
    if (trust_row_of(r, true) && !rd) continue;
    /* a VM declared "li" is named only in a record sealed to the LI
     * administration (mark_li_vm_rows): in the clear, or sealed to the RD
     * administration, its row says its requirement's title */
    char withheld[LISEC_ERR_MSG_MAX];
    if (!li && json_object_get(r, LI_VM_MARK)) {
      li_vm_sentence(r, withheld, sizeof withheld);
      sen = withheld;
    }
    if (lisec_buf_printf(&b, "%s%s: %s", n++ ? "; " : "", req ? req : "?", sen ? sen : ""))
      break; /* over 1 MiB: what is there is plenty for one audit string */
  }
  return b.data ? (char *)b.data : calloc(1, 1);
}

/* Whether the verdict fails an RD rule, RD-R11 refusing the destination's
 * trust aside (trust_row: MOVE2 refuses every VM alike there, and a seal
 * for that RD-R11 would tell which VMs an obligation names). */
static bool verdict_about_rd(const json_t *verdict) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(verdict, "violations"), i, r)
    if (rule_about_rd(json_string_value(json_object_get(r, "requirement"))) && !trust_row(r))
      return true;
  return false;
}

/* Whether the verdict fails an LI rule, R11 refusing the destination's
 * trust aside (trust_row: MOVE2 refuses every VM alike there, and a seal
 * for that R11 would tell the operator which VMs an LI involves). */
static bool verdict_about_li(const json_t *verdict) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(verdict, "violations"), i, r)
    if (rule_about_li(json_string_value(json_object_get(r, "requirement"))) && !trust_row(r))
      return true;
  return false;
}

/* The fresh-attestation precondition, as a failed requirement; trust: a
 * trust row (trust_row), R11 beside MOVE2. */
static json_t *attest_reason(model_rule rule, bool trust, const char *host, int64_t max_age,
                             const char *why) {
  char sentence[2 * LISEC_ERR_MSG_MAX], fact[96];
  snprintf(sentence, sizeof sentence,
           "host %s has no attestation appraised within the last %lld s and none could be "
           "obtained now: %s",
           host, (long long)max_age, why);
  snprintf(fact, sizeof fact, "age(newest appraisal of %.40s) <= %lld s: false", host,
           (long long)max_age);
  char subject[MODEL_ID_MAX + 8];
  snprintf(subject, sizeof subject, "host %s", host);
  json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", model_rule_id(rule), "clauses",
                        model_rule_clauses(rule), "subject", subject, "sentence", sentence, "fact",
                        fact);
  if (r && trust) json_object_set_new(r, TRUST_MARK, json_true());
  return r;
}

/* What a decision about vm on target needs to know before it asks the
 * model: the hypervisor and host, and whether a fresh attestation is
 * asked for and needed. Called with the lock held. */
typedef struct target_info {
  const char *hyp;
  char host[MODEL_ID_MAX + 1];
  /* fetch: a quote is asked for when the host's newest appraisal is older
   * than attestation_max_age_s, and need_fresh: the decision is denied
   * without one; both for every VM alike whenever the host's trust is
   * attested, so that neither the answer, the time a decision takes nor
   * the host's appraisals tell which VM an LI involves (§4.1). missed_why:
   * when none came, attestation's words for why (how long the host had
   * and this decision waited, or that the host is silent since it was
   * asked), the same whatever the VM */
  bool fetch, need_fresh, declared;
  char missed_why[320];
  bool attested; /* the model holds an appraisal of the host */
  /* the VM is declared an LI VM (sensitivity "li"), which every role that
   * asks may know; an LI authorisation naming it is li-admin's to know */
  bool li_declared;
  /* an LI involves the VM (li-admin's to know): without a fresh quote its
   * move also fails R11, which only li-admin is shown (trust_row) */
  bool li_vm;
} target_info;

static int resolve(struct ctl_model_state *st, const char *name, const char *field, bool li_vm,
                   target_info *t, lisec_err *err) {
  int rc = model_resolve_target(st->m, name, &t->hyp, err);
  if (rc) return lisec_err_wrap(err, "%s", field);
  const json_t *hv = json_object_get(st->docs[K_HYP], t->hyp);
  const char *host = json_string_value(json_object_get(hv, "host"));
  snprintf(t->host, sizeof t->host, "%s", host ? host : "");
  const json_t *hdoc = json_object_get(st->docs[K_HOST], t->host);
  t->declared = hdoc && declares_trust(hdoc) && !json_object_get(st->attested, t->host);
  t->fetch = !t->declared;
  t->need_fresh = t->fetch;
  t->li_vm = li_vm;
  t->attested = json_object_get(st->attested, t->host) != NULL;
  return 0;
}

/* Asks attestation (lock not held) and returns the reasons to add when the
 * host's trust is not fresh and the decision needs it to be (NULL when it
 * is, or when attestation deferred the answer: then *pending is true and
 * the request is dispatched again). A host that gave no fresh quote is not
 * trusted at that moment, for every VM alike: TR103308-6.2-MOVE2 (§6.2
 * moveVM pre h.executesOn.trusted), with attestation's words, the same
 * whatever the VM; for a move (also R11) of a VM an LI involves, R11 too,
 * which only li-admin is shown (trust_row). */
static json_t *freshness(lisec_ctl *ctl, target_info *t, model_rule also, bool *refreshed,
                         bool *pending) {
  *refreshed = false;
  if (!t->fetch) return NULL;
  lisec_err aerr = {0};
  ctl_model_fresh_fn fresh = state(ctl)->fresh;
  /* no attestation topic: no fresh trust (fail closed) */
  t->missed_why[0] = '\0';
  int rc = fresh ? fresh(ctl, t->host, state(ctl)->max_age_s, refreshed, pending, t->missed_why,
                         sizeof t->missed_why, &aerr)
                 : lisec_err_set(&aerr, LISEC_EUNAVAIL, "attestation is not running");
  if (!rc || !t->need_fresh) return NULL;
  if (!t->missed_why[0])
    snprintf(t->missed_why, sizeof t->missed_why, "%s", fresh ? "no fresh quote came in time"
                                                              : "attestation is not running");
  const char *why = aerr.msg[0] ? aerr.msg : lisec_err_name(rc);
  json_t *out = json_array();
  int64_t age = state(ctl)->max_age_s;
  if (out) json_array_append_new(out, attest_reason(MODEL_MOVE2, false, t->host, age, why));
  if (out && also == MODEL_R11 && t->li_vm)
    json_array_append_new(out, attest_reason(MODEL_R11, true, t->host, age, why));
  return out;
}

/* Whether a decision's record is sealed to the LI administration: when the
 * VM (or one the decision moves) is declared "li", or the verdict fails an
 * LI rule (a denial that tells the caller an LI is involved anyway). Never
 * because an LI names a VM not declared "li": operator and auditor read
 * each entry's seal bit and a reply's audit_index, so a seal on an allowed
 * decision would tell them which VM an LI monitors (§4.1). The record is
 * then in the clear, with reasons that are non-LI rules only. */
static bool decision_sealed(bool li_declared, const json_t *verdict) {
  return li_declared || verdict_about_li(verdict);
}

/* Records a decision with its verdict's reasons (or fallback when it has
 * none). Sealed to the LI administration when decision_sealed says so; to
 * the RD administration when the verdict fails an RD rule (a denial that
 * tells the caller an obligation is involved anyway), never because an
 * obligation names the VM: the seal bit would tell which (issue 20). One
 * about both is sealed to the LI administration with the RD reasons
 * withheld from the record. */
static int record_decision(lisec_ctl *ctl, const ctl_actor *actor, const char *action,
                           const char *subject, bool li_declared, const json_t *v,
                           ctl_outcome outcome, const char *fallback, uint64_t *index,
                           lisec_err *err) {
  bool li = decision_sealed(li_declared, v), rd = verdict_about_rd(v);
  json_t *copy = li && rd ? json_deep_copy(v) : NULL;
  bool any = false;
  if (copy) {
    redact_rd(copy, &any);
    collapse_withheld(copy, true); /* nor how many RD rows (collapse_withheld) */
  }
  char *line = li && rd ? (copy ? reasons_line(copy, true, false) : NULL)
                        : reasons_line(v, li, rd && !li);
  json_decref(copy);
  const char *why = line && *line ? line : fallback;
  int rc = rd && !li ? ctl_audit_rd(ctl, actor, outcome, action, why, 0, index, err, "%s", subject)
                     : ctl_audit(ctl, actor, outcome, action, li, why, 0, index, err, "%s", subject);
  free(line);
  return rc;
}

/* Whether a decision must fail for want of a proven clock (te says why),
 * and the violation that names it: the clock, and nothing else. */
static bool clock_unproven(lisec_ctl *ctl, lisec_err *te) {
  int64_t now_ms = 0;
  return ctl_clock_trusted_now(ctl->shared, "a decision that depends on time", &now_ms, te) != 0;
}

static json_t *clock_violation(const lisec_err *te) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", CTL_CLOCK_REQ, "clauses", "TR 103 308 §4.2",
                   "subject", "controller clock", "sentence", te->msg, "fact", "proven(controller clock): false");
}

/* Adds the attestation facts, redacts, records and answers. */
static int finish(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *subject,
                  json_t *v, const target_info *t, json_t *stale, bool refreshed, json_t **out,
                  lisec_err *err) {
  if (stale) {
    json_array_extend(json_object_get(v, "violations"), stale);
    json_decref(stale);
    json_object_set_new(v, "allow", json_false());
  }
  /* A host's trust "now" (its attestation's age) and an LI's validity
   * boundaries are judged by a proven clock only: without one every
   * decision fails closed, naming the clock and nothing else (refusing
   * only those an LI touches would tell other roles which VMs those are). */
  lisec_err te = {0};
  if (clock_unproven(ctl, &te)) {
    json_array_append_new(json_object_get(v, "violations"), clock_violation(&te));
    json_object_set_new(v, "allow", json_false());
  }
  json_object_set_new(v, "hypervisor", json_string(t->hyp));
  json_object_set_new(v, "host", json_string(t->host));
  /* A fresh attestation is required alike for every VM (target_info), so
   * "required" and whether a quote was taken tell nothing of an LI. Without
   * one, the note names the host and attestation's own words (as the
   * denial's sentence has them): how long the host had and this decision
   * waited, or that the host is silent since it was last asked and was not
   * waited for. */
  char missed[sizeof t->missed_why + MODEL_ID_MAX + 64];
  snprintf(missed, sizeof missed, "no fresh attestation of host %s: %s; denied (fail closed)",
           t->host, t->missed_why);
  json_object_set_new(
      v, "attestation",
      json_pack("{s:b, s:b, s:b, s:I, s:s}", "required", t->need_fresh, "declared", t->declared,
                "fresh_quote", refreshed, "max_age_s", (json_int_t)state(ctl)->max_age_s, "note",
                t->declared ? "the host's trust was declared (development), not attested"
                : stale     ? missed
                : refreshed ? "a fresh quote was obtained for this decision"
                : !t->attested ? "the model holds no appraisal of the host"
                               : "the newest appraisal is recent enough"));
  bool allow = json_is_true(json_object_get(v, "allow"));
  uint64_t index = 0;
  int rc = record_decision(ctl, actor, action, subject, t->li_declared, v,
                           allow ? CTL_OUTCOME_OK : CTL_OUTCOME_DENIED, NULL, &index, err);
  if (rc) {
    json_decref(v);
    return rc;
  }
  json_object_set_new(v, "audit_index", json_integer((json_int_t)index));
  redact(v, actor, true);
  *out = v;
  return 0;
}

/* A move of vm to hypervisor hyp on host that lisec allowed: remembered
 * (store kind model.moving, and st->moving) in place of the one before,
 * until host's attested inventory shows the VM (arrived); pod: the pod
 * whose node it is, shown in migrating_to (NULL: a migration decision).
 * Called with the lock held. */
static void moving_remember(lisec_ctl *ctl, const char *vm, const char *hyp, const char *host,
                            const char *pod) {
  json_t *mvdoc = json_pack("{s:s, s:s}", "hypervisor", hyp, "host", host);
  if (mvdoc && pod) json_object_set_new(mvdoc, "pod", json_string(pod));
  char *text = mvdoc ? lisec_json_dump_canonical(mvdoc) : NULL;
  lisec_err serr = {0};
  if (text && store_doc_put(ctl->store, MOVING_KIND, vm, text, -1, NULL, &serr))
    LOG_WARN("vm %s: the allowed migration to %s is not stored (kept until restart): %s", vm, host,
             serr.msg);
  free(text);
  if (mvdoc) json_object_set_new(state(ctl)->moving, vm, mvdoc);
}

int ctl_model_decide_migration(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                               json_t **out, lisec_err *err) {
  static const char *const keys[] = {"vm", "hypervisor", "host", NULL};
  struct ctl_model_state *st = state(ctl);
  const char *vm = NULL, *hyp_name = NULL, *host_name = NULL;
  int rc = lisec_json_only_keys(body, keys, err);
  if (rc || (rc = lisec_json_get_str(body, "vm", true, MODEL_ID_MAX, &vm, err)) ||
      (rc = lisec_json_get_str(body, "hypervisor", false, MODEL_ID_MAX, &hyp_name, err)) ||
      (rc = lisec_json_get_str(body, "host", false, MODEL_ID_MAX, &host_name, err)))
    return rc;
  if (!hyp_name == !host_name)
    return lisec_err_set(err, LISEC_EINVAL, "hypervisor: give the target as exactly one of "
                                            "\"hypervisor\" or \"host\"");
  const char *field = hyp_name ? "hypervisor" : "host";
  target_info t = {0};
  expire_overdue(ctl);
  lock_fresh(ctl, st);
  const json_t *vdoc = json_object_get(st->docs[K_VM], vm);
  t.li_declared = vm_declared_li(st, vm);
  bool li_vm = t.li_declared || json_object_get(st->li_vms, vm) != NULL;
  if (!vdoc)
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "vm: unknown VM \"%s\"", vm);
  else
    rc = resolve(st, hyp_name ? hyp_name : host_name, field, li_vm, &t, err);
  mu_unlock(st);
  if (rc) return rc;
  bool refreshed = false, pending = false;
  json_t *stale = freshness(ctl, &t, MODEL_R11, &refreshed, &pending);
  if (pending) return 0; /* answered when the fresh quote arrives (ctl/attest.h) */
  model_verdict mv = {0};
  json_t *v = NULL;
  lock_fresh(ctl, st);
  sync_time(st);
  /* The target is resolved again: it may have gone while attestation ran. */
  rc = model_resolve_target(st->m, hyp_name ? hyp_name : host_name, &t.hyp, err);
  if (!rc) rc = model_decide_move(st->m, vm, t.hyp, &mv, err);
  if (!rc && !(v = verdict_json(&mv))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) mark_li_vm_rows(v, vm);
  char hyp_copy[MODEL_ID_MAX + 1];
  if (!rc) {
    snprintf(hyp_copy, sizeof hyp_copy, "%s", t.hyp);
    /* The model decided from where the VM's host proved it runs, when one
     * did (issue 15); the reply says which. */
    model_vm_observation ob;
    bool observed = model_vm_observed(st->m, vm, &ob) && ob.host;
    json_object_set_new(v, "placement_source", json_string(observed ? "observed" : "declared"));
    if (observed) json_object_set_new(v, "observed", observed_json(st, vm));
    /* An allowed migration moves nothing: the destination's attested
     * inventory does (ctl_model_observe). */
    if (mv.allow) moving_remember(ctl, vm, t.hyp, t.host, NULL);
  }
  mu_unlock(st);
  model_verdict_free(&mv);
  if (rc) {
    json_decref(stale);
    return rc;
  }
  t.hyp = hyp_copy;
  json_object_set_new(v, "vm", json_string(vm));
  char subject[2 * MODEL_ID_MAX + 32];
  snprintf(subject, sizeof subject, "vm %s -> hypervisor %s", vm, hyp_copy);
  return finish(ctl, actor, "decision.migration", subject, v, &t, stale, refreshed, out, err);
}

int ctl_model_decide_placement(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                               json_t **out, lisec_err *err) {
  static const char *const keys[] = {"id", "hypervisor", "host", "sensitivity", "domain", "paired", "package", NULL};
  struct ctl_model_state *st = state(ctl);
  const char *id = NULL, *hyp_name = NULL, *host_name = NULL, *sens = NULL, *domain = NULL,
             *package = NULL;
  bool paired = false;
  int rc = lisec_json_only_keys(body, keys, err);
  if (rc || (rc = lisec_json_get_str(body, "id", true, MODEL_ID_MAX, &id, err)) ||
      (rc = lisec_json_get_str(body, "package", false, MODEL_ID_MAX, &package, err)) ||
      (package && (rc = lisec_id_check("package", package, strlen(package), err))) ||
      (rc = lisec_json_get_str(body, "hypervisor", false, MODEL_ID_MAX, &hyp_name, err)) ||
      (rc = lisec_json_get_str(body, "host", false, MODEL_ID_MAX, &host_name, err)) ||
      (rc = lisec_json_get_str(body, "sensitivity", true, 32, &sens, err)) ||
      (rc = lisec_json_get_str(body, "domain", true, MODEL_ID_MAX, &domain, err)) ||
      (json_object_get(body, "paired") && (rc = lisec_json_get_bool(body, "paired", true, &paired, err))))
    return rc;
  model_vm_spec spec = {.id = id, .domain = domain, .paired = paired};
  if (model_class_parse(sens, &spec.sensitivity))
    return lisec_err_set(err, LISEC_EINVAL, "sensitivity: must be \"general\", \"sensitive\" or \"li\"");
  if (!hyp_name == !host_name)
    return lisec_err_set(err, LISEC_EINVAL, "hypervisor: give the target as exactly one of "
                                            "\"hypervisor\" or \"host\"");
  const char *name = hyp_name ? hyp_name : host_name;
  target_info t = {0};
  expire_overdue(ctl);
  lock_fresh(ctl, st);
  bool li_vm = spec.sensitivity == MODEL_CLASS_LI || json_object_get(st->li_vms, id) != NULL;
  t.li_declared = spec.sensitivity == MODEL_CLASS_LI || vm_declared_li(st, id);
  rc = resolve(st, name, hyp_name ? "hypervisor" : "host", li_vm, &t, err);
  /* The package the VM is instantiated from: the request's, else its document's. */
  char pkg_id[MODEL_ID_MAX + 1] = "";
  const char *doc_pkg = json_string_value(json_object_get(json_object_get(st->docs[K_VM], id), "package"));
  snprintf(pkg_id, sizeof pkg_id, "%s", package ? package : doc_pkg ? doc_pkg : "");
  mu_unlock(st);
  if (rc) return rc;
  bool refreshed = false, pending = false;
  json_t *stale = freshness(ctl, &t, MODEL_RULE_COUNT, &refreshed, &pending);
  if (pending) return 0; /* answered when the fresh quote arrives (ctl/attest.h) */
  model_verdict mv = {0};
  json_t *v = NULL;
  char hyp_copy[MODEL_ID_MAX + 1] = "";
  lock_fresh(ctl, st);
  sync_time(st);
  rc = model_resolve_target(st->m, name, &t.hyp, err);
  if (!rc) {
    snprintf(hyp_copy, sizeof hyp_copy, "%s", t.hyp);
    spec.hypervisor = hyp_copy;
    rc = model_decide_place(st->m, &spec, &mv, err);
  }
  if (!rc && !(v = verdict_json(&mv))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) mark_li_vm_rows(v, spec.id);
  mu_unlock(st);
  model_verdict_free(&mv);
  if (rc) {
    json_decref(stale);
    return rc;
  }
  t.hyp = hyp_copy;
  if (pkg_id[0]) { /* a retired version or a revoked signer is not instantiated (ctl/pkg.c) */
    char req[64] = "NFV-SEC025-instantiation";
    lisec_err perr = {0};
    int prc = st->instantiable ? st->instantiable(ctl, pkg_id, req, &perr)
                               : lisec_err_set(&perr, LISEC_EDENIED, "no package topic to ask "
                                               "whether package %s may be instantiated", pkg_id);
    if (prc) {
      char subject[MODEL_ID_MAX + 16];
      snprintf(subject, sizeof subject, "package %s", pkg_id);
      json_array_append_new(json_object_get(v, "violations"),
                            json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", req, "clauses",
                                      "NFV-SEC 025 instantiation; TR 103 308 §4.1", "subject",
                                      subject, "sentence", perr.msg, "fact", "instantiable(package): false"));
      json_object_set_new(v, "allow", json_false());
    }
    json_object_set_new(v, "package", json_string(pkg_id));
  }
  json_object_set_new(v, "vm", json_string(id));
  json_object_set_new(v, "placement_source", json_string("declared"));
  char subject[2 * MODEL_ID_MAX + 32];
  snprintf(subject, sizeof subject, "vm %s on hypervisor %s", id, hyp_copy);
  return finish(ctl, actor, "decision.placement", subject, v, &t, stale, refreshed, out, err);
}

/* ---- a hypervisor moving to other hardware ------------------------------------- */

/* A hypervisor whose document names another host moves every VM it runs
 * there. The model holds a hypervisor on exactly one host, so the move is
 * made of its own steps, under the lock and invisible to anyone: the VMs
 * wait on a scratch hypervisor on the old host, the hypervisor is put on
 * the new host and the VMs return to it. The move is then judged like a
 * placement of each of those VMs on the new host: that host must be
 * trusted now (with a fresh appraisal, whatever the VMs: freshness)
 * and no rule that held before may fail after it (jurisdictions,
 * protection levels, connection paths: the compliance report before and
 * after), nor may an obligation naming one of those VMs refuse it there
 * (TR103308-5.8-RD-R11, as a placement's decision: rd_after_move). A
 * denied move is undone and refused (409) naming each failed requirement,
 * redacted for the caller as a decision is (redact); either way it is
 * recorded, a refusal as a decision is (record_decision). */

/* The VMs whose declared hypervisor is hyp, in an array the caller frees
 * (strings borrowed from the documents); *li when an LI involves one. */
static const char **vms_of(struct ctl_model_state *st, const char *hyp, size_t *n, bool *li) {
  const char *id;
  json_t *doc;
  size_t cap = json_object_size(st->docs[K_VM]);
  const char **out = calloc(cap ? cap : 1, sizeof *out);
  *n = 0;
  *li = false;
  if (!out) return NULL;
  json_object_foreach(st->docs[K_VM], id, doc) {
    const char *h = json_string_value(json_object_get(doc, "hypervisor"));
    if (!h || strcmp(h, hyp) != 0) continue;
    if (json_object_get(st->li_vms, id) || vm_declared_li(st, id)) *li = true;
    out[(*n)++] = id;
  }
  return out;
}

/* Puts hypervisor hyp with its n VMs from host `from` on host `to`. Every
 * step is one the model takes back; on a failure the steps done are undone
 * and err says which failed. Called with the lock held. */
static int relocate(struct ctl_model_state *st, const char *hyp, const char *from, const char *to,
                    const char *const *vms, size_t n, lisec_err *err) {
  char scratch[MODEL_ID_MAX + 1];
  unsigned k = 0;
  const char *ignore;
  do snprintf(scratch, sizeof scratch, "lisec.moving.%u", k++);
  while (model_resolve_target(st->m, scratch, &ignore, NULL) != LISEC_ENOTFOUND && k < 1000);
  size_t moved = 0;
  int rc = model_hypervisor_put(st->m, scratch, from, err);
  if (rc) return rc;
  for (; moved < n && !rc; moved++) rc = model_vm_move(st->m, vms[moved], scratch, err);
  if (rc) moved--;
  if (!rc) rc = model_hypervisor_remove(st->m, hyp, err);
  if (!rc && (rc = model_hypervisor_put(st->m, hyp, to, err))) {
    /* the new host refused it: back on the old one */
    (void)model_hypervisor_put(st->m, hyp, from, NULL);
  }
  /* Wherever the hypervisor now stands, its VMs go back to it. */
  for (size_t i = 0; i < moved; i++) (void)model_vm_move(st->m, vms[i], hyp, NULL);
  (void)model_hypervisor_remove(st->m, scratch, NULL);
  return rc;
}

static const char *str_or_empty(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* The violations of after that before does not have, as reasons. */
static json_t *new_violations(const json_t *before, const json_t *after) {
  json_t *seen = json_object(), *out = json_array();
  size_t i;
  json_t *r;
  char key[3 * LISEC_ERR_MSG_MAX];
  json_array_foreach(json_object_get(before, "violations"), i, r) {
    snprintf(key, sizeof key, "%s|%s|%s", str_or_empty(r, "requirement"), str_or_empty(r, "subject"),
             str_or_empty(r, "sentence"));
    json_object_set_new(seen, key, json_true());
  }
  json_array_foreach(json_object_get(after, "violations"), i, r) {
    snprintf(key, sizeof key, "%s|%s|%s", str_or_empty(r, "requirement"), str_or_empty(r, "subject"),
             str_or_empty(r, "sentence"));
    if (!json_object_get(seen, key)) json_array_append(out, r);
  }
  json_decref(seen);
  return out;
}

static json_t *compliance_json(struct ctl_model_state *st) {
  model_verdict v = {0};
  if (model_compliance(st->m, &v)) return NULL;
  json_t *j = verdict_json(&v); /* its trust rows marked (hyp_move) */
  model_verdict_free(&v);
  return j;
}

/* Retained Data for a hypervisor's move (docs/rd.md): each of its n VMs,
 * now on the new host, judged against the obligations as a placement or
 * migration decision judges it (the model's move decision, its RD rows
 * alone: TR103308-5.8-RD-R11 for a host outside an obligation's
 * jurisdiction, and RD-R11 for a host that is not trusted, which the model
 * marks as a trust row: trust_row), appended to found. The LI and platform
 * rules come from the compliance reports before and after; RD's compliance
 * rows (RD-R1..R9) are not compared, RD-R11 being the rule for a VM put on
 * other hardware. An RD-R11 row names the new host, so none was there
 * before: each is new. Nothing to judge without obligations. Called with
 * the lock held, the move applied. */
static int rd_after_move(struct ctl_model_state *st, const char *hyp, const char *const *vms,
                         size_t n, json_t *found, lisec_err *err) {
  if (!model_rd_count(st->m)) return 0;
  for (size_t k = 0; k < n; k++) {
    model_verdict mv = {0};
    int rc = model_decide_move(st->m, vms[k], hyp, &mv, err);
    json_t *v = rc ? NULL : verdict_json(&mv);
    model_verdict_free(&mv);
    /* no VM named: this could be one an LI involves */
    if (rc) return lisec_err_wrap(err, "judging the move against the retention obligations");
    if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(v, "violations"), i, r)
      if (rule_about_rd(json_string_value(json_object_get(r, "requirement"))))
        json_array_append(found, r);
    json_decref(v);
  }
  return 0;
}

/* The reasons as the refusal's message: each requirement, subject and
 * sentence (already redacted for the actor). */
static void move_refusal(const char *hyp, const char *to, const json_t *violations, lisec_err *err) {
  char msg[LISEC_ERR_MSG_MAX];
  size_t i, used;
  json_t *r;
  const char *first = json_string_value(json_object_get(json_array_get(violations, 0), "requirement"));
  used = (size_t)snprintf(msg, sizeof msg, "%s: hypervisor %s may not move to host %s, as a "
                          "placement of its VMs there would break:", first ? first : "TR103308-6.2",
                          hyp, to);
  json_array_foreach(violations, i, r) {
    if (used >= sizeof msg) break;
    used += (size_t)snprintf(msg + used, sizeof msg - used, "%s %s (%s): %s", i ? ";" : "",
                             str_or_empty(r, "requirement"), str_or_empty(r, "subject"),
                             str_or_empty(r, "sentence"));
  }
  lisec_err_set(err, LISEC_ECONFLICT, "%s", msg);
}

/* 1 when body does not move an existing hypervisor (the ordinary put goes
 * on), else the move's result (0, *out the entity with "move"). */
static int hyp_move(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t *doc,
                    const char *text, int64_t want, json_t **out, bool *created, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  const char *to = json_string_value(json_object_get(doc, "host"));
  char from[MODEL_ID_MAX + 1] = "", subject[3 * MODEL_ID_MAX + 48];
  const char *action = "model.hypervisor.move";
  target_info t = {.hyp = id};
  size_t n = 0;
  bool li = false;
  /* A document the model would refuse is no move: the ordinary put refuses
   * it with the model's reason (an unknown key, a host that is a list). */
  static const char *const keys[] = {"id", "host", NULL};
  lisec_err ignore = {0};
  if (!to || lisec_json_only_keys(doc, keys, &ignore)) return 1;
  lock_fresh(ctl, st);
  const json_t *old = json_object_get(st->docs[K_HYP], id);
  const char *old_host = json_string_value(json_object_get(old, "host"));
  bool move = old_host && to && strcmp(old_host, to) != 0;
  bool host_known = to && json_object_get(st->docs[K_HOST], to) != NULL;
  if (move) {
    snprintf(from, sizeof from, "%s", old_host);
    free(vms_of(st, id, &n, &li));
    const json_t *hdoc = json_object_get(st->docs[K_HOST], to);
    snprintf(t.host, sizeof t.host, "%s", to);
    t.declared = hdoc && declares_trust(hdoc) && !json_object_get(st->attested, to);
    t.fetch = n && !t.declared;
    t.need_fresh = t.fetch; /* for every hypervisor alike (target_info) */
    t.li_vm = li;
  }
  mu_unlock(st);
  if (!move) return 1;
  snprintf(subject, sizeof subject, "hypervisor %s: host %s -> %s", id, from, to);
  if (!host_known) {
    /* a host seen present is checked again by the model under the lock */
    lisec_err_set(err, LISEC_EINVAL, "host: unknown host \"%.*s\"", MODEL_ID_MAX, to);
    return ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, action, false, NULL, LISEC_EINVAL, NULL, err,
                     "%s", subject);
  }
  expire_overdue(ctl);
  bool refreshed = false, pending = false;
  json_t *stale = freshness(ctl, &t, MODEL_RULE_COUNT, &refreshed, &pending);
  if (pending) return 0; /* dispatched again when the fresh quote arrived */
  json_t *found = json_array(), *before = NULL, *after = NULL;
  bool applied = false;
  int rc = 0;
  lock_fresh(ctl, st);
  sync_time(st);
  old = json_object_get(st->docs[K_HYP], id);
  old_host = json_string_value(json_object_get(old, "host"));
  const char **vms = NULL;
  if (!old_host || strcmp(old_host, from) != 0) {
    rc = lisec_err_set(err, LISEC_ECONFLICT, "hypervisor %s changed while this move was judged; "
                       "ask again", id);
  } else if (want >= 0 && want != ver_of(st, K_HYP, id)) {
    rc = stale_client(K_HYP, id, want, ver_of(st, K_HYP, id), err);
  } else if (!(vms = vms_of(st, id, &n, &li)) || !found || !(before = compliance_json(st))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (!(rc = relocate(st, id, from, to, vms, n, err))) {
    applied = true;
    if (!(after = compliance_json(st))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (rc == LISEC_ENOTFOUND) {
    rc = err->code = LISEC_EINVAL; /* an unknown host named in the body */
  }
  /* whether a VM on it is declared an LI VM: only then (or for a failed LI
   * rule) is the move's record sealed (§4.1) */
  bool li_declared = model_hyp_declares_li(st->m, id);
  if (!rc) {
    /* Its VMs are placed on the new host: trusted hardware first (§6.2
     * moveVM pre h.executesOn.trusted), then every rule that newly fails. */
    const json_t *hdoc = json_object_get(st->docs[K_HOST], to);
    json_t *e = hdoc ? effective(st, K_HOST, hdoc) : NULL;
    const char *trust = json_string_value(json_object_get(e, "trust"));
    bool trusted = trust && strcmp(trust, "trusted") == 0 && json_object_get(e, "location");
    if (n && !trusted) {
      char sentence[LISEC_ERR_MSG_MAX], fact[160], subj[MODEL_ID_MAX + 8];
      snprintf(subj, sizeof subj, "host %s", to);
      snprintf(sentence, sizeof sentence,
               "hypervisor %s runs %zu VM%s, which may be placed only on trusted hardware; host %s "
               "is not trusted (%s%s)",
               id, n, n == 1 ? "" : "s", to, trust ? trust : "unknown",
               json_object_get(e, "location") ? "" : "; no location");
      snprintf(fact, sizeof fact, "h.executesOn.trusted: host %.64s: false", to);
      json_array_append_new(found, json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement",
                                             model_rule_id(MODEL_MOVE2), "clauses",
                                             model_rule_clauses(MODEL_MOVE2), "subject", subj,
                                             "sentence", sentence, "fact", fact));
    }
    json_decref(e);
    if (stale) json_array_extend(found, stale);
    json_t *fresh_viol = new_violations(before, after);
    json_array_extend(found, fresh_viol);
    json_decref(fresh_viol);
    /* and against the retention obligations naming any of them */
    rc = rd_after_move(st, id, vms, n, found, err);
  }
  bool deny = !rc && json_array_size(found) > 0;
  json_t *verdict = json_pack("{s:b, s:O}", "allow", !deny, "violations", found);
  if (verdict) mark_li_vm_rows(verdict, NULL); /* a move asks about no VM */
  bool sealed = decision_sealed(li_declared, verdict);
  if (!rc) {
    char *line = reasons_line(verdict, sealed, false);
    uint64_t index = 0;
    int64_t had = ver_of(st, K_HYP, id);
    /* an allowed move is recorded and stored in one transaction, compare-and-set */
    /* a refusal is recorded as a decision's (record_decision): sealed to
     * the RD administration when an RD rule refuses (RD-R11 for the host's
     * trust aside), to the LI administration as before */
    rc = deny ? record_decision(ctl, actor, action, subject, li_declared, verdict,
                                CTL_OUTCOME_DENIED, NULL, &index, err)
              : commit_doc(ctl, actor, action, sealed, line && *line ? line : NULL, subject, K_HYP,
                           id, text, &index, err);
    free(line);
    if (!rc && deny) {
      redact(verdict, actor, true);
      move_refusal(id, to, json_object_get(verdict, "violations"), err);
      rc = LISEC_ECONFLICT;
    } else if (rc == LISEC_ECONFLICT) {
      /* the VMs go back before the stale model is replaced */
      lisec_err uerr = {0};
      if (relocate(st, id, to, from, vms, n, &uerr))
        LOG_ERROR("model: undoing the move of hypervisor %s to %s failed: %s", id, to, uerr.msg);
      applied = false;
      rc = stale_store(ctl, K_HYP, id, had, err);
    } else if (!rc) {
      /* The stored document is the model's from here on. */
      json_object_set(st->docs[K_HYP], id, doc);
      *created = false;
      *out = view(st, K_HYP, doc);
      if (*out)
        json_object_set_new(*out, "move",
                            json_pack("{s:s, s:s, s:I, s:I, s:b}", "from", from, "to", to, "vms",
                                      (json_int_t)n, "audit_index", (json_int_t)index,
                                      "fresh_quote", refreshed));
      applied = false; /* kept */
    }
  } else {
    (void)ctl_audit(ctl, actor, rc == LISEC_EDENIED ? CTL_OUTCOME_DENIED : CTL_OUTCOME_REFUSED,
                    action, sealed, NULL, rc, NULL, err, "%s", subject);
  }
  if (applied) {
    lisec_err uerr = {0};
    if (relocate(st, id, to, from, vms, n, &uerr))
      LOG_ERROR("model: undoing the move of hypervisor %s to %s failed: %s", id, to, uerr.msg);
  }
  mu_unlock(st);
  free(vms);
  json_decref(verdict);
  json_decref(found);
  json_decref(before);
  json_decref(after);
  json_decref(stale);
  if (!rc && !*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  return rc;
}

/* The compliance report, unrecorded: ctl_model_compliance records each
 * request's read; the ADMF (ctl/tasks.c) reads it every pass and records
 * its reading once per [x1] compliance_record_s, changed or not. */
/* The VM a finding of another topic is about, by its subject ("vm <id>",
 * "li-vm <id>": ctl/pkg.c, ctl/li.c; the whole of it, not a search of its
 * words), under LI_VMS_KEY when that VM is declared "li", for the rows
 * from index from on. Called with the lock held. */
static void mark_finding_rows(struct ctl_model_state *st, json_t *viol, size_t from) {
  for (size_t i = from; i < json_array_size(viol); i++) {
    json_t *r = json_array_get(viol, i);
    const char *subj = json_string_value(json_object_get(r, "subject")), *vm = NULL;
    if (subj && strncmp(subj, "vm ", 3) == 0) vm = subj + 3;
    else if (subj && strncmp(subj, "li-vm ", 6) == 0) vm = subj + 6;
    if (vm && vm_declared_li(st, vm))
      json_object_set_new(r, LI_VMS_KEY, json_pack("[s]", vm));
  }
}

/* The compliance report, each row naming a VM declared "li" marked
 * (LI_VMS_KEY). */
static int compliance_marked(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  struct ctl_model_state *st = state(ctl);
  model_verdict mv = {0};
  size_t counts[MODEL_RULE_COUNT];
  expire_overdue(ctl);
  lock_fresh(ctl, st);
  sync_time(st);
  int rc = model_compliance(st->m, &mv);
  model_count_by_rule(st->m, counts);
  /* What hosts proved against intent (issue 15), judged at this moment. */
  size_t n_rules = mv.n;
  if (!rc) rc = model_observe_reconcile(st->m, st->obs_window_s, &mv);
  /* Retention obligations (issue 20), judged at this moment. */
  if (!rc) rc = model_rd_compliance(st->m, &mv);
  if (!rc) mv.allow = mv.n == 0;
  char when[32];
  lisec_time_format(model_time(st->m), when);
  mu_unlock(st);
  json_t *v = rc ? NULL : model_verdict_json(&mv);
  for (size_t i = 0; v && i < mv.n; i++)
    if (li_vms_json(&mv.reasons[i], json_array_get(json_object_get(v, "violations"), i))) {
      json_decref(v);
      v = NULL;
    }
  model_verdict_free(&mv);
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  json_t *byrule = json_object();
  for (int r = 0; r < MODEL_RULE_COUNT; r++)
    if (counts[r]) json_object_set_new(byrule, model_rule_id((model_rule)r), json_integer((json_int_t)counts[r]));
  {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(v, "violations"), i, r) {
      if (i < n_rules) continue;
      const char *req = json_string_value(json_object_get(r, "requirement"));
      json_object_set_new(byrule, req, json_integer(json_integer_value(json_object_get(byrule, req)) + 1));
    }
  }
  /* VMs running an image that is not their package's (ctl/pkg.c), and
   * paired LI VMs observed not running (the LI lock, ctl/li.c), through
   * the hooks those topics registered. */
  json_t *viol = json_object_get(v, "violations");
  for (int src = 0; src < CTL_MODEL_FINDINGS_COUNT; src++) {
    if (!st->findings[src].fn) continue;
    const char *req = st->findings[src].rule;
    size_t before = json_array_size(viol);
    rc = st->findings[src].fn(ctl, viol, err);
    if (rc) {
      json_decref(v);
      json_decref(byrule);
      return rc;
    }
    mu_lock(st);
    mark_finding_rows(st, viol, before);
    mu_unlock(st);
    if (json_array_size(viol) > before) {
      json_object_set_new(byrule, req,
                          json_integer(json_integer_value(json_object_get(byrule, req)) +
                                       (json_int_t)(json_array_size(viol) - before)));
      json_object_set_new(v, "allow", json_false());
    }
  }
  json_object_set_new(v, "compliant", json_boolean(json_is_true(json_object_get(v, "allow"))));
  json_object_del(v, "allow");
  json_object_set_new(v, "counts", byrule);
  json_object_set_new(v, "time", json_string(when));
  *out = v;
  return 0;
}

int ctl_model_compliance_read(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  int rc = compliance_marked(ctl, out, err);
  if (!rc) drop_li_vms_key(*out);
  return rc;
}

int ctl_model_compliance(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  json_t *v = NULL;
  int rc = compliance_marked(ctl, &v, err);
  if (rc) return rc;
  bool li_admin = ctl_actor_role(actor) == CTL_ROLE_LI_ADMIN;
  /* before the record too: its count is read by whom the record is for */
  if (ctl_actor_role(actor) != CTL_ROLE_RD_ADMIN)
    ctl_model_compliance_hide_rd(v);
  if (!li_admin)
    ctl_model_compliance_hide_li(v);
  if (!reads_li_vm_rows(actor))
    hide_li_vm_rows(v);
  uint64_t index = 0;
  char reason[64];
  /* a record not sealed to the LI administration counts no row naming an
   * LI VM (li_vm_rows_in), though the operator's report holds them */
  size_t counted = json_array_size(json_object_get(v, "violations"));
  if (!li_admin) counted -= li_vm_rows_in(v);
  snprintf(reason, sizeof reason, "%zu violations", counted);
  /* The LI administration reads LI details: that read is itself an LI
   * event; the RD administration's read is an RD one (issue 20). */
  if ((rc = ctl_actor_role(actor) == CTL_ROLE_RD_ADMIN
                ? ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, "compliance.read", reason, 0, &index, err,
                               "%s", "platform")
                : ctl_audit(ctl, actor, CTL_OUTCOME_OK, "compliance.read", li_admin, reason, 0,
                            &index, err, "%s", "platform"))) {
    json_decref(v);
    return rc;
  }
  json_object_set_new(v, "audit_index", json_integer((json_int_t)index));
  redact(v, actor, false);
  /* For every role but li-admin the report is always a redacted view (the
   * LI rows are left out), whatever the LI's state: "redacted" says so and
   * never moves (a row of another rule may still be withheld in place). */
  if (!li_admin) json_object_set_new(v, "redacted", json_true());
  *out = v;
  return 0;
}

/* ---- the Kubernetes scheduler extender ------------------------------------------ */

/* The node names of ExtenderArgs: Nodes.items[].metadata.name, or
 * NodeNames; a name listed again is the same node, judged and answered
 * once. *items (Nodes given) holds the first item of each name. */
static void k8s_add(json_t *names, json_t *seen, json_t *items, json_t *name, json_t *item) {
  const char *s = json_string_value(name);
  if (json_object_get(seen, s)) return;
  json_object_set_new(seen, s, json_true());
  json_array_append(names, name);
  if (items) json_array_append(items, item);
}

static int k8s_nodes(const json_t *args, json_t **names, json_t **kept_items, bool *use_names,
                     lisec_err *err) {
  const json_t *nodes = json_object_get(args, "Nodes");
  const json_t *nn = json_object_get(args, "NodeNames");
  json_t *seen = json_object();
  *names = json_array();
  *kept_items = json_array();
  int rc = 0;
  if (!*names || !seen || !*kept_items) {
    json_decref(seen);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *use_names = nodes == NULL || json_is_null(nodes);
  if (*use_names) {
    if (!json_is_array(nn))
      rc = lisec_err_set(err, LISEC_EINVAL, "NodeNames: an array of node names, or Nodes, is required");
    else if (json_array_size(nn) > CTL_MODEL_K8S_NODES_MAX)
      rc = lisec_err_set(err, LISEC_EINVAL, "NodeNames: more than %d nodes", CTL_MODEL_K8S_NODES_MAX);
    if (rc) {
      json_decref(seen);
      return rc;
    }
    size_t i;
    json_t *n;
    json_array_foreach(nn, i, n) {
      if (!json_is_string(n) || json_string_length(n) > 253) {
        rc = lisec_err_set(err, LISEC_EINVAL, "NodeNames[%zu]: a node name of at most 253 bytes", i);
        break;
      }
      k8s_add(*names, seen, NULL, n, NULL);
    }
    json_decref(seen);
    return rc;
  }
  const json_t *items = json_object_get(nodes, "items");
  if (!json_is_object(nodes) || !json_is_array(items))
    rc = lisec_err_set(err, LISEC_EINVAL, "Nodes.items: a NodeList with an items array is required");
  else if (json_array_size(items) > CTL_MODEL_K8S_NODES_MAX)
    rc = lisec_err_set(err, LISEC_EINVAL, "Nodes.items: more than %d nodes", CTL_MODEL_K8S_NODES_MAX);
  if (rc) {
    json_decref(seen);
    return rc;
  }
  size_t i;
  json_t *n;
  json_array_foreach(items, i, n) {
    json_t *name = json_object_get(json_object_get(n, "metadata"), "name");
    if (!json_is_string(name) || json_string_length(name) > 253) {
      rc = lisec_err_set(err, LISEC_EINVAL, "Nodes.items[%zu].metadata.name: a node name of at most 253 bytes", i);
      break;
    }
    k8s_add(*names, seen, *kept_items, name, n);
  }
  json_decref(seen);
  return rc;
}

static int k8s_vm(const json_t *args, const char **vm, char *pod, size_t pod_len, lisec_err *err) {
  const json_t *p = json_object_get(args, "Pod");
  if (!json_is_object(p)) return lisec_err_set(err, LISEC_EINVAL, "Pod: an object is required");
  const json_t *md = json_object_get(p, "metadata");
  if (md && !json_is_object(md)) return lisec_err_set(err, LISEC_EINVAL, "Pod.metadata: must be an object");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  snprintf(pod, pod_len, "%.63s/%.253s", ns ? ns : "default", name ? name : "(unnamed)");
  const json_t *ann = json_object_get(md, "annotations");
  if (ann && !json_is_null(ann) && !json_is_object(ann))
    return lisec_err_set(err, LISEC_EINVAL, "Pod.metadata.annotations: must be an object");
  const json_t *v = json_object_get(ann, CTL_MODEL_K8S_ANNOTATION);
  *vm = NULL;
  if (!v) return 0;
  if (!json_is_string(v) || check_id(json_string_value(v), NULL))
    return lisec_err_set(err, LISEC_EINVAL,
                         "Pod.metadata.annotations[\"" CTL_MODEL_K8S_ANNOTATION "\"]: a lisec VM id");
  *vm = json_string_value(v);
  return 0;
}

static void k8s_fail(json_t *failed, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void k8s_fail(json_t *failed, const char *node, const char *fmt, ...) {
  char msg[LISEC_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_object_set_new(failed, node, json_string(msg));
}

/* A node the model cannot name is filtered out, never passed (fail closed). */
static void k8s_unknown(json_t *failed, const char *node, int rc, const lisec_err *e) {
  if (rc == LISEC_ENOTFOUND)
    k8s_fail(failed, node, "lisec: node %s is not a hypervisor, or a host with one hypervisor, in "
             "lisec's trust model: filtered out (fail closed)", node);
  else
    k8s_fail(failed, node, "lisec: node %.200s filtered out (fail closed): %s", node, e->msg);
}

/* Whether id (not empty) is one of the ", "-separated ids of list. */
static bool listed(const char *list, const char *id) {
  size_t n = strlen(id);
  for (const char *p = list; n && (p = strstr(p, id)) != NULL; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
      return true;
  return false;
}

/* One node for the annotated VM vm: allowed when moving (or keeping) it
 * there is allowed; MOVE1 alone (it is recorded there already) is no
 * objection to scheduling it there. *pending: its host's fresh attestation
 * was deferred (the node is judged when the request is dispatched again).
 * pod: the pod the node is set for (the webhook's, not the filter's, which
 * does not know the node bound; NULL: nothing is remembered): a move
 * allowed, not MOVE1, is remembered as a migration lisec allowed, decided
 * and remembered under one hold of the lock as a migration decision's.
 * Lock not held. */
static bool k8s_node_ok(lisec_ctl *ctl, const char *vm, bool li_vm, const char *node, const char *pod,
                        json_t *failed, json_t *why, bool *pending) {
  struct ctl_model_state *st = state(ctl);
  target_info t = {0};
  lisec_err e = {0};
  lock_fresh(ctl, st);
  int rc = check_id(node, &e) ? LISEC_EINVAL : resolve(st, node, "node", li_vm, &t, &e);
  mu_unlock(st);
  if (rc) {
    k8s_unknown(failed, node, rc, &e);
    return false;
  }
  bool refreshed = false, deferred = false;
  json_t *stale = freshness(ctl, &t, MODEL_R11, &refreshed, &deferred);
  if (deferred) {
    *pending = true;
    return false;
  }
  if (stale) {
    /* MOVE2, alike for every VM (freshness); the rest is for the record */
    const json_t *first = json_array_get(stale, 0);
    k8s_fail(failed, node, "lisec: %s: %s", json_string_value(json_object_get(first, "requirement")),
             json_string_value(json_object_get(first, "sentence")));
    json_array_extend(why, stale);
    json_decref(stale);
    return false;
  }
  model_verdict mv = {0};
  lock_fresh(ctl, st);
  sync_time(st);
  rc = model_resolve_target(st->m, node, &t.hyp, &e);
  if (!rc) rc = model_decide_move(st->m, vm, t.hyp, &mv, &e);
  /* the claim moves nothing: the destination's attested inventory will */
  if (!rc && pod && mv.allow) moving_remember(ctl, vm, t.hyp, t.host, pod);
  json_t *v = rc ? NULL : verdict_json(&mv);
  if (v) mark_li_vm_rows(v, vm);
  mu_unlock(st);
  model_verdict_free(&mv);
  if (rc || !v) {
    k8s_fail(failed, node, "lisec: %s", rc ? e.msg : "out of memory");
    return false;
  }
  size_t i, n = 0;
  json_t *r;
  char reqs[LISEC_ERR_MSG_MAX] = "";
  json_array_foreach(json_object_get(v, "violations"), i, r) {
    const char *req = json_string_value(json_object_get(r, "requirement"));
    model_rule rule;
    if (req && model_rule_parse(req, &rule) == 0 && rule == MODEL_MOVE1) continue;
    n++;
    json_array_append(why, r);
    /* the filter is mano's: R11 (RD-R11) refusing the node's trust is
     * li-admin's (rd-admin's) alone to read (trust_row), MOVE2 beside it
     * says so for every VM */
    if (trust_row(r)) continue;
    /* each requirement once: R11 once per LI monitoring the VM (RD-R11
     * per obligation naming it) would tell mano how many (collapse_withheld) */
    if (listed(reqs, req ? req : "?")) continue;
    size_t at = strlen(reqs);
    snprintf(reqs + at, sizeof reqs - at, "%s%s", at ? ", " : "", req ? req : "?");
  }
  json_decref(v);
  if (n) k8s_fail(failed, node, "lisec: denied by %s", reqs);
  return n == 0;
}

/* The filter's judgement of one node: kept (true), or failed[node] says
 * why. blocked: the reason every node fails on, when there is one (the
 * clock unproven, the VM running twice: k8s_duplicate). vm NULL: a pod
 * lisec is not asked about may go to any node lisec knows; an unknown node
 * is still filtered out (fail closed). pod: as k8s_node_ok's. Lock not
 * held. */
static bool k8s_judge(lisec_ctl *ctl, const char *vm, bool li_vm, const lisec_err *blocked,
                      const char *node, const char *pod, json_t *failed, json_t *why, bool *pending) {
  if (blocked) {
    k8s_fail(failed, node, "lisec: %s", blocked->msg);
    return false;
  }
  if (vm) return k8s_node_ok(ctl, vm, li_vm, node, pod, failed, why, pending);
  struct ctl_model_state *st = state(ctl);
  target_info t = {0};
  lisec_err e = {0};
  lock_fresh(ctl, st);
  bool ok = !check_id(node, &e) && !resolve(st, node, "node", false, &t, &e);
  mu_unlock(st);
  if (!ok) k8s_unknown(failed, node, e.code, &e);
  return ok;
}

/* Whether two or more hosts' attested inventories show vm running or
 * paused (TR103308-T.1.4-DUPLICATE, docs/observed.md). Then no host speaks
 * for it, and a pod that claims it is placed nowhere until one of them
 * stops it: two pods claiming one VM are what makes a second copy run, and
 * the hosts' evidence, not a claim the webhook would keep, says that it
 * does (docs/model.md, "Many pods, one VM"). *e: the reason; the
 * violation is appended to why. Lock not held. */
static bool k8s_duplicate(lisec_ctl *ctl, const char *vm, lisec_err *e, json_t *why) {
  struct ctl_model_state *st = state(ctl);
  model_vm_observation ob;
  lock_fresh(ctl, st);
  bool dup = model_vm_observed(st->m, vm, &ob) && ob.n_hosts > 1;
  mu_unlock(st);
  if (!dup) return false;
  lisec_err_set(e, LISEC_EDENIED,
                MODEL_REQ_DUPLICATE ": VM %s is shown running or paused by %zu hosts' attested inventories: "
                "no pod may claim it until one of them stops it",
                vm, ob.n_hosts);
  char subject[LISEC_ID_MAX + 8], fact[LISEC_ID_MAX + 64];
  snprintf(subject, sizeof subject, "vm %s", vm);
  snprintf(fact, sizeof fact, "hosts running vm %s = %zu <= 1: false", vm, ob.n_hosts);
  json_array_append_new(why, json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", MODEL_REQ_DUPLICATE, "clauses",
                                       "TR 103 308 T.1.4 (falsified host reporting)", "subject", subject,
                                       "sentence", e->msg + strlen(MODEL_REQ_DUPLICATE ": "), "fact", fact));
  return true;
}

/* Whether the pod's VM is in the model, and what an LI makes of it: *li_vm
 * (a fresh quote is required) and *li_declared (the record is sealed). */
static bool k8s_vm_known(lisec_ctl *ctl, const char *vm, bool *li_vm, bool *li_declared) {
  struct ctl_model_state *st = state(ctl);
  lock_fresh(ctl, st);
  bool known = json_object_get(st->docs[K_VM], vm) != NULL;
  *li_declared = vm_declared_li(st, vm);
  *li_vm = *li_declared || json_object_get(st->li_vms, vm);
  mu_unlock(st);
  return known;
}

int ctl_model_k8s_filter(lisec_ctl *ctl, const ctl_actor *actor, const json_t *args, json_t **out,
                         lisec_err *err) {
  json_t *names = NULL, *items = NULL;
  bool use_names = false, pending = false;
  const char *vm = NULL;
  char pod[320];
  int rc = json_is_object(args) ? 0 : lisec_err_set(err, LISEC_EINVAL, "ExtenderArgs: must be a JSON object");
  if (!rc) rc = k8s_vm(args, &vm, pod, sizeof pod, err);
  if (!rc) rc = k8s_nodes(args, &names, &items, &use_names, err);
  expire_overdue(ctl);
  bool li_vm = false, li_declared = false;
  if (!rc && vm && !k8s_vm_known(ctl, vm, &li_vm, &li_declared))
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "Pod.metadata.annotations[\"" CTL_MODEL_K8S_ANNOTATION "\"]: unknown VM \"%s\"", vm);
  if (rc) {
    json_decref(names);
    json_decref(items);
    return rc;
  }
  json_t *failed = json_object(), *kept = json_array(), *why = json_array();
  /* A placement is judged by a proven clock only, as every decision is
   * (finish): without one each node is filtered out naming the clock; so
   * it is, naming the hosts' evidence, while two hosts run the VM. */
  lisec_err te = {0};
  bool blocked = vm && clock_unproven(ctl, &te);
  if (blocked) json_array_append_new(why, clock_violation(&te));
  else blocked = vm && k8s_duplicate(ctl, vm, &te, why);
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n) {
    if (k8s_judge(ctl, vm, li_vm, blocked ? &te : NULL, json_string_value(n), NULL, failed, why, &pending))
      json_array_append(kept, use_names ? n : json_array_get(items, i));
  }
  json_decref(names);
  json_decref(items);
  if (pending) { /* answered when the fresh quotes arrive (ctl/attest.h) */
    json_decref(failed);
    json_decref(kept);
    json_decref(why);
    return 0;
  }
  /* One record per filter call, before the answer. */
  char subject[400], reason[LISEC_ERR_MSG_MAX];
  snprintf(subject, sizeof subject, "pod %s vm %s", pod, vm ? vm : "(none)");
  snprintf(reason, sizeof reason, "%zu nodes kept, %zu filtered out", json_array_size(kept),
           json_object_size(failed));
  json_t *rv = json_pack("{s:o}", "violations", why);
  uint64_t index = 0;
  rc = record_decision(ctl, actor, "decision.k8s.filter", subject, li_declared, rv,
                       json_object_size(failed) ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK, reason, &index,
                       err);
  json_decref(rv);
  if (rc) {
    json_decref(failed);
    json_decref(kept);
    return rc;
  }
  if (use_names)
    *out = json_pack("{s:o, s:n, s:o, s:s}", "NodeNames", kept, "Nodes", "FailedNodes", failed, "Error", "");
  else
    *out = json_pack("{s:{s:o}, s:n, s:o, s:s}", "Nodes", "items", kept, "NodeNames", "FailedNodes",
                     failed, "Error", "");
  if (*out) json_object_set_new(*out, "AuditIndex", json_integer((json_int_t)index));
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* ---- the Kubernetes admission webhook --------------------------------------------- */

/* A refusal made before the model is asked (annotation, scheduler), as a
 * failed requirement for the record, and the answer's message. */
static void k8s_refuse(json_t *why, char *msg, size_t cap, const char *req, const char *subject,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void k8s_refuse(json_t *why, char *msg, size_t cap, const char *req, const char *subject,
                       const char *fmt, ...) {
  char sentence[LISEC_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sentence, sizeof sentence, fmt, ap);
  va_end(ap);
  snprintf(msg, cap, "%s: %s", req, sentence);
  json_array_append_new(why, json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", req, "clauses",
                                       "TR 103 308 §6.2, O.1.7", "subject", subject, "sentence", sentence,
                                       "fact", "admitted(pod): false"));
}

int ctl_model_k8s_admit(lisec_ctl *ctl, const ctl_actor *actor, const ctl_model_k8s_pod *p, json_t **out,
                        lisec_err *err) {
  const char *sched = ctl->shared->settings.k8s_scheduler_name;
  struct ctl_model_state *st = state(ctl);
  *out = NULL;
  /* A binding without lisec.io/vm places a pod: judged as its nodeName
   * would be, for the VM the pod named when this lisecd admitted it for
   * lisec's scheduler. Of a pod not remembered (admitted elsewhere or
   * before a restart, forgotten, another pod's uid) it is allowed and
   * unrecorded, as every such binding was: lisecd cannot tell its VM. */
  char bound[MODEL_ID_MAX + 1] = "";
  bool bind = p->binding && !p->vm;
  if (bind && !(p->node && p->named && ctl_k8s_pods_get(st->k8s_pods, p->pod, p->pod_uid, bound, sizeof bound))) {
    char unjudged[512];
    snprintf(unjudged, sizeof unjudged, "lisec.io/vm not in the binding: binding of pod %.330s allowed (no pod "
             "of that name and uid admitted by this lisecd for lisec's scheduler awaits one)", p->pod);
    *out = json_pack("{s:b, s:s, s:I}", "allowed", true, "message", unjudged, "audit_index", (json_int_t)-1);
    return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  const char *vm = bind ? bound : p->vm;
  bool li_vm = false, li_declared = false, pending = false;
  bool valid = vm && !check_id(vm, NULL);
  bool known = valid && k8s_vm_known(ctl, vm, &li_vm, &li_declared);
  bool old_valid = p->vm_changed && p->old_vm && !check_id(p->old_vm, NULL), old_li = false, old_declared = false;
  /* the record of a change from a VM declared li is sealed as one to it */
  if (old_valid) k8s_vm_known(ctl, p->old_vm, &old_li, &old_declared);
  li_declared = li_declared || old_declared;
  expire_overdue(ctl);
  json_t *why = json_array(), *failed = json_object();
  char msg[2 * LISEC_ERR_MSG_MAX] = "", subject[128];
  snprintf(subject, sizeof subject, "pod %.100s", p->pod);
  lisec_err te = {0};
  if (p->binding && !bind) {
    /* the scheduler binds a pod as the extender judged it: with its own
     * annotations, never with new ones */
    char now[LISEC_ID_MAX + 3];
    snprintf(now, sizeof now, "\"%s\"", valid ? p->vm : "");
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_VM, subject,
               "a binding of pod %s carries " CTL_MODEL_K8S_ANNOTATION " %s: the API server merges a binding's "
               "annotations into the pod's, after the scheduler asked lisec about the pod as it was",
               p->pod, valid ? now : "(a value that is no lisec id)");
  } else if (p->vm_changed) {
    /* an id is shown quoted; a value that is none is not shown */
    char was[LISEC_ID_MAX + 3], now[LISEC_ID_MAX + 3];
    snprintf(was, sizeof was, "\"%s\"", old_valid ? p->old_vm : "");
    snprintf(now, sizeof now, "\"%s\"", valid ? p->vm : "");
    if (!old_valid) snprintf(was, sizeof was, "%s", p->old_vm ? "a value that is no lisec id" : "none");
    if (!valid) snprintf(now, sizeof now, "%s", p->vm ? "a value that is no lisec id" : "none");
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_VM, subject,
               CTL_MODEL_K8S_ANNOTATION ": changed from %s to %s%s%.64s: the VM a pod is is fixed when it is "
               "created (the scheduler extender judges a pending pod by this annotation)",
               was, now, p->subresource ? " through pods/" : "", p->subresource ? p->subresource : "");
  } else if (!vm) {
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_VM, subject,
               "pod %s carries no " CTL_MODEL_K8S_ANNOTATION " annotation: a pod in a namespace lisec "
               "guards names the lisec VM it is",
               p->pod);
  } else if (!valid) {
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_VM, subject,
               CTL_MODEL_K8S_ANNOTATION ": not a lisec VM id (1-%d printable ASCII characters, no space, "
               "quote, backslash, '/', '?', '#' or '%%')",
               LISEC_ID_MAX);
  } else if (!known) {
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_VM, subject,
               CTL_MODEL_K8S_ANNOTATION ": unknown VM \"%s\": not in lisec's trust model", vm);
  } else if (clock_unproven(ctl, &te)) {
    /* every pod that names a VM alike, as the filter refuses every node */
    json_array_append_new(why, clock_violation(&te));
    snprintf(msg, sizeof msg, "%s", te.msg);
  } else if (k8s_duplicate(ctl, vm, &te, why)) {
    /* with a node or without (the filter would fail every node alike) */
    snprintf(msg, sizeof msg, "%s", te.msg);
  } else if (p->node) {
    /* the filter's own judgement of that one node, and its reason; an
     * allowed move to it is remembered, for the pod (not a dry run's) */
    if (!k8s_judge(ctl, vm, li_vm, NULL, p->node, p->dry_run ? NULL : p->pod, failed, why, &pending) &&
        !pending)
      snprintf(msg, sizeof msg, "%s: %s %.253s: %s", CTL_MODEL_REQ_K8S_NODE,
               bind ? "the binding's target node" : "spec.nodeName", p->node,
               json_string_value(json_object_get(failed, p->node)));
  } else if (strcmp(p->scheduler, sched) != 0) {
    k8s_refuse(why, msg, sizeof msg, CTL_MODEL_REQ_K8S_SCHEDULER, subject,
               "spec.schedulerName \"%.253s\" is not lisec's scheduler \"%s\" ([k8s] scheduler_name) and "
               "spec.nodeName is not set: the pod would be placed without lisec's filter",
               p->scheduler, sched);
  }
  json_decref(failed);
  if (pending) { /* answered when the fresh quotes arrive (ctl/attest.h) */
    json_decref(why);
    return 0;
  }
  char record_subject[1200], allowed[LISEC_ERR_MSG_MAX];
  char was[LISEC_ID_MAX + 16] = "", via[80] = "";
  if (p->vm_changed)
    snprintf(was, sizeof was, " (was %s)", old_valid ? p->old_vm : p->old_vm ? "(not an id)" : "(none)");
  if (p->binding) snprintf(via, sizeof via, " (binding)");
  else if (p->subresource) snprintf(via, sizeof via, " (pods/%.64s)", p->subresource);
  snprintf(record_subject, sizeof record_subject, "pod %s vm %s%s%s node %.253s scheduler %.253s%s", p->pod,
           valid ? vm : vm ? "(not an id)" : "(none)", was, via, p->node ? p->node : "(none)",
           p->scheduler ? p->scheduler : "(none)", p->dry_run ? " (dry run)" : "");
  if (p->node)
    snprintf(allowed, sizeof allowed, "lisec: VM %s may run on node %.253s", vm, p->node);
  else
    snprintf(allowed, sizeof allowed, "lisec: scheduler %s asks lisec where VM %s runs", sched, vm);
  json_t *rv = json_pack("{s:o}", "violations", why);
  uint64_t index = 0;
  int rc = record_decision(ctl, actor, "decision.k8s.admit", record_subject, li_declared, rv,
                           msg[0] ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK, msg[0] ? msg : allowed, &index, err);
  json_decref(rv);
  if (rc) return rc;
  /* A pod admitted for lisec's scheduler: which VM it is, for its binding
   * (a dry run's pod is never created, nor is one without a name yet) */
  if (!msg[0] && !p->binding && !p->vm_changed && !p->node && !p->dry_run && p->named &&
      !ctl_k8s_pods_put(st->k8s_pods, p->pod, p->pod_uid, vm))
    LOG_WARN("k8s: pod %s admitted, not remembered (out of memory): its binding will not be judged", p->pod);
  *out = json_pack("{s:b, s:s, s:I}", "allowed", !msg[0], "message", msg[0] ? msg : allowed, "audit_index",
                   (json_int_t)index);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
