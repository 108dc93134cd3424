/* The per-certificate limit on refusals that are recorded: every refused
 * attempt on an audited route becomes a sealed, fsync'd audit record, so one
 * client could otherwise write hundreds a second. A token bucket per client
 * certificate (role and subject together) lets a burst through and then a
 * steady rate; past it the refusal is answered 429 and only counted. The
 * table is bounded: when it is full, the certificate refused longest ago is
 * forgotten (it starts again with a full bucket, which costs at most one
 * burst). Workers share the table under one lock, taken only on refusals. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

typedef struct bucket {
  char key[API_ROLE_NAME_MAX + API_SUBJECT_MAX + 2]; /* "role|subject"; "" when free */
  double tokens;
  uint64_t last_ns;
} bucket;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned rate_per_s = 5, burst_size = 20, max_clients = 4096;
static bucket *table;
static size_t n_used;

void api_ratelimit_configure(unsigned per_s, unsigned burst, unsigned clients) {
  pthread_mutex_lock(&lock);
  rate_per_s = per_s;
  burst_size = burst ? burst : 1;
  max_clients = clients ? clients : 1;
  free(table);
  table = NULL;
  n_used = 0;
  pthread_mutex_unlock(&lock);
}

/* The bucket of key, a fresh one in a free slot, or the least recently used
 * one taken over; NULL only when the table cannot be allocated. */
static bucket *find_bucket(const char *key, uint64_t now) {
  if (!table && !(table = calloc(max_clients, sizeof *table))) return NULL;
  bucket *oldest = &table[0];
  for (size_t i = 0; i < n_used; i++) {
    if (strcmp(table[i].key, key) == 0) return &table[i];
    if (table[i].last_ns < oldest->last_ns) oldest = &table[i];
  }
  bucket *b = n_used < max_clients ? &table[n_used++] : oldest;
  snprintf(b->key, sizeof b->key, "%s", key);
  b->tokens = burst_size;
  b->last_ns = now;
  return b;
}

/* Refills who's bucket and, when consume is set, spends one token. true
 * when a token was there; otherwise *retry_after_s says when one will be. */
static bool bucket_check(const api_principal *who, bool consume, unsigned *retry_after_s) {
  char key[sizeof((bucket *)0)->key];
  snprintf(key, sizeof key, "%s|%s", who->role, who->subject);
  uint64_t now = lisec_time_mono_ns();
  bool ok;
  pthread_mutex_lock(&lock);
  if (rate_per_s == 0) {
    pthread_mutex_unlock(&lock);
    return true;
  }
  bucket *b = find_bucket(key, now);
  if (!b) {
    /* No memory for the table: fail closed, the refusal is not recorded. */
    pthread_mutex_unlock(&lock);
    *retry_after_s = 1;
    return false;
  }
  b->tokens += (double)(now - b->last_ns) / 1e9 * rate_per_s;
  if (b->tokens > burst_size) b->tokens = burst_size;
  b->last_ns = now;
  ok = b->tokens >= 1.0;
  if (ok && consume) b->tokens -= 1.0;
  if (!ok) *retry_after_s = (unsigned)((1.0 - b->tokens) / rate_per_s) + 1;
  pthread_mutex_unlock(&lock);
  return ok;
}

bool api_ratelimit_take(const api_principal *who, unsigned *retry_after_s) {
  return bucket_check(who, true, retry_after_s);
}

bool api_ratelimit_allows(const api_principal *who, unsigned *retry_after_s) {
  return bucket_check(who, false, retry_after_s);
}
