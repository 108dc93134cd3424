/* The per-client connection counts of lisecd's front (clients.h): a hash
 * table of client certificates' SHA-256, chained, one mutex. An entry is
 * made by a client's first open connection and freed with its last, so the
 * table never holds more entries than connections are open. The ids are
 * digests of certificates the client CA signed: a client cannot choose
 * them to crowd one bucket. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/clients.h"

#define BUCKETS_MIN 16
#define BUCKETS_MAX 65536

struct api_client {
  uint8_t id[API_CLIENT_ID_LEN];
  int n;          /* its connections open */
  api_client *next;
};

struct api_clients {
  pthread_mutex_t mu;
  int limit;
  size_t n_buckets; /* a power of two */
  api_client **buckets;
};

api_clients *api_clients_new(int limit, int cap) {
  api_clients *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  size_t want = cap > 0 ? (size_t)cap / 2 : 0, n = BUCKETS_MIN;
  while (n < want && n < BUCKETS_MAX) n *= 2;
  t->buckets = calloc(n, sizeof *t->buckets);
  if (!t->buckets) {
    free(t);
    return NULL;
  }
  t->n_buckets = n;
  t->limit = limit > 0 ? limit : 1;
  pthread_mutex_init(&t->mu, NULL);
  return t;
}

void api_clients_free(api_clients *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n_buckets; i++) {
    api_client *e = t->buckets[i];
    while (e) {
      api_client *next = e->next;
      free(e);
      e = next;
    }
  }
  free(t->buckets);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

int api_clients_limit(const api_clients *t) {
  return t->limit;
}

/* The chain of a client id: the digest's first bytes are as good as any hash. */
static size_t bucket_of(const api_clients *t, const uint8_t id[API_CLIENT_ID_LEN]) {
  return ((size_t)id[0] | (size_t)id[1] << 8 | (size_t)id[2] << 16 | (size_t)id[3] << 24) & (t->n_buckets - 1);
}

int api_clients_take(api_clients *t, const uint8_t id[API_CLIENT_ID_LEN], api_client **out) {
  size_t b = bucket_of(t, id);
  int rc = 0;
  pthread_mutex_lock(&t->mu);
  api_client *e = t->buckets[b];
  while (e && CRYPTO_memcmp(e->id, id, API_CLIENT_ID_LEN) != 0) e = e->next;
  if (e && e->n >= t->limit) {
    rc = 1;
  } else if (!e && !(e = calloc(1, sizeof *e))) {
    rc = -1;
  } else {
    if (e->n == 0) { /* new: its first connection */
      memcpy(e->id, id, API_CLIENT_ID_LEN);
      e->next = t->buckets[b];
      t->buckets[b] = e;
    }
    e->n++;
    *out = e;
  }
  pthread_mutex_unlock(&t->mu);
  return rc;
}

void api_clients_give(api_clients *t, api_client *e) {
  pthread_mutex_lock(&t->mu);
  if (--e->n == 0) { /* its last connection: the entry goes */
    api_client **p = &t->buckets[bucket_of(t, e->id)];
    while (*p && *p != e) p = &(*p)->next;
    if (*p) *p = e->next;
    free(e);
  }
  pthread_mutex_unlock(&t->mu);
}
