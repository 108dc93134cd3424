/* A set of names, each with a number, for the checks that compare every
 * name of a package with every other (duplicate manifest sources, which
 * member a Source names, which members the manifest lists): looked up in
 * constant time instead of a scan, so a package of 10,000 members costs
 * 10,000 lookups, not 50 million comparisons. The names come from the
 * package, so the hash is keyed (SipHash-2-4, a random key per set): a
 * package cannot be built whose names all land in one slot. Open
 * addressing, linear probing, at most half full. Names are borrowed. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
  do { \
    v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32); \
    v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2; \
    v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0; \
    v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32); \
  } while (0)

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* SipHash-2-4 of s (n bytes) under the key k0, k1. */
static uint64_t siphash(uint64_t k0, uint64_t k1, const char *s, size_t n) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
  const uint8_t *p = (const uint8_t *)s;
  size_t whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = le64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)n << 56;
  for (size_t i = 0; i < n % 8; i++) b |= (uint64_t)p[whole + i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

int pkg_nameset_init(pkg_nameset *s, size_t expected) {
  memset(s, 0, sizeof *s);
  size_t cap = 16;
  while (cap < 2 * expected + 2) cap *= 2;
  uint8_t key[16];
  if (RAND_bytes(key, sizeof key) != 1) return LISEC_ENOMEM;
  s->k0 = le64(key);
  s->k1 = le64(key + 8);
  s->slots = calloc(cap, sizeof *s->slots);
  if (!s->slots) return LISEC_ENOMEM;
  s->cap = cap;
  return 0;
}

void pkg_nameset_free(pkg_nameset *s) {
  free(s->slots);
  memset(s, 0, sizeof *s);
}

/* The slot that holds name, or the empty one where it would go. */
static struct pkg_nameslot *slot_of(const pkg_nameset *s, const char *name) {
  size_t i = (size_t)siphash(s->k0, s->k1, name, strlen(name)) & (s->cap - 1);
  while (s->slots[i].name && strcmp(s->slots[i].name, name) != 0) i = (i + 1) & (s->cap - 1);
  return &s->slots[i];
}

static int grow(pkg_nameset *s) {
  pkg_nameset n = *s;
  n.cap = 2 * s->cap;
  n.n = 0;
  if (n.cap < s->cap || !(n.slots = calloc(n.cap, sizeof *n.slots))) return LISEC_ENOMEM;
  for (size_t i = 0; i < s->cap; i++)
    if (s->slots[i].name) {
      *slot_of(&n, s->slots[i].name) = s->slots[i];
      n.n++;
    }
  free(s->slots);
  *s = n;
  return 0;
}

int pkg_nameset_add(pkg_nameset *s, const char *name, size_t value) {
  if (2 * (s->n + 1) > s->cap && grow(s)) return LISEC_ENOMEM;
  struct pkg_nameslot *x = slot_of(s, name);
  if (x->name) return 0;
  x->name = name;
  x->value = value;
  s->n++;
  return 1;
}

bool pkg_nameset_get(const pkg_nameset *s, const char *name, size_t *value) {
  if (!s->cap) return false;
  const struct pkg_nameslot *x = slot_of(s, name);
  if (!x->name) return false;
  if (value) *value = x->value;
  return true;
}
