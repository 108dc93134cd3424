/* The controller process's side of the API (issue 16): the front admits a
 * request and sends it over a channel (wire.h); here each channel has its
 * own thread, event loop and controller context, and runs the request
 * through api_dispatch exactly as one process did: the role checked again
 * (and a refusal recorded where the route asks), the refusal rate limit,
 * the handler. A request whose use case waits for fresh attestations
 * (ctl/attest.h) is parked on the channel's loop instead of holding it and
 * answered when its hosts reported or the bound passed, so replies leave in
 * the order they are decided. Of the requests read together, decisions go
 * first (below, "decisions first"). The front is not trusted further than a
 * client: a request message that does not decode is answered 500, and a
 * message that breaks the framing ends the channel. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/wire.h"
#include "ctl/attest.h"
#include "ctl/metrics.h"

typedef struct parked parked;

typedef struct chan {
  api_backend *b;
  pthread_t thread;
  bool started;
  struct event_base *base;
  struct bufferevent *bev;
  struct event *stop_ev;
  lisec_ctl *ctl;
  parked *parked;
  bool stopping; /* the front said lisecd stops: nothing is parked any more */
} chan;

struct api_backend {
  lisec_ctl *ctl;
  size_t max_body;
  int n;
  chan *chans;
};

/* A request waiting for fresh quotes, with the message it came in (the
 * decoded request points into the payload). */
struct parked {
  chan *c;
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

static void reply(chan *c, uint32_t id, const api_response *resp) {
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
  if (rc == 0 && api_wire_queue(bufferevent_get_output(c->bev), API_MSG_REPLY, id, &w, &err) != 0)
    LOG_ERROR("reply to request %u: %s", id, err.msg);
  ipc_writer_free(&w);
  wipe_free(owned, r.body_len);
}

static void reply_error(chan *c, uint32_t id, int status, const char *code, const char *msg) {
  api_response resp = {0};
  api_error(&resp, status, code, msg);
  reply(c, id, &resp);
  api_response_free(&resp);
}

/* One dispatch of a request, with the request's wait for fresh quotes. */
static void dispatch(chan *c, const api_wire_request *m, ctl_attest_wait *wait, api_response *resp) {
  api_raw_request raw = {.method = m->method,
                         .uri = m->uri,
                         .body = (const char *)m->body,
                         .body_len = m->body_len,
                         .max_body = c->b->max_body,
                         .if_match = m->if_match[0] ? m->if_match : NULL};
  int route = -1;
  /* Every line logged while deciding names the request (docs/operations.md,
   * "Logs"): its id, the role, the route's pattern (never the path). */
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  lisec_log_context_set(m->request_id, m->who.role,
                        m->route < n_routes ? routes[m->route].pattern : NULL);
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
  reply(c, p->id, &resp);
  api_response_free(&resp);
  parked_free(p);
}

/* 0 when the request is parked (it owns payload, m and wait then). */
static int park(chan *c, uint32_t id, uint8_t *payload, uint32_t len, api_wire_request *m,
                ctl_attest_wait *wait) {
  if (c->stopping) return -1;
  parked *p = calloc(1, sizeof *p);
  if (!p) return -1;
  *p = (parked){.c = c, .id = id, .payload = payload, .len = len, .m = m, .wait = wait};
  p->wake = event_new(c->base, -1, 0, on_parked, p);
  p->bound = evtimer_new(c->base, on_parked, p);
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
  ctl_attest_wait_arm(c->ctl, wait, parked_wake, p);
  return 0;
}

/* Answers every parked request with 503 and msg (no decision is made or
 * recorded), or only frees them when the front is gone (reply false). */
static void parked_drop_all(chan *c, bool answer, const char *msg) {
  while (c->parked) {
    parked *p = c->parked;
    parked_release(p);
    if (answer) reply_error(c, p->id, 503, "unavailable", msg);
    parked_free(p);
  }
}

/* ---- messages ------------------------------------------------------------ */

/* Takes payload. */
static void on_request(chan *c, uint32_t id, uint8_t *payload, uint32_t len) {
  lisec_err err = {0};
  api_wire_request *m = malloc(sizeof *m);
  if (!m) {
    ipc_payload_free(payload, len);
    return reply_error(c, id, 503, "unavailable", "out of memory");
  }
  if (api_wire_request_decode(payload, len, c->b->max_body, m, &err) != 0) {
    LOG_LIMITED(LISEC_LOG_ERROR, 3, 10000, "a request from the front: %s", err.msg);
    free(m);
    ipc_payload_free(payload, len);
    return reply_error(c, id, 500, "internal", "the front's request message was malformed");
  }
  api_response resp = {0};
  ctl_attest_wait *wait = ctl_attest_wait_new();
  if (!wait) {
    api_error(&resp, 503, "unavailable", "out of memory");
  } else {
    dispatch(c, m, wait, &resp);
    if (resp.pending && park(c, id, payload, len, m, wait) == 0) return;
    if (resp.pending) { /* cannot park (stopping, or no memory): decide now */
      ctl_attest_wait_finalise(wait);
      api_response_free(&resp);
      dispatch(c, m, wait, &resp);
      if (resp.pending) api_error(&resp, 500, "internal", "a final dispatch asked to wait again");
    }
  }
  ctl_attest_wait_free(wait);
  reply(c, id, &resp);
  api_response_free(&resp);
  explicit_bzero(m, sizeof *m);
  free(m);
  ipc_payload_free(payload, len);
}

/* /readyz of the front's probe listener (ctl_ready): 200 "ready", or 503
 * naming every check that failed (store, tokens, checkpoint signer). */
static void on_ready(chan *c, uint32_t id) {
  lisec_err err = {0};
  char text[LISEC_ERR_MSG_MAX + 32];
  int rc = ctl_ready(c->ctl, &err);
  if (rc) snprintf(text, sizeof text, "not ready: %s\n", err.msg);
  else snprintf(text, sizeof text, "ready\n");
  api_response resp = {.status = rc ? 503 : 200, .text = strdup(text), .content_type = "text/plain"};
  if (rc) LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "readyz: %s", err.msg);
  reply(c, id, &resp);
  api_response_free(&resp);
}

/* The client of request id left: a parked request is dropped undecided
 * (the front only needs a reply to free its side). Otherwise its reply is
 * on its way already. */
static void on_cancel(chan *c, uint32_t id) {
  for (parked *p = c->parked; p; p = p->next) {
    if (p->id != id) continue;
    parked_release(p);
    reply_error(c, id, 503, "unavailable", "the client closed the connection");
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

static bool is_decision(const uint8_t *payload, uint32_t len) {
  static const char prefix[] = "/v1/decisions/";
  if (len < 4) return false;
  ipc_reader r;
  ipc_reader_init(&r, payload, len);
  uint32_t route = ipc_get_u32(&r);
  size_t n_routes = 0;
  const api_route *routes = api_route_table(&n_routes);
  return route < n_routes && strncmp(routes[route].pattern, prefix, sizeof prefix - 1) == 0;
}

static void batch_flush(chan *c, batch *b) {
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < b->n; i++) {
      if (!b->payload[i] || is_decision(b->payload[i], b->len[i]) != (pass == 0)) continue;
      uint8_t *p = b->payload[i];
      b->payload[i] = NULL;
      on_request(c, b->id[i], p, b->len[i]);
    }
  b->n = 0;
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
  event_base_dispatch(c->base);
  parked_drop_all(c, false, NULL);
  return NULL;
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
/* Appraising threads wake parked requests on the channels' loops. */
static void process_init(void) { evthread_use_pthreads(); }

/* The channel takes fd (closed with it). */
static int chan_init(chan *c, api_backend *b, int fd, lisec_err *err) {
  c->b = b;
  int rc = ctl_open_worker(b->ctl, &c->ctl, err);
  if (rc) {
    close(fd);
    return rc;
  }
  c->base = parking_base();
  c->bev = c->base && evutil_make_socket_nonblocking(fd) == 0
               ? bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE)
               : NULL;
  if (!c->bev) close(fd);
  c->stop_ev = c->base ? event_new(c->base, -1, 0, on_stop, c) : NULL;
  if (!c->bev || !c->stop_ev) return lisec_err_set(err, LISEC_ENOMEM, "cannot create event loop");
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
    *b = (api_backend){.ctl = ctl, .max_body = max_body, .n = n};
    b->chans = calloc((size_t)n, sizeof *b->chans);
  }
  if (rc == 0 && (!b || !b->chans)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (; rc == 0 && taken < n; taken++) rc = chan_init(&b->chans[taken], b, channels[taken], err);
  for (; taken < n; taken++) close(channels[taken]);
  if (rc) {
    api_backend_wait_and_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

int api_backend_run(api_backend *b, lisec_err *err) {
  for (int i = 0; i < b->n; i++) {
    chan *c = &b->chans[i];
    if (pthread_create(&c->thread, NULL, chan_main, c) != 0) {
      api_backend_stop(b);
      return lisec_err_set(err, LISEC_EINTERNAL, "cannot start a channel thread");
    }
    c->started = true;
  }
  return 0;
}

void api_backend_stop(api_backend *b) {
  for (int i = 0; i < b->n; i++)
    if (b->chans[i].stop_ev) event_active(b->chans[i].stop_ev, 0, 0);
}

void api_backend_wait_and_free(api_backend *b) {
  if (!b) return;
  for (int i = 0; b->chans && i < b->n; i++) {
    chan *c = &b->chans[i];
    if (c->started) pthread_join(c->thread, NULL);
    if (c->stop_ev) event_free(c->stop_ev);
    if (c->bev) bufferevent_free(c->bev);
    if (c->base) event_base_free(c->base);
    ctl_close(c->ctl);
  }
  free(b->chans);
  free(b);
}
