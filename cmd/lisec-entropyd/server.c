/* lisec-entropyd's seed service: listeners on TCP and, where the host has
 * it, AF_VSOCK; one thread per mutually authenticated TLS connection with
 * keep-alive. The handshake takes a client certificate from the client CA
 * made for TLS client authentication (peer.c). Each request is checked in
 * this order: the certificate's role (vnf, read as lisecd reads roles), a
 * registered VNF identity (the certificate's one CN, read whole), the
 * daemon's own health (fail closed), the client's rate, and replay (a
 * counter not too far ahead of the daemon's clock, nonce and counter);
 * only then is a seed drawn, bound by additional input to the request.
 * Issuance is counted per client (who, when, how many bytes), never logged
 * with its value. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "entropyd.h"

#define AUDIT_EVERY_NS (60ull * 1000000000ull) /* the issuance summary in the log */

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  (void)sig;
  if (stop_pipe[1] >= 0) {
    ssize_t w = write(stop_pipe[1], "x", 1);
    (void)w;
  }
}

ed_client *ed_client_find(entropyd *d, const char *name) {
  for (size_t i = 0; i < d->nclients; i++)
    if (strcmp(d->clients[i].name, name) == 0) return &d->clients[i];
  return NULL;
}

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int read_full(SSL *s, uint8_t *p, size_t n) {
  while (n) {
    int r = SSL_read(s, p, (int)n);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int send_msg(SSL *s, const rng_msg *m) {
  uint8_t out[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t len = 0;
  if (rng_msg_encode(m, out, sizeof out, &len, NULL) != 0) return -1;
  int rc = SSL_write(s, out, (int)len) == (int)len ? 0 : -1;
  crypto_wipe(out, len);
  return rc;
}

static int send_error(SSL *s, rng_err_code code, const char *reason) {
  rng_msg m = {.type = RNG_MSG_ERROR, .code = (uint16_t)code};
  snprintf(m.reason, sizeof m.reason, "%.200s", reason);
  return send_msg(s, &m);
}

/* Whether the verified certificate carries the role ED_VNF_ROLE, read as
 * lisecd reads roles (crypto/cert_role.c, [clients] role_source); else why
 * not in why (LISEC_ERR_MSG_MAX), the holder called holder. Only vnf is a
 * role here: another role (operator, host, ...) is refused as unknown. An
 * OU naming any lisec role beside a SAN URI role vnf is a second role
 * (OU=operator: issued for an operator, or for a VNF?), refused as lisecd
 * refuses two roles; an OU naming none is a department. */
static bool is_vnf_role(const char *name) { return strcmp(name, ED_VNF_ROLE) == 0; }

static bool vnf_role(const entropyd *d, X509 *cert, const char *holder, char *why) {
  char role[CRYPTO_ROLE_NAME_MAX];
  lisec_err err = {0};
  if (crypto_cert_role(cert, d->role_source, is_vnf_role, crypto_role_lisec_name, holder, role, &err) == 0)
    return true;
  snprintf(why, LISEC_ERR_MSG_MAX, "%s", err.msg);
  return false;
}

typedef struct conn {
  entropyd *d;
  int fd, slot;
} conn;

/* Handles one request; returns false when the connection must close. */
static bool serve_request(entropyd *d, SSL *s, ed_client *c) {
  uint8_t in[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t total = 0;
  lisec_err err = {0};
  if (read_full(s, in, RNG_MSG_HDR_LEN) != 0) return false; /* closed or idle */
  if (rng_msg_frame_len(in, RNG_MSG_HDR_LEN, &total, &err) != 0 ||
      read_full(s, in + RNG_MSG_HDR_LEN, total - RNG_MSG_HDR_LEN) != 0) {
    pthread_mutex_lock(&d->lock);
    d->refused[ED_REF_MALFORMED]++;
    pthread_mutex_unlock(&d->lock);
    send_error(s, RNG_ERR_MALFORMED, err.msg[0] ? err.msg : "truncated request");
    return false;
  }
  rng_msg req, rep;
  if (rng_msg_decode(in, total, &req, &err) != 0 || req.type != RNG_MSG_REQUEST) {
    pthread_mutex_lock(&d->lock);
    d->refused[ED_REF_MALFORMED]++;
    pthread_mutex_unlock(&d->lock);
    send_error(s, RNG_ERR_MALFORMED, err.msg[0] ? err.msg : "not a seed request");
    return false;
  }
  memset(&rep, 0, sizeof rep);
  /* The library's counter is the VM's real time in ns: the highest counter
   * taken is the daemon's own real time and [clients] max_counter_ahead_s. */
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  uint64_t now_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
  uint64_t ceiling = now_ns + (uint64_t)d->max_counter_ahead_s * 1000000000ull;
  rng_err_code refuse = 0;
  char why[RNG_REASON_MAX + 1] = "";
  pthread_mutex_lock(&d->lock);
  if (d->serving) ed_stale_locked(d);
  if (!d->serving) {
    refuse = RNG_ERR_UNHEALTHY;
    d->refused[ED_REF_UNHEALTHY]++;
    snprintf(why, sizeof why, "%.200s", d->unhealthy_reason);
  } else if (!rng_bucket_take(&c->bucket, mono_ns(), d->rate, d->burst)) {
    refuse = RNG_ERR_RATE;
    d->refused[ED_REF_RATE]++;
    c->refused_rate++;
    snprintf(why, sizeof why, "rate limit: %.0f seeds/s for client %s", d->rate, c->name);
  } else if (rng_replay_check_max(d->replay, c->name, &req, ceiling, &err) != 0) {
    refuse = RNG_ERR_REPLAY;
    if (err.code == LISEC_EDENIED) {
      /* Ahead of the daemon's clock: refused before the replay state keeps
       * it (it would become the client's floor). Not a replay: counted on
       * its own, and not reported to lisecd as one. */
      d->refused[ED_REF_AHEAD]++;
      snprintf(why, sizeof why,
               "TR103308-5.12: seed request refused: its counter is %llu s ahead of the daemon's "
               "clock, over [clients] max_counter_ahead_s = %d (check the VM's clock)",
               (unsigned long long)((req.counter - now_ns) / 1000000000ull), d->max_counter_ahead_s);
    } else {
      d->refused[ED_REF_REPLAY]++;
      c->refused_replay++;
      snprintf(why, sizeof why, "%.200s", err.msg);
    }
  } else {
    /* The request's nonce, counter and client bind the draw. */
    struct {
      uint8_t nonce[RNG_NONCE_LEN];
      uint64_t counter;
      char client[ED_NAME_MAX];
    } adin;
    memset(&adin, 0, sizeof adin);
    memcpy(adin.nonce, req.nonce, sizeof adin.nonce);
    adin.counter = req.counter;
    snprintf(adin.client, sizeof adin.client, "%s", c->name);
    if (EVP_RAND_generate(d->drbg, rep.seed, req.want, 256, 0, (const uint8_t *)&adin,
                          sizeof adin) != 1) {
      refuse = RNG_ERR_INTERNAL;
      snprintf(why, sizeof why, "seed generation failed");
      ERR_clear_error();
    } else {
      c->seeds++;
      c->bytes += req.want;
      c->last_issue_s = (uint64_t)time(NULL);
    }
  }
  pthread_mutex_unlock(&d->lock);
  if (refuse) {
    /* Bounded: a client replaying in a loop must not fill the log. The
     * client is named by its reference alone, for every client alike: the
     * log is the platform operators', and a line naming other clients but
     * not an LI VNF (or calling it one) would tell them which is. Each
     * replay is counted for the next report to lisecd, whose record
     * (rng.replay, sealed for an LI VNF) names the client with the same
     * reference (report.c). */
    crypto_wipe(&rep, sizeof rep); /* a failed draw may have left output in it */
    if (refuse == RNG_ERR_REPLAY)
      LOG_LIMITED(LISEC_LOG_WARN, 20, 10000, "seed request from client ref %s refused: %s", c->ref, why);
    return send_error(s, refuse, why) == 0;
  }
  rep.type = RNG_MSG_SEED;
  memcpy(rep.nonce, req.nonce, RNG_NONCE_LEN);
  rep.counter = req.counter;
  rep.seed_len = req.want;
  int rc = send_msg(s, &rep);
  crypto_wipe(&rep, sizeof rep);
  return rc == 0;
}

static void conn_release(entropyd *d, conn *cn) {
  pthread_mutex_lock(&d->conn_lock);
  d->conn_fds[cn->slot] = -1;
  atomic_fetch_sub(&d->active_conns, 1);
  pthread_cond_broadcast(&d->conn_cv);
  pthread_mutex_unlock(&d->conn_lock);
}

static void *conn_main(void *arg) {
  conn *cn = arg;
  entropyd *d = cn->d;
  SSL *s = SSL_new(d->tls);
  if (!s) goto out;
  SSL_set_fd(s, cn->fd);
  char refused[ED_WHY_MAX] = "";
  SSL_set_app_data(s, refused);
  if (SSL_accept(s) != 1) {
    /* A handshake that fails on the VNF's certificate is said; others (a
     * scan, a peer that went away) are not. Bounded: anyone can present a
     * certificate. The peer is the address, never the certificate's CN. */
    if (refused[0]) {
      LOG_LIMITED(LISEC_LOG_WARN, 20, 10000,
                  "TR103308-5.15: VNF client certificate refused from %s: %s; connection closed",
                  d->conn_peer[cn->slot], refused);
      pthread_mutex_lock(&d->conn_lock); /* counted past the log's limit */
      d->conns_refused_cert++;
      pthread_mutex_unlock(&d->conn_lock);
    }
    ERR_clear_error();
    goto out;
  }
  SSL_set_app_data(s, NULL);
  /* The one whole CN (crypto_cert_cn): two CNs, a NUL in it or one too
   * long for a name are refused below, never read as a registered name. */
  char cn_name[ED_NAME_MAX] = "";
  lisec_err cn_err = {0};
  X509 *peer = SSL_get1_peer_certificate(s);
  int cn_rc = crypto_cert_cn(peer, cn_name, sizeof cn_name, &cn_err);
  pthread_mutex_lock(&d->lock);
  ed_client *c = cn_name[0] ? ed_client_find(d, cn_name) : NULL;
  pthread_mutex_unlock(&d->lock);
  char role_why[LISEC_ERR_MSG_MAX];
  bool vnf = vnf_role(d, peer, "the peer", role_why);
  X509_free(peer);
  if (!vnf) {
    /* The CN alone would let a certificate issued for another role (an
     * operator's, a host's) whose CN is a VNF's name take that VNF's
     * seeds. Counted past the log's limit too. The reason names no CN:
     * the log is the platform operators', and a line calling an LI VNF's
     * "an LI VNF" where others' name their CN told them which peer
     * (address, vsock CID) is an LI VNF. */
    pthread_mutex_lock(&d->lock);
    d->refused[ED_REF_ROLE]++;
    pthread_mutex_unlock(&d->lock);
    char why[RNG_REASON_MAX + 1];
    snprintf(why, sizeof why, "TR103308-5.15: %.140s; a VNF's certificate carries the role " ED_VNF_ROLE,
             role_why);
    LOG_LIMITED(LISEC_LOG_WARN, 20, 10000, "seed service refused client from %s: %s; connection closed",
                d->conn_peer[cn->slot], why);
    send_error(s, RNG_ERR_UNKNOWN_CLIENT, why);
    goto out;
  }
  if (cn_rc && cn_rc != LISEC_ENOTFOUND) {
    /* The reason names no CN, as the role refusal above. */
    pthread_mutex_lock(&d->lock);
    d->refused[ED_REF_UNKNOWN]++;
    pthread_mutex_unlock(&d->lock);
    char why[RNG_REASON_MAX + 1];
    snprintf(why, sizeof why, "TR103308-5.15: %.120s; a VNF's certificate names it in one CN",
             cn_err.msg);
    LOG_LIMITED(LISEC_LOG_WARN, 20, 10000, "seed service refused client from %s: %s; connection closed",
                d->conn_peer[cn->slot], why);
    send_error(s, RNG_ERR_UNKNOWN_CLIENT, why);
    goto out;
  }
  if (!c) {
    pthread_mutex_lock(&d->lock);
    d->refused[ED_REF_UNKNOWN]++;
    pthread_mutex_unlock(&d->lock);
    char why[RNG_REASON_MAX + 1];
    snprintf(why, sizeof why, "TR103308-4.2: '%.64s' is not a registered VNF identity", cn_name);
    LOG_LIMITED(LISEC_LOG_WARN, 20, 10000, "seed service refused client from %s: %s",
                d->conn_peer[cn->slot], why);
    send_error(s, RNG_ERR_UNKNOWN_CLIENT, why);
    goto out;
  }
  while (!atomic_load(&d->stop) && serve_request(d, s, c)) {
  }
out:
  if (s) {
    SSL_set_quiet_shutdown(s, atomic_load(&d->stop));
    SSL_shutdown(s);
    SSL_free(s);
  }
  ERR_clear_error();
  close(cn->fd);
  conn_release(d, cn);
  free(cn);
  return NULL;
}

static int listen_tcp(const char *addr, lisec_err *err) {
  char host[256], port[16];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof host || strlen(colon + 1) >= sizeof port)
    return lisec_err_set(err, LISEC_EINVAL, "[server] listen '%s' is not host:port", addr);
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = '\0';
  strcpy(port, colon + 1);
  if (host[0] == '[') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
  int g = getaddrinfo(host, port, &hints, &res);
  if (g) return lisec_err_set(err, LISEC_EINVAL, "listen %s: %s", addr, gai_strerror(g));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 256) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return lisec_err_set(err, LISEC_EIO, "listen %s: %s", addr, strerror(e));
  }
  freeaddrinfo(res);
  return fd;
}

/* The peer a connection counts against: its IP address (an IPv4-mapped
 * IPv6 address as the IPv4 one), or vsock:CID (the VM; a guest cannot choose
 * its CID). */
static void peer_key(const struct sockaddr_storage *ss, char out[ED_PEER_MAX]) {
  out[0] = '\0';
  if (ss->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, ED_PEER_MAX);
  } else if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], out, ED_PEER_MAX);
    else inet_ntop(AF_INET6, a, out, ED_PEER_MAX);
  } else if (ss->ss_family == AF_VSOCK) {
    snprintf(out, ED_PEER_MAX, "vsock:%u", ((const struct sockaddr_vm *)ss)->svm_cid);
  }
}

static int listen_vsock(int port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_vm sv = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                           .svm_port = (unsigned)port};
  if (bind(fd, (struct sockaddr *)&sv, sizeof sv) != 0 || listen(fd, 256) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void audit_issuance(entropyd *d, uint64_t *last_seeds) {
  /* The issuance count per client since the last report: who, when, how
   * many seeds and bytes. The values themselves never leave the daemon. */
  pthread_mutex_lock(&d->lock);
  for (size_t i = 0; i < d->nclients; i++) {
    ed_client *c = &d->clients[i];
    /* Not an LI VNF's: its record is the one lisecd seals (TR 103 308
     * §4.1); the log is read by the platform's operators. */
    if (c->seeds == last_seeds[i] || c->li) continue;
    LOG_INFO("audit seed-issuance client=%s seeds_total=%llu bytes_total=%llu new_seeds=%llu "
             "last_issue=%llu",
             c->name, (unsigned long long)c->seeds, (unsigned long long)c->bytes,
             (unsigned long long)(c->seeds - last_seeds[i]), (unsigned long long)c->last_issue_s);
    last_seeds[i] = c->seeds;
  }
  pthread_mutex_unlock(&d->lock);
}

int ed_server_run(entropyd *d, lisec_err *err) {
  int lfd = listen_tcp(d->listen, err);
  if (lfd < 0) return lfd;
  int vfd = -1;
  if (d->vsock_port > 0) {
    vfd = listen_vsock(d->vsock_port);
    if (vfd < 0) LOG_WARN("AF_VSOCK port %d unavailable: %s (TCP only)", d->vsock_port, strerror(errno));
    else LOG_INFO("seed service on vsock port %d", d->vsock_port);
  }
  if (pipe(stop_pipe) != 0) {
    close(lfd);
    if (vfd >= 0) close(vfd);
    return lisec_err_set(err, LISEC_EIO, "pipe: %s", strerror(errno));
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < d->max_conns; i++) d->conn_fds[i] = -1;
  LOG_INFO("lisec-entropyd serving seeds on %s (mutual TLS, %zu registered VNF identities)",
           d->listen, d->nclients);
  uint64_t *last_seeds = calloc(d->nclients + 1, sizeof *last_seeds);
  /* The issuance summary's cadence is a duration (monotonic); the
   * last_issue it logs is a time (the wall clock's). */
  uint64_t last_audit = mono_ns();
  while (!atomic_load(&d->stop)) {
    struct pollfd p[3] = {{.fd = stop_pipe[0], .events = POLLIN},
                          {.fd = lfd, .events = POLLIN},
                          {.fd = vfd, .events = POLLIN}};
    int n = poll(p, vfd >= 0 ? 3 : 2, 1000);
    if (mono_ns() - last_audit >= AUDIT_EVERY_NS && last_seeds) {
      audit_issuance(d, last_seeds);
      last_audit = mono_ns();
    }
    if (n <= 0) continue;
    if (p[0].revents) break;
    for (int k = 1; k < 3; k++) {
      if (k == 2 && vfd < 0) continue;
      if (!(p[k].revents & POLLIN)) continue;
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      memset(&ss, 0, sizeof ss);
      int fd = accept4(p[k].fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
      if (fd < 0) continue;
      char peer[ED_PEER_MAX];
      peer_key(&ss, peer);
      struct timeval tv = {.tv_sec = d->idle_timeout_s};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      int one = 1;
      if (k == 1) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      pthread_mutex_lock(&d->conn_lock);
      int slot = -1, same = 0;
      for (int i = 0; i < d->max_conns; i++) {
        if (d->conn_fds[i] < 0) {
          if (slot < 0) slot = i;
        } else if (strcmp(d->conn_peer[i], peer) == 0) {
          same++;
        }
      }
      if (slot >= 0 && same >= d->max_conns_per_peer) {
        slot = -1;
        d->conns_refused_peer++;
      } else if (slot < 0) {
        d->conns_refused_max++;
      }
      if (slot >= 0) {
        d->conn_fds[slot] = fd;
        memcpy(d->conn_peer[slot], peer, ED_PEER_MAX);
        atomic_fetch_add(&d->active_conns, 1);
        d->conns_total++;
      }
      pthread_mutex_unlock(&d->conn_lock);
      conn *cn = slot >= 0 ? malloc(sizeof *cn) : NULL;
      pthread_t th;
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&at, 256 * 1024);
      if (!cn) {
        if (slot >= 0) {
          conn tmp = {.d = d, .fd = fd, .slot = slot};
          conn_release(d, &tmp);
        }
        close(fd); /* over max_connections or max_connections_per_peer: refuse */
      } else {
        *cn = (conn){.d = d, .fd = fd, .slot = slot};
        if (pthread_create(&th, &at, conn_main, cn) != 0) {
          conn_release(d, cn);
          close(fd);
          free(cn);
        }
      }
      pthread_attr_destroy(&at);
    }
  }
  atomic_store(&d->stop, true);
  close(lfd);
  if (vfd >= 0) close(vfd);
  /* Wake every connection thread and wait for them (bounded). */
  pthread_mutex_lock(&d->conn_lock);
  for (int i = 0; i < d->max_conns; i++)
    if (d->conn_fds[i] >= 0) shutdown(d->conn_fds[i], SHUT_RDWR);
  struct timespec until; /* conn_cv runs on the monotonic clock (main.c) */
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += 3;
  while (atomic_load(&d->active_conns) > 0)
    if (pthread_cond_timedwait(&d->conn_cv, &d->conn_lock, &until) != 0) break;
  pthread_mutex_unlock(&d->conn_lock);
  if (last_seeds) audit_issuance(d, last_seeds);
  free(last_seeds);
  close(stop_pipe[0]);
  close(stop_pipe[1]);
  stop_pipe[0] = stop_pipe[1] = -1;
  return 0;
}
