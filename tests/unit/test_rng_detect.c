/* The boot-id and clock-jump detectors of liblisec-rng (TR 103 308 §5.12,
 * the reset vulnerability): a changed boot id and a jump of CLOCK_REALTIME
 * or CLOCK_BOOTTIME against CLOCK_MONOTONIC (a pause, suspend or snapshot
 * restore) are each seen once, a change below the threshold is not, and
 * after either event key generation fails closed until a fresh external
 * seed has arrived, which then carries the new boot id. The boot id comes
 * from a file the test writes and the clocks get a test skew
 * (rngl_detect_test_inject), so the system clock is never touched; expected
 * boot-id bytes are parsed here from the UUID text, not by the code under
 * test. Also: when the periodic check falls due, or a clock jump shows, for
 * many threads at once, exactly one of them is told to run the slow check
 * (the others go on without the library lock); and the kernel's getrandom()
 * is reached through the vDSO where the running kernel exports it (6.11+). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "lisec/rng.h"
#include "rng/libdrbg.h"
#include "rng/libos.h"
#include <openssl/core_names.h>

#define SEC 1000000000LL

static char bootid_file[64];

static void write_bootid(const char *uuid) {
  FILE *f = fopen(bootid_file, "w");
  assert_non_null(f);
  fprintf(f, "%s\n", uuid);
  fclose(f);
}

/* The 16 bytes of a UUID's text, parsed independently of rngl_read_bootid. */
static void uuid_bytes(const char *uuid, uint8_t out[16]) {
  size_t n = 0;
  for (const char *p = uuid; *p && n < 16; p++) {
    if (*p == '-') continue;
    unsigned v;
    assert_int_equal(sscanf(p, "%2x", &v), 1);
    out[n++] = (uint8_t)v;
    p++;
  }
  assert_int_equal(n, 16);
}

static int setup_file(void **state) {
  (void)state;
  snprintf(bootid_file, sizeof bootid_file, "/tmp/lisec-bootid-XXXXXX");
  int fd = mkstemp(bootid_file);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static int teardown_file(void **state) {
  (void)state;
  unlink(bootid_file);
  return 0;
}

/* ---- the detector alone ------------------------------------------------ */

static void detector_bootid(void **state) {
  (void)state;
  rngl_detect d;
  lisec_err err = {0};
  assert_int_equal(rngl_detect_init(&d, NULL, 1, 1000, &err), 0);
  /* The real boot id was read at init from /proc. */
  uint8_t proc[16];
  assert_int_equal(rngl_read_bootid(RNGL_BOOTID_PATH, proc), 0);
  assert_memory_equal(d.bootid, proc, 16);

  const char *a = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", *b = "00112233-4455-6677-8899-aabbccddeeff";
  uint8_t ab[16], bb[16];
  uuid_bytes(a, ab);
  uuid_bytes(b, bb);
  write_bootid(a);
  rngl_detect_test_inject(&d, bootid_file, 0, 0);
  assert_memory_equal(d.bootid, ab, 16);
  assert_int_equal(rngl_detect_slow(&d) & RNGL_EV_BOOTID, 0); /* the baseline: no change */

  write_bootid(b);
  assert_int_equal(rngl_detect_slow(&d), RNGL_EV_BOOTID);
  assert_memory_equal(d.bootid, bb, 16);
  assert_int_equal(rngl_detect_slow(&d), 0); /* seen once */

  /* A file that does not hold a boot id is not a new boot. */
  write_bootid("not-a-uuid");
  assert_int_equal(rngl_detect_slow(&d), 0);
  assert_memory_equal(d.bootid, bb, 16);
  write_bootid(a);
  assert_int_equal(rngl_detect_slow(&d), RNGL_EV_BOOTID);
  rngl_detect_free(&d);
}

static void detector_clock(void **state) {
  (void)state;
  rngl_detect d;
  lisec_err err = {0};
  assert_int_equal(rngl_detect_init(&d, NULL, 1000, 1000, &err), 0);
  assert_false(rngl_detect_fast(&d));
  assert_int_equal(rngl_detect_slow(&d), 0);

  /* Real time 5 s ahead of the monotonic clock: the per-call check sees it
   * without waiting for its interval, the full check names it. */
  rngl_detect_test_inject(&d, NULL, 5 * SEC, 0);
  assert_true(rngl_detect_fast(&d));
  assert_int_equal(rngl_detect_slow(&d), RNGL_EV_CLOCK);
  assert_false(rngl_detect_fast(&d)); /* re-baselined: seen once */
  assert_int_equal(rngl_detect_slow(&d), 0);

  /* Below the 1000 ms threshold: an NTP slew, not a restore. */
  rngl_detect_test_inject(&d, NULL, 5 * SEC + SEC / 2, 0);
  assert_false(rngl_detect_fast(&d));
  assert_int_equal(rngl_detect_slow(&d), 0);

  /* Backwards counts too (a restore to an older snapshot's time). */
  rngl_detect_test_inject(&d, NULL, 2 * SEC, 0);
  assert_true(rngl_detect_fast(&d));
  assert_int_equal(rngl_detect_slow(&d), RNGL_EV_CLOCK);

  /* CLOCK_BOOTTIME ahead of CLOCK_MONOTONIC: the VM was suspended. The
   * per-call check reads only the coarse real-time clock, so the full
   * check (every interval) is the one that sees it. */
  rngl_detect_test_inject(&d, NULL, 2 * SEC, 3 * SEC);
  assert_int_equal(rngl_detect_slow(&d), RNGL_EV_CLOCK);
  assert_int_equal(rngl_detect_slow(&d), 0);
  rngl_detect_free(&d);
}

/* ---- through the library ----------------------------------------------- */

/* lisec_rng_check() runs the per-call check, which runs the full one once
 * its interval (1 ms here) has passed on the coarse monotonic clock (a few
 * ms resolution): wait that long before asking about a file change. */
static int check_after_interval(void) {
  usleep(30000);
  return lisec_rng_check();
}

static struct {
  bool fail;
  unsigned calls;
  uint8_t bootid[16];
} ext;

static int seed_cb(void *ctx, const uint8_t nonce[32], const uint8_t genid[16],
                   const uint8_t bootid[16], uint64_t counter, uint8_t *seed, size_t seed_len,
                   char *why, size_t why_len) {
  (void)ctx, (void)nonce, (void)genid, (void)counter;
  ext.calls++;
  memcpy(ext.bootid, bootid, 16);
  if (ext.fail) {
    snprintf(why, why_len, "test: the entropy service is unreachable");
    return LISEC_RNG_EIO;
  }
  /* Any bytes do for the test: only the freshness rule is under test. */
  for (size_t i = 0; i < seed_len; i++) seed[i] = (uint8_t)(i * 7 + ext.calls);
  return 0;
}

static void library_fails_closed(void **state) {
  (void)state;
  lisec_rng_options o = {.source = seed_cb, .check_interval_ms = 1, .clock_jump_ms = 1000};
  assert_int_equal(lisec_rng_init(&o), LISEC_RNG_OK);
  uint8_t key[32];
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_OK);
  rngl_detect *det = rngl_test_detector();
  assert_non_null(det);

  const char *a = "a0a1a2a3-b0b1-c0c1-d0d1-e0e1e2e3e4e5", *b = "5e5e5e5e-4d4d-3c3c-2b2b-1a1a1a1a1a1a";
  uint8_t bb[16];
  uuid_bytes(b, bb);
  write_bootid(a);
  rngl_detect_test_inject(det, bootid_file, 0, 0);
  assert_int_equal(check_after_interval(), 0);

  /* A new boot id while the entropy service cannot be reached. */
  ext.fail = true;
  write_bootid(b);
  unsigned before = ext.calls;
  assert_int_equal(check_after_interval(), 1);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_bootid, 1);
  assert_string_equal(st.last_event, "boot-id");
  assert_int_equal(st.external_fresh, 0);
  assert_true(ext.calls > before); /* it asked for a seed at once */
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_int_equal(lisec_rng_bytes(key, sizeof key), LISEC_RNG_OK); /* ordinary use: hedged */

  /* The service is back: the seed request carries the new boot id. */
  ext.fail = false;
  assert_int_equal(lisec_rng_reseed(), LISEC_RNG_OK);
  assert_memory_equal(ext.bootid, bb, 16);
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_OK);

  /* A clock jump (a snapshot restored 5 s later) while unreachable. */
  ext.fail = true;
  rngl_detect_test_inject(det, NULL, 5 * SEC, 0);
  assert_int_equal(check_after_interval(), 1);
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_clock, 1);
  assert_string_equal(st.last_event, "clock-jump");
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_int_equal(check_after_interval(), 0); /* seen once */
  ext.fail = false;
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_OK); /* fetches itself */

  /* A suspend (boot time ahead of monotonic), and a change below the
   * threshold that is no event. */
  rngl_detect_test_inject(det, NULL, 5 * SEC, 2 * SEC);
  assert_int_equal(check_after_interval(), 1);
  rngl_detect_test_inject(det, NULL, 5 * SEC + SEC / 4, 2 * SEC);
  assert_int_equal(check_after_interval(), 0);
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_clock, 2);
  assert_int_equal(st.events_bootid, 1);
  assert_int_equal(st.events_fork + st.events_genid, 0);
  lisec_rng_shutdown();
}

/* ---- the stampede: one thread re-reads, the others go on ---------------- */

#define STAMPEDE_THREADS 8

static struct {
  rngl_detect *d;
  pthread_barrier_t start;
  atomic_int told;
} herd;

static void *herd_body(void *arg) {
  (void)arg;
  pthread_barrier_wait(&herd.start);
  if (rngl_detect_fast(herd.d)) atomic_fetch_add(&herd.told, 1);
  return NULL;
}

/* All threads ask at the same instant; returns how many were told to run
 * the slow check. */
static int herd_run(rngl_detect *d) {
  pthread_t th[STAMPEDE_THREADS];
  herd.d = d;
  atomic_store(&herd.told, 0);
  assert_int_equal(pthread_barrier_init(&herd.start, NULL, STAMPEDE_THREADS), 0);
  for (int i = 0; i < STAMPEDE_THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, herd_body, NULL), 0);
  for (int i = 0; i < STAMPEDE_THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&herd.start);
  return atomic_load(&herd.told);
}

static void detector_one_thread_rereads(void **state) {
  (void)state;
  rngl_detect d;
  lisec_err err = {0};
  /* A long interval, so only the test makes the check due. */
  assert_int_equal(rngl_detect_init(&d, NULL, 60000, 1000, &err), 0);
  assert_int_equal(herd_run(&d), 0);
  atomic_store(&d.next_slow_ns, 0); /* the periodic check is due */
  assert_int_equal(herd_run(&d), 1);
  assert_int_equal(herd_run(&d), 0); /* the deadline moved on */
  /* A clock jump stays visible until the slow check re-baselines: still
   * only one thread is told, however often the others ask. */
  rngl_detect_test_inject(&d, NULL, 5 * SEC, 0);
  assert_int_equal(herd_run(&d), 1);
  assert_int_equal(herd_run(&d), 0);
  assert_int_equal(rngl_detect_slow(&d) & RNGL_EV_CLOCK, RNGL_EV_CLOCK);
  assert_int_equal(herd_run(&d), 0);
  /* The next jump is claimed afresh. */
  rngl_detect_test_inject(&d, NULL, 10 * SEC, 0);
  assert_int_equal(herd_run(&d), 1);
  rngl_detect_free(&d);
}

/* ---- the kernel's getrandom() through the vDSO --------------------------- */

static void vdso_getrandom(void **state) {
  (void)state;
  struct utsname u;
  assert_int_equal(uname(&u), 0);
  unsigned major = 0, minor = 0;
  assert_int_equal(sscanf(u.release, "%u.%u", &major, &minor), 2);
  bool expect = major > 6 || (major == 6 && minor >= 11);
  /* x86-64 kernels export __vdso_getrandom from 6.11 on. */
#if defined(__x86_64__)
  assert_int_equal(rngl_vdso_getrandom_available(), expect);
#else
  (void)expect;
#endif
  uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
  if (rngl_vdso_getrandom_available()) {
    assert_int_equal(rngl_vgetrandom(a, sizeof a), (ssize_t)sizeof a);
    assert_int_equal(rngl_vgetrandom(b, sizeof b), (ssize_t)sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
  } else {
    assert_int_equal(rngl_vgetrandom(a, sizeof a), RNGL_NO_VDSO);
  }
  /* Whichever path: rngl_getrandom fills large requests completely. */
  uint8_t big[5000];
  memset(big, 0, sizeof big);
  lisec_err err = {0};
  assert_int_equal(rngl_getrandom(big, sizeof big, &err), 0);
  assert_memory_not_equal(big + sizeof big - 32, zero, 32);
}

/* A draw of several chunks that fails partway leaves nothing of the chunks
 * already drawn in the caller's buffer (TR 103 308 §5.14: a key half made
 * is key material). OpenSSL's TEST-RAND serves the bytes it is given and
 * fails once they run out: two chunks of 4096 with 4096 bytes given. Before,
 * the first chunk stayed in the buffer. */
static void drbg_partial_failure_wipes(void **state) {
  (void)state;
  EVP_RAND *r = EVP_RAND_fetch(NULL, "TEST-RAND", NULL);
  if (!r) skip();
  EVP_RAND_CTX *ctx = EVP_RAND_CTX_new(r, NULL);
  EVP_RAND_free(r);
  assert_non_null(ctx);
  static uint8_t given[4096];
  memset(given, 0x5a, sizeof given);
  unsigned strength = 256;
  size_t max = 4096;
  OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_RAND_PARAM_TEST_ENTROPY, given, sizeof given),
                    OSSL_PARAM_construct_uint(OSSL_RAND_PARAM_STRENGTH, &strength),
                    OSSL_PARAM_construct_size_t(OSSL_RAND_PARAM_MAX_REQUEST, &max),
                    OSSL_PARAM_construct_end()};
  assert_int_equal(EVP_RAND_CTX_set_params(ctx, p), 1);
  assert_int_equal(EVP_RAND_instantiate(ctx, 256, 0, NULL, 0, NULL), 1);
  static uint8_t out[8192];
  memset(out, 0xa5, sizeof out);
  lisec_err err = {0};
  assert_int_not_equal(rngl_drbg_generate(ctx, out, sizeof out, false, NULL, 0, &err), 0);
  for (size_t i = 0; i < sizeof out; i++)
    if (out[i] != 0) fail_msg("byte %zu of the failed draw is 0x%02x, not wiped", i, out[i]);
  EVP_RAND_CTX_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(detector_one_thread_rereads),
      cmocka_unit_test(drbg_partial_failure_wipes),
      cmocka_unit_test(vdso_getrandom),
      cmocka_unit_test(detector_bootid),
      cmocka_unit_test(detector_clock),
      cmocka_unit_test(library_fails_closed),
  };
  return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
