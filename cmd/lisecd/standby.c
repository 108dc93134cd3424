/* A standby controller's answers (issue 17, docs/ha.md): while another
 * lisecd leads, this controller has opened nothing of the controller (no
 * model, no audit log, no timers) and answers every request the front
 * forwards, /healthz and the probe's /readyz included, with 503 and
 * {"role":"standby","leader":"<the leader's advertised URL>"}, so a load
 * balancer checking /healthz or /readyz sends clients to the leader and a
 * client told 503 learns where to go. It runs one event loop on a thread
 * of its own over the front's channels, which it does not own: on
 * promotion it stops between messages (no partial message left read and
 * every reply sent) and hands the channels, open, to the controller. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/wire.h"
#include "lisecd.h"

struct lisecd_standby {
  struct event_base *base;
  struct bufferevent **bevs;
  int n;
  size_t max_body;
  struct event *drain_ev;
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  char leader[512]; /* the leader's advertised URL, "" when not known yet */
  bool lost;        /* a channel broke: the front is gone */
};

static void answer(lisecd_standby *s, struct bufferevent *bev, uint32_t id) {
  char leader[sizeof s->leader];
  pthread_mutex_lock(&s->mu);
  memcpy(leader, s->leader, sizeof leader);
  pthread_mutex_unlock(&s->mu);
  char msg[sizeof leader + 128];
  snprintf(msg, sizeof msg, "TR103308-5.3: this lisecd is a standby; ask the leader%s%s", leader[0] ? ", " : "",
           leader);
  api_response resp = {0};
  api_error(&resp, 503, "unavailable", msg);
  json_object_set_new(resp.body, "role", json_string("standby"));
  json_object_set_new(resp.body, "leader", leader[0] ? json_string(leader) : json_null());
  snprintf(resp.retry_after, sizeof resp.retry_after, "1");
  api_wire_reply r;
  char *owned = NULL;
  ipc_writer w = {0};
  lisec_err err = {0};
  int rc = api_wire_reply_render(&resp, &r, &owned);
  if (rc == 0) rc = api_wire_reply_encode(&w, &r, &err);
  if (rc == 0) rc = api_wire_queue(bufferevent_get_output(bev), API_MSG_REPLY, id, &w, &err);
  if (rc) LOG_LIMITED(LISEC_LOG_ERROR, 3, 10000, "standby: a reply to the front: %s", err.msg);
  ipc_writer_free(&w);
  free(owned);
  api_response_free(&resp);
}

static void on_read(struct bufferevent *bev, void *arg) {
  lisecd_standby *s = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  uint32_t max = api_wire_channel_max(s->max_body);
  for (;;) {
    ipc_header h;
    uint8_t *payload = NULL;
    lisec_err err = {0};
    int rc = api_wire_take(in, max, &h, &payload, &err);
    if (rc == 0) return;
    if (rc < 0) {
      LOG_ERROR("standby: the channel from the front broke: %s", err.msg);
      s->lost = true;
      bufferevent_disable(bev, EV_READ);
      event_base_loopexit(s->base, NULL);
      return;
    }
    /* Requests and readiness questions alike: the answer is where the leader is. */
    if (h.type == API_MSG_REQUEST || h.type == API_MSG_READY) answer(s, bev, h.id);
    ipc_payload_free(payload, h.len);
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev, (void)what;
  lisecd_standby *s = arg;
  s->lost = true; /* the front stopped or is gone: the parent stops lisecd */
  event_base_loopexit(s->base, NULL);
}

/* Promotion: ends the loop once no channel holds a part of a message read
 * and every reply left. Until then it looks again every few milliseconds. */
static void on_drain(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  lisecd_standby *s = arg;
  for (int i = 0; i < s->n; i++) {
    if (evbuffer_get_length(bufferevent_get_input(s->bevs[i])) ||
        evbuffer_get_length(bufferevent_get_output(s->bevs[i]))) {
      struct timeval again = {0, 5000};
      event_add(s->drain_ev, &again);
      return;
    }
  }
  event_base_loopbreak(s->base);
}

static void *standby_main(void *arg) {
  lisecd_standby *s = arg;
  event_base_dispatch(s->base);
  return NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void process_init(void) { evthread_use_pthreads(); }

void lisecd_standby_free(lisecd_standby *s) {
  if (!s) return;
  for (int i = 0; s->bevs && i < s->n; i++)
    if (s->bevs[i]) bufferevent_free(s->bevs[i]); /* the descriptors stay open */
  free(s->bevs);
  if (s->drain_ev) event_free(s->drain_ev);
  if (s->base) event_base_free(s->base);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int lisecd_standby_start(const int *fds, int n, size_t max_body, lisecd_standby **out, lisec_err *err) {
  pthread_once(&once, process_init);
  lisecd_standby *s = calloc(1, sizeof *s);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&s->mu, NULL);
  s->n = n;
  s->max_body = max_body;
  s->base = event_base_new();
  s->bevs = calloc((size_t)n, sizeof *s->bevs);
  s->drain_ev = s->base ? evtimer_new(s->base, on_drain, s) : NULL;
  int rc = s->base && s->bevs && s->drain_ev ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (int i = 0; rc == 0 && i < n; i++) {
    /* no BEV_OPT_CLOSE_ON_FREE: the channels go on to the controller */
    if (evutil_make_socket_nonblocking(fds[i]) != 0 || !(s->bevs[i] = bufferevent_socket_new(s->base, fds[i], 0)))
      rc = lisec_err_set(err, LISEC_ENOMEM, "cannot watch a channel from the front");
    else {
      bufferevent_setcb(s->bevs[i], on_read, NULL, on_event, s);
      bufferevent_enable(s->bevs[i], EV_READ);
    }
  }
  if (rc == 0 && pthread_create(&s->thread, NULL, standby_main, s) != 0)
    rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start the standby's thread");
  if (rc) {
    lisecd_standby_free(s);
    return rc;
  }
  s->started = true;
  *out = s;
  return 0;
}

void lisecd_standby_leader(lisecd_standby *s, const char *url) {
  pthread_mutex_lock(&s->mu);
  snprintf(s->leader, sizeof s->leader, "%s", url ? url : "");
  pthread_mutex_unlock(&s->mu);
}

bool lisecd_standby_lost(lisecd_standby *s) { return s->lost; }

void lisecd_standby_stop(lisecd_standby *s) {
  if (!s) return;
  if (s->started) {
    struct timeval now = {0, 0};
    event_add(s->drain_ev, &now); /* event_add is thread-safe with evthread on */
    pthread_join(s->thread, NULL);
  }
  lisecd_standby_free(s);
}
