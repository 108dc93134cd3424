/* A wall clock stepped back under a running process, for tests that cannot
 * step the machine's clock (tests/integration/ha_lease_clock.sh).
 * LD_PRELOADed, it adds the seconds written (as decimal text, in place) in
 * the file LISEC_TEST_CLOCK_STEP_FILE names to what
 * clock_gettime(CLOCK_REALTIME) returns: while it says 3600 the process
 * reads its wall clock an hour ahead of the kernel's, and when it says 0
 * again the clock has been stepped back an hour, as chrony steps a clock
 * that ran ahead; -3600 (a leading '-') steps it back from the kernel's
 * (attest_quarantine_clock.sh). A wait until an absolute wall-clock time
 * taken from the ahead reading then lasts an hour longer, as it does when
 * the kernel's clock is stepped back during the wait. The file is mapped when the
 * library loads (before any sandbox) and read at each call, with no call
 * into libc but the real clock_gettime.
 * time() and gettimeofday() do not go through clock_gettime (glibc reads
 * them from the vDSO): with LISEC_TEST_CLOCK_STEP_TIME=1 they are stepped
 * too (rng_clock.sh: lisec-entropyd's cadences), else they read the
 * kernel's clock as before, so the process's certificate checks (OpenSSL
 * reads time()) are not moved where the test does not mean them to be. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define STEP_TEXT_MAX 16

static const volatile char *step_text;
static int step_all; /* time() and gettimeofday() stepped too */
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void step_init(void) {
  real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  const char *all = getenv("LISEC_TEST_CLOCK_STEP_TIME");
  step_all = all && all[0] == '1';
  const char *path = getenv("LISEC_TEST_CLOCK_STEP_FILE");
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0) return;
  void *p = mmap(NULL, STEP_TEXT_MAX, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p != MAP_FAILED) step_text = p;
}

static long long step_s(void) {
  long long v = 0;
  int i = step_text && step_text[0] == '-' ? 1 : 0;
  for (; step_text && i < STEP_TEXT_MAX && step_text[i] >= '0' && step_text[i] <= '9'; i++)
    v = v * 10 + (step_text[i] - '0');
  return step_text && step_text[0] == '-' ? -v : v;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  if (!real_clock_gettime) return -1;
  int rc = real_clock_gettime(id, ts);
  if (rc == 0 && id == CLOCK_REALTIME) ts->tv_sec += (time_t)step_s();
  return rc;
}

/* The wall clock's seconds, stepped when step_all says so. */
static int wall(struct timespec *ts) {
  if (!real_clock_gettime || real_clock_gettime(CLOCK_REALTIME, ts) != 0) return -1;
  if (step_all) ts->tv_sec += (time_t)step_s();
  return 0;
}

time_t time(time_t *out) {
  struct timespec ts;
  time_t t = wall(&ts) == 0 ? ts.tv_sec : (time_t)-1;
  if (out) *out = t;
  return t;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  (void)tz;
  struct timespec ts;
  if (wall(&ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec; /* declared nonnull */
  tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
  return 0;
}
