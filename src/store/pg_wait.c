/* Waiting on a libpq connection by the monotonic clock, for the store's
 * sessions (postgres.c) and the writer lock's own (lock.c): a statement's
 * send and its answer each end by a deadline, so a server that stopped (a
 * SIGSTOPped or hung backend, whose host's kernel still takes the bytes
 * and answers keepalives, so neither TCP nor the server's own timeouts end
 * the wait) cannot hold a thread for good. The writer lock's waits also end
 * when the process is asked to stop (stop: descriptors that become readable
 * then), and so does its connecting, which libpq does blocking (its
 * connect_timeout per host): it is done on a thread of its own that the
 * caller stops waiting for. Once the process is stopping (store_stop_by)
 * every wait, the store's sessions' too, ends by the stop's deadline at the
 * latest, so a stalled server cannot hold the stop past what its parent
 * allows. What to do once a deadline has passed (cancel, give the
 * connection up) is the caller's. */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/store_impl.h"

/* The stop's deadline (monotonic ms, 0: not stopping) and the eventfd
 * that wakes the waits under way when it is set (readable from then on). */
static _Atomic int64_t stop_by;
static int stop_wake = -1;
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;
static void stop_init(void) { stop_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

void store_stop_by(int64_t mono_ms) {
  pthread_once(&stop_once, stop_init);
  int64_t none = 0;
  if (!atomic_compare_exchange_strong(&stop_by, &none, mono_ms > 0 ? mono_ms : 1)) return; /* the first stays */
  uint64_t one = 1;
  if (stop_wake >= 0 && write(stop_wake, &one, sizeof one) != sizeof one) { /* readable already */
  }
}

int64_t store_pg_bounded(int64_t limit) {
  int64_t by = atomic_load(&stop_by);
  return by && by < limit ? by : limit;
}

/* poll(2) on fd and the stop descriptors (negative ones are ignored), and
 * on the stop's wake-up until the stop's deadline is set (the caller then
 * bounds its limit by it: store_pg_bounded); true when a stop descriptor
 * is readable. */
static bool wait_or_stop(int fd, short events, int64_t left, const int *stop, short *revents) {
  struct pollfd p[2 + STORE_PG_STOPS] = {{.fd = fd, .events = events}};
  for (int i = 0; i < STORE_PG_STOPS; i++) p[1 + i] = (struct pollfd){.fd = stop ? stop[i] : -1, .events = POLLIN};
  pthread_once(&stop_once, stop_init);
  p[1 + STORE_PG_STOPS] = (struct pollfd){.fd = atomic_load(&stop_by) ? -1 : stop_wake, .events = POLLIN};
  *revents = 0;
  if (poll(p, 2 + STORE_PG_STOPS, left > 60000 ? 60000 : (int)left) <= 0) return false; /* EINTR: looked again */
  *revents = p[0].revents;
  for (int i = 0; i < STORE_PG_STOPS; i++)
    if (p[1 + i].revents) return true;
  return false;
}

bool store_pg_stopping(const int *stop) {
  short r;
  return stop && wait_or_stop(-1, 0, 0, stop, &r);
}

bool store_pg_flush_by(PGconn *c, int64_t limit, const int *stop) {
  while (PQflush(c) == 1) {
    int64_t now = lisec_time_mono_ms();
    limit = store_pg_bounded(limit);
    if (now >= limit) return false;
    short r;
    /* readable too: libpq reads what the server sends meanwhile */
    if (wait_or_stop(PQsocket(c), POLLOUT | POLLIN, limit - now, stop, &r)) return false;
    if (r & POLLIN) PQconsumeInput(c);
  }
  return true; /* all sent, or the connection failed: its error is the answer */
}

bool store_pg_result_by(PGconn *c, int64_t limit, const int *stop) {
  for (;;) {
    if (!PQisBusy(c) || PQstatus(c) != CONNECTION_OK) return true;
    int64_t now = lisec_time_mono_ms();
    limit = store_pg_bounded(limit);
    if (now >= limit) return false;
    short r;
    if (wait_or_stop(PQsocket(c), POLLIN, limit - now, stop, &r)) return false;
    PQconsumeInput(c); /* a failure closes the connection: its error is the answer */
  }
}

void store_pg_give_up(PGconn *c) {
  shutdown(PQsocket(c), SHUT_RDWR);
  PQconsumeInput(c);
}

/* ---- connecting on a thread of its own ------------------------------------ */

/* One connection being made: the caller's and the thread's references; the
 * last one frees it, and the connection with it when nobody took it (the
 * caller stopped waiting). Its keywords and values are copies: the thread
 * may outlive what the caller passed. */
typedef struct connect_job {
  atomic_int refs;
  int done; /* an eventfd, written once the connection is made or failed */
  _Atomic(PGconn *) conn;
  char **keys, **vals;
} connect_job;

static void job_put(connect_job *j) {
  if (atomic_fetch_sub(&j->refs, 1) != 1) return;
  PGconn *c = atomic_load(&j->conn);
  if (c) PQfinish(c);
  close(j->done);
  for (size_t i = 0; j->keys && j->keys[i]; i++) free(j->keys[i]);
  for (size_t i = 0; j->vals && j->vals[i]; i++) free(j->vals[i]);
  free(j->keys);
  free(j->vals);
  free(j);
}

static void *connect_main(void *arg) {
  connect_job *j = arg;
  atomic_store(&j->conn, PQconnectdbParams((const char *const *)j->keys, (const char *const *)j->vals, 1));
  uint64_t one = 1;
  if (write(j->done, &one, sizeof one) != sizeof one) { /* an eventfd takes it */
  }
  job_put(j);
  return NULL;
}

static connect_job *job_new(const char *const *keys, const char *const *vals) {
  size_t n = 0;
  while (keys[n]) n++;
  connect_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  atomic_init(&j->refs, 1);
  j->keys = calloc(n + 1, sizeof *j->keys);
  j->vals = calloc(n + 1, sizeof *j->vals);
  j->done = eventfd(0, EFD_CLOEXEC);
  bool ok = j->keys && j->vals && j->done >= 0;
  for (size_t i = 0; ok && i < n; i++) {
    j->keys[i] = strdup(keys[i]);
    j->vals[i] = strdup(vals[i] ? vals[i] : "");
    ok = j->keys[i] && j->vals[i];
  }
  if (!ok) {
    job_put(j);
    return NULL;
  }
  return j;
}

PGconn *store_pg_connect(const char *const *keys, const char *const *vals, const int *stop, bool *stopped) {
  *stopped = false;
  if (store_pg_stopping(stop)) {
    *stopped = true;
    return NULL;
  }
  connect_job *j = job_new(keys, vals);
  pthread_t t;
  pthread_attr_t a;
  bool started = false;
  if (j && pthread_attr_init(&a) == 0) {
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&j->refs, 1);
    started = pthread_create(&t, &a, connect_main, j) == 0;
    if (!started) atomic_fetch_sub(&j->refs, 1);
    pthread_attr_destroy(&a);
  }
  if (!started) { /* no thread: connected here, not interruptible */
    if (j) job_put(j);
    return PQconnectdbParams(keys, vals, 1);
  }
  short r = 0;
  while (!(r & POLLIN)) {
    int64_t left = store_pg_bounded(INT64_MAX) - lisec_time_mono_ms();
    if (left <= 0 || wait_or_stop(j->done, POLLIN, left, stop, &r)) {
      *stopped = true; /* the thread finishes the connection and frees it */
      job_put(j);
      return NULL;
    }
  }
  PGconn *c = atomic_exchange(&j->conn, NULL);
  job_put(j);
  return c;
}
