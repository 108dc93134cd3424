/* Prometheus metrics of the API (the front's part of GET /metrics, after
 * the controller's domain metrics, ctl/metrics.c): requests by route and status code, a
 * latency histogram, TLS handshakes (completed, failed), refused client
 * certificates, connections closed by the server's limits and refusals held
 * back by the per-certificate limit. Counters are atomics, so worker threads
 * never wait on each other to count. Per-route counts of LI routes tell how
 * often targets were added or LI VMs paired: only the LI administration
 * reads them; other roles see their sum without any label. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* The statuses lisecd answers with; anything else is counted as "other". */
static const int statuses[] = {200, 201, 204, 400, 403, 404, 405, 409, 413, 429, 500, 503};
#define N_STATUS (sizeof statuses / sizeof statuses[0] + 1)

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

/* The last row counts requests that matched no route. */
static atomic_ullong requests[API_ROUTES_MAX + 1][N_STATUS];
static atomic_ullong buckets[N_BUCKETS + 1];
static atomic_ullong duration_sum_ns, request_count;
static atomic_ullong handshakes_ok, handshakes_failed, certs_rejected;
static atomic_ullong conn_events[API_CONN_N], refusals_limited;
static atomic_llong conns_open;

bool api_route_is_li(const api_route *route) {
  static const char *const li_paths[] = {"/v1/li/", "/v1/targets", "/v1/vault/", "/v1/x1/", "/v1/tasks"};
  if (route->roles == API_ROLE_LI_ADMIN) return true;
  if (strcmp(route->pattern, "/v1/li") == 0) return true;
  for (size_t i = 0; i < LISEC_ARRAY_LEN(li_paths); i++)
    if (strncmp(route->pattern, li_paths[i], strlen(li_paths[i])) == 0) return true;
  return false;
}

bool api_request_withheld(const api_route *route, const char *role) {
  return (route && api_route_is_li(route)) || (role && strcmp(role, "li-admin") == 0);
}

static size_t status_slot(int status) {
  for (size_t i = 0; i < N_STATUS - 1; i++)
    if (statuses[i] == status) return i;
  return N_STATUS - 1;
}

void api_metrics_record(int route_index, int status, uint64_t duration_ns) {
  size_t r = route_index >= 0 && route_index < API_ROUTES_MAX ? (size_t)route_index : API_ROUTES_MAX;
  atomic_fetch_add_explicit(&requests[r][status_slot(status)], 1, memory_order_relaxed);
  double s = (double)duration_ns / 1e9;
  size_t b = 0;
  while (b < N_BUCKETS && s > bucket_le[b]) b++;
  atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&duration_sum_ns, duration_ns, memory_order_relaxed);
  atomic_fetch_add_explicit(&request_count, 1, memory_order_relaxed);
}

void api_metrics_handshake(bool ok) {
  atomic_fetch_add_explicit(ok ? &handshakes_ok : &handshakes_failed, 1, memory_order_relaxed);
}

void api_metrics_cert_rejected(void) {
  atomic_fetch_add_explicit(&certs_rejected, 1, memory_order_relaxed);
}

void api_metrics_conn(api_conn_event what) {
  if (what < API_CONN_N) atomic_fetch_add_explicit(&conn_events[what], 1, memory_order_relaxed);
}

void api_metrics_conn_open(int delta) {
  atomic_fetch_add_explicit(&conns_open, delta, memory_order_relaxed);
}

void api_metrics_refusal_limited(void) {
  atomic_fetch_add_explicit(&refusals_limited, 1, memory_order_relaxed);
}

static void render_requests(lisec_buf *b, bool li_view) {
  lisec_buf_printf(b, "# HELP lisec_http_requests_total API requests by route and status code.\n"
                      "# TYPE lisec_http_requests_total counter\n");
  size_t n = 0;
  unsigned long long li_sum = 0;
  const api_route *routes = api_route_table(&n);
  for (size_t r = 0; r <= n && r <= API_ROUTES_MAX; r++) {
    size_t row = r < n ? r : API_ROUTES_MAX;
    bool hidden = r < n && !li_view && api_route_is_li(&routes[r]);
    for (size_t c = 0; c < N_STATUS; c++) {
      unsigned long long v = atomic_load(&requests[row][c]);
      if (!v) continue;
      if (hidden) {
        li_sum += v;
        continue;
      }
      char code[8];
      if (c < N_STATUS - 1) snprintf(code, sizeof code, "%d", statuses[c]);
      else snprintf(code, sizeof code, "other");
      lisec_buf_printf(b, "lisec_http_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} %llu\n",
                       r < n ? routes[r].method : "", r < n ? routes[r].pattern : "unmatched", code, v);
    }
  }
  if (li_view) return;
  lisec_buf_printf(b, "# HELP lisec_http_li_requests_total API requests on LI routes, all routes and "
                      "codes together (per route for li-admin only).\n"
                      "# TYPE lisec_http_li_requests_total counter\n"
                      "lisec_http_li_requests_total %llu\n",
                   li_sum);
}

static void render_limits(lisec_buf *b) {
  static const char *const why[API_CONN_N] = {"at_cap", "evicted", "handshake_timeout", "accept_error",
                                                    "client_cap"};
  lisec_buf_printf(b, "# HELP lisec_connections_open Client connections open now.\n"
                      "# TYPE lisec_connections_open gauge\nlisec_connections_open %lld\n",
                   (long long)atomic_load(&conns_open));
  lisec_buf_printf(b, "# HELP lisec_connections_closed_total Connections refused or closed by the "
                      "server's limits, by reason.\n"
                      "# TYPE lisec_connections_closed_total counter\n");
  for (size_t i = 0; i < API_CONN_N; i++)
    lisec_buf_printf(b, "lisec_connections_closed_total{reason=\"%s\"} %llu\n", why[i],
                     (unsigned long long)atomic_load(&conn_events[i]));
  lisec_buf_printf(b, "# HELP lisec_http_refusals_limited_total Refusals answered 429 and not recorded "
                      "(per-certificate limit).\n"
                      "# TYPE lisec_http_refusals_limited_total counter\n"
                      "lisec_http_refusals_limited_total %llu\n",
                   (unsigned long long)atomic_load(&refusals_limited));
}

static void render_latency(lisec_buf *b) {
  lisec_buf_printf(b, "# HELP lisec_http_request_duration_seconds Time to answer API requests.\n"
                      "# TYPE lisec_http_request_duration_seconds histogram\n");
  unsigned long long cum = 0;
  for (size_t i = 0; i < N_BUCKETS; i++) {
    cum += atomic_load(&buckets[i]);
    lisec_buf_printf(b, "lisec_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i], cum);
  }
  cum += atomic_load(&buckets[N_BUCKETS]);
  lisec_buf_printf(b, "lisec_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
  lisec_buf_printf(b, "lisec_http_request_duration_seconds_sum %.9f\n",
                   (double)atomic_load(&duration_sum_ns) / 1e9);
  lisec_buf_printf(b, "lisec_http_request_duration_seconds_count %llu\n",
                   (unsigned long long)atomic_load(&request_count));
}

char *api_metrics_render(int64_t uptime_s, bool li_view) {
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  render_requests(&b, li_view);
  render_latency(&b);
  render_limits(&b);
  lisec_buf_printf(&b,
                   "# HELP lisec_tls_handshakes_total TLS handshakes by result.\n"
                   "# TYPE lisec_tls_handshakes_total counter\n"
                   "lisec_tls_handshakes_total{result=\"ok\"} %llu\n"
                   "lisec_tls_handshakes_total{result=\"failed\"} %llu\n",
                   (unsigned long long)atomic_load(&handshakes_ok),
                   (unsigned long long)atomic_load(&handshakes_failed));
  lisec_buf_printf(&b,
                   "# HELP lisec_tls_client_cert_rejections_total Client certificates refused in TLS.\n"
                   "# TYPE lisec_tls_client_cert_rejections_total counter\n"
                   "lisec_tls_client_cert_rejections_total %llu\n",
                   (unsigned long long)atomic_load(&certs_rejected));
  lisec_buf_printf(&b, "# HELP lisec_uptime_seconds Seconds since lisecd started.\n"
                       "# TYPE lisec_uptime_seconds gauge\nlisec_uptime_seconds %lld\n",
                   (long long)uptime_s);
  return (char *)b.data;
}

char *api_metrics_join(const char *ctl_text, size_t ctl_len, bool li_view, size_t *out_len) {
  char *mine = api_metrics_render(api_metrics_uptime_seconds(), li_view);
  size_t n = mine ? strlen(mine) : 0;
  char *joined = mine ? malloc(ctl_len + n + 1) : NULL;
  if (joined) {
    if (ctl_len) memcpy(joined, ctl_text, ctl_len);
    memcpy(joined + ctl_len, mine, n + 1);
    *out_len = ctl_len + n;
  }
  free(mine);
  return joined;
}

static atomic_ullong started_ns;

void api_metrics_start(void) {
  unsigned long long zero = 0;
  atomic_compare_exchange_strong(&started_ns, &zero, (unsigned long long)lisec_time_mono_ns());
}

int64_t api_metrics_uptime_seconds(void) {
  unsigned long long t0 = atomic_load(&started_ns);
  return t0 ? (int64_t)((lisec_time_mono_ns() - t0) / 1000000000u) : 0;
}
