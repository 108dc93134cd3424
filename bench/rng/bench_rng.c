/* Benchmarks for bench/rng/run. `throughput`: liblisec-rng beside OpenSSL's
 * RAND_bytes and getrandom() in the same process, 32-byte and 4 KiB requests,
 * one and two threads. `check`: the per-call cost of clone detection.
 * `genid`: the time from a generation-id change to the first output that
 * is reseeded. `seeds`: seeds per second from lisec-entropyd over kept-alive
 * mutually authenticated TLS connections. */
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lisec/rng.h"
#include "rng/libos.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct job {
  int kind; /* 0 lisec, 1 RAND_bytes, 2 getrandom */
  size_t size;
  double secs;
  uint64_t ops;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  uint8_t buf[4096];
  double end = now_s() + j->secs;
  uint64_t ops = 0;
  while ((ops & 1023) != 0 || now_s() < end) {
    int ok;
    if (j->kind == 0) ok = lisec_rng_bytes(buf, j->size) == 0;
    else if (j->kind == 1) ok = RAND_bytes(buf, (int)j->size) == 1;
    else ok = getrandom(buf, j->size, 0) == (ssize_t)j->size;
    if (!ok) {
      fprintf(stderr, "generator %d failed\n", j->kind);
      exit(2);
    }
    ops++;
  }
  j->ops = ops;
  return NULL;
}

static double rate(int kind, size_t size, int threads, double secs) {
  job jobs[8];
  pthread_t th[8];
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){.kind = kind, .size = size, .secs = secs};
    pthread_create(&th[i], NULL, run_job, &jobs[i]);
  }
  uint64_t ops = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    ops += jobs[i].ops;
  }
  return (double)ops / secs;
}

static int cmd_throughput(double secs) {
  static const char *names[] = {"liblisec-rng", "RAND_bytes", "getrandom"};
  printf("%-8s %-7s %14s %14s %14s %10s %10s\n", "size", "threads", names[0], names[1], names[2],
         "vs RAND", "vs getrnd");
  size_t sizes[] = {32, 4096};
  for (int si = 0; si < 2; si++)
    for (int t = 1; t <= 2; t++) {
      double r[3];
      for (int k = 0; k < 3; k++) r[k] = rate(k, sizes[si], t, secs);
      printf("%-8zu %-7d %12.0f/s %12.0f/s %12.0f/s %9.2fx %9.2fx\n", sizes[si], t, r[0], r[1], r[2],
             r[0] / r[1], r[0] / r[2]);
    }
  return 0;
}

static int cmd_check(void) {
  const int n = 20000000;
  /* Warm up, then time the detection entry point alone. */
  for (int i = 0; i < 1000; i++) lisec_rng_check();
  double t0 = now_s();
  for (int i = 0; i < n; i++) lisec_rng_check();
  double t1 = now_s();
  rngl_detect d;
  lisec_err err = {0};
  if (rngl_detect_init(&d, NULL, 10, 1000, &err) != 0) return 2;
  double t2 = now_s();
  int hits = 0;
  for (int i = 0; i < n; i++)
    if (rngl_detect_fast(&d)) {
      hits++;
      rngl_detect_slow(&d);
    }
  double t3 = now_s();
  rngl_detect_free(&d);
  printf("clone detection per call: %.1f ns (lisec_rng_check: thread lookup + wipe-on-fork page + "
         "coarse clocks), %.1f ns (detector fast path alone; %d slow checks in %d calls)\n",
         (t1 - t0) * 1e9 / n, (t3 - t2) * 1e9 / n, hits, n);
  return 0;
}

static int cmd_genid(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return 2;
  fputs("generation-A\n", f);
  fclose(f);
  uint8_t buf[32];
  if (lisec_rng_bytes(buf, sizeof buf) != 0) return 2;
  const int rounds = 20;
  double total_plain = 0, worst_plain = 0, total_key = 0;
  for (int r = 0; r < rounds; r++) {
    f = fopen(path, "w");
    fprintf(f, "generation-%d\n", r);
    fclose(f);
    double t0 = now_s();
    /* Ordinary output: lisec_rng_check() is the detection every output
     * call runs first; it returns 1 on the call that handled the event. */
    while (lisec_rng_check() != 1) {
    }
    double dt = now_s() - t0;
    total_plain += dt;
    if (dt > worst_plain) worst_plain = dt;
    /* Key generation: runs the full check itself. */
    f = fopen(path, "w");
    fprintf(f, "generation-k%d\n", r);
    fclose(f);
    t0 = now_s();
    int rc = lisec_rng_keygen_bytes(buf, sizeof buf);
    total_key += now_s() - t0;
    if (rc != 0) {
      fprintf(stderr, "keygen after change: %s\n", lisec_rng_last_error());
      return 2;
    }
  }
  printf("generation-id change -> first reseeded output: keygen %.1f us mean (incl. any external "
         "seed fetch); ordinary output %.2f ms mean, %.2f ms worst (bounded by the %s check "
         "interval)\n",
         total_key / rounds * 1e6, total_plain / rounds * 1e3, worst_plain * 1e3, "10 ms");
  return 0;
}

typedef struct seeder {
  rngl_ext x;
  uint8_t instance[RNG_ID_LEN];
  double secs;
  uint64_t ok, failed;
} seeder;

static void *run_seeder(void *arg) {
  seeder *s = arg;
  double end = now_s() + s->secs;
  uint64_t counter = (uint64_t)time(NULL) * 1000000000ull;
  while (now_s() < end) {
    rng_msg req = {.type = RNG_MSG_REQUEST, .want = 48, .counter = ++counter}, rep;
    if (rngl_getrandom(req.nonce, sizeof req.nonce, NULL) != 0) break;
    memcpy(req.instance, s->instance, sizeof req.instance); /* one stream per connection */
    lisec_err err = {0};
    if (rngl_ext_fetch(&s->x, &req, &rep, 5000, &err) == 0) s->ok++;
    else {
      s->failed++;
      if (s->failed < 3) fprintf(stderr, "seed fetch: %s\n", err.msg);
    }
  }
  rngl_ext_free(&s->x);
  return NULL;
}

static int cmd_seeds(const char *addr, const char *cert, const char *key, const char *ca,
                     int conns, double secs) {
  seeder s[64];
  pthread_t th[64];
  if (conns < 1 || conns > 64) return 2;
  for (int i = 0; i < conns; i++) {
    memset(&s[i], 0, sizeof s[i]);
    rngl_ext_init(&s[i].x);
    snprintf(s[i].x.addr, sizeof s[i].x.addr, "%s", addr);
    snprintf(s[i].x.cert, sizeof s[i].x.cert, "%s", cert);
    snprintf(s[i].x.key, sizeof s[i].x.key, "%s", key);
    snprintf(s[i].x.ca, sizeof s[i].x.ca, "%s", ca);
    s[i].secs = secs;
    rngl_getrandom(s[i].instance, sizeof s[i].instance, NULL);
    pthread_create(&th[i], NULL, run_seeder, &s[i]);
  }
  uint64_t ok = 0, failed = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(th[i], NULL);
    ok += s[i].ok;
    failed += s[i].failed;
  }
  printf("lisec-entropyd seeds over TLS keep-alive: %.0f seeds/s (%d connections, %.0f s, %llu "
         "failed)\n",
         (double)ok / secs, conns, secs, (unsigned long long)failed);
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "throughput") == 0)
    return cmd_throughput(argc > 2 ? atof(argv[2]) : 1.0);
  if (argc >= 2 && strcmp(argv[1], "check") == 0) return cmd_check();
  if (argc >= 3 && strcmp(argv[1], "genid") == 0) return cmd_genid(argv[2]);
  if (argc >= 8 && strcmp(argv[1], "seeds") == 0)
    return cmd_seeds(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), atof(argv[7]));
  fprintf(stderr, "usage: bench_rng throughput [SECS] | check | genid FILE |\n"
                  "       seeds ADDR CERT KEY CA CONNS SECS\n");
  return 2;
}
