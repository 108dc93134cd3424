/* The OS-facing half of rng/: raw entropy sources (getrandom, RDRAND,
 * RDSEED, CPU timing jitter), clone/fork/restore detection, and the client
 * side of the seed protocol. Used by liblisec-rng and by lisec-entropyd;
 * domain code never includes this header. */
#ifndef LISEC_RNG_LIBOS_H
#define LISEC_RNG_LIBOS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/base.h"
#include "rng/rng.h"

/* ---- raw sources (libsrc.c) --------------------------------------------- */

bool rngl_cpu_has_rdrand(void);
bool rngl_cpu_has_rdseed(void);
/* Fills n bytes from the kernel (getrandom, blocking until initialised):
 * through the vDSO where the kernel exports __vdso_getrandom (Linux 6.11+),
 * else the system call. Async-signal-safe as the system call is (the vDSO
 * falls back to it when a signal handler interrupts a call in progress). */
int rngl_getrandom(void *buf, size_t n, lisec_err *err);
/* True where the running kernel's vDSO has getrandom. */
bool rngl_vdso_getrandom_available(void);
/* What rngl_vgetrandom answers where it cannot serve: the kernel's vDSO has
 * no getrandom (before Linux 6.11), or this thread's state page could not
 * be mapped. Not a failure: rngl_getrandom then uses the system call. */
#define RNGL_NO_VDSO (-ENOSYS)
/* One call of the vDSO getrandom with this thread's state: bytes written,
 * RNGL_NO_VDSO, or another negative errno. For the benchmark's peer and
 * rngl_getrandom. */
ssize_t rngl_vgetrandom(void *buf, size_t n);
/* Fill up to n bytes from the CPU instruction; return the count produced
 * (0 where the CPU lacks it or it kept failing, as RDSEED may under load). */
size_t rngl_rdrand(void *buf, size_t n);
size_t rngl_rdseed(void *buf, size_t n);
/* n raw timing-jitter samples, one per byte (the low byte of the duration
 * of a memory walk, unprocessed so health tests see the noise itself). */
void rngl_jitter(uint8_t *samples, size_t n);

/* ---- clone, fork and restore detection (libdetect.c) -------------------- */

enum {
  RNGL_EV_FORK = 1,
  RNGL_EV_GENID = 2,
  RNGL_EV_BOOTID = 4,
  RNGL_EV_CLOCK = 8,
};

typedef struct rngl_detect {
  volatile uint64_t *wipe; /* a MADV_WIPEONFORK page: zero in a child */
  uint64_t wipe_value;
  bool wipeonfork;          /* madvise succeeded; else the pid is checked */
  pid_t pid;
  char genid_path[512];
  uint8_t genid[RNG_ID_LEN]; /* SHA-256 prefix of the file, zero if none */
  bool genid_known;
  uint8_t bootid[RNG_ID_LEN];
  int uevent_fd;            /* NETLINK_KOBJECT_UEVENT, -1 if unavailable */
  int64_t gap_rt_ns, gap_boot_ns; /* REALTIME-MONOTONIC, BOOTTIME-MONOTONIC */
  _Atomic int64_t gap_coarse_ns;  /* the same from the coarse clocks */
  _Atomic int64_t next_slow_ns;   /* coarse monotonic time of the next slow check */
  atomic_bool jump_claimed;       /* a thread is handling a clock jump the fast check saw */
  int64_t interval_ns, jump_ns;
  char bootid_path[256];          /* RNGL_BOOTID_PATH except in tests */
  /* Tests only (rngl_detect_test_inject): added to every reading of
   * CLOCK_REALTIME / CLOCK_BOOTTIME, so a pause or restore can be simulated
   * without touching the system clock. Always 0 in production. */
  _Atomic int64_t test_skew_rt_ns, test_skew_boot_ns;
} rngl_detect;

#define RNGL_BOOTID_PATH "/proc/sys/kernel/random/boot_id"

int rngl_detect_init(rngl_detect *d, const char *genid_path, unsigned interval_ms,
                     unsigned jump_ms, lisec_err *err);
void rngl_detect_free(rngl_detect *d);
/* The per-call check: the wipe-on-fork page, then the coarse clocks. True
 * when this thread must run the slow check now: a fork, or it is the one
 * thread that claimed a due interval or a clock jump (the others get false
 * and go on). A few nanoseconds; no system call. */
bool rngl_detect_fast(rngl_detect *d);
/* Everything: pid, wipe page, generation id file and uevents, boot id,
 * precise clock gaps. Re-baselines what it checked; returns RNGL_EV_* bits.
 * The caller holds the library lock. */
unsigned rngl_detect_slow(rngl_detect *d);
/* Re-arms the wipe-on-fork page in a child (after RNGL_EV_FORK). */
void rngl_detect_rearm(rngl_detect *d);
/* Reads the boot id (16 bytes from the UUID text in path, normally
 * RNGL_BOOTID_PATH). */
int rngl_read_bootid(const char *path, uint8_t out[RNG_ID_LEN]);
/* Tests only: reads the boot id from bootid_path from now on (the file's
 * current id becomes the baseline; NULL keeps the path) and adds the skews
 * to the real-time and boot-time clocks (a jump of the gap to
 * CLOCK_MONOTONIC, as after a pause or restore). Production never calls it. */
void rngl_detect_test_inject(rngl_detect *d, const char *bootid_path, int64_t skew_rt_ns,
                             int64_t skew_boot_ns);
/* True where the kernel has the vmgenid driver (ACPI or platform bus): the
 * kernel then reseeds its RNG when the VM generation id changes. */
bool rngl_vmgenid_driver_present(void);
/* Hashes the generation-id file; false when it cannot be read. */
bool rngl_read_genid(const char *path, uint8_t out[RNG_ID_LEN]);

/* Tests only: the library's detector, so a test can inject a boot-id change
 * or a clock jump into it (not exported from liblisec-rng.so). NULL before
 * the library is initialised. */
rngl_detect *rngl_test_detector(void);

/* ---- the seed protocol client (libext.c) -------------------------------- */

typedef struct rngl_ext {
  char addr[256];           /* host:port or vsock:CID:PORT */
  char server_name[256];    /* the name the daemon's certificate must carry in
                             * its subjectAltName: required for vsock, the host
                             * dialled over TCP when empty */
  char cert[512], key[512], ca[512];
  void *ssl_ctx;            /* SSL_CTX* */
  void *ssl;                /* SSL*, kept between fetches until closed (liblisec-rng
                             * closes it after each fetch; the benchmark keeps it) */
  int fd;
  pid_t owner;              /* the process that opened the connection */
} rngl_ext;

void rngl_ext_init(rngl_ext *x);
/* One request/reply exchange: req must be a REQUEST; the reply must be a
 * SEED echoing nonce and counter. ERROR replies become LISEC_EDENIED with the
 * daemon's reason. Reconnects once when a kept-alive connection has died. */
int rngl_ext_fetch(rngl_ext *x, const rng_msg *req, rng_msg *reply, int timeout_ms,
                   lisec_err *err);
/* The TLS half of a fetch's connection on a stream socket fd already
 * connected to the daemon (taken over: closed on failure), the daemon's
 * certificate checked as a connection to x->addr would check it: a TLS
 * server's (serverAuth), naming x->server_name, or the host dialled over
 * TCP; a vsock address without server_name is refused. On success the
 * connection is x's, for rngl_ext_fetch. Tests put the vsock rule to a
 * daemon on TCP loopback with it where the kernel has no vsock loopback. */
int rngl_ext_handshake(rngl_ext *x, int fd, int timeout_ms, lisec_err *err);
/* Drops the connection; in a forked child without a word on the wire
 * (the TLS state belongs to the parent). */
void rngl_ext_close(rngl_ext *x);
void rngl_ext_free(rngl_ext *x);

#endif
