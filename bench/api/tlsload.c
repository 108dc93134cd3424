/* A small HTTPS load generator that presents a client certificate (wrk
 * cannot): T threads, each holding C keep-alive TLS 1.3 connections, send
 * GET PATH on every connection, then read every reply, round after round,
 * for at most SECONDS or MAX requests in all; it prints requests per second,
 * the count, and the failures. T x C requests are in flight at once, as with
 * wrk -tT -c(T*C). The same binary drives lisecd and nginx, so the ratio is
 * fair. With TLSLOAD_BODIES=FILE it POSTs JSON instead, one line of FILE per
 * request in turn (the decisions of bench/api's load run). Every request's
 * latency (its write to the end of its reply) is kept, and the client's own
 * CPU time (user + system, getrusage) is printed with the rate: on a 2-core
 * machine the client takes its share of the cores from the server.
 *
 * With TLSLOAD_RATE=R the load is open instead of closed: each thread (one
 * connection each) sends at R / THREADS requests a second on a fixed
 * schedule, the threads' schedules staggered, and a request's latency is
 * counted from the moment it was due, not from its write, so a request that
 * waited behind a slow one counts that wait (as wrk2 does). A closed loop
 * at saturation measures queueing (clients / rate), so its latency moves
 * with the throughput; at a rate the server can carry, latency is the
 * server's own delay, and how other work stretches it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REPLY_MAX 16384
#define BODIES_MAX 100000
#define BODY_LEN_MAX 1024
#define LAT_MAX 4000000 /* latencies kept; past it the rate is still counted */

static SSL_CTX *ctx;
static int port, conns_per_thread;
static const char *path;
static double seconds, rate;
static int nthreads;
static pthread_barrier_t connected; /* open loop: the schedules start together */
static long max_requests;
static atomic_long done_requests, failures;
static char **bodies; /* POST bodies (TLSLOAD_BODIES), or NULL for GET */
static size_t nbodies;
static atomic_size_t next_body;
static float *lat_us;
static atomic_size_t nlat;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL *connect_tls(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return NULL;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return close(fd), NULL;
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    close(fd);
    return NULL;
  }
  return ssl;
}

static void disconnect(SSL *ssl) {
  if (!ssl) return;
  int fd = SSL_get_fd(ssl);
  SSL_free(ssl);
  close(fd);
}

/* Reads one reply: the header block, then Content-Length bytes of body.
 * 0 for a 200, -1 for anything else or a broken connection. */
static int read_response(SSL *ssl, char *buf, size_t cap) {
  size_t have = 0;
  for (;;) {
    if (have + 1 >= cap) return -1;
    int n = SSL_read(ssl, buf + have, (int)(cap - have - 1));
    if (n <= 0) return -1;
    have += (size_t)n;
    buf[have] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t body = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t want = (size_t)(end + 4 - buf) + body;
    if (have >= want) return have == want && strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
  }
}

/* The next request into req: GET PATH, or POST PATH with the next body. */
static int next_request(char *req, size_t cap) {
  if (!bodies) return snprintf(req, cap, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
  const char *b = bodies[atomic_fetch_add(&next_body, 1) % nbodies];
  return snprintf(req, cap,
                  "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n%s",
                  path, strlen(b), b);
}

static void keep_latency(double seconds_taken) {
  size_t i = atomic_fetch_add(&nlat, 1);
  if (i < LAT_MAX) lat_us[i] = (float)(seconds_taken * 1e6);
}

static void *worker(void *arg) {
  (void)arg;
  char req[BODY_LEN_MAX + 512], *buf = malloc(REPLY_MAX);
  int len = 0;
  double sent_at[MAX_CONNS] = {0};
  SSL *ssl[MAX_CONNS] = {0};
  int open = 0;
  for (int i = 0; i < conns_per_thread; i++)
    if ((ssl[i] = connect_tls())) open++;
    else atomic_fetch_add(&failures, 1);
  double deadline = now() + seconds;
  while (buf && open && now() < deadline) {
    /* One request on every connection, then every reply. */
    int sent[MAX_CONNS] = {0};
    for (int i = 0; i < conns_per_thread; i++) {
      if (!ssl[i] || atomic_fetch_add(&done_requests, 1) >= max_requests) continue;
      len = next_request(req, sizeof req);
      sent_at[i] = now();
      if (len > 0 && (size_t)len < sizeof req && SSL_write(ssl[i], req, len) == len) {
        sent[i] = 1;
      } else {
        atomic_fetch_sub(&done_requests, 1);
        atomic_fetch_add(&failures, 1);
        disconnect(ssl[i]), ssl[i] = NULL, open--;
      }
    }
    int any = 0;
    for (int i = 0; i < conns_per_thread; i++) {
      if (!sent[i]) continue;
      any = 1;
      if (read_response(ssl[i], buf, REPLY_MAX) != 0) {
        atomic_fetch_sub(&done_requests, 1);
        atomic_fetch_add(&failures, 1);
        disconnect(ssl[i]), ssl[i] = NULL, open--;
      } else {
        keep_latency(now() - sent_at[i]);
      }
    }
    if (!any) break; /* MAX reached */
  }
  for (int i = 0; i < conns_per_thread; i++) disconnect(ssl[i]);
  free(buf);
  return NULL;
}

/* Sleeps until the monotonic time at (seconds). */
static void sleep_until(double at) {
  struct timespec ts = {.tv_sec = (time_t)at, .tv_nsec = (long)((at - (double)(time_t)at) * 1e9)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
  }
}

/* Open loop (TLSLOAD_RATE): one connection, one request every THREADS / R
 * seconds from this thread's offset on, each latency counted from when it
 * was due. A connection that falls behind sends its next request at once. */
static void *paced_worker(void *arg) {
  int index = (int)(intptr_t)arg;
  char req[BODY_LEN_MAX + 512], *buf = malloc(REPLY_MAX);
  SSL *ssl = connect_tls();
  if (!ssl) atomic_fetch_add(&failures, 1);
  pthread_barrier_wait(&connected);
  double period = (double)nthreads / rate, start = now() + period * index / nthreads;
  double deadline = start + seconds;
  for (long k = 0; buf && ssl; k++) {
    double due = start + (double)k * period;
    if (due >= deadline || atomic_fetch_add(&done_requests, 1) >= max_requests) break;
    if (now() < due) sleep_until(due);
    int len = next_request(req, sizeof req);
    if (len <= 0 || (size_t)len >= sizeof req || SSL_write(ssl, req, len) != len ||
        read_response(ssl, buf, REPLY_MAX) != 0) {
      atomic_fetch_sub(&done_requests, 1);
      atomic_fetch_add(&failures, 1);
      break;
    }
    keep_latency(now() - due);
  }
  disconnect(ssl);
  free(buf);
  return NULL;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Reads up to BODIES_MAX lines of at most BODY_LEN_MAX bytes. */
static int load_bodies(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return -1;
  bodies = calloc(BODIES_MAX, sizeof *bodies);
  char line[BODY_LEN_MAX + 2];
  while (bodies && nbodies < BODIES_MAX && fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n");
    if (n == 0 || n > BODY_LEN_MAX) continue;
    line[n] = 0;
    bodies[nbodies++] = strdup(line);
  }
  fclose(f);
  return nbodies ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: tlsload PORT PATH CA CERT KEY THREADS CONNS_PER_THREAD SECONDS MAX_REQUESTS\n");
    return 2;
  }
  /* a server that closes a connection must count as a failure, not end
   * the client with SIGPIPE */
  signal(SIGPIPE, SIG_IGN);
  port = atoi(argv[1]);
  path = argv[2];
  int threads = nthreads = atoi(argv[6]);
  conns_per_thread = atoi(argv[7]);
  seconds = atof(argv[8]);
  max_requests = atol(argv[9]);
  if (threads < 1 || threads > 64 || conns_per_thread < 1 || conns_per_thread > MAX_CONNS ||
      seconds <= 0 || max_requests < 1 || strlen(path) > 256)
    return fprintf(stderr, "tlsload: bad arguments\n"), 2;
  const char *rs = getenv("TLSLOAD_RATE");
  rate = rs && *rs ? atof(rs) : 0;
  if (rs && *rs && (rate <= 0 || conns_per_thread != 1))
    return fprintf(stderr, "tlsload: TLSLOAD_RATE wants a positive rate and one connection a thread\n"), 2;
  if (rate > 0) {
    /* the schedule's wake-ups to the microsecond, not the default 50 us slack */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    pthread_barrier_init(&connected, NULL, (unsigned)threads);
  }
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1 ||
      SSL_CTX_use_certificate_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "tlsload: cannot load CA, certificate or key\n");
    return 2;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  const char *bf = getenv("TLSLOAD_BODIES");
  if (bf && *bf && load_bodies(bf) != 0) return fprintf(stderr, "tlsload: no bodies in %s\n", bf), 2;
  lat_us = malloc(LAT_MAX * sizeof *lat_us);
  if (!lat_us) return fprintf(stderr, "tlsload: out of memory\n"), 2;
  pthread_t th[64];
  atomic_store(&done_requests, 0);
  double t0 = now();
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, rate > 0 ? paced_worker : worker, (void *)(intptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  if (rate > 0) pthread_barrier_destroy(&connected);
  double dt = now() - t0;
  long n = atomic_load(&done_requests);
  if (n > max_requests) n = max_requests;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  size_t k = atomic_load(&nlat);
  if (k > LAT_MAX) k = LAT_MAX;
  qsort(lat_us, k, sizeof *lat_us, cmp_float);
#define PCT(p) (k ? lat_us[(size_t)((double)(k - 1) * (p))] : 0.0f)
  /* rate, requests, failures, client CPU s, latency p50 p99 p99.9 max (us) */
  printf("%.0f %ld %ld %.3f %.0f %.0f %.0f %.0f\n", (double)n / dt, n, (long)atomic_load(&failures), cpu,
         PCT(0.5), PCT(0.99), PCT(0.999), PCT(1.0));
  free(lat_us);
  for (size_t i = 0; i < nbodies; i++) free(bodies[i]);
  free(bodies);
  SSL_CTX_free(ctx);
  return atomic_load(&failures) ? 1 : 0;
}
