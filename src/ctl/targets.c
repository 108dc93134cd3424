/* The target vault's use cases: validate, seal under the KEK, record the act
 * (sealed to the LI administration), store the sealed form only, answer, and
 * wake the ADMF (ctl/tasks.c) so the change reaches the NEs at once. The
 * record comes first, so no change is ever unrecorded; a change that fails
 * after its record is recorded as failed. Plaintext identifiers live only in memory that
 * is wiped when freed (lisecd sets jansson's allocator to wipe). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/counters.h"
#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/targets.h"
#include "ctl/tasks.h"

#define TARGET_KIND "target"

static int need_kek(lisec_ctl *ctl, lisec_err *err) {
  return ctl->shared->keys && keys_client_info(ctl->shared->keys)->vault
             ? 0
             : lisec_err_set(err, LISEC_EUNAVAIL,
                                          "TR103308-5.7: no key-encryption key is configured "
                                          "([vault]); targets cannot be stored or read");
}

static int load(lisec_ctl *ctl, const char *id, vault_sealed *s, int64_t *doc_version,
                lisec_err *err) {
  char *body = NULL;
  int rc = store_doc_get(ctl->store, TARGET_KIND, id, &body, doc_version, err);
  if (rc) return rc == LISEC_ENOTFOUND ? lisec_err_set(err, rc, "target %s does not exist", id) : rc;
  rc = vault_sealed_parse(body, strlen(body), s, err);
  free(body);
  return rc;
}

static int save(lisec_ctl *ctl, const vault_sealed *s, int64_t expected, lisec_err *err) {
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
    return rc;
  /* A target is bound to an authorisation the LI administration created;
   * one naming none would be distributed under no warrant at all. The
   * refused attempt is recorded (sealed: it names an authorisation). */
  if ((rc = lisec_id_check("id", id, strnlen(id, LISEC_ID_MAX + 1), err)) ||
      (rc = lisec_id_check("authorisation", auth, strnlen(auth, LISEC_ID_MAX + 1), err)))
    return rc;
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
  if (rc) return rc;
  if (!(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.add", true, NULL, 0, NULL, err,
                       "target %s", id))) {
    rc = save(ctl, &s, 0, err);
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
  if (rc || (rc = load(ctl, id, &s, &v, err))) return rc;
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
  if ((rc = need_kek(ctl, err)) || (rc = lisec_json_get_int(body, "version", true, 1, INT64_MAX, &expected, err)))
    return rc;
  if ((rc = load(ctl, id, &old, &doc_version, err))) return rc;
  if (old.version != expected) {
    rc = lisec_err_set(err, LISEC_ECONFLICT, "target %s is at version %lld, not %lld", id,
                       (long long)old.version, (long long)expected);
    vault_sealed_free(&old);
    return rc;
  }
  rc = keys_vault_seal(ctl->shared->keys, id, old.authorisation, old.version + 1,
                       json_object_get(body, "identifiers"), &s, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_SEAL, rc == 0);
  vault_sealed_free(&old);
  if (rc) return rc;
  if (!(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.update", true, NULL, 0, NULL, err,
                       "target %s", id)) &&
      (rc = save(ctl, &s, doc_version, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.update", true, NULL, rc, NULL, err,
                   "target %s", id);
  if (!rc) *out = meta(&s);
  if (!rc) ctl_tasks_kick(ctl);
  vault_sealed_free(&s);
  return rc;
}

int ctl_target_remove(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err) {
  int rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.remove", true, NULL, 0, NULL, err,
                     "target %s", id);
  if (rc) return rc;
  rc = store_doc_delete(ctl->store, TARGET_KIND, id, err);
  if (rc == LISEC_ENOTFOUND) rc = lisec_err_set(err, rc, "target %s does not exist", id);
  if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.remove", true, NULL, rc, NULL, err,
                         "target %s", id);
  if (!rc) ctl_tasks_kick(ctl);
  return rc;
}

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  json_t *arr = ctx;
  vault_sealed s;
  if (vault_sealed_parse(body, strlen(body), &s, NULL) != 0) return LISEC_ESTORE;
  json_array_append_new(arr, meta(&s));
  vault_sealed_free(&s);
  return 0;
}

int ctl_target_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  json_t *arr = json_array();
  int rc = store_doc_list(ctl->store, TARGET_KIND, list_cb, arr, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored target does not parse");
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.list", true, NULL, 0, NULL, err,
                          "target %s", "*");
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "targets", arr);
  return 0;
}

/* ---- KEK rotation -------------------------------------------------------- */

/* The store remembers which token key is current, so a restart after a
 * rotation wraps with the new key whatever [vault] key_label says. */
#define KEK_DOC_KIND "vault"
#define KEK_DOC_ID "kek"

int ctl_targets_open(ctl_shared *sh, lisec_store *s, lisec_err *err) {
  if (!sh->keys || !keys_client_info(sh->keys)->vault) return 0;
  char *body = NULL;
  int rc = store_doc_get(s, KEK_DOC_KIND, KEK_DOC_ID, &body, NULL, err);
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

/* A data key re-wrapped before the write transaction: the record's stored
 * version when it was read, and its new wrapped key (under r->label). */
typedef struct rewrapped {
  int64_t version;
  uint8_t *wrapped; /* NULL: nothing to write (already under the key, or gone) */
  size_t len;
} rewrapped;

typedef struct rotation {
  lisec_ctl *ctl;
  json_t *ids;           /* every target id, collected before writing */
  rewrapped *done;       /* one per id */
  size_t rewrapped;
  char label[VAULT_ID_MAX + 1]; /* the current KEK's record label */
} rotation;

static int collect_id(void *ctx, const char *id, const char *body, int64_t version) {
  (void)body, (void)version;
  return json_array_append_new(((rotation *)ctx)->ids, json_string(id)) ? LISEC_ENOMEM : 0;
}

/* A rotation's error names the target it stopped at, keeping the
 * requirement id in front when the cause carries one. */
static void stopped_at(const char *id, int rc, lisec_err *err) {
  static const char req[] = "TR103308-5.7: ";
  char cause[LISEC_ERR_MSG_MAX];
  snprintf(cause, sizeof cause, "%s", err->msg);
  const char *rest = strncmp(cause, req, strlen(req)) == 0 ? cause + strlen(req) : cause;
  lisec_err_set(err, rc, "%sKEK rotation stopped at target %s, nothing changed: %s", req, id, rest);
}

/* The target's data key under the current KEK, by the keys process (an
 * unwrap by the key its record names and a wrap by the current one: token
 * calls). *moved is false when it was under the current key already. */
static int rewrap_one(rotation *r, vault_sealed *s, bool *moved, lisec_err *err) {
  *moved = false;
  if (strcmp(s->kek_label, r->label) == 0) return 0;
  int rc = keys_vault_rewrap(r->ctl->shared->keys, s, moved, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_REWRAP, rc == 0);
  if (rc) stopped_at(s->id, rc, err);
  return rc;
}

/* Outside any transaction, so the store's writers are not held up by the
 * token (two to four token calls a target: seconds for 100,000 targets
 * with SoftHSM2, minutes with a network HSM): every data key not yet under
 * the current KEK is re-wrapped and kept in memory with the version it was
 * read at. Nothing is written; a target deleted meanwhile is passed over. */
static int rewrap_outside(rotation *r, lisec_err *err) {
  lisec_ctl *ctl = r->ctl;
  int rc = store_doc_list(ctl->store, TARGET_KIND, collect_id, r, err);
  size_t n = json_array_size(r->ids);
  if (!rc && n && !(r->done = calloc(n, sizeof *r->done)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory for %zu re-wrapped keys", n);
  for (size_t i = 0; i < n && !rc; i++) {
    vault_sealed s;
    int64_t dv = 0;
    bool moved = false;
    rc = load(ctl, json_string_value(json_array_get(r->ids, i)), &s, &dv, err);
    if (rc == LISEC_ENOTFOUND) { /* deleted since the listing */
      rc = 0;
      continue;
    }
    if (rc) break;
    rc = rewrap_one(r, &s, &moved, err);
    if (!rc && moved) {
      rewrapped *d = &r->done[i];
      if ((d->wrapped = malloc(s.wrapped_key_len))) {
        memcpy(d->wrapped, s.wrapped_key, s.wrapped_key_len);
        d->len = s.wrapped_key_len;
        d->version = dv;
      } else {
        rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      }
    }
    vault_sealed_free(&s);
  }
  return rc;
}

/* The writes, in transactions of ROTATION_CHUNK records, so the store's
 * write lock is held a chunk at a time and other writers (audit appends,
 * decisions) go in between: each re-wrapped key replaces its record's, the
 * record compared by version with the one read before (a target changed
 * meanwhile is re-wrapped again here, unless the change sealed it under
 * the current key already; one deleted meanwhile is passed over); then the
 * store notes which key is current. The token work was done before, so only
 * a store failure (or a target changed meanwhile whose key cannot be
 * re-wrapped) stops it part-way: the chunks written stay under the new key,
 * which their records name, so every record stays readable, and the error
 * says how many were written. */
#define ROTATION_CHUNK 500
static int write_rewrapped(rotation *r, const char *name, lisec_err *err) {
  lisec_ctl *ctl = r->ctl;
  size_t n = json_array_size(r->ids), committed = 0;
  int rc = 0;
  for (size_t start = 0; start < n && !rc; start += ROTATION_CHUNK) {
    size_t end = start + ROTATION_CHUNK < n ? start + ROTATION_CHUNK : n, in_chunk = 0;
    if ((rc = store_begin(ctl->store, err))) break;
    for (size_t i = start; i < end && !rc; i++) {
      rewrapped *d = &r->done[i];
      if (!d->wrapped) continue;
      vault_sealed s;
      int64_t dv = 0;
      bool moved = false;
      rc = load(ctl, json_string_value(json_array_get(r->ids, i)), &s, &dv, err);
      if (rc == LISEC_ENOTFOUND) {
        rc = 0;
        continue;
      }
      if (rc) break;
      if (dv == d->version && d->len <= sizeof s.wrapped_key) {
        snprintf(s.kek_label, sizeof s.kek_label, "%s", r->label);
        memcpy(s.wrapped_key, d->wrapped, s.wrapped_key_len = d->len);
        moved = true;
      } else {
        rc = rewrap_one(r, &s, &moved, err);
      }
      if (!rc && moved) rc = save(ctl, &s, dv, err);
      if (!rc && moved) in_chunk++;
      if (rc && !strstr(err->msg, "KEK rotation stopped")) stopped_at(s.id, rc, err);
      vault_sealed_free(&s);
    }
    if (!rc) rc = store_commit(ctl->store, err); /* rolls back when it fails */
    else store_rollback(ctl->store);
    if (!rc) committed += in_chunk;
  }
  r->rewrapped = committed;
  if (!rc) {
    json_t *doc = json_pack("{s:s}", "key_label", name);
    char *text = doc ? lisec_json_dump_canonical(doc) : NULL;
    json_decref(doc);
    rc = text ? store_doc_put(ctl->store, KEK_DOC_KIND, KEK_DOC_ID, text, -1, NULL, err)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    free(text);
  }
  if (rc && committed) {
    char cause[LISEC_ERR_MSG_MAX];
    snprintf(cause, sizeof cause, "%s", err->msg);
    char *nc = strstr(cause, ", nothing changed"); /* stopped_at's words; not so now */
    if (nc) memmove(nc, nc + strlen(", nothing changed"), strlen(nc + strlen(", nothing changed")) + 1);
    lisec_err_set(err, rc, "%s (%zu targets were re-wrapped before it stopped; they name their new KEK "
                  "and stay readable; rotate again to finish)", cause, committed);
  }
  return rc;
}

static void rotation_free(rotation *r) {
  for (size_t i = 0; r->done && i < json_array_size(r->ids); i++) free(r->done[i].wrapped);
  free(r->done);
  json_decref(r->ids);
}

int ctl_target_rotate_kek(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err) {
  static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
  const char *name = NULL;
  int rc;
  if ((rc = need_kek(ctl, err)) || (rc = lisec_json_only_keys(body, (const char *[]){"key_label", NULL}, err)) ||
      (rc = lisec_json_get_str(body, "key_label", true, KEYS_KEK_NAME_MAX, &name, err)))
    return rc;
  keys_client *keys = ctl->shared->keys;
  if (keys_client_info(keys)->vault_development)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-5.7: the development key file cannot be rotated; "
                         "KEK rotation needs a PKCS#11 token ([vault] pkcs11_module)");
  if (!keys_kek_name_valid(name))
    return lisec_err_set(err, LISEC_EINVAL, "key_label: 1 to %d letters, digits, '.', '_' or '-'",
                         KEYS_KEK_NAME_MAX);
  pthread_mutex_lock(&one_at_a_time);
  char prev[KEYS_KEK_NAME_MAX + 1] = "", prev_label[VAULT_ID_MAX + 1] = "", label[VAULT_ID_MAX + 1] = "";
  rc = keys_vault_current_kek(keys, prev, prev_label, err);
  char reason[2 * VAULT_ID_MAX + 64];
  snprintf(reason, sizeof reason, "from %s to %s", prev, name);
  rotation r = {ctl, json_array(), NULL, 0, ""};
  if (!rc && strcmp(prev, name) == 0)
    rc = lisec_err_set(err, LISEC_ECONFLICT, "\"%s\" is the current KEK already", name);
  /* Recorded first; then the new key (generated in the token when absent)
   * becomes current, so writes from now on use it, every data key is
   * re-wrapped (outside any transaction), and the new wrappings are written
   * in chunks. On failure the previous key is current again; records sealed
   * or re-wrapped meanwhile stay readable by their label. */
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.rotate-kek", true, reason, 0, NULL,
                          err, "target %s", "*");
  if (!rc) {
    if (!(rc = keys_vault_use_kek(keys, name, true, err))) {
      uint64_t t0 = lisec_time_mono_ns(), t1 = 0;
      if (!(rc = keys_vault_current_kek(keys, NULL, r.label, err)) && !(rc = rewrap_outside(&r, err))) {
        t1 = lisec_time_mono_ns();
        rc = write_rewrapped(&r, name, err);
        if (!rc)
          LOG_INFO("KEK rotation: %zu data keys re-wrapped in %.1f s, written in transactions of %d in %.1f s",
                   r.rewrapped, (double)(t1 - t0) / 1e9, ROTATION_CHUNK,
                   (double)(lisec_time_mono_ns() - t1) / 1e9);
      }
      if (rc) (void)keys_vault_use_kek(keys, prev, false, NULL);
      /* Every record is under the new key now: the older ones are unloaded
       * (a record sealed under one meanwhile loads it again), so rotations
       * never run into the bound on keys loaded at once. */
      else (void)keys_vault_unload_keks(keys, NULL, NULL);
    }
    if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.rotate-kek", true, NULL, rc,
                           NULL, err, "target %s", "*");
  }
  lisec_err lerr = {0};
  if (keys_vault_current_kek(keys, NULL, label, &lerr) && !rc) rc = lisec_err_set(err, lerr.code, "%s", lerr.msg);
  pthread_mutex_unlock(&one_at_a_time);
  if (!rc)
    *out = json_pack("{s:s, s:s, s:I, s:I}", "kek", label, "previous", prev_label, "rewrapped",
                     (json_int_t)r.rewrapped, "targets", (json_int_t)json_array_size(r.ids));
  rotation_free(&r);
  return rc;
}
