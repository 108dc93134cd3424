/* lisec-ne, a reference X1 network element: it accepts X1 requests over
 * HTTPS with mutual TLS from the one ADMF it obeys, keeps the tasks it is
 * given, and logs each change (XIDs only, never targets), so the whole path
 * from lisecd to a POI can be exercised. With --state it keeps its tasks in a
 * file (0600, rewritten atomically after every change, loaded at start), so a
 * restarted NE still carries them. It answers as ETSI TS 103 221-1 says (the
 * library in include/lisec/x1.h): the X1 versions it accepts and whether it
 * insists on created destinations are options. With --events-server it is
 * also an LI VM that reports its LI events to lisecd (issue 20 item 3,
 * include/lisec/events.h): its start and stop, each activation,
 * deactivation and change received over X1 (the XID or DID only), and each
 * X1 request it refused, signed by its own key (a PEM file, or with
 * --events-tpm a key in the VM's TPM, --events-tcti), numbered from its state
 * file and sent by a thread of their own, so no X1 answer ever waits for
 * lisecd; events lisecd did not take are kept (at most 256) and sent again
 * with the next X1 request. With --events-spool FILE they are kept on disk
 * instead (written durably when they happen, before anything else is
 * done with them; docs/events.md "The spool"), sent first at start, with
 * each X1 request and every --events-retry seconds while some are left,
 * and removed once lisecd took them: a restart or a long outage of lisecd
 * loses none. A connection that has not sent its request
 * within --timeout seconds (TLS handshake included), or its next within
 * as many of its last answer, is closed, however it trickles in, so idle
 * connections cannot use up the NE's descriptors for long; an accept() that
 * fails meanwhile pauses accepting rather than spin. With --admf-role the
 * ADMF's certificate must also carry that lisec role (read as lisecd and
 * lisec-entropyd read roles, crypto/cert_role.c): a certificate of the same
 * CA with the ADMF's name but another role (a host's, a tenant's) is
 * refused with 403 before its request is read as X1. At most
 * --max-connections connections are open that have not shown themselves
 * the ADMF's; one past that is closed at once, so peers cannot take every
 * descriptor, and a connection of the ADMF's (its certificate has made a
 * request) counts apart, so peers holding the rest leave it answered.
 * Exit: 0 on SIGTERM, 2 on error. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "crypto/cert_role.h"
#include "lisec/events.h"
#include "lisec/x1.h"

#define EVENTS_QUEUE_MAX 256
#define EVENTS_BATCH_MAX 16 /* events per request: lisecd's default [events] max_batch */
#define TIMEOUT_S_DEFAULT 30 /* --timeout */
#define TIMEOUT_S_MAX 3600
#define HEADER_BYTES_DEFAULT 8192 /* --max-header-bytes */
#define HEADER_BYTES_MIN 1024
#define HEADER_BYTES_MAX 65536
#define RETRY_S_DEFAULT 30 /* --events-retry */
#define RETRY_S_MAX 3600
#define ACCEPT_PAUSE_MS 100 /* after an accept() that failed */
#define CONNS_DEFAULT 64      /* --max-connections */
#define CONNS_MAX 100000

/* The NE's own events to lisecd (--events-*), made when they happen and
 * queued until lisecd took them; they are signed when sent, each batch by
 * one signature over its events' digests (docs/events.md "A signed
 * batch"). The sender thread alone signs and sends (the key and the
 * client are its own once it runs): a lisecd that is slow or silent holds
 * up that thread, never the X1 loop. The queue is shared under lock.
 * With a spool (--events-spool) the queue is the spool's file, and the
 * sender tries again every retry_s seconds while it holds events. */
typedef struct ne_events {
  lisec_event_key *key;
  lisec_event_client *client;
  lisec_event_spool *spool; /* NULL: the queue in memory */
  int64_t retry_s;
  bool left;                /* the spool held events after the last send */
  const char *vm, *state;
  char *queue[EVENTS_QUEUE_MAX];
  size_t n;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool kicked, closing;
  pthread_t sender;
} ne_events;

typedef struct ne_server {
  SSL_CTX *ssl;
  lisec_x1_ne *ne;
  const char *state; /* --state file, or NULL */
  ne_events *events; /* NULL: no events reported */
  const char *admf_role; /* --admf-role, or NULL: the certificate's name alone is checked */
  struct timeval deadline; /* --timeout: a connection's deadline (below) */
  const char *admf_id;     /* --admf-id: the CN whose connections are the ADMF's */
  /* --max-connections: connections open that no request has yet shown to be
   * the ADMF's (any peer can open them), and those it has; the event loop's
   * thread alone counts (conn_*) */
  int64_t max_conns, n_unproven, n_proven;
} ne_server;

/* --admf-role: the one role the ADMF's certificate may carry. The role
 * reader's callback takes no context; there is one per process. */
static const char *admf_role_wanted;
static bool is_admf_role(const char *name) { return admf_role_wanted && strcmp(name, admf_role_wanted) == 0; }

/* A role as `lisec pki issue` writes one: 1 to 79 of a-z 0-9 - _ : . */
static bool role_name_ok(const char *r) {
  size_t n = strlen(r);
  if (n == 0 || n >= CRYPTO_ROLE_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || strchr("-_:.", r[i]))) return false;
  return true;
}

/* Whether the ADMF's verified certificate carries the role --admf-role
 * names (in its SAN URI urn:lisec:role:, an OU naming a lisec role agreeing),
 * as lisecd reads a client's role; why says why not. Without --admf-role,
 * true: only the certificate's name is checked (lisec_x1_ne_handle). */
static bool admf_role_ok(const ne_server *s, X509 *peer, char *why, size_t cap) {
  if (!s->admf_role) return true;
  char role[CRYPTO_ROLE_NAME_MAX];
  lisec_err err = {0};
  if (crypto_cert_role(peer, CRYPTO_ROLE_FROM_SAN_URI, is_admf_role, crypto_role_lisec_name, "the ADMF", role,
                       &err) == 0)
    return true;
  snprintf(why, cap, "%s", err.msg);
  return false;
}

/* Makes the NE's next event and queues it; the oldest is dropped (a gap
 * lisecd will see) when lisecd has not taken 256. */
static void event_note(ne_events *ev, const char *type, const char *detail, const char *detail2) {
  if (!ev) return;
  char err[LISEC_EVENT_ERR_MAX], *made = NULL;
  unsigned long long seq = 0;
  const char *details[] = {detail, detail2, NULL};
  if (ev->spool) {
    /* durable before anything else; a full spool refuses it (its seq a gap) */
    if (lisec_event_spool_note(ev->spool, ev->state, ev->vm, 0, type, details, &seq, err))
      LOG_ERROR("events: the %s event is not queued: %s", type, err);
    return;
  }
  if (lisec_event_seq_next(ev->state, &seq, err) || lisec_event_make(ev->vm, seq, 0, type, details, &made, err)) {
    LOG_ERROR("events: cannot make the %s event: %s", type, err);
    return;
  }
  pthread_mutex_lock(&ev->lock);
  if (ev->n == EVENTS_QUEUE_MAX) {
    LOG_WARN("events: lisecd has not taken %d events; the oldest is dropped", EVENTS_QUEUE_MAX);
    free(ev->queue[0]);
    memmove(ev->queue, ev->queue + 1, (EVENTS_QUEUE_MAX - 1) * sizeof ev->queue[0]);
    ev->n--;
  }
  ev->queue[ev->n++] = made;
  pthread_mutex_unlock(&ev->lock);
}

/* Asks the sender thread to send what is queued (after each X1 request). */
static void events_kick(ne_events *ev) {
  if (!ev) return;
  pthread_mutex_lock(&ev->lock);
  ev->kicked = true;
  pthread_cond_signal(&ev->wake);
  pthread_mutex_unlock(&ev->lock);
}

/* Sends what is queued, as signed batches of at most EVENTS_BATCH_MAX
 * (lisecd's [events] max_batch must be at least that; 16 by default),
 * until lisecd does not take one. The sender thread only: the lock is
 * held while the queue is read or changed, never while lisecd is asked
 * (events noted meanwhile queue behind the batch; the batch stays first,
 * since only this thread removes events and event_note drops the oldest
 * only when the queue is full). */
static void events_flush(ne_events *ev) {
  if (ev->spool) {
    char err[LISEC_EVENT_ERR_MAX];
    size_t sent = 0;
    long status = 0;
    int rc = lisec_event_spool_flush_state(ev->spool, ev->state, ev->key, ev->client, EVENTS_BATCH_MAX, &sent, &status,
                                           err);
    if (rc) LOG_WARN("events: kept in the spool, not taken yet (sent again in %lld s): %s", (long long)ev->retry_s, err);
    pthread_mutex_lock(&ev->lock);
    ev->left = rc != 0;
    pthread_mutex_unlock(&ev->lock);
    return;
  }
  for (;;) {
    char *batch[EVENTS_BATCH_MAX];
    pthread_mutex_lock(&ev->lock);
    size_t k = ev->n < EVENTS_BATCH_MAX ? ev->n : EVENTS_BATCH_MAX;
    for (size_t i = 0; i < k; i++) batch[i] = strdup(ev->queue[i]);
    pthread_mutex_unlock(&ev->lock);
    if (k == 0) return;
    char err[LISEC_EVENT_ERR_MAX], *body = NULL;
    long status = 0;
    bool copied = true, sent = false;
    for (size_t i = 0; i < k; i++) copied = copied && batch[i];
    if (!copied || lisec_event_sign_batch(ev->key, (const char *const *)batch, k, &body, err) != 0) {
      LOG_ERROR("events: cannot sign %zu event(s): %s", k, copied ? err : "out of memory");
    } else if (lisec_event_send_body(ev->client, body, &status, err) != 0) {
      LOG_WARN("events: %zu event(s) not taken yet: %s", k, err);
      /* a refusal (4xx) will not change by sending again: drop them */
      sent = status >= 400 && status < 500;
    } else {
      sent = true;
    }
    free(body);
    pthread_mutex_lock(&ev->lock);
    /* the queue's first events, unless event_note dropped some of them
     * for being full meanwhile: remove those of the batch still there */
    for (size_t i = 0; sent && i < k && ev->n; i++) {
      if (strcmp(ev->queue[0], batch[i]) != 0) continue;
      free(ev->queue[0]);
      memmove(ev->queue, ev->queue + 1, (ev->n - 1) * sizeof ev->queue[0]);
      ev->n--;
    }
    pthread_mutex_unlock(&ev->lock);
    for (size_t i = 0; i < k; i++) free(batch[i]);
    if (!sent) return;
  }
}

/* The sender thread: sends when kicked, and once more when closing; with
 * a spool that still holds events, also every retry_s seconds. */
static void *events_sender(void *arg) {
  ne_events *ev = arg;
  pthread_mutex_lock(&ev->lock);
  for (;;) {
    while (!ev->kicked && !ev->closing) {
      if (!ev->left) {
        pthread_cond_wait(&ev->wake, &ev->lock);
        continue;
      }
      /* by the monotonic clock (the condition's, set in main): a wall
       * clock stepped back would stretch the wait by the step */
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += ev->retry_s;
      if (pthread_cond_timedwait(&ev->wake, &ev->lock, &until) == ETIMEDOUT) break;
    }
    bool last = ev->closing;
    ev->kicked = false;
    pthread_mutex_unlock(&ev->lock);
    events_flush(ev);
    pthread_mutex_lock(&ev->lock);
    if (last) break;
  }
  pthread_mutex_unlock(&ev->lock);
  return NULL;
}

/* What the spool reports besides its answers (a torn or corrupted record
 * set aside, events lisecd had taken already, one it refused for good). */
static void spool_report(void *ctx, const char *msg) {
  (void)ctx;
  LOG_WARN("events: spool: %s", msg);
}

/* Writes the task table to the state file (temp file, fsync, rename). */
static int save_state(ne_server *s) {
  if (!s->state) return 0;
  char *doc = NULL;
  size_t len = 0;
  lisec_err err = {0};
  if (lisec_x1_ne_save(s->ne, &doc, &len) != 0) return -1;
  int rc = lisec_file_write_atomic(s->state, doc, len, 0600, &err);
  explicit_bzero(doc, len);
  free(doc);
  if (rc) LOG_ERROR("cannot keep the tasks in %s: %s", s->state, err.msg);
  return rc;
}

static int load_state(ne_server *s) {
  if (!s->state || access(s->state, F_OK) != 0) return 0;
  uint8_t *data = NULL;
  size_t len = 0;
  lisec_err err = {0};
  int rc = lisec_file_read(s->state, 64u << 20, &data, &len, &err);
  if (rc == 0) rc = lisec_x1_ne_load(s->ne, (const char *)data, len);
  if (data) explicit_bzero(data, len);
  free(data);
  if (rc) fprintf(stderr, "lisec-ne: %s: cannot load the tasks: %s\n", s->state, err.msg[0] ? err.msg : "malformed or another NE's");
  return rc;
}

/* --timeout bounds the whole of a request, not each pause in it: libevent's
 * timeouts (evhttp_set_timeout) start again with every byte read, so a peer
 * sending a byte a little more often than that (any peer, in its TLS
 * handshake) would hold its descriptor for good. Each connection has a
 * deadline, set when it is accepted (for its handshake and first request)
 * and again as each request is answered (for the answer, the pause and the
 * next request); when it passes, the socket is shut down and libevent closes
 * the connection as it does when a peer leaves. The timer is the
 * connection's SSL's (ex_data) and is freed with it, which libevent does
 * when the connection closes, just after closing the socket. */
static int deadline_index = -1;

static void deadline_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  if (ptr) event_free(ptr);
}

static void deadline_passed(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  int sock = SSL_get_fd(arg);
  if (sock >= 0) shutdown(sock, SHUT_RDWR);
}

static void deadline_set(SSL *ssl, const struct timeval *tv) {
  struct event *deadline = ssl ? SSL_get_ex_data(ssl, deadline_index) : NULL;
  if (deadline) evtimer_add(deadline, tv);
}

/* --max-connections: each connection counted is its SSL's (ex_data, a
 * conn_count), uncounted when libevent frees the SSL as it closes the
 * connection. Until one of its requests comes with the ADMF's certificate
 * it is unproven: any peer can open those, and past the cap one is closed
 * at once (its deadline now, before its TLS handshake). Then it is the
 * ADMF's and counts apart (at most as many again), so peers holding every
 * unproven place leave the ADMF's open connection answered (lisecd keeps
 * its connection open between requests). */
typedef struct conn_count {
  ne_server *s;
  bool proven;
} conn_count;

static int conn_index = -1;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  conn_count *c = ptr;
  if (!c) return;
  if (c->proven) c->s->n_proven--;
  else c->s->n_unproven--;
  free(c);
}

/* Counts the new connection, or says it is past the cap. */
static bool conn_admit(ne_server *s, SSL *ssl) {
  if (!ssl) return false;
  if (s->n_unproven >= s->max_conns) {
    LOG_LIMITED(LISEC_LOG_WARN, 3, 10000,
                "TR103308-5.2: %lld connections are open that have not shown the ADMF's certificate "
                "(--max-connections); one more is closed at once",
                (long long)s->n_unproven);
    return false;
  }
  conn_count *c = calloc(1, sizeof *c);
  if (!c) return false;
  c->s = s;
  if (SSL_set_ex_data(ssl, conn_index, c) != 1) {
    free(c);
    return false;
  }
  s->n_unproven++;
  return true;
}

/* A request came with the ADMF's certificate: its connection counts apart. */
static void conn_proven(ne_server *s, SSL *ssl) {
  conn_count *c = ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
  if (!c || c->proven || s->n_proven >= s->max_conns) return;
  c->proven = true;
  s->n_unproven--;
  s->n_proven++;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg) {
  ne_server *s = arg;
  SSL *ssl = SSL_new(s->ssl);
  struct event *deadline = ssl ? evtimer_new(base, deadline_passed, ssl) : NULL;
  if (deadline && SSL_set_ex_data(ssl, deadline_index, deadline) != 1) event_free(deadline);
  static const struct timeval now = {0, 0};
  /* past the cap: shut as soon as libevent has given it its socket */
  deadline_set(ssl, conn_admit(s, ssl) ? &s->deadline : &now);
  struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                           BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (!bev) SSL_free(ssl); /* and its deadline */
  return bev;
}

static void on_change(void *ctx, const char *change, const char *id) {
  ne_server *s = ctx;
  LOG_INFO("%s %s", change, id[0] ? id : "(all tasks)");
  save_state(s);
  if (s->events) {
    /* the task's XID (or the destination's DID, the object's id), never a target */
    bool task = strcmp(change, "activate") == 0 || strcmp(change, "modify") == 0 ||
                strncmp(change, "deactivate", 10) == 0;
    char what[160], how[96];
    snprintf(what, sizeof what, "%s=%.128s", task ? "xid" : "id", id[0] ? id : "all");
    snprintf(how, sizeof how, "change=%.80s", change);
    const char *type = strcmp(change, "activate") == 0 ? "activation"
                       : strncmp(change, "deactivate", 10) == 0 ? "deactivation"
                                                                : "target-change";
    event_note(s->events, type, what, how);
  }
}

static void on_request(struct evhttp_request *req, void *arg) {
  ne_server *s = arg;
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  deadline_set(ssl, &s->deadline); /* for this answer and the next request */
  char cn[128] = "";
  X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
  /* one whole CN, as lisecd and lisec-entropyd read it (crypto_cert_cn): a
   * name holding a NUL ("admf-1\0.example", read as a C string the ADMF's)
   * or a second CN names no one here, and is refused as another ADMF */
  lisec_err cn_err = {0};
  if (crypto_cert_cn(peer, cn, sizeof cn, &cn_err) != 0) cn[0] = '\0';
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    evhttp_send_error(req, 405, "X1 takes POST");
    return;
  }
  char why[LISEC_ERR_MSG_MAX];
  bool admf_cert = peer && strcmp(cn, s->admf_id) == 0;
  if (!admf_role_ok(s, peer, why, sizeof why)) {
    /* the certificate's own words (its role) only in the log, which holds
     * a line to printable characters; the reply's status line is ours */
    LOG_WARN("X1 request refused: TR103308-5.2: the ADMF's certificate must carry role %s (--admf-role): %s",
             s->admf_role, why);
    char reason[160];
    snprintf(reason, sizeof reason, "TR103308-5.2: the ADMF's certificate must carry role %s (--admf-role)",
             s->admf_role);
    evhttp_send_error(req, 403, reason);
    if (s->events) event_note(s->events, "error", "x1=request refused", "peer=the ADMF or a client");
    events_kick(s->events);
    return;
  }
  if (admf_cert) conn_proven(s, ssl);
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  char *resp = NULL;
  size_t rlen = 0;
  if (lisec_x1_ne_handle(s->ne, cn, (const char *)evbuffer_pullup(in, (ssize_t)len), len, &resp, &rlen) != 0) {
    evhttp_send_error(req, 500, "no X1 response could be made");
    return;
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/xml");
  evbuffer_add(evhttp_request_get_output_buffer(req), resp, rlen);
  bool refused = s->events && (strstr(resp, "ErrorResponse") || strstr(resp, "X1TopLevelErrorResponse"));
  free(resp);
  evhttp_send_reply(req, 200, NULL, NULL);
  evbuffer_pullup(bufferevent_get_output(bev), -1); /* one TLS record per reply */
  if (refused) event_note(s->events, "error", "x1=request refused", "peer=the ADMF or a client");
  events_kick(s->events); /* sent by the sender thread: X1 never waits for lisecd */
}

/* An accept() that fails for want of descriptors (peers, any peer, hold
 * them all until their deadline) leaves the listening socket readable:
 * libevent would try again at once and log each failure, as fast as it
 * can. Accepting pauses for ACCEPT_PAUSE_MS instead, and the failures are
 * logged at a bounded rate. The listener's argument is libevent's (evhttp):
 * the timer that resumes it is the process's one. */
static struct event *accept_resume_ev;

static void accept_failed(struct evconnlistener *listener, void *arg) {
  (void)arg;
  int e = EVUTIL_SOCKET_ERROR();
  LOG_LIMITED(LISEC_LOG_WARN, 3, 10000,
              "TR103308-5.2: no descriptor left for another connection (accept: %s); accepting pauses %d ms at "
              "a time until peers' connections end (--timeout)",
              evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS);
  evconnlistener_disable(listener);
  struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
  evtimer_add(accept_resume_ev, &tv);
}

static void accept_resume(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  evconnlistener_enable(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what;
  event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv) {
  const char *listen_at = "127.0.0.1:8444", *cert = NULL, *key = NULL, *ca = NULL, *ne_id = NULL,
             *admf_id = NULL, *state = NULL, *versions = NULL, *ev_server = NULL, *ev_ca = NULL,
             *ev_cert = NULL, *ev_tls_key = NULL, *ev_key = NULL, *ev_vm = NULL, *ev_state = NULL,
             *ev_tcti = NULL, *timeout = NULL, *header_bytes = NULL, *ev_spool = NULL, *ev_spool_events = NULL,
             *ev_spool_bytes = NULL, *ev_retry = NULL, *admf_role = NULL, *max_conns = NULL;
  int strict = 0, help = 0, ev_tpm = 0;
  int64_t timeout_s = TIMEOUT_S_DEFAULT, max_header_bytes = HEADER_BYTES_DEFAULT, retry_s = RETRY_S_DEFAULT,
          spool_events = 0, spool_bytes = 0, conns = CONNS_DEFAULT;
  static const struct option opts[] = {{"listen", 1, NULL, 'l'}, {"cert", 1, NULL, 'c'},
                                       {"key", 1, NULL, 'k'},    {"ca", 1, NULL, 'a'},
                                       {"ne-id", 1, NULL, 'n'},  {"admf-id", 1, NULL, 'd'},
                                       {"state", 1, NULL, 's'},  {"x1-versions", 1, NULL, 'v'},
                                       {"strict-destinations", 0, NULL, 'S'}, {"help", 0, NULL, 'h'},
                                       {"events-server", 1, NULL, 'E'}, {"events-ca", 1, NULL, 'A'},
                                       {"events-cert", 1, NULL, 'C'},   {"events-tls-key", 1, NULL, 'T'},
                                       {"events-key", 1, NULL, 'K'},    {"events-vm", 1, NULL, 'M'},
                                       {"events-state", 1, NULL, 'Q'},
                                       {"events-tpm", 0, NULL, 'P'},    {"events-tcti", 1, NULL, 'I'},
                                       {"events-spool", 1, NULL, 'O'},  {"events-spool-max-events", 1, NULL, 'N'},
                                       {"events-spool-max-bytes", 1, NULL, 'B'}, {"events-retry", 1, NULL, 'R'},
                                       {"timeout", 1, NULL, 't'},       {"max-header-bytes", 1, NULL, 'H'},
                                       {"admf-role", 1, NULL, 'r'},     {"max-connections", 1, NULL, 'm'},
                                       {"version", 0, NULL, 'V'},             {0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
      case 'l': listen_at = optarg; break;
      case 'c': cert = optarg; break;
      case 'k': key = optarg; break;
      case 'a': ca = optarg; break;
      case 'n': ne_id = optarg; break;
      case 'd': admf_id = optarg; break;
      case 's': state = optarg; break;
      case 'v': versions = optarg; break;
      case 'S': strict = 1; break;
      case 'E': ev_server = optarg; break;
      case 'A': ev_ca = optarg; break;
      case 'C': ev_cert = optarg; break;
      case 'T': ev_tls_key = optarg; break;
      case 'K': ev_key = optarg; break;
      case 'M': ev_vm = optarg; break;
      case 'Q': ev_state = optarg; break;
      case 'P': ev_tpm = 1; break;
      case 'I': ev_tcti = optarg; break;
      case 'O': ev_spool = optarg; break;
      case 'N': ev_spool_events = optarg; break;
      case 'B': ev_spool_bytes = optarg; break;
      case 'R': ev_retry = optarg; break;
      case 't': timeout = optarg; break;
      case 'H': header_bytes = optarg; break;
      case 'r': admf_role = optarg; break;
      case 'm': max_conns = optarg; break;
      case 'h': help = 1; goto usage;
      case 'V': return printf("lisec-ne %s\n", LISEC_VERSION), 0;
      default: goto usage;
    }
  }
  bool ev_any = ev_server || ev_ca || ev_cert || ev_tls_key || ev_key || ev_vm || ev_state || ev_tpm || ev_tcti ||
                ev_spool || ev_spool_events || ev_spool_bytes || ev_retry;
  bool ev_all = ev_server && ev_ca && ev_cert && ev_tls_key && ev_key && ev_vm && ev_state;
  if (timeout && !lisec_decimal(timeout, strlen(timeout), 1, TIMEOUT_S_MAX, &timeout_s)) {
    fprintf(stderr, "lisec-ne: --timeout %s: seconds, 1 to %d\n", timeout, TIMEOUT_S_MAX);
    return 2;
  }
  if (max_conns && !lisec_decimal(max_conns, strlen(max_conns), 1, CONNS_MAX, &conns)) {
    fprintf(stderr, "lisec-ne: --max-connections %s: connections, 1 to %d\n", max_conns, CONNS_MAX);
    return 2;
  }
  if (ev_retry && !lisec_decimal(ev_retry, strlen(ev_retry), 1, RETRY_S_MAX, &retry_s)) {
    fprintf(stderr, "lisec-ne: --events-retry %s: seconds, 1 to %d\n", ev_retry, RETRY_S_MAX);
    return 2;
  }
  if ((ev_spool_events && !lisec_decimal(ev_spool_events, strlen(ev_spool_events), 1, 1000000, &spool_events)) ||
      (ev_spool_bytes && !lisec_decimal(ev_spool_bytes, strlen(ev_spool_bytes), 16384, 256 << 20, &spool_bytes))) {
    fprintf(stderr, "lisec-ne: --events-spool-max-events: 1 to 1000000; --events-spool-max-bytes: 16384 to %d\n",
            256 << 20);
    return 2;
  }
  if (header_bytes &&
      !lisec_decimal(header_bytes, strlen(header_bytes), HEADER_BYTES_MIN, HEADER_BYTES_MAX, &max_header_bytes)) {
    fprintf(stderr, "lisec-ne: --max-header-bytes %s: bytes, %d to %d\n", header_bytes, HEADER_BYTES_MIN,
            HEADER_BYTES_MAX);
    return 2;
  }
  if (admf_role && !role_name_ok(admf_role)) {
    fprintf(stderr, "lisec-ne: --admf-role %s: a lisec role, 1 to %d of a-z 0-9 - _ : .\n", admf_role,
            CRYPTO_ROLE_NAME_MAX - 1);
    return 2;
  }
  if (!cert || !key || !ca || !ne_id || !admf_id || optind != argc || ev_any != ev_all || (ev_tcti && !ev_tpm) ||
      ((ev_spool_events || ev_spool_bytes || ev_retry) && !ev_spool)) {
  usage:
    fprintf(help ? stdout : stderr, "usage: lisec-ne --listen ADDR:PORT --cert F --key F --ca F --ne-id ID --admf-id CN\n"
                    "                [--admf-role ROLE] [--state FILE] [--x1-versions MIN:MAX]\n"
                    "                [--strict-destinations] [--timeout S]\n"
                    "                [--max-header-bytes N] [--max-connections N]\n"
                    "                [--events-server URL --events-ca F --events-cert F --events-tls-key F\n"
                    "                 --events-key F --events-vm ID --events-state FILE\n"
                    "                 [--events-tpm [--events-tcti SPEC]]\n"
                    "                 [--events-spool FILE [--events-spool-max-events N]\n"
                    "                  [--events-spool-max-bytes B] [--events-retry S]]]\n"
                    "  --events-*: report this NE's LI events to lisecd, signed by --events-key\n"
                    "  (lisec-event keygen), numbered in --events-state, over mutual TLS (role vm);\n"
                    "  with --events-tpm the key is in the VM's TPM (lisec-event keygen --tpm),\n"
                    "  reached through the tpm2-tss TCTI SPEC (default device:/dev/tpmrm0);\n"
                    "  --events-spool keeps them in FILE (0600) until lisecd took them (at most N\n"
                    "  events, default 4096, and B bytes, default 4 MiB; a full spool refuses new\n"
                    "  ones), sent at start, with each X1 request and every S seconds while some\n"
                    "  are left (default 30)\n"
                    "  accepts X1 (ETSI TS 103 221-1) over mutual TLS from the ADMF whose\n"
                    "  certificate CN is --admf-id and that signs with --ca (with --admf-role,\n"
                    "  whose certificate also carries that lisec role, SAN URI\n"
                    "  urn:lisec:role:ROLE; others get 403); --state keeps\n"
                    "  the tasks in FILE (0600) across restarts; --x1-versions: the X1\n"
                    "  versions accepted (default v1.13.1:v1.22.1, others get error 1020);\n"
                    "  --strict-destinations refuses tasks naming destinations not created;\n"
                    "  --timeout: seconds a connection may take to send its request, TLS\n"
                    "  handshake included, or stay idle (default 30, 1-3600);\n"
                    "  --max-header-bytes: the request line and headers of one request\n"
                    "  (default 8192, 1024-65536);\n"
                    "  --max-connections: connections open at once that have not shown the\n"
                    "  ADMF's certificate (default 64, 1-100000); more are closed at once, and\n"
                    "  the ADMF's own (after its first request) count apart, as many again\n"
                    "lisec-ne --help | --version\n");
    return help ? 0 : 2;
  }
  ne_server s = {SSL_CTX_new(TLS_server_method()), NULL, state, NULL, admf_role, {(time_t)timeout_s, 0}, admf_id,
                 conns, 0, 0};
  deadline_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, deadline_free);
  conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
  admf_role_wanted = admf_role;
  s.ne = lisec_x1_ne_new(ne_id, admf_id, on_change, &s);
  if (s.ne && versions) {
    char min[32], max[32];
    const char *colon = strchr(versions, ':');
    if (!colon || colon - versions >= (long)sizeof min || strlen(colon + 1) >= sizeof max) goto bad_versions;
    snprintf(min, sizeof min, "%.*s", (int)(colon - versions), versions);
    snprintf(max, sizeof max, "%s", colon + 1);
    if (lisec_x1_ne_set_versions(s.ne, min, max) != 0) {
    bad_versions:
      fprintf(stderr, "lisec-ne: --x1-versions %s: MIN:MAX, each v1.N.M, MIN not above MAX\n", versions);
      return 2;
    }
  }
  if (s.ne) lisec_x1_ne_set_strict_destinations(s.ne, strict);
  SSL_CTX_set_min_proto_version(s.ssl, TLS1_2_VERSION);
  if (!s.ne || SSL_CTX_use_certificate_chain_file(s.ssl, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(s.ssl, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(s.ssl, ca, NULL) != 1) {
    fprintf(stderr, "lisec-ne: cannot load the certificate, key or CA\n");
    return 2;
  }
  SSL_CTX_set_verify(s.ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  if (load_state(&s) != 0) return 2;
  ne_events events = {.vm = ev_vm, .state = ev_state, .retry_s = retry_s};
  pthread_mutex_init(&events.lock, NULL);
  pthread_condattr_t wake_attr;
  pthread_condattr_init(&wake_attr);
  pthread_condattr_setclock(&wake_attr, CLOCK_MONOTONIC);
  pthread_cond_init(&events.wake, &wake_attr);
  pthread_condattr_destroy(&wake_attr);
  if (ev_all) {
    char err[LISEC_EVENT_ERR_MAX];
    if (ev_tpm) setenv("TSS2_LOG", "all+NONE", 0); /* the reason is ours; TSS2_LOG set by the user wins */
    if ((ev_tpm ? lisec_event_key_load_tpm(ev_tcti, ev_key, &events.key, err)
                : lisec_event_key_load(ev_key, &events.key, err)) ||
        lisec_event_client_new(ev_server, ev_ca, ev_cert, ev_tls_key, &events.client, err)) {
      fprintf(stderr, "lisec-ne: events: %s\n", err);
      return 2;
    }
    if (ev_spool && lisec_event_spool_open(ev_spool, (size_t)spool_events, (size_t)spool_bytes, spool_report, NULL,
                                           &events.spool, err)) {
      fprintf(stderr, "lisec-ne: events: %s\n", err);
      return 2;
    }
    if (pthread_create(&events.sender, NULL, events_sender, &events) != 0) {
      fprintf(stderr, "lisec-ne: events: cannot start the sender thread\n");
      return 2;
    }
    s.events = &events;
  }
  struct event_base *base = event_base_new();
  struct evhttp *http = evhttp_new(base);
  evhttp_set_bevcb(http, bevcb, &s);
  evhttp_set_gencb(http, on_request, &s);
  evhttp_set_max_body_size(http, 64 * 1024);
  /* libevent buffers headers without end unless told: any certificate of
   * the CA could fill the NE's memory */
  evhttp_set_max_headers_size(http, (ev_ssize_t)max_header_bytes);
  /* a peer that connects and sends nothing is let go, not kept until the
   * descriptors run out (one sending a byte at a time: the deadline, bevcb) */
  evhttp_set_timeout(http, (int)timeout_s);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (evutil_parse_sockaddr_port(listen_at, (struct sockaddr *)&ss, &sl) != 0) {
    fprintf(stderr, "lisec-ne: bad --listen %s\n", listen_at);
    return 2;
  }
  char host[64];
  int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen_at, ':') - listen_at), listen_at);
  struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
  if (!bound) {
    fprintf(stderr, "lisec-ne: cannot listen on %s\n", listen_at);
    return 2;
  }
  int one = 1;
  setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct evconnlistener *listener = evhttp_bound_socket_get_listener(bound);
  accept_resume_ev = evtimer_new(base, accept_resume, listener);
  if (!accept_resume_ev) {
    fprintf(stderr, "lisec-ne: out of memory\n");
    return 2;
  }
  evconnlistener_set_error_cb(listener, accept_failed);
  signal(SIGPIPE, SIG_IGN);
  struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
  struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
  event_add(term, NULL);
  event_add(intr, NULL);
  LOG_INFO("lisec-ne %s listening on %s, obeying ADMF %s%s%s, %zu task(s)%s%s", ne_id, listen_at, admf_id,
           admf_role ? " of role " : "", admf_role ? admf_role : "", lisec_x1_ne_task_count(s.ne),
           state ? " kept in " : "", state ? state : "");
  if (s.events) {
    char tasks[48];
    snprintf(tasks, sizeof tasks, "tasks=%zu", lisec_x1_ne_task_count(s.ne));
    event_note(s.events, "start", tasks, NULL);
    events_kick(s.events);
  }
  event_base_dispatch(base);
  LOG_INFO("lisec-ne stopped with %zu active task(s)", lisec_x1_ne_task_count(s.ne));
  if (s.events) {
    char tasks[48];
    snprintf(tasks, sizeof tasks, "tasks=%zu", lisec_x1_ne_task_count(s.ne));
    event_note(s.events, "stop", tasks, NULL);
    /* one last try to send what is queued, then the sender ends */
    pthread_mutex_lock(&events.lock);
    events.closing = true;
    pthread_cond_signal(&events.wake);
    pthread_mutex_unlock(&events.lock);
    pthread_join(events.sender, NULL);
    for (size_t i = 0; i < events.n; i++) free(events.queue[i]);
    lisec_event_client_free(events.client);
    lisec_event_spool_free(events.spool);
    lisec_event_key_free(events.key);
  }
  event_free(term);
  event_free(intr);
  event_free(accept_resume_ev);
  evhttp_free(http);
  event_base_free(base);
  lisec_x1_ne_free(s.ne);
  SSL_CTX_free(s.ssl);
  return 0;
}
