/* Unit tests of vault/: identifier validation per kind (good and bad values
 * of every kind), sealing and opening, a ciphertext moved to another record,
 * authorisation or version, altered or truncated, the wrong KEK, KEK
 * rotation, and a storage form that holds no identifier in clear; the
 * stored row read back by the fast parser (vault_sealed_parse) and by the
 * general reader, which agree on valid, truncated, oversized, mistyped,
 * duplicated and non-canonical rows, and a row whose record names another
 * id than the one it is stored under is refused. The KEK
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

/* ---- reading a stored row: vault_sealed_parse against vault_sealed_from_json ---- */

static char *canonical_row(const vault_sealed *s) {
  json_t *j = NULL;
  lisec_err err = {0};
  assert_int_equal(vault_sealed_to_json(s, &j, &err), 0);
  char *text = lisec_json_dump_canonical(j);
  json_decref(j);
  assert_non_null(text);
  return text;
}

static void assert_same(const vault_sealed *a, const vault_sealed *b) {
  assert_string_equal(a->id, b->id);
  assert_string_equal(a->authorisation, b->authorisation);
  assert_string_equal(a->kek_label, b->kek_label);
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->wrapped_key_len, b->wrapped_key_len);
  assert_memory_equal(a->wrapped_key, b->wrapped_key, a->wrapped_key_len);
  assert_int_equal(a->ciphertext_len, b->ciphertext_len);
  if (a->ciphertext_len) assert_memory_equal(a->ciphertext, b->ciphertext, a->ciphertext_len);
}

/* Both readers over text (len bytes, copied so a read past the end shows
 * under ASan); they must agree. Returns the fast parser's rc and leaves its
 * result in *out (freed by the caller when 0). */
static int parse_both(const char *text, size_t len, vault_sealed *out) {
  char *body = malloc(len ? len : 1);
  assert_non_null(body);
  memcpy(body, text, len);
  lisec_err err = {0};
  int rf = vault_sealed_parse(body, len, out, &err);
  if (rf) assert_true(err.msg[0] != '\0'); /* a refusal says why */
  json_t *j = NULL;
  vault_sealed g;
  int rg = lisec_json_parse(body, len, &j, &err);
  if (!rg) rg = vault_sealed_from_json(j, &g, &err);
  json_decref(j);
  free(body);
  if ((rf == 0) != (rg == 0))
    fail_msg("the fast parser %s what the general reader %s: %.*s", rf ? "refused" : "accepted",
             rg ? "refused" : "accepted", (int)(len < 200 ? len : 200), text);
  if (!rg) {
    assert_same(out, &g);
    vault_sealed_free(&g);
  }
  return rf;
}

static void refused(const char *text) {
  vault_sealed s;
  if (parse_both(text, strlen(text), &s) == 0) {
    vault_sealed_free(&s);
    fail_msg("accepted: %.200s", text);
  }
}

/* text with the first occurrence of from replaced by to */
static char *swap(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  assert_non_null(at);
  size_t n = strlen(text) - strlen(from) + strlen(to);
  char *out = malloc(n + 1);
  assert_non_null(out);
  size_t pre = (size_t)(at - text);
  memcpy(out, text, pre);
  strcpy(out + pre, to);
  strcat(out, at + strlen(from));
  return out;
}

static vault_sealed sealed_fixture(void) {
  lisec_err err = {0};
  json_t *ids = json_pack("[{s:s, s:s}]", "kind", "imsi", "value", "244051234567890");
  vault_sealed s;
  assert_int_equal(vault_seal("t-1", "li-7", 3, ids, &kek1, &s, &err), 0);
  json_decref(ids);
  return s;
}

static void test_sealed_parse_valid(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture(), r;
  char *text = canonical_row(&s);
  /* the canonical row (the fast path) */
  assert_int_equal(parse_both(text, strlen(text), &r), 0);
  assert_same(&s, &r);
  json_t *back = NULL;
  lisec_err err = {0};
  assert_int_equal(vault_open(&r, &kek1, &back, &err), 0);
  json_decref(back);
  vault_sealed_free(&r);
  /* the same record in other shapes (the general reader) reads the same */
  json_t *j = NULL;
  assert_int_equal(vault_sealed_to_json(&s, &j, &err), 0);
  char *spaced = json_dumps(j, JSON_INDENT(2)), *reordered = json_dumps(j, JSON_PRESERVE_ORDER);
  char *escaped = swap(text, "\"t-1\"", "\"t\\u002d1\"");
  const char *shapes[] = {spaced, reordered, escaped};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(parse_both(shapes[i], strlen(shapes[i]), &r), 0);
    assert_same(&s, &r);
    vault_sealed_free(&r);
  }
  free(spaced);
  free(reordered);
  free(escaped);
  json_decref(j);
  /* an empty ciphertext and an empty KEK label are read alike by both */
  char *empty = swap(text, "\"kek\":\"kek-1\"", "\"kek\":\"\"");
  assert_int_equal(parse_both(empty, strlen(empty), &r), 0);
  assert_string_equal(r.kek_label, "");
  vault_sealed_free(&r);
  free(empty);
  free(text);
  vault_sealed_free(&s);
}

/* A row read for the id it is stored under: the record must name that id
 * (a record copied whole under another target's id still opens, its
 * associated data being its own fields), in either shape of the row. */
static void test_sealed_parse_as_stored_id(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture(), r;
  char *text = canonical_row(&s);
  lisec_err err = {0};
  assert_int_equal(vault_sealed_parse_as("t-1", text, strlen(text), &r, &err), 0);
  assert_same(&s, &r);
  vault_sealed_free(&r);
  json_t *j = NULL;
  assert_int_equal(vault_sealed_to_json(&s, &j, &err), 0);
  char *spaced = json_dumps(j, JSON_INDENT(2));
  const char *shapes[] = {text, spaced};
  for (size_t i = 0; i < 2; i++) {
    err = (lisec_err){0};
    assert_int_equal(vault_sealed_parse_as("t-9", shapes[i], strlen(shapes[i]), &r, &err), LISEC_ECRYPTO);
    assert_non_null(strstr(err.msg, "TR103308-5.2: stored target t-9"));
    assert_null(r.ciphertext);
  }
  char *blank = swap(text, "\"id\":\"t-1\"", "\"id\":\"\"");
  assert_int_equal(vault_sealed_parse_as("t-1", blank, strlen(blank), &r, &err), LISEC_ECRYPTO);
  free(blank);
  free(spaced);
  json_decref(j);
  free(text);
  vault_sealed_free(&s);
}

static void test_sealed_parse_truncated(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture(), r;
  char *text = canonical_row(&s);
  size_t n = strlen(text);
  for (size_t len = 0; len < n; len++)
    if (parse_both(text, len, &r) == 0) {
      vault_sealed_free(&r);
      fail_msg("a row cut to %zu of %zu bytes was accepted", len, n);
    }
  /* ... and with bytes after the end */
  char *longer = malloc(n + 2);
  memcpy(longer, text, n);
  memcpy(longer + n, " x", 2);
  assert_int_not_equal(parse_both(longer, n + 2, &r), 0);
  free(longer);
  free(text);
  vault_sealed_free(&s);
}

static void test_sealed_parse_oversized(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture();
  char *text = canonical_row(&s);
  char id[VAULT_ID_MAX + 4]; /* "a...a" with VAULT_ID_MAX + 1 letters */
  memset(id, 'a', sizeof id);
  id[0] = '"';
  id[VAULT_ID_MAX + 2] = '"';
  id[VAULT_ID_MAX + 3] = '\0';
  char *t = swap(text, "\"t-1\"", id);
  refused(t);
  free(t);
  t = swap(text, "\"li-7\"", id);
  refused(t);
  free(t);
  /* a wrapped key of 258 bytes (over VAULT_WRAPPED_MAX) */
  uint8_t big[VAULT_WRAPPED_MAX + 2] = {0};
  char *b64 = NULL;
  assert_int_equal(crypto_base64_encode(big, sizeof big, &b64), 0);
  char *q = malloc(strlen(b64) + 3);
  sprintf(q, "\"%s\"", b64);
  const char *wk = strstr(text, "\"wrapped_key\":") + strlen("\"wrapped_key\":");
  char old[600];
  snprintf(old, sizeof old, "%.*s", (int)(strchr(wk + 1, '"') - wk + 1), wk);
  t = swap(text, old, q);
  refused(t);
  free(t);
  free(q);
  free(b64);
  /* a ciphertext over 6 MiB decoded (8 MiB and more of base64) */
  size_t cn = (8u << 20) + 4;
  char *ct = malloc(cn + 3);
  memset(ct + 1, 'A', cn);
  ct[0] = '"';
  ct[cn + 1] = '"';
  ct[cn + 2] = '\0';
  const char *c0 = strstr(text, "\"ciphertext\":") + strlen("\"ciphertext\":");
  char *oldc = strndup(c0, (size_t)(strchr(c0 + 1, '"') - c0 + 1));
  t = swap(text, oldc, ct);
  refused(t);
  free(t);
  free(oldc);
  free(ct);
  /* a version past 18 digits is read by the general reader, within int64 */
  t = swap(text, "\"version\":3", "\"version\":1234567890123456789");
  vault_sealed r;
  assert_int_equal(parse_both(t, strlen(t), &r), 0);
  assert_int_equal(r.version, 1234567890123456789LL);
  vault_sealed_free(&r);
  free(t);
  t = swap(text, "\"version\":3", "\"version\":9223372036854775808");
  refused(t);
  free(t);
  free(text);
  vault_sealed_free(&s);
}

static void test_sealed_parse_wrong_types(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture();
  char *text = canonical_row(&s);
  static const char *const cases[][2] = {
      {"\"version\":3", "\"version\":\"3\""}, {"\"version\":3", "\"version\":0"},
      {"\"version\":3", "\"version\":-3"},     {"\"version\":3", "\"version\":3.0"},
      {"\"version\":3", "\"version\":null"},   {"\"version\":3", "\"version\":true"},
      {"\"id\":\"t-1\"", "\"id\":1"},         {"\"id\":\"t-1\"", "\"id\":[\"t-1\"]"},
      {"\"id\":\"t-1\"", "\"id\":null"},      {"\"kek\":\"kek-1\"", "\"kek\":{}"},
      {"\"authorisation\":\"li-7\"", "\"authorisation\":false"},
      {"\"ciphertext\":", "\"ciphertext\":1,\"x\":"},
      {"\"id\":\"t-1\"", "\"id\":\"t\\u0000x\""}, /* NUL */
      {"\"id\":\"t-1\",", ""},                 /* missing */
      {"{", "["},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *t = swap(text, cases[i][0], cases[i][1]);
    refused(t);
    free(t);
  }
  refused("");
  refused("{}");
  refused("null");
  free(text);
  vault_sealed_free(&s);
}

static void test_sealed_parse_duplicates_noncanonical(void **state) {
  (void)state;
  vault_sealed s = sealed_fixture();
  char *text = canonical_row(&s);
  /* a key twice, in front or behind: refused, never "the last one wins" */
  char *t = swap(text, "{", "{\"id\":\"t-2\",");
  refused(t);
  free(t);
  t = swap(text, "\"kek\":", "\"authorisation\":\"li-8\",\"kek\":");
  refused(t);
  free(t);
  /* base64 with bits the padding leaves over, with a line break, with
   * padding inside: refused by both */
  const char *c0 = strstr(text, "\"ciphertext\":\"") + strlen("\"ciphertext\":\"");
  size_t cl = (size_t)(strchr(c0, '"') - c0);
  char *ct = strndup(c0, cl);
  assert_true(cl >= 8);
  char *bad = strdup(ct);
  bad[4] = '\n';
  t = swap(text, ct, bad);
  refused(t);
  free(t);
  strcpy(bad, ct);
  bad[2] = '=';
  t = swap(text, ct, bad);
  refused(t);
  free(t);
  free(bad);
  free(ct);
  /* the data key's length (32+16+12 = 60 bytes) leaves no padding; a
   * 2-byte value with non-zero spare bits is not canonical */
  t = swap(text, "\"wrapped_key\":\"", "\"wrapped_key\":\"AAB=\",\"x\":\"");
  refused(t);
  free(t);
  char *wk = strdup(strstr(text, "\"wrapped_key\":\""));
  wk[strlen(wk) - 1] = '\0'; /* drop the closing brace */
  char *pb = strdup(wk);
  size_t wl = strlen(pb);
  pb[wl - 3] = 'B', pb[wl - 2] = '=';   /* "..B=" with spare bits set */
  t = swap(text, wk, pb);
  refused(t);
  free(t);
  free(pb);
  free(wk);
  /* an unknown key is accepted by both, and only the known fields count */
  t = swap(text, "{", "{\"note\":\"x\",");
  vault_sealed r;
  assert_int_equal(parse_both(t, strlen(t), &r), 0);
  assert_same(&s, &r);
  vault_sealed_free(&r);
  free(t);
  /* a leading zero or a plus sign is not JSON */
  t = swap(text, "\"version\":3", "\"version\":03");
  refused(t);
  free(t);
  t = swap(text, "\"version\":3", "\"version\":+3");
  refused(t);
  free(t);
  free(text);
  vault_sealed_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identifier_kinds),       cmocka_unit_test(test_identifier_list_names_field),
      cmocka_unit_test(test_seal_open_roundtrip_no_plaintext), cmocka_unit_test(test_moved_rolled_back_altered),
      cmocka_unit_test(test_rotation_keeps_ciphertext), cmocka_unit_test(test_bad_ids_refused_before_sealing),
      cmocka_unit_test(test_sealed_parse_valid), cmocka_unit_test(test_sealed_parse_truncated),
      cmocka_unit_test(test_sealed_parse_oversized), cmocka_unit_test(test_sealed_parse_wrong_types),
      cmocka_unit_test(test_sealed_parse_duplicates_noncanonical), cmocka_unit_test(test_sealed_parse_as_stored_id),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
