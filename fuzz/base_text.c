/* Fuzzes base/'s small text readers every module and signed document goes
 * through (hextime.c, id.c): hex, bounded decimals, RFC 3339 times and the
 * one identifier rule. What is asserted: hex read is written back the same
 * (in lower case); a decimal read is within its bounds and written in
 * decimal reads back the same; a time read, written canonically, reads as
 * the same instant and writes the same text; an id the rule admits is
 * within its bound and characters and admitted by lisec_id_valid too, and
 * one it refuses is refused with a reason and by lisec_id_valid. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hex(const char *s) {
  size_t n = strlen(s) / 2;
  uint8_t out[256];
  if (n > sizeof out) return;
  if (lisec_hex_decode(s, out, n) != 0) return;
  char back[2 * sizeof out + 1];
  lisec_hex_encode(out, n, back);
  for (size_t i = 0; i < 2 * n; i++)
    if (back[i] != tolower((unsigned char)s[i])) abort();
}

static void decimal(const char *s, size_t len, uint8_t sel) {
  static const int64_t bounds[][2] = {{0, 100}, {-1000, 1000}, {INT64_MIN, INT64_MAX}, {1, INT64_MAX / 2}};
  const int64_t *b = bounds[sel % 4];
  int64_t v = 0, again = 0;
  if (!lisec_decimal(s, len, b[0], b[1], &v)) return;
  if (v < b[0] || v > b[1]) abort();
  char text[32];
  int n = snprintf(text, sizeof text, "%lld", (long long)v);
  if (!lisec_decimal(text, (size_t)n, b[0], b[1], &again) || again != v) abort();
}

static void time_text(const char *s) {
  int64_t t = 0, t2 = 0;
  if (lisec_time_parse(s, &t) != 0) return;
  char out[32], out2[32];
  lisec_time_format(t, out);
  if (lisec_time_parse(out, &t2) != 0 || t2 != t) abort();
  lisec_time_format(t2, out2);
  if (strcmp(out, out2) != 0) abort();
}

static void id(const char *s, size_t len) {
  lisec_err err = {0};
  if (lisec_id_check("id", s, len, &err) == 0) {
    if (len == 0 || len > LISEC_ID_MAX || !lisec_id_valid(s)) abort();
    for (size_t i = 0; i < len; i++)
      if (!lisec_id_char((unsigned char)s[i], i)) abort();
  } else if (!err.msg[0] || (strlen(s) == len && lisec_id_valid(s))) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  char *s = malloc(size);
  if (!s) return 0;
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  size_t len = size - 1;
  switch (data[0] % 4) {
  case 0: hex(s); break;
  case 1: decimal(s, len, data[0] >> 2); break;
  case 2: time_text(s); break;
  default: id(s, len); break;
  }
  free(s);
  return 0;
}
