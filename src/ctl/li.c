/* The LI function of VMs in the controller: the LI administration's public
 * key and the PKCS#11 token where per-VM key pairs are made ([li]), and the
 * use cases that load a VM's record, run li/'s state machine on it, record
 * the act or the refusal (always sealed to the LI administration), then
 * store the new state and counter with the document version they were read
 * at, so two concurrent commands cannot both pass. A VM's key pair made in
 * the token is an EC P-256 pair whose private half is sensitive and not
 * extractable (label "lisec-li-vm:<vm>"); the keys process makes it
 * (keys/keys.h) and the controller keeps only its public half. */
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/clock.h"
#include "ctl/internal.h"
#include "ctl/li.h"
#include "ctl/model.h"
#include "li/li.h"

#define LI_KIND "li-vm"
#define LI_PUBKEY_MAX 4096

struct ctl_li_state {
  EVP_PKEY *admin_key; /* NULL: pairing and signed disabling are refused */
  /* The lock on the host (issue 15 item 3): [li] restart_stopped, the
   * paired VMs last seen not running (vm -> "state on host", so a finding
   * is recorded once per change) and the restarts each host's agent is
   * still to be asked for (host -> [vm...]), under obs_mu. lock_found:
   * what each finding in force says (vm -> {"reason", "host", "state",
   * "at"}), for compliance while it lasts. */
  bool restart_stopped;
  pthread_mutex_t obs_mu;
  json_t *lock_seen, *restarts, *lock_found;
  /* The VMs paired now (vm -> true): loaded with the model's pairing at
   * start and changed where a transition is stored (commit), under
   * paired_mu together with the store write, so the two cannot disagree.
   * Each host's report checks the lock against it instead of reading and
   * parsing every stored LI record (bench/inventory). */
  pthread_mutex_t paired_mu;
  json_t *paired;
};

/* ---- shared state ------------------------------------------------------- */

int ctl_li_state_open(const lisec_config *cfg, bool restart_stopped, struct ctl_li_state **out,
                      lisec_err *err) {
  struct ctl_li_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->obs_mu, NULL);
  pthread_mutex_init(&st->paired_mu, NULL);
  *out = st;
  st->lock_seen = json_object();
  st->restarts = json_object();
  st->lock_found = json_object();
  st->paired = json_object();
  if (!st->lock_seen || !st->restarts || !st->lock_found || !st->paired)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  const char *pub = lisec_config_str(cfg, "li", "admin_pubkey", NULL);
  st->restart_stopped = restart_stopped;
  int rc = 0;
  if (pub && (rc = crypto_pkey_load_pem(pub, false, &st->admin_key, err)))
    lisec_err_wrap(err, "[li] admin_pubkey");
  /* [li] pkcs11_module and its token are the keys process's */
  return rc;
}

void ctl_li_state_close(struct ctl_li_state *st) {
  if (!st) return;
  EVP_PKEY_free(st->admin_key);
  json_decref(st->lock_seen);
  json_decref(st->restarts);
  json_decref(st->lock_found);
  json_decref(st->paired);
  pthread_mutex_destroy(&st->obs_mu);
  pthread_mutex_destroy(&st->paired_mu);
  free(st);
}

static int li_vm_of(lisec_ctl *ctl, const char *vm, bool *is_li, char state[16], lisec_err *err);
static int restore_record(ctl_shared *sh, lisec_store *s, lisec_err *err);
static int li_instantiate(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err);

int ctl_li_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  int rc = ctl_li_state_open(cfg, sh->settings.li_restart_stopped, &sh->li, err);
  if (!rc) rc = restore_record(sh, s, err);
  if (!rc) rc = ctl_li_model_sync(sh, s, err);
  /* a VM termination asks here whether the VM is an LI VM (issue 21) */
  if (!rc) ctl_model_hook_li_vm(sh, li_vm_of);
  /* the LI lock's findings reach compliance through the model's hook */
  if (!rc) ctl_model_hook_findings(sh, CTL_MODEL_FINDINGS_LI_LOCK, CTL_LI_LOCK_RULE, ctl_li_lock_findings);
  return rc;
}

void ctl_li_close(ctl_shared *sh) {
  ctl_li_state_close(sh->li);
  sh->li = NULL;
}

/* ---- the VM document ---------------------------------------------------- */

/* key_sha256 names the VM's own key for its whole life; li/'s
 * vm.key_sha256 is the key the LI administration paired, cleared when the
 * LI function is switched off. */
typedef struct vm_doc {
  li_vm vm;
  uint8_t key_sha256[CRYPTO_SHA256_LEN];
  char *pubkey;           /* PEM */
  const char *key_source; /* "token" or "vm" (static strings) */
  int64_t version;        /* document version it was read at */
  /* restore_confirmed: the restore whose hold the LI administration ended
   * for this VM (or that came before its registration); was_held: held
   * when read (restore_apply). */
  int64_t confirmed;
  bool was_held;
} vm_doc;

static json_t *doc_json(const vm_doc *d) {
  char hex[2 * CRYPTO_SHA256_LEN + 1], now[32];
  lisec_hex_encode(d->key_sha256, sizeof d->key_sha256, hex);
  lisec_time_format(lisec_time_now(), now);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "vm", d->vm.id, "state",
                        li_state_name(d->vm.state), "key_sha256", hex, "pubkey", d->pubkey,
                        "key_source", d->key_source, "last_counter",
                        (json_int_t)d->vm.last_counter, "updated_at", now);
  if (j && d->vm.has_key) {
    lisec_hex_encode(d->vm.key_sha256, sizeof d->vm.key_sha256, hex);
    json_object_set_new(j, "paired_key_sha256", json_string(hex));
  }
  if (j && d->vm.state == LI_STATE_RETIRED) json_object_set_new(j, "key_destroyed", json_true());
  /* a hold ended (or none: registered after the restore) is stored as the
   * restore it was confirmed for */
  int64_t confirmed = d->confirmed;
  if (!d->vm.held && d->vm.restored_at > confirmed) confirmed = d->vm.restored_at;
  if (j && confirmed > 0) json_object_set_new(j, "restore_confirmed", json_integer(confirmed));
  return j;
}

/* What a reply says: the stored record, and a hold in force. */
static json_t *reply_json(const vm_doc *d) {
  json_t *j = doc_json(d);
  if (j && d->vm.held) {
    char at[32];
    lisec_time_format(d->vm.restored_at, at);
    json_object_set_new(j, "restore_hold",
                        json_pack("{s:s, s:s}", "restored_at", at, "requirement", LI_RESTORE_RULE));
  }
  return j;
}

static int load(lisec_ctl *ctl, const char *id, vm_doc *d, lisec_err *err) {
  memset(d, 0, sizeof *d);
  int rc = li_vm_id_check(id, err);
  if (rc) return rc;
  char *body = NULL;
  rc = store_doc_get(ctl->store, LI_KIND, id, &body, &d->version, err);
  if (rc == LISEC_ENOTFOUND) return lisec_err_set(err, rc, "VM %s has no LI function registered", id);
  if (rc) return rc;
  json_t *j = NULL;
  rc = lisec_json_parse(body, strlen(body), &j, err);
  free(body);
  const char *state = json_string_value(json_object_get(j, "state"));
  const char *hex = json_string_value(json_object_get(j, "key_sha256"));
  const char *paired = json_string_value(json_object_get(j, "paired_key_sha256"));
  const char *pem = json_string_value(json_object_get(j, "pubkey"));
  const char *src = json_string_value(json_object_get(j, "key_source"));
  json_t *counter = json_object_get(j, "last_counter");
  json_t *confirmed = json_object_get(j, "restore_confirmed");
  if (rc || (confirmed && (!json_is_integer(confirmed) || json_integer_value(confirmed) < 0)) ||
      !state || !hex || !pem || !src || !json_is_integer(counter) ||
      json_integer_value(counter) < 0 || li_vm_init(&d->vm, id, NULL) ||
      li_state_parse(state, &d->vm.state) || strlen(hex) != 2 * CRYPTO_SHA256_LEN ||
      lisec_hex_decode(hex, d->key_sha256, CRYPTO_SHA256_LEN) ||
      (paired && (strlen(paired) != 2 * CRYPTO_SHA256_LEN ||
                  lisec_hex_decode(paired, d->vm.key_sha256, CRYPTO_SHA256_LEN))) ||
      !(d->pubkey = strdup(pem))) {
    json_decref(j);
    free(d->pubkey);
    d->pubkey = NULL;
    return lisec_err_set(err, LISEC_ESTORE, "the stored LI record of VM %s does not parse", id);
  }
  d->vm.has_key = paired != NULL;
  d->vm.last_counter = (uint64_t)json_integer_value(counter);
  d->confirmed = confirmed ? (int64_t)json_integer_value(confirmed) : 0;
  d->key_source = strcmp(src, "token") == 0 ? "token" : "vm";
  json_decref(j);
  return 0;
}

static int save(lisec_ctl *ctl, const vm_doc *d, int64_t expected, lisec_err *err) {
  json_t *j = doc_json(d);
  char *text = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, LI_KIND, d->vm.id, text, expected, NULL, err);
  free(text);
  if (rc == LISEC_ECONFLICT)
    rc = lisec_err_set(err, rc, expected == 0 ? "VM %s is registered already"
                                              : "VM %s changed meanwhile; ask again",
                       d->vm.id);
  return rc;
}

/* ---- after a restore (docs/li.md, "After a restore") -------------------- */

/* The time in a restore document ({"restored_at":T}) of kind
 * LI_RESTORE_DOC_KIND: 0 when there is none, an error when it cannot be
 * read (the caller refuses: fail closed). */
static int restore_doc_time(lisec_store *s, const char *id, int64_t *t, lisec_err *err) {
  char *body = NULL;
  lisec_err e = {0};
  *t = 0;
  int rc = store_doc_get(s, LI_RESTORE_DOC_KIND, id, &body, NULL, &e);
  if (rc == LISEC_ENOTFOUND) return 0;
  if (rc)
    return lisec_err_set(err, rc, LI_RESTORE_RULE ": whether the store was restored cannot be read: %s",
                         e.msg);
  json_t *j = json_loads(body, 0, NULL);
  free(body);
  json_t *v = json_object_get(j, "restored_at");
  if (json_is_integer(v) && json_integer_value(v) > 0) *t = (int64_t)json_integer_value(v);
  else
    rc = lisec_err_set(err, LISEC_ESTORE, LI_RESTORE_RULE ": the store's restore record (%s) is malformed",
                       id);
  json_decref(j);
  return rc;
}

/* The latest restore's time onto a loaded record: the freshness every
 * signed message is held to, and whether this VM is held (registered
 * before that restore, its state not confirmed by the LI administration
 * since, not retired). */
static int restore_apply(lisec_ctl *ctl, vm_doc *d, lisec_err *err) {
  int rc = restore_doc_time(ctl->store, LI_RESTORE_LAST_ID, &d->vm.restored_at, err);
  if (rc) return rc;
  d->vm.held = d->vm.restored_at > d->confirmed && d->vm.state != LI_STATE_RETIRED;
  d->was_held = d->vm.held;
  return 0;
}

typedef struct held_list {
  int64_t restored_at;
  size_t n;
  char ids[AUDIT_STR_MAX / 2]; /* the first ones, for the record */
  bool cut;
} held_list;

static int held_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  held_list *h = ctx;
  json_t *j = json_loads(body, 0, NULL);
  const char *state = json_string_value(json_object_get(j, "state"));
  json_int_t confirmed = json_integer_value(json_object_get(j, "restore_confirmed"));
  if (!state || strcmp(state, "retired") != 0) {
    if (confirmed < h->restored_at) {
      size_t at = strlen(h->ids);
      if (!h->cut && at + strlen(id) + 3 < sizeof h->ids)
        snprintf(h->ids + at, sizeof h->ids - at, "%s%s", at ? ", " : "", id);
      else h->cut = true;
      h->n++;
    }
  }
  json_decref(j);
  return 0;
}

/* At start: a restore `lisec restore` left (LI_RESTORE_PENDING_ID) is
 * recorded, sealed, naming the VMs it holds, and becomes the latest
 * restore (LI_RESTORE_LAST_ID) in the record's own transaction, so the
 * hold is in force exactly when its record is durable. */
static int restore_record(ctl_shared *sh, lisec_store *s, lisec_err *err) {
  int64_t pending = 0, last = 0;
  int rc = restore_doc_time(s, LI_RESTORE_PENDING_ID, &pending, err);
  if (!rc && pending) rc = restore_doc_time(s, LI_RESTORE_LAST_ID, &last, err);
  if (rc || !pending) return rc;
  held_list h = {.restored_at = pending > last ? pending : last};
  if ((rc = store_doc_list(s, LI_KIND, held_cb, &h, err))) return rc;
  char at[32], min[32], body[64], subject[] = "li-restore", reason[AUDIT_STR_MAX];
  lisec_time_format(h.restored_at, at);
  lisec_time_format(h.restored_at + LI_CMD_LIFETIME_MAX, min);
  snprintf(body, sizeof body, "{\"restored_at\":%lld}", (long long)h.restored_at);
  snprintf(reason, sizeof reason,
           LI_RESTORE_RULE ": the store was restored from a backup at %s (lisec restore), which "
           "put the LI VMs' states and counters back: %zu LI VM(s) held as if paired until the LI "
           "administration confirms each (pairs it, lisec li confirm, or its signed command)%s%s%s; "
           "signed LI messages expiring at %s or earlier are refused",
           at, h.n, h.n ? ": " : "", h.ids, h.cut ? ", ..." : "", min);
  ctl_auditlog_doc docs[] = {
      {.kind = LI_RESTORE_DOC_KIND, .id = LI_RESTORE_LAST_ID, .body = body, .expected_version = -1},
      {.kind = LI_RESTORE_DOC_KIND,
       .id = LI_RESTORE_PENDING_ID,
       .body = ctl_auditlog_remove,
       .expected_version = -1},
  };
  audit_record rec = {.li = true, .actor = "lisecd", .role = "system", .action = "li.restore-hold",
                      .outcome = "ok", .subjects = {subject}, .n_subjects = 1, .reasons = {reason},
                      .n_reasons = 1};
  rc = ctl_auditlog_append_docs(sh->audit, &rec, true, docs, LISEC_ARRAY_LEN(docs), NULL, err);
  if (rc == LISEC_EDENIED) {
    /* No LI administration key to seal to ([audit] li_admin_key): no LI
     * act was recorded, so none was done; the hold and the freshness rule
     * still apply, recorded without naming any VM. */
    snprintf(reason, sizeof reason,
             LI_RESTORE_RULE ": the store was restored from a backup at %s; LI VMs are held and "
             "signed LI messages expiring at %s or earlier are refused",
             at, min);
    rec.li = false;
    rc = ctl_auditlog_append_docs(sh->audit, &rec, false, docs, LISEC_ARRAY_LEN(docs), NULL, err);
  }
  for (size_t i = 0; !rc && i < LISEC_ARRAY_LEN(docs); i++)
    if (docs[i].rc && docs[i].rc != LISEC_ENOTFOUND)
      rc = lisec_err_set(err, docs[i].rc, LI_RESTORE_RULE ": the restore's hold could not be stored");
  if (!rc)
    LOG_WARN("li: the store was restored from a backup at %s: LI VMs held until the LI "
             "administration confirms them; recorded",
             at);
  return rc;
}

/* The trust model learns which VMs are known (paired) LI VMs from here
 * alone (TR 103 308 §4.2). A VM not yet in the model gets it when added. */
static void tell_model(ctl_shared *sh, const char *vm, bool paired) {
  lisec_err err = {0};
  int rc = ctl_model_vm_paired(sh, vm, paired, &err);
  if (rc && rc != LISEC_ENOTFOUND)
    LOG_WARN("li: the trust model did not take VM %s's pairing: %s", vm, err.msg);
}

/* The paired set's change for vm; the caller holds paired_mu. */
static int paired_set(struct ctl_li_state *st, const char *vm, bool paired) {
  if (!paired) return json_object_del(st->paired, vm), 0;
  return json_object_set_new(st->paired, vm, json_true()) ? LISEC_ENOMEM : 0;
}

static int tell_model_stored(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  ctl_shared *sh = ctx;
  json_t *j = NULL;
  int rc = 0;
  if (lisec_json_parse(body, strlen(body), &j, NULL) == 0) {
    const char *state = json_string_value(json_object_get(j, "state"));
    if (state && strcmp(state, "paired") == 0) {
      tell_model(sh, id, true);
      if (sh->li) {
        pthread_mutex_lock(&sh->li->paired_mu);
        rc = paired_set(sh->li, id, true);
        pthread_mutex_unlock(&sh->li->paired_mu);
      }
    }
  }
  json_decref(j);
  return rc;
}

int ctl_li_model_sync(ctl_shared *sh, lisec_store *s, lisec_err *err) {
  return store_doc_list(s, LI_KIND, tell_model_stored, sh, err);
}

/* Records the accepted transition, then stores it at the version it was
 * read at; a store failure after the record is recorded as failed. */
static int commit(lisec_ctl *ctl, const ctl_actor *actor, const char *action, vm_doc *d,
                  const char *reason, json_t **out, lisec_err *err) {
  char why[LISEC_ERR_MSG_MAX + 256];
  if (d->was_held && !d->vm.held) {
    /* the hold's end is recorded with the act that ends it */
    char at[32];
    lisec_time_format(d->vm.restored_at, at);
    snprintf(why, sizeof why, "%s%s" LI_RESTORE_RULE ": the hold after the restore of %s ends (the "
             "LI administration confirmed VM %s's LI state: %s, last counter %llu)",
             reason ? reason : "", reason ? "; " : "", at, d->vm.id, li_state_name(d->vm.state),
             (unsigned long long)d->vm.last_counter);
    reason = why;
  }
  int rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, true, reason, 0, NULL, err, "li-vm %s",
                     d->vm.id);
  if (rc) return rc;
  struct ctl_li_state *st = ctl->shared->li;
  if (st) pthread_mutex_lock(&st->paired_mu);
  rc = save(ctl, d, d->version, err);
  /* Should the set not take the change (out of memory), the request fails
   * and says so rather than answer as if the lock now held the VM. */
  if (!rc && st && paired_set(st, d->vm.id, d->vm.state == LI_STATE_PAIRED))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (st) pthread_mutex_unlock(&st->paired_mu);
  if (rc) {
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, true, err->msg, 0, NULL, &ferr,
                    "li-vm %s", d->vm.id);
    return rc;
  }
  tell_model(ctl->shared, d->vm.id, d->vm.state == LI_STATE_PAIRED);
  *out = reply_json(d);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* The LI administration's message from the body: an object or its text. */
static int message_bytes(const json_t *body, const char *key, char **out, size_t *len,
                         lisec_err *err) {
  const json_t *m = json_object_get(body, key);
  if (json_is_string(m)) *out = strndup(json_string_value(m), LI_MSG_MAX + 1);
  else if (json_is_object(m)) *out = json_dumps(m, JSON_COMPACT);
  else return lisec_err_set(err, LISEC_EINVAL, "%s: the signed message (object or text) is required", key);
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *len = strlen(*out);
  if (*len > LI_MSG_MAX) {
    free(*out);
    return lisec_err_set(err, LISEC_ETOOBIG, "%s: longer than %d bytes", key, LI_MSG_MAX);
  }
  return 0;
}

/* The time an LI administration's signed statement or command (pairing,
 * li-disable, li-retire) is judged at: its expiry is checked against the
 * proven clock only (TR 103 308 §4.2). A clock set back would take a
 * captured command past its expiry again, one set forward refuse a valid
 * one; so with the clock unproven the command is refused with
 * TR103308-4.2-TIME (naming the clock, no VM) before anything is stored. */
static int command_time(lisec_ctl *ctl, int64_t *now, lisec_err *err) {
  return ctl_clock_trusted_s(ctl->shared, "the expiry of an LI administration's signed command", now, err);
}

static int need_admin_key(lisec_ctl *ctl, EVP_PKEY **key, lisec_err *err) {
  struct ctl_li_state *st = ctl->shared->li;
  *key = st ? st->admin_key : NULL;
  return *key ? 0
              : lisec_err_set(err, LISEC_EUNAVAIL,
                              "TR103308-4.1: no LI administration key is configured ([li] "
                              "admin_pubkey): nothing can be paired or switched off by command");
}

/* ---- use cases ---------------------------------------------------------- */

static bool role_is(const ctl_actor *actor, ctl_role a, ctl_role b) {
  ctl_role r = ctl_actor_role(actor);
  return r == a || r == b;
}

/* Reading LI VMs is for the LI administration and the hypervisor
 * administration that enables them; anyone else's attempt is recorded. */
static int may_read(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, lisec_err *err) {
  if (role_is(actor, CTL_ROLE_LI_ADMIN, CTL_ROLE_HV_ADMIN)) return 0;
  int rc = lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-4.1: role %.64s may not read LI VMs (li-admin, "
                         "hypervisor-admin only)",
                         actor->role ? actor->role : "(none)");
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "li.read", true, NULL, rc, NULL, err, "li-vm %s",
                   vm);
}

/* A VM's key is its own: the LI administration pairs a VM with the key
 * MANO registered for it, and lisecd verifies that VM's events with it, so
 * a key registered for two VMs would let one VM sign as the other once
 * both are paired. Registration looks for the key among every stored LI
 * VM (retired ones too: their key is said destroyed), under one lock with
 * the save so two registrations of one key cannot both pass. */
static pthread_mutex_t register_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct key_owner {
  char hex[2 * CRYPTO_SHA256_LEN + 1];
  uint8_t one_form[CRYPTO_SHA256_LEN]; /* key_one_form's digest of the key */
  char vm[LI_VM_ID_MAX + 1];           /* "" when no VM holds the key */
} key_owner;

/* The SHA-256 of a key's SPKI in one form: an EC key's point uncompressed
 * and its curve named (the OID). OpenSSL writes a key back as it read it,
 * so one P-256 key has four PEM texts (SEC1 point compressed or not, curve
 * named or spelt out as explicit parameters) and four key_sha256 values,
 * and verifies the same signatures under each. A curve without a name
 * cannot be written named: such a key is refused. */
static int key_one_form(EVP_PKEY *key, uint8_t out[CRYPTO_SHA256_LEN], lisec_err *err) {
  EVP_PKEY *k = EVP_PKEY_dup(key);
  int rc = k ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
      !EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                      OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED))
    rc = lisec_err_set(err, LISEC_ECRYPTO, "pubkey: the EC point cannot be written uncompressed");
  if (!rc && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
      !EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_GROUP))
    rc = lisec_err_set(err, LISEC_ECRYPTO, "pubkey: the EC curve cannot be written by its name");
  if (!rc) rc = li_key_sha256(k, out, err);
  EVP_PKEY_free(k);
  return rc;
}

static int owner_of_key(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  key_owner *o = ctx;
  json_t *j = NULL;
  if (o->vm[0] || lisec_json_parse(body, strlen(body), &j, NULL)) return 0; /* load refuses it where read */
  const char *hex = json_string_value(json_object_get(j, "key_sha256"));
  const char *pem = json_string_value(json_object_get(j, "pubkey"));
  EVP_PKEY *k = NULL;
  uint8_t d[CRYPTO_SHA256_LEN];
  bool same = hex && strcmp(hex, o->hex) == 0;
  if (!same && pem && crypto_pkey_from_pem(pem, strlen(pem), false, &k, NULL) == 0 &&
      key_one_form(k, d, NULL) == 0)
    same = memcmp(d, o->one_form, sizeof d) == 0;
  if (same) snprintf(o->vm, sizeof o->vm, "%s", id);
  EVP_PKEY_free(k);
  json_decref(j);
  return 0;
}

int ctl_li_instantiate(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                       lisec_err *err) {
  pthread_mutex_lock(&register_mu);
  int rc = li_instantiate(ctl, actor, body, out, err);
  pthread_mutex_unlock(&register_mu);
  return rc;
}

static int li_instantiate(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err) {
  static const char *action = "li.instantiate";
  const char *id = NULL, *pem = NULL;
  int rc;
  if ((rc = lisec_json_get_str(body, "vm", true, LI_VM_ID_MAX, &id, err))) return rc;
  if ((rc = lisec_json_get_str(body, "pubkey", true, LI_PUBKEY_MAX, &pem, err))) {
    if (rc == LISEC_EINVAL)
      lisec_err_wrap(err, "NFV-SEC025 key pair injection: the VM's own public key (PEM) is required");
    return rc;
  }
  if (!role_is(actor, CTL_ROLE_MANO, CTL_ROLE_HV_ADMIN)) {
    rc = lisec_err_set(err, LISEC_EAUTH,
                       "TR103308-4.1: role %.64s may not register LI VMs (mano, hypervisor-admin "
                       "only)",
                       actor->role ? actor->role : "(none)");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s",
                     id);
  }
  vm_doc d = {0};
  if ((rc = li_vm_init(&d.vm, id, err))) return rc;
  /* registered after the latest restore: not held by it (stored as
   * confirmed for it); its messages are held to its freshness all the same */
  if ((rc = restore_doc_time(ctl->store, LI_RESTORE_LAST_ID, &d.vm.restored_at, err))) return rc;
  char *exists = NULL;
  if (store_doc_get(ctl->store, LI_KIND, id, &exists, NULL, NULL) == 0) {
    /* A retired VM's record (its counter, its key's hash) stays: its id is
     * not an LI VM's again, so no old command or key applies to a new one. */
    json_t *old = NULL;
    const char *was = lisec_json_parse(exists, strlen(exists), &old, NULL) == 0
                          ? json_string_value(json_object_get(old, "state"))
                          : NULL;
    bool retired = was && strcmp(was, "retired") == 0;
    json_decref(old);
    free(exists);
    if (retired)
      rc = lisec_err_set(err, LISEC_ECONFLICT,
                         "TR103308-4.1: VM %s was an LI VM and is retired; a retired LI VM's id is "
                         "not registered again (its record, counter and key stay its own): "
                         "register the new VM under a new id", id);
    else
      rc = lisec_err_set(err, LISEC_ECONFLICT, "TR103308-4.1: VM %s is registered already", id);
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s",
                     id);
  }
  /* The VM generated its key pair (in its vTPM or in the VM; liblisec-events)
   * and brings the public key; the LI administration's pairing statement
   * certifies it. lisecd generates no key for a VM. */
  EVP_PKEY *key = NULL;
  d.key_source = "vm";
  if ((rc = crypto_pkey_from_pem(pem, strlen(pem), false, &key, err))) {
    lisec_err_wrap(err, "pubkey");
    return rc;
  }
  key_owner o = {0};
  rc = li_key_sha256(key, d.key_sha256, err);
  if (!rc) rc = key_one_form(key, o.one_form, err);
  if (!rc) rc = crypto_pkey_public_pem(key, &d.pubkey, err);
  EVP_PKEY_free(key);
  lisec_hex_encode(d.key_sha256, sizeof d.key_sha256, o.hex);
  if (!rc) rc = store_doc_list(ctl->store, LI_KIND, owner_of_key, &o, err);
  if (!rc && o.vm[0]) {
    /* the answer names no other VM (MANO may not read LI VMs); the sealed
     * record, the LI administration's, does */
    char why[LI_VM_ID_MAX + 2 * CRYPTO_SHA256_LEN + 96];
    snprintf(why, sizeof why, "the public key (sha256 %s) is registered to LI VM %s already", o.hex,
             o.vm);
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-4.1: this public key is registered to another LI VM already; "
                       "each VM makes its own key pair (lisec-event keygen), so that no VM's key "
                       "signs as another's");
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, why, rc, NULL, err, "li-vm %s", id);
    free(d.pubkey);
    return rc;
  }
  char reason[160];
  snprintf(reason, sizeof reason, "key pair generated by the VM");
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, true, reason, 0, NULL, err,
                          "li-vm %s", id);
  if (!rc && (rc = save(ctl, &d, 0, err))) {
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, true, err->msg, 0, NULL, &ferr,
                    "li-vm %s", id);
  }
  if (!rc && !(*out = doc_json(&d))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  free(d.pubkey);
  return rc;
}

typedef enum { OP_ENABLE, OP_DISABLE } simple_op;

static int simple(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, simple_op op,
                  json_t **out, lisec_err *err) {
  const char *action = op == OP_ENABLE ? "li.enable" : "li.disable";
  /* Roles that may not switch LI functions are refused before anything is
   * loaded, all with one answer: whether the VM is unknown, unpaired or
   * paired is not theirs to learn (li/ refuses the rest by state). */
  if (!role_is(actor, CTL_ROLE_HV_ADMIN, CTL_ROLE_LI_ADMIN)) {
    int rc = lisec_err_set(err, LISEC_EAUTH,
                           "TR103308-4.1: role %.64s may not switch the LI function of VMs on or "
                           "off (the hypervisor administration before pairing; after pairing only "
                           "the LI administration's signed command)",
                           actor->role ? actor->role : "(none)");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s",
                     vm);
  }
  vm_doc d;
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL) return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED,
                                                                    action, true, NULL, rc, NULL,
                                                                    err, "li-vm %s", vm);
  if (rc) return rc;
  if ((rc = restore_apply(ctl, &d, err))) {
    free(d.pubkey);
    return rc;
  }
  rc = op == OP_ENABLE ? li_enable(&d.vm, actor->role, err) : li_disable(&d.vm, actor->role, err);
  if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err,
                         "li-vm %s", vm);
  else rc = commit(ctl, actor, action, &d, NULL, out, err);
  free(d.pubkey);
  return rc;
}

int ctl_li_enable(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                  lisec_err *err) {
  return simple(ctl, actor, vm, OP_ENABLE, out, err);
}

int ctl_li_disable(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                   lisec_err *err) {
  return simple(ctl, actor, vm, OP_DISABLE, out, err);
}

int ctl_li_pair(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const json_t *body,
                json_t **out, lisec_err *err) {
  static const char *action = "li.pair";
  EVP_PKEY *admin = NULL, *vm_key = NULL;
  char *msg = NULL;
  size_t len = 0;
  int64_t now = 0;
  vm_doc d;
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL) return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED,
                                                                    action, true, NULL, rc, NULL,
                                                                    err, "li-vm %s", vm);
  if (rc) return rc;
  if ((rc = restore_apply(ctl, &d, err)) || (rc = need_admin_key(ctl, &admin, err)) ||
      (rc = message_bytes(body, "statement", &msg, &len, err)) ||
      (rc = crypto_pkey_from_pem(d.pubkey, strlen(d.pubkey), false, &vm_key, err)) ||
      (rc = command_time(ctl, &now, err)) ||
      (rc = li_pair(&d.vm, actor->role, admin, vm_key, (const uint8_t *)msg, len, now, err)))
    rc = rc == LISEC_ENOMEM ? rc : ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc,
                                             NULL, err, "li-vm %s", vm);
  else
    rc = commit(ctl, actor, action, &d, "paired with the LI administration", out, err);
  EVP_PKEY_free(vm_key);
  free(msg);
  free(d.pubkey);
  return rc;
}

int ctl_li_disable_signed(lisec_ctl *ctl, const ctl_actor *actor, const char *vm,
                          const json_t *body, json_t **out, lisec_err *err) {
  static const char *action = "li.disable-command";
  EVP_PKEY *admin = NULL;
  char *msg = NULL;
  size_t len = 0;
  int64_t now = 0;
  vm_doc d;
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL) return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED,
                                                                    action, true, NULL, rc, NULL,
                                                                    err, "li-vm %s", vm);
  if (rc) return rc;
  if ((rc = restore_apply(ctl, &d, err)) || (rc = need_admin_key(ctl, &admin, err)) ||
      (rc = message_bytes(body, "command", &msg, &len, err)) || (rc = command_time(ctl, &now, err)) ||
      (rc = li_disable_signed(&d.vm, admin, (const uint8_t *)msg, len, now, err))) {
    rc = rc == LISEC_ENOMEM ? rc : ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc,
                                             NULL, err, "li-vm %s", vm);
  } else {
    char reason[96];
    snprintf(reason, sizeof reason, "switched off by the LI administration's command %llu",
             (unsigned long long)d.vm.last_counter);
    rc = commit(ctl, actor, action, &d, reason, out, err);
  }
  free(msg);
  free(d.pubkey);
  return rc;
}

/* After a restore: the LI administration confirms a held VM's state as the
 * restored store has it (docs/li.md, "After a restore"). Other roles are
 * refused before anything is loaded, naming no VM. */
int ctl_li_confirm(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                   lisec_err *err) {
  static const char *action = "li.confirm";
  if (ctl_actor_role(actor) != CTL_ROLE_LI_ADMIN) {
    int rc = lisec_err_set(err, LISEC_EAUTH,
                           LI_RESTORE_RULE ": only the LI administration confirms the LI state of "
                           "VMs after a restore (refused for role %.64s)",
                           actor->role ? actor->role : "(none)");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s", vm);
  }
  vm_doc d;
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL)
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s", vm);
  if (rc) return rc;
  if ((rc = restore_apply(ctl, &d, err)) || (rc = li_confirm(&d.vm, actor->role, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s", vm);
  else
    rc = commit(ctl, actor, action, &d, "the LI administration confirmed the restored LI state", out, err);
  free(d.pubkey);
  return rc;
}

/* ---- retirement (issue 21 item 1) ---------------------------------------- */

/* The model's hook: an LI VM (registered, not retired) ends only by the LI
 * administration's retire command. */
static int li_vm_of(lisec_ctl *ctl, const char *vm, bool *is_li, char state[16], lisec_err *err) {
  vm_doc d;
  *is_li = false;
  state[0] = '\0';
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND) return 0;
  if (rc) return rc;
  *is_li = d.vm.state != LI_STATE_RETIRED;
  snprintf(state, 16, "%s", li_state_name(d.vm.state));
  free(d.pubkey);
  return 0;
}

/* What the lock on the host keeps about vm, dropped: a retired VM is not
 * held to it (no finding, no restart asked). */
static void lock_forget(struct ctl_li_state *st, const char *vm) {
  if (!st) return;
  pthread_mutex_lock(&st->obs_mu);
  json_object_del(st->lock_seen, vm);
  json_object_del(st->lock_found, vm);
  const char *host;
  json_t *q;
  json_object_foreach(st->restarts, host, q) {
    for (size_t i = json_array_size(q); i-- > 0;)
      if (strcmp(json_string_value(json_array_get(q, i)), vm) == 0) json_array_remove(q, i);
  }
  pthread_mutex_unlock(&st->obs_mu);
}

int ctl_li_retire(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const json_t *body,
                  json_t **out, lisec_err *err) {
  static const char *action = "li.retire";
  EVP_PKEY *admin = NULL;
  char *msg = NULL, li[MODEL_ID_MAX + 1];
  size_t len = 0;
  vm_doc d;
  if (ctl_actor_role(actor) != CTL_ROLE_LI_ADMIN) {
    int rc = lisec_err_set(err, LISEC_EAUTH,
                           "TR103308-4.1: only the LI administration retires an LI VM (refused for "
                           "role %.64s)",
                           actor->role ? actor->role : "(none)");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s", vm);
  }
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL) {
    lisec_err_wrap(err, "TR103308-4.1: retire");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc, NULL, err, "li-vm %s", vm);
  }
  if (rc) return rc;
  li_state before = d.vm.state;
  if ((rc = restore_apply(ctl, &d, err)) || (rc = need_admin_key(ctl, &admin, err)) ||
      (rc = message_bytes(body, "command", &msg, &len, err))) {
    /* below */
  } else if (before != LI_STATE_RETIRED && ctl_model_li_naming_vm(ctl->shared, vm, li)) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-4.1: LI VM %s is in use: LI authorisation %s names it; end or "
                       "change that authorisation first",
                       vm, li);
  } else {
    int64_t now = 0;
    if (!(rc = command_time(ctl, &now, err)))
      rc = li_retire_signed(&d.vm, admin, (const uint8_t *)msg, len, now, err);
  }
  free(msg);
  /* every refusal names the requirement, the message format's too */
  if (rc && !strstr(err->msg, "TR103308")) lisec_err_wrap(err, "TR103308-4.1: retire");
  if (rc) {
    rc = rc == LISEC_ENOMEM ? rc : ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, true, NULL, rc,
                                             NULL, err, "li-vm %s", vm);
    free(d.pubkey);
    return rc;
  }
  char reason[LISEC_ERR_MSG_MAX + 128];
  int n = snprintf(reason, sizeof reason,
           "retired by the LI administration's command %llu: %s; its key (generated by the VM, "
           "which destroys it) is no longer accepted: its events are refused from now on; no LI "
           "authorisation names VM %s, so the ADMF holds no X1 task for it, and an LI naming it "
           "later is not compliant (TR103308-4.2-KNOWN) and gets none",
           (unsigned long long)d.vm.last_counter,
           before == LI_STATE_PAIRED ? "its pairing with the LI administration ends"
                                     : before == LI_STATE_ENABLED ? "its LI function (enabled, not paired) ends"
                                                                  : "its LI function was off",
           vm);
  if (d.was_held && n > 0 && (size_t)n < sizeof reason)
    snprintf(reason + n, sizeof reason - (size_t)n,
             "; " LI_RESTORE_RULE ": the hold after the restore ends (the LI administration retired it)");
  /* Recorded before anything changes. */
  if ((rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, true, reason, 0, NULL, err, "li-vm %s", vm))) {
    free(d.pubkey);
    return rc;
  }
  struct ctl_li_state *st = ctl->shared->li;
  if (!rc) {
    if (st) pthread_mutex_lock(&st->paired_mu);
    rc = save(ctl, &d, d.version, err);
    if (!rc && st) paired_set(st, vm, false);
    if (st) pthread_mutex_unlock(&st->paired_mu);
  }
  if (rc) {
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, true, err->msg, 0, NULL, &ferr, "li-vm %s", vm);
    free(d.pubkey);
    return rc;
  }
  LOG_INFO("li: an LI VM was retired");
  tell_model(ctl->shared, vm, false);
  lock_forget(st, vm);
  *out = doc_json(&d);
  free(d.pubkey);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ctl_li_event_pubkey(lisec_ctl *ctl, const char *vm, char **pem, const char **kind, lisec_err *err) {
  vm_doc d;
  *pem = NULL;
  *kind = "li";
  int rc = load(ctl, vm, &d, err);
  if (rc == LISEC_ENOTFOUND || rc == LISEC_EINVAL)
    return lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1: events refused: the sender is not a registered LI VM");
  if (rc) return rc;
  if (d.vm.state == LI_STATE_RETIRED)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: events refused: the VM is retired; its key is no longer accepted");
  else if (d.vm.state != LI_STATE_PAIRED || !d.vm.has_key)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: events refused: the VM is not paired with the LI administration "
                       "(not enabled, disabled or not yet paired)");
  else if (!crypto_ct_equal(d.vm.key_sha256, d.key_sha256, CRYPTO_SHA256_LEN))
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: events refused: the paired key is not the VM's registered key");
  if (rc) free(d.pubkey);
  else *pem = d.pubkey;
  return rc;
}

int ctl_li_event_key(lisec_ctl *ctl, const char *vm, EVP_PKEY **key, const char **kind, lisec_err *err) {
  char *pem = NULL;
  *key = NULL;
  int rc = ctl_li_event_pubkey(ctl, vm, &pem, kind, err);
  if (!rc && crypto_pkey_from_pem(pem, strlen(pem), false, key, err))
    rc = lisec_err_set(err, LISEC_ESTORE, "the stored key of an LI VM does not parse");
  free(pem);
  return rc;
}

int ctl_li_get(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
               lisec_err *err) {
  vm_doc d;
  int rc = may_read(ctl, actor, vm, err);
  if (!rc) rc = load(ctl, vm, &d, err);
  if (rc) return rc;
  if ((rc = restore_apply(ctl, &d, err))) {
    free(d.pubkey);
    return rc;
  }
  *out = reply_json(&d);
  free(d.pubkey);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  json_t *j = NULL;
  if (lisec_json_parse(body, strlen(body), &j, NULL)) return LISEC_ESTORE;
  json_object_del(j, "pubkey");
  json_array_append_new(ctx, j);
  return 0;
}

int ctl_li_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  int rc = may_read(ctl, actor, "*", err);
  if (rc) return rc;
  json_t *arr = json_array();
  rc = store_doc_list(ctl->store, LI_KIND, list_cb, arr, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored LI record does not parse");
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "vms", arr);
  return 0;
}

/* ---- the lock on the host (issue 15 item 3) ----------------------------------- */

typedef struct paired_list {
  json_t *ids; /* the paired VMs' ids */
} paired_list;

/* Queues vm for host's agent (once). Caller holds obs_mu. */
static void restart_queue(struct ctl_li_state *st, const char *host, const char *vm) {
  json_t *q = json_object_get(st->restarts, host);
  if (!q && (q = json_array()) && json_object_set_new(st->restarts, host, q)) return;
  if (!q) return;
  size_t i;
  json_t *v;
  json_array_foreach(q, i, v) if (strcmp(json_string_value(v), vm) == 0) return;
  json_array_append_new(q, json_string(vm));
}

/* Keeps what a TR103308-4.1-LOCK finding says while it lasts, for
 * compliance; reason NULL: it ended (the VM runs again). */
static void lock_note(struct ctl_li_state *st, const char *vm, const char *reason, const char *state,
                      const ctl_observation *obs) {
  json_t *f = reason ? json_pack("{s:s, s:s, s:s, s:I}", "reason", reason, "host", obs->host,
                                 "state", state, "at", (json_int_t)obs->quote_time)
                     : NULL;
  pthread_mutex_lock(&st->obs_mu);
  if (f) json_object_set_new(st->lock_found, vm, f);
  else json_object_del(st->lock_found, vm);
  pthread_mutex_unlock(&st->obs_mu);
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The VMs paired now, from the paired set, in id order as the store lists
 * them, into pl->ids (a new array the caller releases, even on failure). */
static int paired_vms(lisec_ctl *ctl, paired_list *pl, lisec_err *err) {
  struct ctl_li_state *st = ctl->shared->li;
  if (!(pl->ids = json_array())) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_lock(&st->paired_mu);
  size_t n = json_object_size(st->paired), i = 0;
  json_t **v = calloc(n ? n : 1, sizeof *v);
  int rc = v ? 0 : LISEC_ENOMEM;
  const char *id;
  json_t *t;
  if (v) {
    json_object_foreach(st->paired, id, t) {
      if (!(v[i] = json_string(id))) {
        rc = LISEC_ENOMEM;
        break;
      }
      i++;
    }
  }
  pthread_mutex_unlock(&st->paired_mu);
  if (!rc) qsort(v, i, sizeof *v, cmp_id);
  for (size_t k = 0; k < i; k++) {
    if (rc) json_decref(v[k]);
    else if (json_array_append_new(pl->ids, v[k])) rc = LISEC_ENOMEM;
  }
  free(v);
  return rc ? lisec_err_set(err, rc, "out of memory") : 0;
}

int ctl_li_observe(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                   lisec_err *err) {
  static const char *action = "li.lock";
  struct ctl_li_state *st = ctl->shared->li;
  if (!st) return 0;
  paired_list pl = {NULL};
  int rc = paired_vms(ctl, &pl, err);
  if (!pl.ids) return rc;
  size_t i;
  json_t *idj;
  json_array_foreach(pl.ids, i, idj) {
    if (rc) break;
    const char *vm = json_string_value(idj), *state = NULL;
    for (size_t k = 0; k < obs->n && !state; k++)
      if (obs->domains[k].vm && strcmp(obs->domains[k].vm, vm) == 0) state = obs->domains[k].state;
    if (!state) {
      /* Not here: gone only from the host the model says runs it (a VM
       * elsewhere is that host's to report; a move is B's placement). */
      char host[MODEL_ID_MAX + 1], pkg[MODEL_ID_MAX + 1];
      lisec_err merr = {0};
      if (ctl_model_vm_runs_on(ctl->shared, vm, host, pkg, &merr) || strcmp(host, obs->host) != 0)
        continue;
      state = "gone";
    }
    bool running = strcmp(state, "running") == 0;
    char seen[32 + MODEL_ID_MAX + 8], reason[LISEC_ERR_MSG_MAX];
    snprintf(seen, sizeof seen, "%s on %s", state, obs->host);
    pthread_mutex_lock(&st->obs_mu);
    const char *before = json_string_value(json_object_get(st->lock_seen, vm));
    bool changed = running ? before != NULL : !before || strcmp(before, seen) != 0;
    bool restart = !running && st->restart_stopped && strcmp(state, "gone") != 0;
    if (running) json_object_del(st->lock_seen, vm);
    else json_object_set_new(st->lock_seen, vm, json_string(seen));
    if (restart) restart_queue(st, obs->host, vm);
    pthread_mutex_unlock(&st->obs_mu);
    if (!changed) continue;
    if (running)
      snprintf(reason, sizeof reason, "paired LI VM %s observed running again on host %.128s (quote %s)",
               vm, obs->host, obs->evidence ? obs->evidence : "?");
    else
      snprintf(reason, sizeof reason,
               CTL_LI_LOCK_RULE " (high): paired LI VM %s observed %s on host %.128s (quote %s); once "
               "paired, only the LI administration's signed command switches it off%s",
               vm, state, obs->host, obs->evidence ? obs->evidence : "?",
               restart ? "; its host's agent is asked to start it" : "");
    lock_note(st, vm, running ? NULL : reason, state, obs);
    rc = ctl_audit(ctl, actor, running ? CTL_OUTCOME_OK : CTL_OUTCOME_DENIED, action, true, reason, 0,
                   NULL, err, "li-vm %s", vm);
  }
  json_decref(pl.ids);
  return rc;
}

json_t *ctl_li_restarts_take(lisec_ctl *ctl, const ctl_actor *actor, const char *host) {
  struct ctl_li_state *st = ctl->shared->li;
  if (!st) return NULL;
  pthread_mutex_lock(&st->obs_mu);
  json_t *q = json_incref(json_object_get(st->restarts, host));
  json_object_del(st->restarts, host);
  pthread_mutex_unlock(&st->obs_mu);
  size_t i;
  json_t *v;
  json_array_foreach(q, i, v) {
    char reason[LISEC_ERR_MSG_MAX];
    snprintf(reason, sizeof reason, "host %.128s's agent asked to start paired LI VM %s", host,
             json_string_value(v));
    lisec_err rerr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_OK, "li.restart", true, reason, 0, NULL, &rerr,
                    "li-vm %s", json_string_value(v));
  }
  return q;
}

int ctl_li_lock_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err) {
  struct ctl_li_state *st = ctl->shared->li;
  if (!st) return 0;
  /* Only VMs paired now: one the LI administration switched off since is
   * no longer held to the lock. */
  paired_list pl = {NULL};
  int rc = paired_vms(ctl, &pl, err);
  if (!pl.ids) return rc;
  size_t i;
  json_t *idj;
  pthread_mutex_lock(&st->obs_mu);
  json_array_foreach(pl.ids, i, idj) {
    if (rc) break;
    const char *vm = json_string_value(idj);
    const json_t *f = json_object_get(st->lock_found, vm);
    if (!f) continue;
    char subject[LI_VM_ID_MAX + 16], sentence[LISEC_ERR_MSG_MAX + 64], fact[2 * LI_VM_ID_MAX + 64],
        at[32];
    lisec_time_format(json_integer_value(json_object_get(f, "at")), at);
    snprintf(subject, sizeof subject, "li-vm %s", vm);
    snprintf(sentence, sizeof sentence, "%s (attested inventory at %s)",
             json_string_value(json_object_get(f, "reason")), at);
    snprintf(fact, sizeof fact, "state(paired LI VM %s on host %.64s) = %s == running: false", vm,
             json_string_value(json_object_get(f, "host")),
             json_string_value(json_object_get(f, "state")));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", CTL_LI_LOCK_RULE, "clauses",
                          "TR 103 308 §4.1 (once paired, only the LI administration switches an "
                          "LI VM off)",
                          "subject", subject, "sentence", sentence, "fact", fact);
    if (!v || json_array_append_new(violations, v)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  pthread_mutex_unlock(&st->obs_mu);
  json_decref(pl.ids);
  return rc;
}
