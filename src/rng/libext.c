/* The client side of the seed protocol: liblisec-rng's default external
 * source. It speaks to lisec-entropyd over mutually authenticated TLS (TCP,
 * or AF_VSOCK for a VM on the same host), keeps the connection alive between
 * fetches, and checks that each SEED reply echoes the request's nonce and
 * counter. The daemon is taken for the daemon only when its certificate,
 * from the configured CA, is a TLS server's (serverAuth) and names in its
 * subjectAltName the host dialled or the configured LISEC_RNG_ENTROPYD_NAME,
 * which a vsock address needs: a CID names nothing a certificate carries. A connection opened by a parent process is never used by a forked
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

/* Refuses a daemon certificate that does not name serverAuth among its
 * extended key usages (TR 103 308 §5.15): a VNF's client certificate from
 * the same CA, or one the CA issued with no usage at all, is no daemon's. */
static int verify_server_eku(int ok, X509_STORE_CTX *ctx) {
  if (!ok || X509_STORE_CTX_get_error_depth(ctx) != 0) return ok;
  X509 *leaf = X509_STORE_CTX_get_current_cert(ctx);
  if (leaf && (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) &&
      (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER))
    return ok;
  X509_STORE_CTX_set_error(ctx, X509_V_ERR_INVALID_PURPOSE);
  return 0;
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
  /* The daemon's certificate must be a TLS server's: OpenSSL's client
   * default (purpose sslserver) already refuses one whose extended key usage
   * leaves serverAuth out, but lets one with no extended key usage pass; the
   * callback refuses that too. */
  SSL_CTX_set_purpose(c, X509_PURPOSE_SSL_SERVER);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, verify_server_eku);
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

/* An address of the daemon, parsed: "host:port" or "vsock:CID:PORT". */
typedef struct ext_addr {
  bool vsock;
  char host[256], port[16]; /* brackets of an IPv6 literal removed */
  unsigned cid, vport;      /* vsock */
} ext_addr;

static int parse_addr(const char *addr, ext_addr *a, lisec_err *err) {
  memset(a, 0, sizeof *a);
  a->vsock = strncmp(addr, "vsock:", 6) == 0;
  const char *p = a->vsock ? addr + 6 : addr;
  const char *colon = strrchr(p, ':');
  if (!colon || colon == p || strlen(colon + 1) >= sizeof a->port ||
      (size_t)(colon - p) >= sizeof a->host)
    return lisec_err_set(err, LISEC_EINVAL, "entropyd: address '%s' is not host:port", addr);
  memcpy(a->host, p, (size_t)(colon - p));
  strcpy(a->port, colon + 1);
  size_t hl = strlen(a->host);
  if (hl >= 2 && a->host[0] == '[' && a->host[hl - 1] == ']') {
    memmove(a->host, a->host + 1, hl - 2);
    a->host[hl - 2] = '\0';
  }
  if (!a->host[0])
    return lisec_err_set(err, LISEC_EINVAL, "entropyd: address '%s' names no host", addr);
  if (a->vsock) {
    /* (strtoul alone would wrap CID 4294967298 to 2, the host) */
    int64_t cid, vport;
    if (!lisec_decimal(a->host, strlen(a->host), 0, UINT32_MAX, &cid) ||
        !lisec_decimal(a->port, strlen(a->port), 0, UINT32_MAX, &vport))
      return lisec_err_set(err, LISEC_EINVAL,
                           "entropyd: address '%s' is not vsock:CID:PORT (decimal, below 2^32)",
                           addr);
    a->cid = (unsigned)cid;
    a->vport = (unsigned)vport;
  }
  return 0;
}

/* The name lisec-entropyd's certificate must carry (TR 103 308 §5.15: the
 * seed comes from the trusted source outside the VM, not from anything else
 * the CA certified, such as another VNF): the configured name
 * (LISEC_RNG_ENTROPYD_NAME) when there is one, else the host dialled over
 * TCP. A vsock CID is no name a certificate carries, so a vsock address
 * without a configured name leaves nothing to check: refused before any
 * connection, never taken on trust. */
static int expected_name(const rngl_ext *x, const ext_addr *a, const char **name,
                         lisec_err *err) {
  *name = x->server_name[0] ? x->server_name : a->vsock ? NULL : a->host;
  if (*name) return 0;
  return lisec_err_set(err, LISEC_EINVAL,
                       "TR103308-5.15: %s is a vsock address, which names no server whose "
                       "certificate could be checked; set LISEC_RNG_ENTROPYD_NAME to the name "
                       "in lisec-entropyd's certificate",
                       x->addr);
}

/* Makes the handshake check name against the subjectAltName only (DNS, or
 * IP for an address literal): a subject CN is how a VNF's client
 * certificate names the VNF, and must never pass for the daemon's name. */
static int expect_server(SSL *s, const char *name, lisec_err *err) {
  X509_VERIFY_PARAM *vp = SSL_get0_param(s);
  X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1) return 0;
  if (SSL_set1_host(s, name) != 1 || SSL_set_tlsext_host_name(s, name) != 1)
    return ssl_fail(err, LISEC_EINVAL, "setting the name lisec-entropyd's certificate must carry");
  return 0;
}

/* Connects to the daemon by the deadline; *out is left non-blocking. */
static int ext_dial(const rngl_ext *x, const ext_addr *a, int64_t deadline, int *out,
                    lisec_err *err) {
  int fd = -1;
  if (a->vsock) {
    struct sockaddr_vm sv = {.svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->vport};
    fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect_deadline(fd, (struct sockaddr *)&sv, sizeof sv, deadline) != 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      return lisec_err_set(err, LISEC_EIO, "entropyd: vsock %s: %s", x->addr, strerror(e));
    }
  } else {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(a->host, a->port, &hints, &res);
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
  *out = fd;
  return 0;
}

/* The TLS half of a connection, checking the daemon's certificate for
 * name; takes fd over (closed on failure). */
static int ext_handshake(rngl_ext *x, int fd, const char *name, int64_t deadline, int timeout_ms,
                         lisec_err *err) {
  SSL *s = SSL_new(x->ssl_ctx);
  if (!s) {
    close(fd);
    return ssl_fail(err, LISEC_ECRYPTO, "TLS session");
  }
  int rc = expect_server(s, name, err);
  if (rc) {
    SSL_free(s);
    close(fd);
    return rc;
  }
  SSL_set_fd(s, fd);
  int r, w = 0;
  while ((r = SSL_connect(s)) != 1 && (w = ssl_wait(s, r, deadline)) == 0) {
  }
  if (r == 1) {
    x->ssl = s;
    x->fd = fd;
    x->owner = getpid();
    return 0;
  }
  long vr = SSL_get_verify_result(s);
  SSL_free(s);
  close(fd);
  if (w == -2) {
    ERR_clear_error();
    return lisec_err_set(err, LISEC_EIO, "entropyd: TLS handshake not done within %d ms",
                         timeout_ms);
  }
  if (vr == X509_V_OK) return ssl_fail(err, LISEC_EIO, "TLS handshake");
  ERR_clear_error();
  if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
    return lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-5.15: the certificate presented as lisec-entropyd's at %s "
                         "does not name %s in its subjectAltName",
                         x->addr, name);
  if (vr == X509_V_ERR_INVALID_PURPOSE)
    return lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-5.15: the certificate presented as lisec-entropyd's at %s is "
                         "not a TLS server's (its extended key usage must include serverAuth)",
                         x->addr);
  return lisec_err_set(err, LISEC_EAUTH,
                       "TR103308-5.15: lisec-entropyd's certificate at %s refused: %s", x->addr,
                       X509_verify_cert_error_string(vr));
}

static int ext_connect(rngl_ext *x, int64_t deadline, int timeout_ms, lisec_err *err) {
  ext_addr a;
  const char *name;
  int fd = -1;
  /* The address and the daemon's name first: a vsock address without a
   * name is refused whatever else is configured. */
  int rc = parse_addr(x->addr, &a, err);
  if (!rc) rc = expected_name(x, &a, &name, err);
  if (!rc) rc = ext_ctx(x, err);
  if (!rc) rc = ext_dial(x, &a, deadline, &fd, err);
  if (!rc) rc = ext_handshake(x, fd, name, deadline, timeout_ms, err);
  return rc;
}

int rngl_ext_handshake(rngl_ext *x, int fd, int timeout_ms, lisec_err *err) {
  ext_addr a;
  const char *name;
  int rc = parse_addr(x->addr, &a, err);
  if (!rc) rc = expected_name(x, &a, &name, err);
  if (!rc) rc = ext_ctx(x, err);
  if (rc) {
    close(fd);
    return rc;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  sigpipe_guard g;
  sigpipe_block(&g);
  rc = ext_handshake(x, fd, name, mono_ms() + timeout_ms, timeout_ms, err);
  sigpipe_restore(&g);
  return rc;
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
