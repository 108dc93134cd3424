/* The HTTPS server of lisecd's front process. TLS 1.2 at least (1.3
 * preferred), client certificates required and verified against the
 * configured CA, HTTP/1.1 framed by api/http1.c, bytes moved by api/conn.c.
 * N worker threads share one listening socket, each with its own event loop
 * (libevent, epoll) and its own channel to the controller process (wire.h).
 * A connection's socket is registered once, edge-triggered for reading and
 * writing: a request costs one recv and one send besides the loop's wait,
 * where evhttp over OpenSSL's socket BIO took two reads per TLS record and
 * turned interest in writing on and off around every reply.
 * A worker admits a request (api_admit: 413, 400, 404, 405, the JSON body)
 * and sends it on; the reply comes back on the channel by request id, while
 * the loop serves other connections. A connection has one request at the
 * controller at a time, and its next one (pipelined) is read after the
 * reply. The front holds no store and no controller: GET /metrics is the
 * one route it answers itself, as every reply passes through it.
 * Clients that never finish a handshake must not starve the others: each
 * worker holds at most its share of [server] max_connections (at the cap the
 * oldest connection still in its handshake is closed, or the new one), a
 * handshake has a deadline, a connection that completes no request for
 * [server] idle_timeout_s is closed, and an accept() that fails (no descriptors
 * left) pauses accepting for a back-off instead of spinning.
 * Authenticated clients must not starve the others either: one client
 * certificate holds at most [server] max_client_connections of the cap,
 * counted across every worker (clients.h); a connection past it has its
 * first request answered 429 naming the setting and is closed, bounded
 * meanwhile as a handshake is. Request bodies not yet all received hold at
 * most [server] max_body_memory together: a request whose body would take
 * the total past it is answered 503 with Retry-After and closed.
 * A request refused before its body was read is answered, then the
 * connection lingers ([server] linger_ms, linger_bytes): what the client
 * still sends is read and dropped, so the close resets nothing and the
 * client reads the answer (below, "lingering close").
 * Hosts' connections (their reports: TLS records, HTTP, JSON bodies) are
 * served by front workers of their own at [server] bulk_nice
 * ([server] bulk_workers; below, "bulk workers"), so the decisions' workers
 * keep the cores while hosts report. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/browser.h"
#include "api/clients.h"
#include "api/conn.h"
#include "api/http1.h"
#include "api/tls.h"
#include "api/ui.h"
#include "api/wire.h"

/* Descriptors lisecd needs besides client connections (store, token, event
 * loops, logs, X1 and attestation clients), and more per worker. */
#define FD_RESERVE 64
#define FD_RESERVE_PER_WORKER 8
#define AUTO_MAX_CONNECTIONS 4096
#define ACCEPT_BACKOFF_MIN_MS 50
#define ACCEPT_BACKOFF_MAX_MS 1000
/* At a stop, requests the controller is still deciding get this long. */
#define STOP_DRAIN_S 10
/* The probe listener's requests: a line and a few fields. */
#define PROBE_HEADERS_MAX 4096
#define BODY_MEMORY_DEFAULT ((size_t)64 << 20)
#define LINGER_BYTES_DEFAULT ((size_t)4 << 20)

typedef struct conn_list {
  api_conn *head, *tail; /* oldest first */
  int n;
} conn_list;

typedef struct api_worker {
  struct api_server *srv;
  pthread_t thread;
  bool bulk; /* a bulk worker: takes hosts' connections from the others */
  /* a bulk worker: connections handed over by the others, oldest first */
  pthread_mutex_t adopt_mu;
  conn_list adopt;
  struct event *adopt_ev;
  struct event_base *base;
  struct evconnlistener *listener; /* NULL for a bulk worker, and once stopping */
  struct evconnlistener *probe_listener; /* worker 0: [probe] listen */
  struct event *stop_ev;
  struct event *backoff_ev; /* resumes accepting after an accept() failure */
  struct event *sweep_ev;   /* closes idle connections, once a second */
  int backoff_ms;           /* 0 after a successful accept */
  /* Open client connections this worker accepted, also those it handed to
   * a bulk worker: its share of the cap holds them all. Atomic: a bulk
   * worker's thread closes the ones it serves. */
  int n_conns;
  struct event *wake_ev;    /* a bulk worker closed one of them: accepting may resume */
  /* Connections still in their handshake: those whose ClientHello lisecd
   * has not read yet, and those it has. At the cap the oldest of the first
   * goes first: a real client sends its ClientHello at once and leaves that
   * list within a round trip, while idle connections stay in it. */
  conn_list silent, greeted;
  conn_list live;   /* through the handshake, least recently active first */
  conn_list lingering; /* answered for the last time, dropping what comes; oldest first */
  const struct timeval *linger_tv; /* [server] linger_ms, as the loop's common timeout */
  conn_list probes; /* the probe listener's, least recently active first */
  bool started;
  bool stopping;                  /* on_stop ran */
  bool stopped;                   /* its loop ended: no request is begun any more */
  struct bufferevent *chan;       /* to the controller */
  bool chan_lost;                 /* the controller is gone: every request gets 503 */
  api_wire_pending inflight;      /* forwarded requests by id */
  struct event *drain_ev;         /* the bound on waiting for them at a stop */
} api_worker;

struct api_server {
  SSL_CTX *ssl;             /* new connections' context; swapped by a TLS reload */
  pthread_mutex_t ssl_lock; /* guards ssl (a worker takes a reference under it) */
  void (*on_channel_lost)(void *);
  void *on_channel_lost_arg;
  int lost; /* the channel loss was reported */
  api_role_source role_source;
  size_t max_body;
  size_t in_max;    /* a connection's unconsumed input at most */
  int fd;
  int n_workers;    /* request workers, then bulk workers */
  int n_bulk;       /* [server] bulk_workers: the last n_bulk of workers */
  int bulk_nice;    /* [server] bulk_nice */
  unsigned request_slice_us; /* [server] request_slice_us */
  unsigned next_bulk;
  int conn_cap;     /* per worker */
  api_clients *clients; /* [server] max_client_connections: each certificate's connections */
  size_t body_mem;      /* bytes unfinished bodies hold (body_hold); atomic */
  size_t body_mem_max;  /* [server] max_body_memory */
  int handshake_ms; /* [server] handshake_timeout_ms */
  uint64_t idle_ms; /* [server] idle_timeout_s */
  size_t max_head;  /* [server] max_header_bytes */
  int linger_ms;       /* [server] linger_ms; 0: no lingering close */
  size_t linger_bytes; /* [server] linger_bytes */
  api_worker *workers;
  int probe_fd;     /* [probe] listen, or -1 */
  int probe_conns;  /* [probe] max_connections */
  uint64_t probe_idle_ms; /* [probe] idle_timeout_s */
};

static int principal_index = -1;
static int handshake_index = -1; /* set once a connection's handshake is counted */
static int conn_index = -1;      /* the api_conn of a session */

static void list_unlink(api_conn *c) {
  conn_list *l = c->list;
  if (!l) return;
  if (c->prev) c->prev->next = c->next;
  else l->head = c->next;
  if (c->next) c->next->prev = c->prev;
  else l->tail = c->prev;
  c->prev = c->next = NULL;
  c->list = NULL;
  l->n--;
}

static void list_append(api_conn *c, conn_list *l) {
  list_unlink(c);
  c->prev = l->tail;
  c->next = NULL;
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
  c->list = l;
  l->n++;
}

static uint64_t now_ms(void) {
  return lisec_time_mono_ns() / 1000000u;
}

/* The connection did its part now: last in its list's idle order. */
static void conn_touch(api_conn *c) {
  c->active_ms = now_ms();
  if (c->list) list_append(c, c->list);
}

/* Whether another request worker holds fewer connections than its share. */
static bool others_have_room(const api_worker *w) {
  const api_server *srv = w->srv;
  for (int i = 0; i < srv->n_workers - srv->n_bulk; i++) {
    const api_worker *o = &srv->workers[i];
    if (o != w && __atomic_load_n(&o->n_conns, __ATOMIC_RELAXED) < srv->conn_cap) return true;
  }
  return false;
}

/* Accepting runs while the worker is below its share of the cap, or at it
 * when no other request worker has room (then a new connection may evict
 * one stuck in its handshake, or is refused at once), and not backing off.
 * The workers wait on one listening socket and the kernel wakes any of
 * them: a worker at its share that kept accepting refused clients while
 * another had room (60 connections at max_connections = 64 over 2
 * workers: a few refused). */
static void listener_update(api_worker *w) {
  if (!w->listener) return;
  if ((__atomic_load_n(&w->n_conns, __ATOMIC_RELAXED) < w->srv->conn_cap || !others_have_room(w)) &&
      !event_pending(w->backoff_ev, EV_TIMEOUT, NULL))
    evconnlistener_enable(w->listener);
  else
    evconnlistener_disable(w->listener);
}

static void inflight_client_left(api_worker *w, uint32_t id);

/* ---- memory in unfinished bodies ([server] max_body_memory) ----------------
 * A connection whose request body is not all here yet grows its input to
 * hold it: up to [api] max_body each, with no bound over connections, so
 * clients that announce large bodies and send them slowly (or never) took
 * the front's memory. Such a body holds room in one count shared by the
 * workers: what its Content-Length announces, or a chunked body's bytes so
 * far, taken when the body is found unfinished (an atomic add, never on a
 * request whose body came with its head) and given back when it completes
 * or its connection closes. */
static bool body_hold(api_conn *c, size_t want) {
  if (want <= c->body_held) return true;
  api_server *srv = c->w->srv;
  size_t more = want - c->body_held;
  size_t cur = __atomic_load_n(&srv->body_mem, __ATOMIC_RELAXED);
  do {
    if (more > srv->body_mem_max || cur > srv->body_mem_max - more) return false;
  } while (!__atomic_compare_exchange_n(&srv->body_mem, &cur, cur + more, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  c->body_held = want;
  return true;
}

static void body_release(api_conn *c) {
  if (!c->body_held) return;
  __atomic_sub_fetch(&c->w->srv->body_mem, c->body_held, __ATOMIC_RELAXED);
  c->body_held = 0;
}

/* The connection ends: its request at the controller (if any) is
 * cancelled, its socket closed, and it stops counting. */
static void conn_free(api_conn *c) {
  api_worker *w = c->w, *home = c->home;
  list_unlink(c);
  if (c->inflight) inflight_client_left(w, c->inflight);
  if (c->deadline) event_free(c->deadline);
  if (c->ev) event_free(c->ev);
  if (c->ssl) SSL_set_ex_data(c->ssl, conn_index, NULL);
  if (c->client) api_clients_give(w->srv->clients, c->client);
  body_release(c);
  bool probe = !c->ssl;
  api_conn_goodbye(c);
  api_conn_release(c);
  free(c);
  if (probe) return;
  __atomic_sub_fetch(&home->n_conns, 1, __ATOMIC_RELAXED);
  api_metrics_conn_open(-1);
  if (home == w) listener_update(w);
  else event_active(home->wake_ev, EV_READ, 0); /* its listener is its own thread's */
}

/* A bulk worker closed a connection this worker accepted. */
static void on_wake(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  listener_update(arg);
}

/* Closed by lisecd in its handshake (its deadline, or evicted at the cap,
 * as a lingering one is).
 * A connection over its client's limit waits as one in its handshake does,
 * and was counted once already, when it was refused. */
static void conn_close(api_conn *c, api_conn_event why) {
  if (!c->over_client) api_metrics_conn(why);
  conn_free(c);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  conn_close(arg, API_CONN_HANDSHAKE_TIMEOUT);
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
static void peer_addr(const api_conn *c, char addr[INET6_ADDRSTRLEN]) {
  const struct sockaddr_storage *ss = c ? &c->peer : NULL;
  snprintf(addr, INET6_ADDRSTRLEN, "?");
  if (ss && ss->ss_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, addr, INET6_ADDRSTRLEN);
  else if (ss && ss->ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, addr, INET6_ADDRSTRLEN);
}

static void log_refused_client(const SSL *ssl, const api_conn *c, int alert) {
  char addr[INET6_ADDRSTRLEN];
  peer_addr(c, addr);
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
 * cipher); and notes a ClientHello read (the eviction order). */
static void info_cb(const SSL *ssl, int where, int ret) {
  static char counted;
  api_conn *c = SSL_get_ex_data(ssl, conn_index);
  if (c && c->list == &c->w->silent && SSL_get_state(ssl) != TLS_ST_BEFORE)
    list_append(c, &c->w->greeted); /* its ClientHello is read */
  if (SSL_get_ex_data(ssl, handshake_index)) return;
  bool done = where & SSL_CB_HANDSHAKE_DONE;
  bool failed = (where & SSL_CB_WRITE_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !SSL_is_init_finished(ssl);
  if (!done && !failed) return;
  SSL_set_ex_data((SSL *)ssl, handshake_index, &counted);
  api_metrics_handshake(done);
  if (failed) log_refused_client(ssl, c, ret);
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
  if (rc) {
    ERR_clear_error(); /* as in ssl_principal: the thread's queue stays empty (conn.h) */
    return rc;
  }
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

/* The principal of a connection is read once from its certificate and kept
 * with the TLS session for the following keep-alive requests. */
static const api_principal *ssl_principal(api_server *srv, SSL *ssl, lisec_err *err) {
  api_principal *p = SSL_get_ex_data(ssl, principal_index);
  if (p) return p;
  p = calloc(1, sizeof *p);
  if (!p) {
    lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return NULL;
  }
  if (api_principal_from_cert(SSL_get0_peer_certificate(ssl), srv->role_source, p, err) != 0) {
    ERR_clear_error(); /* what X.509 left must not read as a session's error (conn.h) */
    free(p);
    return NULL;
  }
  SSL_set_ex_data(ssl, principal_index, p);
  return p;
}

/* ---- lingering close --------------------------------------------------------
 * A request refused before its body was read (413 over [api] max_body, 503
 * over [server] max_body_memory, 429 past [server] max_client_connections,
 * a framing refusal) is answered and its connection closes; the client may
 * still be writing its body (one that does not ask Expect: 100-continue:
 * curl below 1 MiB, Go's client always). A socket closed with bytes unread
 * makes the kernel send a reset, and the client, still writing or not yet
 * reading, saw "connection reset" instead of the answer. So such a
 * connection lingers once its answer is queued: close_notify follows the
 * answer, the write side is shut (the client reads the answer to its end),
 * and what the client still sends is read and dropped, never parsed, until
 * it closes its side, for at most [server] linger_ms and [server]
 * linger_bytes: a client that keeps sending, fast or a byte at a time, is
 * closed at either bound (then reset, as before). The same goes for a
 * connection whose last request left bytes unread behind it. A lingering
 * connection keeps its place in the connection cap, off the idle sweep; at
 * the cap it is the first closed for a new connection after those that
 * sent nothing, as it has its answer already. It is served by the loop as
 * any other (no worker waits on it). The probe listener's connections
 * close at once, as they did. */
static void linger_bound(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  conn_free(arg); /* any bytes left unread now reset the connection */
}

static bool linger_wanted(const api_conn *c) {
  return c->ssl && c->w->srv->linger_ms > 0 && !c->failed && !c->eof &&
         (c->unread || c->readable || api_conn_buffered(c) > 0);
}

static void linger_run(api_conn *c) {
  if (!api_conn_linger(c, &c->linger_left)) conn_free(c);
  else if (c->readable) event_active(c->ev, EV_READ, 0); /* its turn's share read: more next turn */
}

static void linger_begin(api_conn *c) {
  api_worker *w = c->w;
  if (c->deadline) event_free(c->deadline); /* a handshake's (one refused over its client's limit) */
  c->deadline = evtimer_new(w->base, linger_bound, c);
  if (!c->deadline || evtimer_add(c->deadline, w->linger_tv) != 0) {
    conn_free(c);
    return;
  }
  c->lingering = true;
  c->linger_left = w->srv->linger_bytes;
  list_append(c, &w->lingering);
  api_conn_linger_begin(c);
  linger_run(c);
}

/* ---- a connection's turn ---------------------------------------------------
 * conn_run moves a connection on as far as it can without waiting: it sends
 * what is queued, takes the handshake or the next request a step further,
 * and reads the socket while an edge said bytes are there and the step needs
 * them. It returns when the connection waits for the socket, for the
 * controller's reply, or ended (freed here: the caller does not touch it
 * after). */
typedef enum { STEP_WAIT, STEP_ON, STEP_GONE } step;

static step shake(api_conn *c);
static step serve(api_conn *c);

static void conn_run(api_conn *c) {
  /* An error some other OpenSSL caller on this thread left would read as
   * this session's (SSL_get_error looks at the queue first); peeking is
   * cheap, clearing the whole queue on every turn was not. */
  if (ERR_peek_error()) ERR_clear_error();
  if (c->lingering) {
    linger_run(c);
    return;
  }
  for (;;) {
    if (!c->failed && !api_conn_flush(c) && !c->failed)
      return; /* the socket is full: its writable edge brings the connection back */
    if (c->failed || (c->last && !c->busy)) break; /* the last request's reply is all sent */
    step s = c->shaking ? shake(c) : serve(c);
    if (s == STEP_GONE) return;
    if (s == STEP_ON) continue;
    if (c->failed || (c->eof && api_conn_pending(c) == 0)) break;
    /* While its request is with the controller a connection is read only
     * to see the client leave (a head's worth: the next request waits in
     * the socket); otherwise up to its bound. */
    size_t room = c->busy ? c->w->srv->max_head : c->in.max;
    if (!c->readable || api_conn_buffered(c) >= room) {
      if (api_conn_pending(c)) continue; /* a step queued bytes: send them */
      return;
    }
    api_conn_fill(c);
  }
  if (linger_wanted(c)) linger_begin(c);
  else conn_free(c);
}

static void on_io(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  api_conn *c = arg;
  if (what & EV_CLOSED) c->hup = true;
  if (what & (EV_READ | EV_CLOSED)) c->readable = true;
  lisec_log_hold();
  conn_run(c);
  lisec_log_release();
}

/* The socket joins the worker's loop: edge-triggered, so its interest
 * never changes while the connection lives. */
static int conn_watch(api_conn *c) {
  c->ev = event_new(c->w->base, c->fd, EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET, on_io, c);
  return c->ev && event_add(c->ev, NULL) == 0 ? 0 : -1;
}

/* A new connection counts on its worker and gets its handshake deadline.
 * Over the worker's cap, the oldest connection still in its handshake, or
 * lingering, is closed to make room (one that has sent no ClientHello, then
 * one lingering, which has its answer, then one that has sent its
 * ClientHello); when every connection is through its handshake and serving,
 * the new one is refused. False when it was. */
static bool conn_admit(api_worker *w, api_conn *c) {
  api_server *srv = w->srv;
  int n = __atomic_add_fetch(&w->n_conns, 1, __ATOMIC_RELAXED);
  w->backoff_ms = 0;
  api_metrics_conn_open(1);
  if (n > srv->conn_cap) {
    api_conn *victim = w->silent.head    ? w->silent.head
                       : w->lingering.head ? w->lingering.head
                                           : w->greeted.head;
    if (!victim) {
      conn_close(c, API_CONN_REFUSED_AT_CAP);
      return false;
    }
    conn_close(victim, API_CONN_EVICTED);
  }
  list_append(c, &w->silent);
  struct timeval tv = {srv->handshake_ms / 1000, (srv->handshake_ms % 1000) * 1000};
  evtimer_add(c->deadline, &tv);
  listener_update(w);
  return true;
}

/* The worker's listener: each new connection is counted and its handshake
 * begins. */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
  (void)lev;
  api_worker *w = arg;
  api_server *srv = w->srv;
  pthread_mutex_lock(&srv->ssl_lock);
  SSL *ssl = SSL_new(srv->ssl);
  pthread_mutex_unlock(&srv->ssl_lock);
  api_conn *c = ssl ? calloc(1, sizeof *c) : NULL;
  if (!c || salen <= 0 || (size_t)salen > sizeof c->peer) {
    ERR_clear_error();
    free(c);
    SSL_free(ssl);
    close(fd);
    return;
  }
  c->w = w;
  c->home = w;
  c->fd = -1;
  memcpy(&c->peer, sa, (size_t)salen);
  c->shaking = true;
  c->deadline = evtimer_new(w->base, conn_deadline_cb, c);
  if (api_conn_init(c, fd, ssl, srv->in_max) != 0 || !c->deadline) {
    if (c->deadline) event_free(c->deadline);
    api_conn_release(c);
    free(c);
    return;
  }
  SSL_set_accept_state(ssl);
  SSL_set_ex_data(ssl, conn_index, c);
  if (!conn_admit(w, c)) return;
  if (conn_watch(c) != 0) conn_free(c);
}

static void hand_over(api_conn *c);

/* Counts the connection for its client certificate: false when that one
 * holds [server] max_client_connections already (c->over_client: its first
 * request gets the refusal), or the count cannot be taken (c->failed). */
static bool client_admit(api_conn *c) {
  api_server *srv = c->w->srv;
  uint8_t id[API_CLIENT_ID_LEN];
  unsigned len = 0;
  const X509 *cert = SSL_get0_peer_certificate(c->ssl);
  int rc = cert && X509_digest(cert, EVP_sha256(), id, &len) == 1 && len == sizeof id
               ? api_clients_take(srv->clients, id, &c->client)
               : -1;
  ERR_clear_error(); /* the thread's queue stays empty (conn.h) */
  if (rc < 0) {
    c->failed = true;
    return false;
  }
  if (rc == 0) return true;
  c->over_client = true;
  api_metrics_conn(API_CONN_CLIENT_CAP);
  char addr[INET6_ADDRSTRLEN];
  peer_addr(c, addr);
  LOG_LIMITED(LISEC_LOG_WARN, 3, 10000,
              "client %s (certificate SHA-256 %02x%02x%02x%02x...) refused: it holds [server] "
              "max_client_connections = %d connections already",
              addr, id[0], id[1], id[2], id[3], api_clients_limit(srv->clients));
  return false;
}

/* Through the handshake: a host's connection goes to a bulk worker, any
 * other stays here, with the idle bound from now on. One over its
 * client's limit stays here, under its handshake's deadline and evicted
 * at the cap as one still in its handshake, until its refusal is sent. */
static step shake_done(api_conn *c) {
  api_worker *w = c->w;
  api_server *srv = w->srv;
  c->shaking = false;
  if (!client_admit(c)) {
    if (c->failed) return STEP_WAIT;
    list_append(c, &w->greeted);
    struct timeval tv = {srv->handshake_ms / 1000, (srv->handshake_ms % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
    return STEP_ON;
  }
  event_free(c->deadline);
  c->deadline = NULL;
  lisec_err err = {0};
  const api_principal *who = srv->n_bulk ? ssl_principal(srv, c->ssl, &err) : NULL;
  if (who && who->role_bit == API_ROLE_HOST) {
    hand_over(c);
    return STEP_GONE;
  }
  list_append(c, &w->live);
  conn_touch(c);
  return STEP_ON;
}

static step shake(api_conn *c) {
  size_t queued = api_conn_pending(c);
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) return shake_done(c);
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  if (e != SSL_ERROR_WANT_READ) {
    /* refused (info_cb counted and logged it) or broken: the alert goes
     * out if it can, then the connection closes */
    api_conn_flush(c);
    c->failed = true;
    return STEP_WAIT;
  }
  return api_conn_pending(c) != queued ? STEP_ON : STEP_WAIT;
}

/* ---- bulk workers ----------------------------------------------------------
 * A host's connection carries its reports: TLS records and HTTP of ~14 KB
 * bodies and their JSON, which a front worker handles at its own CPU
 * priority. So that reports yield to decisions in the front as they do in
 * the controller (api/backend.c, "bulk threads"), the worker that shook
 * hands learns the client's role from its certificate and hands a host's
 * connection (socket, TLS session, what it read already) to a bulk worker
 * ([server] bulk_workers, at [server] bulk_nice), whose own event loop and
 * channel to the controller serve it from then on; every other connection
 * stays on the worker that accepted it. The role is the certificate's,
 * checked again on every request as before. A bulk worker runs at a nice
 * value, never SCHED_IDLE: reports progress however busy decisions are. */
static void hand_over(api_conn *c) {
  api_worker *w = c->w;
  api_server *srv = w->srv;
  unsigned k = __atomic_fetch_add(&srv->next_bulk, 1, __ATOMIC_RELAXED) % (unsigned)srv->n_bulk;
  api_worker *to = &srv->workers[srv->n_workers - srv->n_bulk + (int)k];
  list_unlink(c);
  event_free(c->ev); /* leaves this loop; joins the other's */
  c->ev = NULL;
  /* It still counts here (c->home): a bulk worker has no cap of its own,
   * and connections it serves must not leave room for more (a host's
   * certificate held any number open, past [server] max_connections and
   * the descriptors lisecd reserved for them). */
  c->w = to;
  pthread_mutex_lock(&to->adopt_mu);
  list_append(c, &to->adopt);
  pthread_mutex_unlock(&to->adopt_mu);
  event_active(to->adopt_ev, EV_READ, 0);
}

/* A bulk worker: the connections the others handed over. */
static void on_adopt(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->adopt_mu);
    api_conn *c = w->adopt.head;
    if (c) list_unlink(c);
    pthread_mutex_unlock(&w->adopt_mu);
    if (!c) return;
    list_append(c, &w->live);
    conn_touch(c);
    /* what it sent with its handshake is read at once; the rest by edge */
    c->readable = true;
    if (w->stopping || conn_watch(c) != 0) conn_free(c);
    else conn_run(c);
  }
}

/* ---- requests --------------------------------------------------------------*/

/* src into dst[cap], cut to fit, terminated (a request's strings, bounded
 * already; snprintf's formatting cost for a copy is not needed). */
static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void wipe_free(char *p, size_t n) {
  if (p) explicit_bzero(p, n);
  free(p);
}

/* The request's id (docs/operations.md, "Logs"): the one X-Request-Id the
 * client sent when it is 1-64 of A-Z a-z 0-9 - _ . :, otherwise a fresh
 * one; the reply carries it back. */
static void request_id_take(const http1_request *req, char out[LISEC_REQUEST_ID_MAX]) {
  if (req && req->n_request_id == 1 && req->request_id.n < LISEC_REQUEST_ID_MAX &&
      lisec_request_id_valid(req->request_id.p, req->request_id.n)) {
    memcpy(out, req->request_id.p, req->request_id.n);
    out[req->request_id.n] = '\0';
  } else {
    lisec_request_id_new(out);
  }
}

/* Every answered request: counted, one access line (the route's pattern,
 * never its path), and a 503 said as an event of its own. The line of an
 * LI route's request or of li-admin's withholds the route, the method and,
 * but for a 5xx, the status (api_request_withheld). */
static void request_done(int route, int status, uint64_t t0, const char *role, const char *method,
                         const char *rid) {
  uint64_t ns = t0 ? lisec_time_mono_ns() - t0 : 0;
  api_metrics_record(route, status, ns);
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  const api_route *r = route >= 0 && (size_t)route < n ? &routes[route] : NULL;
  bool withheld = api_request_withheld(r, role);
  const char *pattern = withheld ? API_LOG_WITHHELD : r ? r->pattern : "(unmatched)";
  if (withheld) {
    method = "-";
    if (status < 500) status = 0;
  }
  lisec_log_access_rec a = {rid, role && role[0] ? role : "-", method, pattern, status, ns};
  lisec_log_access(&a);
  if (status == 503) {
    lisec_log_context_set(rid, a.role, pattern);
    LOG_LIMITED(LISEC_LOG_WARN, 10, 10000, "answered 503 (unavailable) to %s %s", method, pattern);
    lisec_log_context_clear();
  }
}

/* Queues a reply on c. A connection whose request was its last (or whose
 * framing cannot be trusted any more) closes once the reply is sent. */
static void send_reply(api_conn *c, const api_wire_reply *r, const char *rid, bool head, bool keep_alive_10) {
  api_conn_reply_head h = {.request_id = rid, .csp = c->ssl ? API_UI_CSP : NULL, .head = head,
                           .close = c->last, .keep_alive_10 = keep_alive_10 && !c->last};
  api_conn_reply(c, r, &h);
  conn_touch(c);
}

static void send_response(api_conn *c, api_response *resp, const char *rid, bool head) {
  api_wire_reply r;
  char *owned = NULL;
  if (api_wire_reply_render(resp, &r, &owned) != 0) r = (api_wire_reply){.status = 503};
  send_reply(c, &r, rid, head, false);
  wipe_free(owned, r.body_len);
}

/* A request refused before any route saw it (its framing: 400, 413, 414,
 * 431, 501, 505, 417; its connection over its client's limit: 429; no room
 * for its body: 503, with Retry-After): a JSON error naming the rule, and
 * the connection closes, as the bytes after it cannot be told apart from a
 * request. */
static void refuse_framing(api_conn *c, const http1_request *req, int status, const char *why) {
  static const struct { int status; const char *code; } codes[] = {
      {413, "too_large"}, {414, "too_large"}, {431, "too_large"}, {501, "not_implemented"},
      {505, "not_implemented"}, {417, "invalid"}, {429, "too_many_requests"}, {503, "unavailable"}};
  const char *code = "invalid";
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].status == status) code = codes[i].code;
  api_response resp = {0};
  api_error(&resp, status, code, why);
  if (status == 503) snprintf(resp.retry_after, sizeof resp.retry_after, "1");
  char rid[LISEC_REQUEST_ID_MAX];
  request_id_take(req, rid);
  c->last = true;
  c->unread = true;
  body_release(c);
  send_response(c, &resp, rid, false);
  request_done(-1, status, 0, NULL, req && req->method[0] ? req->method : "-", rid);
  api_response_free(&resp);
  api_conn_consume(c, c->in.len); /* never framed again, whatever closes it */
}

/* ---- the channel to the controller -------------------------------------- */

/* A request sent to the controller, until its reply. conn is the client's
 * connection, NULL once the client left. */
typedef struct inflight {
  api_conn *conn;
  uint64_t t0;
  int route;
  bool keep_alive_10;
  char rid[LISEC_REQUEST_ID_MAX];
  char role[API_ROLE_NAME_MAX];
  char method[API_METHOD_MAX];
  /* GET /metrics: the front appends its own counters to the controller's
   * (0: not metrics, 1: as others see them, 2: the LI administration's view). */
  int metrics;
  /* A /readyz of the probe listener: answered as plain text. */
  bool probe;
  /* HEAD of the compliance view, asked of the controller as GET: its
   * reply goes out without the body */
  bool head;
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
  api_conn *c = f->conn;
  if (c) {
    c->busy = false;
    c->inflight = 0;
    send_reply(c, r, f->rid, f->head, f->keep_alive_10);
  }
  free(joined);
  /* Probes are not API requests: neither counted nor access-logged. */
  if (!f->probe) request_done(f->route, r->status, f->t0, f->role, f->method, f->rid);
  /* 429 comes only from the controller's per-certificate refusal limit. */
  if (r->status == 429 && !f->probe) api_metrics_refusal_limited();
  free(f);
  if (c) conn_run(c);
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

/* A client that leaves while its request is with the controller: the
 * controller is told, so a request waiting for fresh quotes is dropped
 * without a decision; the reply then only counts. */
static void inflight_client_left(api_worker *w, uint32_t id) {
  inflight *f = api_wire_pending_get(&w->inflight, id);
  if (!f) return;
  f->conn = NULL;
  lisec_err err = {0};
  if (!w->chan_lost && api_wire_queue(bufferevent_get_output(w->chan), API_MSG_CANCEL, id, NULL, &err) != 0)
    LOG_WARN("cannot tell the controller a client left: %s", err.msg);
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

/* The controller's replies, each to its request's connection. */
static void on_channel_replies(api_worker *w, struct evbuffer *in, uint32_t max) {
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

static void on_channel_read(struct bufferevent *bev, void *arg) {
  api_worker *w = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  uint32_t max = api_wire_channel_max(w->srv->max_body);
  lisec_log_hold(); /* the replies' access lines, written together */
  on_channel_replies(w, in, max);
  lisec_log_release();
}

static void on_channel_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  api_worker *w = arg;
  channel_lost(w, (what & BEV_EVENT_EOF) ? "the controller closed it" : "a socket error");
}

/* Sends an admitted request to the controller; c waits for the reply. */
static void forward(api_conn *c, const http1_request *req, const api_principal *who, int route,
                    const char *uri, const char *body, size_t body_len, uint64_t t0, const char *rid,
                    int metrics, bool head) {
  api_worker *w = c->w;
  api_response resp = {0};
  if (w->chan_lost) {
    api_error(&resp, 503, "unavailable", "the controller process is gone; lisecd is stopping");
    send_response(c, &resp, rid, head);
    request_done(route, resp.status, t0, who->role, req->method, rid);
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
    *f = (inflight){.conn = c, .t0 = t0, .route = route, .metrics = metrics, .head = head,
                    .keep_alive_10 = req->minor == 0 && req->keep_alive};
    copy_str(f->rid, sizeof f->rid, rid);
    copy_str(f->role, sizeof f->role, who->role);
    copy_str(f->method, sizeof f->method, req->method);
    m->route = (uint32_t)route;
    m->who = *who;
    copy_str(m->method, sizeof m->method, head ? "GET" : req->method);
    copy_str(m->uri, sizeof m->uri, uri);
    copy_str(m->request_id, sizeof m->request_id, rid);
    /* If-Match for the model's compare-and-set writes; one too long to be
     * a version, or not printable, is passed as "!", which the route
     * refuses as malformed */
    bool im_ok = req->has_if_match && req->if_match.n < sizeof m->if_match;
    for (size_t i = 0; im_ok && i < req->if_match.n; i++)
      im_ok = req->if_match.p[i] >= 0x20 && req->if_match.p[i] <= 0x7e;
    if (!req->has_if_match) m->if_match[0] = '\0';
    else if (!im_ok) snprintf(m->if_match, sizeof m->if_match, "!");
    else {
      memcpy(m->if_match, req->if_match.p, req->if_match.n);
      m->if_match[req->if_match.n] = '\0';
    }
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
    c->busy = true;
    c->inflight = id;
    return;
  }
  free(f);
  api_error(&resp, 503, "unavailable", err.msg);
  send_response(c, &resp, rid, head);
  request_done(route, resp.status, t0, who->role, req->method, rid);
  api_response_free(&resp);
}

/* One request of an API connection, its body in hand. HEAD of the
 * compliance view's files (api_ui_head_as_get) is routed and answered as
 * GET, without the body: they hold no data and their reading changes
 * nothing. Any other HEAD is answered as the route table answers it (405
 * naming the methods, 404, 403 without a usable certificate), without a
 * body: no other route takes HEAD, and a GET of the API may record its
 * reading (an audit read, a sealed record) that a HEAD must not make. */
static void dispatch(api_conn *c, const http1_request *req, const char *uri, const char *body,
                     size_t body_len) {
  api_worker *w = c->w;
  uint64_t t0 = lisec_time_mono_ns();
  api_response resp = {0};
  int route = -1;
  lisec_err err = {0};
  char rid[LISEC_REQUEST_ID_MAX];
  request_id_take(req, rid);
  bool head = strcmp(req->method, "HEAD") == 0;
  bool head_get = api_ui_head_as_get(req->method, uri);
  const char *why = NULL;
  const api_principal *who = ssl_principal(w->srv, c->ssl, &err);
  if (!who) {
    /* A verified certificate that carries no usable role. */
    lisec_log_context_set(rid, "-", NULL);
    LOG_LIMITED(LISEC_LOG_WARN, 3, 10000, "TLS: client refused: %s (TR103308-5.3: a role per certificate)",
                err.msg);
    lisec_log_context_clear();
    api_error(&resp, 403, "forbidden", err.msg);
  } else if ((why = api_browser_refusal(req, uri)) != NULL) {
    /* A page in the browser of a certificate's holder (browser.h). */
    lisec_log_context_set(rid, who->role, NULL);
    LOG_LIMITED(LISEC_LOG_WARN, 3, 10000, "refused a browser's request: %s", why);
    lisec_log_context_clear();
    api_error(&resp, 403, "forbidden", why);
  } else {
    api_raw_request raw = {.method = head_get ? "GET" : req->method, .uri = uri, .body = body,
                           .body_len = body_len, .max_body = w->srv->max_body};
    char *admitted = NULL;
    size_t admitted_len = 0;
    size_t n_routes = 0;
    const api_route *routes = api_route_table(&n_routes);
    if (api_admit_routes(routes, n_routes, who, &raw, &resp, &route, &admitted, &admitted_len)) {
      if (head && !head_get) {
        wipe_free(admitted, admitted_len);
        api_error(&resp, 405, "method_not_allowed", "this path does not take that method");
      } else {
        const api_route *r = &routes[route];
        int metrics = 0;
        if (api_route_is_front(r) && (r->roles & who->role_bit))
          metrics = who->role_bit == API_ROLE_LI_ADMIN ? 2 : 1;
        forward(c, req, who, route, uri, admitted, admitted_len, t0, rid, metrics, head_get);
        wipe_free(admitted, admitted_len);
        return;
      }
    } else {
      wipe_free(admitted, admitted_len);
    }
  }
  send_response(c, &resp, rid, head);
  request_done(route, resp.status, t0, who ? who->role : NULL, req->method, rid);
  api_response_free(&resp);
}

static void dispatch_probe(api_conn *c, const http1_request *req, const char *uri);

/* The next request of a connection: decrypted, framed (head, then its body
 * by Content-Length or in chunks), answered or sent on. STEP_ON when one
 * was, STEP_WAIT when its bytes are not all here (or one is at the
 * controller already). */
static step serve(api_conn *c) {
  if (c->busy || c->w->stopped) return STEP_WAIT;
  if (!api_conn_decrypt(c) && c->failed) return STEP_WAIT;
  if (c->in.len == 0) return STEP_WAIT;
  char *in = (char *)c->in.data;
  size_t max_head = c->ssl ? c->w->srv->max_head : PROBE_HEADERS_MAX;
  uint64_t max_body = c->ssl ? c->w->srv->max_body : 0;
  http1_request req;
  int status = 0;
  const char *why = NULL;
  http1_result fr = http1_parse_head(in, c->in.len, max_head, &req, &status, &why);
  if (c->over_client && fr != HTTP1_MORE) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "this client certificate holds [server] max_client_connections = %d connections already; "
             "use one of them or close one",
             api_clients_limit(c->w->srv->clients));
    refuse_framing(c, fr == HTTP1_OK ? &req : NULL, 429, msg);
    return STEP_ON;
  }
  if (fr == HTTP1_BAD) {
    refuse_framing(c, NULL, status, why);
    return STEP_ON;
  }
  if (fr == HTTP1_MORE) return STEP_WAIT;
  char *body = in + req.head_len;
  size_t have = c->in.len - req.head_len, body_len = 0, used = req.head_len;
  if (req.chunked) {
    /* From where the last call stopped: scanning the whole body again at
     * every record made a body of many small chunks, trickled, cost the
     * worker time quadratic in its size. */
    http1_chunked *st = &c->chunked;
    fr = http1_chunked_scan(st, body, have, max_body, max_head, &status, &why);
    if (fr == HTTP1_BAD) {
      refuse_framing(c, &req, status, why);
      return STEP_ON;
    }
    if (fr == HTTP1_OK) {
      body_len = http1_chunked_decode(body, st->wire_len);
      used += st->wire_len;
    }
  } else if (req.has_length) {
    if (req.content_length > max_body) {
      refuse_framing(c, &req, 413, c->ssl ? "request body over the limit ([api] max_body)"
                                           : "the probe listener takes no request body");
      return STEP_ON;
    }
    fr = have >= req.content_length ? HTTP1_OK : HTTP1_MORE;
    body_len = (size_t)req.content_length;
    used += body_len;
  }
  if (fr == HTTP1_MORE) {
    if (c->in.len >= c->in.max) { /* only chunks can get here: sizes lines take the room */
      refuse_framing(c, &req, 413, "a chunked body whose chunk-size lines take it over the limit ([api] max_body)");
      return STEP_ON;
    }
    if (c->ssl && !body_hold(c, req.chunked ? have : (size_t)req.content_length)) {
      char msg[200];
      snprintf(msg, sizeof msg,
               "the front holds [server] max_body_memory = %zu bytes of request bodies not yet received; "
               "send this one again shortly",
               c->w->srv->body_mem_max);
      refuse_framing(c, &req, 503, msg);
      return STEP_ON;
    }
    if (req.expect_continue && !c->continued) {
      static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
      c->continued = true;
      api_conn_write(c, go_on, sizeof go_on - 1);
      return STEP_ON;
    }
    return STEP_WAIT;
  }
  body_release(c); /* all here */
  char uri[API_URI_MAX + 1];
  size_t un = req.target.n < sizeof uri ? req.target.n : sizeof uri - 1;
  memcpy(uri, req.target.p, un);
  uri[un] = '\0';
  c->continued = false;
  c->chunked = (http1_chunked){0};
  c->last = !req.keep_alive || c->w->stopping;
  if (c->ssl) dispatch(c, &req, uri, body_len ? body : NULL, body_len);
  else dispatch_probe(c, &req, uri);
  api_conn_consume(c, used);
  return STEP_ON;
}

/* ---- the probe listener ([probe] listen) ----------------------------------
 * Plain HTTP for load balancers and orchestrators, on its own address (the
 * loopback unless configured otherwise), on worker 0's loop: GET /healthz
 * is this process being alive with its controller (200, or 503 once the
 * controller is gone); GET /readyz asks the controller whether it can serve
 * (ctl_ready: store, tokens, checkpoint signer) and says what is not ready.
 * Anything else is 404 or 405, requests are small (headers bounded, no
 * body), at most [probe] max_connections are open (the least recently
 * active goes first), and idle ones close after [probe] idle_timeout_s.
 * It reveals nothing about the model, LI or the API. */
static void probe_text(api_conn *c, int status, const char *allow, const char *text) {
  api_wire_reply r = {.status = status, .body = (const uint8_t *)text, .body_len = strlen(text)};
  snprintf(r.content_type, sizeof r.content_type, "text/plain");
  if (allow) snprintf(r.allow, sizeof r.allow, "%s", allow);
  send_reply(c, &r, NULL, false, false);
}

static void dispatch_probe(api_conn *c, const http1_request *req, const char *uri) {
  api_worker *w = c->w;
  bool health = strcmp(uri, "/healthz") == 0, ready = strcmp(uri, "/readyz") == 0;
  if (!health && !ready)
    return probe_text(c, 404, NULL, "not found: this listener answers GET /healthz and GET /readyz only\n");
  if (strcmp(req->method, "GET") != 0) return probe_text(c, 405, "GET", "method not allowed: GET only\n");
  if (w->chan_lost || w->stopping)
    return probe_text(c, 503, NULL, "not ready: the controller process is gone or lisecd is stopping\n");
  if (health) return probe_text(c, 200, NULL, "ok\n");
  inflight *f = calloc(1, sizeof *f);
  uint32_t id = 0;
  lisec_err err = {0};
  int rc = f ? 0 : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  if (rc == 0) {
    *f = (inflight){.conn = c, .probe = true};
    rc = api_wire_pending_add(&w->inflight, f, &id, &err);
  }
  if (rc == 0) {
    rc = api_wire_queue(bufferevent_get_output(w->chan), API_MSG_READY, id, NULL, &err);
    if (rc) api_wire_pending_take(&w->inflight, id, NULL);
  }
  if (rc == 0) {
    c->busy = true;
    c->inflight = id;
    return;
  }
  free(f);
  probe_text(c, 503, NULL, "not ready: the controller cannot be asked\n");
}

static void on_probe_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                            void *arg) {
  (void)lev, (void)sa, (void)salen;
  api_worker *w = arg;
  if (w->probes.n >= w->srv->probe_conns) conn_free(w->probes.head); /* the least recently active */
  api_conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  c->w = w;
  c->fd = -1;
  if (api_conn_init(c, fd, NULL, PROBE_HEADERS_MAX + 1) != 0) {
    api_conn_release(c);
    free(c);
    return;
  }
  list_append(c, &w->probes);
  conn_touch(c);
  if (conn_watch(c) != 0) conn_free(c);
}

/* ---- idle connections ------------------------------------------------------
 * Once a second each worker closes the connections that completed no
 * request (and, on the probe listener, sent no byte's worth of one) within
 * their bound; one whose request is with the controller waits for it. The
 * lists are in the order of last activity, so the sweep stops at the first
 * connection still within its bound. */
static void sweep_list(conn_list *l, uint64_t bound_ms, uint64_t now) {
  api_conn *c = l->head;
  while (c && c->active_ms + bound_ms <= now) {
    api_conn *next = c->next;
    if (!c->busy) conn_free(c);
    c = next;
  }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  uint64_t now = now_ms();
  sweep_list(&w->live, w->srv->idle_ms, now);
  sweep_list(&w->probes, w->srv->probe_idle_ms, now);
}

/* ---- accepting, stopping, the workers -------------------------------------*/

/* An accept() that fails for want of descriptors or memory would fail again
 * at once: pause accepting for a back-off that doubles up to 1 s while the
 * failures last, and log them at a bounded rate. */
static void accept_error_cb(struct evconnlistener *lev, void *arg) {
  api_worker *w = arg;
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
  if (w->listener) evconnlistener_free(w->listener);
  w->listener = NULL;
  if (w->probe_listener) evconnlistener_free(w->probe_listener);
  w->probe_listener = NULL;
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
  /* named from its own thread (prctl); a bulk worker lowers its own
   * priority (Linux: per thread; needs no privilege) */
  pthread_setname_np(pthread_self(), w->bulk ? "lisec-fbulk" : "lisec-front");
  errno = 0;
  if (w->bulk && w->srv->bulk_nice > 0 && setpriority(PRIO_PROCESS, 0, w->srv->bulk_nice) != 0)
    LOG_WARN("a bulk front worker cannot lower its CPU priority to nice %d ([server] bulk_nice): %s; hosts' "
             "connections are served at the decisions' priority", w->srv->bulk_nice, strerror(errno));
  lisec_err err = {0};
  if (!w->bulk && w->srv->request_slice_us && lisec_thread_slice(w->srv->request_slice_us, &err) != 0)
    LOG_WARN("a request front worker cannot ask for a %u us slice ([server] request_slice_us): %s",
             w->srv->request_slice_us, err.msg);
  event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
  /* A request that came in the last moment still gets an answer; the
   * requests pipelined behind it are not begun. */
  w->stopped = true;
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

/* A worker's loop. With epoll's change list, interest changed twice within
 * one pass of the loop costs one epoll_ctl, or none. The change list's one
 * caveat, descriptors dup()ed while registered, does not arise here: every
 * socket is the loop's alone. */
static struct event_base *loop_new(void) {
  struct event_config *cfg = event_config_new();
  if (!cfg) return NULL;
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  event_config_require_features(cfg, EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE);
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
  w->chan = w->base && evutil_make_socket_nonblocking(chan_fd) == 0
                ? bufferevent_socket_new(w->base, chan_fd, BEV_OPT_CLOSE_ON_FREE)
                : NULL;
  if (!w->chan) close(chan_fd);
  w->drain_ev = w->base ? evtimer_new(w->base, on_drain_bound, w) : NULL;
  w->stop_ev = w->base ? event_new(w->base, -1, 0, on_stop, w) : NULL;
  w->backoff_ev = w->base ? evtimer_new(w->base, backoff_done, w) : NULL;
  w->sweep_ev = w->base ? event_new(w->base, -1, EV_PERSIST, on_sweep, w) : NULL;
  struct timeval second = {1, 0};
  if (!w->chan || !w->drain_ev || !w->stop_ev || !w->backoff_ev || !w->sweep_ev ||
      event_add(w->sweep_ev, &second) != 0)
    return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  /* every lingering connection's bound is the same: one queue of timers */
  struct timeval linger = {srv->linger_ms / 1000, (srv->linger_ms % 1000) * 1000};
  if (srv->linger_ms > 0 && !(w->linger_tv = event_base_init_common_timeout(w->base, &linger)))
    return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  bufferevent_setcb(w->chan, on_channel_read, NULL, on_channel_event, w);
  bufferevent_enable(w->chan, EV_READ);
  if (bulk) {
    w->adopt_ev = event_new(w->base, -1, 0, on_adopt, w);
    return w->adopt_ev ? 0 : lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  }
  w->wake_ev = event_new(w->base, -1, 0, on_wake, w);
  if (!w->wake_ev) return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  /* Each worker has its own descriptor of the shared listening socket. */
  int fd = dup(srv->fd);
  w->listener = fd >= 0 ? evconnlistener_new(w->base, on_accept, w, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                             0, fd)
                        : NULL;
  if (fd >= 0 && !w->listener) close(fd);
  if (!w->listener) return lisec_err_set(err, LISEC_EIO, "cannot accept connections");
  evconnlistener_set_error_cb(w->listener, accept_error_cb);
  return 0;
}

static int probe_init(api_worker *w, int probe_fd, lisec_err *err) {
  int fd = dup(probe_fd);
  w->probe_listener = fd >= 0 ? evconnlistener_new(w->base, on_probe_accept, w,
                                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)
                              : NULL;
  if (fd >= 0 && !w->probe_listener) close(fd);
  return w->probe_listener ? 0 : lisec_err_set(err, LISEC_EIO, "[probe] listen: cannot accept connections");
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static void process_init(void) {
  evthread_use_pthreads();
  principal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, principal_free);
  handshake_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
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

/* [server] max_client_connections for a cap of cap connections: 0 is a
 * quarter of it (at least 1), so no one client takes it all; more than the
 * cap is refused, as it would limit nothing. */
static int fit_client_limit(const api_server_config *cfg, int cap, int *limit, lisec_err *err) {
  if (cfg->max_client_connections < 0 || cfg->max_client_connections > cap)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[server] max_client_connections = %d: expected 0 (a quarter of the cap) or 1-%d, "
                         "the connection cap ([server] max_connections)",
                         cfg->max_client_connections, cap);
  *limit = cfg->max_client_connections ? cfg->max_client_connections : (cap / 4 > 0 ? cap / 4 : 1);
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
  int client_limit = 0;
  if (rc == 0) rc = fit_client_limit(cfg, cap, &client_limit, err);
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
    srv->max_head = cfg->max_header_bytes ? cfg->max_header_bytes : 8192;
    srv->body_mem_max = cfg->max_body_memory ? cfg->max_body_memory : BODY_MEMORY_DEFAULT;
    srv->idle_ms = 1000u * (uint64_t)(cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : 60);
    srv->linger_ms = cfg->linger_ms > 0 ? cfg->linger_ms : 0;
    srv->linger_bytes = cfg->linger_bytes ? cfg->linger_bytes : LINGER_BYTES_DEFAULT;
    /* a head and its body, and what one read may bring of the next
     * request; a chunked body whose chunk-size lines take it past this is
     * refused as too large (real clients send chunks of kilobytes) */
    srv->in_max = srv->max_head + cfg->max_body + 64 * 1024;
    srv->fd = -1;
    srv->probe_fd = -1;
    srv->probe_conns = cfg->probe_max_connections > 0 ? cfg->probe_max_connections : 64;
    srv->probe_idle_ms = 1000u * (uint64_t)(cfg->probe_idle_timeout_s > 0 ? cfg->probe_idle_timeout_s : 5);
    srv->n_workers = n_workers;
    srv->n_bulk = n_bulk;
    srv->bulk_nice = cfg->bulk_nice;
    srv->request_slice_us = cfg->request_slice_us;
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
    int client_limit = 0;
    if (rc == 0) rc = fit_client_limit(cfg, cap, &client_limit, err);
    if (rc == 0 && !(srv->clients = api_clients_new(client_limit, cap)))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
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

static void free_all(conn_list *l) {
  while (l->head) conn_free(l->head);
}

void api_server_wait_and_free(api_server *srv) {
  if (!srv) return;
  for (int i = 0; srv->workers && i < srv->n_workers; i++)
    if (srv->workers[i].started) pthread_join(srv->workers[i].thread, NULL);
  /* Every worker's connections close before any worker's events are freed:
   * a bulk worker's connection wakes the worker that accepted it. */
  for (int i = 0; srv->workers && i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    /* NULLed: conn_free below calls listener_update */
    if (w->listener) evconnlistener_free(w->listener);
    w->listener = NULL;
    if (w->probe_listener) evconnlistener_free(w->probe_listener);
    w->probe_listener = NULL;
  }
  for (int i = 0; srv->workers && i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    /* Connections close here (and tell the channel their clients left). */
    free_all(&w->silent);
    free_all(&w->greeted);
    free_all(&w->live);
    free_all(&w->lingering);
    free_all(&w->probes);
    while (w->adopt.head) { /* handed over and not taken */
      api_conn *c = w->adopt.head;
      list_unlink(c);
      conn_free(c);
    }
  }
  for (int i = 0; srv->workers && i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    if (w->stop_ev) event_free(w->stop_ev);
    if (w->backoff_ev) event_free(w->backoff_ev);
    if (w->sweep_ev) event_free(w->sweep_ev);
    if (w->drain_ev) event_free(w->drain_ev);
    if (w->adopt_ev) event_free(w->adopt_ev);
    if (w->wake_ev) event_free(w->wake_ev);
    if (w->chan) bufferevent_free(w->chan);
    api_wire_pending_free(&w->inflight);
    if (w->base) event_base_free(w->base);
    pthread_mutex_destroy(&w->adopt_mu);
  }
  if (srv->fd >= 0) close(srv->fd);
  if (srv->probe_fd >= 0) close(srv->probe_fd);
  SSL_CTX_free(srv->ssl);
  pthread_mutex_destroy(&srv->ssl_lock);
  api_clients_free(srv->clients);
  free(srv->workers);
  free(srv);
}
