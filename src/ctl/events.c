/* The intake of LI VMs' signed events (ctl/events.h): parse within the
 * limits, find the VM's paired key (ctl/li.c), verify every signature,
 * apply the sequence rules against the VM's last accepted seq, then append
 * one audit record for the batch, sealed to the administration of the VM's
 * kind, with the VM's new last seq in the same durable transaction (group
 * commit: ctl_auditlog_append_docs), and only then answer. One VM's
 * batches are taken one at a time in this process (a stripe of locks by
 * VM id), so two concurrent batches cannot both pass the sequence check;
 * the document's version guards the same across processes. The VM's record
 * is read from the store for every batch (its pairing and state decide);
 * only the decoding of its key's PEM text, the costliest step after the
 * signatures themselves, is kept, by that text, so a changed key is never
 * taken for the old one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/events.h"
#include "ctl/internal.h"
#include "ctl/li.h"
#include "events/events.h"

#define SEQ_KIND "li-event-seq"
#define ACTION "li.event"
#define STRIPES 64
#define KEY_WAYS 4 /* decoded keys kept per stripe: 256 in all */

typedef struct key_slot {
  char *pem; /* the paired key's PEM text, as stored */
  EVP_PKEY *key;
  uint64_t used;
} key_slot;

typedef struct stripe {
  pthread_mutex_t mu;
  key_slot keys[KEY_WAYS];
  uint64_t clock;
} stripe;

static stripe stripes[STRIPES] = {[0 ... STRIPES - 1] = {.mu = PTHREAD_MUTEX_INITIALIZER}};

static stripe *stripe_of(const char *vm) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = vm; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  return &stripes[h % STRIPES];
}

/* The decoded key of this PEM text (*key up-referenced, the caller frees
 * it), from the stripe's slots or decoded and kept in the least recently
 * used one. Called under the stripe's lock. */
static int key_of(stripe *st, const char *pem, EVP_PKEY **key, lisec_err *err) {
  key_slot *victim = &st->keys[0];
  for (size_t i = 0; i < KEY_WAYS; i++) {
    key_slot *k = &st->keys[i];
    if (k->pem && strcmp(k->pem, pem) == 0) {
      k->used = ++st->clock;
      *key = k->key;
      return EVP_PKEY_up_ref(k->key) == 1 ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    if (k->used < victim->used) victim = k;
  }
  EVP_PKEY *fresh = NULL;
  char *copy = strdup(pem);
  if (!copy) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (crypto_pkey_from_pem(pem, strlen(pem), false, &fresh, err)) {
    free(copy);
    return lisec_err_set(err, LISEC_ESTORE, "the stored key of an LI VM does not parse");
  }
  free(victim->pem);
  EVP_PKEY_free(victim->key);
  *victim = (key_slot){copy, fresh, ++st->clock};
  *key = fresh;
  return EVP_PKEY_up_ref(fresh) == 1 ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* The one place the seal of a VM's events is chosen by the VM's kind: an
 * LI VM's events are sealed to the LI administration's key ([audit]
 * li_admin_key). RD VMs (issue 20 items 1-2) get the RD administration's
 * key here when they exist; until then their events are refused. */
static int seal_for(const char *kind, bool *li_sealed, lisec_err *err) {
  if (strcmp(kind, "li") == 0) {
    *li_sealed = true;
    return 0;
  }
  return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-4.1: events of a VM of kind %s cannot be sealed yet", kind);
}

typedef struct seq_state {
  uint64_t last, gaps;
  int64_t version; /* 0: none stored yet */
  /* SHA-256 of the canonical bytes of the event at seq last (has_digest:
   * stored; a document of a lisecd before it has none) */
  uint8_t digest[CRYPTO_SHA256_LEN];
  bool has_digest;
} seq_state;

static int seq_load(lisec_ctl *ctl, const char *vm, seq_state *s, lisec_err *err) {
  memset(s, 0, sizeof *s);
  char *body = NULL;
  int rc = store_doc_get(ctl->store, SEQ_KIND, vm, &body, &s->version, err);
  if (rc == LISEC_ENOTFOUND) {
    s->version = 0;
    lisec_err_clear(err);
    return 0;
  }
  if (rc) return rc;
  json_t *j = NULL;
  int64_t last = 0, gaps = 0;
  rc = lisec_json_parse(body, strlen(body), &j, err);
  free(body);
  if (!rc && (lisec_json_get_int(j, "last_seq", true, 0, (int64_t)EV_SEQ_MAX, &last, err) ||
              lisec_json_get_int(j, "gaps", true, 0, INT64_MAX, &gaps, err)))
    rc = LISEC_ESTORE;
  const char *hex = rc ? NULL : json_string_value(json_object_get(j, "last_digest"));
  if (hex && (strlen(hex) != 2 * CRYPTO_SHA256_LEN || lisec_hex_decode(hex, s->digest, CRYPTO_SHA256_LEN)))
    rc = LISEC_ESTORE;
  s->has_digest = hex != NULL;
  json_decref(j);
  if (rc) return lisec_err_set(err, LISEC_ESTORE, "a stored LI event sequence does not parse");
  s->last = (uint64_t)last;
  s->gaps = (uint64_t)gaps;
  return 0;
}

/* A refusal, recorded sealed with what the sender is not told (the VM),
 * then returned as it was. */
static int refuse(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, int rc, lisec_err *err) {
  if (rc == LISEC_ENOMEM) return rc;
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, ACTION, true, NULL, rc, NULL, err, "li-vm %s",
                   vm ? vm : "(not named)");
}

/* For a replayed batch: 1 when its event at the VM's last accepted seq is
 * the one recorded there, 0 when it is another, -1 when the batch holds no
 * event at that seq or no digest of it is stored. Another event, signed by
 * the VM's paired key at a seq it had used, is proof that the VM's counter
 * went back (its state file reset, or the VM restored from a snapshot):
 * old signed events replayed by anyone are the same events. */
static int same_as_last(const seq_state *s, const ev_batch *b) {
  if (!s->has_digest) return -1;
  for (size_t i = 0; i < b->n; i++) {
    if (b->ev[i].rec.seq != s->last) continue;
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_sha256(b->ev[i].canonical, strlen(b->ev[i].canonical), d);
    return memcmp(d, s->digest, sizeof d) == 0;
  }
  return -1;
}

/* A replay that proves the VM's counter went back: refused as any replay,
 * its sealed record carrying the finding (the answer names no VM). */
static int refuse_rollback(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const seq_state *s,
                           int rc, lisec_err *err) {
  char why[AUDIT_STR_MAX + 1];
  snprintf(why, sizeof why,
           "finding " CTL_EVENTS_ROLLBACK_RULE ": the VM signed another event at seq %llu than the "
           "one recorded: its event counter went back (its state reset, or the VM restored from a "
           "snapshot); %s",
           (unsigned long long)s->last, err->msg);
  LOG_WARN("events: an LI VM's event counter went back (" CTL_EVENTS_ROLLBACK_RULE ", recorded sealed)");
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, ACTION, true, why, rc, NULL, err, "li-vm %s", vm);
}

/* Verifies, checks the sequence and appends, under the VM's stripe. */
static int take(lisec_ctl *ctl, const ctl_actor *actor, stripe *st, const ev_batch *b, json_t **out,
                lisec_err *err) {
  const char *vm = b->ev[0].rec.vm, *kind = NULL;
  EVP_PKEY *key = NULL;
  char *pem = NULL;
  bool li_sealed = false;
  int rc = ctl_li_event_pubkey(ctl, vm, &pem, &kind, err);
  if (!rc) rc = key_of(st, pem, &key, err);
  free(pem);
  if (!rc) rc = seal_for(kind, &li_sealed, err);
  if (!rc) rc = ev_batch_verify(b, key, err);
  EVP_PKEY_free(key);
  if (rc) return refuse(ctl, actor, vm, rc, err);
  seq_state s;
  ev_seq_verdict v;
  if ((rc = seq_load(ctl, vm, &s, err))) return rc;
  if ((rc = ev_seq_check(s.last, b, &v, err))) {
    int same = v.replayed ? same_as_last(&s, b) : -1;
    if (same == 0) rc = refuse_rollback(ctl, actor, vm, &s, rc, err);
    else rc = refuse(ctl, actor, vm, rc, err);
    /* a replay carries the VM's last accepted seq as a field, so the VM's
     * spool need not read it out of the message, and whether the batch's
     * event at that seq is the one recorded there (docs/events.md "A
     * counter that went back") */
    if (rc == LISEC_ECONFLICT && v.replayed) {
      *out = json_pack("{s:I}", "last_seq", (json_int_t)s.last);
      if (*out && same >= 0) json_object_set_new(*out, "last_same", json_boolean(same));
    }
    return rc;
  }

  char subject[AUDIT_STR_MAX + 1], finding[AUDIT_STR_MAX + 1], batch_sig[AUDIT_STR_MAX + 1], doc[192];
  snprintf(subject, sizeof subject, "li-vm %s", vm);
  audit_record r = {.li = li_sealed, .actor = actor->subject, .role = actor->role, .action = ACTION,
                    .outcome = "ok", .subjects = {subject}, .n_subjects = 1};
  if (v.gaps) {
    snprintf(finding, sizeof finding,
             "finding " CTL_EVENTS_GAP_RULE ": sequence gap, seq %llu expected, %llu received (%zu "
             "gap(s) in this batch): events of the VM may be lost or withheld",
             (unsigned long long)v.expected, (unsigned long long)v.got, v.gaps);
    r.subjects[r.n_subjects++] = finding;
  }
  if (b->form == 2) {
    /* the batch's signature; its statement is rebuilt from the events'
     * digests below, in order (docs/events.md "A signed batch") */
    snprintf(batch_sig, sizeof batch_sig, "signed batch v%d sig %s", EV_BATCH_VERSION, b->sig_b64);
    r.subjects[r.n_subjects++] = batch_sig;
  }
  for (size_t i = 0; i < b->n; i++) r.reasons[r.n_reasons++] = b->ev[i].text;
  uint8_t last_digest[CRYPTO_SHA256_LEN];
  char last_hex[2 * CRYPTO_SHA256_LEN + 1];
  crypto_sha256(b->ev[b->n - 1].canonical, strlen(b->ev[b->n - 1].canonical), last_digest);
  lisec_hex_encode(last_digest, sizeof last_digest, last_hex);
  snprintf(doc, sizeof doc, "{\"gaps\":%llu,\"last_digest\":\"%s\",\"last_seq\":%llu}",
           (unsigned long long)(s.gaps + v.gaps), last_hex, (unsigned long long)v.last);
  ctl_auditlog_doc d = {.kind = SEQ_KIND, .id = vm, .body = doc, .expected_version = s.version};
  rc = ctl_auditlog_append_docs(ctl->shared->audit, &r, li_sealed, &d, 1, NULL, err);
  if (rc == LISEC_EDENIED)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-4.1: no LI administration key is configured ([audit] li_admin_key), "
                         "so events cannot be recorded; refused");
  if (rc) return rc;
  if (d.rc) {
    /* another lisecd took a batch of this VM meanwhile: the record stands as
     * the write-ahead of an act that failed; say so and let the VM ask again */
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, ACTION, true, "the VM's sequence changed meanwhile; not taken",
                    0, NULL, &ferr, "li-vm %s", vm);
    return lisec_err_set(err, LISEC_ECONFLICT, "TR103308-4.1: events not taken: sequence changed meanwhile; send again");
  }
  if (v.gaps) LOG_WARN("events: a sequence gap in an LI VM's events (" CTL_EVENTS_GAP_RULE ", recorded sealed)");
  *out = json_pack("{s:I, s:I, s:I}", "accepted", (json_int_t)b->n, "last_seq", (json_int_t)v.last, "gaps",
                   (json_int_t)v.gaps);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ctl_events_intake(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                      lisec_err *err) {
  if (ctl_actor_role(actor) != CTL_ROLE_VM) {
    int rc = lisec_err_set(err, LISEC_EAUTH, "TR103308-4.1: only an LI VM (role vm) sends its events");
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, ACTION, true, NULL, rc, NULL, err, "li events");
  }
  const ctl_settings *st = &ctl->shared->settings;
  ev_limits lim = {(size_t)st->events_max_event, (size_t)st->events_max_batch};
  ev_batch b;
  int rc = ev_batch_parse(body, &lim, &b, err);
  if (rc) return refuse(ctl, actor, NULL, rc, err);
  stripe *sp = stripe_of(b.ev[0].rec.vm);
  pthread_mutex_lock(&sp->mu);
  rc = take(ctl, actor, sp, &b, out, err);
  pthread_mutex_unlock(&sp->mu);
  ev_batch_clear(&b);
  return rc;
}
