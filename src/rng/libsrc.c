/* Raw entropy sources read straight from the OS and the CPU: getrandom(),
 * RDRAND and RDSEED (where the CPU has them, found with CPUID) and CPU timing
 * jitter. They hand out raw bytes; crediting and health testing is the
 * caller's (lisec-entropyd runs SP 800-90B tests on each, the VNF library
 * only hedges with them and credits nothing). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "rng/libos.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

bool rngl_cpu_has_rdrand(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c >> 30) & 1u;
}

bool rngl_cpu_has_rdseed(void) {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, NULL) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 18) & 1u;
}

__attribute__((target("rdrnd"))) static size_t rdrand_fill(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    unsigned long long v;
    int ok = 0;
    for (int tries = 0; tries < 10 && !ok; tries++) ok = _rdrand64_step(&v);
    if (!ok) break;
    size_t k = n - done < 8 ? n - done : 8;
    memcpy(p + done, &v, k);
    done += k;
  }
  return done;
}

__attribute__((target("rdseed"))) static size_t rdseed_fill(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    unsigned long long v;
    int ok = 0;
    /* RDSEED may run dry under contention; retry briefly, then give up. */
    for (int tries = 0; tries < 100 && !ok; tries++) {
      ok = _rdseed64_step(&v);
      if (!ok) _mm_pause();
    }
    if (!ok) break;
    size_t k = n - done < 8 ? n - done : 8;
    memcpy(p + done, &v, k);
    done += k;
  }
  return done;
}

size_t rngl_rdrand(void *buf, size_t n) {
  static int have = -1;
  if (have < 0) have = rngl_cpu_has_rdrand();
  return have ? rdrand_fill(buf, n) : 0;
}

size_t rngl_rdseed(void *buf, size_t n) {
  static int have = -1;
  if (have < 0) have = rngl_cpu_has_rdseed();
  return have ? rdseed_fill(buf, n) : 0;
}
#else
bool rngl_cpu_has_rdrand(void) { return false; }
bool rngl_cpu_has_rdseed(void) { return false; }
size_t rngl_rdrand(void *buf, size_t n) {
  (void)buf, (void)n;
  return 0;
}
size_t rngl_rdseed(void *buf, size_t n) {
  (void)buf, (void)n;
  return 0;
}
#endif

int rngl_getrandom(void *buf, size_t n, lisec_err *err) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return lisec_err_set(err, LISEC_EIO, "getrandom: %s", strerror(errno));
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

void rngl_jitter(uint8_t *samples, size_t n) {
  /* A memory walk whose duration varies with cache, TLB and pipeline state;
   * the low byte of each duration is one raw sample. */
  static _Thread_local uint8_t mem[16384];
  static _Thread_local size_t pos;
  for (size_t i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    size_t steps = 32 + (a.tv_nsec & 31);
    for (size_t s = 0; s < steps; s++) {
      pos = (pos + 4093 + mem[pos]) & (sizeof mem - 1);
      mem[pos] = (uint8_t)(mem[pos] + 1 + (uint8_t)s);
    }
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    uint64_t d = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
                 (uint64_t)a.tv_nsec;
    samples[i] = (uint8_t)d;
  }
}
