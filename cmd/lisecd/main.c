/* lisecd, the lisec controller, as four processes (issue 16): this parent
 * reads and checks the configuration, then forks the keys process (the one
 * PKCS#11 client), the controller (use cases, store, X1, attestation) and
 * the front (TLS, HTTP, admission), joined by socketpairs, and from then on
 * only supervises. SIGTERM or SIGINT stops them in that order reversed:
 * the front (requests in flight finish), the controller, the keys. SIGHUP
 * reads the [tls] files again and sends them to the front, which serves new
 * connections with them when they load and agree (tlsreload.c). A child
 * that ends on its own stops lisecd as a whole, with one log line naming
 * it: nothing half-works, and systemd (or whatever runs lisecd) restarts
 * it. It always runs in the foreground; logs go to stderr, each line naming
 * its process. Exit status: 0 after a clean stop, 1 when a child failed
 * while serving, 2 on a usage, configuration or start error. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/tls.h"
#include "ctl/ctl.h"
#include "keys/keys.h"
#include "lisecd.h"
#include "sandbox.h"

void lisecd_free_wiped(void *p) {
  if (p) explicit_bzero(p, malloc_usable_size(p));
  free(p);
}

void *lisecd_realloc_wiped(void *p, size_t n) {
  if (!p) return malloc(n);
  if (!n) return lisecd_free_wiped(p), NULL;
  void *q = malloc(n);
  if (!q) return NULL;
  size_t had = malloc_usable_size(p);
  memcpy(q, p, had < n ? had : n);
  lisecd_free_wiped(p);
  return q;
}

/* No core file and no ptrace by other users: the process holds LI secrets. */
static void harden_process(void) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* JSON values may hold target identifiers in clear: every block jansson
   * frees is wiped, so none lingers in the heap. */
  json_set_alloc_funcs(malloc, lisecd_free_wiped);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: lisecd -c CONFIG [--check-config | --witness-reset [--yes]] [--foreground]\n"
          "       | --help | --version\n"
          "  -c, --config FILE   the INI configuration (see examples/lisecd.conf)\n"
          "  --check-config      check the configuration, files, store and tokens, report\n"
          "                      every problem and exit, changing nothing\n"
          "  --witness-reset     show the audit witness's state (the last checkpoint the keys\n"
          "                      process signed); with --yes remove it, so that the next\n"
          "                      checkpoint is trusted on first use (after lisec restore;\n"
          "                      lisecd stopped); exit 0 removed or none, 1 not confirmed\n"
          "  --foreground        run in the foreground (always the case; accepted for init\n"
          "                      systems that pass it)\n"
          "exit status: 0 clean stop, 1 a process failed while serving, 2 usage,\n"
          "configuration or start error\n");
}

/* Each setting checked on its own: with report (--check-config) every bad
 * one is told and the count returned; without, the first stops it (its
 * message in *err, its code returned). */
typedef struct server_checker {
  void (*report)(void *ctx, const char *msg);
  void *ctx;
  lisec_err *err;
  int rc, problems;
} server_checker;

static bool bad(server_checker *c, int rc) {
  if (!rc) return false;
  if (c->report) {
    c->report(c->ctx, c->err->msg);
    c->problems++;
    return false;
  }
  if (!c->rc) c->rc = rc;
  return true;
}

static int server_config(const lisec_config *cfg, api_server_config *sc, server_checker *c) {
  int64_t tls_max = API_TLS_FILE_MAX_DEFAULT, workers = 2, max_body = 1 << 20, max_conns = 0, client_conns = 0,
          body_mem = 64 << 20, linger_ms = 2000, linger_bytes = 4 << 20,
          handshake_ms = 5000, idle_s = 60, max_head = 8192, rate = 5, burst = 20, clients = 4096, bulk = 2, bulk_nice = 10,
          bulk_workers = 1, slice = 0;
  lisec_err *err = c->err;
  if (bad(c, lisec_config_int(cfg, "server", "workers", 2, 1, 64, &workers, err)) ||
      bad(c, lisec_config_int(cfg, "server", "max_connections", 0, 0, 1 << 20, &max_conns, err)) ||
      bad(c, lisec_config_int(cfg, "server", "max_client_connections", 0, 0, 1 << 20, &client_conns, err)) ||
      bad(c, lisec_config_int(cfg, "server", "handshake_timeout_ms", 5000, 100, 60000, &handshake_ms, err)) ||
      bad(c, lisec_config_int(cfg, "server", "idle_timeout_s", 60, 1, 3600, &idle_s, err)) ||
      bad(c, lisec_config_int(cfg, "server", "max_header_bytes", 8192, 1024, 65536, &max_head, err)) ||
      bad(c, lisec_config_int(cfg, "server", "max_body_memory", 64 << 20, 1024, (int64_t)1 << 40, &body_mem, err)) ||
      bad(c, lisec_config_int(cfg, "server", "linger_ms", 2000, 0, 60000, &linger_ms, err)) ||
      bad(c, lisec_config_int(cfg, "server", "linger_bytes", 4 << 20, 65536, (int64_t)1 << 30, &linger_bytes, err)) ||
      bad(c, lisec_config_int(cfg, "server", "bulk_channels", 2, 0, API_BULK_CHANNELS_MAX, &bulk, err)) ||
      bad(c, lisec_config_int(cfg, "server", "bulk_nice", 10, 0, 19, &bulk_nice, err)) ||
      bad(c, lisec_config_int(cfg, "server", "bulk_workers", 1, 0, 8, &bulk_workers, err)) ||
      bad(c, lisec_config_int(cfg, "server", "request_slice_us", 0, 0, LISEC_SLICE_MAX_US, &slice, err)) ||
      (slice && slice < LISEC_SLICE_MIN_US &&
       bad(c, lisec_err_set(err, LISEC_EINVAL, "[server] request_slice_us = %lld: 0 (the kernel's slice) or %u-%u",
                            (long long)slice, LISEC_SLICE_MIN_US, LISEC_SLICE_MAX_US))) ||
      bad(c, lisec_config_int(cfg, "api", "max_body", 1 << 20, 1024, 64 << 20, &max_body, err)) ||
      bad(c, lisec_config_int(cfg, "api", "refusal_rate", 5, 0, 100000, &rate, err)) ||
      bad(c, lisec_config_int(cfg, "api", "refusal_burst", 20, 1, 100000, &burst, err)) ||
      bad(c, lisec_config_int(cfg, "api", "refusal_clients", 4096, 16, 1 << 20, &clients, err)) ||
      bad(c, lisec_config_int(cfg, "tls", "max_file_bytes", API_TLS_FILE_MAX_DEFAULT, API_TLS_FILE_MIN,
                              API_TLS_FILE_MAX_LIMIT, &tls_max, err)))
    return c->rc;
  if (body_mem < max_body &&
      bad(c, lisec_err_set(err, LISEC_EINVAL,
                           "[server] max_body_memory = %lld is below [api] max_body = %lld: a body of the "
                           "largest size could never be received",
                           (long long)body_mem, (long long)max_body)))
    return c->rc;
  sc->tls_file_max = (size_t)tls_max;
  sc->crl = lisec_config_str(cfg, "tls", "crl", NULL);
  sc->max_connections = (int)max_conns;
  sc->max_client_connections = (int)client_conns;
  sc->handshake_timeout_ms = (int)handshake_ms;
  sc->idle_timeout_s = (int)idle_s;
  sc->max_header_bytes = (size_t)max_head;
  sc->max_body_memory = (size_t)body_mem;
  sc->linger_ms = (int)linger_ms;
  sc->linger_bytes = (size_t)linger_bytes;
  sc->refusal_rate = (unsigned)rate;
  sc->refusal_burst = (unsigned)burst;
  sc->refusal_clients = (unsigned)clients;
  sc->listen = lisec_config_str(cfg, "server", "listen", "127.0.0.1:8443");
  sc->cert = lisec_config_str(cfg, "tls", "cert", NULL);
  sc->key = lisec_config_str(cfg, "tls", "key", NULL);
  sc->client_ca = lisec_config_str(cfg, "tls", "client_ca", NULL);
  sc->workers = (int)workers;
  sc->bulk_channels = (int)bulk;
  sc->bulk_nice = (int)bulk_nice;
  sc->bulk_workers = (int)bulk_workers;
  sc->request_slice_us = (unsigned)slice;
  sc->max_body = (size_t)max_body;
  if ((!sc->cert || !sc->key || !sc->client_ca) &&
      bad(c, lisec_err_set(err, LISEC_EINVAL,
                           "[tls] cert, key and client_ca are required: lisecd only speaks mutual TLS")))
    return c->rc;
  const char *src = lisec_config_str(cfg, "api", "role_source", "san-uri");
  if (strcmp(src, "san-uri") == 0) sc->role_source = API_ROLE_FROM_SAN_URI;
  else if (strcmp(src, "ou") == 0) sc->role_source = API_ROLE_FROM_OU;
  else if (bad(c, lisec_err_set(err, LISEC_EINVAL, "[api] role_source = \"%s\": expected san-uri or ou", src)))
    return c->rc;
  if (bad(c, lisecd_probe_config(cfg, sc, err))) return c->rc;
  return 0;
}

int lisecd_server_config(const lisec_config *cfg, api_server_config *sc, lisec_err *err) {
  server_checker c = {NULL, NULL, err, 0, 0};
  return server_config(cfg, sc, &c);
}

int lisecd_server_config_all(const lisec_config *cfg, api_server_config *sc,
                             void (*report)(void *ctx, const char *msg), void *ctx) {
  lisec_err err = {0};
  server_checker c = {report, ctx, &err, 0, 0};
  server_config(cfg, sc, &c);
  return c.problems;
}

static int setup_logging(const lisec_config *cfg, lisec_err *err) {
  lisec_log_level lvl = LISEC_LOG_INFO;
  bool json = false, access = true;
  int rc = lisecd_log_config(cfg, &lvl, &json, &access, err);
  if (rc == 0) {
    lisec_log_setup(lvl, json);
    lisec_log_set_access(access);
  }
  return rc;
}

/* ---- the children ---------------------------------------------------------- */

typedef enum { CHILD_KEYS, CHILD_CONTROLLER, CHILD_FRONT, CHILD_N } child_id;

typedef struct child {
  const char *name;  /* in the parent's log lines */
  const char *comm;  /* PR_SET_NAME, what ps shows */
  const char *tag;   /* in the child's log lines */
  pid_t pid;         /* 0 before the fork and after it was reaped */
  bool spawned;
  int status;        /* waitpid's, once reaped */
} child;

static child children[CHILD_N] = {
    [CHILD_KEYS] = {"keys", "lisecd-keys", "keys", 0, false, 0},
    [CHILD_CONTROLLER] = {"controller", "lisecd-ctl", "controller", 0, false, 0},
    [CHILD_FRONT] = {"front", "lisecd-front", "front", 0, false, 0},
};

static pid_t parent_pid;
static int ready_fd = -1; /* a child's end of its readiness pipe */

void lisecd_child_ready(void) {
  if (ready_fd < 0) return;
  char ok = 'R';
  if (write(ready_fd, &ok, 1) != 1) LOG_WARN("cannot tell lisecd this process is ready: %s", strerror(errno));
  close(ready_fd);
  ready_fd = -1;
}

/* In a new child: dies with the parent, names itself, keeps what the
 * parent hardened, and leaves SIGINT to the parent (a terminal's ^C
 * reaches the whole group; the parent stops the children in order). */
static void child_enter(const child *c) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_pid) _exit(1); /* the parent died before the line above */
  prctl(PR_SET_NAME, c->comm);
  harden_process();
  lisec_log_set_process(c->tag);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
}

static const char *describe_status(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status)) snprintf(buf, len, "signal %d", WTERMSIG(status));
  else snprintf(buf, len, "status %d", WEXITSTATUS(status));
  return buf;
}

static bool clean_exit(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

/* Reaps every child that ended. */
static void reap(void) {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < CHILD_N; i++) {
      if (children[i].pid != pid) continue;
      children[i].pid = 0;
      children[i].status = status;
    }
  }
}

/* A child that was started and has ended, or -1. One that failed (a
 * signal, a non-zero status) is named before one that ended cleanly: when
 * the controller is killed, the keys process sees its channel close and
 * stops cleanly, and the line must name the controller. */
static int ended_child(void) {
  reap();
  int clean = -1;
  for (int i = 0; i < CHILD_N; i++) {
    if (!children[i].spawned || children[i].pid != 0) continue;
    if (!clean_exit(children[i].status)) return i;
    if (clean < 0) clean = i;
  }
  return clean;
}

/* The child whose end stops lisecd, or -1. A clean exit is usually a child
 * seeing its peer go (the keys process when the controller is killed), and
 * the peer may take a moment to be reaped (a killed process closes its
 * descriptors before it is a zombie): up to a second for one that failed,
 * to name that one. */
static int failed_child(void) {
  int ended = ended_child();
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (int k = 0; ended >= 0 && k < 10 && clean_exit(children[ended].status); k++) {
    struct timespec tick = {0, 100 * 1000000L};
    (void)sigtimedwait(&chld, NULL, &tick);
    ended = ended_child();
  }
  return ended;
}

/* Waits up to ms for child i to end (reaping others that end meanwhile);
 * true when it did. */
static bool wait_child(int i, int64_t ms) {
  int64_t deadline = lisec_time_mono_ns() / 1000000 + ms;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    reap();
    if (children[i].pid == 0) return true;
    int64_t left = deadline - (int64_t)(lisec_time_mono_ns() / 1000000);
    if (left <= 0) return false;
    struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
    (void)sigtimedwait(&chld, NULL, &ts);
  }
}

/* SIGTERM, up to bound_ms for it to end, then SIGKILL. */
static void stop_child(int i, int64_t bound_ms) {
  if (children[i].pid == 0) return;
  kill(children[i].pid, SIGTERM);
  if (wait_child(i, bound_ms)) {
    char why[32];
    if (!clean_exit(children[i].status))
      LOG_WARN("lisecd: the %s process stopped with %s", children[i].name,
               describe_status(children[i].status, why, sizeof why));
    return;
  }
  LOG_ERROR("lisecd: the %s process did not stop within %lld ms ([server] stop_timeout_s); killing it",
            children[i].name, (long long)bound_ms);
  kill(children[i].pid, SIGKILL);
  wait_child(i, 60000);
}

/* Front first (it stops taking requests and lets those in flight finish),
 * then the controller, then the keys it used. */
static void stop_all(int64_t bound_ms) {
  stop_child(CHILD_FRONT, bound_ms);
  stop_child(CHILD_CONTROLLER, bound_ms);
  stop_child(CHILD_KEYS, bound_ms);
}

/* Forks child i running fn; ready_w is its end of the readiness pipe (-1
 * for none). keep[] are the descriptors it keeps; every other one in
 * close_fds[] is closed in the child. */
typedef int (*child_main_fn)(const lisec_config *cfg, void *arg);

static int spawn(int i, const lisec_config *cfg, child_main_fn fn, void *arg, int ready_w,
                 const int *close_fds, int n_close) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    children[i].pid = pid;
    children[i].spawned = true;
    return 0;
  }
  child_enter(&children[i]);
  for (int k = 0; k < n_close; k++)
    if (close_fds[k] >= 0) close(close_fds[k]);
  ready_fd = ready_w;
  int rc = fn(cfg, arg);
  fflush(NULL);
  _exit(rc);
}

/* The socketpairs: keys[0] the controller's end, keys[1] the keys
 * process's; chan[i][0] the controller's end of worker i's channel,
 * chan[i][1] the front's. */
typedef struct wiring {
  int keys[2];
  int tls[2]; /* the parent's end, the front's: TLS material on SIGHUP */
  int n;
  int (*chan)[2];
  int *ctl_fds, *front_fds;
} wiring;

static int run_keys(const lisec_config *cfg, void *arg) {
  wiring *wr = arg;
  return lisecd_keys_main(cfg, wr->keys[1]);
}

static int run_controller(const lisec_config *cfg, void *arg) {
  wiring *wr = arg;
  return lisecd_controller_main(cfg, wr->keys[0], wr->ctl_fds, wr->n);
}

static int run_front(const lisec_config *cfg, void *arg) {
  wiring *wr = arg;
  return lisecd_front_main(cfg, wr->front_fds, wr->n, wr->tls[1]);
}

/* Waits for child i's readiness byte on fd. 0 when it is ready; 2 when it
 * (or another child) ended first, or the parent was asked to stop. */
static int wait_ready(int i, int fd, const sigset_t *stop) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  for (;;) {
    int n = poll(&p, 1, 100);
    if (n > 0) {
      char b = 0;
      if (read(fd, &b, 1) == 1 && b == 'R') return 0;
      /* Closed without a word: the child is on its way out. */
      wait_child(i, 60000);
    }
    int ended = failed_child();
    if (ended >= 0) {
      char why[32];
      LOG_ERROR("lisecd: the %s process exited at start (%s); stopping lisecd", children[ended].name,
                describe_status(children[ended].status, why, sizeof why));
      return 2;
    }
    struct timespec zero = {0, 0};
    if (sigtimedwait(stop, NULL, &zero) > 0) {
      LOG_INFO("lisecd: stopped while starting");
      return 2;
    }
  }
}

static void close_all(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]), fds[i] = -1;
}

int main(int argc, char **argv) {
  const char *config_path = NULL;
  bool check_only = false, witness_reset = false, yes = false;
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"check-config", no_argument, NULL, 'k'},
                                       {"witness-reset", no_argument, NULL, 'W'},
                                       {"yes", no_argument, NULL, 'y'},
                                       {"foreground", no_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {0}};
  int o;
  while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    if (o == 'c') config_path = optarg;
    else if (o == 'k') check_only = true;
    else if (o == 'W') witness_reset = true;
    else if (o == 'y') yes = true;
    else if (o == 'f') continue; /* lisecd never detaches */
    else if (o == 'h') return usage(stdout), 0;
    else if (o == 'V') return printf("lisecd %s\n", LISEC_VERSION), 0;
    else return usage(stderr), 2;
  }
  if (!config_path || optind != argc || (yes && !witness_reset) || (witness_reset && check_only))
    return usage(stderr), 2;
  harden_process();
  /* The heap: glibc gives the free top of a worker thread's arena back to
   * the kernel (madvise) once it passes a threshold (128 KiB at first,
   * raised only when a large mapped block is freed). A report allocates and frees a few
   * hundred KB, so each one paid an madvise and the page faults and TLB
   * shootdowns after it (5-7 % of the controller's CPU in bench/inventory).
   * Fixed thresholds, set before the fork so every process has them: free
   * memory up to 32 MiB stays in an arena, and blocks under 4 MiB come
   * from the heap rather than their own mapping (a report's bodies and
   * documents are tens of KB; larger ones are still mapped and unmapped).
   * Freed memory is no less private for staying mapped (secrets are wiped
   * before they are freed). */
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);

  lisec_err err = {0};
  lisec_config *cfg = NULL;
  api_server_config sc = {0};
  int64_t stop_s = 0;
  if (witness_reset) {
    /* the operator's reset of the audit witness (witness.c) */
    if (lisec_config_load(config_path, lisecd_known_settings, &cfg, &err) != 0) {
      fprintf(stderr, "lisecd: %s\n", err.msg);
      return 2;
    }
    lisec_log_setup(LISEC_LOG_WARN, false);
    int rc = lisecd_witness_reset(cfg, yes);
    lisec_config_free(cfg);
    return rc;
  }
  if (check_only) {
    /* every problem, not the first; nothing changed (check.c) */
    if (lisec_config_load(config_path, lisecd_known_settings, &cfg, &err) != 0) {
      fprintf(stderr, "lisecd: problem: %s\n", err.msg);
      return 2;
    }
    lisec_log_setup(LISEC_LOG_WARN, false);
    int rc = lisecd_check_config(cfg, config_path);
    lisec_config_free(cfg);
    return rc;
  }
  if (lisec_config_load(config_path, lisecd_known_settings, &cfg, &err) != 0 ||
      setup_logging(cfg, &err) != 0 || lisecd_server_config(cfg, &sc, &err) != 0 ||
      lisec_config_int(cfg, "server", "stop_timeout_s", 30, 1, 3600, &stop_s, &err) != 0) {
    fprintf(stderr, "lisecd: %s\n", err.msg);
    lisec_config_free(cfg);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  /* The parent takes these with sigwait; children inherit the mask and
   * wait for SIGTERM themselves. */
  sigset_t sup, stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sup = stop;
  sigaddset(&sup, SIGCHLD);
  sigaddset(&sup, SIGHUP); /* a reload; the children never see it */
  pthread_sigmask(SIG_BLOCK, &sup, NULL);
  parent_pid = getpid();

  int n = sc.workers + sc.bulk_workers; /* a channel per front worker */
  int (*chan)[2] = calloc((size_t)n, sizeof *chan);
  int *ctl_fds = calloc((size_t)n, sizeof *ctl_fds), *front_fds = calloc((size_t)n, sizeof *front_fds);
  /* Every descriptor the parent made: each child closes those not its own. */
  int n_all = 2 * n + 8, *all = calloc((size_t)n_all, sizeof *all);
  int ready_ctl[2] = {-1, -1}, ready_front[2] = {-1, -1};
  wiring wr = {.keys = {-1, -1}, .tls = {-1, -1}, .n = n, .chan = chan, .ctl_fds = ctl_fds, .front_fds = front_fds};
  int rc = chan && ctl_fds && front_fds && all ? 0 : -1;
  if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wr.keys) != 0) rc = -1;
  if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wr.tls) != 0) rc = -1;
  /* The parent must never hang on a front that takes nothing: a reload's
   * send gives up after this long without progress. */
  struct timeval tls_send_bound = {10, 0};
  if (rc == 0 && setsockopt(wr.tls[0], SOL_SOCKET, SO_SNDTIMEO, &tls_send_bound, sizeof tls_send_bound) != 0)
    rc = -1;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan[i]) != 0) {
      rc = -1;
      break;
    }
    ctl_fds[i] = chan[i][0];
    front_fds[i] = chan[i][1];
  }
  if (rc == 0 && (pipe2(ready_ctl, O_CLOEXEC) != 0 || pipe2(ready_front, O_CLOEXEC) != 0)) rc = -1;
  if (rc) {
    fprintf(stderr, "lisecd: cannot create the channels between its processes: %s\n", strerror(errno));
    return 2;
  }
  /* all[]: keys pair, ready pipes, the TLS pair, then the channels. */
  all[0] = wr.keys[0], all[1] = wr.keys[1];
  all[2] = ready_ctl[0], all[3] = ready_ctl[1], all[4] = ready_front[0], all[5] = ready_front[1];
  all[6] = wr.tls[0], all[7] = wr.tls[1];
  for (int i = 0; i < n; i++) all[8 + 2 * i] = chan[i][0], all[9 + 2 * i] = chan[i][1];

  /* keys: keeps keys[1]. */
  int *drop = calloc((size_t)n_all, sizeof *drop);
  int n_drop = 0;
  for (int k = 0; k < n_all; k++)
    if (all[k] != wr.keys[1]) drop[n_drop++] = all[k];
  if (spawn(CHILD_KEYS, cfg, run_keys, &wr, -1, drop, n_drop) != 0) rc = 2;
  close(wr.keys[1]);
  /* controller: keeps keys[0], its channel ends and ready_ctl[1]. */
  n_drop = 0;
  for (int k = 0; k < n_all; k++) {
    int fd = all[k];
    bool mine = fd == wr.keys[0] || fd == ready_ctl[1];
    for (int i = 0; i < n; i++) mine = mine || fd == chan[i][0];
    if (!mine && fd != wr.keys[1]) drop[n_drop++] = fd;
  }
  if (rc == 0 && spawn(CHILD_CONTROLLER, cfg, run_controller, &wr, ready_ctl[1], drop, n_drop) != 0) rc = 2;
  close(wr.keys[0]);
  close(ready_ctl[1]);
  for (int i = 0; i < n; i++) close(chan[i][0]);
  if (rc == 0) rc = wait_ready(CHILD_CONTROLLER, ready_ctl[0], &stop);
  close(ready_ctl[0]);
  /* The controller has its copy; neither this process nor the front needs
   * a password that a URL setting may carry. */
  lisecd_config_forget_credentials(cfg);
  /* front: keeps its channel ends, ready_front[1] and tls[1]. */
  n_drop = 0;
  drop[n_drop++] = ready_front[0];
  drop[n_drop++] = wr.tls[0];
  if (rc == 0 && spawn(CHILD_FRONT, cfg, run_front, &wr, ready_front[1], drop, n_drop) != 0) rc = 2;
  close(ready_front[1]);
  close(wr.tls[1]);
  close_all(front_fds, n);
  if (rc == 0) rc = wait_ready(CHILD_FRONT, ready_front[0], &stop);
  close(ready_front[0]);
  free(drop);
  free(all);
  free(chan);
  free(ctl_fds);
  free(front_fds);
  if (rc) {
    stop_all(stop_s * 1000);
    close(wr.tls[0]);
    lisec_config_free(cfg);
    return 2;
  }
  LOG_INFO("lisecd %s listening on %s (mutual TLS, %d workers; processes: front %d, controller %d, "
           "keys %d)",
           LISEC_VERSION, sc.listen, sc.workers, (int)children[CHILD_FRONT].pid,
           (int)children[CHILD_CONTROLLER].pid, (int)children[CHILD_KEYS].pid);

  /* From here the parent only waits and signals: its own allow-list. */
  lisec_err serr = {0};
  if (lisecd_sandbox_enter(LISECD_PARENT, cfg, &serr) != 0) {
    LOG_ERROR("lisecd: cannot enter the parent's sandbox: %s; stopping lisecd", serr.msg);
    stop_all(stop_s * 1000);
    lisec_config_free(cfg);
    return 2;
  }

  /* Supervise: a stop signal stops the children in order; a child that
   * ends by itself stops the others and lisecd. */
  int status = 0;
  for (;;) {
    int sig = 0;
    sigwait(&sup, &sig);
    if (sig == SIGHUP) {
      lisecd_tls_reload(&sc, &wr.tls[0]);
      continue;
    }
    if (sig != SIGCHLD) {
      LOG_INFO("signal %d: stopping; requests in flight finish first", sig);
      stop_all(stop_s * 1000);
      break;
    }
    int ended = failed_child();
    if (ended < 0) continue;
    char why[32];
    LOG_ERROR("lisecd: the %s process exited (%s); stopping lisecd", children[ended].name,
              describe_status(children[ended].status, why, sizeof why));
    stop_all(stop_s * 1000);
    status = 1;
    break;
  }
  if (wr.tls[0] >= 0) close(wr.tls[0]);
  lisec_config_free(cfg);
  LOG_INFO("%s", status ? "lisecd stopped after a process failed" : "lisecd stopped");
  return status;
}
