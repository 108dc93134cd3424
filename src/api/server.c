/* The HTTPS server of lisecd's front process: libevent's evhttp over OpenSSL
 * bufferevents, TLS 1.2 at least (1.3 preferred), client certificates
 * required and verified against the configured CA. N worker threads share
 * one listening socket, each with its own event loop and its own channel to
 * the controller process (wire.h). A worker admits a request (api_admit:
 * 413, 400, 404, 405, the JSON body) and sends it on; the reply comes back
 * on the channel by request id, while the loop serves other connections.
 * The front holds no store and no controller: GET /metrics is the one
 * route it answers itself, as every reply passes through it.
 * Clients that never finish a handshake must not starve the others: each
 * worker holds at most its share of [server] max_connections (at the cap the
 * oldest connection still in its handshake is closed, or the new one), a
 * handshake has a deadline, and an accept() that fails (no descriptors
 * left) pauses accepting for a back-off instead of spinning.
 * Hosts' connections (their reports: TLS records, HTTP, JSON bodies) are
 * served by front workers of their own at [server] bulk_nice
 * ([server] bulk_workers; below, "bulk workers"), so the decisions' workers
 * keep the cores while hosts report. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <event2/listener.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/tls.h"
#include "api/ui.h"
#include "api/wire.h"

#define MAX_HEADERS 8192
#define IDLE_TIMEOUT_S 60
/* Descriptors lisecd needs besides client connections (store, token, event
 * loops, logs, X1 and attestation clients), and more per worker. */
#define FD_RESERVE 64
#define FD_RESERVE_PER_WORKER 8
#define AUTO_MAX_CONNECTIONS 4096
#define ACCEPT_BACKOFF_MIN_MS 50
#define ACCEPT_BACKOFF_MAX_MS 1000
/* At a stop, requests the controller is still deciding get this long. */
#define STOP_DRAIN_S 10

typedef struct api_conn api_conn;
typedef struct conn_list {
  api_conn *head, *tail; /* oldest first */
} conn_list;

typedef struct api_worker {
  struct api_server *srv;
  pthread_t thread;
  bool bulk;             /* a bulk worker: takes hosts' connections from the others */
  bool own_accept;       /* accepts and shakes hands itself (below, "handshakes") */
  api_conn *shaking;     /* connections in this worker's handshakes (own_accept) */
  /* a bulk worker: connections handed over by the others, oldest first */
  pthread_mutex_t adopt_mu;
  api_conn *adopt_head, *adopt_tail;
  struct event *adopt_ev;
  struct bufferevent *adopting; /* for tls_bevcb: the connection evhttp takes in now */
  struct event_base *base;
  struct evhttp *http;
  struct evhttp_bound_socket *bound;
  struct evconnlistener *listener; /* evhttp's, for pausing; NULL once stopping */
  struct event *stop_ev;
  struct event *backoff_ev; /* resumes accepting after an accept() failure */
  int backoff_ms;           /* 0 after a successful accept */
  int n_conns;              /* open connections of this worker */
  int n_closing;            /* of those, closed by lisecd and not yet freed by evhttp */
  /* Connections still in their handshake: those whose ClientHello lisecd
   * has not read yet, and those it has. At the cap the oldest of the first
   * goes first: a real client sends its ClientHello at once and leaves that
   * list within a round trip, while idle connections stay in it. */
  conn_list silent, greeted;
  bool started;
  bool stopping;                  /* on_stop ran */
  struct bufferevent *chan;       /* to the controller */
  bool chan_lost;                 /* the controller is gone: every request gets 503 */
  api_wire_pending inflight;      /* forwarded requests by id */
  struct event *drain_ev;         /* the bound on waiting for them at a stop */
  struct evhttp *probe_http;      /* worker 0: the probe listener, plain HTTP */
} api_worker;

/* One client connection, from evhttp's bufferevent callback until OpenSSL
 * frees its SSL (evhttp frees the connection with it). */
struct api_conn {
  api_worker *w;
  struct bufferevent *bev;
  struct event *deadline; /* the handshake deadline */
  api_conn *prev, *next;  /* in list while in the handshake */
  conn_list *list;        /* &w->silent, &w->greeted, or NULL once through */
  bool closing;           /* shut down by lisecd, evhttp frees it next */
  /* a handshake lisecd drives itself (own_accept) */
  evutil_socket_t fd;
  SSL *ssl;
  struct event *hs;          /* the socket's readiness the handshake waits for */
  api_conn *hs_prev, *hs_next; /* in w->shaking, or in a bulk worker's adopt queue */
  struct sockaddr_storage peer;
  int peer_len;
};

struct api_server {
  SSL_CTX *ssl;             /* new connections' context; swapped by a TLS reload */
  pthread_mutex_t ssl_lock; /* guards ssl (a worker takes a reference under it) */
  const int *channels; /* one per worker; each worker's own once it starts */
  void (*on_channel_lost)(void *);
  void *on_channel_lost_arg;
  int lost; /* the channel loss was reported */
  api_role_source role_source;
  size_t max_body;
  evutil_socket_t fd;
  int n_workers;    /* request workers, then bulk workers */
  int n_bulk;       /* [server] bulk_workers: the last n_bulk of workers */
  int bulk_nice;    /* [server] bulk_nice */
  unsigned next_bulk;
  int conn_cap;     /* per worker */
  int handshake_ms; /* [server] handshake_timeout_ms */
  api_worker *workers;
  evutil_socket_t probe_fd; /* [probe] listen, or -1 */
};

static int principal_index = -1;
static int handshake_index = -1; /* set once a connection's handshake is counted */
static int conn_index = -1;      /* the api_conn of a connection */

static void pending_unlink(api_conn *c) {
  conn_list *l = c->list;
  if (!l) return;
  if (c->prev) c->prev->next = c->next;
  else l->head = c->next;
  if (c->next) c->next->prev = c->prev;
  else l->tail = c->prev;
  c->prev = c->next = NULL;
  c->list = NULL;
}

static void pending_append(api_conn *c, conn_list *l) {
  pending_unlink(c);
  c->prev = l->tail;
  c->next = NULL;
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
  c->list = l;
}

/* Accepting runs while the worker is under its cap (counting connections
 * being closed, whose descriptors are not free yet) and not backing off. */
static void listener_update(api_worker *w) {
  if (!w->listener) return;
  if (w->n_conns <= w->srv->conn_cap && !event_pending(w->backoff_ev, EV_TIMEOUT, NULL))
    evconnlistener_enable(w->listener);
  else
    evconnlistener_disable(w->listener);
}

/* Closing the socket under evhttp: it sees end of file on its next read and
 * frees the connection as it does after its idle timeout, so nothing is
 * freed behind its back. */
static void conn_close(api_conn *c, api_conn_event why) {
  pending_unlink(c);
  if (c->deadline) event_del(c->deadline);
  if (!c->closing) c->w->n_closing++;
  c->closing = true;
  evutil_socket_t fd = c->bev ? bufferevent_getfd(c->bev) : c->fd;
  if (fd >= 0) shutdown(fd, SHUT_RDWR);
  api_metrics_conn(why);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_conn *c = arg;
  conn_close(c, c->list ? API_CONN_HANDSHAKE_TIMEOUT : API_CONN_REFUSED_AT_CAP);
}

/* OpenSSL frees the SSL when evhttp frees the connection: that is where a
 * connection stops counting. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  api_conn *c = ptr;
  if (!c) return;
  pending_unlink(c);
  if (c->deadline) event_free(c->deadline);
  if (c->closing) c->w->n_closing--;
  c->w->n_conns--;
  api_metrics_conn_open(-1);
  listener_update(c->w);
  free(c);
}

static void principal_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  free(ptr);
}

static int verify_cb(int ok, X509_STORE_CTX *ctx) {
  if (!ok) {
    api_metrics_cert_rejected();
    api_tls_log_crl_refusal(ctx);
  }
  return ok;
}

/* A client refused in the TLS handshake, said once per connection with the
 * reason (no certificate, unknown CA, expired, ...) and its address, at a
 * bounded rate: a scanner must not flood the log. */
static void log_refused_client(const SSL *ssl, int alert) {
  char addr[INET6_ADDRSTRLEN + 8] = "?";
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int fd = SSL_get_fd(ssl);
  if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    else if (ss.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    snprintf(addr, sizeof addr, "%s", host);
  }
  long vr = SSL_get_verify_result(ssl);
  const char *why;
  if (vr != X509_V_OK) why = X509_verify_cert_error_string(vr);
  else if (!SSL_get0_peer_certificate(ssl)) why = "no client certificate";
  else why = SSL_alert_desc_string_long(alert);
  LOG_LIMITED(LISEC_LOG_WARN, 3, 10000, "TLS: client %s refused: %s (TR103308-5.3: mutual TLS)",
              addr, why);
}

/* Counts each connection's handshake once: done, or a fatal alert we sent
 * before it was done (no certificate, wrong CA, old protocol, no shared
 * cipher). TLS 1.3 reports post-handshake messages as handshakes too. */
static void info_cb(const SSL *ssl, int where, int ret) {
  static char counted;
  api_conn *c = SSL_get_ex_data(ssl, conn_index);
  if (c && c->list && (where & SSL_CB_HANDSHAKE_DONE)) {
    /* Through the handshake with a verified certificate: the idle timeout
     * applies from here on, and the connection is no longer evicted. */
    pending_unlink(c);
    if (c->deadline) event_del(c->deadline);
  } else if (c && c->list == &c->w->silent && SSL_get_state(ssl) != TLS_ST_BEFORE) {
    pending_append(c, &c->w->greeted); /* its ClientHello is read */
  }
  if (SSL_get_ex_data(ssl, handshake_index)) return;
  bool done = where & SSL_CB_HANDSHAKE_DONE;
  bool failed = (where & SSL_CB_WRITE_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !SSL_is_init_finished(ssl);
  if (!done && !failed) return;
  SSL_set_ex_data((SSL *)ssl, handshake_index, &counted);
  api_metrics_handshake(done);
  if (failed) log_refused_client(ssl, ret);
}

/* What the server adds to a context built from the material (tls.c):
 * client certificates required, and its own callbacks. */
static void tls_callbacks(SSL_CTX *c) {
  SSL_CTX_set_info_callback(c, info_cb);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
}

/* The first context, from the [tls] files (read before the sandbox). */
static int tls_setup(api_server *srv, const api_server_config *cfg, lisec_err *err) {
  api_tls_material m = {0};
  size_t max = cfg->tls_file_max ? cfg->tls_file_max : API_TLS_FILE_MAX_DEFAULT;
  int rc = api_tls_material_read(cfg->cert, cfg->key, cfg->client_ca, cfg->crl, max, &m, err);
  SSL_CTX *c = NULL;
  if (rc == 0) rc = api_tls_ctx_new(&m, time(NULL), &c, NULL, err);
  api_tls_material_free(&m);
  if (rc) return rc;
  tls_callbacks(c);
  srv->ssl = c;
  return 0;
}

int api_server_tls_reload(api_server *srv, const api_tls_material *m, api_tls_info *info, lisec_err *err) {
  SSL_CTX *c = NULL, *old;
  int rc = api_tls_ctx_new(m, time(NULL), &c, info, err);
  if (rc) return rc;
  tls_callbacks(c);
  /* Open connections hold a reference to the context they began with and
   * keep it; only new ones see this one. */
  pthread_mutex_lock(&srv->ssl_lock);
  old = srv->ssl;
  srv->ssl = c;
  pthread_mutex_unlock(&srv->ssl_lock);
  SSL_CTX_free(old);
  return 0;
}

static void conn_admit(api_worker *w, api_conn *c);

/* evhttp calls this for every connection it takes, before it gives the
 * bufferevent its socket: a new one (evhttp accepting itself) is counted
 * here and gets its handshake deadline; one through its handshake already
 * (own_accept) brings its bufferevent. */

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg) {
  api_worker *w = arg;
  api_server *srv = w->srv;
  if (w->adopting) { /* a connection through its handshake (adopt below) */
    struct bufferevent *bev = w->adopting;
    w->adopting = NULL;
    return bev;
  }
  pthread_mutex_lock(&srv->ssl_lock);
  SSL *ssl = SSL_new(srv->ssl);
  pthread_mutex_unlock(&srv->ssl_lock);
  api_conn *c = ssl ? calloc(1, sizeof *c) : NULL;
  struct event *deadline = c ? evtimer_new(base, conn_deadline_cb, c) : NULL;
  struct bufferevent *bev =
      deadline ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
               : NULL;
  if (!bev) {
    if (deadline) event_free(deadline);
    free(c);
    SSL_free(ssl);
    return NULL;
  }
  *c = (api_conn){.w = w, .bev = bev, .deadline = deadline, .fd = -1};
  SSL_set_ex_data(ssl, conn_index, c);
  conn_admit(w, c);
  return bev;
}

/* A new connection counts on its worker and gets its handshake deadline.
 * Over the worker's cap, the oldest connection still in its handshake is
 * closed to make room (one that has sent no ClientHello before one that
 * has); when every connection is through its handshake, the new one is
 * closed instead (a zero deadline). */
static void conn_admit(api_worker *w, api_conn *c) {
  api_server *srv = w->srv;
  struct event *deadline = c->deadline;
  w->n_conns++;
  w->backoff_ms = 0;
  api_metrics_conn_open(1);
  struct timeval tv = {srv->handshake_ms / 1000, (srv->handshake_ms % 1000) * 1000};
  api_conn *victim = w->silent.head ? w->silent.head : w->greeted.head;
  if (w->n_conns > srv->conn_cap && victim) {
    conn_close(victim, API_CONN_EVICTED);
    pending_append(c, &w->silent);
  } else if (w->n_conns > srv->conn_cap && w->n_closing == 0) {
    tv = (struct timeval){0, 0}; /* every other connection is through its handshake */
  } else {
    /* Under the cap, or over it only by connections already closing (their
     * descriptors are freed next turn; accepting waits for that). */
    pending_append(c, &w->silent);
  }
  evtimer_add(deadline, &tv);
  listener_update(w);
}

/* An accept() that fails for want of descriptors or memory would fail again
 * at once: pause accepting for a back-off that doubles up to 1 s while the
 * failures last, and log them at a bounded rate. */
static _Thread_local api_worker *this_worker; /* the worker whose loop runs on this thread */

static void accept_error_cb(struct evconnlistener *lev, void *arg) {
  (void)arg; /* the listener's argument is evhttp's */
  api_worker *w = this_worker;
  int e = EVUTIL_SOCKET_ERROR();
  w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
  if (w->backoff_ms > ACCEPT_BACKOFF_MAX_MS) w->backoff_ms = ACCEPT_BACKOFF_MAX_MS;
  api_metrics_conn(API_CONN_ACCEPT_ERROR);
  LOG_LIMITED(LISEC_LOG_WARN, 3, 10000,
              "accept() failed: %s; accepting paused for %d ms (is [server] max_connections "
              "within RLIMIT_NOFILE?)",
              evutil_socket_error_to_string(e), w->backoff_ms);
  evconnlistener_disable(lev);
  struct timeval tv = {w->backoff_ms / 1000, (w->backoff_ms % 1000) * 1000};
  evtimer_add(w->backoff_ev, &tv);
}

static void backoff_done(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  listener_update(arg);
}

/* The principal of a connection is read once from its certificate and kept
 * with the TLS session for the following keep-alive requests. */
static const api_principal *ssl_principal(api_server *srv, SSL *ssl, lisec_err *err);

static const api_principal *request_principal(api_server *srv, struct evhttp_request *req,
                                              lisec_err *err) {
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
  SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
  if (!ssl) {
    lisec_err_set(err, LISEC_EAUTH, "no TLS session");
    return NULL;
  }
  return ssl_principal(srv, ssl, err);
}

static const api_principal *ssl_principal(api_server *srv, SSL *ssl, lisec_err *err) {
  api_principal *p = SSL_get_ex_data(ssl, principal_index);
  if (p) return p;
  p = calloc(1, sizeof *p);
  if (!p) {
    lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return NULL;
  }
  if (api_principal_from_cert(SSL_get0_peer_certificate(ssl), srv->role_source, p, err) != 0) {
    free(p);
    return NULL;
  }
  SSL_set_ex_data(ssl, principal_index, p);
  return p;
}

/* ---- handshakes and bulk workers ------------------------------------------
 * A host's connection carries its reports: TLS records and HTTP of ~14 KB
 * bodies and their JSON, which a front worker handles at its own CPU
 * priority. So that reports yield to decisions in the front as they do in
 * the controller (api/backend.c, "bulk threads"), a worker accepts and
 * shakes hands itself (own_accept), learns the client's role from its
 * certificate, and hands a host's connection, TLS session and socket, to a
 * bulk worker ([server] bulk_workers, at [server] bulk_nice), whose own
 * event loop, evhttp and channel to the controller serve it from then on;
 * every other connection stays on the worker that accepted it. The role is
 * the certificate's, checked again on every request as before. The
 * handshake's limits are those evhttp's accepting had: the worker's cap,
 * eviction, the deadline. A bulk worker runs at a nice value, never
 * SCHED_IDLE: reports progress however busy decisions are.
 * evhttp has no call that takes a connection already accepted, so the
 * server learns evhttp's own accept callback (below) and calls it with the
 * socket; tls_bevcb then gives evhttp the session's bufferevent. Without
 * that callback (another libevent) evhttp accepts by itself as before and
 * hosts stay on the request workers. */
typedef void (*evhttp_accept_fn)(struct evconnlistener *, evutil_socket_t, struct sockaddr *, int, void *);
static evhttp_accept_fn evhttp_accept; /* evhttp's accept callback, once learnt */
static bool learning_accept;           /* evhttp_accept is being learnt (one thread, at open) */
typedef void (*set_cb_fn)(struct evconnlistener *, evconnlistener_cb, void *);
static set_cb_fn libevent_set_cb;
static void find_libevent_set_cb(void) {
  libevent_set_cb = (set_cb_fn)dlsym(RTLD_NEXT, "evconnlistener_set_cb");
}

/* libevent's own, with the callback evhttp gives a listener noted while
 * learning (evhttp_bind_listener calls it through the PLT, like
 * evhttp_send_error below). */
void evconnlistener_set_cb(struct evconnlistener *lev, evconnlistener_cb cb, void *arg) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, find_libevent_set_cb);
  if (learning_accept) evhttp_accept = cb;
  if (libevent_set_cb) libevent_set_cb(lev, cb, arg);
}

/* Binds a listener that never listens (no socket, disabled) to a scratch
 * evhttp: true once evhttp's accept callback is known. */
static bool learn_evhttp_accept(struct event_base *base) {
  if (evhttp_accept) return true;
  struct evhttp *scratch = evhttp_new(base);
  struct evconnlistener *lev =
      scratch ? evconnlistener_new(base, NULL, NULL, LEV_OPT_DISABLED, 0, -1) : NULL;
  learning_accept = true;
  if (lev && !evhttp_bind_listener(scratch, lev)) evconnlistener_free(lev);
  learning_accept = false;
  if (scratch) evhttp_free(scratch);
  return evhttp_accept != NULL;
}

static void shaking_unlink(api_conn *c, api_conn **head) {
  if (c->hs_prev) c->hs_prev->hs_next = c->hs_next;
  else if (*head == c) *head = c->hs_next;
  if (c->hs_next) c->hs_next->hs_prev = c->hs_prev;
  c->hs_prev = c->hs_next = NULL;
}

/* The connection ends before evhttp has it: OpenSSL's free of the session
 * frees c (conn_free: the worker's count, its deadline). */
static void shake_drop(api_conn *c) {
  evutil_socket_t fd = c->fd;
  if (c->hs) event_free(c->hs);
  c->hs = NULL;
  SSL_free(c->ssl);
  close(fd);
}

/* evhttp takes the connection on this worker (c->w), TLS session open. */
static void adopt(api_conn *c) {
  api_worker *w = c->w;
  struct bufferevent *bev = bufferevent_openssl_socket_new(
      w->base, c->fd, c->ssl, BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (!bev) return shake_drop(c);
  c->bev = bev;
  w->adopting = bev;
  evhttp_accept(NULL, c->fd, (struct sockaddr *)&c->peer, c->peer_len, w->http);
  if (w->adopting) {
    /* evhttp could not make a connection of it and closed the socket: the
     * session goes without closing that descriptor again */
    w->adopting = NULL;
    SSL_set_bio(c->ssl, NULL, NULL);
    bufferevent_free(bev);
  }
}

/* A bulk worker: the connections the others handed over. */
static void on_adopt(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->adopt_mu);
    api_conn *c = w->adopt_head;
    if (c) {
      shaking_unlink(c, &w->adopt_head);
      if (!w->adopt_head) w->adopt_tail = NULL;
    }
    pthread_mutex_unlock(&w->adopt_mu);
    if (!c) return;
    w->n_conns++;
    if (w->stopping) shake_drop(c);
    else adopt(c);
  }
}

/* Through the handshake: a host's connection goes to a bulk worker (the
 * next in turn), any other stays here. */
static void shake_done(api_conn *c) {
  api_worker *w = c->w;
  api_server *srv = w->srv;
  event_free(c->hs);
  c->hs = NULL;
  lisec_err err = {0};
  const api_principal *who = srv->n_bulk ? ssl_principal(srv, c->ssl, &err) : NULL;
  if (!who || who->role_bit != API_ROLE_HOST) return adopt(c);
  unsigned k = __atomic_fetch_add(&srv->next_bulk, 1, __ATOMIC_RELAXED) % (unsigned)srv->n_bulk;
  api_worker *to = &srv->workers[srv->n_workers - srv->n_bulk + (int)k];
  /* it stops counting here and counts there once taken */
  if (c->deadline) event_free(c->deadline);
  c->deadline = NULL;
  w->n_conns--;
  listener_update(w);
  c->w = to;
  pthread_mutex_lock(&to->adopt_mu);
  c->hs_prev = to->adopt_tail;
  if (to->adopt_tail) to->adopt_tail->hs_next = c;
  else to->adopt_head = c;
  to->adopt_tail = c;
  pthread_mutex_unlock(&to->adopt_mu);
  event_active(to->adopt_ev, EV_READ, 0);
}

static void on_shake(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  api_conn *c = arg;
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    shaking_unlink(c, &c->w->shaking);
    return shake_done(c);
  }
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    event_del(c->hs);
    event_assign(c->hs, c->w->base, fd, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE, on_shake, c);
    if (event_add(c->hs, NULL) == 0) return;
  }
  /* refused (info_cb counted and logged it), the peer left, or closed by
   * lisecd (deadline, eviction) */
  shaking_unlink(c, &c->w->shaking);
  shake_drop(c);
}

/* The worker's own listener (own_accept): each new connection is counted
 * and its handshake begins as evhttp's accepting would have begun it. */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
  (void)lev;
  api_worker *w = arg;
  api_server *srv = w->srv;
  pthread_mutex_lock(&srv->ssl_lock);
  SSL *ssl = SSL_new(srv->ssl);
  pthread_mutex_unlock(&srv->ssl_lock);
  api_conn *c = ssl ? calloc(1, sizeof *c) : NULL;
  struct event *deadline = c ? evtimer_new(w->base, conn_deadline_cb, c) : NULL;
  struct event *hs = deadline ? event_new(w->base, fd, EV_READ, on_shake, c) : NULL;
  if (!hs || salen <= 0 || (size_t)salen > sizeof c->peer || SSL_set_fd(ssl, (int)fd) != 1) {
    if (hs) event_free(hs);
    if (deadline) event_free(deadline);
    free(c);
    SSL_free(ssl);
    close(fd);
    return;
  }
  *c = (api_conn){.w = w, .deadline = deadline, .fd = fd, .ssl = ssl, .hs = hs, .peer_len = salen};
  memcpy(&c->peer, sa, (size_t)salen);
  SSL_set_accept_state(ssl);
  SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_ex_data(ssl, conn_index, c);
  c->hs_next = w->shaking;
  if (w->shaking) w->shaking->hs_prev = c;
  w->shaking = c;
  conn_admit(w, c);
  event_add(hs, NULL);
}

static const char *method_name(enum evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    default: return "OTHER";
  }
}

static void wipe_free(char *p, size_t n) {
  if (p) explicit_bzero(p, n);
  free(p);
}

/* evhttp queues a reply's headers and body as separate buffer chains, which
 * the TLS layer would send as separate records and writes, waking the client
 * twice. The write happens in a deferred callback, so joining the chains
 * right after queueing makes one record and one write per reply. A request
 * whose client left (no connection) is freed by the reply. */
/* The request's id (docs/operations.md, "Logs"): the one X-Request-Id the
 * client sent when it is 1-64 of A-Z a-z 0-9 - _ . :, otherwise a fresh
 * one; the reply carries it back. */
static void request_id_take(struct evhttp_request *req, char out[LISEC_REQUEST_ID_MAX]) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *v = NULL;
  int n = 0;
  for (struct evkeyval *kv = TAILQ_FIRST(in); kv; kv = TAILQ_NEXT(kv, next))
    if (evutil_ascii_strcasecmp(kv->key, "X-Request-Id") == 0) {
      v = kv->value;
      n++;
    }
  if (n == 1 && lisec_request_id_valid(v, strnlen(v, LISEC_REQUEST_ID_MAX)))
    snprintf(out, LISEC_REQUEST_ID_MAX, "%s", v);
  else
    lisec_request_id_new(out);
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_remove_header(h, "X-Request-Id");
  evhttp_add_header(h, "X-Request-Id", out);
}

/* Every answered request: counted, one access line (the route's pattern,
 * never its path), and a 503 said as an event of its own. */
static void request_done(int route, int status, uint64_t t0, const char *role, const char *method,
                         const char *rid) {
  uint64_t ns = t0 ? lisec_time_mono_ns() - t0 : 0;
  api_metrics_record(route, status, ns);
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  const char *pattern = route >= 0 && (size_t)route < n ? routes[route].pattern : "(unmatched)";
  lisec_log_access_rec a = {rid, role && role[0] ? role : "-", method, pattern, status, ns};
  lisec_log_access(&a);
  if (status == 503) {
    lisec_log_context_set(rid, a.role, pattern);
    LOG_LIMITED(LISEC_LOG_WARN, 10, 10000, "answered 503 (unavailable) to %s %s", method, pattern);
    lisec_log_context_clear();
  }
}

static void send_reply(struct evhttp_request *req, const api_wire_reply *r) {
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  struct evbuffer *out = evhttp_request_get_output_buffer(req);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
  evhttp_add_header(h, "Content-Security-Policy", API_UI_CSP); /* the compliance view: api/ui.h */
  if (r->allow[0]) evhttp_add_header(h, "Allow", r->allow);
  if (r->retry_after[0]) evhttp_add_header(h, "Retry-After", r->retry_after);
  if (r->etag[0]) evhttp_add_header(h, "ETag", r->etag);
  if (r->content_type[0]) {
    evhttp_add_header(h, "Content-Type", r->content_type);
    evbuffer_add(out, r->body, r->body_len);
  }
  evhttp_send_reply(req, r->status, NULL, NULL);
  if (bev) evbuffer_pullup(bufferevent_get_output(bev), -1);
}

static void send_response(struct evhttp_request *req, api_response *resp) {
  api_wire_reply r;
  char *owned = NULL;
  if (api_wire_reply_render(resp, &r, &owned) != 0) {
    r = (api_wire_reply){.status = 503};
  }
  send_reply(req, &r);
  wipe_free(owned, r.body_len);
}

/* Answers what must not reach the dispatcher as it is; true when it did.
 * More than one Content-Length is refused and the connection closed: evhttp
 * took the body by the first, a proxy in front may have taken another, and
 * the bytes left would be read as the next request (libevent itself refuses
 * Transfer-Encoding beside Content-Length). HEAD is answered as the route
 * table answers it (405 naming the methods, 404, 403 without a usable
 * certificate), without a body. */
static bool answer_before_dispatch(api_worker *w, struct evhttp_request *req) {
  struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
  int n_length = 0;
  for (struct evkeyval *kv = TAILQ_FIRST(hdrs); kv; kv = TAILQ_NEXT(kv, next))
    if (evutil_ascii_strcasecmp(kv->key, "Content-Length") == 0) n_length++;
  bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
  if (n_length <= 1 && !head) return false;
  api_response resp = {0};
  int route = -1;
  char rid[LISEC_REQUEST_ID_MAX];
  const char *role = NULL;
  request_id_take(req, rid);
  if (n_length > 1) {
    api_error(&resp, 400, "invalid", "more than one Content-Length header (RFC 9112 6.3)");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
  } else {
    lisec_err err = {0};
    const api_principal *who = request_principal(w->srv, req, &err);
    role = who ? who->role : NULL;
    api_raw_request raw = {.method = "HEAD", .uri = evhttp_request_get_uri(req), .max_body = w->srv->max_body};
    char *body = NULL;
    size_t body_len = 0;
    /* No route takes HEAD: one that did would be answered as a method the
     * path does not take, as the front has no body to strip. */
    if (who && api_admit(who, &raw, &resp, &route, &body, &body_len))
      api_error(&resp, 405, "method_not_allowed", "this path does not take that method");
    else if (!who) api_error(&resp, 403, "forbidden", err.msg);
    wipe_free(body, body_len);
    json_decref(resp.body);
    free(resp.text);
    resp.body = NULL;
    resp.text = NULL;
  }
  send_response(req, &resp);
  request_done(route, resp.status, 0, role, head ? "HEAD" : method_name(evhttp_request_get_command(req)), rid);
  api_response_free(&resp);
  return true;
}

/* ---- the channel to the controller -------------------------------------- */

/* A request sent to the controller, until its reply. conn is the client's
 * connection, NULL once the client left (evhttp keeps the request for the
 * reply, which frees it). */
typedef struct inflight {
  struct evhttp_request *req;
  struct evhttp_connection *conn;
  uint64_t t0;
  int route;
  char rid[LISEC_REQUEST_ID_MAX];
  char role[API_ROLE_NAME_MAX];
  char method[API_METHOD_MAX];
  /* GET /metrics: the front appends its own counters to the controller's
   * (0: not metrics, 1: as others see them, 2: the LI administration's view). */
  int metrics;
  /* A /readyz of the probe listener (probe.c): answered as plain text. */
  bool probe;
} inflight;

static void inflight_answer(api_worker *w, inflight *f, const api_wire_reply *r) {
  char *joined = NULL;
  api_wire_reply both;
  if (f->metrics && r->status == 200 && r->content_type[0]) {
    /* The controller's domain metrics, then the front's HTTP and TLS ones. */
    size_t n = 0;
    joined = api_metrics_join((const char *)r->body, r->body_len, f->metrics == 2, &n);
    if (joined) {
      both = *r;
      both.body = (const uint8_t *)joined;
      both.body_len = n;
      r = &both;
    }
  }
  send_reply(f->req, r);
  free(joined);
  /* Probes are not API requests: neither counted nor access-logged. */
  if (!f->probe) request_done(f->route, r->status, f->t0, f->role, f->method, f->rid);
  /* 429 comes only from the controller's per-certificate refusal limit. */
  if (r->status == 429 && !f->probe) api_metrics_refusal_limited();
  free(f);
  if (w->stopping && w->inflight.n_used == 0) {
    struct timeval grace = {1, 0};
    event_base_loopexit(w->base, &grace);
  }
}

static void inflight_refuse(api_worker *w, inflight *f, int status, const char *code, const char *msg) {
  api_response resp = {0};
  api_wire_reply r;
  char *owned = NULL;
  api_error(&resp, status, code, msg);
  if (api_wire_reply_render(&resp, &r, &owned) != 0) r = (api_wire_reply){.status = status};
  inflight_answer(w, f, &r);
  wipe_free(owned, r.body_len);
  api_response_free(&resp);
}

/* Answers every request in flight with status and msg. */
static void inflight_refuse_all(api_worker *w, int status, const char *code, const char *msg) {
  for (uint32_t i = 0; i < w->inflight.n_slots; i++) {
    uint32_t id = w->inflight.slots[i].id;
    if (!id) continue;
    inflight *f = api_wire_pending_take(&w->inflight, id, NULL);
    if (f) inflight_refuse(w, f, status, code, msg);
  }
}

/* The controller is gone or broke the protocol: lisecd cannot serve any
 * more (the parent stops every process); what waits is answered 503. */
static void channel_lost(api_worker *w, const char *why) {
  if (w->chan_lost) return;
  w->chan_lost = true;
  LOG_ERROR("the channel to the controller closed: %s; answering 503", why);
  bufferevent_disable(w->chan, EV_READ | EV_WRITE);
  inflight_refuse_all(w, 503, "unavailable", "the controller process is gone; lisecd is stopping");
  if (!__atomic_exchange_n(&w->srv->lost, 1, __ATOMIC_SEQ_CST) && w->srv->on_channel_lost)
    w->srv->on_channel_lost(w->srv->on_channel_lost_arg);
}

static void on_channel_read(struct bufferevent *bev, void *arg) {
  api_worker *w = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  uint32_t max = api_wire_channel_max(w->srv->max_body);
  for (;;) {
    ipc_header h;
    uint8_t *payload = NULL;
    lisec_err err = {0};
    int rc = api_wire_take(in, max, &h, &payload, &err);
    if (rc == 0) return;
    if (rc < 0) return channel_lost(w, err.msg);
    inflight *f = NULL;
    if (h.type != API_MSG_REPLY) {
      lisec_err_set(&err, LISEC_EINVAL, "message type %u where a reply was expected", h.type);
    } else {
      f = api_wire_pending_take(&w->inflight, h.id, &err);
    }
    if (!f) {
      ipc_payload_free(payload, h.len);
      return channel_lost(w, err.msg);
    }
    api_wire_reply r;
    if (api_wire_reply_decode(payload, h.len, &r, &err) != 0) {
      LOG_ERROR("a reply from the controller: %s", err.msg);
      inflight_refuse(w, f, 500, "internal", "the controller's reply was malformed");
    } else {
      inflight_answer(w, f, &r);
    }
    ipc_payload_free(payload, h.len);
  }
}

static void on_channel_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  api_worker *w = arg;
  channel_lost(w, (what & BEV_EVENT_EOF) ? "the controller closed it" : "a socket error");
}

/* A client that leaves while its request is with the controller: the
 * controller is told, so a request waiting for fresh quotes is dropped
 * without a decision; the reply then only frees the request. */
static void on_conn_close(struct evhttp_connection *conn, void *arg) {
  api_worker *w = arg;
  for (uint32_t i = 0; i < w->inflight.n_slots; i++) {
    api_wire_slot *s = &w->inflight.slots[i];
    inflight *f = s->id ? s->data : NULL;
    if (!f || f->conn != conn) continue;
    f->conn = NULL;
    lisec_err err = {0};
    if (!w->chan_lost && api_wire_queue(bufferevent_get_output(w->chan), API_MSG_CANCEL, s->id, NULL, &err) != 0)
      LOG_WARN("cannot tell the controller a client left: %s", err.msg);
  }
}

static void forward(api_worker *w, struct evhttp_request *req, const api_principal *who, int route,
                    const char *method, const char *body, size_t body_len, uint64_t t0,
                    const char *rid, int metrics) {
  api_response resp = {0};
  if (w->chan_lost) {
    api_error(&resp, 503, "unavailable", "the controller process is gone; lisecd is stopping");
    send_response(req, &resp);
    request_done(route, resp.status, t0, who->role, method, rid);
    api_response_free(&resp);
    return;
  }
  inflight *f = calloc(1, sizeof *f);
  api_wire_request *m = malloc(sizeof *m);
  lisec_err err = {0};
  uint32_t id = 0;
  ipc_writer wr = {0};
  int rc = f && m ? 0 : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  if (rc == 0) {
    *f = (inflight){.req = req, .conn = evhttp_request_get_connection(req), .t0 = t0, .route = route,
                    .metrics = metrics};
    snprintf(f->rid, sizeof f->rid, "%s", rid);
    snprintf(f->role, sizeof f->role, "%s", who->role);
    snprintf(f->method, sizeof f->method, "%s", method);
    m->route = (uint32_t)route;
    m->who = *who;
    snprintf(m->method, sizeof m->method, "%s", method);
    snprintf(m->uri, sizeof m->uri, "%s", evhttp_request_get_uri(req));
    snprintf(m->request_id, sizeof m->request_id, "%s", rid);
    /* If-Match for the model's compare-and-set writes; one too long to be
     * a version is passed as "!", which the route refuses as malformed */
    const char *im = evhttp_find_header(evhttp_request_get_input_headers(req), "If-Match");
    bool im_ok = im && strlen(im) < sizeof m->if_match;
    for (const char *p = im_ok ? im : ""; *p; p++) im_ok = im_ok && *p >= 0x20 && *p <= 0x7e;
    snprintf(m->if_match, sizeof m->if_match, "%s", !im ? "" : im_ok ? im : "!");
    m->body = (const uint8_t *)body;
    m->body_len = body_len;
    rc = api_wire_request_encode(&wr, m, w->srv->max_body, &err);
  }
  if (rc == 0) rc = api_wire_pending_add(&w->inflight, f, &id, &err);
  if (rc == 0) {
    rc = api_wire_queue(bufferevent_get_output(w->chan), API_MSG_REQUEST, id, &wr, &err);
    if (rc) api_wire_pending_take(&w->inflight, id, NULL);
  }
  ipc_writer_free(&wr);
  if (m) explicit_bzero(m, sizeof *m);
  free(m);
  if (rc == 0) {
    if (f->conn) evhttp_connection_set_closecb(f->conn, on_conn_close, w);
    return;
  }
  free(f);
  api_error(&resp, 503, "unavailable", err.msg);
  send_response(req, &resp);
  request_done(route, resp.status, t0, who->role, method, rid);
  api_response_free(&resp);
}

static void on_request(struct evhttp_request *req, void *arg) {
  api_worker *w = arg;
  if (answer_before_dispatch(w, req)) return;
  uint64_t t0 = lisec_time_mono_ns();
  api_response resp = {0};
  int route = -1;
  lisec_err err = {0};
  char rid[LISEC_REQUEST_ID_MAX];
  request_id_take(req, rid);
  const char *method = method_name(evhttp_request_get_command(req));
  const api_principal *who = request_principal(w->srv, req, &err);
  if (!who) {
    /* A verified certificate that carries no usable role. */
    lisec_log_context_set(rid, "-", NULL);
    LOG_LIMITED(LISEC_LOG_WARN, 3, 10000, "TLS: client refused: %s (TR103308-5.3: a role per certificate)",
                err.msg);
    lisec_log_context_clear();
    api_error(&resp, 403, "forbidden", err.msg);
  } else {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    api_raw_request raw = {.method = method, .uri = evhttp_request_get_uri(req), .body_len = len,
                           .max_body = w->srv->max_body};
    /* Pull the body into one block only when it is within bounds. */
    raw.body = len && len <= raw.max_body ? (const char *)evbuffer_pullup(in, (ssize_t)len) : NULL;
    char *body = NULL;
    size_t body_len = 0;
    size_t n_routes = 0;
    const api_route *routes = api_route_table(&n_routes);
    if (api_admit_routes(routes, n_routes, who, &raw, &resp, &route, &body, &body_len)) {
      const api_route *r = &routes[route];
      int metrics = 0;
      if (api_route_is_front(r) && (r->roles & who->role_bit))
        metrics = who->role_bit == API_ROLE_LI_ADMIN ? 2 : 1;
      forward(w, req, who, route, method, body, body_len, t0, rid, metrics);
      wipe_free(body, body_len);
      return;
    }
    wipe_free(body, body_len);
  }
  send_response(req, &resp);
  request_done(route, resp.status, t0, who ? who->role : NULL, method, rid);
  api_response_free(&resp);
}

/* evhttp refuses a body over [api] max_body itself, before reading it when
 * Content-Length (or Expect: 100-continue) announces it and while reading a
 * chunked one, and then answers with its own HTML page: libevent 2.1 has no
 * hook for that. This definition takes the place of libevent's (its calls go
 * through the PLT, so the executable's definition wins), answers that case
 * with the same JSON error as every other refusal, and hands every other
 * transport error (an unparsable request) to libevent's own. */
typedef void (*send_error_fn)(struct evhttp_request *, int, const char *);
static send_error_fn libevent_send_error;
static void find_libevent_send_error(void) {
  libevent_send_error = (send_error_fn)dlsym(RTLD_NEXT, "evhttp_send_error");
}

void evhttp_send_error(struct evhttp_request *req, int error, const char *reason) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (error != HTTP_ENTITYTOOLARGE) {
    pthread_once(&once, find_libevent_send_error);
    if (libevent_send_error) libevent_send_error(req, error, reason);
    return;
  }
  api_response resp = {0};
  api_error(&resp, 413, "too_large", "request body over the limit ([api] max_body)");
  /* The rest of the body is not read: the connection cannot carry another request. */
  evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
  char rid[LISEC_REQUEST_ID_MAX];
  request_id_take(req, rid);
  send_response(req, &resp);
  request_done(-1, 413, 0, NULL, method_name(evhttp_request_get_command(req)), rid);
  api_response_free(&resp);
}

/* ---- the probe listener ([probe] listen) ----------------------------------
 * Plain HTTP for load balancers and orchestrators, on its own address (the
 * loopback unless configured otherwise), on worker 0's loop: GET /healthz
 * is this process being alive with its controller (200, or 503 once the
 * controller is gone); GET /readyz asks the controller whether it can serve
 * (ctl_ready: store, tokens, checkpoint signer) and says what is not ready.
 * Anything else is 404 or 405, requests are small (headers bounded, no
 * body) and idle connections close after a few seconds. It reveals nothing
 * about the model, LI or the API. */
#define PROBE_HEADERS_MAX 4096
#define PROBE_TIMEOUT_S 5

static void probe_text(struct evhttp_request *req, int status, const char *text) {
  api_wire_reply r = {.status = status, .body = (const uint8_t *)text, .body_len = strlen(text)};
  snprintf(r.content_type, sizeof r.content_type, "text/plain");
  send_reply(req, &r);
}

static void on_probe_request(struct evhttp_request *req, void *arg) {
  api_worker *w = arg;
  const char *uri = evhttp_request_get_uri(req);
  bool health = strcmp(uri, "/healthz") == 0, ready = strcmp(uri, "/readyz") == 0;
  if (!health && !ready)
    return probe_text(req, 404, "not found: this listener answers GET /healthz and GET /readyz only\n");
  if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
    return probe_text(req, 405, "method not allowed: GET only\n");
  }
  if (w->chan_lost || w->stopping)
    return probe_text(req, 503, "not ready: the controller process is gone or lisecd is stopping\n");
  if (health) return probe_text(req, 200, "ok\n");
  inflight *f = calloc(1, sizeof *f);
  uint32_t id = 0;
  lisec_err err = {0};
  int rc = f ? 0 : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  if (rc == 0) {
    *f = (inflight){.req = req, .conn = evhttp_request_get_connection(req), .probe = true};
    rc = api_wire_pending_add(&w->inflight, f, &id, &err);
  }
  if (rc == 0) {
    rc = api_wire_queue(bufferevent_get_output(w->chan), API_MSG_READY, id, NULL, &err);
    if (rc) api_wire_pending_take(&w->inflight, id, NULL);
  }
  if (rc == 0) {
    if (f->conn) evhttp_connection_set_closecb(f->conn, on_conn_close, w);
    return;
  }
  free(f);
  probe_text(req, 503, "not ready: the controller cannot be asked\n");
}

static int probe_init(api_worker *w, evutil_socket_t probe_fd, lisec_err *err) {
  w->probe_http = evhttp_new(w->base);
  evutil_socket_t fd = w->probe_http ? dup(probe_fd) : -1;
  struct evhttp_bound_socket *bound = fd >= 0 ? evhttp_accept_socket_with_handle(w->probe_http, fd) : NULL;
  if (fd >= 0 && !bound) close(fd);
  if (!bound) return lisec_err_set(err, LISEC_EIO, "[probe] listen: cannot accept connections");
  evhttp_set_gencb(w->probe_http, on_probe_request, w);
  evhttp_set_max_headers_size(w->probe_http, PROBE_HEADERS_MAX);
  evhttp_set_max_body_size(w->probe_http, 0);
  evhttp_set_timeout(w->probe_http, PROBE_TIMEOUT_S);
  evhttp_set_allowed_methods(w->probe_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                                EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
  return 0;
}

/* The bound on a stop's wait for the controller's last replies. */
static void on_drain_bound(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  inflight_refuse_all(w, 503, "unavailable", "lisecd is stopping; ask again");
  struct timeval grace = {1, 0};
  event_base_loopexit(w->base, &grace);
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  w->stopping = true;
  if (w->own_accept && w->listener) evconnlistener_free(w->listener);
  w->listener = NULL; /* or freed with the bound socket */
  if (w->bound) evhttp_del_accept_socket(w->http, w->bound);
  w->bound = NULL;
  /* The controller answers requests waiting for fresh quotes now (503, no
   * decision made or recorded) and decides later ones at once; the loop
   * ends once every request in flight has its reply (and a moment for
   * replies queued to leave), or after STOP_DRAIN_S. */
  lisec_err err = {0};
  if (!w->chan_lost && api_wire_queue(bufferevent_get_output(w->chan), API_MSG_STOP, 0, NULL, &err) != 0)
    LOG_WARN("cannot tell the controller lisecd stops: %s", err.msg);
  if (w->inflight.n_used == 0) {
    struct timeval grace = {1, 0};
    event_base_loopexit(w->base, &grace);
  } else {
    struct timeval bound = {STOP_DRAIN_S, 0};
    evtimer_add(w->drain_ev, &bound);
  }
}

static void *worker_main(void *arg) {
  api_worker *w = arg;
  this_worker = w;
  /* named from its own thread (prctl); a bulk worker lowers its own
   * priority (Linux: per thread; needs no privilege) */
  pthread_setname_np(pthread_self(), w->bulk ? "lisec-fbulk" : "lisec-front");
  errno = 0;
  if (w->bulk && w->srv->bulk_nice > 0 && setpriority(PRIO_PROCESS, 0, w->srv->bulk_nice) != 0)
    LOG_WARN("a bulk front worker cannot lower its CPU priority to nice %d ([server] bulk_nice): %s; hosts' "
             "connections are served at the decisions' priority", w->srv->bulk_nice, strerror(errno));
  /* a bulk worker's loop waits for connections handed over, until the stop */
  event_base_loop(w->base, w->bulk ? EVLOOP_NO_EXIT_ON_EMPTY : 0);
  /* A request that came in the last moment still gets an answer, and its
   * memory is freed with its connection. */
  inflight_refuse_all(w, 503, "unavailable", "lisecd is stopping; ask again");
  return NULL;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                        lisec_err *err) {
  int sl = (int)sizeof *ss;
  memset(ss, 0, sizeof *ss);
  if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)ss, &sl) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "[server] listen = \"%s\": expected ADDRESS:PORT", listen);
  *len = (socklen_t)sl;
  return 0;
}

static int listen_socket(const char *addr, evutil_socket_t *out, lisec_err *err) {
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  int rc = parse_listen(addr, &ss, &sl, err);
  if (rc) return rc;
  evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0) return lisec_err_set(err, LISEC_EIO, "socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* Accepted sockets inherit this: replies must not wait for delayed ACKs. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    return lisec_err_set(err, LISEC_EIO, "cannot listen on %s: %s", addr, strerror(e));
  }
  *out = fd;
  return 0;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg);
static void on_adopt(evutil_socket_t fd, short what, void *arg);

/* A worker's loop. With epoll's change list, a descriptor whose interest
 * is dropped and taken again within one pass of the loop (evhttp turns a
 * connection's reading off while a request is answered and on again for
 * the next) costs no epoll_ctl at all: without it a keep-alive request
 * made four. The change list's one caveat, descriptors dup()ed while
 * registered, does not arise here: every socket is the loop's alone. */
static struct event_base *loop_new(void) {
  struct event_config *cfg = event_config_new();
  if (!cfg) return NULL;
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  struct event_base *base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return base;
}

/* The worker takes its channel descriptor (closed with the worker). A bulk
 * worker accepts nothing itself: it serves the connections handed to it. */
static int worker_init(api_worker *w, api_server *srv, int chan_fd, bool bulk, lisec_err *err) {
  w->srv = srv;
  w->bulk = bulk;
  pthread_mutex_init(&w->adopt_mu, NULL);
  api_wire_pending_init(&w->inflight);
  w->base = loop_new();
  w->http = w->base ? evhttp_new(w->base) : NULL;
  w->chan = w->base && evutil_make_socket_nonblocking(chan_fd) == 0
                ? bufferevent_socket_new(w->base, chan_fd, BEV_OPT_CLOSE_ON_FREE)
                : NULL;
  if (!w->chan) close(chan_fd);
  w->drain_ev = w->base ? evtimer_new(w->base, on_drain_bound, w) : NULL;
  if (!w->http || !w->chan || !w->drain_ev)
    return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  bufferevent_setcb(w->chan, on_channel_read, NULL, on_channel_event, w);
  bufferevent_enable(w->chan, EV_READ);
  evhttp_set_bevcb(w->http, tls_bevcb, w);
  evhttp_set_gencb(w->http, on_request, w);
  evhttp_set_max_body_size(w->http, (ev_ssize_t)srv->max_body);
  evhttp_set_max_headers_size(w->http, MAX_HEADERS);
  evhttp_set_timeout(w->http, IDLE_TIMEOUT_S);
  /* Every method reaches the dispatcher, which answers 405 in JSON. */
  evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                          EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
  w->backoff_ev = evtimer_new(w->base, backoff_done, w);
  if (!w->stop_ev || !w->backoff_ev) return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  if (bulk) {
    w->adopt_ev = event_new(w->base, -1, 0, on_adopt, w);
    return w->adopt_ev ? 0 : lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  }
  /* Each worker has its own descriptor of the shared listening socket
   * (evhttp closes the one it accepts on when it lets go of it). With bulk
   * workers, a worker accepts and shakes hands itself ("handshakes"). */
  evutil_socket_t fd = dup(srv->fd);
  w->own_accept = srv->n_bulk > 0 && learn_evhttp_accept(w->base);
  if (w->own_accept) {
    w->listener = fd >= 0 ? evconnlistener_new(w->base, on_accept, w, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                               0, fd)
                          : NULL;
  } else {
    w->bound = fd >= 0 ? evhttp_accept_socket_with_handle(w->http, fd) : NULL;
    w->listener = w->bound ? evhttp_bound_socket_get_listener(w->bound) : NULL;
  }
  if (fd >= 0 && !w->listener) close(fd);
  if (!w->listener) return lisec_err_set(err, LISEC_EIO, "cannot accept connections");
  evconnlistener_set_error_cb(w->listener, accept_error_cb);
  return 0;
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static void process_init(void) {
  evthread_use_pthreads();
  principal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, principal_free);
  handshake_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

/* The connection cap must fit under RLIMIT_NOFILE with lisecd's reserve:
 * past it accept() fails. The soft limit is raised as far as needed (up to
 * the hard one) when apply is set; a cap that cannot fit is refused. 0 is
 * as many as fit, up to AUTO_MAX_CONNECTIONS. */
static int fit_connection_cap(const api_server_config *cfg, bool apply, int *cap, lisec_err *err) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return lisec_err_set(err, LISEC_EIO, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
  int workers = (cfg->workers > 0 ? cfg->workers : 1) + (cfg->bulk_workers > 0 ? cfg->bulk_workers : 0);
  rlim_t reserve = FD_RESERVE + (rlim_t)FD_RESERVE_PER_WORKER * (rlim_t)workers;
  rlim_t want = (rlim_t)(cfg->max_connections > 0 ? cfg->max_connections : AUTO_MAX_CONNECTIONS);
  rlim_t need = want + reserve;
  rlim_t can = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < can) {
    if (apply) {
      struct rlimit raised = {can, rl.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = can;
    } else {
      rl.rlim_cur = can;
    }
  }
  rlim_t have = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > need ? need : rl.rlim_cur;
  if (cfg->max_connections > 0 && have < need)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[server] max_connections = %d needs %llu file descriptors with lisecd's "
                         "reserve of %llu, but RLIMIT_NOFILE allows %llu: lower max_connections or "
                         "raise the limit (LimitNOFILE in the systemd unit)",
                         cfg->max_connections, (unsigned long long)need, (unsigned long long)reserve,
                         (unsigned long long)have);
  if (have < reserve + 16u * (rlim_t)workers)
    return lisec_err_set(err, LISEC_EINVAL,
                         "RLIMIT_NOFILE allows %llu file descriptors: lisecd needs %llu for itself "
                         "and room for client connections (LimitNOFILE in the systemd unit)",
                         (unsigned long long)have, (unsigned long long)reserve);
  *cap = (int)(have - reserve);
  return 0;
}

int api_server_check(const api_server_config *cfg, lisec_err *err) {
  pthread_once(&process_once, process_init);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  api_server probe = {0};
  int rc = api_routes_check(routes, n_routes, err);
  int cap = 0;
  if (rc == 0) rc = parse_listen(cfg->listen, &ss, &sl, err);
  if (rc == 0 && cfg->probe_listen && (rc = parse_listen(cfg->probe_listen, &ss, &sl, err)))
    lisec_err_wrap(err, "[probe] listen");
  if (rc == 0) rc = fit_connection_cap(cfg, false, &cap, err);
  if (rc == 0) rc = tls_setup(&probe, cfg, err);
  SSL_CTX_free(probe.ssl);
  return rc;
}

int api_server_open(const api_server_config *cfg, const int *channels, api_server **out,
                    lisec_err *err) {
  pthread_once(&process_once, process_init);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  int n_req = cfg->workers > 0 ? cfg->workers : 1, n_bulk = cfg->bulk_workers > 0 ? cfg->bulk_workers : 0;
  int n_workers = n_req + n_bulk, taken = 0;
  api_server *srv = NULL;
  int rc = api_routes_check(routes, n_routes, err);
  if (rc == 0 && !(srv = calloc(1, sizeof *srv))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc == 0) {
    pthread_mutex_init(&srv->ssl_lock, NULL);
    srv->role_source = cfg->role_source;
    srv->max_body = cfg->max_body;
    srv->fd = -1;
    srv->probe_fd = -1;
    srv->n_workers = n_workers;
    srv->n_bulk = n_bulk;
    srv->bulk_nice = cfg->bulk_nice;
    srv->handshake_ms = cfg->handshake_timeout_ms > 0 ? cfg->handshake_timeout_ms : 5000;
    srv->on_channel_lost = cfg->on_channel_lost;
    srv->on_channel_lost_arg = cfg->on_channel_lost_arg;
    srv->workers = calloc((size_t)srv->n_workers, sizeof *srv->workers);
    int cap = 0;
    rc = srv->workers ? fit_connection_cap(cfg, true, &cap, err)
                      : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    /* Each request worker accepts on its own: it holds its share of the
     * cap (a bulk worker holds what they hand it, within theirs). */
    srv->conn_cap = cap / n_req > 0 ? cap / n_req : 1;
  }
  if (rc == 0) rc = tls_setup(srv, cfg, err);
  if (rc == 0) rc = listen_socket(cfg->listen, &srv->fd, err);
  if (rc == 0 && cfg->probe_listen && (rc = listen_socket(cfg->probe_listen, &srv->probe_fd, err)))
    lisec_err_wrap(err, "[probe] listen");
  for (; rc == 0 && taken < n_workers; taken++)
    rc = worker_init(&srv->workers[taken], srv, channels[taken], taken >= n_req, err);
  for (; taken < n_workers; taken++) close(channels[taken]);
  if (rc == 0 && srv->probe_fd >= 0) rc = probe_init(&srv->workers[0], srv->probe_fd, err);
  if (rc) {
    api_server_wait_and_free(srv);
    return rc;
  }
  if (n_bulk && !srv->workers[0].own_accept)
    LOG_WARN("[server] bulk_workers: this libevent's evhttp cannot take connections lisecd accepted; hosts' "
             "connections are served by the request workers");
  api_metrics_start();
  *out = srv;
  return 0;
}

int api_server_run(api_server *srv, lisec_err *err) {
  for (int i = 0; i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      api_server_stop(srv);
      return lisec_err_set(err, LISEC_EINTERNAL, "cannot start worker thread");
    }
    w->started = true;
  }
  return 0;
}

void api_server_stop(api_server *srv) {
  for (int i = 0; i < srv->n_workers; i++)
    if (srv->workers[i].stop_ev) event_active(srv->workers[i].stop_ev, 0, 0);
}

bool api_server_channel_lost(const api_server *srv) {
  return __atomic_load_n(&srv->lost, __ATOMIC_SEQ_CST) != 0;
}

void api_server_wait_and_free(api_server *srv) {
  if (!srv) return;
  for (int i = 0; srv->workers && i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    if (w->started) pthread_join(w->thread, NULL);
    if (w->own_accept && w->listener && !w->stopping) evconnlistener_free(w->listener);
    w->listener = NULL;
    /* connections still in a handshake, or handed over and not taken */
    while (w->shaking) {
      api_conn *c = w->shaking;
      shaking_unlink(c, &w->shaking);
      shake_drop(c);
    }
    while (w->adopt_head) {
      api_conn *c = w->adopt_head;
      shaking_unlink(c, &w->adopt_head);
      shake_drop(c);
    }
    if (w->stop_ev) event_free(w->stop_ev);
    /* Connections close here (and tell the channel their clients left). */
    if (w->http) evhttp_free(w->http);
    if (w->probe_http) evhttp_free(w->probe_http);
    if (w->backoff_ev) event_free(w->backoff_ev);
    if (w->drain_ev) event_free(w->drain_ev);
    if (w->adopt_ev) event_free(w->adopt_ev);
    if (w->chan) bufferevent_free(w->chan);
    api_wire_pending_free(&w->inflight);
    if (w->base) event_base_free(w->base);
    pthread_mutex_destroy(&w->adopt_mu);
  }
  if (srv->fd >= 0) close(srv->fd);
  if (srv->probe_fd >= 0) close(srv->probe_fd);
  SSL_CTX_free(srv->ssl);
  pthread_mutex_destroy(&srv->ssl_lock);
  free(srv->workers);
  free(srv);
}
