/* Unit tests of vault/: identifier validation per kind (good and bad values
 * of every kind), sealing and opening, a ciphertext moved to another record,
 * authorisation or version, altered or truncated, the wrong KEK, KEK
 * rotation, and a storage form that holds no identifier in clear. The KEK
 * here is an in-process AES-GCM key; tests/integration/vault_pkcs11.sh runs
 * the same seal/open path against a real SoftHSM2 token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "vault/vault.h"

typedef struct test_kek {
  uint8_t key[32];
} test_kek;

static int tk_wrap(void *ctx, const uint8_t key[32], uint8_t *out, size_t *len, lisec_err *err) {
  test_kek *k = ctx;
  if (*len < 32 + CRYPTO_AEAD_OVERHEAD) return LISEC_EINVAL;
  *len = 32 + CRYPTO_AEAD_OVERHEAD;
  return crypto_aead_seal(k->key, "kek", 3, key, 32, out, *len, err);
}

static int tk_unwrap(void *ctx, const uint8_t *in, size_t len, uint8_t key[32], lisec_err *err) {
  test_kek *k = ctx;
  return crypto_aead_open(k->key, "kek", 3, in, len, key, 32, err);
}

static test_kek k1, k2;
static vault_kek kek1 = {tk_wrap, tk_unwrap, "kek-1", &k1}, kek2 = {tk_wrap, tk_unwrap, "kek-2", &k2};

static int setup(void **state) {
  (void)state;
  lisec_err err = {0};
  return crypto_random(k1.key, 32, &err) || crypto_random(k2.key, 32, &err);
}

static void test_identifier_kinds(void **state) {
  (void)state;
  static const struct { const char *kind, *good, *bad; } cases[] = {
      {"e164", "358401234567", "+358401234567"},
      {"imsi", "244051234567890", "2440512345"},
      {"imei", "49015420323751", "490154203237519"}, /* 15 digits with a wrong Luhn digit */
      {"imei", "490154203237518", "4901542032375"},
      {"supi", "imsi-244051234567890", "imsi-24x"},
      {"gpsi", "msisdn-358401234567", "msisdn-"},
      {"ipv4", "192.0.2.10", "192.0.2.300"},
      {"ipv6", "2001:db8::1", "2001:db8:::1"},
      {"ipv4-prefix", "198.51.100.0/24", "198.51.100.1/24"},
      {"ipv6-prefix", "2001:db8::/32", "2001:db8::/129"},
      {"mac", "00:1b:44:11:3a:b7", "00:1b:44:11:3a"},
      {"email", "target@example.org", "target example.org"},
      {"sip-uri", "sip:alice@example.org", "sip alice"},
      {"tel-uri", "tel:+358-40-1234567", "tel:0401234567"},
      {"port-range", "5060-5061", "70000"},
  };
  lisec_err err = {0};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(cases); i++) {
    vault_kind k;
    assert_int_equal(vault_kind_parse(cases[i].kind, &k), 0);
    if (vault_identifier_check(k, cases[i].good, "f", &err) != 0)
      fail_msg("%s %s refused: %s", cases[i].kind, cases[i].good, err.msg);
    assert_int_equal(vault_identifier_check(k, cases[i].bad, "f", &err), LISEC_EINVAL);
  }
  vault_kind k;
  assert_int_equal(vault_kind_parse("msisdn", &k), LISEC_EINVAL);
}

static json_t *ids(const char *json) {
  json_error_t je;
  json_t *v = json_loads(json, 0, &je);
  assert_non_null(v);
  return v;
}

static void test_identifier_list_names_field(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *v = ids("[{\"kind\":\"imsi\",\"value\":\"244051234567890\"},{\"kind\":\"imsi\",\"value\":\"123\"}]");
  assert_int_equal(vault_identifiers_check(v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "identifiers[1].value (imsi)"));
  assert_non_null(strstr(err.msg, "14 or 15 digits"));
  json_decref(v);
  v = ids("[{\"kind\":\"fax\",\"value\":\"1\"}]");
  assert_int_equal(vault_identifiers_check(v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "identifiers[0].kind"));
  json_decref(v);
  v = ids("[]");
  assert_int_equal(vault_identifiers_check(v, &err), LISEC_EINVAL);
  json_decref(v);
  v = ids("[{\"kind\":\"imsi\",\"value\":\"244051234567890\",\"extra\":1}]");
  assert_int_equal(vault_identifiers_check(v, &err), LISEC_EINVAL);
  json_decref(v);
}

static const char *TARGETS = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"},"
                             "{\"kind\":\"e164\",\"value\":\"358401234567\"}]";

static void test_seal_open_roundtrip_no_plaintext(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *v = ids(TARGETS), *back = NULL, *stored = NULL;
  vault_sealed s;
  assert_int_equal(vault_seal("t-1", "li-7", 1, v, &kek1, &s, &err), 0);
  assert_int_equal(vault_open(&s, &kek1, &back, &err), 0);
  assert_true(json_equal(v, back));
  assert_int_equal(vault_sealed_to_json(&s, &stored, &err), 0);
  char *text = json_dumps(stored, 0);
  assert_null(strstr(text, "244051234567890"));
  assert_null(strstr(text, "358401234567"));
  assert_null(strstr(text, "imsi"));
  /* back from the storage form */
  vault_sealed s2;
  assert_int_equal(vault_sealed_from_json(stored, &s2, &err), 0);
  json_decref(back);
  assert_int_equal(vault_open(&s2, &kek1, &back, &err), 0);
  assert_true(json_equal(v, back));
  free(text);
  json_decref(stored);
  json_decref(back);
  json_decref(v);
  vault_sealed_free(&s);
  vault_sealed_free(&s2);
}

static void test_moved_rolled_back_altered(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *v = ids(TARGETS), *back = NULL;
  vault_sealed a, b;
  assert_int_equal(vault_seal("t-a", "li-7", 2, v, &kek1, &a, &err), 0);
  assert_int_equal(vault_seal("t-b", "li-8", 1, v, &kek1, &b, &err), 0);
  /* swap the ciphertexts and keys of two records */
  vault_sealed swapped = b;
  memcpy(swapped.id, a.id, sizeof a.id);
  memcpy(swapped.authorisation, a.authorisation, sizeof a.authorisation);
  swapped.version = a.version;
  assert_int_equal(vault_open(&swapped, &kek1, &back, &err), LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "TR103308-5.2"));
  /* the same record at an older version */
  vault_sealed old = a;
  old.version = 1;
  assert_int_equal(vault_open(&old, &kek1, &back, &err), LISEC_ECRYPTO);
  /* another authorisation */
  vault_sealed other = a;
  strcpy(other.authorisation, "li-9");
  assert_int_equal(vault_open(&other, &kek1, &back, &err), LISEC_ECRYPTO);
  /* a flipped bit, a truncation, the wrong KEK */
  a.ciphertext[a.ciphertext_len - 1] ^= 1;
  assert_int_equal(vault_open(&a, &kek1, &back, &err), LISEC_ECRYPTO);
  a.ciphertext[a.ciphertext_len - 1] ^= 1;
  size_t len = a.ciphertext_len;
  a.ciphertext_len = 10;
  assert_int_equal(vault_open(&a, &kek1, &back, &err), LISEC_EINVAL);
  a.ciphertext_len = len;
  assert_int_not_equal(vault_open(&a, &kek2, &back, &err), 0);
  assert_int_equal(vault_open(&a, &kek1, &back, &err), 0);
  json_decref(back);
  json_decref(v);
  vault_sealed_free(&a);
  vault_sealed_free(&b);
}

static void test_rotation_keeps_ciphertext(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *v = ids(TARGETS), *back = NULL;
  vault_sealed s;
  assert_int_equal(vault_seal("t-r", "li-7", 1, v, &kek1, &s, &err), 0);
  uint8_t *before = malloc(s.ciphertext_len);
  memcpy(before, s.ciphertext, s.ciphertext_len);
  assert_int_equal(vault_rewrap(&s, &kek1, &kek2, &err), 0);
  assert_memory_equal(before, s.ciphertext, s.ciphertext_len);
  assert_string_equal(s.kek_label, "kek-2");
  assert_int_not_equal(vault_open(&s, &kek1, &back, &err), 0);
  assert_int_equal(vault_open(&s, &kek2, &back, &err), 0);
  assert_true(json_equal(v, back));
  free(before);
  json_decref(back);
  json_decref(v);
  vault_sealed_free(&s);
}

static void test_bad_ids_refused_before_sealing(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *v = ids(TARGETS);
  vault_sealed s;
  assert_int_equal(vault_seal("", "li-7", 1, v, &kek1, &s, &err), LISEC_EINVAL);
  assert_int_equal(vault_seal("a|b", "li-7", 1, v, &kek1, &s, &err), LISEC_EINVAL);
  assert_int_equal(vault_seal("t", "li-7", 0, v, &kek1, &s, &err), LISEC_EINVAL);
  json_decref(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identifier_kinds),       cmocka_unit_test(test_identifier_list_names_field),
      cmocka_unit_test(test_seal_open_roundtrip_no_plaintext), cmocka_unit_test(test_moved_rolled_back_altered),
      cmocka_unit_test(test_rotation_keeps_ciphertext), cmocka_unit_test(test_bad_ids_refused_before_sealing),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
