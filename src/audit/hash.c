/* RFC 9162 §2.1.1 hashing: leaves are SHA-256(0x00 || data), interior nodes
 * SHA-256(0x01 || left || right), so no leaf can pass for a node. The digest
 * is fetched from OpenSSL once and each thread keeps one reusable context,
 * because building and verifying a tree of millions of entries is dominated
 * by per-call overhead rather than by the SHA-256 blocks themselves. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;
static pthread_key_t ctx_key;

static void ctx_destroy(void *p) { EVP_MD_CTX_free(p); }

static void md_init(void) {
  md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  pthread_key_create(&ctx_key, ctx_destroy);
}

/* The calling thread's context; NULL only when OpenSSL is out of memory, and
 * then the slower one-shot path is taken. */
static EVP_MD_CTX *thread_ctx(void) {
  pthread_once(&md_once, md_init);
  EVP_MD_CTX *c = pthread_getspecific(ctx_key);
  if (!c) {
    c = EVP_MD_CTX_new();
    if (c && pthread_setspecific(ctx_key, c) != 0) {
      EVP_MD_CTX_free(c);
      c = NULL;
    }
  }
  return c;
}

static void sha256_two(const void *a, size_t alen, const void *b, size_t blen,
                       uint8_t out[AUDIT_HASH_LEN]) {
  EVP_MD_CTX *c = thread_ctx();
  const EVP_MD *md = md_sha256 ? md_sha256 : EVP_sha256();
  bool local = false;
  if (!c) {
    c = EVP_MD_CTX_new();
    local = true;
  }
  /* Without any context at all there is nothing safe to return but a hash
   * that matches no tree: fail closed by zeroing, which verifies nothing. */
  if (!c || EVP_DigestInit_ex(c, md, NULL) != 1 || EVP_DigestUpdate(c, a, alen) != 1 ||
      (blen && EVP_DigestUpdate(c, b, blen) != 1) || EVP_DigestFinal_ex(c, out, NULL) != 1)
    memset(out, 0, AUDIT_HASH_LEN);
  if (local) EVP_MD_CTX_free(c);
}

void audit_hash_leaf(const void *data, size_t len, uint8_t out[AUDIT_HASH_LEN]) {
  static const uint8_t prefix = 0x00;
  sha256_two(&prefix, 1, data, len, out);
}

void audit_hash_node(const uint8_t left[AUDIT_HASH_LEN], const uint8_t right[AUDIT_HASH_LEN],
                     uint8_t out[AUDIT_HASH_LEN]) {
  uint8_t buf[1 + 2 * AUDIT_HASH_LEN];
  buf[0] = 0x01;
  memcpy(buf + 1, left, AUDIT_HASH_LEN);
  memcpy(buf + 1 + AUDIT_HASH_LEN, right, AUDIT_HASH_LEN);
  sha256_two(buf, sizeof buf, NULL, 0, out);
}

/* MTH(D[n]) by the definition's recursion: split at the largest power of two
 * below n. Depth is at most 64. */
void audit_root_of_leaves(const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t n,
                          uint8_t out[AUDIT_HASH_LEN]) {
  if (n == 0) {
    sha256_two("", 0, NULL, 0, out);
    return;
  }
  if (n == 1) {
    memcpy(out, leaves[0], AUDIT_HASH_LEN);
    return;
  }
  uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));
  uint8_t l[AUDIT_HASH_LEN], r[AUDIT_HASH_LEN];
  audit_root_of_leaves(leaves, k, l);
  audit_root_of_leaves(leaves + k, n - k, r);
  audit_hash_node(l, r, out);
}
