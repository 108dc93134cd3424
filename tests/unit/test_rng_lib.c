/* Unit tests of liblisec-rng through its public header: output, the
 * fail-closed key generation without an external source, fork safety (two
 * processes forked from one DRBG state must differ), a simulated restore
 * (the generation-id file changes) that forces a reseed and fails key
 * generation closed until a fresh external seed arrives (also when the
 * change comes while the key's seed is on the wire), strict mode, HMAC
 * selection and many threads at once, and that a fetch of an external seed
 * (a slow network round trip) never holds up another thread's output, and
 * that a vsock address without the daemon's name (LISEC_RNG_ENTROPYD_NAME,
 * lisec_rng_options.entropyd_name) is refused before anything else. The
 * external source here is the
 * library's pluggable callback, driven by the test; the real lisec-entropyd
 * over mutual TLS is exercised by tests/integration/rng_entropyd.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lisec/rng.h"

typedef struct test_source {
  int available;
  int calls;
  uint8_t last_genid[16];
  uint64_t last_counter;
} test_source;

static int source_fn(void *ctx, const uint8_t nonce[32], const uint8_t genid[16],
                     const uint8_t bootid[16], uint64_t counter, uint8_t *seed, size_t seed_len,
                     char *why, size_t why_len) {
  (void)nonce, (void)bootid;
  test_source *s = ctx;
  s->calls++;
  if (!s->available) {
    snprintf(why, why_len, "test source offline");
    return LISEC_RNG_EIO;
  }
  /* Counters must rise from one request to the next. */
  if (counter <= s->last_counter) {
    snprintf(why, why_len, "counter went back");
    return LISEC_RNG_EDENIED;
  }
  s->last_counter = counter;
  memcpy(s->last_genid, genid, 16);
  return RAND_bytes(seed, (int)seed_len) == 1 ? 0 : LISEC_RNG_EINTERNAL;
}

static int teardown(void **state) {
  (void)state;
  lisec_rng_shutdown();
  return 0;
}

static void test_bytes_and_keygen_without_external(void **state) {
  (void)state;
  lisec_rng_options o = {0};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t a[32], b[32], big[5000];
  assert_int_equal(lisec_rng_bytes(a, sizeof a), 0);
  assert_int_equal(lisec_rng_bytes(b, sizeof b), 0);
  assert_memory_not_equal(a, b, sizeof a);
  assert_int_equal(lisec_rng_bytes(big, sizeof big), 0);
  assert_int_equal(lisec_rng_bytes(NULL, 4), LISEC_RNG_EINVAL);
  /* No external source: key generation fails closed and says why. */
  assert_int_equal(lisec_rng_keygen_bytes(a, sizeof a), LISEC_RNG_ENOSEED);
  assert_non_null(strstr(lisec_rng_last_error(), "TR103308-5.15"));
  assert_int_equal(lisec_rng_reseed(), LISEC_RNG_EIO);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.selftest_ok, 1);
  assert_int_equal(st.drbg, LISEC_RNG_DRBG_CTR_AES256);
  assert_int_equal(st.external_configured, 0);
  assert_int_equal(st.keygen_ready, 0);
  assert_int_equal(st.wipeonfork, 1);
}

static void test_fork_children_differ(void **state) {
  (void)state;
  lisec_rng_options o = {0};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t prime[8];
  /* Leave buffered output behind, the state a careless fork would copy. */
  assert_int_equal(lisec_rng_bytes(prime, sizeof prime), 0);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct {
      uint8_t out[32];
      uint64_t forks;
      int rc;
    } r = {0};
    r.rc = lisec_rng_bytes(r.out, sizeof r.out);
    struct lisec_rng_status st;
    if (!r.rc) r.rc = lisec_rng_status(&st);
    r.forks = st.events_fork;
    ssize_t w = write(fds[1], &r, sizeof r);
    _exit(w == (ssize_t)sizeof r ? 0 : 1);
  }
  close(fds[1]);
  uint8_t mine[32];
  assert_int_equal(lisec_rng_bytes(mine, sizeof mine), 0);
  struct {
    uint8_t out[32];
    uint64_t forks;
    int rc;
  } r;
  assert_int_equal(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(r.rc, 0);
  assert_int_equal(r.forks, 1); /* the child saw the fork */
  assert_memory_not_equal(r.out, mine, sizeof mine);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_fork, 0); /* the parent did not fork-reseed */
}

static void *child_thread_body(void *arg) {
  uint8_t *out = arg;
  return lisec_rng_bytes(out, 32) == 0 ? NULL : (void *)1;
}

/* A forked child whose first call comes from a thread it started after the
 * fork: that thread handles the fork event and drops the states of the
 * parent's other threads, but the thread that forked lives on in the child
 * and must keep a usable state of its own (before the fix it was freed under
 * it: a use after free on its next call). */
static void test_fork_then_new_thread_first(void **state) {
  (void)state;
  lisec_rng_options o = {0};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t prime[8];
  assert_int_equal(lisec_rng_bytes(prime, sizeof prime), 0);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* cmocka's handlers would turn a crash here into a second test run in
     * the child; let it die of the signal, for the parent to see. */
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    struct {
      uint8_t a[32], b[32], c[600];
      uint64_t forks;
      int rc;
    } r;
    memset(&r, 0, sizeof r);
    pthread_t th;
    void *ret = (void *)1;
    if (pthread_create(&th, NULL, child_thread_body, r.a) != 0 || pthread_join(th, &ret) != 0 ||
        ret != NULL)
      r.rc = -100;
    /* The forking thread, after the new thread handled the fork. */
    for (int i = 0; i < 64 && !r.rc; i++) r.rc = lisec_rng_bytes(r.b, sizeof r.b);
    if (!r.rc) r.rc = lisec_rng_bytes(r.c, sizeof r.c);
    struct lisec_rng_status st;
    memset(&st, 0, sizeof st);
    if (!r.rc) r.rc = lisec_rng_status(&st);
    r.forks = st.events_fork;
    ssize_t w = write(fds[1], &r, sizeof r);
    _exit(w == (ssize_t)sizeof r ? 0 : 1);
  }
  close(fds[1]);
  struct {
    uint8_t a[32], b[32], c[600];
    uint64_t forks;
    int rc;
  } r;
  ssize_t got = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status)) fail_msg("the child died of signal %d", WTERMSIG(status));
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(got, (ssize_t)sizeof r);
  assert_int_equal(r.rc, 0);
  assert_int_equal(r.forks, 1);
  assert_memory_not_equal(r.a, r.b, sizeof r.a);
}

/* An application's thread-specific destructor that draws random bytes,
 * running after the library's own destructors (its key was made later):
 * the library must still serve, not touch the per-thread vDSO getrandom
 * state it has just unmapped (before the fix: SIGSEGV on kernels whose vDSO
 * has getrandom, 6.11+). */
static pthread_key_t late_key;
static int late_fds[2];

static void late_destructor(void *p) {
  (void)p;
  struct {
    uint8_t out[32];
    int rc;
  } r;
  r.rc = lisec_rng_bytes(r.out, sizeof r.out);
  ssize_t w = write(late_fds[1], &r, sizeof r);
  (void)w;
}

static void *late_body(void *arg) {
  (void)arg;
  uint8_t b[8];
  if (lisec_rng_bytes(b, sizeof b) != 0) return (void *)1;
  pthread_setspecific(late_key, (void *)1);
  return NULL;
}

static void test_output_from_a_late_thread_destructor(void **state) {
  (void)state;
  assert_int_equal(pipe(late_fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    lisec_rng_options o = {0};
    if (lisec_rng_init(&o) != 0 || pthread_key_create(&late_key, late_destructor) != 0) _exit(2);
    pthread_t th;
    void *ret = (void *)1;
    if (pthread_create(&th, NULL, late_body, NULL) != 0 || pthread_join(th, &ret) != 0 || ret)
      _exit(3);
    _exit(0);
  }
  close(late_fds[1]);
  struct {
    uint8_t out[32];
    int rc;
  } r;
  memset(&r, 0, sizeof r);
  ssize_t got = read(late_fds[0], &r, sizeof r);
  close(late_fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status)) fail_msg("the process died of signal %d", WTERMSIG(status));
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(got, (ssize_t)sizeof r);
  assert_int_equal(r.rc, 0);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_genid_change_fails_keygen_closed_until_seed(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-genid-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path, "generation-1\n");
  test_source src = {.available = 1};
  lisec_rng_options o = {.genid_path = path, .source = source_fn, .source_ctx = &src};
  assert_int_equal(lisec_rng_init(&o), 0);
  assert_int_equal(src.calls, 1); /* every start fetches */
  uint8_t gen1[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)"generation-1\n", 13, gen1);
  assert_memory_equal(src.last_genid, gen1, 16);

  uint8_t key[32], out[32];
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), 0);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.external_fresh, 1);
  assert_int_equal(st.genid_known, 1);
  uint64_t reseeds = st.reseeds;

  /* The VM is restored from a snapshot: a new generation id, and the
   * entropy service is not reachable yet. */
  src.available = 0;
  write_file(path, "generation-2\n");
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_non_null(strstr(lisec_rng_last_error(), "TR103308-5.12"));
  assert_non_null(strstr(lisec_rng_last_error(), "vm-generation-id"));
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_genid, 1);
  assert_int_equal(st.external_fresh, 0);
  assert_int_equal(st.keygen_ready, 0);
  assert_true(st.reseeds > reseeds); /* the DRBG reseeded before its next output */
  assert_string_equal(st.last_event, "vm-generation-id");
  /* Ordinary output proceeds, hedged from local sources. */
  assert_int_equal(lisec_rng_bytes(out, sizeof out), 0);

  /* The seed arrives: key generation works again, bound to the new id. */
  src.available = 1;
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), 0);
  uint8_t gen2[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)"generation-2\n", 13, gen2);
  assert_memory_equal(src.last_genid, gen2, 16);
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.external_fresh, 1);
  assert_true(st.external_seeds >= 2);
  assert_true(st.external_failures >= 2);
  unlink(path);
}

/* A source that, answering its request, has the VM restored under it: the
 * generation-id file changes while the seed is on the wire (a snapshot taken
 * mid-fetch and resumed as a clone), and the service is unreachable from
 * the clone afterwards. */
typedef struct restoring_source {
  test_source base;
  const char *genid_path;
  int restore_on_call;  /* 1-based; 0: never */
  const char *new_text; /* the generation id after the restore */
  int down_after;       /* the service is unreachable after the restore */
} restoring_source;

static int restoring_source_fn(void *ctx, const uint8_t nonce[32], const uint8_t genid[16],
                               const uint8_t bootid[16], uint64_t counter, uint8_t *seed,
                               size_t seed_len, char *why, size_t why_len) {
  restoring_source *r = ctx;
  int rc = source_fn(&r->base, nonce, genid, bootid, counter, seed, seed_len, why, why_len);
  if (r->base.calls == r->restore_on_call) {
    write_file(r->genid_path, r->new_text);
    if (r->down_after) r->base.available = 0;
  }
  return rc;
}

/* Key generation runs the detection before its fetch; a restore during the
 * fetch must not let the key come from that seed. Before the fix the key was
 * output from the seed fetched across the restore, and nothing was detected
 * until the next call. */
static void test_genid_change_during_keygen_fetch(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-genid-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path, "generation-1\n");
  restoring_source src = {.base = {.available = 1}, .genid_path = path};
  lisec_rng_options o = {.genid_path = path, .source = restoring_source_fn, .source_ctx = &src};
  assert_int_equal(lisec_rng_init(&o), 0);
  assert_int_equal(src.base.calls, 1);
  uint8_t key[32];
  src.restore_on_call = 2; /* the key's own fetch */
  src.new_text = "generation-2\n";
  src.down_after = 1;
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_non_null(strstr(lisec_rng_last_error(), "TR103308-5.12"));
  assert_int_equal(src.base.calls, 3); /* the fetch after the restore was tried, and failed */
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_genid, 1);
  assert_int_equal(st.external_fresh, 0);
  assert_string_equal(st.last_event, "vm-generation-id");

  /* The service answers again: the key comes from a seed asked for under the
   * new generation id. */
  src.base.available = 1;
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), 0);
  uint8_t gen2[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)"generation-2\n", 13, gen2);
  assert_memory_equal(src.base.last_genid, gen2, 16);

  /* With the service up, a restore during the fetch costs one more fetch,
   * made under the new id, and the key follows it. */
  int calls = src.base.calls;
  src.restore_on_call = calls + 1;
  src.new_text = "generation-3\n";
  src.down_after = 0;
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), 0);
  assert_int_equal(src.base.calls, calls + 2);
  uint8_t gen3[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)"generation-3\n", 13, gen3);
  assert_memory_equal(src.base.last_genid, gen3, 16);
  unlink(path);
}

static void test_genid_change_seen_by_ordinary_output(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-genid-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path, "a");
  test_source src = {.available = 1};
  lisec_rng_options o = {.genid_path = path, .source = source_fn, .source_ctx = &src,
                         .check_interval_ms = 1};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t out[32];
  assert_int_equal(lisec_rng_bytes(out, sizeof out), 0);
  write_file(path, "b");
  usleep(20000); /* past the check interval */
  assert_int_equal(lisec_rng_check(), 1);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_genid, 1);
  /* A restore with the service up fetches at once. */
  assert_int_equal(st.external_fresh, 1);
  assert_int_equal(src.calls, 2);
  unlink(path);
}

static void test_strict_mode_fails_ordinary_output(void **state) {
  (void)state;
  test_source src = {.available = 0};
  lisec_rng_options o = {.strict = 1, .source = source_fn, .source_ctx = &src};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t out[16];
  assert_int_equal(lisec_rng_bytes(out, sizeof out), LISEC_RNG_ENOSEED);
  src.available = 1;
  assert_int_equal(lisec_rng_bytes(out, sizeof out), 0);
  assert_int_equal(lisec_rng_keygen_bytes(out, sizeof out), 0);
}

static void test_hmac_drbg_selectable(void **state) {
  (void)state;
  lisec_rng_options o = {.drbg = LISEC_RNG_DRBG_HMAC_SHA256, .keygen_local_ok = 1};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t a[64], b[64];
  assert_int_equal(lisec_rng_bytes(a, sizeof a), 0);
  assert_int_equal(lisec_rng_keygen_bytes(b, sizeof b), 0);
  assert_memory_not_equal(a, b, sizeof a);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.drbg, LISEC_RNG_DRBG_HMAC_SHA256);
  /* A second init with options is refused, not silently ignored. */
  assert_int_equal(lisec_rng_init(&o), LISEC_RNG_EINVAL);
  lisec_rng_options bad = {.drbg = 7};
  lisec_rng_shutdown();
  assert_int_equal(lisec_rng_init(&bad), LISEC_RNG_EINVAL);
}

/* A source that can be held inside a fetch until the test lets it go. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int hold, inside, released;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static int gated_source_fn(void *ctx, const uint8_t nonce[32], const uint8_t genid[16],
                           const uint8_t bootid[16], uint64_t counter, uint8_t *seed,
                           size_t seed_len, char *why, size_t why_len) {
  pthread_mutex_lock(&gate.mu);
  if (gate.hold) {
    gate.inside = 1;
    pthread_cond_broadcast(&gate.cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10; /* bounded: a broken test must not hang */
    while (!gate.released && pthread_cond_timedwait(&gate.cv, &gate.mu, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&gate.mu);
  return source_fn(ctx, nonce, genid, bootid, counter, seed, seed_len, why, why_len);
}

static void *check_body(void *arg) {
  *(int *)arg = lisec_rng_check();
  return NULL;
}

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, rc;
} out_job = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void *output_body(void *arg) {
  (void)arg;
  int rc = 0;
  uint8_t buf[32], big[1000];
  for (int i = 0; i < 200 && !rc; i++) rc = lisec_rng_bytes(buf, sizeof buf);
  if (!rc) rc = lisec_rng_bytes(big, sizeof big);
  pthread_mutex_lock(&out_job.mu);
  out_job.done = 1;
  out_job.rc = rc;
  pthread_cond_broadcast(&out_job.cv);
  pthread_mutex_unlock(&out_job.mu);
  return NULL;
}

static void test_fetch_does_not_block_output(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-genid-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path, "a");
  test_source src = {.available = 1};
  lisec_rng_options o = {.genid_path = path, .source = gated_source_fn, .source_ctx = &src,
                         .check_interval_ms = 1};
  assert_int_equal(lisec_rng_init(&o), 0);
  /* A restore: the next check fetches a seed, and the fetch hangs. */
  pthread_mutex_lock(&gate.mu);
  gate.hold = 1, gate.inside = 0, gate.released = 0;
  pthread_mutex_unlock(&gate.mu);
  write_file(path, "b");
  usleep(5000); /* past the 1 ms check interval */
  int check_rc = -100;
  pthread_t checker, worker;
  assert_int_equal(pthread_create(&checker, NULL, check_body, &check_rc), 0);
  struct timespec until;
  pthread_mutex_lock(&gate.mu);
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  while (!gate.inside && pthread_cond_timedwait(&gate.cv, &gate.mu, &until) == 0) {
  }
  int inside = gate.inside;
  pthread_mutex_unlock(&gate.mu);
  assert_true(inside);
  /* Another thread's output (its DRBG reseeds for the event's epoch) must
   * complete while the fetch is still held. */
  out_job.done = 0;
  assert_int_equal(pthread_create(&worker, NULL, output_body, NULL), 0);
  pthread_mutex_lock(&out_job.mu);
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 3;
  while (!out_job.done && pthread_cond_timedwait(&out_job.cv, &out_job.mu, &until) == 0) {
  }
  int done = out_job.done, rc = out_job.rc;
  pthread_mutex_unlock(&out_job.mu);
  pthread_mutex_lock(&gate.mu);
  gate.released = 1, gate.hold = 0;
  pthread_cond_broadcast(&gate.cv);
  pthread_mutex_unlock(&gate.mu);
  pthread_join(worker, NULL);
  pthread_join(checker, NULL);
  assert_true(done); /* before the fetch was let go */
  assert_int_equal(rc, 0);
  assert_int_equal(check_rc, 1);
  struct lisec_rng_status st;
  assert_int_equal(lisec_rng_status(&st), 0);
  assert_int_equal(st.events_genid, 1);
  assert_int_equal(st.external_fresh, 1);
  unlink(path);
}

#define THREADS 4
#define PER_THREAD 2000

static void *thread_body(void *arg) {
  uint8_t *out = arg;
  for (int i = 0; i < PER_THREAD; i++)
    if (lisec_rng_bytes(out + 16 * i, 16) != 0) return (void *)1;
  return NULL;
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_threads_distinct_output(void **state) {
  (void)state;
  lisec_rng_options o = {0};
  assert_int_equal(lisec_rng_init(&o), 0);
  uint8_t *all = calloc(THREADS * PER_THREAD, 16);
  assert_non_null(all);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, thread_body, all + (size_t)i * PER_THREAD * 16),
                     0);
  for (int i = 0; i < THREADS; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    assert_null(ret);
  }
  qsort(all, THREADS * PER_THREAD, 16, cmp16);
  for (int i = 1; i < THREADS * PER_THREAD; i++)
    assert_memory_not_equal(all + 16 * (i - 1), all + 16 * i, 16);
  free(all);
}

/* TR 103 308 §5.15: over vsock nothing names the daemon but the configured
 * name, so without one every fetch is refused, saying what to set, before
 * the certificates are even looked at; with one (from the options) the
 * fetch goes on to the next requirement, the VNF's own certificate. */
static void test_vsock_needs_entropyd_name(void **state) {
  (void)state;
  unsetenv("LISEC_RNG_ENTROPYD_NAME");
  lisec_rng_options o = {.entropyd = "vsock:2:7443", .cert = "", .key = "", .ca = ""};
  assert_int_equal(lisec_rng_init(&o), 0);
  assert_int_equal(lisec_rng_reseed(), LISEC_RNG_EINVAL);
  assert_non_null(strstr(lisec_rng_last_error(), "TR103308-5.15"));
  assert_non_null(strstr(lisec_rng_last_error(), "set LISEC_RNG_ENTROPYD_NAME"));
  uint8_t key[32];
  assert_int_equal(lisec_rng_keygen_bytes(key, sizeof key), LISEC_RNG_ENOSEED);
  assert_non_null(strstr(lisec_rng_last_error(), "set LISEC_RNG_ENTROPYD_NAME"));
  lisec_rng_shutdown();

  o.entropyd_name = "entropyd.example";
  assert_int_equal(lisec_rng_init(&o), 0);
  assert_int_equal(lisec_rng_reseed(), LISEC_RNG_EINVAL);
  assert_null(strstr(lisec_rng_last_error(), "LISEC_RNG_ENTROPYD_NAME"));
  assert_non_null(strstr(lisec_rng_last_error(), "LISEC_RNG_CERT"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_bytes_and_keygen_without_external, teardown),
      cmocka_unit_test_teardown(test_fork_children_differ, teardown),
      cmocka_unit_test_teardown(test_fork_then_new_thread_first, teardown),
      cmocka_unit_test(test_output_from_a_late_thread_destructor),
      cmocka_unit_test_teardown(test_genid_change_fails_keygen_closed_until_seed, teardown),
      cmocka_unit_test_teardown(test_genid_change_seen_by_ordinary_output, teardown),
      cmocka_unit_test_teardown(test_genid_change_during_keygen_fetch, teardown),
      cmocka_unit_test_teardown(test_strict_mode_fails_ordinary_output, teardown),
      cmocka_unit_test_teardown(test_hmac_drbg_selectable, teardown),
      cmocka_unit_test_teardown(test_threads_distinct_output, teardown),
      cmocka_unit_test_teardown(test_fetch_does_not_block_output, teardown),
      cmocka_unit_test_teardown(test_vsock_needs_entropyd_name, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
