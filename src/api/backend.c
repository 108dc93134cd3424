/* The controller process's side of the API (issue 16): the front admits a
 * request and sends it over a channel (wire.h); here each channel has its
 * own thread, event loop and controller context, and runs the request
 * through api_dispatch exactly as one process did: the role checked again
 * (and a refusal recorded where the route asks), the refusal rate limit,
 * the handler. A request whose use case waits for fresh attestations
 * (ctl/attest.h) is parked on the channel's loop instead of holding it and
 * answered when its hosts reported or the bound passed, so replies leave in
 * the order they are decided, or as a standby answers once this leader's
 * lease lapses (below, "a leader's step-down"). Of the requests read
 * together, decisions go first (below, "decisions first"), and bulk work
 * (api_route_is_bulk: attestation reports, package on-boarding) goes to
 * threads of its own at a lower CPU priority (below, "bulk threads"), so
 * decisions keep the cores. The front is not trusted further than a client: a request message
 * that does not decode is answered 500, and a message that breaks the
 * framing ends the channel. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "api/wire.h"
#include "ctl/attest.h"
#include "ctl/auditlog.h"
#include "ctl/ha.h"
#include "ctl/metrics.h"

typedef struct parked parked;
typedef struct bulk_job bulk_job;

/* A thread with its own loop and controller context: a request channel
 * from the front (bev set), or a bulk thread (bulk set), which runs the
 * bulk requests the channels hand it and sends each reply back through the
 * channel it came on (that channel's outbox). */
typedef struct chan {
  api_backend *b;
  pthread_t thread;
  bool started;
  struct event_base *base;
  struct bufferevent *bev; /* NULL on a bulk thread */
  struct event *stop_ev;
  lisec_ctl *ctl;
  parked *parked;
  struct event *lease_ev; /* at the leader's own deadline while anything is parked */
  bool stopping; /* the front said lisecd stops: nothing is parked any more */
  /* a request channel: replies made on bulk threads, moved to bev's output
   * on this channel's own thread (only it writes there) */
  pthread_mutex_t out_mu;
  struct evbuffer *outbox;
  struct event *outbox_ev;
  /* a bulk thread: the requests handed to it, oldest first */
  bool bulk;
  pthread_mutex_t q_mu;
  bulk_job *q_head, *q_tail;
  size_t queued;
  struct event *jobs_ev;
} chan;

struct api_backend {
  lisec_ctl *ctl;
  size_t max_body;
  int n;
  chan *chans;
  int n_bulk, bulk_nice;
  unsigned request_slice_us; /* [server] request_slice_us */
  chan *bulks;
  int parked_n; /* requests parked for fresh quotes, on every thread (atomic) */
  unsigned next_bulk;
  uint8_t *route_kind; /* per route of the table: ROUTE_* below */
  size_t n_routes;
};

enum { ROUTE_OTHER, ROUTE_DECISION, ROUTE_BULK };

/* A request waiting for fresh quotes, with the message it came in (the
 * decoded request points into the payload). */
struct parked {
  chan *c;  /* the thread it is parked on */
  chan *to; /* the channel its reply goes back on */
  uint32_t id;
  uint8_t *payload;
  uint32_t len;
  api_wire_request *m;
  ctl_attest_wait *wait;
  struct event *wake, *bound;
  parked *prev, *next;
};

static void wipe_free(void *p, size_t n) {
  if (p) explicit_bzero(p, n);
  free(p);
}

/* The encoded reply goes out on channel `to`: directly when c is that
 * channel's own thread, else through its outbox (a whole message at a
 * time, so the framing holds). */
static int send_to(chan *c, chan *to, uint32_t id, const ipc_writer *w, lisec_err *err) {
  if (c == to) return api_wire_queue(bufferevent_get_output(to->bev), API_MSG_REPLY, id, w, err);
  struct evbuffer *one = evbuffer_new();
  int rc = one ? api_wire_queue(one, API_MSG_REPLY, id, w, err)
               : lisec_err_set(err, LISEC_ENOMEM, "cannot queue a message");
  if (rc == 0) {
    pthread_mutex_lock(&to->out_mu);
    if (evbuffer_add_buffer(to->outbox, one) != 0) rc = lisec_err_set(err, LISEC_ENOMEM, "cannot queue a message");
    pthread_mutex_unlock(&to->out_mu);
    event_active(to->outbox_ev, EV_READ, 0);
  }
  if (one) evbuffer_free(one);
  return rc;
}

static void on_outbox(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  chan *c = arg;
  pthread_mutex_lock(&c->out_mu);
  (void)evbuffer_add_buffer(bufferevent_get_output(c->bev), c->outbox);
  pthread_mutex_unlock(&c->out_mu);
}

static void reply(chan *c, chan *to, uint32_t id, const api_response *resp) {
  api_wire_reply r;
  char *owned = NULL;
  ipc_writer w = {0};
  lisec_err err = {0};
  int rc = api_wire_reply_render(resp, &r, &owned);
  if (rc) lisec_err_set(&err, rc, "cannot render the reply");
  if (rc == 0) rc = api_wire_reply_encode(&w, &r, &err);
  if (rc) {
    /* Still an answer, so the front's request does not wait for ever. */
    LOG_ERROR("reply to request %u: %s", id, err.msg);
    ipc_writer_free(&w);
    api_response fallback = {0};
    api_error(&fallback, 500, "internal", "the reply could not be sent to the front");
    wipe_free(owned, r.body_len);
    owned = NULL;
    api_wire_reply_render(&fallback, &r, &owned);
    rc = api_wire_reply_encode(&w, &r, &err);
    api_response_free(&fallback);
  }
  if (rc == 0 && send_to(c, to, id, &w, &err) != 0) LOG_ERROR("reply to request %u: %s", id, err.msg);
  ipc_writer_free(&w);
  wipe_free(owned, r.body_len);
}

static void reply_error(chan *c, chan *to, uint32_t id, int status, const char *code, const char *msg) {
  api_response resp = {0};
  api_error(&resp, status, code, msg);
  reply(c, to, id, &resp);
  api_response_free(&resp);
}

/* A leader whose lease lapsed (ctl_ha_leading, docs/ha.md) answers as a
 * standby does (cmd/lisecd/standby.c): 503, "role":"standby"; it does not
 * know who leads now. True when resp was so filled. */
static bool not_leading(api_response *resp) {
  lisec_err err = {0};
  if (ctl_ha_leading(&err) == 0) return false;
  api_error(resp, 503, "unavailable", err.msg);
  if (resp->body) {
    json_object_set_new(resp->body, "role", json_string("standby"));
    json_object_set_new(resp->body, "leader", json_null());
  }
  snprintf(resp->retry_after, sizeof resp->retry_after, "1");
  return true;
}

/* One dispatch of a request, with the request's wait for fresh quotes. */
static void dispatch(chan *c, const api_wire_request *m, ctl_attest_wait *wait, api_response *resp) {
  if (not_leading(resp)) return;
  api_raw_request raw = {.method = m->method,
                         .uri = m->uri,
                         .body = (const char *)m->body,
                         .body_len = m->body_len,
                         .max_body = c->b->max_body,
                         .if_match = m->if_match[0] ? m->if_match : NULL};
  int route = -1;
  /* Every line logged while deciding names the request (docs/operations.md,
   * "Logs"): its id, the role, the route's pattern (never the path; withheld
   * for an LI route or li-admin, api_request_withheld). */
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  const api_route *r = m->route < n_routes ? &routes[m->route] : NULL;
  lisec_log_context_set(m->request_id, m->who.role,
                        api_request_withheld(r, m->who.role) ? API_LOG_WITHHELD : r ? r->pattern : NULL);
  c->ctl->wait = wait;
  api_dispatch(c->ctl, &m->who, &raw, resp, &route);
  c->ctl->wait = NULL;
  LOG_DEBUG("controller: %s", resp->pending ? "waits for fresh quotes" : "decided");
  lisec_log_context_clear();
  if (route != (int)m->route)
    LOG_LIMITED(LISEC_LOG_WARN, 3, 10000, "request %s: the front matched route %u, the controller %d",
                m->method, m->route, route);
}

/* ---- parking ------------------------------------------------------------- */

/* Parked requests are decided at a lower priority than the loop's I/O, one
 * per loop turn: a burst of answered waits (every decision that waited for
 * one host's quote) never holds a new request behind it. */
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
  chan *c = p->c;
  if (p->prev) p->prev->next = p->next;
  else c->parked = p->next;
  if (p->next) p->next->prev = p->prev;
  __atomic_sub_fetch(&c->b->parked_n, 1, __ATOMIC_RELEASE);
  ctl_attest_wait_disarm(p->wait);
  event_free(p->wake);
  event_free(p->bound);
}

static void parked_free(parked *p) {
  ctl_attest_wait_free(p->wait);
  ipc_payload_free(p->payload, p->len);
  free(p->m);
  free(p);
}

static void on_parked(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  parked *p = arg;
  chan *c = p->c;
  api_response resp = {0};
  parked_release(p);
  ctl_attest_wait_finalise(p->wait);
  dispatch(c, p->m, p->wait, &resp);
  if (resp.pending) api_error(&resp, 500, "internal", "a final dispatch asked to wait again");
  reply(c, p->to, p->id, &resp);
  api_response_free(&resp);
  parked_free(p);
}

/* Its bound passed: decided as when woken, and the hosts that gave it no
 * quote go silent, which answers the others parked on them (ctl/attest.h). */
static void on_parked_bound(evutil_socket_t fd, short what, void *arg) {
  ctl_attest_wait_expire(((parked *)arg)->wait);
  on_parked(fd, what, arg);
}

/* ---- a leader's step-down ------------------------------------------------ */

/* A parked request is the one response lisecd holds open (every other
 * reply is made at once): up to [attest] fresh_wait_ms. A leader whose
 * lease lapses (ctl_ha_leading) answers every new request as a standby
 * does; its parked ones would wait for their bound, since the reports that
 * could wake them are refused too, and their clients would hear nothing
 * for that long while a standby takes over. So while anything is parked
 * on a thread, its timer runs to the leader's own deadline; past it, every
 * request parked there is answered as a standby answers (not_leading: 503,
 * "role":"standby", Retry-After, TR103308-5.3) and nothing is decided, so
 * the client asks again through its load balancer and reaches the new
 * leader. Renewed meanwhile, the timer runs to the new deadline. Without a
 * lease ([ha] lease_ms = 0) nothing changes. */
static void lease_arm(chan *c) {
  int64_t left = c->parked && c->lease_ev ? ctl_ha_lease_left_ms() : -1;
  if (left < 0 || evtimer_pending(c->lease_ev, NULL)) return;
  left += 1; /* just past it: ctl_ha_leading says "lapsed" from the deadline on */
  struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
  if (evtimer_add(c->lease_ev, &tv) != 0) LOG_WARN("cannot time the leader's lease for the parked requests");
}

static void on_lease(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  chan *c = arg;
  api_response resp = {0};
  if (!c->parked || !not_leading(&resp)) return lease_arm(c);
  while (c->parked) {
    parked *p = c->parked;
    parked_release(p);
    reply(c, p->to, p->id, &resp);
    parked_free(p);
  }
  api_response_free(&resp);
}

/* 0 when the request is parked (it owns payload, m and wait then). */
static int park(chan *c, chan *to, uint32_t id, uint8_t *payload, uint32_t len, api_wire_request *m,
                ctl_attest_wait *wait) {
  if (c->stopping) return -1;
  parked *p = calloc(1, sizeof *p);
  if (!p) return -1;
  *p = (parked){.c = c, .to = to, .id = id, .payload = payload, .len = len, .m = m, .wait = wait};
  p->wake = event_new(c->base, -1, 0, on_parked, p);
  p->bound = evtimer_new(c->base, on_parked_bound, p);
  if (p->wake) event_priority_set(p->wake, PRIO_PARKED);
  if (p->bound) event_priority_set(p->bound, PRIO_PARKED);
  int64_t ms = ctl_attest_wait_bound_ms(c->ctl);
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  if (!p->wake || !p->bound || evtimer_add(p->bound, &tv) != 0) {
    if (p->wake) event_free(p->wake);
    if (p->bound) event_free(p->bound);
    free(p);
    return -1;
  }
  p->next = c->parked;
  if (c->parked) c->parked->prev = p;
  c->parked = p;
  __atomic_add_fetch(&c->b->parked_n, 1, __ATOMIC_RELEASE);
  ctl_attest_wait_arm(c->ctl, wait, parked_wake, p);
  lease_arm(c);
  return 0;
}

/* Answers every parked request with 503 and msg (no decision is made or
 * recorded), or only frees them when the front is gone (reply false). */
static void parked_drop_all(chan *c, bool answer, const char *msg) {
  while (c->parked) {
    parked *p = c->parked;
    parked_release(p);
    if (answer) reply_error(c, p->to, p->id, 503, "unavailable", msg);
    parked_free(p);
  }
}

/* ---- messages ------------------------------------------------------------ */

/* Takes payload. c: the thread deciding it; to: the channel it came on. */
static void on_request(chan *c, chan *to, uint32_t id, uint8_t *payload, uint32_t len) {
  lisec_err err = {0};
  api_wire_request *m = malloc(sizeof *m);
  if (!m) {
    ipc_payload_free(payload, len);
    return reply_error(c, to, id, 503, "unavailable", "out of memory");
  }
  if (api_wire_request_decode(payload, len, c->b->max_body, m, &err) != 0) {
    LOG_LIMITED(LISEC_LOG_ERROR, 3, 10000, "a request from the front: %s", err.msg);
    free(m);
    ipc_payload_free(payload, len);
    return reply_error(c, to, id, 500, "internal", "the front's request message was malformed");
  }
  api_response resp = {0};
  ctl_attest_wait *wait = ctl_attest_wait_new();
  if (!wait) {
    api_error(&resp, 503, "unavailable", "out of memory");
  } else {
    dispatch(c, m, wait, &resp);
    if (resp.pending && park(c, to, id, payload, len, m, wait) == 0) return;
    if (resp.pending) { /* cannot park (stopping, or no memory): decide now */
      ctl_attest_wait_finalise(wait);
      api_response_free(&resp);
      dispatch(c, m, wait, &resp);
      if (resp.pending) api_error(&resp, 500, "internal", "a final dispatch asked to wait again");
    }
  }
  ctl_attest_wait_free(wait);
  reply(c, to, id, &resp);
  api_response_free(&resp);
  explicit_bzero(m, sizeof *m);
  free(m);
  ipc_payload_free(payload, len);
}

/* /readyz of the front's probe listener (ctl_ready): 200 "ready", or 503
 * naming every check that failed (store, tokens, checkpoint signer). */
static void on_ready(chan *c, uint32_t id) {
  api_response stepped = {0};
  if (not_leading(&stepped)) {
    reply(c, c, id, &stepped);
    api_response_free(&stepped);
    return;
  }
  lisec_err err = {0};
  char text[LISEC_ERR_MSG_MAX + 32];
  int rc = ctl_ready(c->ctl, &err);
  if (rc) snprintf(text, sizeof text, "not ready: %s\n", err.msg);
  else snprintf(text, sizeof text, "ready\n");
  api_response resp = {.status = rc ? 503 : 200, .text = strdup(text), .content_type = "text/plain"};
  if (rc) LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "readyz: %s", err.msg);
  reply(c, c, id, &resp);
  api_response_free(&resp);
}

/* The client of request id left: a parked request is dropped undecided
 * (the front only needs a reply to free its side). Otherwise its reply is
 * on its way already. */
static void on_cancel(chan *c, uint32_t id) {
  for (parked *p = c->parked; p; p = p->next) {
    if (p->id != id) continue;
    parked_release(p);
    reply_error(c, p->to, id, 503, "unavailable", "the client closed the connection");
    parked_free(p);
    return;
  }
}

static void chan_close(chan *c, const char *why) {
  if (why) LOG_ERROR("the channel from the front closed: %s", why);
  parked_drop_all(c, false, NULL);
  bufferevent_disable(c->bev, EV_READ | EV_WRITE);
  event_base_loopexit(c->base, NULL);
}

/* ---- decisions first ------------------------------------------------------ */

/* Of the requests read from the channel together, placement and migration
 * decisions are dispatched before the others (issue 22 item 6): a decision
 * does not wait behind the appraisals (quotes, inventories) and other
 * writes queued on the same channel while the previous one ran, only behind
 * the one running. Only the order among requests already read changes;
 * every request still gets its one reply, matched by id. The route index is
 * the front's (the first field of the message): a wrong one only changes
 * the order, since dispatch matches the route again. */
#define BATCH_MAX 64
typedef struct batch {
  uint32_t id[BATCH_MAX], len[BATCH_MAX];
  uint8_t *payload[BATCH_MAX];
  int n;
} batch;

/* ROUTE_DECISION, ROUTE_BULK or ROUTE_OTHER, by the front's route index. */
static int route_kind(const api_backend *b, const uint8_t *payload, uint32_t len) {
  if (len < 4) return ROUTE_OTHER;
  ipc_reader r;
  ipc_reader_init(&r, payload, len);
  uint32_t route = ipc_get_u32(&r);
  return route < b->n_routes ? b->route_kind[route] : ROUTE_OTHER;
}

static bool bulk_submit(chan *c, uint32_t id, uint8_t *payload, uint32_t len);

/* Decisions first; then the others in their order, bulk ones handed to the
 * bulk threads (or run here when there are none or their queues are full). */
static void batch_flush(chan *c, batch *b) {
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < b->n; i++) {
      if (!b->payload[i]) continue;
      int kind = route_kind(c->b, b->payload[i], b->len[i]);
      if ((kind == ROUTE_DECISION) != (pass == 0)) continue;
      uint8_t *p = b->payload[i];
      b->payload[i] = NULL;
      if (kind == ROUTE_BULK && bulk_submit(c, b->id[i], p, b->len[i])) continue;
      on_request(c, c, b->id[i], p, b->len[i]);
    }
  b->n = 0;
}

/* ---- bulk threads -------------------------------------------------------- */

/* [server] bulk_channels threads, each with its own loop and controller
 * context like a channel's, run the bulk requests (api_route_is_bulk) at
 * [server] bulk_nice: while decisions and bulk work both want the cores,
 * the kernel gives the bulk threads their nice value's share, and all of
 * it when decisions do not. A nice value (never SCHED_IDLE) keeps a bulk
 * thread progressing however busy the decisions are, so a decision parked
 * for a host's fresh quote is woken when that report is appraised, or
 * decided at its bound ([attest] fresh_wait_ms) as before: the request
 * channels never wait on a bulk thread. And while any decision waits for a
 * fresh quote, bulk requests run on the request channels at the decisions'
 * priority, as without bulk threads: the quote it waits for is among them,
 * and a decision must not wait on work the kernel was told matters less
 * (however busy the machine, the wait ends with the quote, not the bound).
 * Each thread's queue is bounded; past it a request runs on its channel's
 * thread too. */
#define BULK_QUEUE_MAX 1024
struct bulk_job {
  chan *from;
  uint32_t id, len;
  uint8_t *payload;
  bulk_job *next;
};

static bool bulk_submit(chan *c, uint32_t id, uint8_t *payload, uint32_t len) {
  api_backend *b = c->b;
  if (!b->n_bulk || c->stopping || __atomic_load_n(&b->parked_n, __ATOMIC_ACQUIRE) > 0) return false;
  /* the one with the fewest queued, starting after the last one picked */
  chan *w = NULL;
  size_t least = BULK_QUEUE_MAX;
  unsigned start = __atomic_fetch_add(&b->next_bulk, 1, __ATOMIC_RELAXED);
  for (int k = 0; k < b->n_bulk; k++) {
    chan *t = &b->bulks[(start + (unsigned)k) % (unsigned)b->n_bulk];
    pthread_mutex_lock(&t->q_mu);
    size_t q = t->queued;
    pthread_mutex_unlock(&t->q_mu);
    if (q < least) least = q, w = t;
  }
  bulk_job *j = w ? malloc(sizeof *j) : NULL;
  if (!j) return false;
  *j = (bulk_job){.from = c, .id = id, .len = len, .payload = payload};
  pthread_mutex_lock(&w->q_mu);
  if (w->q_tail) w->q_tail->next = j;
  else w->q_head = j;
  w->q_tail = j;
  w->queued++;
  pthread_mutex_unlock(&w->q_mu);
  event_active(w->jobs_ev, EV_READ, 0);
  return true;
}

static void on_jobs(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  chan *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->q_mu);
    bulk_job *j = w->q_head;
    if (j) {
      w->q_head = j->next;
      if (!w->q_head) w->q_tail = NULL;
      w->queued--;
    }
    pthread_mutex_unlock(&w->q_mu);
    if (!j) return;
    on_request(w, j->from, j->id, j->payload, j->len);
    free(j);
  }
}

/* This thread's nice value (Linux: per thread; who 0 is the calling
 * thread). Lowering a priority needs no privilege. A lowered thread does
 * not lead an audit group commit while a request thread waits in it
 * (ctl_auditlog_thread_lowered): the decisions' records would wait for a
 * thread the kernel runs last. */
static void lower_priority(int nice) {
  if (nice <= 0) return;
  errno = 0;
  if (setpriority(PRIO_PROCESS, 0, nice) != 0) {
    LOG_WARN("a bulk thread cannot lower its CPU priority to nice %d ([server] bulk_nice): %s; it runs at "
             "the decisions' priority", nice, strerror(errno));
    return;
  }
  ctl_auditlog_thread_lowered(true);
}

static void on_read(struct bufferevent *bev, void *arg) {
  chan *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  uint32_t max = api_wire_channel_max(c->b->max_body);
  batch b = {.n = 0};
  for (;;) {
    ipc_header h;
    uint8_t *payload = NULL;
    lisec_err err = {0};
    int rc = api_wire_take(in, max, &h, &payload, &err);
    if (rc == 0 && b.n) {
      batch_flush(c, &b);
      continue; /* more may have come meanwhile */
    }
    if (rc == 0) return;
    if (rc < 0) {
      batch_flush(c, &b);
      return chan_close(c, err.msg);
    }
    if (h.type == API_MSG_REQUEST) {
      b.id[b.n] = h.id, b.len[b.n] = h.len, b.payload[b.n++] = payload;
      if (b.n == BATCH_MAX) batch_flush(c, &b);
      continue;
    }
    batch_flush(c, &b); /* the other messages in their order after the requests before them */
    switch (h.type) {
      case API_MSG_CANCEL: on_cancel(c, h.id); break;
      case API_MSG_READY: on_ready(c, h.id); break;
      case API_MSG_STOP:
        c->stopping = true;
        parked_drop_all(c, true, "lisecd is stopping; ask again");
        break;
      default:
        ipc_payload_free(payload, h.len);
        return chan_close(c, "a message of an unknown type");
    }
    ipc_payload_free(payload, h.len);
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  chan *c = arg;
  /* End of file is the front stopping (or gone: the parent stops lisecd). */
  chan_close(c, (what & BEV_EVENT_EOF) ? NULL : "a socket error");
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  chan *c = arg;
  c->stopping = true;
  parked_drop_all(c, true, "lisecd is stopping; ask again");
  /* Give replies already queued a moment to leave, then end the loop. */
  struct timeval grace = {1, 0};
  event_base_loopexit(c->base, &grace);
}

static void *chan_main(void *arg) {
  chan *c = arg;
  /* named from its own thread (prctl), which every sandbox allows */
  pthread_setname_np(pthread_self(), c->bulk ? "lisec-bulk" : "lisec-chan");
  lisec_err err = {0};
  if (c->bulk) lower_priority(c->b->bulk_nice);
  else if (c->b->request_slice_us && lisec_thread_slice(c->b->request_slice_us, &err) != 0)
    LOG_WARN("a request channel cannot ask for a %u us slice ([server] request_slice_us): %s",
             c->b->request_slice_us, err.msg);
  /* a bulk thread's loop has no I/O of its own: it waits for its events to
   * be made active, until the stop ends it */
  event_base_loop(c->base, c->bulk ? EVLOOP_NO_EXIT_ON_EMPTY : 0);
  parked_drop_all(c, false, NULL);
  return NULL;
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
/* Appraising threads wake parked requests on the channels' loops. */
static void process_init(void) { evthread_use_pthreads(); }

/* The channel takes fd (closed with it); fd -1: a bulk thread. */
static int chan_init(chan *c, api_backend *b, int fd, lisec_err *err) {
  c->b = b;
  c->bulk = fd < 0;
  pthread_mutex_init(&c->out_mu, NULL);
  pthread_mutex_init(&c->q_mu, NULL);
  int rc = ctl_open_worker(b->ctl, &c->ctl, err);
  if (rc) {
    if (fd >= 0) close(fd);
    return rc;
  }
  c->base = parking_base();
  c->stop_ev = c->base ? event_new(c->base, -1, 0, on_stop, c) : NULL;
  c->lease_ev = c->base ? evtimer_new(c->base, on_lease, c) : NULL;
  if (c->bulk) {
    c->jobs_ev = c->base ? event_new(c->base, -1, 0, on_jobs, c) : NULL;
    if (!c->stop_ev || !c->jobs_ev || !c->lease_ev)
      return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
    return 0;
  }
  c->outbox = evbuffer_new();
  c->outbox_ev = c->base ? event_new(c->base, -1, 0, on_outbox, c) : NULL;
  if (!c->outbox || !c->outbox_ev) {
    close(fd);
    return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  }
  c->bev = c->base && evutil_make_socket_nonblocking(fd) == 0
               ? bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE)
               : NULL;
  if (!c->bev) close(fd);
  if (!c->bev || !c->stop_ev || !c->lease_ev)
    return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
  /* What one read takes is what "decisions first" can reorder: up to
   * 256 KiB of queued requests, not libevent's default 16 KiB. */
  (void)bufferevent_set_max_single_read(c->bev, 256 * 1024);
  bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
  bufferevent_enable(c->bev, EV_READ);
  return 0;
}

int api_backend_open(lisec_ctl *ctl, const int *channels, int n, size_t max_body,
                     api_backend **out, lisec_err *err) {
  pthread_once(&process_once, process_init);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  int rc = api_routes_check(routes, n_routes, err), taken = 0;
  api_backend *b = rc == 0 ? calloc(1, sizeof *b) : NULL;
  if (rc == 0 && b) {
    *b = (api_backend){.ctl = ctl, .max_body = max_body, .n = n, .n_routes = n_routes};
    b->chans = calloc((size_t)n, sizeof *b->chans);
    b->route_kind = calloc(n_routes ? n_routes : 1, 1);
  }
  if (rc == 0 && (!b || !b->chans || !b->route_kind)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  static const char decisions[] = "/v1/decisions/";
  for (size_t i = 0; rc == 0 && i < n_routes; i++)
    b->route_kind[i] = strncmp(routes[i].pattern, decisions, sizeof decisions - 1) == 0 ? ROUTE_DECISION
                       : api_route_is_bulk(routes[i].method, routes[i].pattern) ? ROUTE_BULK
                                                                                 : ROUTE_OTHER;
  for (; rc == 0 && taken < n; taken++) rc = chan_init(&b->chans[taken], b, channels[taken], err);
  for (; taken < n; taken++) close(channels[taken]);
  if (rc) {
    api_backend_wait_and_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

int api_backend_set_bulk(api_backend *b, int n_bulk, int nice, lisec_err *err) {
  if (n_bulk < 0 || n_bulk > API_BULK_CHANNELS_MAX || nice < 0 || nice > 19)
    return lisec_err_set(err, LISEC_EINVAL, "[server] bulk_channels 0-%d and bulk_nice 0-19",
                         API_BULK_CHANNELS_MAX);
  if (!n_bulk) return 0;
  if (!(b->bulks = calloc((size_t)n_bulk, sizeof *b->bulks)))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  b->bulk_nice = nice;
  int rc = 0;
  /* counted as they are made, so a failure frees exactly those */
  for (; rc == 0 && b->n_bulk < n_bulk; b->n_bulk++) rc = chan_init(&b->bulks[b->n_bulk], b, -1, err);
  return rc;
}

void api_backend_set_request_slice(api_backend *b, unsigned slice_us) { b->request_slice_us = slice_us; }

static int start_threads(chan *cs, int n) {
  for (int i = 0; i < n; i++) {
    if (pthread_create(&cs[i].thread, NULL, chan_main, &cs[i]) != 0) return -1;
    cs[i].started = true;
  }
  return 0;
}

int api_backend_run(api_backend *b, lisec_err *err) {
  /* the bulk threads first: a channel may hand them a request at once */
  if (start_threads(b->bulks, b->n_bulk) != 0 || start_threads(b->chans, b->n) != 0) {
    api_backend_stop(b);
    return lisec_err_set(err, LISEC_EINTERNAL, "cannot start a channel thread");
  }
  return 0;
}

void api_backend_stop(api_backend *b) {
  for (int i = 0; i < b->n; i++)
    if (b->chans[i].stop_ev) event_active(b->chans[i].stop_ev, 0, 0);
  for (int i = 0; i < b->n_bulk; i++)
    if (b->bulks[i].stop_ev) event_active(b->bulks[i].stop_ev, 0, 0);
}

static void chan_free(chan *c) {
  if (c->stop_ev) event_free(c->stop_ev);
  if (c->lease_ev) event_free(c->lease_ev);
  if (c->jobs_ev) event_free(c->jobs_ev);
  if (c->outbox_ev) event_free(c->outbox_ev);
  if (c->outbox) evbuffer_free(c->outbox);
  if (c->bev) bufferevent_free(c->bev);
  if (c->base) event_base_free(c->base);
  for (bulk_job *j = c->q_head, *next; j; j = next) { /* handed over, never run: lisecd stops */
    next = j->next;
    ipc_payload_free(j->payload, j->len);
    free(j);
  }
  ctl_close(c->ctl);
  pthread_mutex_destroy(&c->out_mu);
  pthread_mutex_destroy(&c->q_mu);
}

void api_backend_wait_and_free(api_backend *b) {
  if (!b) return;
  /* Every thread ends before anything is freed: a bulk thread's reply
   * goes to a channel's outbox. */
  for (int i = 0; b->chans && i < b->n; i++)
    if (b->chans[i].started) pthread_join(b->chans[i].thread, NULL);
  for (int i = 0; b->bulks && i < b->n_bulk; i++)
    if (b->bulks[i].started) pthread_join(b->bulks[i].thread, NULL);
  for (int i = 0; b->chans && i < b->n; i++) chan_free(&b->chans[i]);
  for (int i = 0; b->bulks && i < b->n_bulk; i++) chan_free(&b->bulks[i]);
  free(b->chans);
  free(b->bulks);
  free(b->route_kind);
  free(b);
}
