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
 * newer one refuses; and a damaged state file is not taken for none.
 * The state holds the log's origin: a note of another origin under the
 * same key is refused naming both, and a state of the first form (size and
 * root only, as kept before) is still judged by them and takes the origin
 * of the first note it admits. A reset while the controller holds the old
 * size is answered ECONFLICT, so the controller asks again and records the
 * first use. Two keys processes interleaved on one state (held between the
 * read and the write, LISEC_TEST_WITNESS_HOLD) cannot both sign
 * conflicting checkpoints at one size, in a token or the development file. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "keys/p11.h"
#include "softhsm_token.h"

/* SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys (see test_p11.c). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) { return "leak:ASN1_item_d2i_ex\n"; }

static char dir[64], pin_file[128], dev_key[128];

/* Three logs: the honest one, a fork whose entry 3 was rewritten and one
 * that forks only after entry 32 (rewritten at 33). */
#define LEAVES 64
static audit_tree *honest, *fork_tree, *fork_late;
static uint8_t honest_leaves[LEAVES][AUDIT_HASH_LEN];
static const char *origin = "lisec.test/audit"; /* the notes' origin line */

static void build(audit_tree **t, int rewritten) {
  lisec_err err = {0};
  assert_int_equal(audit_tree_new(0, t, &err), 0);
  for (int i = 0; i < LEAVES; i++) {
    char e[32];
    int n = snprintf(e, sizeof e, "%s entry %d", i == rewritten ? "rewritten" : "honest", i);
    uint8_t leaf[AUDIT_HASH_LEN];
    audit_hash_leaf(e, (size_t)n, leaf);
    if (rewritten < 0) memcpy(honest_leaves[i], leaf, sizeof leaf);
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
  return (size_t)snprintf(out, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
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

/* A note of another origin (another log, another [audit] origin, under the
 * same key and so the same witness) is refused naming both origins and
 * TR103308-5.5, though its tree extends the state; the state is unchanged.
 * In a token and in the development file. */
static void origin_refused(keys_client *k, uint64_t size) {
  lisec_err err = {0};
  origin = "other.test/audit";
  int rc = sign(k, false, honest, size + 2, size, honest, &err);
  origin = "lisec.test/audit";
  refused(rc, &err, "a note of another origin");
  if (!strstr(err.msg, "\"lisec.test/audit\"") || !strstr(err.msg, "\"other.test/audit\""))
    fail_msg("the refusal does not name both origins: %s", err.msg);
  at(k, size, honest);
  assert_int_equal(sign(k, false, honest, size + 2, size, honest, &err), 0);
}

static void test_origin(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config("o-audit"));
  assert_int_equal(sign(k, false, honest, 5, 0, honest, &err), 0);
  origin_refused(k, 5);
  keys_client_close(k);
  k = start(token_config("o-audit")); /* kept in the token */
  origin_refused(k, 7);
  keys_client_close(k);

  char key[160], path[176];
  snprintf(key, sizeof key, "%s/origin.pem", dir);
  snprintf(path, sizeof path, "%s.witness", key);
  lisec_config *cfg = dev_config();
  lisec_config_set(cfg, "audit", "development_key_file", key);
  k = start(cfg);
  assert_int_equal(sign(k, false, honest, 5, 0, honest, &err), 0);
  origin_refused(k, 5);
  keys_client_close(k);
  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(lisec_file_read(path, 4096, &body, &len, &err), 0);
  assert_non_null(strstr((const char *)body, " lisec.test/audit\n"));
  free(body);
}

/* A state of the first form (40 bytes: size and root, no origin), as the
 * version before kept it: judged by its size and root (a fork refused,
 * never trusted on first use), and the first note it admits binds the
 * origin. Token object made here as that version made it; then the file. */
static void test_first_form(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_p11 *m = NULL;
  CK_SESSION_HANDLE s = 0;
  assert_int_equal(keys_p11_open(getenv("LISEC_P11_MODULE"), NULL, "[test]", &m, &err), 0);
  assert_int_equal(keys_p11_session_open(m, "[test]", "lisec-test", "1234", &s, &err), 0);
  uint8_t v[8 + AUDIT_HASH_LEN] = {0};
  v[7] = 20;
  assert_int_equal(audit_tree_root(honest, 20, NULL, NULL, v + 8, &err), 0);
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  static const char label[] = "f-audit-witness";
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_LABEL, (void *)label, sizeof label - 1},
                         {CKA_VALUE, v, sizeof v}};
  CK_OBJECT_HANDLE h = 0;
  assert_int_equal(keys_p11_functions(m)->C_CreateObject(s, tmpl, 5, &h), CKR_OK);
  keys_p11_session_close(m, s);
  keys_p11_close(m);

  keys_client *k = start(token_config("f-audit"));
  at(k, 20, honest);
  refused(sign(k, false, fork_tree, 24, 20, fork_tree, &err), &err, "a fork against a first-form state");
  refused(sign(k, false, fork_tree, 20, 20, fork_tree, &err), &err, "another root against a first-form state");
  assert_int_equal(sign(k, false, honest, 24, 20, honest, &err), 0);
  origin_refused(k, 24);
  keys_client_close(k);

  char path[160];
  snprintf(path, sizeof path, "%s/first.pem.witness", dir);
  char line[128], hex[2 * AUDIT_HASH_LEN + 1];
  uint8_t root[AUDIT_HASH_LEN];
  assert_int_equal(audit_tree_root(honest, 9, NULL, NULL, root, &err), 0);
  lisec_hex_encode(root, sizeof root, hex);
  int n = snprintf(line, sizeof line, "9 %s\n", hex);
  assert_int_equal(lisec_file_write_atomic(path, line, (size_t)n, 0600, &err), 0);
  lisec_config *cfg = dev_config();
  snprintf(line, sizeof line, "%s/first.pem", dir);
  lisec_config_set(cfg, "audit", "development_key_file", line);
  k = start(cfg);
  at(k, 9, honest);
  refused(sign(k, false, fork_tree, 12, 9, fork_tree, &err), &err, "a fork against a first-form file");
  assert_int_equal(sign(k, false, honest, 9, 9, honest, &err), 0); /* the same checkpoint binds the origin */
  origin_refused(k, 9);
  keys_client_close(k);
}

/* The operator's reset while the controller holds the size it proves
 * from: ECONFLICT (ask again), not a silent first use; asked again, the
 * state is absent, and the proof from nothing is trusted on first use. */
static void test_reset_meanwhile(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config("r-audit"));
  assert_int_equal(sign(k, false, honest, 10, 0, honest, &err), 0);
  lisec_config *cfg = token_config("r-audit");
  keys_witness_info info;
  assert_int_equal(keys_witness_config(cfg, true, &info, &err), 0);
  lisec_config_free(cfg);
  assert_true(info.have && info.size == 10);
  assert_int_equal(sign(k, false, honest, 14, 10, honest, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "no last signed checkpoint"));
  bool have = true;
  uint64_t size = 1;
  uint8_t root[32];
  assert_int_equal(keys_audit_witness(k, &have, &size, root, &err), 0);
  assert_false(have);
  assert_int_equal(sign(k, false, honest, 14, 0, honest, &err), 0);
  at(k, 14, honest);
  keys_client_close(k);
}

#ifdef LISEC_TEST_HOOKS
typedef struct job {
  keys_client *k;
  audit_tree *t;
  uint64_t size, old;
  int rc;
  lisec_err err;
  volatile bool done;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  j->rc = sign(j->k, false, j->t, j->size, j->old, j->t, &j->err);
  j->done = true;
  return NULL;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* Waits (bounded) until a file is there or the job is done. */
static void wait_for(const char *path, const job *j) {
  for (int i = 0; i < 4000 && !exists(path) && !(j && j->done); i++)
    nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
}

/* k1's move from 32 to the honest 40 held between its read and its write;
 * k2 meanwhile signs the late fork at 40 from the same 32 (a valid proof:
 * the two logs agree up to entry 32). At most one of the two is signed,
 * and the witness stands at the one signed. */
static void interleave(keys_client *k1, keys_client *k2) {
  lisec_err err = {0};
  char hold[128], held[136], waiting[136];
  snprintf(hold, sizeof hold, "%s/hold", dir);
  snprintf(held, sizeof held, "%s.held", hold);
  snprintf(waiting, sizeof waiting, "%s.waiting", hold);
  assert_int_equal(sign(k1, false, honest, 32, 0, honest, &err) == 0 || err.code == LISEC_ECONFLICT, 1);
  at(k1, 32, honest);
  setenv("LISEC_TEST_WITNESS_HOLD", hold, 1);
  FILE *f = fopen(hold, "w");
  assert_non_null(f);
  fclose(f);
  job j1 = {.k = k1, .t = honest, .size = 40, .old = 32}, j2 = {.k = k2, .t = fork_late, .size = 40, .old = 32};
  pthread_t t1, t2;
  assert_int_equal(pthread_create(&t1, NULL, run_job, &j1), 0);
  wait_for(held, &j1);
  if (!exists(held)) fail_msg("k1 did not reach the hold: %d %s", j1.rc, j1.err.msg);
  assert_int_equal(pthread_create(&t2, NULL, run_job, &j2), 0);
  wait_for(waiting, &j2); /* k2 done, or waiting for the development file's lock */
  unlink(held);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  unlink(waiting);
  unsetenv("LISEC_TEST_WITNESS_HOLD");
  if (j1.rc == 0 && j2.rc == 0) fail_msg("both conflicting checkpoints at size 40 were signed");
  if (j1.rc != 0 && j2.rc != 0) fail_msg("neither was signed: %s / %s", j1.err.msg, j2.err.msg);
  job *lost = j1.rc ? &j1 : &j2;
  if (lost->rc != LISEC_ECONFLICT && lost->rc != LISEC_EDENIED)
    fail_msg("the other one failed otherwise: %d %s", lost->rc, lost->err.msg);
  at(k1, 40, j1.rc ? fork_late : honest);
  at(k2, 40, j1.rc ? fork_late : honest);
}
#endif

static void test_interleaved(void **state) {
  (void)state;
#ifdef LISEC_TEST_HOOKS
  keys_client *k1 = start(token_config("i-audit")), *k2 = start(token_config("i-audit"));
  interleave(k1, k2);
  keys_client_close(k2);
  keys_client_close(k1);
  char key[160];
  snprintf(key, sizeof key, "%s/interleaved.pem", dir);
  lisec_config *c1 = dev_config(), *c2 = dev_config();
  lisec_config_set(c1, "audit", "development_key_file", key);
  lisec_config_set(c2, "audit", "development_key_file", key);
  k1 = start(c1);
  k2 = start(c2);
  interleave(k1, k2);
  keys_client_close(k2);
  keys_client_close(k1);
#else
  skip();
#endif
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
  build(&honest, -1);
  build(&fork_tree, 3);
  build(&fork_late, 33);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_extension_proofs),
      cmocka_unit_test(test_token_witness),
      cmocka_unit_test(test_development_file_witness),
      cmocka_unit_test(test_origin),
      cmocka_unit_test(test_first_form),
      cmocka_unit_test(test_reset_meanwhile),
      cmocka_unit_test(test_interleaved),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  audit_tree_free(honest);
  audit_tree_free(fork_tree);
  audit_tree_free(fork_late);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) rc = 1;
  softhsm_token_remove();
  return rc;
}
