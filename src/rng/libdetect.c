/* Clone, fork and restore detection for liblisec-rng (TR 103 308 §5.10
 * re-use of template state, §5.12 the reset vulnerability). Four signals:
 * a MADV_WIPEONFORK page that reads zero in a forked child (with the pid as
 * a cross-check and as the fallback where madvise lacks it), the VM
 * generation id (a file the operator or a test names, plus a NEW_VMGENID=1
 * uevent from the kernels that carry that short-lived change), the boot id,
 * and a jump of the gap between CLOCK_MONOTONIC and CLOCK_REALTIME /
 * CLOCK_BOOTTIME (a pause, suspend or snapshot restore). The per-call part
 * reads one word and two vDSO coarse clocks; everything that touches files or
 * sockets runs at most once per check interval, in one thread while the
 * others go on, or at once when the cheap part saw something. None of this
 * is what keeps a clone from repeating output: every output mixes in a fresh
 * kernel draw (libapi.c); these signals add reseeds, new sessions and the
 * fail-closed key generation on top. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "rng/libos.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static int64_t ts_ns(const struct timespec *t) {
  return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int64_t clock_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ts_ns(&t);
}

int rngl_read_bootid(const char *path, uint8_t out[RNG_ID_LEN]) {
  char s[64] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LISEC_EIO;
  ssize_t n = read(fd, s, sizeof s - 1);
  close(fd);
  if (n <= 0) return LISEC_EIO;
  char hex[33];
  size_t h = 0;
  for (ssize_t i = 0; i < n && h < 32; i++)
    if (s[i] != '-' && s[i] != '\n') hex[h++] = s[i];
  hex[h] = '\0';
  if (h != 32 || lisec_hex_decode(hex, out, RNG_ID_LEN) != 0) return LISEC_EINVAL;
  return 0;
}

bool rngl_read_genid(const char *path, uint8_t out[RNG_ID_LEN]) {
  memset(out, 0, RNG_ID_LEN);
  if (!path || !*path) return false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 0) return false;
  uint8_t d[CRYPTO_SHA256_LEN];
  crypto_sha256(buf, (size_t)n, d);
  memcpy(out, d, RNG_ID_LEN);
  return true;
}

/* The vmgenid driver (Linux >= 5.18) is an ACPI driver up to 6.9
 * (/sys/bus/acpi/drivers/vmgenid) and a platform driver from 6.10 on
 * (/sys/bus/platform/drivers/vmgenid). A NEW_VMGENID=1 uevent on a new
 * generation was merged for 6.8 and reverted; no released kernel this was
 * checked against sends it (Debian's 6.1 and 6.12, 6.18), so the socket is a
 * bonus where a kernel carries the patch, never the guarantee. Listen
 * wherever the driver is present under either bus. */
static const char *const vmgenid_driver_dirs[] = {"/sys/bus/platform/drivers/vmgenid",
                                                  "/sys/bus/acpi/drivers/vmgenid"};

bool rngl_vmgenid_driver_present(void) {
  for (size_t i = 0; i < sizeof vmgenid_driver_dirs / sizeof vmgenid_driver_dirs[0]; i++)
    if (access(vmgenid_driver_dirs[i], F_OK) == 0) return true;
  return false;
}

static int uevent_open(void) {
  if (!rngl_vmgenid_driver_present()) return -1;
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return -1;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static bool uevent_drain(int fd) {
  bool seen = false;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n <= 0) break;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n;) {
      const char *kv = buf + i;
      if (strcmp(kv, "NEW_VMGENID=1") == 0) seen = true;
      i += (ssize_t)strlen(kv) + 1;
    }
  }
  return seen;
}

/* CLOCK_REALTIME(_COARSE) and CLOCK_BOOTTIME as the detector sees them:
 * the system's clocks plus the test skews (0 outside tests). */
static int64_t rt_ns(rngl_detect *d, clockid_t c) {
  return clock_ns(c) + atomic_load_explicit(&d->test_skew_rt_ns, memory_order_relaxed);
}

static int64_t boot_ns(rngl_detect *d) {
  return clock_ns(CLOCK_BOOTTIME) + atomic_load_explicit(&d->test_skew_boot_ns, memory_order_relaxed);
}

static void baseline_clocks(rngl_detect *d) {
  int64_t mono = clock_ns(CLOCK_MONOTONIC);
  d->gap_rt_ns = rt_ns(d, CLOCK_REALTIME) - mono;
  d->gap_boot_ns = boot_ns(d) - mono;
  int64_t mc = clock_ns(CLOCK_MONOTONIC_COARSE);
  atomic_store_explicit(&d->gap_coarse_ns, rt_ns(d, CLOCK_REALTIME_COARSE) - mc,
                        memory_order_relaxed);
  atomic_store_explicit(&d->next_slow_ns, mc + d->interval_ns, memory_order_relaxed);
  atomic_store_explicit(&d->jump_claimed, false, memory_order_release);
}

void rngl_detect_rearm(rngl_detect *d) {
  uint64_t v = 0;
  if (rngl_getrandom(&v, sizeof v, NULL) != 0) v = (uint64_t)clock_ns(CLOCK_MONOTONIC);
  d->wipe_value = v | 1u;
  *d->wipe = d->wipe_value;
  d->pid = getpid();
}

int rngl_detect_init(rngl_detect *d, const char *genid_path, unsigned interval_ms,
                     unsigned jump_ms, lisec_err *err) {
  memset(d, 0, sizeof *d);
  d->uevent_fd = -1;
  d->interval_ns = (int64_t)(interval_ms ? interval_ms : 10) * 1000000LL;
  d->jump_ns = (int64_t)(jump_ms ? jump_ms : 1000) * 1000000LL;
  void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return lisec_err_set(err, LISEC_ENOMEM, "rng: mmap: %s", strerror(errno));
  d->wipe = page;
  d->wipeonfork = madvise(page, 4096, MADV_WIPEONFORK) == 0;
  rngl_detect_rearm(d);
  if (genid_path) snprintf(d->genid_path, sizeof d->genid_path, "%s", genid_path);
  d->genid_known = rngl_read_genid(d->genid_path, d->genid);
  snprintf(d->bootid_path, sizeof d->bootid_path, "%s", RNGL_BOOTID_PATH);
  if (rngl_read_bootid(d->bootid_path, d->bootid) != 0) memset(d->bootid, 0, sizeof d->bootid);
  d->uevent_fd = uevent_open();
  baseline_clocks(d);
  return 0;
}

void rngl_detect_free(rngl_detect *d) {
  if (d->wipe) munmap((void *)d->wipe, 4096);
  if (d->uevent_fd >= 0) close(d->uevent_fd);
  memset(d, 0, sizeof *d);
  d->uevent_fd = -1;
}

bool rngl_detect_fast(rngl_detect *d) {
  if (__builtin_expect(*d->wipe != d->wipe_value, 0)) return true;
  if (!d->wipeonfork && getpid() != d->pid) return true;
  struct timespec m, r;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &m);
  int64_t mono = ts_ns(&m);
  int64_t next = atomic_load_explicit(&d->next_slow_ns, memory_order_relaxed);
  /* When the periodic check is due, the one thread that moves the deadline
   * on re-reads; every other thread goes on with the last known state
   * rather than queueing for the library lock (a stampede of file reads
   * under one mutex every interval). */
  if (mono >= next)
    return atomic_compare_exchange_strong_explicit(&d->next_slow_ns, &next, mono + d->interval_ns,
                                                   memory_order_relaxed, memory_order_relaxed);
  clock_gettime(CLOCK_REALTIME_COARSE, &r);
  int64_t delta = ts_ns(&r) + atomic_load_explicit(&d->test_skew_rt_ns, memory_order_relaxed) -
                  mono - atomic_load_explicit(&d->gap_coarse_ns, memory_order_relaxed);
  if (delta <= d->jump_ns && delta >= -d->jump_ns) return false;
  /* A jump stays visible until the slow check re-baselines: one thread
   * claims it. */
  return !atomic_exchange_explicit(&d->jump_claimed, true, memory_order_acq_rel);
}

unsigned rngl_detect_slow(rngl_detect *d) {
  unsigned ev = 0;
  if (*d->wipe != d->wipe_value || getpid() != d->pid) ev |= RNGL_EV_FORK;
  uint8_t id[RNG_ID_LEN];
  bool known = rngl_read_genid(d->genid_path, id);
  if (known != d->genid_known || memcmp(id, d->genid, RNG_ID_LEN) != 0) {
    ev |= RNGL_EV_GENID;
    memcpy(d->genid, id, RNG_ID_LEN);
    d->genid_known = known;
  }
  if (d->uevent_fd >= 0 && uevent_drain(d->uevent_fd)) ev |= RNGL_EV_GENID;
  if (rngl_read_bootid(d->bootid_path, id) == 0 && memcmp(id, d->bootid, RNG_ID_LEN) != 0) {
    ev |= RNGL_EV_BOOTID;
    memcpy(d->bootid, id, RNG_ID_LEN);
  }
  int64_t mono = clock_ns(CLOCK_MONOTONIC);
  int64_t grt = rt_ns(d, CLOCK_REALTIME) - mono, gboot = boot_ns(d) - mono;
  int64_t drt = grt - d->gap_rt_ns, dboot = gboot - d->gap_boot_ns;
  if (drt > d->jump_ns || drt < -d->jump_ns || dboot > d->jump_ns || dboot < -d->jump_ns)
    ev |= RNGL_EV_CLOCK;
  baseline_clocks(d);
  return ev;
}

void rngl_detect_test_inject(rngl_detect *d, const char *bootid_path, int64_t skew_rt_ns,
                             int64_t skew_boot_ns) {
  if (bootid_path) {
    snprintf(d->bootid_path, sizeof d->bootid_path, "%s", bootid_path);
    if (rngl_read_bootid(d->bootid_path, d->bootid) != 0) memset(d->bootid, 0, sizeof d->bootid);
  }
  atomic_store_explicit(&d->test_skew_rt_ns, skew_rt_ns, memory_order_relaxed);
  atomic_store_explicit(&d->test_skew_boot_ns, skew_boot_ns, memory_order_relaxed);
}
