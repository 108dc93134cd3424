/* Attestation nonces in the store (issue 17 item 2). The table of a host's
 * outstanding nonces (attest/nonce.c) is read from its document, changed
 * and written back with the version it was read at; when another writer
 * changed it meanwhile (another request of this lisecd, or a lisecd that
 * led before), the write is refused by the store and the change is made
 * again on what is stored now. So a nonce is spent exactly once whoever
 * spends it, and a refusal is decided on the stored table, never on a copy
 * in one lisecd's memory. An appraisal takes its nonce without writing
 * (ctl_nonces_take) and writes the table, at the version it read, in the
 * same transaction as its audit entry and documents; a conflict there is
 * decided again with ctl_nonces_consume. The nonces are not secrets (the agent receives
 * them in clear inside TLS); what matters is that they are fresh and single
 * use.
 *
 * The controller keeps each host's table as it last wrote it, with its
 * version (ctl_nonce_cache, issue 15's figure): an issue or a take starts
 * from that copy instead of reading the store, and the write that follows
 * is the same compare-and-set on the version kept. A copy that is stale
 * (a write this lisecd did not make, e.g. one that bypassed the leader's
 * fence) costs a refused write, after which the table is read from the
 * store and the change made again; a nonce the copy does not accept is
 * decided again on the stored table. So only an acceptance can come from
 * the copy, and it counts only once its write at the kept version lands. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/attest_nonces.h"

/* Bounded: a conflict means another write landed, so progress is made. */
#define CAS_TRIES 16

/* ---- the tables kept in the controller ------------------------------------ */

typedef struct kept {
  char host[ATTEST_HOST_ID_LEN + 1];
  attest_nonces *t;
  int64_t ver;
  struct kept *next;
} kept;

struct ctl_nonce_cache {
  pthread_mutex_t mu;
  kept **buckets;
  size_t nbuckets, n, max;
};

ctl_nonce_cache *ctl_nonce_cache_new(size_t max_hosts) {
  ctl_nonce_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nbuckets = 64;
  while (c->nbuckets < max_hosts / 2 && c->nbuckets < 65536) c->nbuckets *= 2;
  if (!(c->buckets = calloc(c->nbuckets, sizeof *c->buckets))) {
    free(c);
    return NULL;
  }
  c->max = max_hosts;
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

void ctl_nonce_cache_free(ctl_nonce_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nbuckets; i++)
    for (kept *k = c->buckets[i], *nx; k; k = nx) {
      nx = k->next;
      attest_nonces_free(k->t);
      free(k);
    }
  free(c->buckets);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* Host ids are hex SHA-256 digests, so any of their bytes spread evenly;
 * a name of another form still works, only less evenly spread. */
static kept **slot(ctl_nonce_cache *c, const char *host) {
  size_t h = 5381;
  for (const char *p = host; *p && p - host < 16; p++) h = h * 33 + (unsigned char)*p;
  kept **k = &c->buckets[h & (c->nbuckets - 1)];
  while (*k && strcmp((*k)->host, host) != 0) k = &(*k)->next;
  return k;
}

/* A copy of the kept table of host (*t, *ver), or false when none is kept. */
static bool kept_get(ctl_nonce_cache *c, const char *host, attest_nonces **t, int64_t *ver) {
  if (!c) return false;
  pthread_mutex_lock(&c->mu);
  kept *k = *slot(c, host);
  *t = k ? attest_nonces_copy(k->t) : NULL;
  if (*t) *ver = k->ver;
  pthread_mutex_unlock(&c->mu);
  return *t != NULL;
}

/* Keeps t (taken over) as host's table at version ver; when the cache is
 * full a new host is simply not kept (its tables are read from the store). */
static void kept_put(ctl_nonce_cache *c, const char *host, attest_nonces *t, int64_t ver) {
  if (!c || strlen(host) > ATTEST_HOST_ID_LEN) {
    attest_nonces_free(t);
    return;
  }
  pthread_mutex_lock(&c->mu);
  kept **s = slot(c, host);
  if (*s) {
    attest_nonces_free((*s)->t);
    (*s)->t = t, (*s)->ver = ver, t = NULL;
  } else if (c->n < c->max && (*s = calloc(1, sizeof **s))) {
    snprintf((*s)->host, sizeof (*s)->host, "%s", host);
    (*s)->t = t, (*s)->ver = ver, t = NULL;
    c->n++;
  }
  pthread_mutex_unlock(&c->mu);
  attest_nonces_free(t);
}

static void kept_drop(ctl_nonce_cache *c, const char *host) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  kept **s = slot(c, host), *k = *s;
  if (k) {
    *s = k->next;
    attest_nonces_free(k->t);
    free(k);
    c->n--;
  }
  pthread_mutex_unlock(&c->mu);
}

void ctl_nonce_cache_drop(ctl_nonce_cache *c, const char *host) { kept_drop(c, host); }

void ctl_nonce_cache_clear(ctl_nonce_cache *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (kept *k = c->buckets[i], *nx; k; k = nx) {
      nx = k->next;
      attest_nonces_free(k->t);
      free(k);
    }
    c->buckets[i] = NULL;
  }
  c->n = 0;
  pthread_mutex_unlock(&c->mu);
}

/* ---- the stored tables -------------------------------------------------- */

static int load(lisec_store *s, const char *host, size_t max, attest_nonces **t, int64_t *ver,
                lisec_err *err) {
  char *body = NULL;
  json_t *doc = NULL;
  *ver = 0;
  int rc = store_doc_get(s, CTL_NONCES_KIND, host, &body, ver, err);
  if (rc == LISEC_ENOTFOUND) {
    *ver = 0;
    *t = attest_nonces_new(max);
    return *t ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc) rc = lisec_json_parse(body, strlen(body), &doc, err);
  if (!rc) rc = attest_nonces_from_json(doc, max, t, err);
  /* An unreadable table holds no nonce anyone can use: start afresh. */
  if (rc == LISEC_EINVAL) {
    LOG_WARN("attest: the stored nonces of host %.16s.. are unreadable, dropped: %s", host, err->msg);
    rc = (*t = attest_nonces_new(max)) ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  free(body);
  json_decref(doc);
  return rc;
}

static char *table_text(const attest_nonces *t) {
  json_t *j = attest_nonces_to_json(t);
  char *text = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  return text;
}

static int save(lisec_store *s, const char *host, const attest_nonces *t, int64_t ver,
                int64_t *new_ver, lisec_err *err) {
  char *text = table_text(t);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(s, CTL_NONCES_KIND, host, text, ver, new_ver, err);
  free(text);
  return rc;
}

/* A nonce's issue is committed without waiting for the disk
 * (store_begin_nowait): replay refusal rests on the spend, which is written
 * durably with the report's audit entry, and the spend's flush carries the
 * issue written before it. An issue a machine crash loses only makes the
 * report that uses it refused (the nonce is unknown), and the agent asks
 * again; a nonce is never accepted twice. This takes the second flush of a
 * report off the channel that serves hosts (docs/attestation.md). */
static int save_issued(lisec_store *s, const char *host, const attest_nonces *t, int64_t ver,
                       int64_t *new_ver, lisec_err *err) {
  int rc = store_begin_nowait(s, err);
  if (rc) return rc;
  if ((rc = save(s, host, t, ver, new_ver, err)) != 0) {
    store_rollback(s);
    return rc;
  }
  return store_commit(s, err);
}

/* A write the store refused although nobody changed the table (a full
 * disk, a constraint): no nonce is issued or spent without being durable. */
static int not_durable(const char *host, lisec_err *err) {
  char why[LISEC_ERR_MSG_MAX];
  snprintf(why, sizeof why, "%s", err && err->msg[0] ? err->msg : "the store refused the write");
  return lisec_err_set(err, LISEC_ESTORE,
                       "attest: the nonces of host %.16s.. could not be made durable; action refused "
                       "(TR103308-5.5): %s",
                       host, why);
}

/* Whether a refused compare-and-set was another writer's change: the
 * version stored now is not the one the table was read at. */
static bool moved_on(lisec_store *s, const char *host, int64_t ver) {
  char *body = NULL;
  int64_t now = 0;
  lisec_err e = {0};
  int rc = store_doc_get(s, CTL_NONCES_KIND, host, &body, &now, &e);
  free(body);
  return rc == LISEC_ENOTFOUND ? ver != 0 : rc == 0 && now != ver;
}

static int cas_failed(const char *host, lisec_err *err) {
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.1: the nonces of host %.16s.. changed under every one of %d tries; "
                       "try again", host, CAS_TRIES);
}

int ctl_nonces_issue_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                          int64_t now_ms, int64_t ttl_ms, uint8_t out[ATTEST_NONCE_LEN], lisec_err *err) {
  for (int i = 0; i < CAS_TRIES; i++) {
    attest_nonces *t = NULL;
    int64_t ver = 0, new_ver = 0;
    /* the kept copy first; after a refused write, what is stored */
    int rc = i == 0 && kept_get(c, host, &t, &ver) ? 0 : load(s, host, max, &t, &ver, err);
    if (!rc) rc = attest_nonce_issue(t, now_ms, ttl_ms, out, err);
    if (!rc) rc = save_issued(s, host, t, ver, &new_ver, err);
    if (!rc) {
      kept_put(c, host, t, new_ver);
      return 0;
    }
    attest_nonces_free(t);
    kept_drop(c, host);
    if (rc == LISEC_ECONFLICT && !moved_on(s, host, ver)) return not_durable(host, err);
    if (rc != LISEC_ECONFLICT) return rc;
  }
  return cas_failed(host, err);
}

int ctl_nonces_issue(lisec_store *s, const char *host, size_t max, int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[ATTEST_NONCE_LEN], lisec_err *err) {
  return ctl_nonces_issue_kept(s, NULL, host, max, now_ms, ttl_ms, out, err);
}

int ctl_nonces_consume(lisec_store *s, const char *host, size_t max, const uint8_t *nonce,
                       size_t len, int64_t now_ms, lisec_err *err) {
  for (int i = 0; i < CAS_TRIES; i++) {
    attest_nonces *t = NULL;
    int64_t ver = 0;
    int rc = load(s, host, max, &t, &ver, err);
    if (rc) return rc;
    lisec_err verdict = {0};
    int vrc = attest_nonce_consume(t, nonce, len, now_ms, &verdict);
    /* A refusal changes nothing stored; a use is stored before it counts. */
    rc = vrc ? 0 : save(s, host, t, ver, NULL, err);
    attest_nonces_free(t);
    if (vrc) {
      if (err) *err = verdict;
      return vrc;
    }
    if (rc == LISEC_ECONFLICT && !moved_on(s, host, ver)) return not_durable(host, err);
    if (rc && rc != LISEC_ECONFLICT) return not_durable(host, err);
    if (rc != LISEC_ECONFLICT) return rc;
  }
  return cas_failed(host, err);
}

int ctl_nonces_consume_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                            const uint8_t *nonce, size_t len, int64_t now_ms, lisec_err *err) {
  /* the rare path (a report's commit that conflicted or never came): the
   * stored table decides, and the next issue or take reads it again */
  kept_drop(c, host);
  return ctl_nonces_consume(s, host, max, nonce, len, now_ms, err);
}

int ctl_nonces_take_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, size_t max,
                         const uint8_t *nonce, size_t len, int64_t now_ms, ctl_nonces_taken *tk,
                         lisec_err *err) {
  *tk = (ctl_nonces_taken){0};
  for (int i = 0; i < 2; i++) {
    attest_nonces *t = NULL;
    int64_t ver = 0;
    bool from_copy = i == 0 && kept_get(c, host, &t, &ver);
    if (!from_copy) {
      int rc = load(s, host, max, &t, &ver, err);
      if (rc) return rc;
    }
    lisec_err verdict = {0};
    int rc = attest_nonce_consume(t, nonce, len, now_ms, &verdict);
    if (rc && from_copy) {
      /* only an acceptance comes from the copy: a refusal is decided on
       * the stored table */
      attest_nonces_free(t);
      kept_drop(c, host);
      continue;
    }
    if (rc) {
      attest_nonces_free(t);
      if (err) *err = verdict;
      return rc;
    }
    /* A use is the table to store at ver, which the caller's commit makes
     * (or fails) together with what the use decided. */
    if (!(tk->text = table_text(t))) {
      attest_nonces_free(t);
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    tk->table = t;
    tk->ver = ver;
    tk->expires_ms = attest_nonce_expiry(t, nonce, len);
    return 0;
  }
  return lisec_err_set(err, LISEC_EINTERNAL, "nonce: unreachable");
}

void ctl_nonces_taken_done(ctl_nonce_cache *c, const char *host, ctl_nonces_taken *tk, bool stored) {
  if (!tk->text && !tk->table) return; /* nothing taken, or settled already */
  /* stored at tk->ver: the store's version is one more (1 for a new one) */
  if (stored && tk->table) kept_put(c, host, tk->table, tk->ver + 1);
  else {
    attest_nonces_free(tk->table);
    kept_drop(c, host);
  }
  free(tk->text);
  *tk = (ctl_nonces_taken){0};
}

int ctl_nonces_take(lisec_store *s, const char *host, size_t max, const uint8_t *nonce, size_t len,
                    int64_t now_ms, char **text, int64_t *ver, lisec_err *err) {
  ctl_nonces_taken tk;
  int rc = ctl_nonces_take_kept(s, NULL, host, max, nonce, len, now_ms, &tk, err);
  *text = tk.text;
  *ver = tk.ver;
  attest_nonces_free(tk.table);
  return rc;
}

int ctl_nonces_forget(lisec_store *s, const char *host, lisec_err *err) {
  int rc = store_doc_delete(s, CTL_NONCES_KIND, host, err);
  return rc == LISEC_ENOTFOUND ? 0 : rc;
}

int ctl_nonces_forget_kept(lisec_store *s, ctl_nonce_cache *c, const char *host, lisec_err *err) {
  kept_drop(c, host);
  return ctl_nonces_forget(s, host, err);
}
