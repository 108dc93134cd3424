/* The compact Merkle tree that lisecd keeps in memory. It stores the hash of
 * every complete, aligned subtree of height >= low_level (about 2 * n /
 * 2^low_level hashes) plus the leaf hashes of the last, incomplete group.
 * Every node of the RFC 9162 tree of any size m <= n is either one of those
 * subtrees or made of them and of subtrees below low_level, which are
 * recomputed from one group of 2^low_level leaf hashes asked of the caller.
 * So a proof at 10M entries costs a few dozen hashes and one small fetch, and
 * the memory is 64 / 2^low_level bytes per entry instead of 32. Proofs are
 * built with the recursions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1
 * (SUBPROOF); root of a range is MTH by its definition. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

typedef struct tree_level {
  uint8_t (*h)[AUDIT_HASH_LEN];
  uint64_t cap;
} tree_level;

struct audit_tree {
  unsigned low;  /* lowest level kept */
  uint64_t size; /* leaves */
  tree_level lv[64];
  uint8_t (*tail)[AUDIT_HASH_LEN]; /* leaves of the incomplete group: size mod 2^low */
};

/* A proof's scratch space: one group of leaf hashes fetched once and reused
 * for every low subtree inside it. */
typedef struct tree_ctx {
  const audit_tree *t;
  audit_leaf_fetch fetch;
  void *fctx;
  lisec_err *err;
  int rc;
  uint64_t group; /* which group is loaded, UINT64_MAX = none */
  uint8_t (*leaves)[AUDIT_HASH_LEN];
} tree_ctx;

int audit_tree_new(unsigned low_level, audit_tree **out, lisec_err *err) {
  if (low_level > AUDIT_LOW_LEVEL_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "audit tree: low level %u above %d", low_level,
                         AUDIT_LOW_LEVEL_MAX);
  audit_tree *t = calloc(1, sizeof *t);
  if (t) t->tail = malloc(((size_t)1 << low_level) * AUDIT_HASH_LEN);
  if (!t || !t->tail) {
    free(t);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  t->low = low_level;
  *out = t;
  return 0;
}

void audit_tree_free(audit_tree *t) {
  if (!t) return;
  for (size_t i = 0; i < 64; i++) free(t->lv[i].h);
  free(t->tail);
  free(t);
}

uint64_t audit_tree_size(const audit_tree *t) { return t->size; }
unsigned audit_tree_low_level(const audit_tree *t) { return t->low; }

size_t audit_tree_memory(const audit_tree *t) {
  size_t n = ((size_t)1 << t->low) * AUDIT_HASH_LEN;
  for (size_t i = 0; i < 64; i++) n += t->lv[i].cap * AUDIT_HASH_LEN;
  return n;
}

static int level_push(tree_level *l, uint64_t index, const uint8_t h[AUDIT_HASH_LEN]) {
  if (index >= l->cap) {
    uint64_t cap = l->cap ? l->cap * 2 : 64;
    void *p = realloc(l->h, cap * AUDIT_HASH_LEN);
    if (!p) return LISEC_ENOMEM;
    l->h = p;
    l->cap = cap;
  }
  memcpy(l->h[index], h, AUDIT_HASH_LEN);
  return 0;
}

int audit_tree_append(audit_tree *t, const uint8_t leaf_hash[AUDIT_HASH_LEN], lisec_err *err) {
  if (t->size >= AUDIT_SIZE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "audit tree is full");
  uint64_t group = (uint64_t)1 << t->low;
  memcpy(t->tail[t->size & (group - 1)], leaf_hash, AUDIT_HASH_LEN);
  uint64_t n = t->size + 1;
  if ((n & (group - 1)) == 0) {
    /* A group is complete: its root becomes a node at level low, and each
     * right child that completes a pair makes its parent. */
    uint8_t h[AUDIT_HASH_LEN];
    audit_root_of_leaves((const uint8_t(*)[AUDIT_HASH_LEN])t->tail, group, h);
    unsigned lvl = t->low;
    uint64_t idx = (n >> t->low) - 1;
    for (;;) {
      if (level_push(&t->lv[lvl], idx, h) != 0)
        return lisec_err_set(err, LISEC_ENOMEM, "out of memory growing the audit tree");
      if (!(idx & 1)) break;
      audit_hash_node(t->lv[lvl].h[idx - 1], h, h);
      lvl++;
      idx >>= 1;
    }
  }
  t->size = n;
  return 0;
}

/* Loads the group of leaves that contains `leaf`. The last, incomplete group
 * of the tree is in memory; complete ones are fetched. */
static const uint8_t (*load_group(tree_ctx *c, uint64_t leaf))[AUDIT_HASH_LEN] {
  const audit_tree *t = c->t;
  uint64_t g = leaf >> t->low, gsize = (uint64_t)1 << t->low;
  if (g == (t->size >> t->low)) return (const uint8_t(*)[AUDIT_HASH_LEN])t->tail;
  if (c->group == g) return (const uint8_t(*)[AUDIT_HASH_LEN])c->leaves;
  if (!c->leaves) {
    c->leaves = malloc(gsize * AUDIT_HASH_LEN);
    if (!c->leaves) {
      c->rc = lisec_err_set(c->err, LISEC_ENOMEM, "out of memory");
      return NULL;
    }
  }
  if (!c->fetch) {
    c->rc = lisec_err_set(c->err, LISEC_EINVAL, "audit tree: leaf hashes needed but no source given");
    return NULL;
  }
  int rc = c->fetch(c->fctx, g * gsize, gsize, c->leaves, c->err);
  if (rc) {
    c->rc = rc;
    return NULL;
  }
  c->group = g;
  return (const uint8_t(*)[AUDIT_HASH_LEN])c->leaves;
}

/* The hash of the perfect subtree of height h that starts at leaf `start`
 * (aligned to 2^h and complete within the tree). */
static void subtree(tree_ctx *c, unsigned h, uint64_t start, uint8_t out[AUDIT_HASH_LEN]) {
  const audit_tree *t = c->t;
  if (c->rc) return;
  if (h >= t->low) {
    memcpy(out, t->lv[h].h[start >> h], AUDIT_HASH_LEN);
    return;
  }
  const uint8_t(*g)[AUDIT_HASH_LEN] = load_group(c, start);
  if (!g) return;
  uint64_t off = start & (((uint64_t)1 << t->low) - 1);
  audit_root_of_leaves(g + off, (uint64_t)1 << h, out);
}

static uint64_t split_point(uint64_t n) { return UINT64_C(1) << (63 - __builtin_clzll(n - 1)); }

/* MTH(D[start : start + n]) for a range that is a node of some RFC 9162 tree
 * (start is a multiple of the power of two at or above n). */
static void mth(tree_ctx *c, uint64_t start, uint64_t n, uint8_t out[AUDIT_HASH_LEN]) {
  if (c->rc) return;
  if ((n & (n - 1)) == 0) {
    subtree(c, (unsigned)__builtin_ctzll(n), start, out);
    return;
  }
  uint64_t k = split_point(n);
  uint8_t l[AUDIT_HASH_LEN], r[AUDIT_HASH_LEN];
  subtree(c, (unsigned)__builtin_ctzll(k), start, l);
  mth(c, start + k, n - k, r);
  audit_hash_node(l, r, out);
}

static void proof_push(tree_ctx *c, audit_proof *p, const uint8_t h[AUDIT_HASH_LEN]) {
  if (c->rc) return;
  if (p->len >= AUDIT_PROOF_MAX) {
    c->rc = lisec_err_set(c->err, LISEC_EINTERNAL, "audit proof too long");
    return;
  }
  memcpy(p->hash[p->len++], h, AUDIT_HASH_LEN);
}

/* PATH(m, D[start : start + n]) of §2.1.3.1; the deepest sibling comes first. */
static void path(tree_ctx *c, uint64_t m, uint64_t start, uint64_t n, audit_proof *p) {
  if (n <= 1 || c->rc) return;
  uint64_t k = split_point(n);
  uint8_t h[AUDIT_HASH_LEN];
  if (m < k) {
    path(c, m, start, k, p);
    mth(c, start + k, n - k, h);
  } else {
    path(c, m - k, start + k, n - k, p);
    mth(c, start, k, h);
  }
  proof_push(c, p, h);
}

/* SUBPROOF(m, D[start : start + n], b) of §2.1.4.1. */
static void subproof(tree_ctx *c, uint64_t m, uint64_t start, uint64_t n, bool b, audit_proof *p) {
  if (c->rc) return;
  uint8_t h[AUDIT_HASH_LEN];
  if (m == n) {
    if (!b) {
      mth(c, start, n, h);
      proof_push(c, p, h);
    }
    return;
  }
  uint64_t k = split_point(n);
  if (m <= k) {
    subproof(c, m, start, k, b, p);
    mth(c, start + k, n - k, h);
  } else {
    subproof(c, m - k, start + k, n - k, false, p);
    mth(c, start, k, h);
  }
  proof_push(c, p, h);
}

static int ctx_done(tree_ctx *c) {
  free(c->leaves);
  return c->rc;
}

static int check_size(const audit_tree *t, uint64_t size, lisec_err *err) {
  if (size > t->size)
    return lisec_err_set(err, LISEC_EINVAL, "tree size %llu is above the log's %llu",
                         (unsigned long long)size, (unsigned long long)t->size);
  return 0;
}

int audit_tree_root(const audit_tree *t, uint64_t size, audit_leaf_fetch fetch, void *ctx,
                    uint8_t out[AUDIT_HASH_LEN], lisec_err *err) {
  int rc = check_size(t, size, err);
  if (rc) return rc;
  if (size == 0) {
    audit_root_of_leaves(NULL, 0, out);
    return 0;
  }
  tree_ctx c = {.t = t, .fetch = fetch, .fctx = ctx, .err = err, .group = UINT64_MAX};
  mth(&c, 0, size, out);
  return ctx_done(&c);
}

int audit_tree_prove_inclusion(const audit_tree *t, uint64_t index, uint64_t size,
                               audit_leaf_fetch fetch, void *ctx, audit_proof *out,
                               lisec_err *err) {
  int rc = check_size(t, size, err);
  if (rc) return rc;
  if (index >= size)
    return lisec_err_set(err, LISEC_EINVAL, "index %llu is not below tree size %llu",
                         (unsigned long long)index, (unsigned long long)size);
  out->len = 0;
  tree_ctx c = {.t = t, .fetch = fetch, .fctx = ctx, .err = err, .group = UINT64_MAX};
  path(&c, index, 0, size, out);
  return ctx_done(&c);
}

int audit_tree_prove_consistency(const audit_tree *t, uint64_t old_size, uint64_t new_size,
                                 audit_leaf_fetch fetch, void *ctx, audit_proof *out,
                                 lisec_err *err) {
  int rc = check_size(t, new_size, err);
  if (rc) return rc;
  if (old_size > new_size)
    return lisec_err_set(err, LISEC_EINVAL, "old size %llu is above new size %llu",
                         (unsigned long long)old_size, (unsigned long long)new_size);
  out->len = 0;
  /* Equal sizes and the empty old tree have the empty proof (§2.1.4.1
   * defines the proof for 0 < m < n). */
  if (old_size == 0 || old_size == new_size) return 0;
  tree_ctx c = {.t = t, .fetch = fetch, .fctx = ctx, .err = err, .group = UINT64_MAX};
  subproof(&c, old_size, 0, new_size, true, out);
  return ctx_done(&c);
}

int audit_tree_frontier(const audit_tree *t, uint64_t size, audit_leaf_fetch fetch, void *ctx,
                        audit_frontier *out, lisec_err *err) {
  int rc = check_size(t, size, err);
  if (rc) return rc;
  audit_frontier_init(out);
  out->size = size;
  /* The perfect subtrees of the tree of `size`, left to right: one per bit
   * set, each starting where the higher ones end. */
  tree_ctx c = {.t = t, .fetch = fetch, .fctx = ctx, .err = err, .group = UINT64_MAX};
  uint64_t start = 0;
  for (int h = 63; h >= 0 && !c.rc; h--) {
    if (!(size & ((uint64_t)1 << h))) continue;
    subtree(&c, (unsigned)h, start, out->node[h]);
    start += (uint64_t)1 << h;
  }
  return ctx_done(&c);
}

/* ---- the streaming right edge ------------------------------------------- */

void audit_frontier_init(audit_frontier *f) { memset(f, 0, sizeof *f); }

int audit_frontier_append(audit_frontier *f, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                          lisec_err *err) {
  if (f->size >= AUDIT_SIZE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "audit tree is full");
  uint8_t h[AUDIT_HASH_LEN];
  memcpy(h, leaf_hash, AUDIT_HASH_LEN);
  unsigned lvl = 0;
  /* Carry like a binary counter: each set low bit is a subtree to merge. */
  while (f->size & ((uint64_t)1 << lvl)) {
    audit_hash_node(f->node[lvl], h, h);
    lvl++;
  }
  memcpy(f->node[lvl], h, AUDIT_HASH_LEN);
  f->size++;
  return 0;
}

void audit_frontier_root(const audit_frontier *f, uint8_t out[AUDIT_HASH_LEN]) {
  if (f->size == 0) {
    audit_root_of_leaves(NULL, 0, out);
    return;
  }
  /* The smallest subtree is the rightmost; fold leftwards. */
  unsigned lvl = (unsigned)__builtin_ctzll(f->size);
  uint8_t h[AUDIT_HASH_LEN];
  memcpy(h, f->node[lvl], AUDIT_HASH_LEN);
  for (lvl++; lvl < 64; lvl++)
    if (f->size & ((uint64_t)1 << lvl)) audit_hash_node(f->node[lvl], h, h);
  memcpy(out, h, AUDIT_HASH_LEN);
}
