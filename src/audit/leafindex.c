/* Finding an audit entry by its leaf hash without reading the log: the index
 * keeps the first 4 bytes of every leaf hash (by entry index) and an open-
 * addressing hash table (linear probing) placed by those 4 bytes, holding
 * entry indexes. A lookup probes a few slots and returns the entries whose 4
 * bytes match: candidates, which the caller confirms against the full hash it
 * reads from the store (a false candidate needs 32 bits to agree: about one
 * lookup in 400 at 10M entries). Memory: 4 bytes per entry for the prefixes
 * and 4 per slot, the table kept at most 3/4 full (about 9-15 bytes per entry
 * in all: ~130 MiB at 10M entries, ~1.3 GiB at 100M). The table grows by
 * doubling, incrementally: the old table stays readable and a few of its
 * slots move on every add (a slot's place comes from the prefix, so nothing
 * else is needed to move it), so no add pays for a whole rehash, which would
 * stall the appender for seconds at 100M entries. Indexes are 32-bit in the
 * table; entries from 2^32 - 2 on are found by a scan of their prefixes.
 * Pure: no I/O and no locking (the caller's). */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

#define FIRST_CAP 4096u /* slots; a power of two */
#define MOVE_PER_ADD 8u /* old slots moved per add while growing */
#define NOT_TABLED UINT64_C(0xfffffffe) /* first index the table cannot hold */

struct audit_leaf_index {
  uint32_t *prefix; /* by entry index */
  uint64_t n, prefix_cap;
  uint32_t *slots; /* entry index + 1; 0 empty */
  uint64_t cap, used;
  uint32_t *old; /* the table before the last growth, while its slots move */
  uint64_t old_cap, moved;
};

static uint32_t prefix_of(const uint8_t leaf[AUDIT_HASH_LEN]) {
  uint32_t p;
  memcpy(&p, leaf, 4);
  return p;
}

/* The prefix is uniform (SHA-256); the multiply spreads it over tables of
 * any size, low bits included. */
static uint64_t home(uint32_t prefix, uint64_t cap) {
  return (uint64_t)((prefix * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

int audit_leaf_index_new(audit_leaf_index **out, lisec_err *err) {
  audit_leaf_index *x = calloc(1, sizeof *x);
  if (x) x->slots = calloc(FIRST_CAP, sizeof *x->slots);
  if (!x || !x->slots) {
    free(x);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory indexing the audit log");
  }
  x->cap = FIRST_CAP;
  *out = x;
  return 0;
}

void audit_leaf_index_free(audit_leaf_index *x) {
  if (!x) return;
  free(x->prefix);
  free(x->slots);
  free(x->old);
  free(x);
}

uint64_t audit_leaf_index_size(const audit_leaf_index *x) { return x->n; }

size_t audit_leaf_index_memory(const audit_leaf_index *x) {
  return (size_t)((x->prefix_cap + x->cap + x->old_cap) * sizeof(uint32_t));
}

static void put(uint32_t *slots, uint64_t cap, uint32_t prefix, uint32_t value) {
  uint64_t mask = cap - 1;
  for (uint64_t i = home(prefix, cap);; i = (i + 1) & mask)
    if (!slots[i]) {
      slots[i] = value;
      return;
    }
}

static void move_some(audit_leaf_index *x, uint64_t count) {
  for (; x->old && count > 0 && x->moved < x->old_cap; count--, x->moved++) {
    uint32_t v = x->old[x->moved];
    if (v) put(x->slots, x->cap, x->prefix[v - 1], v);
  }
  if (x->old && x->moved == x->old_cap) {
    free(x->old);
    x->old = NULL;
    x->old_cap = x->moved = 0;
  }
}

static int grow(audit_leaf_index *x, lisec_err *err) {
  move_some(x, UINT64_MAX); /* a growth still moving finishes first */
  uint32_t *bigger = calloc(x->cap * 2, sizeof *bigger);
  if (!bigger) return lisec_err_set(err, LISEC_ENOMEM, "out of memory indexing the audit log");
  x->old = x->slots;
  x->old_cap = x->cap;
  x->moved = 0;
  x->slots = bigger;
  x->cap *= 2;
  return 0;
}

int audit_leaf_index_add(audit_leaf_index *x, const uint8_t leaf[AUDIT_HASH_LEN], lisec_err *err) {
  if (x->n >= x->prefix_cap) {
    uint64_t cap = x->prefix_cap ? x->prefix_cap * 2 : 4096;
    uint32_t *p = realloc(x->prefix, cap * sizeof *p);
    if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory indexing the audit log");
    x->prefix = p;
    x->prefix_cap = cap;
  }
  uint32_t pre = prefix_of(leaf);
  if (x->n < NOT_TABLED) {
    if ((x->used + 1) * 4 > x->cap * 3) {
      int rc = grow(x, err);
      if (rc) return rc;
    }
    move_some(x, MOVE_PER_ADD);
    put(x->slots, x->cap, pre, (uint32_t)(x->n + 1));
    x->used++;
  }
  x->prefix[x->n++] = pre;
  return 0;
}

/* Appends to out the entries below `below` in one table whose prefix is
 * pre (a probe ends at an empty slot). */
static size_t probe(const audit_leaf_index *x, const uint32_t *slots, uint64_t cap, uint32_t pre,
                    uint64_t below, uint64_t *out, size_t have, size_t max) {
  uint64_t mask = cap - 1;
  for (uint64_t i = home(pre, cap); slots[i] && have < max; i = (i + 1) & mask) {
    uint64_t idx = slots[i] - 1u;
    if (idx >= below || x->prefix[idx] != pre) continue;
    bool dup = false;
    for (size_t k = 0; k < have && !dup; k++) dup = out[k] == idx;
    if (!dup) out[have++] = idx;
  }
  return have;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

size_t audit_leaf_index_find(const audit_leaf_index *x, const uint8_t leaf[AUDIT_HASH_LEN],
                             uint64_t below, uint64_t *out, size_t max) {
  uint32_t pre = prefix_of(leaf);
  if (below > x->n) below = x->n;
  size_t have = probe(x, x->slots, x->cap, pre, below, out, 0, max);
  if (x->old) have = probe(x, x->old, x->old_cap, pre, below, out, have, max);
  /* entries beyond what the table holds: by their prefixes */
  for (uint64_t i = NOT_TABLED; i < below && have < max; i++)
    if (x->prefix[i] == pre) out[have++] = i;
  qsort(out, have, sizeof *out, cmp_u64);
  return have;
}
