/* events/ (issue 20 item 3): the canonical bytes of an event are exactly
 * the documented ones, a signature verifies with the VM's key only and
 * over the parsed fields (a changed field or another key fails), what a VM
 * sends is parsed within its bounds (unsigned, unknown fields, oversized,
 * a batch over the limit or of two VMs refused), and the sequence rules
 * (replay and out-of-order refused, a gap accepted and counted). */
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

static EVP_PKEY *key(bool ed) {
  EVP_PKEY *k = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_pkey_generate(ed, &k, &err), 0);
  return k;
}

static char *signed_event(EVP_PKEY *k, const char *vm, uint64_t seq) {
  ev_record r;
  lisec_err err = {0};
  char *out = NULL;
  assert_int_equal(ev_record_init(&r, vm, seq, 1800000000, "activation", &err), 0);
  assert_int_equal(ev_record_add_detail(&r, "xid", "3f2a-x", &err), 0);
  assert_int_equal(ev_sign(&r, k, &out, &err), 0);
  return out;
}

static void test_canonical(void **state) {
  (void)state;
  ev_record r;
  lisec_err err = {0};
  char *c = NULL;
  assert_int_equal(ev_record_init(&r, "vm-li-1", 7, 1800000000, "target-change", &err), 0);
  assert_int_equal(ev_canonical(&r, &c, &err), 0);
  assert_string_equal(c, "{\"seq\":7,\"time\":1800000000,\"type\":\"target-change\",\"v\":1,\"vm\":\"vm-li-1\"}");
  free(c);
  assert_int_equal(ev_record_add_detail(&r, "xid", "a b", &err), 0);
  assert_int_equal(ev_record_add_detail(&r, "count", "2", &err), 0);
  assert_int_equal(ev_canonical(&r, &c, &err), 0);
  assert_string_equal(c, "{\"details\":{\"count\":\"2\",\"xid\":\"a b\"},\"seq\":7,\"time\":1800000000,"
                         "\"type\":\"target-change\",\"v\":1,\"vm\":\"vm-li-1\"}");
  free(c);
  /* bounds of the fields */
  assert_int_equal(ev_record_add_detail(&r, "xid", "again", &err), LISEC_EINVAL);
  assert_int_equal(ev_record_add_detail(&r, "Bad", "x", &err), LISEC_EINVAL);
  assert_int_equal(ev_record_add_detail(&r, "ctl", "a\nb", &err), LISEC_EINVAL);
  char big[EV_DETAIL_VALUE_MAX + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(ev_record_add_detail(&r, "big", big, &err), LISEC_ETOOBIG);
  assert_int_equal(ev_record_init(&r, "vm-li-1", 0, 1, "activation", &err), LISEC_EINVAL);
  assert_int_equal(ev_record_init(&r, "vm-li-1", 1, 1, "reboot", &err), LISEC_EINVAL);
  assert_int_equal(ev_record_init(&r, "vm/../x", 1, 1, "error", &err), LISEC_EINVAL);
}

static void test_signature(void **state) {
  (void)state;
  lisec_err err = {0};
  for (int ed = 0; ed < 2; ed++) {
    EVP_PKEY *k = key(ed), *other = key(ed);
    char *text = signed_event(k, "vm-li-1", 3);
    ev_signed s;
    assert_int_equal(ev_parse_bytes(text, strlen(text), LIM.max_event, &s, &err), 0);
    assert_string_equal(s.text, text); /* the signed text is canonical already */
    assert_int_equal(ev_verify(&s, k, &err), 0);
    assert_int_equal(ev_verify(&s, other, &err), LISEC_EDENIED);
    assert_non_null(strstr(err.msg, "TR103308-4.1"));
    assert_null(strstr(err.msg, "vm-li-1")); /* the sender learns no VM name */
    ev_signed_clear(&s);
    /* a changed field: the canonical bytes are rebuilt, the signature fails */
    char *p = strstr(text, "\"seq\":3");
    assert_non_null(p);
    p[6] = '4';
    assert_int_equal(ev_parse_bytes(text, strlen(text), LIM.max_event, &s, &err), 0);
    assert_int_equal(ev_verify(&s, k, &err), LISEC_EDENIED);
    ev_signed_clear(&s);
    /* spacing in transit does not matter */
    p[6] = '3';
    char *sig_at = strstr(text, ",\"sig\":");
    size_t ev_len = (size_t)(sig_at - (text + 9));
    size_t b64_len = strlen(sig_at + 7) - 1; /* "<b64>" without the closing brace */
    char spaced[2048];
    snprintf(spaced, sizeof spaced, "{ \"sig\" : %.*s,\n \"event\" : %.*s }", (int)b64_len, sig_at + 7,
             (int)ev_len, text + 9);
    assert_int_equal(ev_parse_bytes(spaced, strlen(spaced), LIM.max_event, &s, &err), 0);
    assert_int_equal(ev_verify(&s, k, &err), 0);
    ev_signed_clear(&s);
    free(text);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
  }
}

static int parse_str(const char *s, lisec_err *err) {
  ev_signed e;
  int rc = ev_parse_bytes(s, strlen(s), LIM.max_event, &e, err);
  ev_signed_clear(&e);
  return rc;
}

static void test_parse_bad(void **state) {
  (void)state;
  lisec_err err = {0};
  const char *ev = "{\"seq\":1,\"time\":1,\"type\":\"error\",\"v\":1,\"vm\":\"vm-1\"}";
  char buf[4096];
  snprintf(buf, sizeof buf, "{\"event\":%s}", ev);
  assert_int_equal(parse_str(buf, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "not signed"));
  snprintf(buf, sizeof buf, "{\"event\":%s,\"sig\":\"\"}", ev);
  assert_int_equal(parse_str(buf, &err), LISEC_EINVAL);
  snprintf(buf, sizeof buf, "{\"event\":%s,\"sig\":\"AAAA\",\"x\":1}", ev);
  assert_int_equal(parse_str(buf, &err), LISEC_EINVAL);
  assert_int_equal(parse_str("{\"event\":{\"seq\":1,\"time\":1,\"type\":\"error\",\"v\":2,\"vm\":\"vm-1\"},\"sig\":\"AAAA\"}", &err),
                   LISEC_EINVAL);
  assert_int_equal(parse_str("{\"event\":{\"seq\":-1,\"time\":1,\"type\":\"error\",\"v\":1,\"vm\":\"vm-1\"},\"sig\":\"AAAA\"}", &err),
                   LISEC_EINVAL);
  assert_int_equal(parse_str("{\"event\":{\"seq\":1,\"time\":1,\"type\":\"error\",\"v\":1,\"vm\":\"vm-1\",\"who\":1},\"sig\":\"AAAA\"}", &err),
                   LISEC_EINVAL);
  assert_int_equal(parse_str("{\"event\":{\"details\":{\"a\":1},\"seq\":1,\"time\":1,\"type\":\"error\",\"v\":1,\"vm\":\"vm-1\"},\"sig\":\"AAAA\"}", &err),
                   LISEC_EINVAL);
  assert_int_equal(parse_str("[1]", &err), LISEC_EINVAL);
  /* oversized: fields within their bounds, the whole over max_event */
  ev_record r;
  EVP_PKEY *k = key(false);
  char *text = NULL, val[EV_DETAIL_VALUE_MAX + 1];
  memset(val, 'x', EV_DETAIL_VALUE_MAX);
  val[EV_DETAIL_VALUE_MAX] = '\0';
  assert_int_equal(ev_record_init(&r, "vm-1", 1, 1, "error", &err), 0);
  for (int i = 0; i < 4; i++) {
    char name[16];
    snprintf(name, sizeof name, "d%d", i);
    assert_int_equal(ev_record_add_detail(&r, name, val, &err), 0);
  }
  assert_int_equal(ev_sign(&r, k, &text, &err), 0);
  assert_int_equal(parse_str(text, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "max_event"));
  free(text);
  EVP_PKEY_free(k);
}

static int batch_of(EVP_PKEY *k, const uint64_t *seqs, size_t n, const char *other_vm, ev_batch *b,
                    lisec_err *err) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    char *t = signed_event(k, other_vm && i == n - 1 ? other_vm : "vm-li-1", seqs[i]);
    json_t *j = NULL;
    assert_int_equal(lisec_json_parse(t, strlen(t), &j, err), 0);
    json_array_append_new(arr, j);
    free(t);
  }
  json_t *body = json_pack("{s:o}", "events", arr);
  int rc = ev_batch_parse(body, &LIM, b, err);
  json_decref(body);
  return rc;
}

static void test_batch_and_seq(void **state) {
  (void)state;
  lisec_err err = {0};
  EVP_PKEY *k = key(false);
  ev_batch b;
  ev_seq_verdict v;
  uint64_t seqs[17];
  for (int i = 0; i < 17; i++) seqs[i] = (uint64_t)i + 1;
  assert_int_equal(batch_of(k, seqs, 17, NULL, &b, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "max_batch"));
  assert_int_equal(batch_of(k, seqs, 3, "vm-li-2", &b, &err), LISEC_EINVAL);
  assert_int_equal(batch_of(k, seqs, 0, NULL, &b, &err), LISEC_EINVAL);
  assert_int_equal(batch_of(k, seqs, 3, NULL, &b, &err), 0);
  assert_int_equal(b.n, 3);
  assert_int_equal(ev_seq_check(0, &b, &v, &err), 0);
  assert_int_equal(v.gaps, 0);
  assert_int_equal(v.last, 3);
  assert_int_equal(ev_seq_check(2, &b, &v, &err), LISEC_ECONFLICT); /* replay */
  assert_non_null(strstr(err.msg, "replayed"));
  assert_true(v.replayed); /* lisecd's 409 then carries last_seq */
  assert_int_equal(ev_seq_check(3, &b, &v, &err), LISEC_ECONFLICT);
  assert_int_equal(ev_seq_check(0, &b, &v, &err), 0);
  assert_false(v.replayed);
  ev_batch_clear(&b);
  uint64_t gap[] = {5, 6, 9};
  assert_int_equal(batch_of(k, gap, 3, NULL, &b, &err), 0);
  assert_int_equal(ev_seq_check(3, &b, &v, &err), 0);
  assert_int_equal(v.gaps, 2);
  assert_int_equal(v.expected, 4);
  assert_int_equal(v.got, 5);
  assert_int_equal(v.last, 9);
  ev_batch_clear(&b);
  uint64_t back[] = {5, 7, 6};
  assert_int_equal(batch_of(k, back, 3, NULL, &b, &err), 0);
  assert_int_equal(ev_seq_check(4, &b, &v, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "out of order"));
  assert_false(v.replayed);
  ev_batch_clear(&b);
  uint64_t dup[] = {5, 5};
  assert_int_equal(batch_of(k, dup, 2, NULL, &b, &err), 0);
  assert_int_equal(ev_seq_check(4, &b, &v, &err), LISEC_ECONFLICT);
  ev_batch_clear(&b);
  EVP_PKEY_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical),
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_batch_and_seq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
