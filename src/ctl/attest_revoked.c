/* The revoked host certificates kept in the controller (attest_revoked.h):
 * a sorted array of the stored list's keys, read again from the store when
 * older than refresh_ms, plus the revocations of this lisecd whose
 * transaction has not committed yet. A lookup that finds nothing accepts;
 * one that finds the certificate reads its stored document for the
 * refusal, so the store stays the authority on every refusal it words. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/attest_revoked.h"

#define KEY_LEN 64 /* hex SHA-256 */

typedef char revkey[KEY_LEN + 1];

struct ctl_revoked_set {
  pthread_mutex_t mu;
  revkey *keys; /* sorted */
  size_t n, max;
  revkey *noted; /* revocations of this lisecd not committed yet */
  size_t nnoted, cap_noted;
  int64_t refresh_ms;
  uint64_t loaded_ns; /* monotonic time of the last load */
  bool loaded;
  bool too_many; /* the list outgrew max at the last load: the store answers */
};

ctl_revoked_set *ctl_revoked_new(size_t max, int64_t refresh_ms) {
  ctl_revoked_set *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  pthread_mutex_init(&r->mu, NULL);
  r->max = max;
  r->refresh_ms = refresh_ms;
  return r;
}

void ctl_revoked_free(ctl_revoked_set *r) {
  if (!r) return;
  free(r->keys);
  free(r->noted);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static int key_cmp(const void *a, const void *b) { return strcmp(a, b); }

typedef struct load_ctx {
  revkey *keys;
  size_t n, cap, max;
  bool too_many;
} load_ctx;

static int load_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)body, (void)version;
  load_ctx *lc = ctx;
  /* keys of another length can never be a certificate's SHA-256 */
  if (strlen(id) != KEY_LEN) return 0;
  if (lc->n == lc->max) {
    lc->too_many = true;
    return 1; /* stop: the store answers every lookup */
  }
  if (lc->n == lc->cap) {
    size_t cap = lc->cap ? 2 * lc->cap : 64;
    revkey *k = realloc(lc->keys, cap * sizeof *k);
    if (!k) return LISEC_ENOMEM;
    lc->keys = k, lc->cap = cap;
  }
  memcpy(lc->keys[lc->n++], id, KEY_LEN + 1);
  return 0;
}

/* Under r->mu. */
static int reload_locked(ctl_revoked_set *r, lisec_store *s, lisec_err *err) {
  load_ctx lc = {.max = r->max};
  int rc = store_doc_list(s, CTL_REVOKED_KIND, load_cb, &lc, err);
  if (rc == 1 && lc.too_many) rc = 0;
  if (rc) {
    free(lc.keys);
    return rc == LISEC_ENOMEM ? lisec_err_set(err, rc, "out of memory") : rc;
  }
  if (lc.n) qsort(lc.keys, lc.n, sizeof *lc.keys, key_cmp);
  free(r->keys);
  r->keys = lc.keys, r->n = lc.n;
  r->too_many = lc.too_many;
  r->loaded = true;
  r->loaded_ns = lisec_time_mono_ns();
  return 0;
}

/* The kept key equal to sha, or NULL (bsearch wants a non-NULL array). */
static revkey *find_locked(const ctl_revoked_set *r, const char *sha) {
  return r->n ? bsearch(sha, r->keys, r->n, sizeof *r->keys, key_cmp) : NULL;
}

static bool noted_locked(const ctl_revoked_set *r, const char *sha, size_t *at) {
  for (size_t i = 0; i < r->nnoted; i++)
    if (strcmp(r->noted[i], sha) == 0) {
      if (at) *at = i;
      return true;
    }
  return false;
}

/* The stored document of sha: 1 with *body, 0 when there is none. */
static int stored(lisec_store *s, const char *sha, char **body, lisec_err *err) {
  int rc = store_doc_get(s, CTL_REVOKED_KIND, sha, body, NULL, err);
  return rc == LISEC_ENOTFOUND ? 0 : rc ? rc : 1;
}

int ctl_revoked_lookup(ctl_revoked_set *r, lisec_store *s, const char *sha256, char **body,
                       lisec_err *err) {
  *body = NULL;
  if (!r) return stored(s, sha256, body, err);
  pthread_mutex_lock(&r->mu);
  if (r->refresh_ms <= 0 || r->max == 0) {
    pthread_mutex_unlock(&r->mu);
    return stored(s, sha256, body, err);
  }
  int rc = 0;
  if (!r->loaded || lisec_time_mono_ns() - r->loaded_ns >= (uint64_t)r->refresh_ms * 1000000u)
    rc = reload_locked(r, s, err);
  bool by_store = r->too_many;
  bool hit = !rc && !by_store &&
             (find_locked(r, sha256) || noted_locked(r, sha256, NULL));
  pthread_mutex_unlock(&r->mu);
  if (rc) return rc;
  if (by_store) return stored(s, sha256, body, err);
  if (!hit) return 0;
  /* the refusal says what is stored; a revocation still being committed
   * is refused without it, and one the store no longer holds is dropped */
  rc = stored(s, sha256, body, err);
  if (rc != 0) return rc;
  pthread_mutex_lock(&r->mu);
  bool pending = noted_locked(r, sha256, NULL);
  if (!pending) {
    revkey *k = find_locked(r, sha256);
    if (k) {
      memmove(k, k + 1, (size_t)(r->keys + r->n - (k + 1)) * sizeof *k);
      r->n--;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return pending ? 1 : 0;
}

void ctl_revoked_note(ctl_revoked_set *r, const char *sha256) {
  if (!r || !sha256 || strlen(sha256) != KEY_LEN) return;
  pthread_mutex_lock(&r->mu);
  if (!noted_locked(r, sha256, NULL)) {
    if (r->nnoted == r->cap_noted) {
      size_t cap = r->cap_noted ? 2 * r->cap_noted : 8;
      revkey *k = realloc(r->noted, cap * sizeof *k);
      if (k) r->noted = k, r->cap_noted = cap;
    }
    if (r->nnoted < r->cap_noted) memcpy(r->noted[r->nnoted++], sha256, KEY_LEN + 1);
    else r->refresh_ms = 0; /* out of memory: the store answers from now on */
  }
  pthread_mutex_unlock(&r->mu);
}

void ctl_revoked_settle(ctl_revoked_set *r, const char *sha256, bool committed) {
  if (!r || !sha256 || strlen(sha256) != KEY_LEN) return;
  pthread_mutex_lock(&r->mu);
  size_t at = 0;
  if (noted_locked(r, sha256, &at) && at != --r->nnoted)
    memcpy(r->noted[at], r->noted[r->nnoted], KEY_LEN + 1);
  /* a failed commit may still have landed (a lost answer): the store decides */
  if (!committed) r->loaded = false;
  if (committed && r->loaded && !find_locked(r, sha256)) {
    revkey *k = r->n < r->max ? realloc(r->keys, (r->n + 1) * sizeof *k) : NULL;
    if (k) {
      size_t i = r->n;
      while (i > 0 && strcmp(k[i - 1], sha256) > 0) i--;
      memmove(k + i + 1, k + i, (r->n - i) * sizeof *k);
      memcpy(k[i], sha256, KEY_LEN + 1);
      r->keys = k, r->n++;
    } else {
      r->loaded = false; /* read from the store at the next lookup */
    }
  }
  pthread_mutex_unlock(&r->mu);
}
