/* Benchmarks for bench/rng/run. `throughput`: liblisec-rng beside OpenSSL's
 * RAND_bytes, the getrandom system call and the vDSO's getrandom (called
 * through the vDSO directly, where the kernel has it: 6.11+) in the same
 * process, 32-byte and 4 KiB requests, one and two threads. `latency`: the
 * same four, 32-byte requests from many threads at once, each call timed:
 * p50, p99 and p99.9 per call. `check`: the per-call cost of clone detection.
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lisec/rng.h"
#include "rng/libos.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { GEN_LISEC, GEN_RAND_BYTES, GEN_SYSCALL, GEN_VDSO, GEN_COUNT };
static const char *const gen_names[GEN_COUNT] = {"liblisec-rng", "RAND_bytes", "getrandom(2)",
                                                 "vDSO getrandom"};

/* One request of n bytes from a generator; false on failure. The system
 * call is made as such (glibc >= 2.41 would route getrandom() through the
 * vDSO), the vDSO function is called through the pointer found in the vDSO
 * image (rngl_vgetrandom, this thread's state). */
static bool gen_call(int kind, uint8_t *buf, size_t n) {
  switch (kind) {
  case GEN_LISEC: return lisec_rng_bytes(buf, n) == 0;
  case GEN_RAND_BYTES: return RAND_bytes(buf, (int)n) == 1;
  case GEN_SYSCALL: return syscall(SYS_getrandom, buf, n, 0) == (long)n;
  case GEN_VDSO: return rngl_vgetrandom(buf, n) == (ssize_t)n;
  }
  return false;
}

typedef struct job {
  int kind; /* GEN_* */
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
    if (!gen_call(j->kind, buf, j->size)) {
      fprintf(stderr, "generator %d failed\n", j->kind);
      exit(2);
    }
    ops++;
  }
  j->ops = ops;
  return NULL;
}

/* The calling thread's CPU seconds. */
static double thread_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* This process's user+sys CPU seconds (all its threads). */
static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
  double t[64];
  memcpy(t, v, (size_t)n * sizeof *t);
  qsort(t, (size_t)n, sizeof *t, cmp_dbl);
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Requests per second of one generator; *cpu_ns gets the CPU per request. */
static double rate(int kind, size_t size, int threads, double secs, double *cpu_ns) {
  job jobs[8];
  pthread_t th[8];
  double c0 = cpu_s(), t0 = now_s();
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){.kind = kind, .size = size, .secs = secs};
    pthread_create(&th[i], NULL, run_job, &jobs[i]);
  }
  uint64_t ops = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    ops += jobs[i].ops;
  }
  double wall = now_s() - t0;
  *cpu_ns = (cpu_s() - c0) * 1e9 / (double)ops;
  return (double)ops / wall;
}

/* Every (size, threads) case in `rounds` rounds; in each round every
 * generator runs once, the order rotating from round to round, so a change
 * of load on the shared machine falls on all of them. Prints the median
 * rate and its spread, the median CPU per request, and the median of the
 * per-round ratios liblisec-rng / peer. */
static int cmd_throughput(double secs, int rounds) {
  if (rounds < 1 || rounds > 64) return 2;
  bool vdso = rngl_vdso_getrandom_available();
  int ng = vdso ? GEN_COUNT : GEN_VDSO;
  printf("(%d alternating rounds of %.2f s per generator and case; rate = median requests/s [min-max],"
         " cpu = median user+sys ns per request)\n", rounds, secs);
  size_t sizes[] = {32, 4096};
  for (int si = 0; si < 2; si++)
    for (int t = 1; t <= 2; t++) {
      double r[GEN_COUNT][64], c[GEN_COUNT][64], ratio[GEN_COUNT][64];
      for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < ng; i++) {
          int k = (i + round) % ng;
          r[k][round] = rate(k, sizes[si], t, secs, &c[k][round]);
        }
        for (int k = 1; k < ng; k++) ratio[k][round] = r[0][round] / r[k][round];
      }
      printf("%zu B, %d thread%s:\n", sizes[si], t, t > 1 ? "s" : "");
      for (int k = 0; k < ng; k++) {
        double lo = r[k][0], hi = r[k][0];
        for (int i = 1; i < rounds; i++) lo = r[k][i] < lo ? r[k][i] : lo, hi = r[k][i] > hi ? r[k][i] : hi;
        printf("  %-15s %12.0f/s [%.0f-%.0f]  cpu %7.0f ns", gen_names[k], median(r[k], rounds), lo, hi,
               median(c[k], rounds));
        if (k) printf("   liblisec-rng / this: %.2fx", median(ratio[k], rounds));
        printf("\n");
      }
    }
  if (!vdso) printf("(this kernel's vDSO has no getrandom: Linux < 6.11)\n");
  return 0;
}

typedef struct lat_job {
  int kind, calls;
  uint64_t *ns;
  pthread_barrier_t *start;
} lat_job;

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *run_lat(void *arg) {
  lat_job *j = arg;
  uint8_t buf[32];
  if (!gen_call(j->kind, buf, sizeof buf)) exit(2); /* per-thread setup outside the timing */
  pthread_barrier_wait(j->start);
  for (int i = 0; i < j->calls; i++) {
    uint64_t t0 = mono_ns();
    if (!gen_call(j->kind, buf, sizeof buf)) {
      fprintf(stderr, "%s failed\n", gen_names[j->kind]);
      exit(2);
    }
    j->ns[i] = mono_ns() - t0;
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Per-call latency of 32-byte requests, `threads` threads at once, `calls`
 * each; the timer's own cost (two vDSO clock reads) is in every figure.
 * `rounds` rounds, each running every generator once in a rotating order;
 * prints the median over rounds of each percentile (p99.9's spread beside
 * it) and the CPU per call. */
static int cmd_latency(int threads, int calls, int rounds) {
  if (threads < 1 || threads > 64 || calls < 1000 || rounds < 1 || rounds > 64) return 2;
  bool vdso = rngl_vdso_getrandom_available();
  int ng = vdso ? GEN_COUNT : GEN_VDSO;
  double p50[GEN_COUNT][64], p99[GEN_COUNT][64], p999[GEN_COUNT][64], cpu[GEN_COUNT][64], cps[GEN_COUNT][64];
  size_t n = (size_t)threads * (size_t)calls;
  uint64_t *all = calloc(n, sizeof *all);
  if (!all) return 2;
  for (int round = 0; round < rounds; round++)
    for (int i = 0; i < ng; i++) {
      int k = (i + round) % ng;
      pthread_barrier_t start;
      pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
      lat_job jobs[64];
      pthread_t th[64];
      for (int j = 0; j < threads; j++) {
        jobs[j] = (lat_job){.kind = k, .calls = calls, .ns = all + (size_t)j * calls, .start = &start};
        pthread_create(&th[j], NULL, run_lat, &jobs[j]);
      }
      pthread_barrier_wait(&start);
      double t0 = now_s(), c0 = cpu_s();
      for (int j = 0; j < threads; j++) pthread_join(th[j], NULL);
      double wall = now_s() - t0;
      cpu[k][round] = (cpu_s() - c0) * 1e9 / (double)n;
      pthread_barrier_destroy(&start);
      qsort(all, n, sizeof *all, cmp_u64);
      p50[k][round] = (double)all[n / 2];
      p99[k][round] = (double)all[n * 99 / 100];
      p999[k][round] = (double)all[n * 999 / 1000];
      cps[k][round] = (double)n / wall;
    }
  free(all);
  printf("%-15s %8s %8s %9s %17s %10s %12s   (32-byte requests, %d threads x %d calls, median of %d "
         "alternating rounds)\n",
         "generator", "p50 ns", "p99 ns", "p99.9 ns", "p99.9 spread", "cpu ns", "calls/s", threads, calls,
         rounds);
  for (int k = 0; k < ng; k++) {
    double lo = p999[k][0], hi = p999[k][0];
    for (int i = 1; i < rounds; i++) lo = p999[k][i] < lo ? p999[k][i] : lo, hi = p999[k][i] > hi ? p999[k][i] : hi;
    char spread[40];
    snprintf(spread, sizeof spread, "%.0f-%.0f", lo, hi);
    printf("%-15s %8.0f %8.0f %9.0f %17s %10.0f %12.0f\n", gen_names[k], median(p50[k], rounds),
           median(p99[k], rounds), median(p999[k], rounds), spread, median(cpu[k], rounds),
           median(cps[k], rounds));
  }
  if (!vdso) printf("%-15s (this kernel's vDSO has no getrandom)\n", gen_names[GEN_VDSO]);
  printf("p99.9 ratio liblisec-rng / peer (median): RAND_bytes %.2fx, getrandom(2) %.2fx",
         median(p999[0], rounds) / median(p999[1], rounds), median(p999[0], rounds) / median(p999[2], rounds));
  if (vdso) printf(", vDSO getrandom %.2fx", median(p999[0], rounds) / median(p999[3], rounds));
  printf("\n");
  return 0;
}

static int cmd_check(void) {
  const int n = 20000000;
  /* Warm up, then time the detection entry point alone. */
  for (int i = 0; i < 1000; i++) lisec_rng_check();
  double t0 = now_s(), u0 = thread_cpu_s();
  for (int i = 0; i < n; i++) lisec_rng_check();
  double t1 = now_s(), u1 = thread_cpu_s();
  rngl_detect d;
  lisec_err err = {0};
  if (rngl_detect_init(&d, NULL, 10, 1000, &err) != 0) return 2;
  double t2 = now_s(), u2 = thread_cpu_s();
  int hits = 0;
  for (int i = 0; i < n; i++)
    if (rngl_detect_fast(&d)) {
      hits++;
      rngl_detect_slow(&d);
    }
  double t3 = now_s(), u3 = thread_cpu_s();
  rngl_detect_free(&d);
  printf("clone detection per call: %.1f ns (lisec_rng_check: thread lookup + wipe-on-fork page + "
         "coarse clocks), %.1f ns (detector fast path alone; %d slow checks in %d calls)\n",
         (t1 - t0) * 1e9 / n, (t3 - t2) * 1e9 / n, hits, n);
  printf("  the same per CPU time of the calling thread: %.1f ns, %.1f ns (wall counts the time other work "
         "on the machine took the core)\n",
         (u1 - u0) * 1e9 / n, (u3 - u2) * 1e9 / n);
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
    return cmd_throughput(argc > 2 ? atof(argv[2]) : 1.0, argc > 3 ? atoi(argv[3]) : 5);
  if (argc >= 2 && strcmp(argv[1], "latency") == 0)
    return cmd_latency(argc > 2 ? atoi(argv[2]) : 16, argc > 3 ? atoi(argv[3]) : 20000, argc > 4 ? atoi(argv[4]) : 3);
  if (argc >= 2 && strcmp(argv[1], "check") == 0) return cmd_check();
  if (argc >= 3 && strcmp(argv[1], "genid") == 0) return cmd_genid(argv[2]);
  if (argc >= 8 && strcmp(argv[1], "seeds") == 0)
    return cmd_seeds(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), atof(argv[7]));
  fprintf(stderr, "usage: bench_rng throughput [SECS [ROUNDS]] | latency [THREADS [CALLS [ROUNDS]]] | check |\n"
                  "       genid FILE |\n"
                  "       seeds ADDR CERT KEY CA CONNS SECS\n");
  return 2;
}
