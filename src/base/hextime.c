/* Hex, decimal and time: small conversions every module needs, kept in one
 * place so formats (RFC 3339 UTC, lower-case hex, bounded decimals) are the
 * same everywhere. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

bool lisec_decimal(const char *s, size_t len, int64_t min, int64_t max, int64_t *out) {
  char buf[72];
  size_t sign = len && (s[0] == '+' || s[0] == '-');
  if (len == sign || len >= sizeof buf) return false;
  for (size_t i = sign; i < len; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno == ERANGE || v < min || v > max) return false;
  *out = v;
  return true;
}

void lisec_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int lisec_hex_decode(const char *in, uint8_t *out, size_t out_len) {
  if (strlen(in) != 2 * out_len) return LISEC_EINVAL;
  for (size_t i = 0; i < out_len; i++) {
    int hi = hex_nibble(in[2 * i]), lo = hex_nibble(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return LISEC_EINVAL;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

int64_t lisec_time_now(void) { return (int64_t)time(NULL); }

int64_t lisec_time_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t lisec_time_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t lisec_time_mono_ms(void) { return (int64_t)(lisec_time_mono_ns() / 1000000u); }

void lisec_time_format(int64_t epoch_s, char out[32]) {
  time_t t = (time_t)epoch_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The number in s[at..at+n) when all n are digits, else -1. */
static int digits(const char *s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = at; i < at + n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" naming a real instant from 1970 on: a
 * 31st of April or a 60th second is refused, where strptime and timegm
 * would quietly move it to another day (a certificate's or a period's time
 * read as another); no time lisec reads is before the epoch, and one
 * before year 1000 would not be written back in four digits. */
int lisec_time_parse(const char *s, int64_t *epoch_s) {
  static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
  if (strlen(s) != sizeof form - 1) return LISEC_EINVAL;
  for (size_t i = 0; i < sizeof form - 1; i++)
    if (form[i] != 'd' && s[i] != form[i]) return LISEC_EINVAL;
  int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
    return LISEC_EINVAL;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > days[mo - 1] + (mo == 2 && leap)) return LISEC_EINVAL;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  *epoch_s = (int64_t)timegm(&tm);
  return 0;
}
