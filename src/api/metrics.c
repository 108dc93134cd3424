/* Prometheus metrics of the API: requests by route and status, a latency
 * histogram, refused client certificates. Counters are atomics, so the worker
 * threads never wait on each other to count. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"

#define MAX_ROUTES 128
#define N_CLASSES 5 /* 1xx..5xx */

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

static atomic_ullong requests[MAX_ROUTES + 1][N_CLASSES];
static atomic_ullong buckets[N_BUCKETS + 1];
static atomic_ullong duration_sum_ns, request_count, tls_failures;

void api_metrics_record(int route_index, int status, uint64_t duration_ns) {
  int r = route_index >= 0 && route_index < MAX_ROUTES ? route_index : MAX_ROUTES;
  int c = status >= 100 && status < 600 ? status / 100 - 1 : N_CLASSES - 1;
  atomic_fetch_add_explicit(&requests[r][c], 1, memory_order_relaxed);
  double s = (double)duration_ns / 1e9;
  size_t b = 0;
  while (b < N_BUCKETS && s > bucket_le[b]) b++;
  atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&duration_sum_ns, duration_ns, memory_order_relaxed);
  atomic_fetch_add_explicit(&request_count, 1, memory_order_relaxed);
}

void api_metrics_cert_rejected(void) {
  atomic_fetch_add_explicit(&tls_failures, 1, memory_order_relaxed);
}

char *api_metrics_render(int64_t uptime_s) {
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  lisec_buf_printf(&b, "# HELP lisec_http_requests_total API requests by route and status class.\n"
                       "# TYPE lisec_http_requests_total counter\n");
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  for (size_t r = 0; r <= n && r <= MAX_ROUTES; r++) {
    size_t slot = r < n ? r : MAX_ROUTES;
    for (int c = 0; c < N_CLASSES; c++) {
      unsigned long long v = atomic_load(&requests[slot][c]);
      if (!v) continue;
      lisec_buf_printf(&b, "lisec_http_requests_total{method=\"%s\",route=\"%s\",code=\"%dxx\"} %llu\n",
                       r < n ? routes[r].method : "", r < n ? routes[r].pattern : "unmatched",
                       c + 1, v);
    }
  }
  lisec_buf_printf(&b, "# HELP lisec_http_request_duration_seconds Time to answer API requests.\n"
                       "# TYPE lisec_http_request_duration_seconds histogram\n");
  unsigned long long cum = 0;
  for (size_t i = 0; i < N_BUCKETS; i++) {
    cum += atomic_load(&buckets[i]);
    lisec_buf_printf(&b, "lisec_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i], cum);
  }
  cum += atomic_load(&buckets[N_BUCKETS]);
  lisec_buf_printf(&b, "lisec_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
  lisec_buf_printf(&b, "lisec_http_request_duration_seconds_sum %.9f\n",
                   (double)atomic_load(&duration_sum_ns) / 1e9);
  lisec_buf_printf(&b, "lisec_http_request_duration_seconds_count %llu\n",
                   (unsigned long long)atomic_load(&request_count));
  lisec_buf_printf(&b, "# HELP lisec_tls_client_cert_rejections_total Client certificates refused in TLS.\n"
                       "# TYPE lisec_tls_client_cert_rejections_total counter\n"
                       "lisec_tls_client_cert_rejections_total %llu\n",
                   (unsigned long long)atomic_load(&tls_failures));
  lisec_buf_printf(&b, "# HELP lisec_uptime_seconds Seconds since lisecd started.\n"
                       "# TYPE lisec_uptime_seconds gauge\nlisec_uptime_seconds %lld\n",
                   (long long)uptime_s);
  return (char *)b.data;
}
