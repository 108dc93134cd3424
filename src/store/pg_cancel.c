/* The PostgreSQL back end's cancel requests, bounded. libpq 15's PQcancel
 * connects and waits for the server's close without a timeout (a host cut
 * off holds it for the kernel's SYN retries, about 2 min; a server that
 * accepts but does not answer, for good), so each is sent from a detached
 * thread nobody waits for. Those threads are bounded: at most one in
 * flight per connection (a connection whose previous cancel is still under
 * way starts none) and STORE_PG_CANCELS_MAX in the whole process. A
 * statement refused a canceller gives its connection up instead (the
 * caller shuts its socket), so a store that stays stalled costs a bounded
 * number of threads however many statements time out on it. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/store_impl.h"

struct pg_canceller {
  atomic_int refs;  /* the connection's and its cancel thread's */
  atomic_bool busy; /* a cancel of this connection's is in flight */
};

static atomic_uint in_flight;

typedef struct cancel_job {
  PGcancel *cancel;
  pg_canceller *owner;
} cancel_job;

pg_canceller *pg_canceller_new(void) {
  pg_canceller *o = calloc(1, sizeof *o);
  if (o)
    atomic_init(&o->refs, 1);
  return o;
}

void pg_canceller_put(pg_canceller *o) {
  if (o && atomic_fetch_sub(&o->refs, 1) == 1)
    free(o);
}

unsigned store_pg_cancels_in_flight(void) { return atomic_load(&in_flight); }

static void job_end(cancel_job *j) {
  PQfreeCancel(j->cancel);
  atomic_store(&j->owner->busy, false);
  pg_canceller_put(j->owner);
  atomic_fetch_sub(&in_flight, 1);
  free(j);
}

static void *cancel_main(void *arg) {
  cancel_job *j = arg;
  char why[256];
  PQcancel(j->cancel, why, sizeof why); /* its outcome is the statement's
                                           answer, or the grace's end */
  job_end(j);
  return NULL;
}

bool pg_canceller_start(pg_canceller *o, PGconn *conn) {
  if (!o)
    return false;
  bool idle = false;
  if (!atomic_compare_exchange_strong(&o->busy, &idle, true))
    return false;
  unsigned n = atomic_load(&in_flight);
  do {
    if (n >= STORE_PG_CANCELS_MAX) {
      atomic_store(&o->busy, false);
      return false;
    }
  } while (!atomic_compare_exchange_weak(&in_flight, &n, n + 1));
  cancel_job *j = malloc(sizeof *j);
  PGcancel *c = j ? PQgetCancel(conn) : NULL;
  if (!c) {
    free(j);
    atomic_store(&o->busy, false);
    atomic_fetch_sub(&in_flight, 1);
    return false;
  }
  j->cancel = c;
  j->owner = o;
  atomic_fetch_add(&o->refs, 1);
  pthread_attr_t a;
  pthread_t t;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &a, cancel_main, j);
  pthread_attr_destroy(&a);
  if (rc != 0) {
    job_end(j);
    return false;
  }
  return true;
}
