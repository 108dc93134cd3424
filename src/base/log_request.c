/* Request ids (docs/operations.md, "Logs"): the id that ties one request's
 * log lines together across lisecd's front and controller. A client may
 * choose it (X-Request-Id) within a small alphabet and length, so it can go
 * into a header, a log line and a wire message unescaped; otherwise lisecd
 * makes one from the kernel's random source. */
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

void lisec_request_id_new(char out[LISEC_REQUEST_ID_MAX]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char r[16] = {0};
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = getrandom(r + got, sizeof r - got, 0);
    if (n <= 0) break; /* not a secret: a shorter draw still tells requests apart */
    got += (size_t)n;
  }
  if (got < sizeof r) {
    /* No random source: the time still tells most requests apart. */
    uint64_t t = lisec_time_mono_ns();
    for (size_t i = 0; i < 8; i++) r[i] ^= (unsigned char)(t >> (8 * i));
  }
  for (size_t i = 0; i < sizeof r; i++) {
    out[2 * i] = hex[r[i] >> 4];
    out[2 * i + 1] = hex[r[i] & 15];
  }
  out[2 * sizeof r] = '\0';
}
