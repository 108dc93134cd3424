/* The admission of NEs' X1 reports and the task issues waiting for the
 * ADMF loop (see x1_reports.h): a bounded table of token buckets, the least
 * recently seen NE's taken over when it is full, and a bounded queue of
 * (task, what it shows), each under its own lock. A report is recorded
 * under neither: its task's place in the queue is kept first (so a report
 * past the bound is refused before it is recorded, and one recorded is
 * never refused), then it is recorded, then what it shows is put in that
 * place, unless a report on the task recorded later is already there: the
 * ADMF loop's take, and other NEs' reports, wait for no audit write. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "ctl/x1_reports.h"

#define NE_MAX 64      /* an X1 identifier's bytes (x1/x1.h X1_ID_MAX) */
#define BUCKETS 1024   /* NEs kept; one taken over costs at most one burst */
#define KEY_MAX 200    /* a task's key: target (128) "|" NE (64) */

typedef struct bucket {
  char ne[NE_MAX + 1]; /* "" when free */
  int64_t tokens; /* thousandths of a report: exact at any rate */
  int64_t last_ms;
  bool flooding; /* refused since the bucket was last full */
} bucket;

typedef struct pending {
  char key[KEY_MAX + 1];
  char shown[CTL_X1_REPORT_SHOWN_MAX + 1];
  bool ready;         /* shown is a recorded report, not yet taken */
  unsigned recording; /* reports on the task being recorded now */
  bool has_order;     /* order is the latest queued report's (ready or taken) */
  uint64_t order;
} pending;

struct ctl_x1_reports {
  pthread_mutex_t lock; /* the buckets */
  int64_t rate, burst;  /* reports a second; reports, in thousandths */
  bucket buckets[BUCKETS];
  pthread_mutex_t queue_lock;
  pending *queue; /* grown as needed, up to queue_max */
  size_t n_queued, cap, queue_max;
};

ctl_x1_reports *ctl_x1_reports_new(unsigned rate_per_s, unsigned burst, size_t queue_max) {
  ctl_x1_reports *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->rate = rate_per_s ? rate_per_s : 1;
  r->burst = (int64_t)(burst ? burst : 1) * 1000;
  r->queue_max = queue_max ? queue_max : 1;
  pthread_mutex_init(&r->lock, NULL);
  pthread_mutex_init(&r->queue_lock, NULL);
  return r;
}

void ctl_x1_reports_free(ctl_x1_reports *r) {
  if (!r) return;
  free(r->queue);
  pthread_mutex_destroy(&r->lock);
  pthread_mutex_destroy(&r->queue_lock);
  free(r);
}

/* NE's bucket, a free one, or the least recently used one taken over.
 * Called with the lock held. */
static bucket *bucket_of(ctl_x1_reports *r, const char *ne, int64_t now_ms) {
  bucket *free_one = NULL, *oldest = &r->buckets[0];
  for (size_t i = 0; i < BUCKETS; i++) {
    bucket *b = &r->buckets[i];
    if (!b->ne[0]) {
      if (!free_one) free_one = b;
    } else if (strcmp(b->ne, ne) == 0) {
      return b;
    } else if (b->last_ms < oldest->last_ms) {
      oldest = b;
    }
  }
  bucket *b = free_one ? free_one : oldest;
  snprintf(b->ne, sizeof b->ne, "%s", ne);
  b->tokens = r->burst;
  b->last_ms = now_ms;
  b->flooding = false;
  return b;
}

bool ctl_x1_reports_admit(ctl_x1_reports *r, const char *ne, int64_t now_ms, bool *flood_began) {
  *flood_began = false;
  pthread_mutex_lock(&r->lock);
  bucket *b = bucket_of(r, ne, now_ms);
  if (now_ms > b->last_ms) {
    int64_t gap = now_ms - b->last_ms;
    b->tokens = gap >= r->burst / r->rate ? r->burst : b->tokens + gap * r->rate;
    if (b->tokens >= r->burst) {
      b->tokens = r->burst;
      b->flooding = false; /* quiet long enough: a flood after this is another */
    }
    b->last_ms = now_ms;
  } else if (now_ms < b->last_ms) {
    b->last_ms = now_ms; /* a clock stepped back: it refills from here, not from the old time */
  }
  bool ok = b->tokens >= 1000;
  if (ok) {
    b->tokens -= 1000;
  } else if (!b->flooding) {
    b->flooding = true;
    *flood_began = true;
  }
  pthread_mutex_unlock(&r->lock);
  return ok;
}

/* The task's place in the queue, or n_queued. Called with queue_lock held. */
static size_t place_of(const ctl_x1_reports *r, const char *key) {
  size_t i = 0;
  while (i < r->n_queued && strcmp(r->queue[i].key, key) != 0) i++;
  return i;
}

int ctl_x1_reports_queue(ctl_x1_reports *r, const char *key,
                         int (*record)(void *ctx, char *shown, size_t cap, uint64_t *order), void *ctx) {
  if (strlen(key) > KEY_MAX) return LISEC_EINVAL; /* no task has such a key */
  /* the task's place, kept while the report is recorded */
  pthread_mutex_lock(&r->queue_lock);
  size_t i = place_of(r, key);
  int rc = 0;
  if (i == r->n_queued && r->n_queued == r->queue_max) rc = LISEC_ETOOBIG;
  if (!rc && i == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    if (cap > r->queue_max) cap = r->queue_max;
    pending *q = realloc(r->queue, cap * sizeof *q);
    if (q) r->queue = q, r->cap = cap;
    else rc = LISEC_ENOMEM;
  }
  if (!rc && i == r->n_queued) {
    pending *p = &r->queue[r->n_queued++];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
  }
  if (!rc) r->queue[i].recording++;
  pthread_mutex_unlock(&r->queue_lock);
  if (rc) return rc;
  /* recorded under no lock: an audit write waits for its fsync */
  char shown[CTL_X1_REPORT_SHOWN_MAX + 1] = "";
  uint64_t order = 0;
  rc = record(ctx, shown, sizeof shown, &order);
  /* what it shows, in its place (a take may have moved it, never removed
   * it while recording), unless a later recorded report is there */
  pthread_mutex_lock(&r->queue_lock);
  i = place_of(r, key);
  pending *p = &r->queue[i];
  p->recording--;
  if (!rc && (!p->has_order || order > p->order)) {
    snprintf(p->shown, sizeof p->shown, "%s", shown);
    p->ready = p->has_order = true;
    p->order = order;
  }
  if (!p->ready && !p->recording) { /* nothing to show: the place is free again */
    memmove(p, p + 1, (r->n_queued - i - 1) * sizeof *p);
    r->n_queued--;
  }
  pthread_mutex_unlock(&r->queue_lock);
  return rc;
}

size_t ctl_x1_reports_take(ctl_x1_reports *r, void (*apply)(void *ctx, const char *key, const char *shown),
                           void *ctx) {
  pthread_mutex_lock(&r->queue_lock);
  size_t n = 0, busy = 0;
  for (size_t i = 0; i < r->n_queued; i++) {
    n += r->queue[i].ready;
    busy += r->queue[i].recording > 0;
  }
  pending *q = NULL;
  if (!busy) { /* the whole queue, its places freed */
    q = r->queue;
    r->queue = NULL;
    r->n_queued = r->cap = 0;
  } else if (n && (q = malloc(n * sizeof *q))) {
    /* the ready ones out, oldest first; the places of reports being
     * recorded stay, in order, remembering the order of what they showed */
    size_t out = 0, kept = 0;
    for (size_t i = 0; i < r->n_queued; i++) {
      pending *p = &r->queue[i];
      if (p->ready) q[out++] = *p;
      if (!p->recording) continue;
      p->ready = false;
      if (kept != i) r->queue[kept] = *p;
      kept++;
    }
    r->n_queued = kept;
  } else {
    n = 0; /* out of memory: all stays queued, for the next take */
  }
  pthread_mutex_unlock(&r->queue_lock);
  size_t applied = 0;
  for (size_t i = 0; q && applied < n; i++) {
    if (!q[i].ready) continue;
    apply(ctx, q[i].key, q[i].shown);
    applied++;
  }
  free(q);
  return n;
}
