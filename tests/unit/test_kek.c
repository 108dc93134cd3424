/* The vault's key-encryption key in a real SoftHSM2 token (a throw-away
 * token this test makes itself, or the one tests/integration/vault_pkcs11.sh
 * made when LISEC_P11_MODULE is set): the key is generated sensitive and
 * non-extractable, data keys wrap and unwrap through it, targets sealed
 * under it open, a wrong PIN and a missing key are refused, rotation to a
 * second token key keeps every target readable, one open KEK switches keys
 * and still opens records by the key their label names, and the development
 * file key declares itself; rotating many times in one process unloads the
 * keys no record names, while a handle still held keeps its key; a cached
 * data key nobody reads again is wiped once [vault] cache_ttl_s has passed;
 * two token keys under one label are refused, not one of them taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/kek.h"
#include "p11_calls.h"
#include "softhsm_token.h"

static keys_kek_pkcs11_config cfg(const char *key_label, bool create) {
  keys_kek_pkcs11_config c = {getenv("LISEC_P11_MODULE"), "lisec-test", "1234", key_label, create, NULL};
  return c;
}

static const char *TARGETS = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"}]";

static void test_key_created_and_wraps(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("kek-a", true);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  assert_false(keys_kek_is_development(k));
  vault_kek v = keys_kek_vault(k);
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_sealed s;
  assert_int_equal(vault_seal("t-1", "li-1", 1, ids, &v, &s, &err), 0);
  assert_string_equal(s.kek_label, "pkcs11:lisec-test/kek-a");
  assert_int_equal(vault_open(&s, &v, &back, &err), 0);
  assert_true(json_equal(ids, back));
  json_decref(back);
  /* an altered wrapped key does not unwrap */
  s.wrapped_key[20] ^= 1;
  assert_int_not_equal(vault_open(&s, &v, &back, &err), 0);
  s.wrapped_key[20] ^= 1;
  keys_kek_close(k);
  /* reopened without create: the key is still in the token */
  c = cfg("kek-a", false);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), 0);
  v = keys_kek_vault(k);
  assert_int_equal(vault_open(&s, &v, &back, &err), 0);
  json_decref(back);

  /* rotation to a second key in the token */
  keys_kek *k2 = NULL;
  keys_kek_pkcs11_config c2 = cfg("kek-b", true);
  assert_int_equal(keys_kek_open_pkcs11(&c2, &k2, &err), 0);
  vault_kek v2 = keys_kek_vault(k2);
  assert_int_equal(vault_rewrap(&s, &v, &v2, &err), 0);
  assert_int_not_equal(vault_open(&s, &v, &back, &err), 0);
  assert_int_equal(vault_open(&s, &v2, &back, &err), 0);
  assert_true(json_equal(ids, back));
  json_decref(back);
  json_decref(ids);
  vault_sealed_free(&s);
  keys_kek_close(k);
  keys_kek_close(k2);
}

static void test_switch_keys_open_by_label(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("ring-1", true);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), 0);
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_kek v1 = keys_kek_vault(k), v;
  vault_sealed s;
  assert_int_equal(vault_seal("t-3", "li-1", 1, ids, &v1, &s, &err), 0);
  /* a key the token lacks is not made current unless asked to create it */
  assert_int_equal(keys_kek_use(k, "ring-2", false, &err), LISEC_ENOTFOUND);
  assert_int_equal(keys_kek_use(k, "ring-2", true, &err), 0);
  char name[KEYS_KEK_NAME_MAX + 1], label[VAULT_ID_MAX + 1];
  keys_kek_current(k, name, label);
  assert_string_equal(name, "ring-2");
  assert_string_equal(label, "pkcs11:lisec-test/ring-2");
  /* the record still opens, by its own label, also through the cache-less path */
  vault_opener op;
  assert_int_equal(keys_kek_for(k, s.kek_label, &v, &op, &err), 0);
  assert_string_equal(v.label, "pkcs11:lisec-test/ring-1");
  assert_int_equal(vault_open_with(&s, &op, &back, &err), 0);
  assert_true(json_equal(ids, back));
  json_decref(back);
  vault_kek cur = keys_kek_vault(k);
  assert_int_equal(vault_rewrap(&s, &v, &cur, &err), 0);
  assert_string_equal(s.kek_label, "pkcs11:lisec-test/ring-2");
  keys_kek_close(k);
  c = cfg("ring-1", false); /* a fresh process: no cached data key */
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), 0);
  assert_int_equal(keys_kek_for(k, s.kek_label, NULL, &op, &err), 0);
  assert_int_equal(vault_open_with(&s, &op, &back, &err), 0);
  assert_true(json_equal(ids, back));
  json_decref(back);
  /* labels of another token, of an absent key, of no key at all */
  assert_int_equal(keys_kek_for(k, "pkcs11:other-token/ring-1", &v, NULL, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "other-token"));
  assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/ring-9", &v, NULL, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "ring-9"));
  assert_int_equal(keys_kek_for(k, "file:development", &v, NULL, &err), LISEC_EUNAVAIL);
  assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/../x", &v, NULL, &err), LISEC_EUNAVAIL);
  assert_int_equal(keys_kek_use(k, "bad/name", true, &err), LISEC_EINVAL);
  assert_false(keys_kek_name_valid(""));
  assert_false(keys_kek_name_valid("a b"));
  assert_true(keys_kek_name_valid("kek-2026.11_a"));
  keys_kek_current(k, name, NULL);
  assert_string_equal(name, "ring-1"); /* refusals left the current key alone */
  json_decref(ids);
  vault_sealed_free(&s);
  keys_kek_close(k);
}

static void test_key_not_extractable(void **state) {
  (void)state;
  /* softhsm2-util cannot export it either: ask the token through p11tool-free
   * means, by reading CKA_VALUE with pkcs11-tool (OpenSC). */
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "pkcs11-tool --module %s --token-label lisec-test --login --pin 1234 "
           "--read-object --type secrkey --label kek-a >/dev/null 2>&1",
           getenv("LISEC_P11_MODULE"));
  assert_int_not_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "pkcs11-tool --module %s --token-label lisec-test --login --pin 1234 -O --type secrkey "
           "2>/dev/null | grep -A6 'kek-a' | grep -q 'Access:.*sensitive.*never extractable'",
           getenv("LISEC_P11_MODULE"));
  assert_int_equal(system(cmd), 0);
}

/* A KEK the token already holds (provisioned beforehand, as [ha] needs,
 * or named by a rotation) is used only when it is what lisecd makes: an
 * AES-256 key that is not extractable. An extractable one, whose value
 * anyone with the PIN can read (pkcs11-tool --read-object), or a shorter
 * one is refused at open and as a rotation's new key, naming why. */
static void test_unfit_token_key_refused(void **state) {
  (void)state;
  const char *keys[][2] = {{"kek-extractable", "AES:32 --extractable"}, {"kek-short", "AES:16"}};
  char cmd[1024];
  for (size_t i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "pkcs11-tool --module %s --token-label lisec-test --login --pin 1234 --keygen --key-type %s "
             "--label %s >/dev/null 2>&1",
             getenv("LISEC_P11_MODULE"), keys[i][1], keys[i][0]);
    assert_int_equal(system(cmd), 0);
  }
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("kek-extractable", false);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  assert_non_null(strstr(err.msg, "extractable"));
  c = cfg("kek-short", true);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "AES-256"));
  c = cfg("kek-fit", true);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  for (size_t i = 0; i < 2; i++) {
    err = (lisec_err){0};
    assert_int_equal(keys_kek_use(k, keys[i][0], true, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, keys[i][0]));
  }
  char name[KEYS_KEK_NAME_MAX + 1];
  keys_kek_current(k, name, NULL);
  assert_string_equal(name, "kek-fit");
  /* a record naming one is not opened with it either */
  vault_kek v;
  assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/kek-extractable", &v, NULL, &err), LISEC_EINVAL);
  keys_kek_close(k);
}

/* Two token keys under one label (each fit, as pkcs11-tool makes them):
 * which one C_FindObjects gives first is the token's choice, so neither is
 * used. The start (with or without create: no third is made), a rotation
 * naming the label and a record sealed under it are each refused, naming
 * TR103308-5.7 and the label and saying what to do. */
static void test_ambiguous_label_refused(void **state) {
  (void)state;
  char cmd[1024];
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "pkcs11-tool --module %s --token-label lisec-test --login --pin 1234 --keygen --key-type AES:32 "
             "--sensitive --label kek-twice >/dev/null 2>&1",
             getenv("LISEC_P11_MODULE"));
    assert_int_equal(system(cmd), 0);
  }
  lisec_err err = {0};
  keys_kek *k = NULL;
  for (int create = 0; create < 2; create++) {
    err = (lisec_err){0};
    keys_kek_pkcs11_config c = cfg("kek-twice", create);
    assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "TR103308-5.7"));
    assert_non_null(strstr(err.msg, "more than one AES key labelled \"kek-twice\""));
    assert_non_null(strstr(err.msg, "delete or relabel the others"));
  }
  /* no third key was made */
  snprintf(cmd, sizeof cmd,
           "test \"$(pkcs11-tool --module %s --token-label lisec-test --login --pin 1234 -O --type secrkey "
           "2>/dev/null | grep -c 'label: *kek-twice$')\" = 2",
           getenv("LISEC_P11_MODULE"));
  assert_int_equal(system(cmd), 0);
  keys_kek_pkcs11_config c = cfg("kek-once", true);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  err = (lisec_err){0};
  assert_int_equal(keys_kek_use(k, "kek-twice", true, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  assert_non_null(strstr(err.msg, "kek-twice"));
  char name[KEYS_KEK_NAME_MAX + 1];
  keys_kek_current(k, name, NULL);
  assert_string_equal(name, "kek-once");
  vault_kek v;
  err = (lisec_err){0};
  assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/kek-twice", &v, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "kek-twice"));
  keys_kek_close(k);
}

static void test_wrong_pin_missing_key_bad_module(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("kek-a", false);
  c.pin = "9999";
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "wrong PIN"));
  c = cfg("absent", false);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_ENOTFOUND);
  c = cfg("kek-a", false);
  c.token_label = "no-such-token";
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EUNAVAIL);
  c.module = "/nonexistent/module.so";
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), LISEC_EUNAVAIL);
}

/* Item 10 of issue 14: more rotations than the bound on keys loaded at once
 * (16), each re-wrapping every record to a new token key; after each the old
 * keys are unloaded, every record opens, and a handle taken before an unload
 * still works until released (ASan would see a use after free). */
static void test_many_rotations_one_process(void **state) {
  (void)state;
  enum { ROTATIONS = 24, RECORDS = 3 };
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("spin-0", true);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_sealed s[RECORDS];
  vault_kek v = keys_kek_vault(k);
  for (int i = 0; i < RECORDS; i++) {
    char id[16];
    snprintf(id, sizeof id, "t-%d", i);
    assert_int_equal(vault_seal(id, "li-1", 1, ids, &v, &s[i], &err), 0);
  }
  keys_kek_release(k, v.ctx);
  vault_kek held;
  for (int r = 1; r <= ROTATIONS; r++) {
    char name[32], want[64];
    snprintf(name, sizeof name, "spin-%d", r);
    if (keys_kek_use(k, name, true, &err)) fail_msg("rotation %d: %s", r, err.msg);
    vault_kek cur = keys_kek_vault(k), old;
    for (int i = 0; i < RECORDS; i++) {
      if (keys_kek_for(k, s[i].kek_label, &old, NULL, &err)) fail_msg("rotation %d: %s", r, err.msg);
      assert_int_equal(vault_rewrap(&s[i], &old, &cur, &err), 0);
      keys_kek_release(k, old.ctx);
    }
    keys_kek_release(k, cur.ctx);
    /* a reader holds the previous rotation's key across this unload */
    if (r == 5) assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/spin-4", &held, NULL, &err), 0);
    assert_true(keys_kek_unload_others(k) >= 1);
    assert_int_equal(keys_kek_loaded(k), 1);
    snprintf(want, sizeof want, "pkcs11:lisec-test/%s", name);
    for (int i = 0; i < RECORDS; i++) {
      vault_opener op;
      assert_string_equal(s[i].kek_label, want);
      assert_int_equal(keys_kek_for(k, s[i].kek_label, NULL, &op, &err), 0);
      assert_int_equal(vault_open_with(&s[i], &op, &back, &err), 0);
      keys_kek_release(k, op.ctx);
      assert_true(json_equal(ids, back));
      json_decref(back);
    }
    if (r == 8) { /* the held handle still wraps with its unloaded key */
      uint8_t dk[VAULT_DATA_KEY_LEN] = {1}, wrapped[128], again[VAULT_DATA_KEY_LEN];
      size_t wl = sizeof wrapped;
      assert_string_equal(held.label, "pkcs11:lisec-test/spin-4");
      assert_int_equal(held.wrap(held.ctx, dk, wrapped, &wl, &err), 0);
      keys_kek_release(k, held.ctx); /* the retired one goes now */
      /* and spin-4, loaded again from the token, unwraps it */
      vault_kek hk;
      assert_int_equal(keys_kek_for(k, "pkcs11:lisec-test/spin-4", &hk, NULL, &err), 0);
      assert_int_equal(keys_kek_loaded(k), 2);
      assert_int_equal(hk.unwrap(hk.ctx, wrapped, wl, again, &err), 0);
      assert_memory_equal(dk, again, sizeof dk);
      keys_kek_release(k, hk.ctx);
    }
  }
  char name[KEYS_KEK_NAME_MAX + 1];
  keys_kek_current(k, name, NULL);
  assert_string_equal(name, "spin-24");
  keys_kek_close(k);
  /* after a "restart" every record opens under the last key */
  c = cfg("spin-24", false);
  assert_int_equal(keys_kek_open_pkcs11(&c, &k, &err), 0);
  for (int i = 0; i < RECORDS; i++) {
    vault_opener op;
    assert_int_equal(keys_kek_for(k, s[i].kek_label, NULL, &op, &err), 0);
    assert_int_equal(vault_open_with(&s[i], &op, &back, &err), 0);
    keys_kek_release(k, op.ctx);
    assert_true(json_equal(ids, back));
    json_decref(back);
    vault_sealed_free(&s[i]);
  }
  json_decref(ids);
  keys_kek_close(k);
}

/* SoftHSM2 2.6 offers no PKCS#11 3.0 interface: a data key not in the
 * cache takes two calls (C_DecryptInit, C_Decrypt), counted where they
 * reach the module (test_kek_v3 counts one with a 3.0 token). */
static void test_two_calls_a_cold_unwrap(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("two-calls", true);
  c.module = p11_counting(getenv("LISEC_P11_MODULE"));
  assert_non_null(c.module);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  assert_false(keys_kek_one_call_unwrap(k));
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_kek v = keys_kek_vault(k);
  vault_sealed s[3];
  char id[8];
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof id, "t-%d", i);
    assert_int_equal(vault_seal(id, "li-1", 1, ids, &v, &s[i], &err), 0);
  }
  keys_kek_close(k);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg); /* cold */
  v = keys_kek_vault(k);
  unsigned long c0 = p11_calls();
  for (int i = 0; i < 3; i++) {
    assert_int_equal(vault_open(&s[i], &v, &back, &err), 0);
    json_decref(back);
    vault_sealed_free(&s[i]);
  }
  assert_int_equal(p11_calls() - c0, 2 * 3);
  json_decref(ids);
  keys_kek_close(k);
}

/* [vault] cache_ttl_s bounds how long an unwrapped data key stays in the
 * keys process's memory (docs/vault.md, "Reading speed"): with a TTL of
 * 1 s, data keys cached by seals and an open that nobody asks for again
 * are wiped within a second or so of their expiry, not left until a later
 * look-up happens to meet their slot; not before it either, and the
 * records still open afterwards (through the token again). */
static void test_cache_ttl_wipes_unread_keys(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_kek *k = NULL;
  keys_kek_pkcs11_config c = cfg("ttl-1", true);
  if (keys_kek_open_pkcs11(&c, &k, &err)) fail_msg("%s", err.msg);
  assert_int_equal(keys_kek_cache_configure(k, 64, 1, &err), 0);
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_kek v = keys_kek_vault(k);
  vault_sealed s[3];
  int64_t t0 = lisec_time_mono_ms();
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "t-%d", i);
    assert_int_equal(vault_seal(id, "li-1", 1, ids, &v, &s[i], &err), 0);
  }
  assert_int_equal(vault_open(&s[0], &v, &back, &err), 0);
  json_decref(back);
  assert_int_equal(keys_kek_cache_held(k), 3);
  /* nothing touches the cache now: only time passes (at most 5 s) */
  while (keys_kek_cache_held(k) && lisec_time_mono_ms() - t0 < 5000) usleep(20 * 1000);
  int64_t took = lisec_time_mono_ms() - t0;
  assert_int_equal(keys_kek_cache_held(k), 0);
  assert_true(took >= 1000);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(vault_open(&s[i], &v, &back, &err), 0);
    assert_true(json_equal(ids, back));
    json_decref(back);
    vault_sealed_free(&s[i]);
  }
  assert_int_equal(keys_kek_cache_held(k), 3);
  keys_kek_release(k, v.ctx);
  json_decref(ids);
  keys_kek_close(k);
}

static void test_development_file_key(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-test-kek-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  lisec_err err = {0};
  keys_kek *k = NULL;
  assert_int_equal(keys_kek_open_file(path, &k, &err), 0);
  assert_true(keys_kek_is_development(k));
  vault_kek v = keys_kek_vault(k);
  json_error_t je;
  json_t *ids = json_loads(TARGETS, 0, &je), *back = NULL;
  vault_sealed s;
  assert_int_equal(vault_seal("t-2", "li-1", 1, ids, &v, &s, &err), 0);
  keys_kek_close(k);
  assert_int_equal(keys_kek_open_file(path, &k, &err), 0);
  v = keys_kek_vault(k);
  assert_int_equal(vault_open(&s, &v, &back, &err), 0);
  json_decref(back);
  json_decref(ids);
  vault_sealed_free(&s);
  keys_kek_close(k);
  unlink(path);
}

int main(void) {
  if (softhsm_token_make()) {
    softhsm_token_remove();
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_created_and_wraps), cmocka_unit_test(test_switch_keys_open_by_label),
      cmocka_unit_test(test_key_not_extractable),
      cmocka_unit_test(test_wrong_pin_missing_key_bad_module), cmocka_unit_test(test_development_file_key),
      cmocka_unit_test(test_many_rotations_one_process), cmocka_unit_test(test_two_calls_a_cold_unwrap),
      cmocka_unit_test(test_cache_ttl_wipes_unread_keys), cmocka_unit_test(test_unfit_token_key_refused),
      cmocka_unit_test(test_ambiguous_label_refused),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  softhsm_token_remove();
  return rc;
}
