/* The vault's key-encryption key in a PKCS#11 3.0 token: NSS's softoken
 * (libsoftokn3.so) over a key database this test makes with certutil, the
 * module initialised with the parameters [vault] pkcs11_init_args carries.
 * With it a cold unwrap is one C_DecryptMessage on a session set up per key:
 * records under one key take one call each after one set-up, records under
 * two keys open cold in any order (each switch ends the set-up and makes
 * another), an altered wrapped key is refused and the next record still
 * opens, and a module opened again with other parameters is refused. The
 * calls are counted where they reach the module (p11_calls.h); test_kek
 * counts SoftHSM2's (PKCS#11 2.40) two a key. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/kek.h"
#include "keys/p11.h"
#include "p11_calls.h"

#define NSS_MODULE "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define NSS_TOKEN "NSS Certificate DB"

static char nss_dir[64], init_args[256];
static const char *counted; /* NSS's softoken behind the call counter */

/* Sanitizer builds: NSS keeps allocations across C_Initialize and
 * C_Finalize that it never frees (NSPR's and its own); the test holds the
 * module loaded so their stacks name NSS's libraries, and only those are
 * not reported. lisec's own allocations stay checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libsoftokn3.so\nleak:libnspr4.so\nleak:libnssutil3.so\nleak:libsqlite3.so\n";
}
static const char *TARGETS = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"}]";

static int nss_token_make(void **state) {
  (void)state;
  if (access(NSS_MODULE, R_OK) != 0 || !dlopen(NSS_MODULE, RTLD_NOW | RTLD_NODELETE) ||
      !(counted = p11_counting(NSS_MODULE)))
    return -1;
  snprintf(nss_dir, sizeof nss_dir, "/tmp/lisec-test-nss-XXXXXX");
  if (!mkdtemp(nss_dir)) return -1;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "echo 1234 > %s/pw && certutil -N -d sql:%s -f %s/pw", nss_dir, nss_dir, nss_dir);
  if (system(cmd) != 0) return -1;
  snprintf(init_args, sizeof init_args,
           "configdir='sql:%s' certPrefix='' keyPrefix='' secmod='secmod.db' flags=", nss_dir);
  return 0;
}

static int nss_token_remove(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", nss_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static keys_kek_pkcs11_config nss(const char *key_label, bool create) {
  keys_kek_pkcs11_config c = {counted, NSS_TOKEN, "1234", key_label, create, init_args};
  return c;
}

static keys_kek *open_nss(const char *key_label, bool create) {
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = nss(key_label, create);
  if (keys_kek_open_pkcs11_sessions(&c, 2, &k, &err)) fail_msg("%s", err.msg);
  return k;
}

/* Loads the KEK a label names (a search in the token), so that the calls
 * counted after it are the unwraps' own. */
static void load_key(keys_kek *k, const char *label) {
  lisec_err err = {0};
  vault_opener op;
  if (keys_kek_for(k, label, NULL, &op, &err)) fail_msg("%s: %s", label, err.msg);
  keys_kek_release(k, op.ctx);
}

static void opens(keys_kek *k, vault_sealed *s, const json_t *want) {
  lisec_err err = {0};
  vault_opener op;
  json_t *back = NULL;
  if (keys_kek_for(k, s->kek_label, NULL, &op, &err) || vault_open_with(s, &op, &back, &err))
    fail_msg("%s: %s", s->kek_label, err.msg);
  keys_kek_release(k, op.ctx);
  assert_true(json_equal(want, back));
  json_decref(back);
}

static void test_cold_unwraps_one_call(void **state) {
  (void)state;
  enum { N = 6 };
  lisec_err err = {0};
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je);
  keys_kek *k = open_nss("v3-a", true);
  assert_true(keys_kek_one_call_unwrap(k));
  vault_sealed s[N];
  char id[16];
  for (int i = 0; i < N; i++) { /* even ones under v3-a, odd ones under v3-b */
    if (i == 1) assert_int_equal(keys_kek_use(k, "v3-b", true, &err), 0);
    if (i > 0) assert_int_equal(keys_kek_use(k, i % 2 ? "v3-b" : "v3-a", false, &err), 0);
    vault_kek v = keys_kek_vault(k);
    snprintf(id, sizeof id, "t-%d", i);
    assert_int_equal(vault_seal(id, "li-1", 1, ids, &v, &s[i], &err), 0);
  }
  keys_kek_close(k);
  /* a fresh process: every data key cold. Under one key the session is
   * set up once, then one call a key: N/2 + 1 calls for the N/2 records */
  k = open_nss("v3-a", false);
  load_key(k, s[1].kek_label);
  unsigned long c0 = p11_calls();
  for (int i = 0; i < N; i += 2) {
    assert_false(keys_kek_cached(k, s[i].wrapped_key, s[i].wrapped_key_len));
    opens(k, &s[i], ids);
  }
  assert_int_equal(p11_calls() - c0, N / 2 + 1);
  /* the other key: the set-up is ended and made again once */
  for (int i = 1; i < N; i += 2) opens(k, &s[i], ids);
  opens(k, &s[0], ids); /* cached now: no call */
  assert_int_equal(p11_calls() - c0, (N / 2 + 1) + (2 + N / 2));
  keys_kek_close(k);
  /* cold again, the keys alternating: every switch ends the set-up and
   * makes another (the pool's sessions are taken last in, first out, so
   * one session serves a reader alone) */
  k = open_nss("v3-a", false);
  load_key(k, s[1].kek_label);
  c0 = p11_calls();
  for (int i = 0; i < 4; i++) opens(k, &s[i], ids);
  assert_int_equal(p11_calls() - c0, 2 + 3 * 3);
  /* a rotation's re-wrap: wrapping on a session whose message-based
   * decryption is set up, then unwrapping again */
  vault_kek from, to = keys_kek_vault(k);
  assert_int_equal(keys_kek_for(k, s[5].kek_label, &from, NULL, &err), 0);
  if (vault_rewrap(&s[5], &from, &to, &err)) fail_msg("%s", err.msg);
  assert_string_equal(s[5].kek_label, s[0].kek_label);
  opens(k, &s[5], ids);
  /* an altered wrapped key is refused by the token's tag check, and the
   * session still opens the next record */
  keys_kek_close(k);
  k = open_nss("v3-a", false);
  s[2].wrapped_key[20] ^= 1;
  vault_opener op;
  json_t *back = NULL;
  assert_int_equal(keys_kek_for(k, s[2].kek_label, NULL, &op, &err), 0);
  assert_int_not_equal(vault_open_with(&s[2], &op, &back, &err), 0);
  if (!strstr(err.msg, "altered")) fail_msg("%s", err.msg);
  keys_kek_release(k, op.ctx);
  s[2].wrapped_key[20] ^= 1;
  opens(k, &s[4], ids);
  opens(k, &s[2], ids);
  keys_kek_close(k);
  for (int i = 0; i < N; i++) vault_sealed_free(&s[i]);
  json_decref(ids);
}

/* One module, one set of parameters: a second open naming others is
 * refused while the first holds it; none (NULL) shares it. */
static void test_init_args_conflict(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_p11 *a = NULL, *b = NULL;
  assert_int_equal(keys_p11_open(NSS_MODULE, init_args, "[vault]", &a, &err), 0);
  assert_int_equal(keys_p11_open(NSS_MODULE, "configdir='sql:/nonexistent'", "[li]", &b, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "pkcs11_init_args"));
  assert_int_equal(keys_p11_open(NSS_MODULE, NULL, "[li]", &b, &err), 0);
  keys_p11_close(b);
  keys_p11_close(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cold_unwraps_one_call),
      cmocka_unit_test(test_init_args_conflict),
  };
  return cmocka_run_group_tests(tests, nss_token_make, nss_token_remove);
}
