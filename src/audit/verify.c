/* Proof verification exactly as RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
 * (consistency) write it, step by step, so that a proof lisec serves is
 * checked here the way any other RFC 9162 verifier checks it. Roots are
 * compared in constant time out of habit; they are public. */
#include <string.h>

#include "audit/audit.h"
#include "crypto/crypto.h"

int audit_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                           const audit_proof *proof, const uint8_t root[AUDIT_HASH_LEN],
                           lisec_err *err) {
  if (!proof || proof->len > AUDIT_PROOF_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "inclusion proof longer than %d hashes", AUDIT_PROOF_MAX);
  /* 1. */
  if (index >= size)
    return lisec_err_set(err, LISEC_ECRYPTO, "inclusion: index %llu is not below tree size %llu",
                         (unsigned long long)index, (unsigned long long)size);
  /* 2., 3. */
  uint64_t fn = index, sn = size - 1;
  uint8_t r[AUDIT_HASH_LEN];
  memcpy(r, leaf_hash, AUDIT_HASH_LEN);
  /* 4. */
  for (size_t i = 0; i < proof->len; i++) {
    const uint8_t *p = proof->hash[i];
    if (sn == 0)
      return lisec_err_set(err, LISEC_ECRYPTO, "inclusion: proof has more hashes than the path");
    if ((fn & 1) || fn == sn) {
      audit_hash_node(p, r, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      audit_hash_node(r, p, r);
    }
    fn >>= 1;
    sn >>= 1;
  }
  /* 5. */
  if (sn != 0)
    return lisec_err_set(err, LISEC_ECRYPTO, "inclusion: proof has fewer hashes than the path");
  if (!crypto_ct_equal(r, root, AUDIT_HASH_LEN))
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "inclusion: the proof for index %llu leads to another root",
                         (unsigned long long)index);
  return 0;
}

/* The i-th hash of the consistency path with old_root in front when
 * prepend is set (step 2 of §2.1.4.2), without copying the proof. */
static const uint8_t *path_at(const audit_proof *proof, bool prepend, const uint8_t *old_root,
                              size_t i) {
  if (!prepend) return proof->hash[i];
  if (i == 0) return old_root;
  return proof->hash[i - 1];
}

int audit_verify_consistency(uint64_t old_size, uint64_t new_size,
                             const uint8_t old_root[AUDIT_HASH_LEN],
                             const uint8_t new_root[AUDIT_HASH_LEN], const audit_proof *proof,
                             lisec_err *err) {
  if (!proof || proof->len > AUDIT_PROOF_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "consistency proof longer than %d hashes",
                         AUDIT_PROOF_MAX);
  if (old_size > new_size)
    return lisec_err_set(err, LISEC_ECRYPTO, "consistency: old size %llu is above new size %llu",
                         (unsigned long long)old_size, (unsigned long long)new_size);
  if (old_size == new_size) {
    if (proof->len != 0)
      return lisec_err_set(err, LISEC_ECRYPTO, "consistency: equal sizes need an empty proof");
    if (!crypto_ct_equal(old_root, new_root, AUDIT_HASH_LEN))
      return lisec_err_set(err, LISEC_ECRYPTO,
                           "consistency: two different roots for the same size %llu",
                           (unsigned long long)old_size);
    return 0;
  }
  if (old_size == 0) {
    if (proof->len != 0)
      return lisec_err_set(err, LISEC_ECRYPTO, "consistency: from the empty tree needs an empty proof");
    return 0;
  }
  /* 1. */
  if (proof->len == 0)
    return lisec_err_set(err, LISEC_ECRYPTO, "consistency: empty proof for %llu -> %llu",
                         (unsigned long long)old_size, (unsigned long long)new_size);
  /* 2. When old_size is a power of two, old_root is the path's first hash;
   * path_at() reads it in front of the proof without copying. */
  bool prepend = (old_size & (old_size - 1)) == 0;
  size_t n = proof->len + (prepend ? 1 : 0);
  /* 3. */
  uint64_t fn = old_size - 1, sn = new_size - 1;
  /* 4. */
  if (fn & 1)
    while (fn & 1) {
      fn >>= 1;
      sn >>= 1;
    }
  /* 5. */
  uint8_t fr[AUDIT_HASH_LEN], sr[AUDIT_HASH_LEN];
  memcpy(fr, path_at(proof, prepend, old_root, 0), AUDIT_HASH_LEN);
  memcpy(sr, path_at(proof, prepend, old_root, 0), AUDIT_HASH_LEN);
  /* 6. */
  for (size_t i = 1; i < n; i++) {
    const uint8_t *c = path_at(proof, prepend, old_root, i);
    if (sn == 0)
      return lisec_err_set(err, LISEC_ECRYPTO, "consistency: proof has more hashes than the path");
    if ((fn & 1) || fn == sn) {
      audit_hash_node(c, fr, fr);
      audit_hash_node(c, sr, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      audit_hash_node(sr, c, sr);
    }
    fn >>= 1;
    sn >>= 1;
  }
  /* 7. */
  if (sn != 0)
    return lisec_err_set(err, LISEC_ECRYPTO, "consistency: proof has fewer hashes than the path");
  if (!crypto_ct_equal(fr, old_root, AUDIT_HASH_LEN))
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "consistency: the proof does not lead to the old root (size %llu)",
                         (unsigned long long)old_size);
  if (!crypto_ct_equal(sr, new_root, AUDIT_HASH_LEN))
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "consistency: the proof does not lead to the new root (size %llu)",
                         (unsigned long long)new_size);
  return 0;
}
