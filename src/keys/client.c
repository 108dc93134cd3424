/* The controller's side of the keys process (keys.h): each operation is one
 * request and its reply on the socket, and any thread may call: several
 * requests are in flight at once (the keys process answers a data key it
 * must ask the token for on a thread of its own, so replies may come back
 * in another order). Requests go out whole under a send mutex; one waiting
 * caller at a time reads the socket and hands each reply to the caller
 * whose id it carries. A reply must carry its request's type and an id in
 * flight; anything else means
 * the channel can no longer be trusted, and so does a send or receive that
 * fails: the client then marks the keys process gone and every later call
 * fails at once with EUNAVAIL instead of waiting on a peer that is not
 * there. The in-process service of keys_local_start lives here too. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/wire.h"

#define GONE "the keys process is gone"

typedef struct local {
  keys_service *s;
  int fd; /* the service's end */
  pthread_t thread;
} local;

static int broken(keys_client *k, const char *why, lisec_err *err);

/* A caller waiting for its reply (on its own stack, in the client's list
 * while its request is in flight). */
typedef struct waiter {
  uint32_t id;
  bool done;          /* h and payload hold its reply */
  ipc_header h;
  uint8_t *payload;
  struct waiter *next;
} waiter;

struct keys_client {
  int fd;
  pthread_mutex_t mu;      /* everything below but the socket's sends */
  pthread_mutex_t send_mu; /* one request written at a time */
  pthread_cond_t replies;  /* a reply was handed over, or the reader left */
  bool reading;            /* a caller is reading the socket */
  waiter *waiting;
  uint32_t next_id;
  bool gone;
  char gone_why[LISEC_ERR_MSG_MAX];
  keys_info info;
  local *local; /* keys_local_start's service, stopped at close */
  keys_settings set; /* [keys]: keys_client_configure, the defaults until then */
  bool spin_next;    /* the last reply came within set.spin_us: wait awake for the next (the reader's) */
  unsigned waits;    /* every KEYS_SPIN_PROBE-th wait spins anyway (the reader's) */
};

static void unlink_waiter(keys_client *k, waiter *me) {
  for (waiter **p = &k->waiting; *p; p = &(*p)->next)
    if (*p == me) {
      *p = me->next;
      return;
    }
}

/* Reads one reply and hands it to its caller. Called with k->mu held and
 * k->reading set by the caller, which it gives up; returns with mu held. */
static void read_one(keys_client *k) {
  keys_settings set = k->set;
  pthread_mutex_unlock(&k->mu);
  /* awake for the reply while replies come within spin_us (an OPEN);
   * after one that took longer (a token operation under load) the next
   * wait sleeps at once, and measures again */
  uint64_t t0 = lisec_time_mono_ns();
  bool spin = k->spin_next || ++k->waits % KEYS_SPIN_PROBE == 0; /* a sleep's wake-up hides fast replies: probe */
  ipc_header h = {0};
  uint8_t *payload = NULL;
  lisec_err e = {0};
  /* (ipc_recv, not ipc_recv_one: several replies may be waiting at once) */
  ipc_spin_readable(k->fd, spin ? set.spin_us : 0);
  int rc = ipc_recv(k->fd, set.max_message, &h, &payload, &e);
  k->spin_next = lisec_time_mono_ns() - t0 <= (uint64_t)set.spin_us * 1000;
  pthread_mutex_lock(&k->mu);
  k->reading = false;
  waiter *to = NULL;
  for (waiter *w = k->waiting; !rc && w && !to; w = w->next)
    if (w->id == h.id && !w->done) to = w;
  if (!rc && !to) {
    rc = lisec_err_set(&e, LISEC_EINVAL, "reply %u (%s, flags 0x%x) to no request in flight", h.id,
                       keys_wire_type_name(h.type), (unsigned)h.flags);
    ipc_payload_free(payload, h.len);
  }
  if (rc) (void)broken(k, e.msg, NULL); /* nothing after this can be trusted */
  else to->h = h, to->payload = payload, to->done = true;
  pthread_cond_broadcast(&k->replies);
}

/* The channel can no longer be trusted: every later call fails at once.
 * Called with k->mu held. */
static int broken(keys_client *k, const char *why, lisec_err *err) {
  k->gone = true;
  snprintf(k->gone_why, sizeof k->gone_why, GONE " (%.400s)", why);
  return lisec_err_set(err, LISEC_EUNAVAIL, "%s", k->gone_why);
}

/* A reply's fields that must match its request (beyond type and id): a
 * failure breaks the channel like a reply out of step. */
typedef int (*reply_check)(void *ctx, const keys_request *q, const keys_reply *rp, lisec_err *err);

/* One exchange. On 0, *rp's byte fields point into *payload, which the
 * caller frees with ipc_payload_free(*payload, *len); rp->rc is the
 * operation's own result, also set into err. check (may be NULL) vets a
 * decoded reply under the lock. */
static int call_checked(keys_client *k, const keys_request *q, keys_reply *rp, uint8_t **payload, size_t *len,
                        reply_check check, void *check_ctx, lisec_err *err) {
  *payload = NULL;
  *len = 0;
  ipc_writer w;
  ipc_writer_init(&w, k->set.max_message);
  keys_wire_put_request(&w, q);
  if (w.failed) {
    ipc_writer_free(&w);
    return lisec_err_set(err, LISEC_ETOOBIG, "keys %s request larger than [keys] max_message (%u bytes)",
                         keys_wire_type_name(q->type), k->set.max_message);
  }
  pthread_mutex_lock(&k->mu);
  int rc = 0;
  lisec_err e = {0};
  ipc_header h = {0};
  if (k->gone) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s", k->gone_why);
    goto out;
  }
  waiter me = {.id = ++k->next_id, .next = k->waiting};
  k->waiting = &me;
  uint32_t id = me.id;
  pthread_mutex_unlock(&k->mu);
  pthread_mutex_lock(&k->send_mu);
  rc = ipc_send(k->fd, q->type, 0, id, &w, &e);
  pthread_mutex_unlock(&k->send_mu);
  pthread_mutex_lock(&k->mu);
  if (rc) (void)broken(k, e.msg, NULL);
  while (!me.done && !k->gone) {
    if (k->reading) {
      pthread_cond_wait(&k->replies, &k->mu);
    } else {
      k->reading = true;
      read_one(k);
    }
  }
  unlink_waiter(k, &me);
  if (!me.done) { /* the channel broke, here or in another caller's read */
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s", k->gone_why);
    goto out;
  }
  h = me.h;
  *payload = me.payload;
  if (h.flags != KEYS_FLAG_REPLY || h.type != q->type)
    rc = lisec_err_set(&e, LISEC_EINVAL, "reply %u (%s, flags 0x%x) to request %u (%s)", h.id,
                       keys_wire_type_name(h.type), (unsigned)h.flags, id, keys_wire_type_name(q->type));
  if (!rc) rc = keys_wire_get_reply(h.type, *payload, h.len, rp, &e);
  if (!rc && check) rc = check(check_ctx, q, rp, &e); /* an answer out of step with its request */
  if (rc) {
    /* the channel is broken or out of step: nothing after this can be trusted */
    rc = broken(k, e.msg, err);
    ipc_payload_free(*payload, h.len);
    *payload = NULL;
    goto out;
  }
  *len = h.len;
  if (rp->rc) rc = lisec_err_set(err, rp->rc, "%s", rp->msg);
out:
  pthread_mutex_unlock(&k->mu);
  ipc_writer_free(&w);
  if (rc && *payload) {
    ipc_payload_free(*payload, *len);
    *payload = NULL;
  }
  return rc;
}

static int call(keys_client *k, const keys_request *q, keys_reply *rp, uint8_t **payload, size_t *len,
                lisec_err *err) {
  return call_checked(k, q, rp, payload, len, NULL, NULL, err);
}

void keys_client_configure(keys_client *k, const keys_settings *s) {
  pthread_mutex_lock(&k->mu);
  k->set = *s;
  pthread_mutex_unlock(&k->mu);
}

int keys_client_open(int fd, keys_client **out, lisec_err *err) {
  keys_client *k = calloc(1, sizeof *k);
  if (!k) {
    close(fd);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  k->fd = fd;
  k->set = (keys_settings){KEYS_SPIN_US_DEFAULT, KEYS_PAYLOAD_MAX, KEYS_BATCH_DEFAULT};
  k->spin_next = true;
  pthread_mutex_init(&k->mu, NULL);
  pthread_mutex_init(&k->send_mu, NULL);
  pthread_cond_init(&k->replies, NULL);
  keys_request q = {.type = KEYS_MSG_HELLO};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (rc) {
    keys_client_close(k);
    return rc;
  }
  k->info = rp.info;
  ipc_payload_free(p, n);
  *out = k;
  return 0;
}

void keys_client_close(keys_client *k) {
  if (!k) return;
  close(k->fd); /* the service sees the end of its input and returns */
  if (k->local) {
    pthread_join(k->local->thread, NULL);
    keys_service_close(k->local->s);
    free(k->local);
  }
  pthread_mutex_destroy(&k->mu);
  pthread_mutex_destroy(&k->send_mu);
  pthread_cond_destroy(&k->replies);
  free(k);
}

const keys_info *keys_client_info(const keys_client *k) { return &k->info; }

/* ---- the vault ----------------------------------------------------------- */

/* A decoded record copied out of the reply (ciphertext malloc'd). */
static int sealed_copy(const vault_sealed *in, vault_sealed *out, lisec_err *err) {
  *out = *in;
  out->ciphertext = malloc(in->ciphertext_len ? in->ciphertext_len : 1);
  if (!out->ciphertext) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (in->ciphertext_len) memcpy(out->ciphertext, in->ciphertext, in->ciphertext_len);
  return 0;
}

int keys_vault_seal(keys_client *k, const char *id, const char *authorisation, int64_t version,
                    const json_t *identifiers, vault_sealed *out, lisec_err *err) {
  /* vault_seal's id rules, here too: an id that does not fit the message
   * gets the same refusal it would get in the keys process */
  int rc = lisec_id_check("target id", id, id ? strnlen(id, VAULT_ID_MAX + 1) : 0, err);
  if (rc || (rc = lisec_id_check("authorisation", authorisation,
                                 authorisation ? strnlen(authorisation, VAULT_ID_MAX + 1) : 0, err)))
    return rc;
  /* absent identifiers go as JSON null, for vault_seal's own refusal */
  char *text = identifiers ? json_dumps(identifiers, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  keys_request q = {.type = KEYS_MSG_SEAL, .version = version, .data = (const uint8_t *)text,
                    .data_len = strlen(text)};
  snprintf(q.id, sizeof q.id, "%s", id);
  snprintf(q.authorisation, sizeof q.authorisation, "%s", authorisation);
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  rc = q.data_len > KEYS_DATA_MAX
               ? lisec_err_set(err, LISEC_ETOOBIG, "identifiers: more than %u bytes of JSON", KEYS_DATA_MAX)
               : call(k, &q, &rp, &p, &n, err);
  crypto_wipe(text, strlen(text));
  free(text);
  if (!rc) rc = sealed_copy(&rp.sealed, out, err);
  ipc_payload_free(p, n);
  return rc;
}

int keys_vault_open(keys_client *k, const vault_sealed *s, json_t **identifiers, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_OPEN, .sealed = *s};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc) rc = lisec_json_parse((const char *)rp.data, rp.data_len, identifiers, err);
  if (!rc && !json_is_array(*identifiers)) {
    json_decref(*identifiers);
    *identifiers = NULL;
    rc = lisec_err_set(err, LISEC_EINVAL, "keys OPEN reply: the identifiers are not a list");
  }
  ipc_payload_free(p, n); /* wiped: it held the identifiers in clear */
  return rc;
}

/* ---- many records in one round trip ---------------------------------------- */

/* A batch request's records, for checking its reply against. */
typedef struct batch_sent {
  const vault_sealed *s;
  size_t n;
} batch_sent;

/* 1 to n answers, the i-th for the i-th record sent (its id echoed). */
/* A record without an id is not sent: its answer must echo an id, so the
 * keys process's answer to it would read as out of step and end the
 * channel. It gets this refusal of its own instead. */
#define UNNAMED "keys: the record has no id, which its answer must echo; it was not sent"

static int batch_check(void *ctx, const keys_request *q, const keys_reply *rp, lisec_err *err) {
  (void)q;
  const batch_sent *b = ctx;
  if (rp->rc) return 0;
  if (rp->batch_count == 0 || rp->batch_count > b->n)
    return lisec_err_set(err, LISEC_EINVAL, "keys OPEN_BATCH reply: %u answers to %zu records", rp->batch_count, b->n);
  keys_batch_iter it;
  keys_opened o;
  keys_wire_batch_begin(&it, rp->batch, rp->batch_len, rp->batch_count);
  for (size_t i = 0; keys_wire_batch_opened(&it, &o); i++)
    if (strcmp(o.id, b->s[i].id) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "keys OPEN_BATCH reply: answer %zu out of order", i);
  return 0;
}

/* How many of s[0..n) one request carries: at most max_batch, and records
 * whose request and (at most as large) reply fit max_message; none from a
 * record without an id on (unnamed, below). */
static size_t batch_take(const keys_settings *set, const vault_sealed *s, size_t n) {
  size_t bytes = 4, take = 0;
  while (take < n && take < set->max_batch && s[take].id[0]) {
    const vault_sealed *r = &s[take];
    size_t one = 6 * 4 + 8 + strlen(r->id) + strlen(r->authorisation) + strlen(r->kek_label) +
                 r->wrapped_key_len + r->ciphertext_len;
    if (take && bytes + one > set->max_message) break;
    bytes += one;
    take++;
  }
  return take;
}

/* One batch request of type: s[0..take) encoded as its records, sent and
 * its reply checked by check (ctx: the records sent). The reply's payload
 * is the caller's to free (ipc_payload_free) when this returns 0. */
static int batch_call(keys_client *k, const keys_settings *set, uint16_t type, const vault_sealed *s, size_t take,
                      reply_check check, keys_reply *rp,
                      uint8_t **p, size_t *len, lisec_err *err) {
  ipc_writer recs;
  ipc_writer_init(&recs, set->max_message);
  for (size_t i = 0; i < take; i++) keys_wire_put_sealed(&recs, &s[i]);
  keys_request q = {.type = type, .batch_count = (uint32_t)take, .batch = recs.buf.data, .batch_len = recs.buf.len};
  batch_sent sent = {s, take};
  int rc = recs.failed ? lisec_err_set(err, LISEC_ETOOBIG, "a target record larger than [keys] max_message (%u bytes)",
                                       set->max_message)
                       : call_checked(k, &q, rp, p, len, check, &sent, err);
  ipc_writer_free(&recs);
  return rc;
}

int keys_vault_open_many(keys_client *k, const vault_sealed *s, size_t n, keys_opened_fn fn, void *ctx,
                         lisec_err *err) {
  keys_settings set;
  pthread_mutex_lock(&k->mu);
  set = k->set;
  pthread_mutex_unlock(&k->mu);
  size_t at = 0;
  int rc = 0;
  while (!rc && at < n) {
    if (!s[at].id[0]) {
      fn(ctx, at++, LISEC_EINVAL, UNNAMED, NULL);
      continue;
    }
    size_t take = batch_take(&set, s + at, n - at);
    keys_reply rp;
    uint8_t *p = NULL;
    size_t len = 0;
    if ((rc = batch_call(k, &set, KEYS_MSG_OPEN_BATCH, s + at, take, batch_check, &rp, &p, &len, err))) break;
    keys_batch_iter it;
    keys_opened o;
    keys_wire_batch_begin(&it, rp.batch, rp.batch_len, rp.batch_count);
    for (size_t i = at; keys_wire_batch_opened(&it, &o); i++) {
      json_t *ids = NULL;
      lisec_err oerr = {0};
      int orc = o.rc;
      if (!orc) orc = lisec_json_parse((const char *)o.data, o.data_len, &ids, &oerr);
      if (!orc && !json_is_array(ids))
        orc = lisec_err_set(&oerr, LISEC_EINVAL, "keys OPEN_BATCH reply: the identifiers are not a list");
      if (orc) {
        json_decref(ids);
        ids = NULL;
      }
      fn(ctx, i, orc, o.rc ? o.msg : oerr.msg, ids);
    }
    at += rp.batch_count;
    ipc_payload_free(p, len); /* wiped: it held identifiers in clear */
  }
  return rc;
}

/* A REWRAP_BATCH's answers: 1 to n, the i-th for the i-th record sent (its
 * id and version echoed: the same record came back). */
static int rewrap_batch_check(void *ctx, const keys_request *q, const keys_reply *rp, lisec_err *err) {
  (void)q;
  const batch_sent *b = ctx;
  if (rp->rc) return 0;
  if (rp->batch_count == 0 || rp->batch_count > b->n)
    return lisec_err_set(err, LISEC_EINVAL, "keys REWRAP_BATCH reply: %u answers to %zu records", rp->batch_count,
                         b->n);
  keys_batch_iter it;
  keys_rewrapped a;
  keys_wire_batch_begin(&it, rp->batch, rp->batch_len, rp->batch_count);
  for (size_t i = 0; keys_wire_batch_rewrapped(&it, &a); i++)
    if (strcmp(a.id, b->s[i].id) != 0 || a.version != b->s[i].version)
      return lisec_err_set(err, LISEC_EINVAL, "keys REWRAP_BATCH reply: answer %zu is not for the record sent", i);
  return 0;
}

/* The guard on a re-wrap's answer: the record is stored with the label it
 * names, so the KEK that wraps it now must be the one the caller asked
 * for (want; NULL: the keys process's current one, whichever). A keys
 * process that answered under another is refused for that record. */
static int label_asked(const char *want, const char *got, lisec_err *err) {
  if (!want || strcmp(want, got) == 0) return 0;
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-5.7: the keys process re-wrapped the record under KEK \"%s\", not \"%s\" as asked; "
                       "nothing is stored for it",
                       got, want);
}

int keys_vault_rewrap_many(keys_client *k, vault_sealed *s, size_t n, const char *kek_label, keys_rewrapped_fn fn,
                           void *ctx, lisec_err *err) {
  keys_settings set;
  pthread_mutex_lock(&k->mu);
  set = k->set;
  pthread_mutex_unlock(&k->mu);
  size_t at = 0;
  int rc = 0;
  while (!rc && at < n) {
    if (!s[at].id[0]) {
      fn(ctx, at++, LISEC_EINVAL, UNNAMED, false);
      continue;
    }
    size_t take = batch_take(&set, s + at, n - at);
    keys_reply rp;
    uint8_t *p = NULL;
    size_t len = 0;
    if ((rc = batch_call(k, &set, KEYS_MSG_REWRAP_BATCH, s + at, take, rewrap_batch_check, &rp, &p, &len, err))) break;
    keys_batch_iter it;
    keys_rewrapped a;
    keys_wire_batch_begin(&it, rp.batch, rp.batch_len, rp.batch_count);
    for (size_t i = at; keys_wire_batch_rewrapped(&it, &a); i++) {
      lisec_err lerr = {0};
      if (!a.rc && label_asked(kek_label, a.kek_label, &lerr)) { /* s[i] stays as it was */
        fn(ctx, i, lerr.code, lerr.msg, false);
        continue;
      }
      if (!a.rc) { /* only the key's wrapping changes: the ciphertext stays the caller's */
        snprintf(s[i].kek_label, sizeof s[i].kek_label, "%s", a.kek_label);
        memcpy(s[i].wrapped_key, a.wrapped_key, a.wrapped_key_len);
        s[i].wrapped_key_len = a.wrapped_key_len;
      }
      fn(ctx, i, a.rc, a.msg, !a.rc && a.changed);
    }
    at += rp.batch_count;
    ipc_payload_free(p, len);
  }
  return rc;
}

int keys_vault_rewrap(keys_client *k, vault_sealed *s, const char *kek_label, bool *changed, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_REWRAP, .sealed = *s};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  /* only the key's wrapping may change; the record must stay the same one */
  if (!rc && (strcmp(rp.sealed.id, s->id) != 0 || rp.sealed.version != s->version ||
              rp.sealed.ciphertext_len != s->ciphertext_len))
    rc = lisec_err_set(err, LISEC_EINVAL, "keys REWRAP reply: a different record came back");
  if (!rc) rc = label_asked(kek_label, rp.sealed.kek_label, err);
  if (!rc) {
    snprintf(s->kek_label, sizeof s->kek_label, "%s", rp.sealed.kek_label);
    memcpy(s->wrapped_key, rp.sealed.wrapped_key, rp.sealed.wrapped_key_len);
    s->wrapped_key_len = rp.sealed.wrapped_key_len;
    if (changed) *changed = rp.changed;
  }
  ipc_payload_free(p, n);
  return rc;
}

static int kek_names(keys_client *k, const keys_request *q, char *name, char *label, lisec_err *err) {
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, q, &rp, &p, &n, err);
  if (!rc && name) snprintf(name, KEYS_KEK_NAME_MAX + 1, "%s", rp.name);
  if (!rc && label) snprintf(label, VAULT_ID_MAX + 1, "%s", rp.label);
  ipc_payload_free(p, n);
  return rc;
}

int keys_vault_use_kek(keys_client *k, const char *name, bool create, lisec_err *err) {
  if (!keys_kek_name_valid(name))
    return lisec_err_set(err, LISEC_EINVAL, "KEK name \"%.80s\": 1 to %d letters, digits, '.', '_' or '-'",
                         name, KEYS_KEK_NAME_MAX);
  keys_request q = {.type = KEYS_MSG_KEK_USE, .create = create};
  snprintf(q.name, sizeof q.name, "%s", name);
  return kek_names(k, &q, NULL, NULL, err);
}

int keys_vault_current_kek(keys_client *k, char name[KEYS_KEK_NAME_MAX + 1], char label[VAULT_ID_MAX + 1],
                           lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_KEK_CURRENT};
  return kek_names(k, &q, name, label, err);
}

int keys_vault_unload_keks(keys_client *k, size_t *unloaded, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_KEK_UNLOAD};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc && unloaded) *unloaded = (size_t)rp.count;
  ipc_payload_free(p, n);
  return rc;
}

int keys_vault_evict(keys_client *k, const vault_sealed *s, bool *evicted, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_EVICT};
  /* the id and the wrapped key only: the rest of the record stays here */
  snprintf(q.sealed.id, sizeof q.sealed.id, "%s", s->id);
  if (s->wrapped_key_len > sizeof q.sealed.wrapped_key)
    return lisec_err_set(err, LISEC_EINVAL, "keys EVICT: the wrapped key is over its bound");
  memcpy(q.sealed.wrapped_key, s->wrapped_key, s->wrapped_key_len);
  q.sealed.wrapped_key_len = s->wrapped_key_len;
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc && evicted) *evicted = rp.count == 1;
  ipc_payload_free(p, n);
  return rc;
}

int keys_vault_cache_held(keys_client *k, uint64_t *held, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_CACHE_HELD};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc && held) *held = rp.count;
  ipc_payload_free(p, n);
  return rc;
}

/* ---- audit and LI --------------------------------------------------------- */

/* A signature (64) or a public key (32) back from the keys process. */
static int audit_call(keys_client *k, keys_request *q, uint8_t *out, size_t out_len, lisec_err *err) {
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, q, &rp, &p, &n, err);
  if (!rc && out) memcpy(out, rp.data, out_len);
  ipc_payload_free(p, n);
  return rc;
}

int keys_audit_sign_proven(void *ctx, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                           const audit_proof *proof, uint8_t sig[64], lisec_err *err) {
  if (len > KEYS_DATA_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "a checkpoint to sign is at most %u bytes", KEYS_DATA_MAX);
  keys_request q = {.type = next ? KEYS_MSG_AUDIT_SIGN_NEXT : KEYS_MSG_AUDIT_SIGN,
                    .data = msg,
                    .data_len = len,
                    .old_size = old_size,
                    .proof = proof ? proof->hash[0] : NULL,
                    .proof_len = proof ? proof->len * AUDIT_HASH_LEN : 0};
  return audit_call(ctx, &q, sig, 64, err);
}

int keys_audit_witness(void *ctx, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_AUDIT_WITNESS};
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(ctx, &q, &rp, &p, &n, err);
  if (!rc) {
    *have = rp.witness_have;
    *size = rp.witness_size;
    memcpy(root, rp.witness_root, 32);
  }
  ipc_payload_free(p, n);
  return rc;
}

int keys_audit_next(void *k, bool fresh, uint8_t pk[32], lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_AUDIT_NEXT, .create = fresh};
  return audit_call(k, &q, pk, 32, err);
}

int keys_audit_promote(void *k, const uint8_t pk[32], lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_AUDIT_PROMOTE, .data = pk, .data_len = 32};
  return audit_call(k, &q, NULL, 0, err);
}

int keys_x1_sign_alg(keys_client *k, const char *key_path, unsigned alg, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len, lisec_err *err) {
  if (!key_path || key_path[0] != '/' || strlen(key_path) > KEYS_PATH_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: an absolute path of at most %d bytes", KEYS_PATH_MAX);
  size_t max = alg == KEYS_X1_ECDSA       ? KEYS_X1_DIGEST_MAX
               : alg == KEYS_X1_RSA_PKCS1 ? KEYS_X1_DIGESTINFO_MAX
               : alg == KEYS_X1_RSA_PSS   ? KEYS_X1_SIG_MAX
                                          : 0;
  if (!max) return lisec_err_set(err, LISEC_EINVAL, "X1 client key: unknown signature algorithm %u", alg);
  if (len == 0 || len > max)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: the data to sign is 1 to %zu bytes", max);
  keys_request q = {.type = KEYS_MSG_X1_SIGN, .alg = (uint8_t)alg, .data = data, .data_len = len};
  snprintf(q.path, sizeof q.path, "%s", key_path);
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc && rp.data_len > cap)
    rc = lisec_err_set(err, LISEC_ETOOBIG, "X1 client key: a signature of %zu bytes", rp.data_len);
  if (!rc) {
    memcpy(sig, rp.data, rp.data_len);
    *sig_len = rp.data_len;
  }
  ipc_payload_free(p, n);
  return rc;
}

int keys_x1_sign(keys_client *k, const char *key_path, const uint8_t *digest, size_t len, uint8_t *sig,
                 size_t cap, size_t *sig_len, lisec_err *err) {
  if (len == 0 || len > KEYS_X1_DIGEST_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: a digest is 1 to %d bytes", KEYS_X1_DIGEST_MAX);
  return keys_x1_sign_alg(k, key_path, KEYS_X1_ECDSA, digest, len, sig, cap, sig_len, err);
}

static int simple(keys_client *k, const keys_request *q, lisec_err *err) {
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, q, &rp, &p, &n, err);
  ipc_payload_free(p, n);
  return rc;
}

int keys_li_check(keys_client *k, lisec_err *err) {
  keys_request q = {.type = KEYS_MSG_LI_CHECK};
  return simple(k, &q, err);
}

int keys_rd_key(keys_client *k, const char *store, uint64_t period, bool create, const uint8_t recipient[65],
                const char *vm, const uint8_t *reg, size_t reg_len, uint8_t eph[65], uint8_t wrapped[40],
                lisec_err *err) {
  if (strlen(store) > KEYS_NAME_MAX) return lisec_err_set(err, LISEC_EINVAL, "a store id is at most %d bytes", KEYS_NAME_MAX);
  if (!vm || strlen(vm) > KEYS_NAME_MAX) return lisec_err_set(err, LISEC_EINVAL, "a VM id is at most %d bytes", KEYS_NAME_MAX);
  if (reg_len > KEYS_RD_REG_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "an RD key registration is at most %d bytes", KEYS_RD_REG_MAX);
  keys_request q = {.type = KEYS_MSG_RD_KEY, .period = period, .create = create, .data = recipient,
                    .data_len = KEYS_RD_POINT_LEN, .rd_reg = reg, .rd_reg_len = reg_len};
  snprintf(q.name, sizeof q.name, "%s", store);
  snprintf(q.vm, sizeof q.vm, "%s", vm);
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  if (!rc) {
    memcpy(eph, rp.rd_eph, KEYS_RD_POINT_LEN);
    memcpy(wrapped, rp.data, KEYS_RD_WRAPPED_LEN);
  }
  ipc_payload_free(p, n);
  return rc;
}

int keys_rd_destroy(keys_client *k, const char *store, uint64_t period, uint64_t *count, lisec_err *err) {
  if (strlen(store) > KEYS_NAME_MAX) return lisec_err_set(err, LISEC_EINVAL, "a store id is at most %d bytes", KEYS_NAME_MAX);
  keys_request q = {.type = KEYS_MSG_RD_DESTROY, .period = period};
  snprintf(q.name, sizeof q.name, "%s", store);
  keys_reply rp;
  uint8_t *p = NULL;
  size_t n = 0;
  int rc = call(k, &q, &rp, &p, &n, err);
  *count = rc ? 0 : rp.count;
  ipc_payload_free(p, n);
  return rc;
}

/* ---- in-process ------------------------------------------------------------ */

static void *local_main(void *arg) {
  local *l = arg;
  lisec_err err = {0};
  if (keys_service_serve(l->s, l->fd, &err)) LOG_ERROR("keys (in-process): %s", err.msg);
  close(l->fd);
  return NULL;
}

int keys_local_start(const lisec_config *cfg, keys_client **out, lisec_err *err) {
  local *l = calloc(1, sizeof *l);
  if (!l) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int sv[2];
  int rc = keys_service_open(cfg, &l->s, err);
  if (rc) {
    free(l);
    return rc;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    keys_service_close(l->s);
    free(l);
    return lisec_err_set(err, LISEC_EIO, "socketpair for the keys service failed");
  }
  l->fd = sv[1];
  if (pthread_create(&l->thread, NULL, local_main, l) != 0) {
    close(sv[0]);
    close(sv[1]);
    keys_service_close(l->s);
    free(l);
    return lisec_err_set(err, LISEC_EINTERNAL, "cannot start the keys service thread");
  }
  keys_client *k = NULL;
  keys_settings set;
  (void)keys_settings_parse(cfg, &set, NULL); /* the service parsed it already */
  if ((rc = keys_client_open(sv[0], &k, err))) { /* sv[0] is closed: the thread ends */
    pthread_join(l->thread, NULL);
    keys_service_close(l->s);
    free(l);
    return rc;
  }
  k->local = l;
  keys_client_configure(k, &set);
  *out = k;
  return 0;
}
