/* libFuzzer harness: the front's HTTP/1.1 request framing (api/http1.c) on
 * what a client could send. The first byte picks the limits and whether the
 * input is a head (and, if it says chunked, its body after it) or a chunked
 * body alone; the next two bytes pick where the input is cut for a first,
 * partial call. Beyond "does not crash or read past the input" (ASan; every
 * buffer is exactly the input's length), it aborts when an invariant
 * breaks: a head longer than the input or the limit, slices outside the
 * head, a method or version it should have refused, both Content-Length and
 * chunked; a prefix of the input framed differently from the whole (OK with
 * another head_len, OK where the whole is not, refused where the whole is
 * taken); a chunked body scanned in two calls ending otherwise than in one,
 * a body over its limit, or decoding to a length other than the scan's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http1.h"

#define MAX_BODY 4096

static bool in(const char *p, size_t n, const char *buf, size_t len) {
  return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_head(const char *buf, size_t len, size_t max_head, const http1_request *r) {
  /* "A / HTTP/1.0" CRLF CRLF is the shortest. */
  if (r->head_len > len || r->head_len > max_head || r->head_len < 16) abort();
  if (!in(r->target.p, r->target.n, buf, r->head_len) || r->target.n == 0 || r->target.p[0] != '/') abort();
  if (r->target.n > API_URI_MAX) abort();
  size_t mn = strnlen(r->method, sizeof r->method);
  if (mn == 0 || mn >= HTTP1_METHOD_MAX) abort();
  if (r->minor != 0 && r->minor != 1) abort();
  if (r->chunked && (r->has_length || r->minor == 0)) abort();
  if (r->expect_continue && r->minor == 0) abort();
  if (r->n_request_id && !in(r->request_id.p, r->request_id.n, buf, r->head_len)) abort();
  if (r->has_if_match && !in(r->if_match.p, r->if_match.n, buf, r->head_len)) abort();
  if (r->n_request_id < 0 || r->n_request_id > HTTP1_FIELDS_MAX) abort();
  /* The head ends with an empty line. */
  if (memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) != 0) abort();
}

static char *copy(const uint8_t *p, size_t n) {
  char *c = malloc(n ? n : 1);
  memcpy(c, p, n);
  return c;
}

static void body(const uint8_t *data, size_t len, size_t cut, size_t max_line) {
  int status = 0;
  const char *why = NULL;
  char *whole = copy(data, len);
  http1_chunked one = {0};
  http1_result r1 = http1_chunked_scan(&one, whole, len, MAX_BODY, max_line, &status, &why);
  if (one.body_len > MAX_BODY || one.pos > len) abort();
  if (r1 == HTTP1_BAD && (!why || (status != 400 && status != 413))) abort();
  if (r1 == HTTP1_OK) {
    if (one.wire_len > len || one.wire_len < 5 || one.body_len > one.wire_len) abort();
    char *w = copy(data, one.wire_len);
    if (http1_chunked_decode(w, one.wire_len) != one.body_len) abort();
    free(w);
  }
  /* Two calls, the first on a prefix. */
  char *part = copy(data, cut);
  http1_chunked two = {0};
  http1_result rp = http1_chunked_scan(&two, part, cut, MAX_BODY, max_line, &status, &why);
  free(part);
  if (rp == HTTP1_OK && (r1 != HTTP1_OK || two.wire_len != one.wire_len || two.body_len != one.body_len)) abort();
  if (rp == HTTP1_BAD && r1 != HTTP1_BAD) abort();
  if (rp == HTTP1_MORE) {
    http1_result r2 = http1_chunked_scan(&two, whole, len, MAX_BODY, max_line, &status, &why);
    if (r2 != r1) abort();
    if (r2 == HTTP1_OK && (two.wire_len != one.wire_len || two.body_len != one.body_len)) abort();
  }
  free(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  uint8_t flags = data[0];
  size_t len = size - 3;
  size_t cut = ((size_t)data[1] << 8 | data[2]) % (len + 1);
  data += 3;
  size_t max_head = (flags & 2) ? 64 : 8192;
  size_t max_line = (flags & 4) ? 8 : 128;
  if (!(flags & 1)) {
    body(data, len, cut, max_line);
    return 0;
  }
  int status = 0;
  const char *why = NULL;
  http1_request whole, part;
  char *buf = copy(data, len);
  http1_result r = http1_parse_head(buf, len, max_head, &whole, &status, &why);
  if (r == HTTP1_OK) check_head(buf, len, max_head, &whole);
  if (r == HTTP1_BAD && (!why || (status != 400 && status != 414 && status != 417 && status != 431 &&
                                  status != 501 && status != 505)))
    abort();
  char *pre = copy(data, cut);
  http1_result rp = http1_parse_head(pre, cut, max_head, &part, &status, &why);
  if (rp == HTTP1_OK && (r != HTTP1_OK || part.head_len != whole.head_len)) abort();
  if (r == HTTP1_OK && cut < whole.head_len && rp != HTTP1_MORE) abort();
  free(pre);
  if (r == HTTP1_OK && whole.chunked) {
    size_t rest = len - whole.head_len;
    body(data + whole.head_len, rest, cut % (rest + 1), max_line);
  }
  free(buf);
  return 0;
}
