/* The client side of the seed protocol: liblisec-rng's default external
 * source. It speaks to lisec-entropyd over mutually authenticated TLS (TCP,
 * or AF_VSOCK for a VM on the same host), keeps the connection alive between
 * fetches, and checks that each SEED reply echoes the request's nonce and
 * counter. A connection opened by a parent process is never used by a forked
 * child: the TLS keys and sequence numbers are the parent's. Each fetch has
 * one deadline for all its I/O (a non-blocking socket and poll), not a
 * timeout per read that a trickling peer could renew for ever. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "rng/libos.h"

/* A library must not let SIGPIPE from a peer that closed first kill its
 * host process: SIGPIPE is blocked while we touch the socket, and one we
 * raised is swallowed before the mask is restored. */
typedef struct sigpipe_guard {
  sigset_t old;
  bool was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g) {
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pending);
  g->was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(sigpipe_guard *g) {
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pending);
  if (!g->was_pending && sigismember(&pending, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

void rngl_ext_init(rngl_ext *x) {
  memset(x, 0, sizeof *x);
  x->fd = -1;
}

static int ssl_fail(lisec_err *err, int code, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[200] = "";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return lisec_err_set(err, code, "entropyd: %s%s%s", what, e ? ": " : "", buf);
}

void rngl_ext_close(rngl_ext *x) {
  if (x->ssl) {
    sigpipe_guard g;
    sigpipe_block(&g);
    SSL *s = x->ssl;
    if (x->owner == getpid()) {
      SSL_shutdown(s);
    } else {
      SSL_set_quiet_shutdown(s, 1); /* the parent's session: say nothing */
    }
    SSL_free(s);
    x->ssl = NULL;
    sigpipe_restore(&g);
  }
  if (x->fd >= 0) close(x->fd);
  x->fd = -1;
}

void rngl_ext_free(rngl_ext *x) {
  rngl_ext_close(x);
  if (x->ssl_ctx) SSL_CTX_free(x->ssl_ctx);
  x->ssl_ctx = NULL;
}

static int ext_ctx(rngl_ext *x, lisec_err *err) {
  if (x->ssl_ctx) return 0;
  if (!x->cert[0] || !x->key[0] || !x->ca[0])
    return lisec_err_set(err, LISEC_EINVAL,
                         "entropyd: certificate, key and CA are needed for mutual TLS "
                         "(LISEC_RNG_CERT, LISEC_RNG_KEY, LISEC_RNG_CA)");
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  if (!c) return ssl_fail(err, LISEC_ECRYPTO, "TLS context");
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(c, x->ca, NULL) != 1) {
    SSL_CTX_free(c);
    return ssl_fail(err, LISEC_EINVAL, "loading the CA");
  }
  if (SSL_CTX_use_certificate_chain_file(c, x->cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(c, x->key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    SSL_CTX_free(c);
    return ssl_fail(err, LISEC_EINVAL, "loading this VNF's certificate and key");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
  x->ssl_ctx = c;
  return 0;
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
  int64_t l = deadline - mono_ms();
  return l > 0 ? (int)l : 0;
}

/* Connects by the deadline and leaves the socket non-blocking: every TLS
 * step after it waits in ssl_wait, against the same deadline. (Per-read
 * timeouts would not bound a fetch: a peer that sends a byte now and then
 * could hold one for as long as it liked.) */
static int connect_deadline(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  int rc = connect(fd, sa, len);
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    rc = poll(&p, 1, left_ms(deadline)) == 1 ? 0 : -1;
    if (rc == 0) {
      int e = 0;
      socklen_t el = sizeof e;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
      if (e) {
        errno = e;
        rc = -1;
      }
    } else {
      errno = ETIMEDOUT;
    }
  }
  return rc;
}

/* After an SSL call returned r <= 0: waits (until the deadline) for what it
 * wants. 0: call it again; -1: it failed; -2: the deadline passed. */
static int ssl_wait(SSL *s, int r, int64_t deadline) {
  int e = SSL_get_error(s, r);
  short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
  if (!ev) return -1;
  for (;;) {
    int left = left_ms(deadline);
    if (left == 0) return -2;
    struct pollfd p = {.fd = SSL_get_fd(s), .events = ev};
    int pr = poll(&p, 1, left);
    if (pr > 0) return 0;
    if (pr == 0) return -2;
    if (errno != EINTR) return -1;
  }
}

static int ext_connect(rngl_ext *x, int64_t deadline, int timeout_ms, lisec_err *err) {
  int rc = ext_ctx(x, err);
  if (rc) return rc;
  char host[256], port[16];
  bool vsock = strncmp(x->addr, "vsock:", 6) == 0;
  const char *a = vsock ? x->addr + 6 : x->addr;
  const char *colon = strrchr(a, ':');
  if (!colon || colon == a || strlen(colon + 1) >= sizeof port || (size_t)(colon - a) >= sizeof host)
    return lisec_err_set(err, LISEC_EINVAL, "entropyd: address '%s' is not host:port", x->addr);
  memcpy(host, a, (size_t)(colon - a));
  host[colon - a] = '\0';
  strcpy(port, colon + 1);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  int fd = -1;
  if (vsock) {
    /* (strtoul alone would wrap CID 4294967298 to 2, the host) */
    int64_t cid, vport;
    if (!lisec_decimal(host, strlen(host), 0, UINT32_MAX, &cid) ||
        !lisec_decimal(port, strlen(port), 0, UINT32_MAX, &vport))
      return lisec_err_set(err, LISEC_EINVAL, "entropyd: address '%s' is not vsock:CID:PORT (decimal, below 2^32)",
                           x->addr);
    struct sockaddr_vm sv = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)cid, .svm_port = (unsigned)vport};
    fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect_deadline(fd, (struct sockaddr *)&sv, sizeof sv, deadline) != 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      return lisec_err_set(err, LISEC_EIO, "entropyd: vsock %s: %s", x->addr, strerror(e));
    }
  } else {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
      return lisec_err_set(err, LISEC_EIO, "entropyd: %s: %s", x->addr, gai_strerror(g));
    int e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
      fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      if (connect_deadline(fd, ai->ai_addr, ai->ai_addrlen, deadline) == 0) break;
      e = errno;
      close(fd);
      fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
      return lisec_err_set(err, LISEC_EIO, "entropyd: connecting to %s: %s", x->addr,
                           strerror(e ? e : ECONNREFUSED));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  SSL *s = SSL_new(x->ssl_ctx);
  if (!s) {
    close(fd);
    return ssl_fail(err, LISEC_ECRYPTO, "TLS session");
  }
  SSL_set_fd(s, fd);
  if (!vsock) {
    /* The daemon's certificate must name the address we dialled. */
    X509_VERIFY_PARAM *vp = SSL_get0_param(s);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
      SSL_set_tlsext_host_name(s, host);
      SSL_set1_host(s, host);
    }
  }
  int r, w = 0;
  while ((r = SSL_connect(s)) != 1 && (w = ssl_wait(s, r, deadline)) == 0) {
  }
  if (r != 1) {
    long vr = SSL_get_verify_result(s);
    SSL_free(s);
    close(fd);
    if (w == -2) {
      ERR_clear_error();
      return lisec_err_set(err, LISEC_EIO, "entropyd: TLS handshake not done within %d ms",
                           timeout_ms);
    }
    if (vr != X509_V_OK)
      return lisec_err_set(err, LISEC_EAUTH, "entropyd: server certificate refused: %s",
                           X509_verify_cert_error_string(vr));
    return ssl_fail(err, LISEC_EIO, "TLS handshake");
  }
  x->ssl = s;
  x->fd = fd;
  x->owner = getpid();
  return 0;
}

/* 0, -1 (failed) or -2 (the deadline passed). */
static int ssl_read_all(SSL *s, uint8_t *p, size_t n, int64_t deadline) {
  while (n) {
    int r = SSL_read(s, p, (int)n);
    if (r <= 0) {
      int w = ssl_wait(s, r, deadline);
      if (w) return w;
      continue;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int ssl_write_all(SSL *s, const uint8_t *p, size_t n, int64_t deadline) {
  int r;
  while ((r = SSL_write(s, p, (int)n)) <= 0) {
    int w = ssl_wait(s, r, deadline);
    if (w) return w;
  }
  return r == (int)n ? 0 : -1;
}

static int ext_fetch(rngl_ext *x, const rng_msg *req, rng_msg *reply, int timeout_ms,
                     lisec_err *err);

int rngl_ext_fetch(rngl_ext *x, const rng_msg *req, rng_msg *reply, int timeout_ms,
                   lisec_err *err) {
  sigpipe_guard g;
  sigpipe_block(&g);
  int rc = ext_fetch(x, req, reply, timeout_ms, err);
  sigpipe_restore(&g);
  return rc;
}

static int ext_fetch(rngl_ext *x, const rng_msg *req, rng_msg *reply, int timeout_ms,
                     lisec_err *err) {
  if (!x->addr[0])
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.15: no external entropy source configured "
                         "(LISEC_RNG_ENTROPYD)");
  if (x->ssl && x->owner != getpid()) rngl_ext_close(x);
  uint8_t out[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t len = 0;
  int rc = rng_msg_encode(req, out, sizeof out, &len, err);
  if (rc) return rc;
  /* One deadline for the whole fetch: connection, handshake, request and
   * reply. */
  int64_t deadline = mono_ms() + timeout_ms;
  if (!x->ssl && (rc = ext_connect(x, deadline, timeout_ms, err)) != 0) return rc;
  uint8_t in[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t total = 0;
  int w = ssl_write_all(x->ssl, out, len, deadline);
  if (!w) w = ssl_read_all(x->ssl, in, RNG_MSG_HDR_LEN, deadline);
  if (w) {
    rngl_ext_close(x);
    ERR_clear_error();
    return w == -2 ? lisec_err_set(err, LISEC_EIO, "entropyd: no reply within %d ms", timeout_ms)
                   : lisec_err_set(err, LISEC_EIO, "entropyd: connection lost");
  }
  rc = rng_msg_frame_len(in, RNG_MSG_HDR_LEN, &total, err);
  if (!rc && (w = ssl_read_all(x->ssl, in + RNG_MSG_HDR_LEN, total - RNG_MSG_HDR_LEN, deadline))) {
    rc = w == -2 ? lisec_err_set(err, LISEC_EIO, "entropyd: reply not complete within %d ms",
                                 timeout_ms)
                 : lisec_err_set(err, LISEC_EIO, "entropyd: reply truncated");
  }
  if (!rc) rc = rng_msg_decode(in, total, reply, err);
  crypto_wipe(in, sizeof in);
  if (rc) {
    rngl_ext_close(x);
    return rc;
  }
  if (reply->type == RNG_MSG_ERROR) {
    int code = reply->code == RNG_ERR_UNHEALTHY || reply->code == RNG_ERR_RATE ? LISEC_EUNAVAIL
               : reply->code == RNG_ERR_REPLAY                                ? LISEC_ECONFLICT
                                                                              : LISEC_EDENIED;
    /* The daemon closes after these; so do we. */
    if (reply->code == RNG_ERR_UNKNOWN_CLIENT || reply->code == RNG_ERR_MALFORMED)
      rngl_ext_close(x);
    return lisec_err_set(err, code, "entropyd refused the seed request: %s", reply->reason);
  }
  if (reply->type != RNG_MSG_SEED || !crypto_ct_equal(reply->nonce, req->nonce, RNG_NONCE_LEN) ||
      reply->counter != req->counter || reply->seed_len != req->want) {
    crypto_wipe(reply, sizeof *reply);
    rngl_ext_close(x);
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "entropyd: reply does not answer this request (nonce/counter/length)");
  }
  return 0;
}
