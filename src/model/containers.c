/* The small containers the model is built from: growable index arrays for
 * adjacency, violation lists, and the open-addressing map that interns ids
 * into dense indices, so every rule works on integers and arrays rather
 * than on strings. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

int grow(void **arr, uint32_t *cap, uint32_t need, size_t sz) {
  if (need <= *cap) return 0;
  uint64_t c = *cap ? *cap : 4;
  while (c < need) c *= 2;
  if (c > UINT32_MAX || c * sz > SIZE_MAX / 2) return LISEC_ENOMEM;
  void *p = realloc(*arr, (size_t)c * sz);
  if (!p) return LISEC_ENOMEM;
  *arr = p;
  *cap = (uint32_t)c;
  return 0;
}

int idvec_push(idvec *a, uint32_t x) {
  if (a->n == a->cap && grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v))
    return LISEC_ENOMEM;
  a->v[a->n++] = x;
  return 0;
}

bool idvec_del(idvec *a, uint32_t x) {
  for (uint32_t i = 0; i < a->n; i++)
    if (a->v[i] == x) {
      a->v[i] = a->v[--a->n];
      return true;
    }
  return false;
}

bool idvec_has(const idvec *a, uint32_t x) {
  for (uint32_t i = 0; i < a->n; i++)
    if (a->v[i] == x) return true;
  return false;
}

void idvec_free(idvec *a) {
  free(a->v);
  memset(a, 0, sizeof *a);
}

int vvec_push(vvec *a, const mviol *x) {
  if (a->n == a->cap && grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v))
    return LISEC_ENOMEM;
  a->v[a->n++] = *x;
  return 0;
}

/* FNV-1a: ids are short, and the map only needs a good spread. */
static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* A deleted slot keeps a non-NULL marker so probing continues past it. */
static const char tomb_key[] = "";
#define TOMB (&tomb_key[0])

bool strmap_get(const strmap *s, const char *key, uint32_t *out) {
  if (!s->cap) return false;
  uint32_t mask = s->cap - 1;
  for (uint32_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
    const char *k = s->keys[i];
    if (!k) return false;
    if (k != TOMB && strcmp(k, key) == 0) {
      if (out) *out = s->vals[i];
      return true;
    }
  }
}

static int strmap_rehash(strmap *s, uint32_t cap) {
  const char **keys = calloc(cap, sizeof *keys);
  uint32_t *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return LISEC_ENOMEM;
  }
  for (uint32_t j = 0; j < s->cap; j++) {
    const char *k = s->keys[j];
    if (!k || k == TOMB) continue;
    uint32_t i = hash_str(k) & (cap - 1);
    while (keys[i]) i = (i + 1) & (cap - 1);
    keys[i] = k;
    vals[i] = s->vals[j];
  }
  free(s->keys);
  free(s->vals);
  s->keys = keys;
  s->vals = vals;
  s->cap = cap;
  s->used = s->live;
  return 0;
}

int strmap_put(strmap *s, const char *key, uint32_t val) {
  /* Keep the load (live entries and tombstones) under 1/2. */
  if ((uint64_t)(s->used + 1) * 2 > s->cap) {
    /* Rehashing drops the tombstones; size for twice the live entries. */
    uint32_t cap = 16;
    while ((uint64_t)(s->live + 1) * 4 > cap) {
      if (cap >= (1u << 30)) return LISEC_ENOMEM;
      cap *= 2;
    }
    if (strmap_rehash(s, cap)) return LISEC_ENOMEM;
  }
  uint32_t mask = s->cap - 1, tomb = UINT32_MAX;
  for (uint32_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
    const char *k = s->keys[i];
    if (!k) {
      if (tomb != UINT32_MAX) i = tomb;
      else s->used++;
      s->keys[i] = key;
      s->vals[i] = val;
      s->live++;
      return 0;
    }
    if (k == TOMB) {
      if (tomb == UINT32_MAX) tomb = i;
    } else if (strcmp(k, key) == 0) {
      s->keys[i] = key;
      s->vals[i] = val;
      return 0;
    }
  }
}

void strmap_del(strmap *s, const char *key) {
  if (!s->cap) return;
  uint32_t mask = s->cap - 1;
  for (uint32_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
    const char *k = s->keys[i];
    if (!k) return;
    if (k != TOMB && strcmp(k, key) == 0) {
      s->keys[i] = TOMB;
      s->live--;
      return;
    }
  }
}

void strmap_free(strmap *s) {
  free(s->keys);
  free(s->vals);
  memset(s, 0, sizeof *s);
}
