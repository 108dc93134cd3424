/* The writer guard of lisecd's controller process (ha.h, docs/ha.md): the
 * [ha] settings, the store's writer lock taken before the controller opens,
 * the fence set with the epoch of the take-over, and the watch that ends
 * the process when the lock is gone. Its state is the process's (there is
 * one controller per process), behind one mutex. A leader that loses its
 * lock, or finds the stored epoch moved on, logs one line and _exit(1)s at
 * once: nothing it would do afterwards could be trusted to reach the store
 * (the fence refuses it) and a half-working controller is worse than none.
 * With a lease the leader also keeps its own deadline, by the monotonic
 * clock: lease_ms less one lock_poll_ms after the start of its last renewal
 * that succeeded. Past it, the server may be about to end its lock session
 * and a standby to take over, so it stops answering as the leader
 * (ctl_ha_leading) until its watch has checked the lock again, without
 * waiting for a write to meet the fence (docs/ha.md, "The leader's own
 * deadline"). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ha.h"
#include "ctl/internal.h"
#include "ctl/model.h"

#define LISEC_DEFAULT_STORE "sqlite:/var/lib/lisec/lisec.db"

static struct {
  pthread_mutex_t mu;
  bool open, leader;
  ctl_ha_settings set;
  store_lock *lock;
  ctl_shared *sh; /* the controller whose model a store failover makes stale */
  /* the watch */
  pthread_t thread;
  bool watching, stopping;
  pthread_cond_t wake;
  int term_fd; /* readable while a SIGTERM is pending (-1: none) */
  int64_t stop_ms; /* [server] stop_timeout_s: the parent's bound on this process's stop */
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .term_fd = -1}; /* wake: made by wake_init, by the monotonic clock */

/* The process is stopping (ctl_ha_topic_stop): a watch round cut short by
 * it is no lost lock. */
static atomic_bool stop_asked;

/* The leader's own deadline (monotonic ms; 0: none, no lease on the lock's
 * session), read by every request without the mutex; lapsed: its step-down
 * was logged. lease_step: lease_ms less one lock_poll_ms, 0 without a
 * lease; set before the watch starts, read by the watch. */
static _Atomic int64_t lease_until;
static atomic_bool lapsed;
static int64_t lease_step;

/* A renewal that succeeded, started at `sent` (before its statement left,
 * so the server's idle_session_timeout counts from later than this). */
static void lease_renewed(int64_t sent) {
  if (!lease_step) return;
  atomic_store(&lease_until, sent + lease_step);
  if (atomic_exchange(&lapsed, false))
    LOG_INFO("leader (node %s): the watch checked the writer lock and renewed the lease; leading again",
             G.set.node);
}

int ctl_ha_leading(lisec_err *err) {
  int64_t until = atomic_load(&lease_until);
  if (!until) return 0;
  int64_t now = lisec_time_mono_ms();
  if (now < until) return 0;
  long long quiet = (long long)(now - until + lease_step);
  if (!atomic_exchange(&lapsed, true))
    LOG_ERROR("TR103308-5.5: the leader's lease was not renewed for %lld ms ([ha] lease_ms = %lld, its watch is "
              "late): the server may end its lock session and a standby take over at any moment, so this lisecd "
              "answers as a standby until its watch has checked the writer lock again",
              quiet, (long long)G.set.lease_ms);
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.3: this lisecd's leader lease was not renewed for %lld ms ([ha] lease_ms = "
                       "%lld): it does not answer as the leader until it has checked the writer lock again; "
                       "ask the leader",
                       quiet, (long long)G.set.lease_ms);
}

int64_t ctl_ha_lease_left_ms(void) {
  int64_t until = atomic_load(&lease_until);
  if (!until) return -1;
  int64_t left = until - lisec_time_mono_ms();
  return left > 0 ? left : 0;
}

/* A name or URL that goes into log lines, a table and replies: printable
 * ASCII without spaces or quotes, bounded. */
static bool clean_text(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\') return false;
  return true;
}

int ctl_ha_settings_read(const lisec_config *cfg, ctl_ha_settings *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  int rc = lisec_config_bool(cfg, "ha", "enabled", false, &out->enabled, err);
  if (!rc) rc = lisec_config_int(cfg, "ha", "lock_poll_ms", 500, 50, 60000, &out->poll_ms, err);
  if (!rc) rc = lisec_config_int(cfg, "ha", "lock_timeout_ms", 5000, 500, 60000, &out->timeout_ms, err);
  if (!rc)
    rc = lisec_config_int(cfg, "ha", "store_failover_ms", 30000, 1000, 600000, &out->failover_ms, err);
  int64_t lease_default = out->poll_ms * 4 > 10000 ? out->poll_ms * 4 : 10000;
  if (!rc) rc = lisec_config_int(cfg, "ha", "lease_ms", lease_default, 0, 600000, &out->lease_ms, err);
  /* a stalled PostgreSQL is refused within this, not waited for (store.h) */
  if (!rc)
    rc = lisec_config_int(cfg, "store", "timeout_ms", STORE_TIMEOUT_DEFAULT_MS, 1000, 600000,
                          &out->store_timeout_ms, err);
  /* a migration may rewrite a large table: its own bound (store.h) */
  if (!rc)
    rc = lisec_config_int(cfg, "store", "migration_timeout_ms", STORE_MIGRATION_TIMEOUT_DEFAULT_MS, 1000, 86400000,
                          &out->migration_timeout_ms, err);
  if (rc) return rc;
  /* the watch renews the lease at each poll: a few polls may be late */
  if (out->lease_ms && out->lease_ms < 4 * out->poll_ms)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[ha] lease_ms: 0 (no lease) or at least 4 x lock_poll_ms (%lld ms), since the watch "
                         "renews the lease at every poll",
                         (long long)(4 * out->poll_ms));
  char host[STORE_NODE_MAX + 1] = "";
  if (gethostname(host, sizeof host) != 0 || !clean_text(host, STORE_NODE_MAX)) snprintf(host, sizeof host, "lisecd");
  host[STORE_NODE_MAX] = 0;
  const char *node = lisec_config_str(cfg, "ha", "node", NULL);
  const char *adv = lisec_config_str(cfg, "ha", "advertise", NULL);
  if (node && !clean_text(node, STORE_NODE_MAX))
    return lisec_err_set(err, LISEC_EINVAL, "[ha] node: 1 to %d printable characters without spaces or quotes",
                         STORE_NODE_MAX);
  snprintf(out->node, sizeof out->node, "%s", node ? node : host);
  if (adv && (!clean_text(adv, STORE_ADVERTISE_MAX) || strncmp(adv, "https://", 8) != 0 || !adv[8]))
    return lisec_err_set(err, LISEC_EINVAL,
                         "[ha] advertise: this lisecd's https:// URL as clients reach it (at most %d characters)",
                         STORE_ADVERTISE_MAX);
  snprintf(out->advertise, sizeof out->advertise, "%s", adv ? adv : "");
  if (!out->enabled) return 0;
  if (!node || !adv)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[ha] enabled = true needs node (this lisecd's name) and advertise (its https:// URL, "
                         "which standbys name to clients)");
  const char *url = lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE);
  if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[ha] enabled = true needs a PostgreSQL store ([store] url = postgresql://...): "
                         "SQLite is one process's database");
  return 0;
}

int ctl_ha_open(const lisec_config *cfg, lisec_err *err) {
  ctl_ha_settings set;
  int rc = ctl_ha_settings_read(cfg, &set, err);
  if (rc) return rc;
  store_lock *lock = NULL;
  store_session_name_set(set.node);
  store_timeout_set(set.store_timeout_ms);
  store_migration_timeout_set(set.migration_timeout_ms);
  rc = store_lock_open(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE), set.node, set.advertise,
                       set.timeout_ms, &lock, err);
  if (rc) {
    lisec_err_wrap(err, "cannot open the store ([store] url): its writer lock");
    return rc;
  }
  pthread_mutex_lock(&G.mu);
  if (G.open) {
    pthread_mutex_unlock(&G.mu);
    store_lock_close(lock);
    return lisec_err_set(err, LISEC_EINTERNAL, "the writer guard is open already");
  }
  G.set = set;
  G.lock = lock;
  G.open = true;
  G.leader = false;
  /* A stop asked while the lock's connection waits (a standby's try, a
   * reconnect to a server that accepts and never answers) ends the wait:
   * lisecd's processes block SIGTERM and take it with sigwait, so it stays
   * pending, and a signalfd of it readable, until the stop is taken. Not
   * read here: the controller's loop takes it. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  G.term_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
  G.stop_ms = 30000;
  int64_t stop_s = 30;
  lisec_err ignored = {0}; /* checked by lisecd at start */
  if (lisec_config_int(cfg, "server", "stop_timeout_s", 30, 1, 3600, &stop_s, &ignored) == 0) G.stop_ms = stop_s * 1000;
  if (G.term_fd >= 0) store_lock_stop_fd(lock, G.term_fd);
  atomic_store(&stop_asked, false);
  pthread_mutex_unlock(&G.mu);
  return 0;
}

void ctl_ha_stopping(void) {
  pthread_mutex_lock(&G.mu);
  int64_t budget = G.open ? G.stop_ms : 30000;
  /* what is left after the waits (threads ending, closing) gets a second */
  int64_t waits = budget - 1000 > budget / 2 ? budget - 1000 : budget / 2;
  store_stop_by(lisec_time_mono_ms() + waits);
  atomic_store(&stop_asked, true);
  if (G.open) store_lock_interrupt(G.lock);
  pthread_mutex_unlock(&G.mu);
}

/* The fence's word when a transaction finds the epoch moved on: on a
 * worker's thread, in the middle of a request. */
static void deposed(const char *why) {
  LOG_ERROR("TR103308-5.5: deposed, another lisecd leads now: %s; exiting so that this one restarts as a standby",
            why);
  _exit(1);
}

int ctl_ha_try(bool *leader, char *leader_url, size_t size, lisec_err *err) {
  *leader = false;
  if (size) leader_url[0] = 0;
  pthread_mutex_lock(&G.mu);
  if (!G.open) {
    pthread_mutex_unlock(&G.mu);
    return lisec_err_set(err, LISEC_EINTERNAL, "the writer guard is not open");
  }
  store_holder h;
  bool held = false;
  int rc = store_lock_try(G.lock, &held, &h, err);
  /* Without [ha] the lock is only ever taken at start, where a holder may
   * be a previous lisecd still on its way out (its controller dies a
   * moment after its parent was killed, PostgreSQL notices a closed
   * session a moment later): asked again for up to lock_timeout_ms before
   * the refusal. */
  for (int64_t waited = 0; rc == 0 && !held && !G.set.enabled && waited < G.set.timeout_ms; waited += 100) {
    struct timespec tick = {0, 100 * 1000000L};
    nanosleep(&tick, NULL);
    rc = store_lock_try(G.lock, &held, &h, err);
  }
  if (rc == 0 && held) {
    G.leader = true;
    if (G.set.enabled) store_fence_set(store_lock_epoch(G.lock), deposed);
  }
  bool enabled = G.set.enabled;
  pthread_mutex_unlock(&G.mu);
  if (rc) return rc;
  *leader = held;
  if (held) return 0;
  if (enabled) {
    if (size) snprintf(leader_url, size, "%s", h.advertise);
    return 0;
  }
  char who[STORE_HOLDER_TEXT_MAX];
  store_holder_describe(&h, who, sizeof who);
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-5.5: another lisecd writes this store: %s; two writers would overwrite "
                       "each other's model and audit log, so this one does not start (stop the other, or run "
                       "both on PostgreSQL with [ha] enabled = true, docs/ha.md)",
                       who);
}

const ctl_ha_settings *ctl_ha_current(bool *leader, int64_t *epoch) {
  pthread_mutex_lock(&G.mu);
  const ctl_ha_settings *s = G.open ? &G.set : NULL;
  if (leader) *leader = G.open && G.leader;
  if (epoch) *epoch = G.open && G.leader ? store_lock_epoch(G.lock) : 0;
  pthread_mutex_unlock(&G.mu);
  return s;
}

void ctl_ha_close(void) {
  pthread_mutex_lock(&G.mu);
  store_lock *lock = G.open ? G.lock : NULL;
  int term_fd = G.term_fd;
  G.open = G.leader = false;
  G.lock = NULL;
  G.term_fd = -1;
  atomic_store(&lease_until, 0);
  pthread_mutex_unlock(&G.mu);
  store_fence_set(0, NULL);
  store_lock_close(lock);
  if (term_fd >= 0) close(term_fd);
}

/* ---- the topic: a controller opens only under the lock --------------------- */

int ctl_ha_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)sh, (void)s;
  bool enabled = false;
  int rc = lisec_config_bool(cfg, "ha", "enabled", false, &enabled, err);
  if (rc || !enabled) return rc;
  bool leader = false;
  ctl_ha_current(&leader, NULL);
  if (!leader)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.5: [ha] is on but this process does not hold the store's writer lock: "
                         "the controller opens only as the leader");
  return 0;
}

/* With [ha], a lock whose connection is lost: PostgreSQL restarted or
 * failed over (Patroni, pg_ctl promote). The connection is made again, to
 * whichever host of the URL is the primary now, every round for up to
 * [ha] store_failover_ms; the lock is taken back with a new epoch when the
 * stored epoch is still this leader's. Meanwhile the process's
 * transactions stay fenced by the old epoch, so a standby that takes the
 * lock first on the new primary deposes this one as usual. 0 when the lock
 * is held again or may still be; else the process must exit. */
static int regain_ha(store_lock *lock, int64_t *lost_since, lisec_err *err) {
  int64_t now_ms = lisec_time_mono_ms();
  if (!*lost_since) *lost_since = now_ms;
  lisec_err e2 = {0};
  int rc = store_lock_regain(lock, true, &e2);
  if (rc == 0) {
    LOG_INFO("leader (node %s): the store's connection was re-established after %lld ms and the writer lock "
             "taken back, epoch %lld",
             G.set.node, (long long)(now_ms - *lost_since), (long long)store_lock_epoch(lock));
    *lost_since = 0;
    ctl_model_mark_stale(G.sh);
    return 0;
  }
  if (store_lock_stopping(lock) || atomic_load(&stop_asked)) return 0; /* cut short by the stop */
  /* stuck: a server answers, but this leader's own previous lock session
   * (its backend stopped or hung) still holds the lock */
  bool stuck = store_lock_stuck(lock);
  if (rc == LISEC_EUNAVAIL && now_ms - *lost_since < G.set.failover_ms) {
    LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "store: %s: %s",
                stuck ? "the writer lock cannot be taken back yet" : "no primary to take the writer lock back on yet",
                e2.msg);
    return 0;
  }
  if (rc == LISEC_EUNAVAIL && stuck)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "not taken back within [ha] store_failover_ms = %lld ms: %s; no lisecd leads until that "
                         "backend ends",
                         (long long)G.set.failover_ms, e2.msg);
  if (rc == LISEC_EUNAVAIL)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "no read-write PostgreSQL among the store URL's hosts within [ha] store_failover_ms = "
                         "%lld ms (%s)",
                         (long long)G.set.failover_ms, e2.msg);
  *err = e2;
  return rc;
}

/* One round of the watch. A lost connection (a PostgreSQL restart or
 * failover) is re-established and the lock taken back as long as nobody
 * else held it meanwhile; with [ha] within store_failover_ms and with a
 * new epoch (regain_ha). A check that passed, or a lock taken back, renews
 * the leader's own deadline from the round's start: both were statements
 * on the lock's session (a new one, with its lease, when taken back). */
static void watch_once(void) {
  static int64_t lost_since;
  lisec_err err = {0};
  store_lock *lock = G.lock;
  int64_t sent = lisec_time_mono_ms();
  int rc = lost_since ? LISEC_EUNAVAIL : store_lock_check(lock, &err);
  if (rc == 0) {
    lease_renewed(sent);
    return;
  }
  if (atomic_load(&stop_asked) || store_lock_stopping(lock)) return; /* cut short by the stop: nothing lost */
  if (G.set.enabled) {
    if (rc == LISEC_EUNAVAIL && !lost_since)
      LOG_WARN("leader (node %s): %s; taking the writer lock back for up to [ha] store_failover_ms = %lld ms",
               G.set.node, err.msg, (long long)G.set.failover_ms);
    if (rc == LISEC_EUNAVAIL && (rc = regain_ha(lock, &lost_since, &err)) == 0) {
      if (!lost_since) lease_renewed(sent); /* taken back; else no primary yet */
      return;
    }
    LOG_ERROR("TR103308-5.5: this leader lost the store's writer lock (%s); exiting so that a standby takes over "
              "and this one restarts as a standby",
              err.msg);
    _exit(1);
  }
  if (rc == LISEC_EUNAVAIL) {
    lisec_err e2 = {0};
    rc = store_lock_regain(lock, false, &e2);
    if (rc == 0) {
      LOG_INFO("store: the writer lock's connection was re-established and the lock taken back");
      ctl_model_mark_stale(G.sh);
      return;
    }
    if (rc == LISEC_EUNAVAIL) {
      LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "store: the writer lock cannot be taken back yet: %s", e2.msg);
      return;
    }
    err = e2;
  }
  LOG_ERROR("TR103308-5.5: %s; exiting rather than write beside another lisecd", err.msg);
  _exit(1);
}

/* The watch waits by the monotonic clock: a wait until a wall-clock time
 * lasts as much longer as the clock is stepped back meanwhile (chrony
 * correcting a clock that ran ahead), and the lease, not renewed, would
 * end a healthy leader's lock. */
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static void wake_init(void) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&G.wake, &ca);
  pthread_condattr_destroy(&ca);
}

/* Test builds only: while the file LISEC_TEST_HA_WATCH_STALL names exists,
 * the watch skips its rounds, as a watch thread held up on an overloaded
 * host would (tests/integration/ha_lease_stall.sh): the lease is not
 * renewed. */
static bool test_stalled(void) {
#ifdef LISEC_TEST_HOOKS
  static bool said;
  const char *path = getenv("LISEC_TEST_HA_WATCH_STALL");
  if (!path || access(path, F_OK) != 0) return false;
  if (!said) LOG_INFO("test hook: the writer lock's watch skips its rounds while %s exists", path);
  said = true;
  return true;
#else
  return false;
#endif
}

static void *watch_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&G.mu);
  while (!G.stopping) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t ns = until.tv_nsec + (G.set.poll_ms % 1000) * 1000000;
    until.tv_sec += (time_t)(G.set.poll_ms / 1000) + (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&G.wake, &G.mu, &until);
    if (G.stopping) break;
    pthread_mutex_unlock(&G.mu);
    /* only this thread uses the lock's connection while it watches */
    if (!test_stalled()) watch_once();
    pthread_mutex_lock(&G.mu);
  }
  pthread_mutex_unlock(&G.mu);
  return NULL;
}

int ctl_ha_topic_start(ctl_shared *sh, lisec_err *err) {
  pthread_mutex_lock(&G.mu);
  G.sh = sh;
  int rc = 0;
  bool need = G.open && G.leader && !G.watching && store_lock_postgres(G.lock);
#ifdef LISEC_TEST_HOOKS
  /* Test builds only: the fence alone must stop a deposed leader's write
   * (tests/integration/ha_failover.sh), so the watch can be left off. */
  if (need && getenv("LISEC_TEST_HA_NO_WATCH")) need = false;
#endif
  /* The lease lives as long as the watch renews it: without a watch (the
   * test build's) a leader would lose its lock for being idle. */
  int64_t sent = lisec_time_mono_ms();
  if (need && G.set.enabled && G.set.lease_ms && (rc = store_lock_lease(G.lock, G.set.lease_ms, err)) != 0) {
    lisec_err_wrap(err, "TR103308-5.5: [ha] lease_ms (0 runs without a lease)");
    need = false;
  }
  /* The lease runs from that SET: from now on the leader keeps its own
   * deadline, one poll short of the server's (docs/ha.md). */
  if (need && G.set.enabled && G.set.lease_ms) {
    lease_step = G.set.lease_ms - G.set.poll_ms;
    lease_renewed(sent);
  }
  if (need) {
    G.stopping = false;
    pthread_once(&wake_once, wake_init);
    if (pthread_create(&G.thread, NULL, watch_main, NULL) != 0)
      rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start the writer lock's watch");
    else
      G.watching = true;
  }
  pthread_mutex_unlock(&G.mu);
  return rc;
}

void ctl_ha_topic_stop(ctl_shared *sh) {
  (void)sh;
  pthread_mutex_lock(&G.mu);
  bool join = G.watching;
  G.stopping = true;
  G.watching = false;
  /* a round under way (a statement the server does not answer, a new
   * connection to a server that does not answer) ends now, not at its
   * bound, so the stop is not held by it */
  atomic_store(&stop_asked, true);
  if (G.open) store_lock_interrupt(G.lock);
  pthread_mutex_unlock(&G.mu);
  ctl_ha_stopping(); /* when the controller's loop did not say so first */
  pthread_mutex_lock(&G.mu);
  pthread_once(&wake_once, wake_init);
  pthread_cond_broadcast(&G.wake);
  pthread_mutex_unlock(&G.mu);
  if (join) pthread_join(G.thread, NULL);
}
