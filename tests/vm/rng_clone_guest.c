/* The program tests/integration/rng_vm.sh runs inside a QEMU guest that is
 * snapshotted and resumed as two clones: it streams 16-byte blocks from three
 * generators over a virtio-serial port, one block of each per iteration in a
 * fixed order (the kernel's getrandom(), liblisec-rng, OpenSSL's RAND_bytes),
 * each record carrying the iteration counter, and a fourth record: the
 * kernel draw liblisec-rng made for its block. The library calls libc's
 * getrandom(), which this program's own definition interposes, so the guest
 * sees the very bytes the library XORed over its buffer; the host can then
 * hold each liblisec-rng repeat against the kernel at the instant of that
 * draw, not a draw made just before it (the kernel's state can change in
 * between: a reseed lands there). One write per iteration keeps at most one
 * iteration in flight at a snapshot.
 * With "keygen" it instead generates 32-byte keys in a loop, each fetching
 * its seed from lisec-entropyd on the host (LISEC_RNG_* in the
 * environment), and streams the first 16 bytes of each key (kind 4) or the
 * failure code (kind 5): a snapshot catches a key generation talking to the
 * daemon, and the host checks that both clones go on with new sessions and
 * different keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "lisec/rng.h"

enum {
  KIND_GETRANDOM = 1,
  KIND_LISEC = 2,
  KIND_RAND_BYTES = 3,
  KIND_KEY = 4,
  KIND_KEY_FAILED = 5,
  KIND_LISEC_DRAW = 6
};

/* The last kernel draw made through libc's getrandom() while `watching`
 * (one thread: the guest draws in a single loop). */
static int watching;
static uint8_t last_draw[16];
static unsigned long draws_seen;

ssize_t getrandom(void *buf, size_t n, unsigned int flags) {
  long r = syscall(SYS_getrandom, buf, n, flags);
  if (r > 0 && watching) {
    memset(last_draw, 0, sizeof last_draw);
    memcpy(last_draw, buf, (size_t)r < sizeof last_draw ? (size_t)r : sizeof last_draw);
    draws_seen++;
  }
  return r;
}

/* 32 bytes on the wire: counter (little-endian), kind, padding, block. */
struct rec {
  uint64_t counter;
  uint8_t kind;
  uint8_t pad[7];
  uint8_t block[16];
};

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static int keygen_loop(int fd) {
  int told = 0; /* failures reported on the console (a clone inherits the count) */
  fprintf(stderr, "rng_clone_guest: generating keys\n");
  for (uint64_t i = 1;; i++) {
    struct rec r;
    memset(&r, 0, sizeof r);
    r.counter = i;
    uint8_t key[32];
    int rc = lisec_rng_keygen_bytes(key, sizeof key);
    if (rc == LISEC_RNG_OK) {
      r.kind = KIND_KEY;
      memcpy(r.block, key, sizeof r.block);
    } else {
      r.kind = KIND_KEY_FAILED;
      snprintf((char *)r.block, sizeof r.block, "%d", rc);
      if (told++ < 20)
        fprintf(stderr, "rng_clone_guest: keygen %llu: %s\n", (unsigned long long)i,
                lisec_rng_last_error());
    }
    if (write_all(fd, &r, sizeof r) != 0) return 1;
  }
}

int main(int argc, char **argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "keygen") == 0)) {
    fprintf(stderr, "usage: rng_clone_guest PORT [keygen]\n");
    return 2;
  }
  int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "rng_clone_guest: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (argc == 3) return keygen_loop(fd);
  uint8_t warm[16];
  if (lisec_rng_bytes(warm, sizeof warm) != LISEC_RNG_OK) {
    fprintf(stderr, "rng_clone_guest: liblisec-rng: %s\n", lisec_rng_last_error());
    return 1;
  }
  if (RAND_bytes(warm, sizeof warm) != 1) {
    fprintf(stderr, "rng_clone_guest: RAND_bytes failed\n");
    return 1;
  }
  fprintf(stderr, "rng_clone_guest: streaming\n");
  for (uint64_t i = 1;; i++) {
    struct rec r[4];
    memset(r, 0, sizeof r);
    for (int k = 0; k < 3; k++) r[k].counter = i, r[k].kind = (uint8_t)(k + 1);
    r[3].counter = i, r[3].kind = KIND_LISEC_DRAW;
    if (getrandom(r[0].block, 16, 0) != 16) return 1;
    unsigned long seen = draws_seen;
    watching = 1;
    int rc = lisec_rng_bytes(r[1].block, 16);
    watching = 0;
    if (rc != LISEC_RNG_OK) {
      fprintf(stderr, "rng_clone_guest: liblisec-rng: %s\n", lisec_rng_last_error());
      return 1;
    }
    if (draws_seen == seen) {
      fprintf(stderr, "rng_clone_guest: liblisec-rng drew nothing through getrandom(): the kernel draw cannot be recorded\n");
      return 1;
    }
    memcpy(r[3].block, last_draw, sizeof r[3].block);
    if (RAND_bytes(r[2].block, 16) != 1) return 1;
    if (write_all(fd, r, sizeof r) != 0) {
      fprintf(stderr, "rng_clone_guest: write: %s\n", strerror(errno));
      return 1;
    }
  }
}
