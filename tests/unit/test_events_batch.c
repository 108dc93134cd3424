/* events/ signed batches (issue 20 item 3, form 2 in docs/events.md): the
 * statement is exactly the documented bytes over the SHA-256 of each
 * event's canonical bytes; a batch verifies with the VM's key only; and
 * what a VM, or someone between it and lisecd, can do to a signed batch is
 * refused naming TR103308-4.1: a digest list that does not match the
 * events, a signature by another key, a batch split or reordered, an
 * oversized batch, an event with a signature of its own, a malformed
 * statement, two VMs. The sequence rules apply to it as to form 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "events/events.h"

static const ev_limits LIM = {1024, 16};

static EVP_PKEY *key(void) {
  EVP_PKEY *k = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_pkey_generate(false, &k, &err), 0);
  return k;
}

/* A signed batch of vm's events seqs[0..n), signed by k, as a JSON body. */
static json_t *signed_batch(EVP_PKEY *k, const char *vm, const uint64_t *seqs, size_t n) {
  lisec_err err = {0};
  char *evs[EV_BATCH_CEILING], *stmt = NULL, *body = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  assert_true(n <= EV_BATCH_CEILING);
  for (size_t i = 0; i < n; i++) {
    ev_record r;
    assert_int_equal(ev_record_init(&r, vm, seqs[i], 1800000000, "delivery", &err), 0);
    assert_int_equal(ev_record_add_detail(&r, "xid", "3f2a-x", &err), 0);
    assert_int_equal(ev_unsigned_text(&r, &evs[i], &err), 0);
  }
  assert_int_equal(ev_signed_batch_statement((const char *const *)evs, n, LIM.max_event, &stmt, &err), 0);
  assert_int_equal(crypto_pkey_sign(k, stmt, strlen(stmt), &sig, &sig_len, &err), 0);
  assert_int_equal(ev_signed_batch_body((const char *const *)evs, n, stmt, sig, sig_len, &body, &err), 0);
  json_t *j = NULL;
  assert_int_equal(lisec_json_parse(body, strlen(body), &j, &err), 0);
  for (size_t i = 0; i < n; i++) free(evs[i]);
  free(stmt), free(sig), free(body);
  return j;
}

/* Parses and verifies body against k; the first failing rc. */
static int take(const json_t *body, EVP_PKEY *k, lisec_err *err) {
  ev_batch b;
  int rc = ev_batch_parse(body, &LIM, &b, err);
  if (!rc) rc = ev_batch_verify(&b, k, err);
  ev_batch_clear(&b);
  return rc;
}

static void test_statement_exact(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = key();
  uint64_t seqs[] = {7};
  json_t *body = signed_batch(k, "vm-li-1", seqs, 1);
  /* the canonical bytes as documented, hashed here independently */
  const char *canon = "{\"details\":{\"xid\":\"3f2a-x\"},\"seq\":7,\"time\":1800000000,\"type\":\"delivery\",\"v\":1,"
                      "\"vm\":\"vm-li-1\"}";
  uint8_t d[32];
  char hex[65], want[256], text[512];
  crypto_sha256(canon, strlen(canon), d);
  lisec_hex_encode(d, 32, hex);
  snprintf(want, sizeof want, "{\"digests\":[\"%s\"],\"v\":2,\"vm\":\"vm-li-1\"}", hex);
  snprintf(text, sizeof text, "{\"digest\":\"%s\",\"event\":%s}", hex, canon);
  ev_batch b;
  assert_int_equal(ev_batch_parse(body, &LIM, &b, &err), 0);
  assert_int_equal(b.form, 2);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.statement, want);
  assert_string_equal(b.ev[0].text, text); /* what the audit record keeps */
  /* the signature is over exactly those bytes */
  assert_int_equal(crypto_pkey_verify(k, want, strlen(want), b.sig, b.sig_len, &err), 0);
  assert_int_equal(ev_batch_verify(&b, k, &err), 0);
  ev_seq_verdict v;
  assert_int_equal(ev_seq_check(6, &b, &v, &err), 0);
  assert_int_equal(ev_seq_check(7, &b, &v, &err), LISEC_ECONFLICT); /* a replay, as in form 1 */
  assert_non_null(strstr(err.msg, "replayed"));
  ev_batch_clear(&b);
  json_decref(body);
  EVP_PKEY_free(k);
}

static void test_wrong_key_and_tampering(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = key(), *other = key();
  uint64_t seqs[] = {1, 2, 3, 4};
  json_t *body = signed_batch(k, "vm-li-1", seqs, 4);
  assert_int_equal(take(body, k, &err), 0);
  /* a batch signature by another key */
  assert_int_equal(take(body, other, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1: the batch signature does not verify"));
  assert_null(strstr(err.msg, "vm-li-1"));
  /* an event changed after signing: its digest is no longer the listed one */
  json_t *evs = json_object_get(body, "events");
  json_t *e2 = json_object_get(json_array_get(evs, 2), "event");
  json_object_set_new(e2, "type", json_string("error"));
  assert_int_equal(take(body, k, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "event seq 3 does not match digest 2"));
  /* ... and the digest list changed to match: the signature does not */
  ev_batch b;
  assert_int_equal(ev_batch_parse(body, &LIM, &b, &err), 0);
  char hex[65];
  lisec_hex_encode(b.ev[2].digest, 32, hex);
  ev_batch_clear(&b);
  json_array_set_new(json_object_get(json_object_get(body, "batch"), "digests"), 2, json_string(hex));
  assert_int_equal(take(body, k, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "batch signature does not verify"));
  json_decref(body);
  EVP_PKEY_free(k);
  EVP_PKEY_free(other);
}

static void test_split_and_reordered(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = key();
  uint64_t seqs[] = {1, 2, 3, 4};
  /* split: the last event left out, the list whole */
  json_t *body = signed_batch(k, "vm-li-1", seqs, 4);
  json_array_remove(json_object_get(body, "events"), 3);
  assert_int_equal(take(body, k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "lists 4 digests for 3 events"));
  /* split: the event and its digest left out: the signature was over four */
  json_array_remove(json_object_get(json_object_get(body, "batch"), "digests"), 3);
  assert_int_equal(take(body, k, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "batch signature does not verify"));
  json_decref(body);
  /* reordered: two events swapped */
  body = signed_batch(k, "vm-li-1", seqs, 4);
  json_t *evs = json_object_get(body, "events"), *first = json_incref(json_array_get(evs, 0));
  json_array_remove(evs, 0);
  json_array_insert_new(evs, 1, first);
  assert_int_equal(take(body, k, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "does not match digest 0"));
  /* ... with their digests swapped too: the signature was over the order */
  json_t *ds = json_object_get(json_object_get(body, "batch"), "digests"), *d0 = json_incref(json_array_get(ds, 0));
  json_array_remove(ds, 0);
  json_array_insert_new(ds, 1, d0);
  assert_int_equal(take(body, k, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "batch signature does not verify"));
  json_decref(body);
  /* a VM's own batch whose seqs do not rise verifies, and the sequence
   * rules refuse it */
  uint64_t back[] = {5, 7, 6};
  body = signed_batch(k, "vm-li-1", back, 3);
  ev_batch b;
  ev_seq_verdict v;
  assert_int_equal(ev_batch_parse(body, &LIM, &b, &err), 0);
  assert_int_equal(ev_batch_verify(&b, k, &err), 0);
  assert_int_equal(ev_seq_check(4, &b, &v, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "out of order"));
  ev_batch_clear(&b);
  json_decref(body);
  EVP_PKEY_free(k);
}

static void test_malformed(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = key();
  uint64_t seqs[16];
  for (int i = 0; i < 16; i++) seqs[i] = (uint64_t)i + 1;
  /* oversized: 17 events (and 17 digests) over max_batch */
  json_t *body = signed_batch(k, "vm-li-1", seqs, 16);
  json_array_append(json_object_get(body, "events"), json_array_get(json_object_get(body, "events"), 0));
  json_array_append(json_object_get(json_object_get(body, "batch"), "digests"),
                    json_array_get(json_object_get(json_object_get(body, "batch"), "digests"), 0));
  assert_int_equal(take(body, k, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "max_batch"));
  json_decref(body);
  /* an event with a signature of its own */
  body = signed_batch(k, "vm-li-1", seqs, 2);
  json_object_set_new(json_array_get(json_object_get(body, "events"), 1), "sig", json_string("AAAA"));
  assert_int_equal(take(body, k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "no signature of its own"));
  json_decref(body);
  /* the statement: v other than 2, an unknown field, a digest in upper
   * case or short, the statement's VM not the events' */
  const char *breakers[] = {"v", "x", "upper", "short", "vm", "nosig", "extra"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(breakers); i++) {
    body = signed_batch(k, "vm-li-1", seqs, 2);
    json_t *st = json_object_get(body, "batch"), *ds = json_object_get(st, "digests");
    char hex[65];
    snprintf(hex, sizeof hex, "%s", json_string_value(json_array_get(ds, 0)));
    if (strcmp(breakers[i], "v") == 0) json_object_set_new(st, "v", json_integer(1));
    if (strcmp(breakers[i], "x") == 0) json_object_set_new(st, "x", json_integer(1));
    if (strcmp(breakers[i], "upper") == 0) {
      for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
      json_array_set_new(ds, 0, json_string(hex));
    }
    if (strcmp(breakers[i], "short") == 0) json_array_set_new(ds, 0, json_stringn(hex, 62));
    if (strcmp(breakers[i], "vm") == 0) json_object_set_new(st, "vm", json_string("vm-li-2"));
    if (strcmp(breakers[i], "nosig") == 0) json_object_del(body, "sig");
    if (strcmp(breakers[i], "extra") == 0) json_object_set_new(body, "note", json_string("x"));
    assert_int_equal(take(body, k, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "TR103308-4.1"));
    json_decref(body);
  }
  /* two VMs in one signed batch are refused by the VM's library already */
  char *evs[2], *stmt = NULL;
  ev_record r;
  assert_int_equal(ev_record_init(&r, "vm-li-1", 1, 1, "start", &err), 0);
  assert_int_equal(ev_unsigned_text(&r, &evs[0], &err), 0);
  assert_int_equal(ev_record_init(&r, "vm-li-2", 2, 1, "start", &err), 0);
  assert_int_equal(ev_unsigned_text(&r, &evs[1], &err), 0);
  assert_int_equal(ev_signed_batch_statement((const char *const *)evs, 2, LIM.max_event, &stmt, &err), LISEC_EINVAL);
  assert_null(stmt);
  free(evs[0]), free(evs[1]);
  EVP_PKEY_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statement_exact),
      cmocka_unit_test(test_wrong_key_and_tampering),
      cmocka_unit_test(test_split_and_reordered),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
