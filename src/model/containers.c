/* The small containers the model is built from: growable index arrays for
 * adjacency, violation lists, and the open-addressing map that interns ids
 * into dense indices, so every rule works on integers and arrays rather
 * than on strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/internal.h"

/* The big tables (entities, id maps) are read at random by every decision:
 * with 4 KiB pages each of those reads is likely a TLB miss too. Huge pages
 * are asked for them (a hint; the kernel may decline). */
#define HUGE_PAGE (2u * 1024 * 1024)
static void advise_huge(void *p, size_t n) {
  if (n < 2 * (size_t)HUGE_PAGE) return;
  uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
  uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
  if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
  (void)a;
  (void)b;
#endif
}

int grow(void **arr, uint32_t *cap, uint32_t need, size_t sz) {
  if (need <= *cap) return 0;
  uint64_t c = *cap ? *cap : 4;
  while (c < need) c *= 2;
  if (c > UINT32_MAX || c * sz > SIZE_MAX / 2) return LISEC_ENOMEM;
  size_t bytes = (size_t)c * sz;
  void *p;
  if (bytes >= 2 * (size_t)HUGE_PAGE) {
    /* Fresh memory, advised before anything touches it, so its pages can
     * be huge from the first fault; the old contents are copied over. */
    p = malloc(bytes);
    if (!p) return LISEC_ENOMEM;
    advise_huge(p, bytes);
    if (*arr) memcpy(p, *arr, (size_t)*cap * sz);
    free(*arr);
  } else {
    p = realloc(*arr, bytes);
    if (!p) return LISEC_ENOMEM;
  }
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
  uint32_t h = STRMAP_HASH0;
  for (; *s; s++) h = strmap_step(h, (unsigned char)*s);
  return h;
}

/* A deleted slot keeps a non-NULL marker so probing continues past it. */
static const char tomb_key[] = "";
#define TOMB (&tomb_key[0])

bool strmap_get(const strmap *s, const char *key, uint32_t *out) {
  return strmap_get_h(s, key, hash_str(key), out);
}

bool strmap_get_h(const strmap *s, const char *key, uint32_t h, uint32_t *out) {
  if (!s->cap) return false;
  uint32_t mask = s->cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    const strslot *e = &s->slots[i];
    if (!e->key) return false;
    if (e->hash == h && e->key != TOMB && strcmp(e->key, key) == 0) {
      if (out) *out = e->val;
      return true;
    }
  }
}

void strmap_touch(const strmap *s, uint32_t h) {
  if (s->cap) __builtin_prefetch(&s->slots[h & (s->cap - 1)]);
}

uint32_t strmap_guess(const strmap *s, uint32_t h) {
  if (!s->cap) return UINT32_MAX;
  const strslot *e = &s->slots[h & (s->cap - 1)];
  if (!e->key || e->hash != h) return UINT32_MAX;
  __builtin_prefetch(e->key);
  return e->val;
}

static int strmap_rehash(strmap *s, uint32_t cap) {
  strslot *slots = calloc(cap, sizeof *slots);
  if (!slots) return LISEC_ENOMEM;
  advise_huge(slots, (size_t)cap * sizeof *slots);
  for (uint32_t j = 0; j < s->cap; j++) {
    const strslot *e = &s->slots[j];
    if (!e->key || e->key == TOMB) continue;
    uint32_t i = e->hash & (cap - 1);
    while (slots[i].key) i = (i + 1) & (cap - 1);
    slots[i] = *e;
  }
  free(s->slots);
  s->slots = slots;
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
  uint32_t mask = s->cap - 1, tomb = UINT32_MAX, h = hash_str(key);
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    strslot *e = &s->slots[i];
    if (!e->key) {
      if (tomb != UINT32_MAX) e = &s->slots[tomb];
      else s->used++;
      *e = (strslot){.key = key, .hash = h, .val = val};
      s->live++;
      return 0;
    }
    if (e->key == TOMB) {
      if (tomb == UINT32_MAX) tomb = i;
    } else if (e->hash == h && strcmp(e->key, key) == 0) {
      e->key = key;
      e->val = val;
      return 0;
    }
  }
}

void strmap_del(strmap *s, const char *key) {
  if (!s->cap) return;
  uint32_t mask = s->cap - 1, h = hash_str(key);
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    strslot *e = &s->slots[i];
    if (!e->key) return;
    if (e->hash == h && e->key != TOMB && strcmp(e->key, key) == 0) {
      e->key = TOMB;
      s->live--;
      return;
    }
  }
}

void strmap_free(strmap *s) {
  free(s->slots);
  memset(s, 0, sizeof *s);
}
