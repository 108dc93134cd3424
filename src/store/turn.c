/* Whose turn it is to write one SQLite file, inside one process (issue 22
 * item 6). SQLite has one write lock per database; a connection that finds
 * it taken sleeps in its busy handler (1, 2, 5, 10 ... 100 ms) and tries
 * again, so a decision's audit commit behind a KEK rotation's chunks or an
 * attestation's record could sleep tens of milliseconds past the moment the
 * lock went free, and find it taken again by the next chunk. Here each
 * writer of this process first takes the file's turn: waiters sleep on a
 * condition variable and the one that gives the turn wakes them, and a
 * thread running at a lowered priority (store_thread_set_lowered: bulk
 * channels, the rotation thread) lets every waiting normal-priority writer go first, at
 * most TURN_SKIP_MAX in a row, so bulk work is delayed, never starved. The
 * wait is bounded by the caller's timeout; past it the writer goes on to
 * SQLite's own lock (and its busy timeout), as before. Writers in other
 * processes (lisec backup) still meet SQLite's lock alone.
 * It also counts how long writers waited for it, and for the controller's
 * model lock (ctl/model.c counts that here too), by class of thread, which
 * bench/api prints from test builds (store_wait_dump). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_impl.h"

/* Normal writers that may go ahead of a waiting lowered one in a row. */
#define TURN_SKIP_MAX 8

struct store_turn {
  struct store_turn *next;
  dev_t dev;
  ino_t ino;
  unsigned refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool held;
  unsigned normal_waiting, lowered_waiting;
  unsigned skipped; /* normal writers that went first while a lowered one waited */
};

static pthread_mutex_t turns_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store_turn *turns;

/* ---- the counts -----------------------------------------------------------
 * Per lock and per class of thread (normal, lowered): acquisitions, those
 * that waited (>= 100 us), the waits' total and histogram, and how long
 * the holders held it. */

#define WAIT_BUCKETS 12 /* < 0.25, 0.5, 1, 2 ... 256 ms, more */

static struct {
  atomic_uint_fast64_t n, waited, total_us, held_us, held_max_us, hist[WAIT_BUCKETS];
} counts[STORE_WAIT_LOCKS][2];

uint64_t store_wait_clock_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Lowered: the thread said so when it lowered its nice value (the bulk
 * channels, the KEK rotation), so a lisecd started under nice as a whole
 * has no lowered threads but those, and asking costs no system call. */
static _Thread_local bool thread_lowered;

void store_thread_set_lowered(bool lowered) { thread_lowered = lowered; }
bool store_thread_lowered(void) { return thread_lowered; }

void store_wait_note(int lock, bool lowered, uint64_t waited_us) {
  int c = lowered ? 1 : 0;
  atomic_fetch_add(&counts[lock][c].n, 1);
  if (waited_us < 100) return; /* the acquisition's own cost, not a wait */
  atomic_fetch_add(&counts[lock][c].waited, 1);
  atomic_fetch_add(&counts[lock][c].total_us, waited_us);
  int b = 0;
  for (uint64_t bound = 250; b < WAIT_BUCKETS - 1 && waited_us >= bound; bound *= 2) b++;
  atomic_fetch_add(&counts[lock][c].hist[b], 1);
}

void store_wait_note_held(int lock, bool lowered, uint64_t held_us) {
  int c = lowered ? 1 : 0;
  atomic_fetch_add(&counts[lock][c].held_us, held_us);
  uint_fast64_t cur = atomic_load(&counts[lock][c].held_max_us);
  while (held_us > cur && !atomic_compare_exchange_weak(&counts[lock][c].held_max_us, &cur, held_us)) {
  }
}

/* Test builds: the counts written to the file LISEC_BENCH_WAITS names, at
 * most once a second (rewritten whole, by rename), for bench/api: a line
 * per lock and class, "NAME CLASS n waited total_us held_us held_max_us"
 * and the histogram's counts. */
void store_wait_dump(void) {
#ifdef LISEC_TEST_HOOKS
  static atomic_uint_fast64_t last;
  static const char *const names[STORE_WAIT_LOCKS] = {"store", "model"};
  const char *path = getenv("LISEC_BENCH_WAITS");
  if (!path) return;
  uint_fast64_t now = store_wait_clock_us(), prev = atomic_load(&last);
  if (now - prev < 1000000u || !atomic_compare_exchange_strong(&last, &prev, now)) return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  for (int l = 0; l < STORE_WAIT_LOCKS; l++)
    for (int c = 0; c < 2; c++) {
      fprintf(f, "%s %s %llu %llu %llu %llu %llu", names[l], c ? "lowered" : "normal",
              (unsigned long long)atomic_load(&counts[l][c].n), (unsigned long long)atomic_load(&counts[l][c].waited),
              (unsigned long long)atomic_load(&counts[l][c].total_us),
              (unsigned long long)atomic_load(&counts[l][c].held_us),
              (unsigned long long)atomic_load(&counts[l][c].held_max_us));
      for (int b = 0; b < WAIT_BUCKETS; b++)
        fprintf(f, " %llu", (unsigned long long)atomic_load(&counts[l][c].hist[b]));
      fputc('\n', f);
    }
  fclose(f);
  rename(tmp, path);
#endif
}

/* ---- the turn ------------------------------------------------------------- */

store_turn *store_turn_get(const char *path) {
#ifdef LISEC_TEST_HOOKS
  /* bench/api and the tests compare with and without the turn */
  const char *off = getenv("LISEC_TEST_WRITER_TURNS");
  if (off && strcmp(off, "0") == 0) return NULL;
#endif
  struct stat sb;
  if (!path || stat(path, &sb) != 0) return NULL; /* :memory: is one connection's own */
  pthread_mutex_lock(&turns_mu);
  struct store_turn *t = turns;
  while (t && !(t->dev == sb.st_dev && t->ino == sb.st_ino)) t = t->next;
  if (!t && (t = calloc(1, sizeof *t))) {
    t->dev = sb.st_dev;
    t->ino = sb.st_ino;
    pthread_mutex_init(&t->mu, NULL);
    /* a turn's wait is bounded by a duration (store_turn_take): a wall
     * clock stepped back would lengthen it by the step, one stepped
     * forward refuse the turn at once */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    t->next = turns;
    turns = t;
  }
  if (t) t->refs++;
  pthread_mutex_unlock(&turns_mu);
  return t;
}

void store_turn_put(store_turn *t) {
  if (!t) return;
  pthread_mutex_lock(&turns_mu);
  if (--t->refs == 0) {
    struct store_turn **p = &turns;
    while (*p != t) p = &(*p)->next;
    *p = t->next;
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
  }
  pthread_mutex_unlock(&turns_mu);
}

static bool may_take(const struct store_turn *t, bool lowered) {
  if (t->held) return false;
  bool lowered_due = t->lowered_waiting && t->skipped >= TURN_SKIP_MAX;
  return lowered ? (t->normal_waiting == 0 || lowered_due) : !lowered_due;
}

bool store_turn_take(store_turn *t, bool lowered, int64_t timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(timeout_ms / 1000);
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&t->mu);
  unsigned *waiting = lowered ? &t->lowered_waiting : &t->normal_waiting;
  (*waiting)++;
  int rc = 0;
  while (!may_take(t, lowered) && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&t->cv, &t->mu, &until);
  /* Decided while still counted as waiting: a lowered writer is due only
   * while it waits, so uncounting it first would refuse it the very turn
   * that woke it (it then went to SQLite's lock and busy wait, last). */
  bool took = may_take(t, lowered);
  (*waiting)--;
  if (took) {
    t->held = true;
    if (lowered) t->skipped = 0;
    else if (t->lowered_waiting) t->skipped++;
  } else {
    pthread_cond_broadcast(&t->cv); /* with this waiter gone another may be allowed */
  }
  pthread_mutex_unlock(&t->mu);
  return took;
}

void store_turn_give(store_turn *t) {
  pthread_mutex_lock(&t->mu);
  t->held = false;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

void store_turn_waiting(const char *path, unsigned *normal, unsigned *lowered) {
  *normal = *lowered = 0;
  struct stat sb;
  if (stat(path, &sb) != 0) return;
  pthread_mutex_lock(&turns_mu);
  for (struct store_turn *t = turns; t; t = t->next)
    if (t->dev == sb.st_dev && t->ino == sb.st_ino) {
      pthread_mutex_lock(&t->mu);
      *normal = t->normal_waiting;
      *lowered = t->lowered_waiting;
      pthread_mutex_unlock(&t->mu);
    }
  pthread_mutex_unlock(&turns_mu);
}
