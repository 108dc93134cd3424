/* The controller's clock topic (ctl/clock.h): the [time] settings, the
 * thread that asks chronyd over its Unix command socket how the clock is
 * disciplined, the verdict every time-dependent decision reads, and the
 * per-host TPM clock tracks with the fleet's median shift. Talking chrony's
 * command protocol directly (base/chrony.c) rather than running chronyc
 * keeps the controller's sandbox free of execve (cmd/lisecd/sandbox.c);
 * docs/time.md says more. The verdict is judged again at each question
 * (with the time of the question), so a poll thread that stopped, or a
 * chronyd that stopped hearing its source, makes time unproven by itself. */
#include "ctl/clock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "attest/tpmclock.h"
#include "base/chrony.h"
#include "ctl/internal.h"

#define HOST_ID_MAX 128
/* The fleet's verdict is computed again once per this many hosts' samples
 * (ctl_clock_tpm_sample): see fleet_due. */
#define FLEET_SAMPLES_PER_HOSTS 64

typedef struct host_track {
  char host[HOST_ID_MAX + 1];
  attest_tpmclock t;
  uint64_t at_mono_ns; /* when t's last sample was taken (monotonic): tpm_window_s is a duration */
} host_track;

struct ctl_clock_state {
  pthread_mutex_t mu;
  pthread_cond_t changed;
  /* settings */
  bool chrony; /* [time] source = "chrony"; false: "none" */
  char *socket_path, *reply_path;
  lisec_clock_bounds bounds;
  int64_t poll_ms, stale_ms, timeout_ms, tpm_jump_ms, tpm_min_hosts, tpm_window_ms;
  /* the last reading of chronyd */
  bool have_reading;      /* tracking was read at least once */
  bool have_auth;         /* authdata of its selected source was read too */
  lisec_chrony_tracking tracking;
  lisec_chrony_auth auth;
  uint64_t read_ok_mono_ns; /* when the last reading succeeded (monotonic) */
  int64_t read_ok_ms;       /* the same, wall clock, for the status */
  char read_error[LISEC_ERR_MSG_MAX]; /* why the last attempt failed; "" when it did not */
  bool was_proven;          /* the poll thread's last verdict, to record changes once */
  uint32_t seq;
  /* TPM clocks */
  host_track *hosts;
  size_t n_hosts, cap_hosts;
  json_t *host_at;     /* host id -> its position in hosts */
  size_t since_fleet;  /* samples since the fleet's verdict was computed */
  bool fleet_jump;
  int64_t fleet_median_ms;
  size_t fleet_n;
  uint64_t host_findings, fleet_findings;
  /* the poll thread */
  pthread_t thread;
  bool started, stopping;
  lisec_ctl *worker; /* its own store connection, for its audit records */
};

static const ctl_actor clock_actor = {"lisecd", "controller", CTL_ROLE_CONTROLLER};

static int64_t mono_ms_since(uint64_t then_ns) {
  return (int64_t)((lisec_time_mono_ns() - then_ns) / 1000000u);
}

/* ---- settings ----------------------------------------------------------- */

static int read_int(const lisec_config *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                    int64_t *out, lisec_err *err) {
  return lisec_config_int(cfg, "time", key, def, min, max, out, err);
}

/* [time] into st's settings (socket_path and reply_path allocated): the
 * source, chronyd's sockets, the bounds and the TPM clocks' rules. */
static int read_settings(const lisec_config *cfg, int64_t window_def, struct ctl_clock_state *st, lisec_err *err) {
  const char *src = lisec_config_str(cfg, "time", "source", "none");
  if (strcmp(src, "chrony") == 0) st->chrony = true;
  else if (strcmp(src, "none") != 0)
    return lisec_err_set(err, LISEC_EINVAL, "[time] source = %s: expected chrony or none", src);
  const char *sock = lisec_config_str(cfg, "time", "chrony_socket", "/run/chrony/chronyd.sock");
  const char *reply = lisec_config_str(cfg, "time", "reply_socket", "/run/lisec/chrony-reply.sock");
  struct sockaddr_un un;
  if (strlen(sock) >= sizeof un.sun_path || !sock[0])
    return lisec_err_set(err, LISEC_EINVAL, "[time] chrony_socket: 1 to %zu bytes", sizeof un.sun_path - 1);
  if (strlen(reply) >= sizeof un.sun_path || !reply[0])
    return lisec_err_set(err, LISEC_EINVAL, "[time] reply_socket: 1 to %zu bytes", sizeof un.sun_path - 1);
  /* the reply socket is removed and bound afresh for each reading */
  if (strcmp(sock, reply) == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[time] reply_socket = %s is chrony_socket too: lisecd removes and binds its reply "
                         "socket for each reading, which would delete chronyd's command socket",
                         reply);
  if (!(st->socket_path = strdup(sock)) || !(st->reply_path = strdup(reply)))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc;
  if ((rc = read_int(cfg, "max_offset_ms", 100, 0, 3600000, &st->bounds.max_offset_ms, err)) ||
      (rc = read_int(cfg, "max_root_dispersion_ms", 500, 0, 3600000, &st->bounds.max_root_dispersion_ms, err)) ||
      (rc = lisec_config_bool(cfg, "time", "require_nts", true, &st->bounds.require_nts, err)) ||
      (rc = read_int(cfg, "poll_ms", 1000, 50, 600000, &st->poll_ms, err)) ||
      (rc = read_int(cfg, "stale_ms", 10000, 100, 3600000, &st->stale_ms, err)) ||
      (rc = read_int(cfg, "timeout_ms", 1000, 10, 60000, &st->timeout_ms, err)) ||
      (rc = read_int(cfg, "tpm_jump_ms", 10000, 1, 86400000, &st->tpm_jump_ms, err)) ||
      (rc = read_int(cfg, "tpm_min_hosts", 3, 1, 1000000, &st->tpm_min_hosts, err)) ||
      (rc = read_int(cfg, "tpm_window_s", window_def, 1, 30 * 86400, &st->tpm_window_ms, err)))
    return rc;
  st->tpm_window_ms *= 1000;
  if (st->stale_ms < st->poll_ms)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[time] stale_ms = %lld is shorter than poll_ms = %lld: every reading "
                         "would be stale before the next",
                         (long long)st->stale_ms, (long long)st->poll_ms);
  return 0;
}

int ctl_clock_settings_check(const lisec_config *cfg, int64_t tpm_window_def_s, lisec_err *err) {
  struct ctl_clock_state st = {0};
  int rc = read_settings(cfg, tpm_window_def_s, &st, err);
  free(st.socket_path);
  free(st.reply_path);
  return rc;
}

int ctl_clock_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)s;
  struct ctl_clock_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->mu, NULL);
  if (!(st->host_at = json_object())) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->changed, &ca);
  pthread_condattr_destroy(&ca);
  sh->clock = st;
  /* tpm_window_s's default: two attestation rounds with their grace */
  int rc = read_settings(cfg, 2 * (sh->settings.attest_interval_s + sh->settings.attest_grace_s), st, err);
  if (rc) return rc;
  snprintf(st->read_error, sizeof st->read_error, "chronyd not read yet");
  if (!st->chrony)
    LOG_WARN("[time] source = \"none\": lisecd does not check its clock; LI validity, "
             "attestation age and nonce expiry are judged by an UNPROVEN clock (development "
             "only; TR 103 308 4.2 asks for trustworthy time: set source = \"chrony\")");
  else
    LOG_INFO("[time] source = \"chrony\": reading %s every %lld ms (max |offset| %lld ms, root "
             "dispersion %lld ms, NTS %s)",
             st->socket_path, (long long)st->poll_ms, (long long)st->bounds.max_offset_ms,
             (long long)st->bounds.max_root_dispersion_ms,
             st->bounds.require_nts ? "required" : "not required");
  return 0;
}

/* ---- chronyd ------------------------------------------------------------ */

/* One request and its reply over a datagram socket bound to reply_path
 * (chronyd answers to the sender's address, so the client needs one). */
static int exchange(int fd, const uint8_t *req, size_t len, uint8_t *reply, size_t *n,
                    int64_t timeout_ms, lisec_err *err) {
  if (send(fd, req, len, 0) != (ssize_t)len)
    return lisec_err_set(err, LISEC_EUNAVAIL, "cannot send to chronyd: %s", strerror(errno));
  uint64_t t0 = lisec_time_mono_ns();
  for (;;) {
    int64_t left = timeout_ms - mono_ms_since(t0);
    if (left <= 0)
      return lisec_err_set(err, LISEC_EUNAVAIL, "chronyd did not answer within %lld ms ([time] timeout_ms)",
                           (long long)timeout_ms);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return lisec_err_set(err, LISEC_EUNAVAIL, "poll: %s", strerror(errno));
    if (r == 0) continue;
    /* one byte more than the largest reply read: a longer one is oversized */
    ssize_t got = recv(fd, reply, LISEC_CHRONY_REPLY_MAX + 1, MSG_TRUNC);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return lisec_err_set(err, LISEC_EUNAVAIL, "cannot read chronyd's reply: %s", strerror(errno));
    *n = (size_t)got;
    return 0;
  }
}

static int read_chrony(struct ctl_clock_state *st, uint32_t seq, lisec_chrony_tracking *t,
                       lisec_chrony_auth *a, bool *have_auth, lisec_err *err) {
  *have_auth = false;
  struct sockaddr_un me = {.sun_family = AF_UNIX}, them = {.sun_family = AF_UNIX};
  snprintf(me.sun_path, sizeof me.sun_path, "%s", st->reply_path);
  snprintf(them.sun_path, sizeof them.sun_path, "%s", st->socket_path);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return lisec_err_set(err, LISEC_EUNAVAIL, "socket: %s", strerror(errno));
  int rc = 0;
  (void)unlink(me.sun_path); /* a previous run's */
  if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "cannot bind [time] reply_socket %s: %s", me.sun_path,
                       strerror(errno));
    goto out;
  }
  /* chronyd may run as another user: it needs to write to this socket;
   * the directory it is in is what limits who can reach it */
  (void)chmod(me.sun_path, 0666);
  if (connect(fd, (struct sockaddr *)&them, sizeof them) != 0) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "chronyd is not reachable at [time] chrony_socket %s: %s",
                       them.sun_path, strerror(errno));
    goto out;
  }
  uint8_t req[LISEC_CHRONY_REQ_MAX], reply[LISEC_CHRONY_REPLY_MAX + 1];
  /* Between bind and connect the socket (0666) took datagrams from anyone
   * who can reach it, and the sequence numbers are predictable: whatever
   * is queued now was not sent by chronyd. Once connected, the kernel
   * takes datagrams from chronyd's socket only, so emptying the queue here
   * leaves nothing but chronyd's answers to read. */
  while (recv(fd, reply, sizeof reply, MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR) {
  }
  size_t len = lisec_chrony_request(req, LISEC_CHRONY_TRACKING, seq, NULL), n = 0;
  if ((rc = exchange(fd, req, len, reply, &n, st->timeout_ms, err)) ||
      (rc = lisec_chrony_parse_tracking(reply, n, seq, t, err)))
    goto out;
  if (t->addr.family == 1 || t->addr.family == 2) {
    lisec_err ae = {0};
    len = lisec_chrony_request(req, LISEC_CHRONY_AUTH_DATA, seq + 1, &t->addr);
    if (exchange(fd, req, len, reply, &n, st->timeout_ms, &ae) == 0 &&
        lisec_chrony_parse_auth(reply, n, seq + 1, a, &ae) == 0)
      *have_auth = true;
    else
      LOG_DEBUG("time: no authdata for chrony's selected source: %s", ae.msg);
  }
out:
  close(fd);
  (void)unlink(me.sun_path);
  return rc;
}

/* The verdict at now_ms from what was last read; the lock is held. With
 * fleet false the TPM fleet's verdict is left out (ctl_clock_witness_now). */
static bool judge_with(const struct ctl_clock_state *st, int64_t now_ms, bool fleet, char *why, size_t n) {
  if (!st->have_reading || st->read_error[0]) {
    snprintf(why, n, "chronyd cannot be read: %.400s", st->read_error);
    return false;
  }
  int64_t age = mono_ms_since(st->read_ok_mono_ns);
  if (age > st->stale_ms) {
    snprintf(why, n, "the last reading of chronyd is %lld ms old ([time] stale_ms = %lld)",
             (long long)age, (long long)st->stale_ms);
    return false;
  }
  if (!lisec_clock_judge(&st->tracking, st->have_auth ? &st->auth : NULL, &st->bounds, now_ms, why, n))
    return false;
  if (fleet && st->fleet_jump) {
    snprintf(why, n,
             "the TPM clocks of %zu hosts moved %lld ms (median) against the controller's clock "
             "([time] tpm_jump_ms = %lld): the controller's clock jumped",
             st->fleet_n, (long long)-st->fleet_median_ms, (long long)st->tpm_jump_ms);
    return false;
  }
  return true;
}

static bool judge_locked(const struct ctl_clock_state *st, int64_t now_ms, char *why, size_t n) {
  return judge_with(st, now_ms, true, why, n);
}

static void record(lisec_ctl *ctl, ctl_outcome outcome, const char *action, const char *why,
                   const char *subject) {
  if (!ctl) return;
  lisec_err e = {0};
  if (ctl_audit(ctl, &clock_actor, outcome, action, false, why, 0, NULL, &e, "%s", subject) != 0)
    LOG_ERROR("time: cannot record %s (%s): %s", action, why, e.msg);
}

static void poll_once(struct ctl_clock_state *st) {
  lisec_chrony_tracking t;
  lisec_chrony_auth a;
  bool have_auth = false;
  lisec_err err = {0};
  pthread_mutex_lock(&st->mu);
  uint32_t seq = st->seq += 2;
  pthread_mutex_unlock(&st->mu);
  int rc = read_chrony(st, seq, &t, &a, &have_auth, &err);
  char why[512];
  pthread_mutex_lock(&st->mu);
  if (rc == 0) {
    st->have_reading = true;
    st->tracking = t;
    st->auth = a;
    st->have_auth = have_auth;
    st->read_ok_mono_ns = lisec_time_mono_ns();
    st->read_ok_ms = lisec_time_now_ms();
    st->read_error[0] = '\0';
  } else {
    snprintf(st->read_error, sizeof st->read_error, "%s", err.msg);
  }
  bool proven = judge_locked(st, lisec_time_now_ms(), why, sizeof why);
  bool changed = proven != st->was_proven;
  st->was_proven = proven;
  pthread_mutex_unlock(&st->mu);
  if (!changed) return;
  if (proven) {
    LOG_INFO("time: the controller's clock is proven by chronyd (%s)", st->socket_path);
    record(st->worker, CTL_OUTCOME_OK, "time.proven", "chronyd: synchronised within the [time] bounds",
           "controller clock");
  } else {
    LOG_WARN("time: the controller's clock is UNPROVEN: %s; decisions that depend on time are "
             "refused (%s)", why, CTL_CLOCK_REQ);
    char reason[600];
    snprintf(reason, sizeof reason, "%s: %.500s", CTL_CLOCK_REQ, why);
    record(st->worker, CTL_OUTCOME_DENIED, "time.unproven", reason, "controller clock");
  }
}

static void *poll_main(void *arg) {
  struct ctl_clock_state *st = arg;
  pthread_mutex_lock(&st->mu);
  while (!st->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += st->poll_ms / 1000;
    ts.tv_nsec += (st->poll_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&st->changed, &st->mu, &ts);
    if (st->stopping) break;
    pthread_mutex_unlock(&st->mu);
    poll_once(st);
    pthread_mutex_lock(&st->mu);
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

int ctl_clock_start(ctl_shared *sh, lisec_err *err) {
  struct ctl_clock_state *st = sh->clock;
  if (!st || !st->chrony || st->started) return 0;
  lisec_ctl parent = {.shared = sh};
  int rc = ctl_open_worker(&parent, &st->worker, err);
  if (rc) return rc;
  st->was_proven = true; /* so that an unproven first reading is recorded */
  poll_once(st);
  st->stopping = false;
  if ((rc = ctl_thread_start(&st->thread, poll_main, st, "lisec-clock", &st->worker, err))) return rc;
  st->started = true;
  return 0;
}

void ctl_clock_stop(ctl_shared *sh) {
  struct ctl_clock_state *st = sh->clock;
  if (!st || !st->started) return;
  ctl_thread_stop(&st->mu, &st->changed, &st->stopping, st->thread, &st->worker);
  st->started = false;
}

void ctl_clock_close(ctl_shared *sh) {
  struct ctl_clock_state *st = sh->clock;
  if (!st) return;
  ctl_clock_stop(sh);
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->changed);
  free(st->socket_path);
  free(st->reply_path);
  free(st->hosts);
  json_decref(st->host_at);
  free(st);
  sh->clock = NULL;
}

/* ---- the question -------------------------------------------------------- */

static int trusted_now(ctl_shared *sh, const char *what, bool fleet, int64_t *now_ms, lisec_err *err) {
  *now_ms = lisec_time_now_ms();
  struct ctl_clock_state *st = sh ? sh->clock : NULL;
  if (!st || !st->chrony) return 0;
  char why[512];
  pthread_mutex_lock(&st->mu);
  bool ok = judge_with(st, *now_ms, fleet, why, sizeof why);
  pthread_mutex_unlock(&st->mu);
  if (ok) return 0;
  return lisec_err_set(err, LISEC_EDENIED, "%s: %s needs a proven clock, and the controller's clock is unproven: %s",
                       CTL_CLOCK_REQ, what, why);
}

int ctl_clock_trusted_now(ctl_shared *sh, const char *what, int64_t *now_ms, lisec_err *err) {
  return trusted_now(sh, what, true, now_ms, err);
}

int ctl_clock_witness_now(ctl_shared *sh, const char *what, int64_t *now_ms, lisec_err *err) {
  return trusted_now(sh, what, false, now_ms, err);
}

int ctl_clock_trusted_s(ctl_shared *sh, const char *what, int64_t *now_s, lisec_err *err) {
  int64_t now_ms = 0;
  int rc = trusted_now(sh, what, true, &now_ms, err);
  *now_s = now_ms / 1000;
  return rc;
}

/* ---- TPM clocks ---------------------------------------------------------- */

/* The host's track, found by its id in a hash (a report's cost does not
 * grow with the fleet), or a new one; NULL when out of memory. */
static host_track *track_locked(struct ctl_clock_state *st, const char *host) {
  json_t *at = json_object_get(st->host_at, host);
  if (at) return &st->hosts[json_integer_value(at)];
  if (st->n_hosts == st->cap_hosts) {
    size_t cap = st->cap_hosts ? 2 * st->cap_hosts : 16;
    host_track *h = realloc(st->hosts, cap * sizeof *h);
    if (!h) return NULL;
    st->hosts = h;
    st->cap_hosts = cap;
  }
  if (json_object_set_new(st->host_at, host, json_integer((json_int_t)st->n_hosts))) return NULL;
  host_track *h = &st->hosts[st->n_hosts++];
  memset(h, 0, sizeof *h);
  snprintf(h->host, sizeof h->host, "%s", host);
  return h;
}

/* Whether the fleet's verdict is due again: at every sample while the fleet
 * has fewer than FLEET_SAMPLES_PER_HOSTS hosts, else once per n / 64
 * samples. The verdict copies and sorts every host's shift, so computing it
 * at each report cost O(n log n) per report (1.4 ms at 10,000 hosts); this
 * way its cost per report stays constant whatever the fleet's size, and a
 * jump is still seen within a 64th of a round of reports after the hosts'
 * own samples show it. */
static bool fleet_due(struct ctl_clock_state *st) {
  if (++st->since_fleet < st->n_hosts / FLEET_SAMPLES_PER_HOSTS) return false;
  st->since_fleet = 0;
  return true;
}

/* The fleet's verdict over the shifts measured within the window, by the
 * monotonic clock: the wall clock is what is being judged, and stepped
 * back it made old samples look new (counted long after the window). */
static void fleet_locked(struct ctl_clock_state *st) {
  int64_t *shifts = malloc((st->n_hosts ? st->n_hosts : 1) * sizeof *shifts);
  if (!shifts) return; /* the previous verdict stands */
  size_t n = 0;
  for (size_t i = 0; i < st->n_hosts; i++) {
    const attest_tpmclock *t = &st->hosts[i].t;
    if (t->have_shift && mono_ms_since(st->hosts[i].at_mono_ns) <= st->tpm_window_ms) shifts[n++] = t->shift_ms;
  }
  st->fleet_n = n;
  st->fleet_jump = attest_tpmclock_fleet_jump(shifts, n, (size_t)st->tpm_min_hosts, st->tpm_jump_ms,
                                              &st->fleet_median_ms);
  free(shifts);
}

void ctl_clock_tpm_sample(lisec_ctl *ctl, const char *host, uint64_t clock_ms, uint32_t reset_count,
                          uint32_t restart_count, bool safe, int64_t now_ms) {
  struct ctl_clock_state *st = ctl->shared->clock;
  if (!st || !host) return;
  char why[256] = "", fleet_why[400] = "";
  pthread_mutex_lock(&st->mu);
  host_track *h = track_locked(st, host);
  attest_tpmclock_result r = ATTEST_TPMCLOCK_BASELINE;
  bool was_jump = st->fleet_jump;
  if (h) {
    r = attest_tpmclock_add(&h->t, clock_ms, reset_count, restart_count, safe, now_ms, why, sizeof why);
    h->at_mono_ns = lisec_time_mono_ns();
    if (r == ATTEST_TPMCLOCK_BACKWARDS || r == ATTEST_TPMCLOCK_UNSAFE) st->host_findings++;
    if (fleet_due(st)) fleet_locked(st);
  }
  bool jump = st->fleet_jump;
  if (jump && !was_jump) {
    st->fleet_findings++;
    snprintf(fleet_why, sizeof fleet_why,
             "%s: the TPM clocks of %zu hosts moved %lld ms (median) against the controller's "
             "clock, more than [time] tpm_jump_ms = %lld: the controller's clock jumped",
             CTL_CLOCK_REQ, st->fleet_n, (long long)-st->fleet_median_ms, (long long)st->tpm_jump_ms);
  } else if (!jump && was_jump) {
    snprintf(fleet_why, sizeof fleet_why,
             "the TPM clocks of %zu hosts agree with the controller's clock again (median shift %lld ms)",
             st->fleet_n, (long long)st->fleet_median_ms);
  }
  pthread_mutex_unlock(&st->mu);
  if (why[0]) {
    char reason[600];
    snprintf(reason, sizeof reason, "%s: %.500s", CTL_CLOCK_REQ, why);
    LOG_WARN("time: host %.16s..: %s", host, why);
    record(ctl, CTL_OUTCOME_DENIED, "time.tpm_clock", reason, host);
  }
  if (fleet_why[0]) {
    if (jump) LOG_WARN("time: %s", fleet_why);
    else LOG_INFO("time: %s", fleet_why);
    record(ctl, jump ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK, jump ? "time.jump" : "time.agree",
           fleet_why, "controller clock");
  }
}

/* ---- status and metrics -------------------------------------------------- */

json_t *ctl_clock_status(ctl_shared *sh) {
  struct ctl_clock_state *st = sh ? sh->clock : NULL;
  if (!st) return json_pack("{s:s}", "source", "none");
  char why[512], addr[48], at[32];
  int64_t now = lisec_time_now_ms();
  pthread_mutex_lock(&st->mu);
  bool proven = st->chrony && judge_locked(st, now, why, sizeof why);
  json_t *o = json_pack("{s:s, s:b, s:{s:b, s:I, s:I, s:I, s:I}}", "source", st->chrony ? "chrony" : "none",
                        "proven", proven, "tpm", "fleet_jump", st->fleet_jump, "hosts_compared",
                        (json_int_t)st->fleet_n, "median_shift_ms", (json_int_t)st->fleet_median_ms,
                        "host_findings", (json_int_t)st->host_findings, "fleet_findings",
                        (json_int_t)st->fleet_findings);
  if (o && !st->chrony)
    json_object_set_new(o, "reason", json_string("[time] source = \"none\": the clock is not checked "
                                                 "(development)"));
  else if (o && !proven)
    json_object_set_new(o, "reason", json_string(why));
  if (o && st->chrony && st->have_reading) {
    lisec_chrony_addr_text(&st->tracking.addr, addr);
    lisec_time_format(st->read_ok_ms / 1000, at);
    json_object_set_new(
        o, "chrony",
        json_pack("{s:s, s:i, s:b, s:b, s:f, s:f, s:f, s:s}", "selected_source", addr, "stratum",
                  (int)st->tracking.stratum, "synchronised", st->tracking.leap != 3, "nts",
                  st->have_auth && st->auth.mode == 2, "offset_ms", st->tracking.offset_s * 1000.0,
                  "root_dispersion_ms", st->tracking.root_dispersion_s * 1000.0, "root_delay_ms",
                  st->tracking.root_delay_s * 1000.0, "read_at", at));
  }
  pthread_mutex_unlock(&st->mu);
  return o;
}

void ctl_clock_metrics(ctl_shared *sh, lisec_buf *b) {
  struct ctl_clock_state *st = sh ? sh->clock : NULL;
  if (!st) return;
  char why[512];
  pthread_mutex_lock(&st->mu);
  bool proven = st->chrony && judge_locked(st, lisec_time_now_ms(), why, sizeof why);
  double off = st->have_reading ? st->tracking.offset_s : 0.0;
  double disp = st->have_reading ? st->tracking.root_dispersion_s : 0.0;
  lisec_buf_printf(b,
                   "# HELP lisec_time_proven Whether the controller's clock is proven (chronyd, NTS, "
                   "bounds, TPM fleet); 0 with [time] source = none.\n"
                   "# TYPE lisec_time_proven gauge\nlisec_time_proven %d\n"
                   "# HELP lisec_time_offset_seconds The clock's offset chronyd last reported.\n"
                   "# TYPE lisec_time_offset_seconds gauge\nlisec_time_offset_seconds %.9f\n"
                   "# HELP lisec_time_root_dispersion_seconds chronyd's last root dispersion.\n"
                   "# TYPE lisec_time_root_dispersion_seconds gauge\n"
                   "lisec_time_root_dispersion_seconds %.9f\n"
                   "# HELP lisec_time_tpm_jump Whether most hosts' TPM clocks moved against the "
                   "controller's clock.\n"
                   "# TYPE lisec_time_tpm_jump gauge\nlisec_time_tpm_jump %d\n"
                   "# HELP lisec_time_tpm_median_shift_seconds The fleet's median TPM clock shift.\n"
                   "# TYPE lisec_time_tpm_median_shift_seconds gauge\n"
                   "lisec_time_tpm_median_shift_seconds %.3f\n"
                   "# HELP lisec_time_tpm_findings_total TPM clocks that went back or were not safe.\n"
                   "# TYPE lisec_time_tpm_findings_total counter\nlisec_time_tpm_findings_total %llu\n",
                   proven ? 1 : 0, off, disp, st->fleet_jump ? 1 : 0,
                   (double)st->fleet_median_ms / 1000.0, (unsigned long long)st->host_findings);
  pthread_mutex_unlock(&st->mu);
}
