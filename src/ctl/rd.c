/* Retained Data use cases (ctl/rd.h; issue 20). Retention obligations live
 * in the trust model (model/rd.c: the §6.2 rules for RD, decisions and
 * compliance) and as store documents (CTL_RD_OBLIGATION_KIND), loaded into
 * the model when the topic opens. Each RD store's data key of a retention
 * period is made in the keys process's [rd] token on its first request and
 * recorded as a document (CTL_RD_KEY_KIND) before it is made, so the
 * destruction timer, on its own thread with its own store handle, finds
 * every key that may exist: when a period's retention ends it records the
 * destruction (sealed to the RD administration) and destroys the key in the
 * token (C_DestroyObject through the keys process); the document then says
 * "destroyed" and a request for that period gets 410. [rd] max_live_keys
 * bounds the keys a store holds at once: an obligation whose stores would
 * need more (ctl_rd_keys_needed, summed over the obligations naming a
 * store) is not put or extended, and a new period's key is not made while
 * its store holds that many (its ended keys destroyed first, so the key of
 * a new period replaces them at the bound). Every record here is
 * sealed to the RD administration (ctl_audit_rd); replies and errors to
 * other roles name requirements, never an obligation. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/clock.h"
#include "ctl/hosts_end.h"
#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/rd.h"
#include "model/rd_command.h"
#include "model/rd_recipient.h"
#include "model/rd_register.h"

#define PERIOD_DIGITS_MAX 12

struct ctl_rd_state {
  EVP_PKEY *admin_key;   /* [rd] admin_pubkey: verifies rd-extend commands */
  int64_t check_ms;      /* [rd] check_ms: how often ended periods are looked for */
  int64_t max_live_keys; /* [rd] max_live_keys: live data keys per store */
  pthread_mutex_t mu;    /* serialises changes of obligations and keys */
  pthread_mutex_t tmu;
  pthread_cond_t tcv;
  bool stopping, started;
  pthread_t timer;
  lisec_ctl *timer_ctl;
};

/* The time retention periods are judged at, in seconds: the time the
 * clock was proven at (proven_ms, from ctl_clock_trusted_now), never a
 * second reading of the wall clock. A period's key is neither given nor
 * destroyed by a clock lisecd has not proven (one running ahead would hand
 * out keys early and shred data whose retention has not ended, which cannot
 * be undone). Test builds only: the file LISEC_TEST_RD_CLOCK names holds
 * how many seconds it runs ahead, so a test ends a retention without
 * waiting for it. */
static int64_t rd_now(int64_t proven_ms) {
  int64_t now = proven_ms / 1000;
#ifdef LISEC_TEST_HOOKS
  const char *f = getenv("LISEC_TEST_RD_CLOCK");
  FILE *fp = f ? fopen(f, "r") : NULL;
  long long ahead = 0;
  if (fp) {
    if (fscanf(fp, "%lld", &ahead) == 1 && ahead > 0 && ahead < (1LL << 32)) now += ahead;
    fclose(fp);
  }
#endif
  return now;
}

static const ctl_actor CONTROLLER = {.subject = "lisecd", .role = "controller", .kind = CTL_ROLE_CONTROLLER};

/* ---- documents ------------------------------------------------------------ */

/* An obligation's spec from its JSON form (the stored document or a
 * request already checked); the strings borrow from j, ids into arrays the
 * caller frees. */
typedef struct rd_parsed {
  model_rd_spec spec;
  const char **fn, **st;
} rd_parsed;

static void parsed_free(rd_parsed *p) {
  free(p->fn);
  free(p->st);
  memset(p, 0, sizeof *p);
}

static int id_list(const json_t *j, const char *key, const char ***out, size_t *n, lisec_err *err) {
  const json_t *a = json_object_get(j, key);
  *out = NULL;
  *n = 0;
  if (!a) return 0;
  if (!json_is_array(a)) return lisec_err_set(err, LISEC_EINVAL, "%s: an array of ids", key);
  size_t len = json_array_size(a);
  if (len > MODEL_RD_MEMBERS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "%s: at most %d ids", key, MODEL_RD_MEMBERS_MAX);
  const char **v = calloc(len ? len : 1, sizeof *v);
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < len; i++) {
    const json_t *e = json_array_get(a, i);
    if (!json_is_string(e) || json_string_length(e) > MODEL_ID_MAX) {
      free(v);
      return lisec_err_set(err, LISEC_EINVAL, "%s[%zu]: an id (%s)", key, i, LISEC_ID_RULE);
    }
    v[i] = json_string_value(e);
  }
  *out = v;
  *n = len;
  return 0;
}

/* seconds from key_s, or days from key_days (exactly one of the two). */
static int duration(const json_t *j, const char *key_s, const char *key_days, int64_t *out,
                    lisec_err *err) {
  bool s = json_object_get(j, key_s) != NULL, d = json_object_get(j, key_days) != NULL;
  if (s == d) return lisec_err_set(err, LISEC_EINVAL, "%s: give exactly one of %s and %s", key_s, key_s, key_days);
  int64_t v = 0;
  int rc = s ? lisec_json_get_int(j, key_s, true, 1, MODEL_RD_SECONDS_MAX, &v, err)
             : lisec_json_get_int(j, key_days, true, 1, MODEL_RD_SECONDS_MAX / 86400, &v, err);
  if (rc) return rc;
  *out = s ? v : v * 86400;
  return 0;
}

static int parse_obligation(const char *id, const json_t *j, bool request, int64_t now, rd_parsed *p,
                            lisec_err *err) {
  static const char *const req_keys[] = {"jurisdiction", "functions", "stores", "period_s", "period_days",
                                         "retention_s", "retention_days", "valid_from", NULL};
  memset(p, 0, sizeof *p);
  p->spec.id = id;
  int rc = request ? lisec_json_only_keys(j, req_keys, err) : 0;
  if (!rc) rc = lisec_json_get_str(j, "jurisdiction", true, MODEL_ID_MAX, &p->spec.jurisdiction, err);
  if (!rc) rc = id_list(j, "functions", &p->fn, &p->spec.n_functions, err);
  if (!rc) rc = id_list(j, "stores", &p->st, &p->spec.n_stores, err);
  if (!rc && request) rc = duration(j, "period_s", "period_days", &p->spec.period_s, err);
  if (!rc && request) rc = duration(j, "retention_s", "retention_days", &p->spec.retention_s, err);
  if (!rc && !request)
    rc = lisec_json_get_int(j, "period_s", true, 1, MODEL_RD_SECONDS_MAX, &p->spec.period_s, err);
  if (!rc && !request)
    rc = lisec_json_get_int(j, "retention_s", true, 1, MODEL_RD_SECONDS_MAX, &p->spec.retention_s, err);
  if (!rc) {
    const json_t *vf = json_object_get(j, "valid_from");
    p->spec.valid_from = now;
    if (json_is_string(vf)) {
      if (json_string_length(vf) > 40 || lisec_time_parse(json_string_value(vf), &p->spec.valid_from))
        rc = lisec_err_set(err, LISEC_EINVAL, "valid_from: an RFC 3339 time or seconds since the epoch");
    } else if (vf) {
      rc = lisec_json_get_int(j, "valid_from", true, 0, INT64_MAX / 4, &p->spec.valid_from, err);
    } else if (!request) {
      rc = lisec_err_set(err, LISEC_EINVAL, "valid_from: required");
    }
  }
  p->spec.functions = p->fn;
  p->spec.stores = p->st;
  if (rc) parsed_free(p);
  return rc;
}

static int doc_get(lisec_ctl *ctl, const char *kind, const char *id, json_t **out, lisec_err *err) {
  char *body = NULL;
  *out = NULL;
  int rc = store_doc_get(ctl->store, kind, id, &body, NULL, err);
  if (rc) return rc;
  rc = lisec_json_parse(body, strlen(body), out, err);
  free(body);
  return rc;
}

static int doc_put(lisec_ctl *ctl, const char *kind, const char *id, const json_t *doc, lisec_err *err) {
  char *text = lisec_json_dump_canonical(doc);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, kind, id, text, -1, NULL, err);
  free(text);
  return rc;
}

static void key_id(const char *store, uint64_t period, char out[MODEL_ID_MAX + 32]) {
  snprintf(out, MODEL_ID_MAX + 32, "%s:%llu", store, (unsigned long long)period);
}

/* ---- the bound on a store's live keys ---------------------------------------- */

int64_t ctl_rd_keys_needed(int64_t period_s, int64_t retention_s) {
  if (period_s <= 0 || retention_s < 0) return INT64_MAX;
  return 1 + retention_s / period_s + (retention_s % period_s != 0);
}

static bool names_store(const json_t *stores, const char *store) {
  size_t i;
  json_t *e;
  json_array_foreach(stores, i, e) if (json_is_string(e) && strcmp(json_string_value(e), store) == 0) return true;
  return false;
}

int ctl_rd_bound_check(const json_t *stored, const char *id, const char *const *stores, size_t n_stores,
                       int64_t period_s, int64_t retention_s, int64_t max_live_keys, lisec_err *err) {
  int64_t own = ctl_rd_keys_needed(period_s, retention_s);
  for (size_t i = 0; i < n_stores; i++) {
    int64_t need = own;
    const char *oid;
    json_t *o;
    json_object_foreach((json_t *)stored, oid, o) {
      if (need > max_live_keys) break;
      if ((id && strcmp(oid, id) == 0) || !names_store(json_object_get(o, "stores"), stores[i])) continue;
      int64_t n = ctl_rd_keys_needed(json_integer_value(json_object_get(o, "period_s")),
                                     json_integer_value(json_object_get(o, "retention_s")));
      need = n > INT64_MAX - need ? INT64_MAX : need + n;
    }
    if (need > max_live_keys)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           CTL_RD_REQ_BOUND ": RD store %s would keep up to %lld data keys live at once "
                           "(1 + retention_s / period_s, rounded up, summed over the obligations naming it), "
                           "over [rd] max_live_keys (%lld); a longer period_s needs fewer",
                           stores[i], (long long)need, (long long)max_live_keys);
  }
  return 0;
}

static int list_one(void *ctx, const char *id, const char *body, int64_t version);

/* ctl_rd_bound_check against the stored obligations (st->mu held: they
 * are the model's). */
static int bound_check(lisec_ctl *ctl, const model_rd_spec *s, lisec_err *err) {
  json_t *stored = json_object();
  int rc = stored ? store_doc_list(ctl->store, CTL_RD_OBLIGATION_KIND, list_one, stored, err)
                  : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc)
    rc = ctl_rd_bound_check(stored, s->id, s->stores, s->n_stores, s->period_s, s->retention_s,
                            ctl->shared->rd->max_live_keys, err);
  json_decref(stored);
  return rc;
}

/* ---- roles ---------------------------------------------------------------- */

/* Obligations are the RD administration's alone; another role's attempt
 * is refused and recorded (sealed: the path names an obligation). */
static int need_rd_admin(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *subject,
                         lisec_err *err) {
  return ctl_rd_need_admin(ctl, actor, action, subject, err);
}

EVP_PKEY *ctl_rd_admin_key(const ctl_shared *sh) { return sh->rd ? sh->rd->admin_key : NULL; }

int ctl_rd_need_admin(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *subject,
                      lisec_err *err) {
  if (ctl_actor_role(actor) == CTL_ROLE_RD_ADMIN) return 0;
  int rc = lisec_err_set(err, LISEC_EAUTH,
                         CTL_RD_REQ_ROLE ": role %.64s may not %s retention obligations, their keys or RD VMs' keys; "
                         "admitted roles: rd-admin",
                         actor && actor->role ? actor->role : "(none)", action);
  return ctl_audit_rd(ctl, actor, CTL_OUTCOME_DENIED, action, NULL, rc, NULL, err, "%s", subject);
}

/* ---- obligations ------------------------------------------------------------ */

static json_t *obligation_view(model *m, const char *id, uint64_t last_counter) {
  json_t *j = model_rd_json(m, id);
  if (j) json_object_set_new(j, "last_counter", json_integer((json_int_t)last_counter));
  return j;
}

/* The counter of an obligation id outlives the obligation (a document of
 * its own, written when the obligation is deleted): a command signed for
 * an id before its obligation was deleted, and not yet expired, is a
 * replay against a new obligation of that id. */
#define COUNTER_KIND "rd.counter"

static uint64_t doc_counter(lisec_ctl *ctl, const char *kind, const char *id) {
  json_t *d = NULL;
  lisec_err ignore = {0};
  if (doc_get(ctl, kind, id, &d, &ignore)) return 0;
  json_int_t c = json_integer_value(json_object_get(d, "last_counter"));
  json_decref(d);
  return c > 0 ? (uint64_t)c : 0;
}

static uint64_t stored_counter(lisec_ctl *ctl, const char *id) {
  uint64_t a = doc_counter(ctl, CTL_RD_OBLIGATION_KIND, id), b = doc_counter(ctl, COUNTER_KIND, id);
  return a > b ? a : b;
}

/* Puts spec into the model and the store, recording the act first; the
 * model is put back as it was (old, or nothing) when the store refuses. */
static int commit(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const model_rd_spec *spec,
                  uint64_t counter, const char *why, json_t **out, lisec_err *err) {
  model *m = ctl_model_lock(ctl->shared);
  if (!m) return lisec_err_set(err, LISEC_EUNAVAIL, "the trust model is not open");
  json_t *old = model_rd_json(m, spec->id);
  int rc = model_rd_put(m, spec, err);
  json_t *view = rc ? NULL : obligation_view(m, spec->id, counter);
  ctl_model_unlock(ctl->shared);
  if (rc) {
    json_decref(old);
    return rc == LISEC_ENOMEM ? rc
                              : ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL, rc, NULL, err,
                                             "rd %s", spec->id);
  }
  if (!view) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, why, 0, NULL, err, "rd %s", spec->id);
  if (!rc && (rc = doc_put(ctl, CTL_RD_OBLIGATION_KIND, spec->id, view, err)) != 0)
    rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL, err, "rd %s", spec->id);
  if (rc) {
    lisec_err ignore = {0};
    m = ctl_model_lock(ctl->shared);
    rd_parsed p;
    if (old && parse_obligation(spec->id, old, false, 0, &p, &ignore) == 0) {
      /* removed first: putting back a shorter retention is refused */
      (void)model_rd_remove(m, spec->id, &ignore);
      (void)model_rd_put(m, &p.spec, &ignore);
      parsed_free(&p);
    } else if (!old) {
      (void)model_rd_remove(m, spec->id, &ignore);
    }
    ctl_model_unlock(ctl->shared);
    json_decref(view);
    view = NULL;
  }
  json_decref(old);
  *out = view;
  return rc;
}

int ctl_rd_put(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
               json_t **out, lisec_err *err) {
  struct ctl_rd_state *st = ctl->shared->rd;
  const char *action = "rd.obligation.put";
  int rc = need_rd_admin(ctl, actor, action, "rd obligations", err);
  if (rc) return rc;
  if (!st) return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data is not open");
  if ((rc = lisec_id_check("id", id, strlen(id), err))) return rc;
  rd_parsed p;
  /* An obligation without valid_from starts now: the proven now only
   * (TR 103 308 §4.2), since its periods' keys and their destruction all
   * count from it. */
  int64_t now = 0;
  if ((rc = ctl_clock_trusted_s(ctl->shared, "the start of a retention obligation", &now, err)) ||
      (rc = parse_obligation(id, body, true, now, &p, err)))
    return ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL, rc, NULL, err, "rd %s", id);
  pthread_mutex_lock(&st->mu);
  model *m = ctl_model_lock(ctl->shared);
  json_t *old = m ? model_rd_json(m, id) : NULL;
  ctl_model_unlock(ctl->shared);
  if (old) {
    /* A replacement keeps the start, and the period (keys are bound to
     * them); retention grows only by the signed command. */
    if (!json_object_get(body, "valid_from"))
      p.spec.valid_from = json_integer_value(json_object_get(old, "valid_from"));
    int64_t ret = json_integer_value(json_object_get(old, "retention_s"));
    if (p.spec.retention_s > ret)
      rc = lisec_err_set(err, LISEC_ECONFLICT,
                         CTL_RD_REQ_EXTEND ": retention is lengthened only by the RD administration's "
                         "signed command (POST /v1/rd/obligations/{id}/extend)");
  }
  if (!rc) rc = bound_check(ctl, &p.spec, err);
  if (rc)
    rc = ctl_audit_rd(ctl, actor, rc == LISEC_ECONFLICT ? CTL_OUTCOME_REFUSED : CTL_OUTCOME_FAILED, action, NULL,
                      rc, NULL, err, "rd %s", id);
  if (!rc) rc = commit(ctl, actor, action, &p.spec, stored_counter(ctl, id), old ? "replaced" : "created", out, err);
  pthread_mutex_unlock(&st->mu);
  json_decref(old);
  parsed_free(&p);
  return rc;
}

int ctl_rd_get(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out, lisec_err *err) {
  const char *action = "rd.obligation.read";
  int rc = need_rd_admin(ctl, actor, action, "rd obligations", err);
  if (rc) return rc;
  model *m = ctl_model_lock(ctl->shared);
  json_t *j = m ? model_rd_json(m, id) : NULL;
  ctl_model_unlock(ctl->shared);
  if (!j) return lisec_err_set(err, LISEC_ENOTFOUND, "rd: no retention obligation \"%.128s\"", id);
  json_object_set_new(j, "last_counter", json_integer((json_int_t)stored_counter(ctl, id)));
  if ((rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, NULL, 0, NULL, err, "rd %s", id))) {
    json_decref(j);
    return rc;
  }
  *out = j;
  return 0;
}

static int list_one(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  json_t *j = NULL;
  if (lisec_json_parse(body, strlen(body), &j, NULL) == 0) json_object_set_new(ctx, id, j);
  return 0;
}

int ctl_rd_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  const char *action = "rd.obligation.list";
  int rc = need_rd_admin(ctl, actor, action, "rd obligations", err);
  if (rc) return rc;
  json_t *all = json_object(), *arr = json_array();
  if (!all || !arr) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = store_doc_list(ctl->store, CTL_RD_OBLIGATION_KIND, list_one, all, err);
  const char *k;
  json_t *v;
  if (!rc) json_object_foreach(all, k, v) json_array_append(arr, v);
  if (!rc) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, NULL, 0, NULL, err, "rd obligations");
  json_decref(all);
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "obligations", arr);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* A key of one of the obligation's stores, or issued under it, that is not
 * destroyed yet: a store the obligation no longer names keeps its key, whose
 * retention only the obligation tells (destroy_key), so it blocks as well. */
typedef struct live_scan {
  const char *id;
  const json_t *stores;
  bool found;
} live_scan;

static int live_one(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  live_scan *s = ctx;
  json_t *j = NULL;
  if (lisec_json_parse(body, strlen(body), &j, NULL)) return 0;
  const char *store = json_string_value(json_object_get(j, "store"));
  const char *state = json_string_value(json_object_get(j, "state"));
  const char *ob = json_string_value(json_object_get(j, "obligation"));
  bool live = !state || strcmp(state, "destroyed") != 0;
  if (live && ob && strcmp(ob, s->id) == 0) s->found = true;
  size_t i;
  json_t *e;
  json_array_foreach(s->stores, i, e)
    if (store && live && strcmp(json_string_value(e), store) == 0) s->found = true;
  json_decref(j);
  return 0;
}

int ctl_rd_delete(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err) {
  struct ctl_rd_state *st = ctl->shared->rd;
  const char *action = "rd.obligation.delete";
  int rc = need_rd_admin(ctl, actor, action, "rd obligations", err);
  if (rc) return rc;
  if (!st) return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data is not open");
  pthread_mutex_lock(&st->mu);
  model *m = ctl_model_lock(ctl->shared);
  json_t *old = m ? model_rd_json(m, id) : NULL;
  ctl_model_unlock(ctl->shared);
  live_scan scan = {id, json_object_get(old, "stores"), false};
  if (!old) rc = lisec_err_set(err, LISEC_ENOTFOUND, "rd: no retention obligation \"%.128s\"", id);
  else rc = store_doc_list(ctl->store, CTL_RD_KEY_KIND, live_one, &scan, err);
  if (!rc && scan.found)
    rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL,
                      lisec_err_set(err, LISEC_ECONFLICT,
                                    CTL_RD_REQ_EARLY ": a data key of one of the obligation's stores is "
                                    "not yet destroyed; retained data is not deleted before its "
                                    "retention ends"),
                      NULL, err, "rd %s", id);
  uint64_t counter = rc ? 0 : stored_counter(ctl, id);
  json_t *cdoc = counter ? json_pack("{s:I}", "last_counter", (json_int_t)counter) : NULL;
  if (!rc && counter && (rc = cdoc ? doc_put(ctl, COUNTER_KIND, id, cdoc, err)
                                   : lisec_err_set(err, LISEC_ENOMEM, "out of memory")) != 0)
    rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL, err, "rd %s", id);
  json_decref(cdoc);
  if (!rc) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, NULL, 0, NULL, err, "rd %s", id);
  if (!rc) {
    m = ctl_model_lock(ctl->shared);
    rc = model_rd_remove(m, id, err);
    ctl_model_unlock(ctl->shared);
  }
  if (!rc && (rc = store_doc_delete(ctl->store, CTL_RD_OBLIGATION_KIND, id, err)) != 0)
    rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL, err, "rd %s", id);
  pthread_mutex_unlock(&st->mu);
  json_decref(old);
  return rc;
}

int ctl_rd_extend(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                  json_t **out, lisec_err *err) {
  struct ctl_rd_state *st = ctl->shared->rd;
  const char *action = "rd.obligation.extend";
  int rc = need_rd_admin(ctl, actor, action, "rd obligations", err);
  if (rc) return rc;
  if (!st) return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data is not open");
  if (!st->admin_key)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         CTL_RD_REQ_EXTEND ": no RD administration key is configured ([rd] admin_pubkey): "
                         "no retention can be extended");
  char *text = lisec_json_dump_canonical(body);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_lock(&st->mu);
  model *m = ctl_model_lock(ctl->shared);
  json_t *old = m ? model_rd_json(m, id) : NULL;
  ctl_model_unlock(ctl->shared);
  model_rd_command c;
  rd_parsed p = {0};
  int64_t now = 0; /* the command's expiry against the proven clock only (TR 103 308 §4.2) */
  if (!old) rc = lisec_err_set(err, LISEC_ENOTFOUND, "rd: no retention obligation \"%.128s\"", id);
  else if ((rc = ctl_clock_trusted_s(ctl->shared, "the expiry of an RD administration's signed command", &now,
                                     err)) == 0 &&
           (rc = model_rd_command_verify((const uint8_t *)text, strlen(text), st->admin_key, id,
                                         stored_counter(ctl, id), now, &c, err)) == 0 &&
           c.retention_s <= json_integer_value(json_object_get(old, "retention_s")))
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       CTL_RD_REQ_EXTEND ": the command's retention_s is not longer than the current "
                       "retention");
  if (rc && rc != LISEC_ENOTFOUND)
    rc = ctl_audit_rd(ctl, actor, rc == LISEC_ECONFLICT ? CTL_OUTCOME_REFUSED : CTL_OUTCOME_DENIED, action,
                      NULL, rc, NULL, err, "rd %s", id);
  if (!rc && !(rc = parse_obligation(id, old, false, 0, &p, err))) {
    p.spec.retention_s = c.retention_s;
    if ((rc = bound_check(ctl, &p.spec, err)))
      rc = ctl_audit_rd(ctl, actor, rc == LISEC_ECONFLICT ? CTL_OUTCOME_REFUSED : CTL_OUTCOME_FAILED, action,
                        NULL, rc, NULL, err, "rd %s", id);
  }
  if (!rc) {
    char why[96];
    snprintf(why, sizeof why, "retention extended to %lld s by signed command %llu", (long long)c.retention_s,
             (unsigned long long)c.counter);
    rc = commit(ctl, actor, action, &p.spec, c.counter, why, out, err);
  }
  pthread_mutex_unlock(&st->mu);
  parsed_free(&p);
  json_decref(old);
  free(text);
  return rc;
}

/* ---- keys ----------------------------------------------------------------------- */

static int parse_period(const char *s, uint64_t *out, lisec_err *err) {
  size_t n = s ? strnlen(s, PERIOD_DIGITS_MAX + 1) : 0;
  if (n == 0 || n > PERIOD_DIGITS_MAX || (n > 1 && s[0] == '0'))
    return lisec_err_set(err, LISEC_EINVAL, "period: a decimal period number (0, 1, ...)");
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return lisec_err_set(err, LISEC_EINVAL, "period: a decimal period number");
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* The key document of (store, period), if any: its state. */
static bool key_destroyed(lisec_ctl *ctl, const char *kid, bool *exists) {
  json_t *d = NULL;
  lisec_err ignore = {0};
  *exists = doc_get(ctl, CTL_RD_KEY_KIND, kid, &d, &ignore) == 0;
  const char *s = json_string_value(json_object_get(d, "state"));
  bool gone = s && strcmp(s, "destroyed") == 0;
  json_decref(d);
  return gone;
}

/* The live keys (state "live") of one store or of all: the ones the timer
 * looks at, and the ones the bound counts. */
typedef struct due_list {
  json_t *keys;      /* [[store, period], ...] of live keys */
  const char *store; /* of this store only; NULL: of every store */
} due_list;

static int due_one(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  due_list *dl = ctx;
  json_t *j = NULL;
  if (lisec_json_parse(body, strlen(body), &j, NULL)) return 0;
  const char *state = json_string_value(json_object_get(j, "state"));
  const char *store = json_string_value(json_object_get(j, "store"));
  if (state && strcmp(state, "live") == 0 && (!dl->store || (store && strcmp(store, dl->store) == 0)))
    json_array_append_new(dl->keys, json_pack("[O, O]", json_object_get(j, "store"), json_object_get(j, "period")));
  json_decref(j);
  return 0;
}

/* Whether one more key of store stays within max live keys (st->mu held):
 * every live key counts, also one whose retention ended but that could not
 * be destroyed yet, so the token never holds more. */
static int live_keys_check(lisec_ctl *ctl, const char *store, int64_t max, lisec_err *err) {
  due_list dl = {json_array(), store};
  int rc = dl.keys ? store_doc_list(ctl->store, CTL_RD_KEY_KIND, due_one, &dl, err)
                   : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int64_t n = (int64_t)json_array_size(dl.keys);
  json_decref(dl.keys);
  if (!rc && n >= max)
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       CTL_RD_REQ_BOUND ": RD store %s holds %lld live data keys and [rd] max_live_keys is "
                       "%lld; the key of a new period is made once the retention of one of them ends",
                       store, (long long)n, (long long)max);
  return rc;
}

static void sweep(lisec_ctl *ctl, const char *only);

/* The key request's body: {"vm": ID, "public_key": PEM}, nothing else. */
static int key_body(const json_t *body, const char **vm, uint8_t point[MODEL_RD_POINT_LEN], lisec_err *err) {
  if (!json_is_object(body))
    return lisec_err_set(err, LISEC_EINVAL, MODEL_REQ_RD_WRAP ": the body is {\"vm\": ID, \"public_key\": PEM}");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    if (strcmp(k, "vm") != 0 && strcmp(k, "public_key") != 0)
      return lisec_err_set(err, LISEC_EINVAL, "%.64s: not a field of a key request (vm, public_key)", k);
  }
  *vm = json_string_value(json_object_get(body, "vm"));
  if (!*vm) return lisec_err_set(err, LISEC_EINVAL, "vm: the RD VM asking is required");
  int rc = lisec_id_check("vm", *vm, strlen(*vm), err);
  if (rc) return rc;
  json_t *pem = json_object_get(body, "public_key");
  if (pem && !json_is_string(pem))
    return lisec_err_set(err, LISEC_EINVAL, MODEL_REQ_RD_WRAP ": public_key is a PEM string");
  return model_rd_recipient_parse(json_string_value(pem), pem ? json_string_length(pem) : 0, point, err);
}

/* The one refusal a host reads when no data key goes to the VM it names on
 * its own host, whichever rule failed: err says which (the recipient's
 * registration, or the model's), and goes only into the record sealed to
 * the RD administration; the host is told what a key needs. */
static int key_refused(lisec_ctl *ctl, const ctl_actor *actor, const char *kid, lisec_err *err) {
  int rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_DENIED, "rd.key.issue", NULL, LISEC_EDENIED, NULL, err, "rd-key %s",
                        kid);
  return lisec_err_set(err, rc,
                       MODEL_REQ_RD_KEY ": no data key of this store for this VM on this host: it goes only to "
                       "the attested trusted host, inside the obligation's jurisdiction, running an RD function "
                       "of the obligation that names the store, wrapped to the P-256 key the RD administration "
                       "registered for that VM (lisec rd sign-recipient, then lisec rd register)");
}

int ctl_rd_key(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period,
               const json_t *body, json_t **out, bool *gone, lisec_err *err) {
  struct ctl_rd_state *st = ctl->shared->rd;
  const char *action = "rd.key.issue";
  *gone = false;
  uint64_t k = 0;
  int rc = 0;
  if (ctl_actor_role(actor) != CTL_ROLE_HOST) {
    rc = lisec_err_set(err, LISEC_EAUTH,
                       MODEL_REQ_RD_KEY ": only the host running an attested RD VM (role host) fetches "
                       "RD data keys; role %.64s may not",
                       actor && actor->role ? actor->role : "(none)");
    return ctl_audit_rd(ctl, actor, CTL_OUTCOME_DENIED, action, NULL, rc, NULL, err, "rd-key %s/%.16s",
                        store, period ? period : "");
  }
  if ((rc = ctl_hosts_cert_check(ctl, actor, err))) return rc;
  if (!st || !ctl->shared->keys) return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data keys are not available");
  if ((rc = lisec_id_check("store", store, strlen(store), err)) || (rc = parse_period(period, &k, err)))
    return rc;
  const char *vm = NULL;
  uint8_t recipient[MODEL_RD_POINT_LEN];
  if ((rc = key_body(body, &vm, recipient, err))) return rc;
  /* Where the VM runs, as a host proved it (else as declared): the asking
   * host must be that host, attested trusted inside the jurisdiction. */
  char host[MODEL_ID_MAX + 1] = "", pkg[MODEL_ID_MAX + 1];
  lisec_err perr = {0};
  if (ctl_model_vm_runs_on(ctl->shared, vm, host, pkg, &perr) || !actor->subject ||
      strcmp(host, actor->subject) != 0)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       MODEL_REQ_RD_KEY ": VM %s does not run on the asking host %.64s (as its host's "
                       "attested inventory or its declared placement says)",
                       vm, actor->subject ? actor->subject : "?");
  model_rd_key_grant g = {0};
  int64_t proven_ms = 0, now = 0, start = 0, end = 0, destroy_at = 0;
  char kid[MODEL_ID_MAX + 32];
  key_id(store, k, kid);
  /* The recipient is the key the RD administration registered for the VM
   * (rd_recipient.c), not the one the host names; and the model must
   * give the key. Which of the two refused (none registered or another
   * key; not an RD function of an obligation naming the store, or its
   * host untrusted or outside the jurisdiction) is the RD
   * administration's to read, in the sealed record: the host reads one
   * refusal (key_refused), so it can tell neither an RD function it runs
   * nor an RD store from one no obligation names, nor whether the RD
   * administration registered a VM. The keys process checks the signed
   * registration again before it wraps. */
  char reg[MODEL_RD_REG_MAX + 1] = "";
  if (!rc) {
    uint8_t registered[MODEL_RD_POINT_LEN];
    lisec_err rerr = {0};
    int r = ctl_rd_recipient_of(ctl, vm, registered, reg, sizeof reg, &rerr);
    if (r && r != LISEC_ENOTFOUND)
      return ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, lisec_err_set(err, r, "%s", rerr.msg),
                          NULL, err, "rd-key %s", kid);
    if (r || memcmp(registered, recipient, sizeof registered) != 0) {
      lisec_err_set(err, LISEC_EDENIED, MODEL_REQ_RD_RECIPIENT ": VM %s: %s", vm,
                    r ? "no recipient key is registered for it by the RD administration"
                      : "public_key is not the key the RD administration registered for it");
      return key_refused(ctl, actor, kid, err);
    }
  }
  if (!rc) {
    model *m = ctl_model_lock(ctl->shared);
    rc = m ? model_rd_key_allowed(m, store, vm, host, &g, err)
           : lisec_err_set(err, LISEC_EUNAVAIL, "the trust model is not open");
    ctl_model_unlock(ctl->shared);
    if (rc == LISEC_EDENIED) return key_refused(ctl, actor, kid, err);
  }
  bool exists = false;
  if (!rc && !(rc = ctl_clock_trusted_now(ctl->shared, "a retention period's key", &proven_ms, err))) {
    now = rd_now(proven_ms);
    model_rd_period_window(g.valid_from, g.period_s, g.retention_s, (int64_t)k, &start, &end, &destroy_at);
    if (start > now)
      rc = lisec_err_set(err, LISEC_ECONFLICT, MODEL_REQ_RD_KEY ": period %llu has not begun",
                         (unsigned long long)k);
    else if (key_destroyed(ctl, kid, &exists) || now >= destroy_at) {
      *gone = true;
      rc = lisec_err_set(err, LISEC_ENOTFOUND,
                         CTL_RD_REQ_SHRED ": the data key of period %llu was destroyed at the end of its "
                         "retention; data of that period is unreadable",
                         (unsigned long long)k);
    }
  }
  if (rc) return ctl_audit_rd(ctl, actor, CTL_OUTCOME_DENIED, action, NULL, rc, NULL, err, "rd-key %s", kid);
  /* A new period's key: the store's keys whose retention ended go first,
   * as the timer would destroy them, so that at the bound it replaces them. */
  if (!exists) sweep(ctl, store);
  /* the recipient key, by its digest, in the sealed record */
  uint8_t fp[CRYPTO_SHA256_LEN];
  crypto_sha256(recipient, sizeof recipient, fp);
  char why[2 * MODEL_ID_MAX + 160];
  snprintf(why, sizeof why,
           "to RD VM %s on host %s (obligation %s), wrapped to its P-256 key sha256:%02x%02x%02x%02x%02x%02x%02x%02x",
           vm, host, g.obligation, fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7]);
  /* The key's document comes before the key, so the destruction timer
   * knows of every key the token may hold; the store's live keys are
   * counted under the same lock, so two new periods cannot both pass. */
  pthread_mutex_lock(&st->mu);
  bool destroyed = key_destroyed(ctl, kid, &exists);
  if (!exists && (rc = live_keys_check(ctl, store, st->max_live_keys, err)) != 0) {
    pthread_mutex_unlock(&st->mu);
    return ctl_audit_rd(ctl, actor, rc == LISEC_ECONFLICT ? CTL_OUTCOME_REFUSED : CTL_OUTCOME_FAILED, action, NULL,
                        rc, NULL, err, "rd-key %s", kid);
  }
  if ((rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, why, 0, NULL, err, "rd-key %s", kid))) {
    pthread_mutex_unlock(&st->mu);
    return rc;
  }
  if (!exists) {
    json_t *d = json_pack("{s:s, s:I, s:s, s:s, s:I}", "store", store, "period", (json_int_t)k, "obligation",
                          g.obligation, "state", "live", "issued_at", (json_int_t)now);
    rc = d ? doc_put(ctl, CTL_RD_KEY_KIND, kid, d, err) : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    json_decref(d);
  }
  uint8_t eph[MODEL_RD_POINT_LEN], wrapped[MODEL_RD_WRAPPED_LEN];
  if (!rc && destroyed) { /* destroyed meanwhile */
    *gone = true;
    rc = lisec_err_set(err, LISEC_ENOTFOUND, CTL_RD_REQ_SHRED ": the data key of period %llu was destroyed",
                       (unsigned long long)k);
  }
  /* the token wraps the key to the recipient: only wrapped bytes come back */
  if (!rc)
    rc = keys_rd_key(ctl->shared->keys, store, k, true, recipient, vm, (const uint8_t *)reg, strlen(reg), eph,
                     wrapped, err);
  pthread_mutex_unlock(&st->mu);
  if (rc) return ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL, err, "rd-key %s", kid);
  char *b64 = NULL, *eph_pem = NULL;
  if (crypto_base64_encode(wrapped, sizeof wrapped, &b64)) b64 = NULL;
  if ((rc = model_rd_point_pem(eph, &eph_pem, err))) {
    free(b64);
    return rc;
  }
  char s1[32], s2[32], s3[32];
  lisec_time_format(start, s1);
  lisec_time_format(end, s2);
  lisec_time_format(destroy_at, s3);
  *out = b64 ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "store", store, "period", (json_int_t)k,
                         "algorithm", "AES-256", "wrap", CTL_RD_WRAP_SCHEME, "ephemeral_public_key", eph_pem,
                         "wrapped_key", b64, "period_start", s1, "period_end", s2, "destroy_at", s3)
             : NULL;
  free(b64);
  free(eph_pem);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* Destroys (store, period)'s key when its retention ended: the record
 * first, then the token object, then the document. With force false a key
 * whose retention has not ended is refused (TR103308-5.8-RD-EARLY). */
static int destroy_key(lisec_ctl *ctl, const ctl_actor *actor, const char *store, uint64_t k, bool force_check,
                       json_t **out, lisec_err *err) {
  struct ctl_rd_state *st = ctl->shared->rd;
  const char *action = "rd.key.destroy";
  char kid[MODEL_ID_MAX + 32];
  key_id(store, k, kid);
  json_t *d = NULL;
  int64_t proven_ms = 0;
  int rc = ctl_clock_trusted_now(ctl->shared, "the end of a retention", &proven_ms, err);
  if (rc) return force_check ? ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL, rc, NULL, err,
                                            "rd-key %s", kid)
                             : rc;
  rc = doc_get(ctl, CTL_RD_KEY_KIND, kid, &d, err);
  if (rc == LISEC_ENOTFOUND) rc = lisec_err_set(err, LISEC_ENOTFOUND, "rd: no data key of that store and period was issued");
  const char *ob = json_string_value(json_object_get(d, "obligation"));
  const char *state = json_string_value(json_object_get(d, "state"));
  int64_t now = rd_now(proven_ms), start = 0, end = 0, destroy_at = INT64_MAX;
  if (!rc) {
    model *m = ctl_model_lock(ctl->shared);
    json_t *o = m && ob ? model_rd_json(m, ob) : NULL;
    ctl_model_unlock(ctl->shared);
    /* An obligation removed with a live key cannot be (ctl_rd_delete):
     * without one the key's retention cannot be told, so it stays. */
    if (o)
      model_rd_period_window(json_integer_value(json_object_get(o, "valid_from")),
                             json_integer_value(json_object_get(o, "period_s")),
                             json_integer_value(json_object_get(o, "retention_s")), (int64_t)k, &start, &end,
                             &destroy_at);
    json_decref(o);
  }
  char when[32];
  lisec_time_format(destroy_at == INT64_MAX ? 0 : destroy_at, when);
  if (!rc && state && strcmp(state, "destroyed") == 0) {
    json_decref(d);
    *out = json_pack("{s:s, s:I, s:s}", "store", store, "period", (json_int_t)k, "state", "destroyed");
    return 0;
  }
  if (!rc && now < destroy_at) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       CTL_RD_REQ_EARLY ": the retention of period %llu ends at %s; its key is not destroyed "
                       "before then",
                       (unsigned long long)k, when);
    if (force_check) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_REFUSED, action, NULL, rc, NULL, err, "rd-key %s", kid);
    json_decref(d);
    return rc;
  }
  char why[160];
  snprintf(why, sizeof why, CTL_RD_REQ_SHRED ": the retention of period %llu ended at %s; its key is destroyed in "
           "the token (C_DestroyObject)", (unsigned long long)k, when);
  if (!rc) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, why, 0, NULL, err, "rd-key %s", kid);
  uint64_t count = 0;
  if (!rc) {
    pthread_mutex_lock(&st->mu);
    rc = keys_rd_destroy(ctl->shared->keys, store, k, &count, err);
    if (!rc) {
      json_object_set_new(d, "state", json_string("destroyed"));
      json_object_set_new(d, "destroyed_at", json_integer((json_int_t)now));
      rc = doc_put(ctl, CTL_RD_KEY_KIND, kid, d, err);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc) rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL, err, "rd-key %s", kid);
  }
  json_decref(d);
  if (rc) return rc;
  if (out)
    *out = json_pack("{s:s, s:I, s:s, s:I}", "store", store, "period", (json_int_t)k, "state", "destroyed",
                     "objects_destroyed", (json_int_t)count);
  return 0;
}

int ctl_rd_destroy(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period, json_t **out,
                   lisec_err *err) {
  const char *action = "rd.key.destroy";
  int rc = need_rd_admin(ctl, actor, action, "rd keys", err);
  uint64_t k = 0;
  if (rc) return rc;
  if (!ctl->shared->rd || !ctl->shared->keys) return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data keys are not available");
  if ((rc = lisec_id_check("store", store, strlen(store), err)) || (rc = parse_period(period, &k, err))) return rc;
  return destroy_key(ctl, actor, store, k, true, out, err);
}

/* ---- the destruction timer ------------------------------------------------------ */

/* Destroys the live keys (of one store, or of all) whose retention ended. */
static void sweep(lisec_ctl *ctl, const char *only) {
  due_list dl = {json_array(), only};
  lisec_err err = {0};
  if (!dl.keys || store_doc_list(ctl->store, CTL_RD_KEY_KIND, due_one, &dl, &err)) {
    if (err.msg[0]) LOG_WARN("rd: the data keys cannot be listed: %s", err.msg);
    json_decref(dl.keys);
    return;
  }
  size_t i;
  json_t *e;
  json_array_foreach(dl.keys, i, e) {
    const char *store = json_string_value(json_array_get(e, 0));
    json_int_t k = json_integer_value(json_array_get(e, 1));
    if (!store || k < 0) continue;
    lisec_err derr = {0};
    int rc = destroy_key(ctl, &CONTROLLER, store, (uint64_t)k, false, NULL, &derr);
    if (rc == LISEC_EDENIED) { /* the clock: every key waits for a proven one */
      LOG_LIMITED(LISEC_LOG_WARN, 1, 60000, "rd: the data keys whose retention ended are kept: %s", derr.msg);
      break;
    }
    if (rc && rc != LISEC_ECONFLICT) LOG_WARN("rd: a data key due for destruction was not destroyed: %s", derr.msg);
  }
  json_decref(dl.keys);
}

static void *timer_main(void *arg) {
  struct ctl_rd_state *st = arg;
  pthread_mutex_lock(&st->tmu);
  while (!st->stopping) {
    pthread_mutex_unlock(&st->tmu);
    sweep(st->timer_ctl, NULL);
    pthread_mutex_lock(&st->tmu);
    if (st->stopping) break;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (st->check_ms % 1000) * 1000000;
    ts.tv_sec += st->check_ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&st->tcv, &st->tmu, &ts);
  }
  pthread_mutex_unlock(&st->tmu);
  return NULL;
}

/* ---- the topic ------------------------------------------------------------------ */

typedef struct load_ctx {
  model *m;
  lisec_err *err;
  int rc;
} load_ctx;

static int load_one(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  load_ctx *c = vctx;
  json_t *j = NULL;
  rd_parsed p;
  int rc = lisec_json_parse(body, strlen(body), &j, c->err);
  if (!rc) rc = parse_obligation(id, j, false, 0, &p, c->err);
  if (!rc) {
    rc = model_rd_put(c->m, &p.spec, c->err);
    parsed_free(&p);
  }
  json_decref(j);
  if (rc) {
    lisec_err_wrap(c->err, "stored retention obligation");
    c->rc = rc;
    return rc;
  }
  return 0;
}

int ctl_rd_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  struct ctl_rd_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->mu, NULL);
  pthread_mutex_init(&st->tmu, NULL);
  /* the sweep's period is a duration: a wall clock stepped back would
   * hold the sweeps for the step (timer_main) */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->tcv, &ca);
  pthread_condattr_destroy(&ca);
  sh->rd = st;
  /* read and bounded with the other settings (ctl/settings.c), so that
   * lisecd --check-config reports a value out of bounds too */
  st->check_ms = sh->settings.rd_check_ms;
  st->max_live_keys = sh->settings.rd_max_live_keys;
  int rc = 0;
  const char *pub = lisec_config_str(cfg, "rd", "admin_pubkey", NULL);
  if (!rc && pub && (rc = crypto_pkey_load_pem(pub, false, &st->admin_key, err)))
    lisec_err_wrap(err, "[rd] admin_pubkey");
  if (rc) return rc;
  load_ctx c = {ctl_model_lock(sh), err, 0};
  if (c.m) rc = store_doc_list(s, CTL_RD_OBLIGATION_KIND, load_one, &c, err);
  ctl_model_unlock(sh);
  return c.rc ? c.rc : rc;
}

int ctl_rd_start(ctl_shared *sh, lisec_err *err) {
  struct ctl_rd_state *st = sh->rd;
  if (!st || st->started || !sh->keys) return 0; /* no keys process: no keys to destroy */
  lisec_ctl parent = {.shared = sh};
  int rc = ctl_open_worker(&parent, &st->timer_ctl, err);
  if (rc) return rc;
  st->stopping = false;
  if ((rc = ctl_thread_start(&st->timer, timer_main, st, "lisec-rd", &st->timer_ctl, err))) return rc;
  st->started = true;
  return 0;
}

void ctl_rd_stop(ctl_shared *sh) {
  struct ctl_rd_state *st = sh->rd;
  if (!st || !st->started) return;
  ctl_thread_stop(&st->tmu, &st->tcv, &st->stopping, st->timer, &st->timer_ctl);
  st->started = false;
}

void ctl_rd_close(ctl_shared *sh) {
  struct ctl_rd_state *st = sh->rd;
  if (!st) return;
  ctl_rd_stop(sh);
  EVP_PKEY_free(st->admin_key);
  pthread_mutex_destroy(&st->mu);
  pthread_mutex_destroy(&st->tmu);
  pthread_cond_destroy(&st->tcv);
  free(st);
  sh->rd = NULL;
}
