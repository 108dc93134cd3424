/* The Merkle tree's right edge as it is stored beside each signed
 * checkpoint (issue 22 item 7), so lisecd opens a large log without reading
 * what the checkpoint covers: the roots of the perfect subtrees that make up
 * the tree of the checkpoint's size, highest first. The checkpoint's signed
 * root is recomputed from them at open (audit_frontier_root), so a stored
 * frontier that was edited, forged or taken from another size does not give
 * that root and is refused; nothing else vouches for it. The text is one
 * JSON object in exactly the form written here,
 *   {"tree_size":N,"nodes":["<64 hex>",...]}
 * one node per bit set in N, with no other key, space or escape: the parser
 * is strict and bounded (AUDIT_FRONTIER_TEXT_MAX), as the store is outside
 * input. Pure: no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

#define HEAD "{\"tree_size\":"
#define MID ",\"nodes\":["
#define TAIL "]}"

int audit_frontier_format(const audit_frontier *f, char **out, lisec_err *err) {
  size_t cap = sizeof HEAD + 24 + sizeof MID + 64 * (2 * AUDIT_HASH_LEN + 3) + sizeof TAIL;
  char *s = malloc(cap);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t n = (size_t)snprintf(s, cap, HEAD "%llu" MID, (unsigned long long)f->size);
  bool first = true;
  for (int h = 63; h >= 0; h--) {
    if (!(f->size & ((uint64_t)1 << h))) continue;
    if (!first) s[n++] = ',';
    first = false;
    s[n++] = '"';
    lisec_hex_encode(f->node[h], AUDIT_HASH_LEN, s + n);
    n += 2 * AUDIT_HASH_LEN;
    s[n++] = '"';
  }
  memcpy(s + n, TAIL, sizeof TAIL);
  *out = s;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int bad(lisec_err *err, const char *what) {
  return lisec_err_set(err, LISEC_EINVAL, "TR103308-5.5: stored audit tree frontier malformed: %s", what);
}

int audit_frontier_parse(const char *text, size_t len, audit_frontier *out, lisec_err *err) {
  if (len > AUDIT_FRONTIER_TEXT_MAX) return bad(err, "too long");
  const char *p = text, *end = text + len;
  if ((size_t)(end - p) < sizeof HEAD - 1 || memcmp(p, HEAD, sizeof HEAD - 1) != 0) return bad(err, "no tree_size");
  p += sizeof HEAD - 1;
  uint64_t size = 0;
  const char *digits = p;
  while (p < end && *p >= '0' && *p <= '9') {
    if (p - digits >= 19) return bad(err, "tree_size out of range");
    size = size * 10 + (uint64_t)(*p++ - '0');
  }
  if (p == digits || (*digits == '0' && p - digits > 1)) return bad(err, "tree_size not a number");
  if (size > AUDIT_SIZE_MAX) return bad(err, "tree_size out of range");
  if ((size_t)(end - p) < sizeof MID - 1 || memcmp(p, MID, sizeof MID - 1) != 0) return bad(err, "no nodes");
  p += sizeof MID - 1;
  audit_frontier f;
  audit_frontier_init(&f);
  f.size = size;
  bool first = true;
  for (int h = 63; h >= 0; h--) {
    if (!(size & ((uint64_t)1 << h))) continue;
    if (!first && (p >= end || *p++ != ',')) return bad(err, "fewer nodes than tree_size has bits set");
    first = false;
    if ((size_t)(end - p) < 2 * AUDIT_HASH_LEN + 2 || p[0] != '"' || p[2 * AUDIT_HASH_LEN + 1] != '"')
      return bad(err, "a node is not 64 lower-case hex digits");
    p++;
    for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
      int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
      if (hi < 0 || lo < 0) return bad(err, "a node is not 64 lower-case hex digits");
      f.node[h][i] = (uint8_t)(hi << 4 | lo);
    }
    p += 2 * AUDIT_HASH_LEN + 1;
  }
  if ((size_t)(end - p) != sizeof TAIL - 1 || memcmp(p, TAIL, sizeof TAIL - 1) != 0)
    return bad(err, "more nodes than tree_size has bits set, or trailing bytes");
  *out = f;
  return 0;
}
