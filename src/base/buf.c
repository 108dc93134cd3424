/* Growable byte buffers with a hard ceiling, for reading bodies and files
 * from outside without trusting their declared or actual size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/base.h"

void lisec_buf_init(lisec_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

int lisec_buf_reserve(lisec_buf *b, size_t extra) {
  if (extra > b->max - b->len) return LISEC_ETOOBIG;
  size_t need = b->len + extra + 1; /* room for a NUL terminator */
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *n = malloc(cap);
  if (!n) return LISEC_ENOMEM;
  if (b->data) {
    memcpy(n, b->data, b->len);
    OPENSSL_cleanse(b->data, b->cap); /* the old copy may hold a secret */
    free(b->data);
  }
  b->data = n;
  b->cap = cap;
  return 0;
}

int lisec_buf_append(lisec_buf *b, const void *p, size_t n) {
  int rc = lisec_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

int lisec_buf_printf(lisec_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return LISEC_EINVAL;
  int rc = lisec_buf_reserve(b, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void lisec_buf_free(lisec_buf *b) {
  if (b->data) {
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
  }
  b->data = NULL;
  b->len = b->cap = 0;
}
