/* Text appended into a caller's fixed buffer without printf: the lines and
 * headers written for every request (a reply's head, an access line),
 * where printf's format machinery cost more than the copying. Appends stop
 * at the buffer's end and say so (over); the text is never terminated
 * here, the caller knows its length. */
#include <string.h>

#include "base/base.h"

void lisec_fbuf_put(lisec_fbuf *b, const char *s, size_t len) {
  if (b->over || len > b->cap - b->n) {
    b->over = true;
    return;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
}

void lisec_fbuf_str(lisec_fbuf *b, const char *s, size_t max) {
  lisec_fbuf_put(b, s, strnlen(s, max));
}

void lisec_fbuf_uint(lisec_fbuf *b, uint64_t v, int min_digits) {
  char d[24];
  size_t i = sizeof d;
  do d[--i] = (char)('0' + v % 10);
  while ((v /= 10) || (int)(sizeof d - i) < min_digits);
  lisec_fbuf_put(b, d + i, sizeof d - i);
}
