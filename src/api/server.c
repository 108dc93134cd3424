/* The HTTPS server: libevent's evhttp over OpenSSL bufferevents, TLS 1.2 at
 * least (1.3 preferred), client certificates required and verified against
 * the configured CA. N worker threads share one listening socket, each with
 * its own event loop and its own controller context (store connection).
 * Clients that never finish a handshake must not starve the others: each
 * worker holds at most its share of [server] max_connections (at the cap the
 * oldest connection still in its handshake is closed, or the new one), a
 * handshake has a deadline, and an accept() that fails (no descriptors
 * left) pauses accepting for a back-off instead of spinning. */
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
#include "ctl/attest.h"

#define MAX_HEADERS 8192
#define IDLE_TIMEOUT_S 60
/* Descriptors lisecd needs besides client connections (store, token, event
 * loops, logs, X1 and attestation clients), and more per worker. */
#define FD_RESERVE 64
#define FD_RESERVE_PER_WORKER 8
#define AUTO_MAX_CONNECTIONS 4096
#define ACCEPT_BACKOFF_MIN_MS 50
#define ACCEPT_BACKOFF_MAX_MS 1000

typedef struct api_conn api_conn;
typedef struct conn_list {
  api_conn *head, *tail; /* oldest first */
} conn_list;

typedef struct api_worker {
  struct api_server *srv;
  pthread_t thread;
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
  lisec_ctl *ctl;
  bool started;
  struct parked *parked; /* requests waiting for fresh attestations */
  bool stopping;         /* on_stop ran: nothing is parked any more */
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
};

struct api_server {
  lisec_ctl *ctl;
  SSL_CTX *ssl;
  api_role_source role_source;
  size_t max_body;
  evutil_socket_t fd;
  int n_workers;
  int conn_cap;     /* per worker */
  int handshake_ms; /* [server] handshake_timeout_ms */
  api_worker *workers;
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
  event_del(c->deadline);
  if (!c->closing) c->w->n_closing++;
  c->closing = true;
  evutil_socket_t fd = bufferevent_getfd(c->bev);
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
  event_free(c->deadline);
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
  (void)ctx;
  if (!ok) api_metrics_cert_rejected();
  return ok;
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
    event_del(c->deadline);
  } else if (c && c->list == &c->w->silent && SSL_get_state(ssl) != TLS_ST_BEFORE) {
    pending_append(c, &c->w->greeted); /* its ClientHello is read */
  }
  if (SSL_get_ex_data(ssl, handshake_index)) return;
  bool done = where & SSL_CB_HANDSHAKE_DONE;
  bool failed = (where & SSL_CB_WRITE_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !SSL_is_init_finished(ssl);
  if (!done && !failed) return;
  SSL_set_ex_data((SSL *)ssl, handshake_index, &counted);
  api_metrics_handshake(done);
}

static int tls_setup(api_server *srv, const api_server_config *cfg, lisec_err *err) {
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  srv->ssl = c;
  if (!c) return lisec_err_set(err, LISEC_ECRYPTO, "cannot create TLS context");
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  /* No resumption: every connection presents and proves its certificate. */
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  /* TLS 1.2 only with forward secrecy and AEAD; 1.3 suites are all AEAD. */
  if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1 ||
      SSL_CTX_set_ciphersuites(c, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
                                  "TLS_AES_128_GCM_SHA256") != 1 ||
      SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot set the TLS cipher suites and groups");
  SSL_CTX_set_info_callback(c, info_cb);
  if (SSL_CTX_use_certificate_chain_file(c, cfg->cert) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot load server certificate %s", cfg->cert);
  if (SSL_CTX_use_PrivateKey_file(c, cfg->key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot load server key %s (or it does not match)",
                         cfg->key);
  if (SSL_CTX_load_verify_locations(c, cfg->client_ca, NULL) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot load client CA %s", cfg->client_ca);
  STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca);
  if (names) SSL_CTX_set_client_CA_list(c, names);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
  SSL_CTX_set_verify_depth(c, 4);
  ERR_clear_error();
  return 0;
}

/* evhttp calls this for every accepted connection, before it gives the
 * bufferevent its socket: the connection is counted here and gets its
 * handshake deadline. Over the worker's cap, the oldest connection still in
 * its handshake is closed to make room (one that has sent no ClientHello
 * before one that has); when every connection is through
 * its handshake, the new one is closed instead (a zero deadline, as its
 * socket is not set yet). */
static struct bufferevent *tls_bevcb(struct event_base *base, void *arg) {
  api_worker *w = arg;
  api_server *srv = w->srv;
  SSL *ssl = SSL_new(srv->ssl);
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
  *c = (api_conn){.w = w, .bev = bev, .deadline = deadline};
  SSL_set_ex_data(ssl, conn_index, c);
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
  return bev;
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
static const api_principal *request_principal(api_server *srv, struct evhttp_request *req,
                                              lisec_err *err) {
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
  SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
  if (!ssl) {
    lisec_err_set(err, LISEC_EAUTH, "no TLS session");
    return NULL;
  }
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

/* evhttp queues a reply's headers and body as separate buffer chains, which
 * the TLS layer would send as separate records and writes, waking the client
 * twice. The write happens in a deferred callback, so joining the chains
 * right after queueing makes one record and one write per reply. */
static void send_response(struct evhttp_request *req, api_response *resp) {
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  struct evbuffer *out = evhttp_request_get_output_buffer(req);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
  if (resp->allow[0]) evhttp_add_header(h, "Allow", resp->allow);
  if (resp->retry_after[0]) evhttp_add_header(h, "Retry-After", resp->retry_after);
  if (resp->body) {
    char *s = json_dumps(resp->body, JSON_COMPACT);
    evhttp_add_header(h, "Content-Type", "application/json");
    if (s) evbuffer_add(out, s, strlen(s)), evbuffer_add(out, "\n", 1);
    free(s);
  } else if (resp->text) {
    evhttp_add_header(h, "Content-Type", resp->content_type ? resp->content_type : "text/plain");
    evbuffer_add(out, resp->text, strlen(resp->text));
  }
  evhttp_send_reply(req, resp->status, NULL, NULL);
  if (bev) evbuffer_pullup(bufferevent_get_output(bev), -1);
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
  if (n_length > 1) {
    api_error(&resp, 400, "invalid", "more than one Content-Length header (RFC 9112 6.3)");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
  } else {
    lisec_err err = {0};
    const api_principal *who = request_principal(w->srv, req, &err);
    api_raw_request raw = {.method = "HEAD", .uri = evhttp_request_get_uri(req), .max_body = w->srv->max_body};
    if (who) api_dispatch(w->ctl, who, &raw, &resp, &route);
    else api_error(&resp, 403, "forbidden", err.msg);
    json_decref(resp.body);
    free(resp.text);
    resp.body = NULL;
    resp.text = NULL;
  }
  send_response(req, &resp);
  api_metrics_record(route, resp.status, 0);
  api_response_free(&resp);
  return true;
}

/* One dispatch of a request, with the request's wait for fresh quotes. */
static void dispatch(api_worker *w, struct evhttp_request *req, const api_principal *who,
                     ctl_attest_wait *wait, api_response *resp, int *route) {
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  api_raw_request raw = {.method = method_name(evhttp_request_get_command(req)),
                         .uri = evhttp_request_get_uri(req),
                         .body_len = len,
                         .max_body = w->srv->max_body};
  /* Pull the body into one block only when it is within bounds. */
  raw.body = len && len <= raw.max_body ? (const char *)evbuffer_pullup(in, (ssize_t)len) : NULL;
  w->ctl->wait = wait;
  api_dispatch(w->ctl, who, &raw, resp, route);
  w->ctl->wait = NULL;
}

/* A request whose use case waits for fresh attestations (ctl/attest.h)
 * is parked on its worker's loop instead of holding it: it is dispatched
 * again, in final mode, when every host it waits for has a new appraisal
 * (the appraising thread activates wake) or when the bound passes. The
 * principal is copied: the connection (and its TLS session) may go first. */
typedef struct parked {
  api_worker *w;
  struct evhttp_request *req;
  api_principal who;
  ctl_attest_wait *wait;
  struct event *wake, *bound;
  uint64_t t0;
  struct parked *prev, *next;
} parked;

/* Parked requests are decided at a lower priority than the loop's I/O, one
 * per loop turn: a burst of answered waits (every decision that waited for
 * one host's quote) never holds a probe or an agent's request behind it. */
#define PRIO_PARKED 2 /* of 3; I/O has libevent's default, 1 */
static struct event_base *parking_base(void) {
  struct event_config *cfg = event_config_new();
  struct event_base *base = NULL;
  if (cfg && event_config_set_max_dispatch_interval(cfg, NULL, 1, PRIO_PARKED) == 0)
    base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base && event_base_priority_init(base, 3) != 0) {
    event_base_free(base);
    base = NULL;
  }
  return base;
}

static void parked_wake(void *arg) {
  parked *p = arg;
  event_active(p->wake, EV_READ, 0);
}

/* Unlinks p and stops everything that could still call it back. */
static void parked_release(parked *p) {
  api_worker *w = p->w;
  if (p->prev) p->prev->next = p->next;
  else w->parked = p->next;
  if (p->next) p->next->prev = p->prev;
  ctl_attest_wait_disarm(p->wait);
  event_free(p->wake);
  event_free(p->bound);
}

static void on_parked(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  parked *p = arg;
  api_worker *w = p->w;
  api_response resp = {0};
  int route = -1;
  parked_release(p);
  if (!evhttp_request_get_connection(p->req)) {
    /* The client went away: nothing is decided or recorded; replying to a
     * request without a connection frees it. */
    api_error(&resp, 503, "unavailable", "the client closed the connection");
    send_response(p->req, &resp);
  } else {
    ctl_attest_wait_finalise(p->wait);
    dispatch(w, p->req, &p->who, p->wait, &resp, &route);
    if (resp.pending) api_error(&resp, 500, "internal", "a final dispatch asked to wait again");
    send_response(p->req, &resp);
    api_metrics_record(route, resp.status, lisec_time_mono_ns() - p->t0);
  }
  api_response_free(&resp);
  ctl_attest_wait_free(p->wait);
  free(p);
}

/* 0 when the request is parked (it owns wait then). */
static int park(api_worker *w, struct evhttp_request *req, const api_principal *who,
                ctl_attest_wait *wait, uint64_t t0) {
  if (w->stopping) return -1;
  parked *p = calloc(1, sizeof *p);
  if (!p) return -1;
  *p = (parked){.w = w, .req = req, .who = *who, .wait = wait, .t0 = t0};
  p->wake = event_new(w->base, -1, 0, on_parked, p);
  p->bound = evtimer_new(w->base, on_parked, p);
  if (p->wake) event_priority_set(p->wake, PRIO_PARKED);
  if (p->bound) event_priority_set(p->bound, PRIO_PARKED);
  int64_t ms = ctl_attest_wait_bound_ms(w->ctl);
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  if (!p->wake || !p->bound || evtimer_add(p->bound, &tv) != 0) {
    if (p->wake) event_free(p->wake);
    if (p->bound) event_free(p->bound);
    free(p);
    return -1;
  }
  p->next = w->parked;
  if (w->parked) w->parked->prev = p;
  w->parked = p;
  ctl_attest_wait_arm(w->ctl, wait, parked_wake, p);
  return 0;
}

static void on_request(struct evhttp_request *req, void *arg) {
  api_worker *w = arg;
  if (answer_before_dispatch(w, req)) return;
  uint64_t t0 = lisec_time_mono_ns();
  api_response resp = {0};
  int route = -1;
  lisec_err err = {0};
  const api_principal *who = request_principal(w->srv, req, &err);
  ctl_attest_wait *wait = NULL;
  if (!who) {
    api_error(&resp, 403, "forbidden", err.msg);
  } else if (!(wait = ctl_attest_wait_new())) {
    api_error(&resp, 503, "unavailable", "out of memory");
  } else {
    dispatch(w, req, who, wait, &resp, &route);
    if (resp.pending && park(w, req, who, wait, t0) == 0) return;
    if (resp.pending) { /* cannot park (stopping, or no memory): decide now */
      ctl_attest_wait_finalise(wait);
      api_response_free(&resp);
      dispatch(w, req, who, wait, &resp, &route);
      if (resp.pending) api_error(&resp, 500, "internal", "a final dispatch asked to wait again");
    }
  }
  ctl_attest_wait_free(wait);
  send_response(req, &resp);
  api_metrics_record(route, resp.status, lisec_time_mono_ns() - t0);
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
  send_response(req, &resp);
  api_metrics_record(-1, 413, 0);
  api_response_free(&resp);
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  api_worker *w = arg;
  /* Requests waiting for fresh quotes are answered now (no decision is
   * made or recorded); later ones decide at once. */
  w->stopping = true;
  while (w->parked) {
    parked *p = w->parked;
    parked_release(p);
    api_response resp = {0};
    api_error(&resp, 503, "unavailable", "lisecd is stopping; ask again");
    send_response(p->req, &resp);
    api_response_free(&resp);
    ctl_attest_wait_free(p->wait);
    free(p);
  }
  w->listener = NULL; /* freed with the bound socket */
  if (w->bound) evhttp_del_accept_socket(w->http, w->bound);
  w->bound = NULL;
  /* Every request is answered now (none is half-done: a use case never
   * waits on the loop); give replies already queued a moment to leave, then
   * end the loop. */
  struct timeval grace = {1, 0};
  event_base_loopexit(w->base, &grace);
}

static void *worker_main(void *arg) {
  api_worker *w = arg;
  this_worker = w;
  event_base_dispatch(w->base);
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

static int worker_init(api_worker *w, api_server *srv, lisec_err *err) {
  w->srv = srv;
  int rc = ctl_open_worker(srv->ctl, &w->ctl, err);
  if (rc) return rc;
  w->base = parking_base();
  w->http = w->base ? evhttp_new(w->base) : NULL;
  if (!w->http) return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  evhttp_set_bevcb(w->http, tls_bevcb, w);
  evhttp_set_gencb(w->http, on_request, w);
  evhttp_set_max_body_size(w->http, (ev_ssize_t)srv->max_body);
  evhttp_set_max_headers_size(w->http, MAX_HEADERS);
  evhttp_set_timeout(w->http, IDLE_TIMEOUT_S);
  /* Every method reaches the dispatcher, which answers 405 in JSON. */
  evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                          EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  /* evhttp closes the socket it accepts on when it lets go of it: give each
   * worker its own descriptor of the shared listening socket. */
  evutil_socket_t fd = dup(srv->fd);
  w->bound = fd >= 0 ? evhttp_accept_socket_with_handle(w->http, fd) : NULL;
  if (fd >= 0 && !w->bound) close(fd);
  w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
  w->backoff_ev = evtimer_new(w->base, backoff_done, w);
  if (!w->bound || !w->stop_ev || !w->backoff_ev)
    return lisec_err_set(err, LISEC_EIO, "cannot accept connections");
  w->listener = evhttp_bound_socket_get_listener(w->bound);
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
  int workers = cfg->workers > 0 ? cfg->workers : 1;
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
  if (rc == 0) rc = fit_connection_cap(cfg, false, &cap, err);
  if (rc == 0) rc = tls_setup(&probe, cfg, err);
  SSL_CTX_free(probe.ssl);
  return rc;
}

int api_server_start(const api_server_config *cfg, lisec_ctl *ctl, api_server **out,
                     lisec_err *err) {
  pthread_once(&process_once, process_init);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  int rc = api_routes_check(routes, n_routes, err);
  if (rc) return rc;
  api_server *srv = calloc(1, sizeof *srv);
  if (!srv) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  srv->ctl = ctl;
  srv->role_source = cfg->role_source;
  srv->max_body = cfg->max_body;
  srv->fd = -1;
  srv->n_workers = cfg->workers > 0 ? cfg->workers : 1;
  srv->handshake_ms = cfg->handshake_timeout_ms > 0 ? cfg->handshake_timeout_ms : 5000;
  srv->workers = calloc((size_t)srv->n_workers, sizeof *srv->workers);
  int cap = 0;
  rc = srv->workers ? fit_connection_cap(cfg, true, &cap, err)
                    : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  /* Each worker accepts on its own: it holds its share of the cap. */
  srv->conn_cap = cap / srv->n_workers > 0 ? cap / srv->n_workers : 1;
  api_ratelimit_configure(cfg->refusal_rate, cfg->refusal_burst, cfg->refusal_clients);
  if (rc == 0) rc = tls_setup(srv, cfg, err);
  if (rc == 0) rc = listen_socket(cfg->listen, &srv->fd, err);
  for (int i = 0; rc == 0 && i < srv->n_workers; i++) rc = worker_init(&srv->workers[i], srv, err);
  for (int i = 0; rc == 0 && i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
      rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start worker thread");
    else
      w->started = true;
  }
  if (rc) {
    api_server_stop(srv);
    api_server_wait_and_free(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

void api_server_stop(api_server *srv) {
  for (int i = 0; i < srv->n_workers; i++)
    if (srv->workers[i].stop_ev) event_active(srv->workers[i].stop_ev, 0, 0);
}

void api_server_wait_and_free(api_server *srv) {
  if (!srv) return;
  for (int i = 0; i < srv->n_workers; i++) {
    api_worker *w = &srv->workers[i];
    if (w->started) pthread_join(w->thread, NULL);
    w->listener = NULL;
    if (w->stop_ev) event_free(w->stop_ev);
    if (w->http) evhttp_free(w->http);
    if (w->backoff_ev) event_free(w->backoff_ev);
    if (w->base) event_base_free(w->base);
    ctl_close(w->ctl);
  }
  if (srv->fd >= 0) close(srv->fd);
  SSL_CTX_free(srv->ssl);
  free(srv->workers);
  free(srv);
}
