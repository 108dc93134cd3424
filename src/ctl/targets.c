/* The target vault's use cases: validate, seal under the KEK, record the act
 * (sealed to the LI administration), store the sealed form only, answer, and
 * wake the ADMF (ctl/tasks.c) so the change reaches the NEs at once. The
 * record comes first, so no change is ever unrecorded; a change that fails
 * after its record is recorded as failed, and one refused before it (a
 * stale version, a bad identifier, no such target) is recorded as refused.
 * Plaintext identifiers live only in memory that is wiped when freed
 * (lisecd sets jansson's allocator to wipe). Once a record is gone or
 * replaced (a removal or an update committed, its authorisation ended),
 * the keys process is told to wipe its cached data key at once rather
 * than at [vault] cache_ttl_s (TR 103 308 §5.7: keys no longer needed are
 * destroyed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/counters.h"
#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/targets.h"
#include "ctl/tasks.h"

#define TARGET_KIND CTL_TARGET_KIND
#define TARGET_REQ "TR103308-5.2"

/* A target use case refused (or failed) before its act, recorded sealed
 * (it is about LI) before the answer: every access to targets is audited
 * (TR 103 308 §5.2), not only those accepted. The error becomes the
 * record's reason and names the requirement (req when it names none); it
 * names a field and its rule, never an identifier's value
 * (vault/identifiers.c). The subject names the target only when its id is
 * one (a body's id may not be), or "*" for the listing. Returns rc. */
int ctl_target_refused(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *req,
                       const char *id, int rc, lisec_err *err) {
  if (strncmp(err->msg, "TR103308-", 9) != 0) lisec_err_wrap(err, "%s", req);
  ctl_outcome o = rc == LISEC_EINVAL || rc == LISEC_ETOOBIG || rc == LISEC_ENOTFOUND || rc == LISEC_ECONFLICT
                      ? CTL_OUTCOME_REFUSED
                      : CTL_OUTCOME_FAILED;
  bool named = id && (strcmp(id, "*") == 0 || lisec_id_check(NULL, id, strnlen(id, LISEC_ID_MAX + 1), NULL) == 0);
  return ctl_audit(ctl, actor, o, action, true, NULL, rc, NULL, err, "target %s", named ? id : "(not an id)");
}

static int refused(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *id, int rc,
                   lisec_err *err) {
  return ctl_target_refused(ctl, actor, action, TARGET_REQ, id, rc, err);
}

static int need_kek(lisec_ctl *ctl, lisec_err *err) {
  return ctl->shared->keys && keys_client_info(ctl->shared->keys)->vault
             ? 0
             : lisec_err_set(err, LISEC_EUNAVAIL,
                                          "TR103308-5.7: no key-encryption key is configured "
                                          "([vault]); targets cannot be stored or read");
}

int ctl_target_load(lisec_ctl *ctl, const char *id, vault_sealed *s, int64_t *doc_version,
                    lisec_err *err) {
  char *body = NULL;
  int rc = store_doc_get(ctl->store, TARGET_KIND, id, &body, doc_version, err);
  if (rc) return rc == LISEC_ENOTFOUND ? lisec_err_set(err, rc, "target %s does not exist", id) : rc;
  /* (a record stored under another target's id opens, its associated
   * data being its own fields: refused here) */
  rc = vault_sealed_parse_as(id, body, strlen(body), s, err);
  free(body);
  return rc;
}

int ctl_target_save(lisec_ctl *ctl, const vault_sealed *s, int64_t expected, lisec_err *err) {
  json_t *j = NULL;
  int rc = vault_sealed_to_json(s, &j, err);
  char *text = rc ? NULL : lisec_json_dump_canonical(j);
  json_decref(j);
  if (rc) return rc;
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = store_doc_put(ctl->store, TARGET_KIND, s->id, text, expected, NULL, err);
  free(text);
  return rc;
}

/* The keys process wipes the cached data key of s, a record that is gone
 * or replaced now. Not the use case's failure when it cannot: the key then
 * goes at [vault] cache_ttl_s as before, said in the log (naming no
 * target: the operator reads the log). */
static void evict(lisec_ctl *ctl, const vault_sealed *s) {
  keys_client *k = ctl->shared->keys;
  if (!k || !keys_client_info(k)->vault || !s->wrapped_key_len) return;
  lisec_err e = {0};
  if (keys_vault_evict(k, s, NULL, &e) != 0)
    LOG_WARN("TR103308-5.7: a data key no record needs any more stays in the keys process's cache until "
             "[vault] cache_ttl_s: %s", e.msg);
}

static json_t *meta(const vault_sealed *s) {
  return json_pack("{s:s, s:s, s:I, s:s}", "id", s->id, "authorisation", s->authorisation,
                   "version", (json_int_t)s->version, "kek", s->kek_label);
}

int ctl_target_add(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                   lisec_err *err) {
  const char *id = NULL, *auth = NULL;
  int rc;
  /* Unbounded here: vault_seal holds both to the id rule, whose refusal
   * says what an id is (the body itself is bounded by [api] max_body). */
  if ((rc = need_kek(ctl, err)) || (rc = lisec_json_get_str(body, "id", true, SIZE_MAX, &id, err)) ||
      (rc = lisec_json_get_str(body, "authorisation", true, SIZE_MAX, &auth, err)))
    return refused(ctl, actor, "target.add", id, rc, err);
  /* A target is bound to an authorisation the LI administration created;
   * one naming none would be distributed under no warrant at all. The
   * refused attempt is recorded (sealed: it names an authorisation). */
  if ((rc = lisec_id_check("id", id, strnlen(id, LISEC_ID_MAX + 1), err)) ||
      (rc = lisec_id_check("authorisation", auth, strnlen(auth, LISEC_ID_MAX + 1), err)))
    return refused(ctl, actor, "target.add", id, rc, err);
  if (!ctl_model_li_exists(ctl->shared, auth)) {
    lisec_err_set(err, LISEC_EINVAL,
                  "TR103308-5.2: authorisation: no LI authorisation \"%.*s\" in the trust model; "
                  "a target belongs to an existing authorisation (create it first: PUT "
                  "/v1/model/li/{id})",
                  MODEL_ID_MAX, auth);
    return ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, "target.add", true, NULL, LISEC_EINVAL, NULL,
                     err, "target %.*s", MODEL_ID_MAX, id);
  }
  /* sealed in the keys process: the data key never comes here */
  vault_sealed s;
  rc = keys_vault_seal(ctl->shared->keys, id, auth, 1, json_object_get(body, "identifiers"), &s, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_SEAL, rc == 0);
  if (rc) return refused(ctl, actor, "target.add", id, rc, err);
  if (!(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.add", true, NULL, 0, NULL, err,
                       "target %s", id))) {
    rc = ctl_target_save(ctl, &s, 0, err);
    if (rc == LISEC_ECONFLICT) rc = lisec_err_set(err, rc, "target %s exists already", id);
    if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.add", true, NULL, rc, NULL, err,
                           "target %s", id);
  }
  if (!rc) *out = meta(&s);
  if (!rc) ctl_tasks_kick(ctl); /* the ADMF distributes it now, not at its next round */
  vault_sealed_free(&s);
  return rc;
}

int ctl_target_read(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
                    lisec_err *err) {
  vault_sealed s;
  int64_t v = 0;
  int rc = need_kek(ctl, err);
  if (rc || (rc = ctl_target_load(ctl, id, &s, &v, err))) return refused(ctl, actor, "target.read", id, rc, err);
  /* opened in the keys process (its cache of ready data-key contexts, the
   * KEK the record names: older ones stay usable after a rotation) */
  json_t *ids = NULL;
  rc = keys_vault_open(ctl->shared->keys, &s, &ids, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_OPEN, rc == 0);
  /* The read is recorded whether or not it succeeded, before answering. */
  lisec_err rerr = {0};
  int rrc = ctl_audit(ctl, actor, rc ? CTL_OUTCOME_FAILED : CTL_OUTCOME_OK, "target.read", true,
                      rc ? err->msg : NULL, rc, NULL, &rerr, "target %s", id);
  if (!rc && rrc) {
    rc = rrc;
    *err = rerr;
  }
  if (!rc) {
    *out = meta(&s);
    json_object_set_new(*out, "identifiers", ids);
  } else {
    json_decref(ids);
  }
  vault_sealed_free(&s);
  return rc;
}

int ctl_target_update(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                      json_t **out, lisec_err *err) {
  int64_t expected = 0, doc_version = 0;
  vault_sealed old, s;
  int rc;
  if ((rc = need_kek(ctl, err)) || (rc = lisec_json_get_int(body, "version", true, 1, INT64_MAX, &expected, err)) ||
      (rc = ctl_target_load(ctl, id, &old, &doc_version, err)))
    return refused(ctl, actor, "target.update", id, rc, err);
  if (old.version != expected) {
    rc = lisec_err_set(err, LISEC_ECONFLICT, "target %s is at version %lld, not %lld", id,
                       (long long)old.version, (long long)expected);
    vault_sealed_free(&old);
    return refused(ctl, actor, "target.update", id, rc, err);
  }
  rc = keys_vault_seal(ctl->shared->keys, id, old.authorisation, old.version + 1,
                       json_object_get(body, "identifiers"), &s, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_SEAL, rc == 0);
  vault_sealed_free(&old); /* (its id and wrapped key stay for evict) */
  if (rc) return refused(ctl, actor, "target.update", id, rc, err);
  if (!(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.update", true, NULL, 0, NULL, err,
                       "target %s", id)) &&
      (rc = ctl_target_save(ctl, &s, doc_version, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.update", true, NULL, rc, NULL, err,
                   "target %s", id);
  if (!rc) *out = meta(&s);
  if (!rc) evict(ctl, &old); /* the replaced version's data key */
  if (!rc) ctl_tasks_kick(ctl);
  vault_sealed_free(&s);
  return rc;
}

int ctl_target_remove(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err) {
  /* No such target: refused as such, never recorded as a removal first */
  char *body = NULL;
  int rc = store_doc_get(ctl->store, TARGET_KIND, id, &body, NULL, err);
  /* its wrapped key, for the keys process to wipe the data key once the
   * removal is committed (a body that does not parse is removed all the
   * same: a target can always be removed) */
  vault_sealed gone = {0};
  bool parsed = !rc && vault_sealed_parse_as(id, body, strlen(body), &gone, NULL) == 0;
  free(body);
  if (rc == LISEC_ENOTFOUND) lisec_err_set(err, rc, "target %s does not exist", id);
  if (rc) return refused(ctl, actor, "target.remove", id, rc, err);
  rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.remove", true, NULL, 0, NULL, err,
                 "target %s", id);
  if (!rc) {
    rc = store_doc_delete(ctl->store, TARGET_KIND, id, err);
    if (rc == LISEC_ENOTFOUND) rc = lisec_err_set(err, rc, "target %s does not exist", id);
    if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.remove", true, NULL, rc, NULL, err,
                           "target %s", id);
    if (!rc && parsed) evict(ctl, &gone); /* committed: its data key is not needed any more */
    if (!rc) ctl_tasks_kick(ctl);
  }
  if (parsed) vault_sealed_free(&gone);
  return rc;
}

typedef struct list_ctx {
  json_t *arr;
  lisec_err *err;
} list_ctx;

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  list_ctx *l = ctx;
  vault_sealed s;
  lisec_err perr = {0};
  int rc = vault_sealed_parse_as(id, body, strlen(body), &s, &perr);
  if (rc == LISEC_ECRYPTO) { /* (it would show another target twice) */
    *l->err = perr;
    return rc;
  }
  if (rc) return LISEC_ESTORE;
  json_array_append_new(l->arr, meta(&s));
  vault_sealed_free(&s);
  return 0;
}

int ctl_target_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  json_t *arr = json_array();
  list_ctx l = {arr, err};
  int rc = store_doc_list(ctl->store, TARGET_KIND, list_cb, &l, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored target does not parse");
  rc = rc ? refused(ctl, actor, "target.list", "*", rc, err)
          : ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.list", true, NULL, 0, NULL, err, "target %s", "*");
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "targets", arr);
  return 0;
}

/* ---- an authorisation's end ---------------------------------------------- */

/* The records of one authorisation, their id and wrapped key only. */
typedef struct ended_ctx {
  const char *li;
  vault_sealed *gone;
  size_t n, cap;
} ended_ctx;

static int ended_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  ended_ctx *e = ctx;
  vault_sealed s;
  if (vault_sealed_parse_as(id, body, strlen(body), &s, NULL) != 0) return 0; /* (a read of it fails) */
  bool ours = strcmp(s.authorisation, e->li) == 0;
  vault_sealed_free(&s); /* the ciphertext: not needed */
  if (!ours) return 0;
  if (e->n == e->cap) {
    size_t cap = e->cap ? 2 * e->cap : 16;
    vault_sealed *g = realloc(e->gone, cap * sizeof *g);
    if (!g) return LISEC_ENOMEM;
    e->gone = g, e->cap = cap;
  }
  e->gone[e->n++] = s;
  return 0;
}

void ctl_targets_authorisation_ended(lisec_ctl *ctl, const char *li) {
  keys_client *k = ctl->shared->keys;
  if (!k || !keys_client_info(k)->vault) return;
  ended_ctx e = {.li = li};
  lisec_err err = {0};
  /* collected first: the keys process is not asked while the store lists */
  if (store_doc_list(ctl->store, TARGET_KIND, ended_cb, &e, &err) != 0)
    LOG_WARN("TR103308-5.7: an ended authorisation's data keys stay in the keys process's cache until [vault] "
             "cache_ttl_s: its targets cannot be listed: %s", err.msg[0] ? err.msg : "out of memory");
  for (size_t i = 0; i < e.n; i++) evict(ctl, &e.gone[i]);
  free(e.gone);
}

int ctl_targets_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg, (void)s, (void)err;
  ctl_model_hook_li_ended(sh, ctl_targets_authorisation_ended);
  return 0;
}

/* ---- the current KEK ------------------------------------------------------- */

/* The store remembers which token key is current (written by a rotation
 * when it ends, ctl/vault_rotation.c), so a restart after a rotation wraps
 * with the new key whatever [vault] key_label says. */
int ctl_targets_open(ctl_shared *sh, lisec_store *s, lisec_err *err) {
  if (!sh->keys || !keys_client_info(sh->keys)->vault) return 0;
  char *body = NULL;
  int rc = store_doc_get(s, CTL_VAULT_KEK_DOC_KIND, CTL_VAULT_KEK_DOC_ID, &body, NULL, err);
  if (rc == LISEC_ENOTFOUND) return 0;
  if (rc) return rc;
  json_t *doc = NULL;
  const char *name = NULL;
  rc = lisec_json_parse(body, strlen(body), &doc, err);
  free(body);
  if (!rc) rc = lisec_json_get_str(doc, "key_label", true, KEYS_KEK_NAME_MAX, &name, err);
  if (!rc && keys_client_info(sh->keys)->vault_development)
    rc = lisec_err_set(err, LISEC_EINVAL, "the vault was rotated to the token key \"%s\"; configure "
                       "[vault] pkcs11_module, not the development key", name);
  if (!rc) rc = keys_vault_use_kek(sh->keys, name, false, err);
  if (rc) lisec_err_wrap(err, "TR103308-5.7: cannot use the vault's current KEK");
  json_decref(doc);
  return rc;
}
