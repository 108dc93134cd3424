/* The HTTPS server: libevent's evhttp over OpenSSL bufferevents, TLS 1.2 at
 * least (1.3 preferred), client certificates required and verified against
 * the configured CA. N worker threads share one listening socket, each with
 * its own event loop and its own controller context (store connection). */
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
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"

#define MAX_HEADERS 8192
#define IDLE_TIMEOUT_S 60

typedef struct api_worker {
  struct api_server *srv;
  pthread_t thread;
  struct event_base *base;
  struct evhttp *http;
  struct evhttp_bound_socket *bound;
  struct event *stop_ev;
  lisec_ctl *ctl;
  bool started;
} api_worker;

struct api_server {
  lisec_ctl *ctl;
  SSL_CTX *ssl;
  api_role_source role_source;
  size_t max_body;
  evutil_socket_t fd;
  int n_workers;
  api_worker *workers;
};

static int principal_index = -1;
static int handshake_index = -1; /* set once a connection's handshake is counted */

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

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg) {
  api_server *srv = arg;
  SSL *ssl = SSL_new(srv->ssl);
  return ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                              BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
             : NULL;
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

static void on_request(struct evhttp_request *req, void *arg) {
  api_worker *w = arg;
  uint64_t t0 = lisec_time_mono_ns();
  api_response resp = {0};
  int route = -1;
  lisec_err err = {0};
  const api_principal *who = request_principal(w->srv, req, &err);
  if (!who) {
    api_error(&resp, 403, "forbidden", err.msg);
  } else {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    api_raw_request raw = {.method = method_name(evhttp_request_get_command(req)),
                           .uri = evhttp_request_get_uri(req),
                           .body_len = len,
                           .max_body = w->srv->max_body};
    /* Pull the body into one block only when it is within bounds. */
    raw.body = len && len <= raw.max_body ? (const char *)evbuffer_pullup(in, (ssize_t)len) : NULL;
    api_dispatch(w->ctl, who, &raw, &resp, &route);
  }
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
  if (w->bound) evhttp_del_accept_socket(w->http, w->bound);
  w->bound = NULL;
  /* Requests are answered synchronously, so none is half-done here; give
   * replies already queued a moment to leave, then end the loop. */
  struct timeval grace = {1, 0};
  event_base_loopexit(w->base, &grace);
}

static void *worker_main(void *arg) {
  api_worker *w = arg;
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
  w->base = event_base_new();
  w->http = w->base ? evhttp_new(w->base) : NULL;
  if (!w->http) return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  evhttp_set_bevcb(w->http, tls_bevcb, srv);
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
  if (!w->bound || !w->stop_ev) return lisec_err_set(err, LISEC_EIO, "cannot accept connections");
  return 0;
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static void process_init(void) {
  evthread_use_pthreads();
  principal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, principal_free);
  handshake_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int api_server_check(const api_server_config *cfg, lisec_err *err) {
  pthread_once(&process_once, process_init);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  api_server probe = {0};
  int rc = api_routes_check(routes, n_routes, err);
  if (rc == 0) rc = parse_listen(cfg->listen, &ss, &sl, err);
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
  srv->workers = calloc((size_t)srv->n_workers, sizeof *srv->workers);
  rc = srv->workers ? tls_setup(srv, cfg, err) : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
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
    if (w->stop_ev) event_free(w->stop_ev);
    if (w->http) evhttp_free(w->http);
    if (w->base) event_base_free(w->base);
    ctl_close(w->ctl);
  }
  if (srv->fd >= 0) close(srv->fd);
  SSL_CTX_free(srv->ssl);
  free(srv->workers);
  free(srv);
}
