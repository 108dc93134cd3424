/* lisec-entropyd's observation port (plain HTTP on a loopback address, via
 * libevent's evhttp): /metrics in Prometheus text (each source's health-test
 * state, credited entropy, reseeds, seeds and bytes issued per client,
 * refusals by reason) and /v1/health as JSON with the findings the
 * controller should raise (an excluded source, the daemon not serving). */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entropyd.h"

static struct event_base *base;
static struct evhttp *http_srv;

static const char *const refusal_names[ED_REF_N] = {"unknown_client", "replay",      "rate",
                                                    "malformed",      "unhealthy",   "client_role",
                                                    "counter_ahead"};

static const char *source_state(const ed_source *s) {
  if (!s->enabled) return "disabled";
  if (!s->available) return "unavailable";
  return rng_health_state_name(s->health.state);
}

void ed_metrics_text(entropyd *d, lisec_buf *b) {
  pthread_mutex_lock(&d->lock);
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  int64_t now = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
  if (d->serving) ed_stale_locked(d);
  lisec_buf_printf(b, "# TYPE lisec_entropyd_serving gauge\nlisec_entropyd_serving %d\n",
                   d->serving ? 1 : 0);
  lisec_buf_printf(b, "lisec_entropyd_reseeds_total %llu\n", (unsigned long long)d->reseeds);
  lisec_buf_printf(b, "lisec_entropyd_pool_short_total %llu\n", (unsigned long long)d->pool_short);
  if (d->reseeds)
    lisec_buf_printf(b, "lisec_entropyd_seconds_since_reseed %.3f\n",
                     (double)(now - d->last_reseed_ms) / 1000.0);
  lisec_buf_printf(b, "lisec_entropyd_connections_total %llu\nlisec_entropyd_connections_active %d\n",
                   (unsigned long long)d->conns_total, atomic_load(&d->active_conns));
  pthread_mutex_lock(&d->conn_lock);
  uint64_t ref_max = d->conns_refused_max, ref_peer = d->conns_refused_peer, ref_cert = d->conns_refused_cert;
  pthread_mutex_unlock(&d->conn_lock);
  lisec_buf_printf(b,
                   "lisec_entropyd_connections_refused_total{reason=\"max_connections\"} %llu\n"
                   "lisec_entropyd_connections_refused_total{reason=\"per_peer\"} %llu\n"
                   "lisec_entropyd_connections_refused_total{reason=\"client_certificate\"} %llu\n",
                   (unsigned long long)ref_max, (unsigned long long)ref_peer, (unsigned long long)ref_cert);
  for (size_t i = 0; i < d->nsrc; i++) {
    const ed_source *s = &d->src[i];
    lisec_buf_printf(b, "lisec_entropyd_source_healthy{source=\"%s\"} %d\n", s->name,
                     s->enabled && s->available && s->health.state == RNG_HEALTH_OK);
    lisec_buf_printf(b, "lisec_entropyd_source_state{source=\"%s\",state=\"%s\"} 1\n", s->name,
                     source_state(s));
    if (!s->enabled) continue;
    lisec_buf_printf(b, "lisec_entropyd_source_min_entropy_bits{source=\"%s\"} %.3f\n", s->name, s->h);
    lisec_buf_printf(b, "lisec_entropyd_source_rct_cutoff{source=\"%s\"} %u\n", s->name,
                     s->health.rct_cutoff);
    lisec_buf_printf(b, "lisec_entropyd_source_apt_cutoff{source=\"%s\",window=\"%u\"} %u\n",
                     s->name, s->health.apt_window, s->health.apt_cutoff);
    lisec_buf_printf(b, "lisec_entropyd_source_samples_total{source=\"%s\"} %llu\n", s->name,
                     (unsigned long long)s->health.samples);
    lisec_buf_printf(b, "lisec_entropyd_source_credited_bits_total{source=\"%s\"} %.0f\n", s->name,
                     s->credited_bits);
    lisec_buf_printf(b, "lisec_entropyd_source_read_errors_total{source=\"%s\"} %llu\n", s->name,
                     (unsigned long long)s->read_errors);
  }
  for (size_t i = 0; i < d->nclients; i++) {
    const ed_client *c = &d->clients[i];
    /* An LI VNF's issuance goes to lisecd sealed to the LI administration;
     * a series here would name it and show its activity to whoever scrapes
     * the daemon (TR 103 308 §4.1). */
    if (c->li) continue;
    lisec_buf_printf(b, "lisec_entropyd_seeds_issued_total{client=\"%s\"} %llu\n", c->name,
                     (unsigned long long)c->seeds);
    lisec_buf_printf(b, "lisec_entropyd_seed_bytes_issued_total{client=\"%s\"} %llu\n", c->name,
                     (unsigned long long)c->bytes);
  }
  for (int r = 0; r < ED_REF_N; r++)
    lisec_buf_printf(b, "lisec_entropyd_requests_refused_total{reason=\"%s\"} %llu\n",
                     refusal_names[r], (unsigned long long)d->refused[r]);
  if (d->report_url[0]) {
    /* Reports to lisecd: what it acknowledged, what failed, and the seeds
     * issued that lisecd has not yet recorded. */
    uint64_t unacked = 0;
    /* Not the LI VNFs': beside each other client's own counter, the sum
     * would give theirs away. */
    for (size_t i = 0; i < d->nclients; i++)
      if (!d->clients[i].li) unacked += d->clients[i].seeds - d->clients[i].acked_seeds;
    lisec_buf_printf(b, "lisec_entropyd_reports_total{result=\"acknowledged\"} %llu\n",
                     (unsigned long long)d->reports_ok);
    lisec_buf_printf(b, "lisec_entropyd_reports_total{result=\"failed\"} %llu\n",
                     (unsigned long long)d->reports_failed);
    lisec_buf_printf(b, "lisec_entropyd_report_unacknowledged_seeds %llu\n",
                     (unsigned long long)unacked);
  }
  pthread_mutex_unlock(&d->lock);
}

void ed_health_json(entropyd *d, lisec_buf *b) {
  json_t *root = json_object(), *srcs = json_array(), *findings = json_array();
  pthread_mutex_lock(&d->lock);
  if (d->serving) ed_stale_locked(d);
  json_object_set_new(root, "serving", json_boolean(d->serving));
  json_object_set_new(root, "reseeds", json_integer((json_int_t)d->reseeds));
  for (size_t i = 0; i < d->nsrc; i++) {
    const ed_source *s = &d->src[i];
    json_t *o = json_pack("{s:s, s:s, s:b, s:f, s:I, s:I, s:I, s:I, s:I, s:f}", "source", s->name,
                          "state", source_state(s), "enabled", s->enabled, "min_entropy", s->h,
                          "rct_cutoff", (json_int_t)s->health.rct_cutoff, "apt_cutoff",
                          (json_int_t)s->health.apt_cutoff, "apt_window",
                          (json_int_t)s->health.apt_window, "samples",
                          (json_int_t)s->health.samples, "longest_run",
                          (json_int_t)s->health.rct_max_run, "credited_bits", s->credited_bits);
    if (s->reason[0]) json_object_set_new(o, "reason", json_string(s->reason));
    json_array_append_new(srcs, o);
    if (s->enabled && s->available && s->health.state != RNG_HEALTH_OK)
      json_array_append_new(findings,
                            json_pack("{s:s, s:s, s:s, s:s}", "severity", "high", "requirement",
                                      "TR103308-4.2", "subject", s->name, "detail", s->reason));
  }
  if (!d->serving)
    json_array_append_new(findings, json_pack("{s:s, s:s, s:s, s:s}", "severity", "critical",
                                              "requirement", "TR103308-4.2", "subject",
                                              "lisec-entropyd", "detail", d->unhealthy_reason));
  pthread_mutex_unlock(&d->lock);
  json_object_set_new(root, "sources", srcs);
  json_object_set_new(root, "findings", findings);
  char *s = lisec_json_dump_canonical(root);
  if (s) lisec_buf_printf(b, "%s\n", s);
  free(s);
  json_decref(root);
}

static void reply(struct evhttp_request *req, entropyd *d, bool json) {
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  if (json) ed_health_json(d, &b);
  else ed_metrics_text(d, &b);
  struct evbuffer *out = evbuffer_new();
  evbuffer_add(out, b.data, b.len);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    json ? "application/json" : "text/plain; version=0.0.4");
  evhttp_send_reply(req, 200, "OK", out);
  evbuffer_free(out);
  lisec_buf_free(&b);
}

static void on_request(struct evhttp_request *req, void *arg) {
  const char *uri = evhttp_request_get_uri(req);
  if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
    evhttp_send_error(req, 405, "GET only");
  } else if (strcmp(uri, "/metrics") == 0) {
    reply(req, arg, false);
  } else if (strcmp(uri, "/v1/health") == 0) {
    reply(req, arg, true);
  } else {
    evhttp_send_error(req, 404, "not found");
  }
}

static void *metrics_main(void *arg) {
  (void)arg;
  event_base_dispatch(base);
  return NULL;
}

int ed_metrics_start(entropyd *d, pthread_t *th, lisec_err *err) {
  evthread_use_pthreads();
  char host[256];
  const char *colon = strrchr(d->metrics_listen, ':');
  if (!colon || (size_t)(colon - d->metrics_listen) >= sizeof host)
    return lisec_err_set(err, LISEC_EINVAL, "[metrics] listen '%s' is not host:port",
                         d->metrics_listen);
  memcpy(host, d->metrics_listen, (size_t)(colon - d->metrics_listen));
  host[colon - d->metrics_listen] = '\0';
  base = event_base_new();
  struct evhttp *http = base ? evhttp_new(base) : NULL;
  if (!http || evhttp_bind_socket(http, host, (ev_uint16_t)atoi(colon + 1)) != 0) {
    if (http) evhttp_free(http);
    if (base) event_base_free(base);
    base = NULL;
    return lisec_err_set(err, LISEC_EIO, "[metrics] cannot listen on %s", d->metrics_listen);
  }
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET);
  evhttp_set_gencb(http, on_request, d);
  http_srv = http;
  if (pthread_create(th, NULL, metrics_main, NULL) != 0)
    return lisec_err_set(err, LISEC_EINTERNAL, "metrics thread");
  return 0;
}

void ed_metrics_stop(pthread_t th) {
  if (!base) return;
  event_base_loopbreak(base);
  pthread_join(th, NULL);
  evhttp_free(http_srv);
  event_base_free(base);
  http_srv = NULL;
  base = NULL;
}
