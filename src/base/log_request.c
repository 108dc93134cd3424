/* Request ids (docs/operations.md, "Logs"): the id that ties one request's
 * log lines together across lisecd's front and controller. A client may
 * choose it (X-Request-Id) within a small alphabet and length, so it can go
 * into a header, a log line and a wire message unescaped; otherwise lisecd
 * makes one: each thread draws 16 bytes from the kernel's random source
 * once and then counts, so a request costs no system call (the id tells
 * requests apart; it is not a secret and need not be unpredictable). A
 * child of fork() forgets its parent's draw, so the two never repeat one
 * another's ids. */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "base/base.h"

bool lisec_request_id_valid(const char *s, size_t len) {
  if (!s || len == 0 || len >= LISEC_REQUEST_ID_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

/* This thread's draw and how many ids it has made from it. */
static _Thread_local struct {
  bool drawn;
  unsigned char seed[16];
  uint64_t count;
} ids;

static void ids_forget_after_fork(void) { ids.drawn = false; }
static void ids_watch_forks(void) { pthread_atfork(NULL, NULL, ids_forget_after_fork); }

static void ids_draw(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, ids_watch_forks);
  memset(ids.seed, 0, sizeof ids.seed);
  size_t got = 0;
  while (got < sizeof ids.seed) {
    ssize_t n = getrandom(ids.seed + got, sizeof ids.seed - got, 0);
    if (n <= 0) break; /* a shorter draw still tells threads apart */
    got += (size_t)n;
  }
  if (got < sizeof ids.seed) {
    /* No random source: the time and the thread's address still do. */
    uint64_t t = lisec_time_mono_ns(), a = (uint64_t)(uintptr_t)&ids;
    for (size_t i = 0; i < 8; i++) {
      ids.seed[i] ^= (unsigned char)(t >> (8 * i));
      ids.seed[8 + i] ^= (unsigned char)(a >> (8 * i));
    }
  }
  ids.count = 0;
  ids.drawn = true;
}

void lisec_request_id_new(char out[LISEC_REQUEST_ID_MAX]) {
  static const char hex[] = "0123456789abcdef";
  if (!ids.drawn) ids_draw();
  unsigned char r[16];
  memcpy(r, ids.seed, sizeof r);
  uint64_t n = ids.count++;
  for (size_t i = 0; i < 8; i++) r[8 + i] ^= (unsigned char)(n >> (8 * i)); /* the low half counts */
  for (size_t i = 0; i < sizeof r; i++) {
    out[2 * i] = hex[r[i] >> 4];
    out[2 * i + 1] = hex[r[i] & 15];
  }
  out[2 * sizeof r] = '\0';
}
