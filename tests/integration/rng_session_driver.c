/* The process tests/integration/rng_session.sh drives against a real
 * lisec-entropyd (issue 18, item 2: no cryptographic session survives a
 * clone). It goes through liblisec-rng's steps one at a time, printing
 * "step NAME rc" and waiting for a line on stdin before the next, so the
 * script can read the daemon's connection counters between steps: every
 * fetch must come over a TLS connection of its own that is closed when the
 * fetch ends. The clone-like events are the library's own detectors fed by
 * its test hooks: a changed generation-id file, a clock jump
 * (rngl_detect_test_inject's skew), a changed boot id (a file the hook
 * points at) and a fork. Configuration comes from LISEC_RNG_* in the
 * environment; argv[1] and argv[2] are files the driver writes the
 * generation id and the injected boot id into. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lisec/rng.h"
#include "rng/libos.h"

static void step(const char *name, int rc) {
  printf("step %s %d\n", name, rc);
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) exit(0); /* the script is done with us */
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "rng_session_driver: cannot write %s\n", path);
    exit(2);
  }
}

/* Runs the detection until it reports an event: 1, or 0 after 3 s. */
static int check_until_event(void) {
  for (int i = 0; i < 300; i++) {
    int rc = lisec_rng_check();
    if (rc != 0) return rc;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: rng_session_driver GENID_FILE BOOTID_FILE\n");
    return 2;
  }
  write_file(argv[1], "generation-1\n");
  lisec_rng_options o = {.genid_path = argv[1], .check_interval_ms = 1};
  int rc = lisec_rng_init(&o);
  struct lisec_rng_status st;
  if (!rc) rc = lisec_rng_status(&st);
  step("init", rc ? rc : st.external_fresh ? 0 : -100);

  uint8_t key[32], out[64];
  step("keygen-1", lisec_rng_keygen_bytes(key, sizeof key));
  step("keygen-2", lisec_rng_keygen_bytes(key, sizeof key));
  step("bytes", lisec_rng_bytes(out, sizeof out));

  write_file(argv[1], "generation-2\n");
  step("genid", check_until_event() == 1 ? 0 : -101);

  rngl_detect *det = rngl_test_detector();
  if (!det) return 3;
  rngl_detect_test_inject(det, NULL, 5LL * 1000000000LL, 0);
  step("clock", check_until_event() == 1 ? 0 : -102);

  write_file(argv[2], "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n");
  rngl_detect_test_inject(det, argv[2], 5LL * 1000000000LL, 0); /* the baseline */
  write_file(argv[2], "00112233-4455-6677-8899-aabbccddeeff\n");
  step("bootid", check_until_event() == 1 ? 0 : -103);

  /* An event seen by the key generation itself: the seed fetched for the
   * event is the key's own (one fetch, one new session, not two). */
  write_file(argv[1], "generation-3\n");
  step("genid-keygen", lisec_rng_keygen_bytes(key, sizeof key));

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int r = lisec_rng_keygen_bytes(key, sizeof key);
    _exit(r == 0 ? 0 : 10);
  }
  int status = 0;
  rc = pid < 0 || waitpid(pid, &status, 0) != pid ? -104
       : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0
                                                        : -105;
  step("fork-child-keygen", rc);
  step("keygen-3", lisec_rng_keygen_bytes(key, sizeof key));
  lisec_rng_shutdown();
  step("end", 0);
  return 0;
}
