/* The keys process as the audit log's witness (keys/witness.h, TR 103 308
 * §5.5): against a real SoftHSM2 token this test makes, reached only
 * through its client over a socketpair as lisecd's controller reaches it,
 * the keys process signs the first checkpoint (trust on first use) and then
 * only checkpoints whose tree a consistency proof shows to extend the last
 * one it signed. Refused, naming TR103308-5.5 and leaving the state as it
 * was: a fork (the same size, another root), a smaller tree, a larger tree
 * that does not extend it, an altered proof, a malformed note, arbitrary
 * bytes, and the same through the rollover's next key. A proof from
 * another size than the last signed is answered ECONFLICT. The state
 * survives a restart of the keys process (the token object; the file
 * beside a development key), is shared by two keys processes on one token
 * (the nodes of [ha]); a node's copy older than its log still signs, a
 * newer one refuses; and a damaged state file is not taken for none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "softhsm_token.h"

/* SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys (see test_p11.c). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) { return "leak:ASN1_item_d2i_ex\n"; }

static char dir[64], pin_file[128], dev_key[128];

/* Two logs: the honest one and a fork whose entry 3 was rewritten. */
#define LEAVES 64
static audit_tree *honest, *fork_tree;
static uint8_t honest_leaves[LEAVES][AUDIT_HASH_LEN];

static void build(audit_tree **t, bool forked) {
  lisec_err err = {0};
  assert_int_equal(audit_tree_new(0, t, &err), 0);
  for (int i = 0; i < LEAVES; i++) {
    char e[32];
    int n = snprintf(e, sizeof e, "%s entry %d", forked && i == 3 ? "rewritten" : "honest", i);
    uint8_t leaf[AUDIT_HASH_LEN];
    audit_hash_leaf(e, (size_t)n, leaf);
    if (!forked) memcpy(honest_leaves[i], leaf, sizeof leaf);
    assert_int_equal(audit_tree_append(*t, leaf, &err), 0);
  }
}

/* The checkpoint text of t at size (what the appender has signed). */
static size_t text(audit_tree *t, uint64_t size, char *out, size_t cap) {
  uint8_t root[AUDIT_HASH_LEN];
  lisec_err err = {0};
  assert_int_equal(audit_tree_root(t, size, NULL, NULL, root, &err), 0);
  char b64[sodium_base64_ENCODED_LEN(AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, root, sizeof root, sodium_base64_VARIANT_ORIGINAL);
  return (size_t)snprintf(out, cap, "lisec.test/audit\n%llu\n%s\n", (unsigned long long)size, b64);
}

/* Signs t's checkpoint at size with the proof from old in proof_tree. */
static int sign(keys_client *k, bool next, audit_tree *t, uint64_t size, uint64_t old, audit_tree *proof_tree,
                lisec_err *err) {
  char msg[256];
  size_t len = text(t, size, msg, sizeof msg);
  audit_proof p = {0};
  if (old && old <= size) assert_int_equal(audit_tree_prove_consistency(proof_tree, old, size, NULL, NULL, &p, err), 0);
  uint8_t sig[64];
  int rc = keys_audit_sign_proven(k, next, (const uint8_t *)msg, len, old, &p, sig, err);
  if (!rc && !next)
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)msg, len, keys_client_info(k)->audit_pk), 0);
  return rc;
}

static void refused(int rc, const lisec_err *err, const char *what) {
  if (rc != LISEC_EDENIED) fail_msg("%s: rc %d (%s), want EDENIED", what, rc, err->msg);
  if (!strstr(err->msg, "TR103308-5.5")) fail_msg("%s: the refusal names no requirement: %s", what, err->msg);
}

/* The witness is at size with t's root there. */
static void at(keys_client *k, uint64_t size, audit_tree *t) {
  bool have = false;
  uint64_t got = 0;
  uint8_t root[32], want[32];
  lisec_err err = {0};
  assert_int_equal(keys_audit_witness(k, &have, &got, root, &err), 0);
  assert_true(have);
  assert_int_equal(got, size);
  assert_int_equal(audit_tree_root(t, size, NULL, NULL, want, &err), 0);
  assert_memory_equal(root, want, 32);
}

static lisec_config *token_config(const char *label) {
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "audit", "pkcs11_module", getenv("LISEC_P11_MODULE"));
  lisec_config_set(cfg, "audit", "token", "lisec-test");
  lisec_config_set(cfg, "audit", "pin_file", pin_file);
  lisec_config_set(cfg, "audit", "key_label", label);
  return cfg;
}

static lisec_config *dev_config(void) {
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "audit", "development_key_file", dev_key);
  lisec_config_set(cfg, "audit", "allow_development_key", "true");
  return cfg;
}

static keys_client *start(lisec_config *cfg) {
  keys_client *k = NULL;
  lisec_err err = {0};
  int rc = keys_local_start(cfg, &k, &err);
  lisec_config_free(cfg);
  if (rc) fail_msg("keys_local_start: %s", err.msg);
  return k;
}

/* Every way to have a fork signed, refused; the state unchanged. */
static void forks_refused(keys_client *k, bool next, uint64_t size) {
  lisec_err err = {0};
  refused(sign(k, next, fork_tree, size, size, fork_tree, &err), &err, "the same size, another root");
  assert_non_null(strstr(err.msg, "another root"));
  refused(sign(k, next, honest, size - 2, size, honest, &err), &err, "a smaller tree");
  assert_non_null(strstr(err.msg, "smaller"));
  refused(sign(k, next, fork_tree, size + 4, size, fork_tree, &err), &err, "a larger tree that does not extend");
  assert_non_null(strstr(err.msg, "not shown to extend"));
  refused(sign(k, next, fork_tree, size + 4, size, honest, &err), &err, "a fork with the honest log's proof");
  /* an honest checkpoint with one hash of its proof altered */
  char msg[256];
  size_t len = text(honest, size + 4, msg, sizeof msg);
  audit_proof p = {0};
  assert_int_equal(audit_tree_prove_consistency(honest, size, size + 4, NULL, NULL, &p, &err), 0);
  p.hash[0][5] ^= 1;
  uint8_t sig[64];
  refused(keys_audit_sign_proven(k, next, (const uint8_t *)msg, len, size, &p, sig, &err), &err, "an altered proof");
  /* not a checkpoint at all */
  static const char *const notes[] = {"lisec.test/audit\n42\nroot\n", "lisec.test/audit\n042\n" /* no root */,
                                      "lisec.test/audit\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", ""};
  for (size_t i = 0; i < sizeof notes / sizeof *notes; i++) {
    refused(keys_audit_sign_proven(k, next, (const uint8_t *)notes[i], strlen(notes[i]), size, NULL, sig, &err), &err,
            "a malformed note");
    assert_non_null(strstr(err.msg, "only audit checkpoints"));
  }
  uint8_t junk[512];
  randombytes_buf(junk, sizeof junk);
  refused(keys_audit_sign_proven(k, next, junk, sizeof junk, size, NULL, sig, &err), &err, "arbitrary bytes");
  at(k, size, honest);
}

static void test_token_witness(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config("w-audit"));
  bool have = true;
  uint64_t size = 1;
  uint8_t root[32];
  assert_int_equal(keys_audit_witness(k, &have, &size, root, &err), 0);
  assert_false(have);
  /* first use: trusted; then only what extends it */
  assert_int_equal(sign(k, false, honest, 5, 0, honest, &err), 0);
  at(k, 5, honest);
  if (sign(k, false, honest, 10, 5, honest, &err)) fail_msg("sign: %s", err.msg);
  at(k, 10, honest);
  forks_refused(k, false, 10);
  /* a proof from another size than the last signed: prove again */
  assert_int_equal(sign(k, false, honest, 12, 5, honest, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "size 10"));
  /* the same checkpoint again is signed (a rollover's two signatures) */
  assert_int_equal(sign(k, false, honest, 10, 10, honest, &err), 0);
  /* the rollover's next key is held to the same */
  uint8_t pk[32];
  assert_int_equal(keys_audit_next(k, true, pk, &err), 0);
  forks_refused(k, true, 10);
  assert_int_equal(sign(k, true, honest, 12, 10, honest, &err), 0);
  at(k, 12, honest);
  keys_client_close(k);

  /* a restart of the keys process does not reset it */
  k = start(token_config("w-audit"));
  at(k, 12, honest);
  forks_refused(k, false, 12);
  assert_int_equal(sign(k, false, fork_tree, 20, 0, fork_tree, &err), LISEC_ECONFLICT);
  assert_int_equal(sign(k, false, honest, 20, 12, honest, &err), 0);

  /* two keys processes on one token (the nodes of [ha]): one state, read
   * at each signature */
  keys_client *k2 = start(token_config("w-audit"));
  at(k2, 20, honest);
  assert_int_equal(sign(k, false, honest, 30, 20, honest, &err), 0);
  refused(sign(k2, false, fork_tree, 30, 30, fork_tree, &err), &err, "a fork through the other keys process");
  assert_int_equal(sign(k2, false, honest, 40, 20, honest, &err), LISEC_ECONFLICT);
  assert_int_equal(sign(k2, false, honest, 40, 30, honest, &err), 0);
  at(k, 40, honest);
  keys_client_close(k2);
  keys_client_close(k);
}

static void test_development_file_witness(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(dev_config());
  assert_int_equal(sign(k, false, honest, 7, 0, honest, &err), 0);
  assert_int_equal(sign(k, false, honest, 9, 7, honest, &err), 0);
  forks_refused(k, false, 9);
  keys_client_close(k);
  char path[160];
  snprintf(path, sizeof path, "%s.witness", dev_key);
  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(lisec_file_read(path, 4096, &body, &len, &err), 0);
  assert_true(len > 3 && memcmp(body, "9 ", 2) == 0);
  free(body);
  k = start(dev_config());
  at(k, 9, honest);
  refused(sign(k, false, fork_tree, 9, 9, fork_tree, &err), &err, "a fork after a restart");
  /* [ha] with a copy of the key and its witness per node: a node whose copy
   * is older than the log it comes to lead signs once it proves from there;
   * one whose copy is newer than the log refuses (a rolled back store) */
  assert_int_equal(lisec_file_read(path, 4096, &body, &len, &err), 0);
  assert_int_equal(sign(k, false, honest, 20, 9, honest, &err), 0);
  assert_int_equal(lisec_file_write_atomic(path, body, len, 0600, &err), 0); /* the older copy */
  free(body);
  assert_int_equal(sign(k, false, honest, 24, 20, honest, &err), LISEC_ECONFLICT);
  assert_int_equal(sign(k, false, honest, 24, 9, honest, &err), 0);
  refused(sign(k, false, honest, 20, 24, honest, &err), &err, "a log behind the node's copy");
  keys_client_close(k);
  /* a damaged state is not "none" (which would trust the next one) */
  assert_int_equal(lisec_file_write_atomic(path, "9 zz\n", 5, 0600, &err), 0);
  k = start(dev_config());
  refused(sign(k, false, fork_tree, 9, 0, fork_tree, &err), &err, "with a damaged state");
  assert_non_null(strstr(err.msg, "damaged"));
  keys_client_close(k);
}

/* The proof the appender makes from a stored frontier while its tree is
 * not in memory is the tree's own proof (audit_prove_extension). */
static void test_extension_proofs(void **state) {
  (void)state;
  lisec_err err = {0};
  for (uint64_t n = 1; n <= LEAVES; n++)
    for (uint64_t m = 0; m <= n; m++) {
      audit_frontier f;
      audit_proof want = {0}, got = {0};
      audit_frontier_init(&f);
      for (uint64_t i = 0; i < m; i++) assert_int_equal(audit_frontier_append(&f, honest_leaves[i], &err), 0);
      assert_int_equal(audit_tree_prove_consistency(honest, m, n, NULL, NULL, &want, &err), 0);
      assert_int_equal(audit_prove_extension(&f, honest_leaves + m, n - m, &got, &err), 0);
      assert_int_equal(got.len, want.len);
      if (got.len) assert_memory_equal(got.hash, want.hash, got.len * AUDIT_HASH_LEN);
    }
}

int main(void) {
  if (sodium_init() < 0 || softhsm_token_make()) {
    softhsm_token_remove();
    return 1;
  }
  snprintf(dir, sizeof dir, "/tmp/lisec-test-witness-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(pin_file, sizeof pin_file, "%s/pin", dir);
  snprintf(dev_key, sizeof dev_key, "%s/audit.pem", dir);
  FILE *f = fopen(pin_file, "w");
  if (!f) return 1;
  fputs("1234\n", f);
  fclose(f);
  build(&honest, false);
  build(&fork_tree, true);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_extension_proofs),
      cmocka_unit_test(test_token_witness),
      cmocka_unit_test(test_development_file_witness),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  audit_tree_free(honest);
  audit_tree_free(fork_tree);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) rc = 1;
  softhsm_token_remove();
  return rc;
}
