/* The RFC 9162 §2.1.4.1 consistency proof from a tree known only by its
 * right edge (audit_frontier) and the leaves appended after it: what the
 * appender sends the keys process with a checkpoint while its tree is not
 * in memory (a log opened from a stored frontier, ctl/auditlog.c). Every
 * hash the proof takes is either a perfect subtree of the old tree's right
 * edge or a subtree over the new leaves only, so nothing else is needed. */
#include <string.h>

#include "audit/internal.h"

typedef struct extend {
  const audit_frontier *old;
  const uint8_t (*leaves)[AUDIT_HASH_LEN]; /* leaves[i] is leaf old->size + i */
  audit_proof *out;
} extend;

static unsigned log2_of(uint64_t pow2) {
  unsigned h = 0;
  while ((UINT64_C(1) << h) < pow2) h++;
  return h;
}

static void push(extend *x, const uint8_t h[AUDIT_HASH_LEN]) {
  memcpy(x->out->hash[x->out->len++], h, AUDIT_HASH_LEN);
}

/* SUBPROOF(m, D[o:n], b) with absolute positions; m is the old size. */
static void sub(extend *x, uint64_t o, uint64_t m, uint64_t n, bool b) {
  if (m == n) {
    if (!b) push(x, x->old->node[log2_of(m - o)]); /* [o, m): the edge's lowest subtree */
    return;
  }
  uint64_t k = 1;
  while (k << 1 < n - o) k <<= 1;
  if (m - o <= k) {
    sub(x, o, m, o + k, b);
    uint8_t h[AUDIT_HASH_LEN];
    audit_root_of_leaves(x->leaves + (o + k - m), n - o - k, h); /* [o+k, n): new leaves only */
    push(x, h);
  } else {
    sub(x, o + k, m, n, false);
    push(x, x->old->node[log2_of(k)]); /* [o, o+k): on the old edge */
  }
}

int audit_prove_extension(const audit_frontier *old, const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t count,
                          audit_proof *out, lisec_err *err) {
  out->len = 0;
  if (old->size > AUDIT_SIZE_MAX || count > AUDIT_SIZE_MAX - old->size)
    return lisec_err_set(err, LISEC_EINVAL, "tree size too large");
  if (old->size == 0 || count == 0) return 0; /* nothing to prove (RFC 9162: an empty proof) */
  extend x = {old, leaves, out};
  sub(&x, 0, old->size, old->size + count, true);
  return 0;
}
