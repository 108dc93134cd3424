/* The program tests/integration/rng_vm.sh runs inside a QEMU guest that is
 * snapshotted and resumed as two clones: it streams 16-byte blocks from three
 * generators over a virtio-serial port, one block of each per iteration in a
 * fixed order (the kernel's getrandom(), liblisec-rng, OpenSSL's RAND_bytes),
 * each record carrying the iteration counter. Drawing all three in the same
 * iteration puts them at the same instant, so the host can hold
 * liblisec-rng's repeats against the kernel's in the same guest at the same
 * time: liblisec-rng draws its fresh kernel input after the getrandom() block
 * of the same iteration, so once the kernel has moved on, so has it. One
 * write per iteration keeps at most one iteration in flight at a snapshot.
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
#include <unistd.h>

#include <openssl/rand.h>

#include "lisec/rng.h"

enum { KIND_GETRANDOM = 1, KIND_LISEC = 2, KIND_RAND_BYTES = 3, KIND_KEY = 4, KIND_KEY_FAILED = 5 };

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
    struct rec r[3];
    memset(r, 0, sizeof r);
    for (int k = 0; k < 3; k++) r[k].counter = i, r[k].kind = (uint8_t)(k + 1);
    if (getrandom(r[0].block, 16, 0) != 16) return 1;
    if (lisec_rng_bytes(r[1].block, 16) != LISEC_RNG_OK) {
      fprintf(stderr, "rng_clone_guest: liblisec-rng: %s\n", lisec_rng_last_error());
      return 1;
    }
    if (RAND_bytes(r[2].block, 16) != 1) return 1;
    if (write_all(fd, r, sizeof r) != 0) {
      fprintf(stderr, "rng_clone_guest: write: %s\n", strerror(errno));
      return 1;
    }
  }
}
