/* What an appraisal writes in its one commit (issue 15's figure,
 * docs/observed.md "One transaction per report"), over SQLite:
 *  - the nonce is taken without being spent (ctl_nonces_take), and spent by
 *    writing the table it returns at the version it read: a second report
 *    with the same nonce, whose write comes after, conflicts and finds the
 *    nonce spent; a refused nonce writes nothing;
 *  - the EAR and verdict split into the per-report part kept in the host's
 *    document and the lasting part (ctl/attest_result.h): put together
 *    again they are the EAR and verdict that were made, member for member;
 *    two reports that differ only in time, nonce and the quote's clock name
 *    the same lasting part (so it is not written again), a changed verdict
 *    names another, and a stored part that is not the named one is not
 *    joined;
 *  - the nonce tables kept in the controller (ctl_nonce_cache): a copy
 *    that another writer made stale never decides a refusal (the stored
 *    table does) and never spends a nonce (its write at the kept version is
 *    refused, and the stored table decides again); an issue from a stale
 *    copy lands after one refused write; a forgotten host's copy is gone;
 *  - the revoked host certificates kept in the controller
 *    (ctl_revoked_set): a revocation another writer stores is seen once the
 *    set is older than its refresh time; a revocation of this lisecd is
 *    refused from before its commit, and forgotten when the commit fails;
 *    one the store no longer holds is accepted; past its bound the store
 *    answers every lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attest/attest.h"
#include "base/base.h"
#include "ctl/attest_nonces.h"
#include "ctl/attest_result.h"
#include "ctl/attest_revoked.h"
#include "store/store.h"

#define HOST "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MAX 4

static char dir[64];
static lisec_store *s;

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/lisec-attest-commit-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  char url[128];
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", dir);
  lisec_err err = {0};
  if (store_open(url, &s, &err)) fail_msg("store_open: %s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  store_close(s);
  static const char *const files[] = {"lisec.db", "lisec.db-wal", "lisec.db-shm"};
  char path[160];
  for (size_t i = 0; i < LISEC_ARRAY_LEN(files); i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
  return 0;
}

static void test_nonce_taken_then_spent_by_its_write(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = 1700000000000;
  uint8_t n[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue(s, HOST, MAX, now, 60000, n, &err), 0);
  char *t1 = NULL, *t2 = NULL;
  int64_t v1 = 0, v2 = 0;
  /* taken twice, as two reports racing with the same nonce would */
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, n, sizeof n, now + 10, &t1, &v1, &err), 0);
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, n, sizeof n, now + 10, &t2, &v2, &err), 0);
  assert_non_null(t1);
  assert_true(v1 > 0);
  assert_int_equal(v1, v2);
  /* the first report's commit spends it; the second's conflicts */
  assert_int_equal(store_doc_put(s, CTL_NONCES_KIND, HOST, t1, v1, NULL, &err), 0);
  assert_int_equal(store_doc_put(s, CTL_NONCES_KIND, HOST, t2, v2, NULL, &err), LISEC_ECONFLICT);
  /* ... and deciding again on the stored table finds it spent */
  err = (lisec_err){0};
  assert_int_equal(ctl_nonces_consume(s, HOST, MAX, n, sizeof n, now + 20, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-5.1"));
  char *t3 = NULL;
  int64_t v3 = 0;
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, n, sizeof n, now + 20, &t3, &v3, &err), LISEC_EDENIED);
  assert_null(t3);
  free(t1);
  free(t2);
}

static void test_nonce_not_spent_until_written(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = 1700000000000;
  uint8_t n[ATTEST_NONCE_LEN], never[ATTEST_NONCE_LEN] = {1};
  assert_int_equal(ctl_nonces_issue(s, HOST, MAX, now, 60000, n, &err), 0);
  char *t = NULL;
  int64_t v = 0;
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, n, sizeof n, now, &t, &v, &err), 0);
  free(t);
  /* a report that ended before its commit left it unspent: it is spent now, once */
  assert_int_equal(ctl_nonces_consume(s, HOST, MAX, n, sizeof n, now, &err), 0);
  assert_int_equal(ctl_nonces_consume(s, HOST, MAX, n, sizeof n, now, &err), LISEC_EDENIED);
  /* a nonce never issued, or expired, is refused and nothing is written */
  char *before = NULL, *after = NULL;
  int64_t vb = 0, va = 0;
  uint8_t m[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue(s, HOST, MAX, now, 1000, m, &err), 0);
  assert_int_equal(store_doc_get(s, CTL_NONCES_KIND, HOST, &before, &vb, &err), 0);
  t = NULL;
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, never, sizeof never, now, &t, &v, &err), LISEC_EDENIED);
  assert_null(t);
  assert_int_equal(ctl_nonces_take(s, HOST, MAX, m, sizeof m, now + 5000, &t, &v, &err), LISEC_EDENIED);
  assert_null(t);
  assert_int_equal(store_doc_get(s, CTL_NONCES_KIND, HOST, &after, &va, &err), 0);
  assert_int_equal(va, vb);
  assert_string_equal(after, before);
  free(before);
  free(after);
}

/* A passed appraisal's verdict as verify.c fills it (clock and nonce vary). */
static void verdict(attest_verdict *v, uint64_t clock, bool warn) {
  memset(v, 0, sizeof *v);
  v->ok = true;
  v->quote_parsed = v->signature_ok = v->nonce_ok = v->pcr_digest_ok = true;
  v->quote.clock = clock;
  v->quote.reset_count = 3;
  v->quote.restart_count = 7;
  v->quote.safe = true;
  v->pcrs.mask = 0x81;
  memset(v->pcrs.value[0], 0x11, ATTEST_DIGEST_LEN);
  memset(v->pcrs.value[7], 0x77, ATTEST_DIGEST_LEN);
  v->replay_ran = v->replay_ok = v->reference_ok = true;
  v->nevents = 40;
  snprintf(v->policy_id, sizeof v->policy_id, "platform-2026");
  v->tv.instance_identity = 2;
  v->tv.executables = 2;
  v->tv.hardware = 2;
  if (warn) snprintf(v->warnings[v->nwarnings++], ATTEST_REASON_LEN, "no asset-management CA");
}

/* The stored form of one report: the lasting part's text, and the host
 * document's "last" read back from its canonical text as the store gives it. */
static char *report(const attest_verdict *v, const uint8_t *nonce, int64_t at, json_t **last_out,
                    json_t **ear_out, json_t **vj_out, char ref[CTL_ATTEST_RESULT_REF_LEN + 1]) {
  json_t *ear = attest_ear(v, HOST, nonce, 16, at), *vj = attest_verdict_json(v);
  assert_non_null(ear);
  assert_non_null(vj);
  *ear_out = json_deep_copy(ear);
  *vj_out = json_deep_copy(vj);
  json_t *last = json_pack("{s:I, s:b, s:b, s:b}", "at", (json_int_t)at, "verified", v->ok, "trusted",
                           v->ok, "location_ok", false);
  char *text = ctl_attest_result_split(last, ear, vj, ref);
  assert_non_null(text);
  assert_null(json_object_get(ear, "iat"));
  assert_null(json_object_get(ear, "eat_nonce"));
  assert_null(json_object_get(json_object_get(vj, "quote"), "clock"));
  char *lt = lisec_json_dump_canonical(last);
  assert_int_equal(lisec_json_parse(lt, strlen(lt), last_out, NULL), 0);
  free(lt);
  json_decref(last);
  json_decref(ear);
  json_decref(vj);
  return text;
}

static void test_result_split_and_joined(void **state) {
  (void)state;
  lisec_err err = {0};
  attest_verdict v;
  uint8_t n1[16], n2[16];
  memset(n1, 0xa1, sizeof n1);
  memset(n2, 0xb2, sizeof n2);
  json_t *last1, *ear1, *vj1, *last2, *ear2, *vj2, *last3, *ear3, *vj3;
  char ref1[CTL_ATTEST_RESULT_REF_LEN + 1], ref2[sizeof ref1], ref3[sizeof ref1];
  verdict(&v, 1000, false);
  char *t1 = report(&v, n1, 1700000000, &last1, &ear1, &vj1, ref1);
  verdict(&v, 301000, false);
  char *t2 = report(&v, n2, 1700000300, &last2, &ear2, &vj2, ref2);
  verdict(&v, 302000, true);
  char *t3 = report(&v, n2, 1700000301, &last3, &ear3, &vj3, ref3);
  /* the next report of a steady host names the same lasting part; a warning more, another */
  assert_string_equal(t1, t2);
  assert_string_equal(ref1, ref2);
  assert_string_not_equal(ref1, ref3);
  assert_true(strlen(ref1) == CTL_ATTEST_RESULT_REF_LEN);

  /* stored once, joined with each report's own part: the EAR and verdict made */
  assert_int_equal(store_doc_put(s, CTL_ATTEST_RESULT_KIND, HOST, t1, -1, NULL, &err), 0);
  json_t *j1 = ctl_attest_result_join(s, HOST, last1, &err);
  json_t *j2 = ctl_attest_result_join(s, HOST, last2, &err);
  assert_int_equal(err.code, 0);
  assert_true(json_equal(json_object_get(j1, "ear"), ear1));
  assert_true(json_equal(json_object_get(j1, "verdict"), vj1));
  assert_true(json_equal(json_object_get(j2, "ear"), ear2));
  assert_true(json_equal(json_object_get(j2, "verdict"), vj2));
  assert_false(json_equal(json_object_get(j1, "ear"), json_object_get(j2, "ear")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j2, "ear"), "iat")), 1700000300);
  assert_int_equal(json_integer_value(json_object_get(j2, "at")), 1700000300);
  /* members in sorted order, as a document read from the store */
  char *c = lisec_json_dump_canonical(j2), *d = json_dumps(j2, JSON_COMPACT);
  assert_string_equal(c, d);
  free(c);
  free(d);

  /* a stored part that is not the named one is not joined, and says so */
  err = (lisec_err){0};
  json_t *j3 = ctl_attest_result_join(s, HOST, last3, &err);
  assert_non_null(j3);
  assert_null(json_object_get(j3, "ear"));
  assert_null(json_object_get(j3, "verdict"));
  assert_int_equal(err.code, LISEC_ESTORE);
  assert_non_null(strstr(err.msg, "not the one its document names"));
  /* written with its host document, it is */
  assert_int_equal(store_doc_put(s, CTL_ATTEST_RESULT_KIND, HOST, t3, -1, NULL, &err), 0);
  err = (lisec_err){0};
  json_decref(j3);
  j3 = ctl_attest_result_join(s, HOST, last3, &err);
  assert_true(json_equal(json_object_get(j3, "ear"), ear3));
  assert_true(json_equal(json_object_get(j3, "verdict"), vj3));

  /* a document stored before the split (the whole EAR in "last") reads as it is */
  json_t *old = json_pack("{s:I, s:O, s:O}", "at", (json_int_t)1700000000, "ear", ear1, "verdict", vj1);
  json_t *jo = ctl_attest_result_join(s, HOST, old, &err);
  assert_true(json_equal(jo, old));

  json_t *all[] = {last1, ear1, vj1, last2, ear2, vj2, last3, ear3, vj3, j1, j2, j3, old, jo};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(all); i++) json_decref(all[i]);
  free(t1);
  free(t2);
  free(t3);
}

/* The stored version of the host's nonce table (0: none). */
static int64_t nonce_ver(void) {
  char *body = NULL;
  int64_t v = 0;
  lisec_err err = {0};
  if (store_doc_get(s, CTL_NONCES_KIND, HOST, &body, &v, &err) == LISEC_ENOTFOUND) return 0;
  free(body);
  return v;
}

static void test_nonce_kept_copy(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = 1700000000000;
  ctl_nonce_cache *c = ctl_nonce_cache_new(8);
  assert_non_null(c);
  uint8_t n1[ATTEST_NONCE_LEN], n2[ATTEST_NONCE_LEN], n3[ATTEST_NONCE_LEN], n4[ATTEST_NONCE_LEN];
  ctl_nonces_taken tk;
  /* kept at the version written: taken from the copy at that version */
  assert_int_equal(ctl_nonces_issue_kept(s, c, HOST, MAX, now, 60000, n1, &err), 0);
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n1, sizeof n1, now, &tk, &err), 0);
  assert_int_equal(tk.ver, nonce_ver());
  assert_int_equal(store_doc_put(s, CTL_NONCES_KIND, HOST, tk.text, tk.ver, NULL, &err), 0);
  ctl_nonces_taken_done(c, HOST, &tk, true);
  assert_null(tk.text);
  /* spent: the copy kept at the new version refuses it, and so does the store */
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n1, sizeof n1, now, &tk, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-5.1"));
  /* another writer (another lisecd) issues n2: the copy does not know it,
   * the stored table decides and accepts it, at the stored version */
  assert_int_equal(ctl_nonces_issue(s, HOST, MAX, now, 60000, n2, &err), 0);
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n2, sizeof n2, now, &tk, &err), 0);
  assert_int_equal(tk.ver, nonce_ver());
  ctl_nonces_taken_done(c, HOST, &tk, false); /* its report never committed */
  /* an issue from a stale copy: refused once, then made on the stored table */
  assert_int_equal(ctl_nonces_issue_kept(s, c, HOST, MAX, now, 60000, n3, &err), 0);
  assert_int_equal(ctl_nonces_issue(s, HOST, MAX, now, 60000, n4, &err), 0); /* stale again */
  /* n3 spent by the other writer: the stale copy accepts, its write at the
   * kept version is refused, and the stored table then refuses it */
  assert_int_equal(ctl_nonces_consume(s, HOST, MAX, n3, sizeof n3, now, &err), 0);
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n3, sizeof n3, now, &tk, &err), 0);
  assert_int_equal(store_doc_put(s, CTL_NONCES_KIND, HOST, tk.text, tk.ver, NULL, &err), LISEC_ECONFLICT);
  ctl_nonces_taken_done(c, HOST, &tk, false);
  err = (lisec_err){0};
  assert_int_equal(ctl_nonces_consume_kept(s, c, HOST, MAX, n3, sizeof n3, now, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "already used"));
  /* n2 and n4 are still outstanding, once each */
  assert_int_equal(ctl_nonces_consume_kept(s, c, HOST, MAX, n2, sizeof n2, now, &err), 0);
  assert_int_equal(ctl_nonces_consume_kept(s, c, HOST, MAX, n2, sizeof n2, now, &err), LISEC_EDENIED);
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n4, sizeof n4, now, &tk, &err), 0);
  assert_int_equal(store_doc_put(s, CTL_NONCES_KIND, HOST, tk.text, tk.ver, NULL, &err), 0);
  ctl_nonces_taken_done(c, HOST, &tk, true);
  /* de-enrolment: the host's copy goes with its stored table */
  uint8_t n5[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue_kept(s, c, HOST, MAX, now, 60000, n5, &err), 0);
  assert_int_equal(ctl_nonces_forget_kept(s, c, HOST, &err), 0);
  assert_int_equal(ctl_nonces_take_kept(s, c, HOST, MAX, n5, sizeof n5, now, &tk, &err), LISEC_EDENIED);
  /* a table made again from nothing is version 1, whatever was kept */
  assert_int_equal(ctl_nonces_issue_kept(s, c, HOST, MAX, now, 60000, n5, &err), 0);
  assert_int_equal(nonce_ver(), 1);
  ctl_nonce_cache_free(c);
}

#define CERT_A "a000000000000000000000000000000000000000000000000000000000000000"
#define CERT_B "b000000000000000000000000000000000000000000000000000000000000000"
#define CERT_C "c000000000000000000000000000000000000000000000000000000000000000"

static int revoked(ctl_revoked_set *r, const char *sha) {
  char *body = NULL;
  lisec_err err = {0};
  int rc = ctl_revoked_lookup(r, s, sha, &body, &err);
  if (rc == 1 && body) assert_non_null(strstr(body, "\"host\""));
  free(body);
  return rc;
}

static void revoke_stored(const char *sha) {
  lisec_err err = {0};
  assert_int_equal(store_doc_put(s, CTL_REVOKED_KIND, sha, "{\"host\":\"h\",\"revoked_at\":1}", -1, NULL, &err), 0);
}

static void test_revoked_set(void **state) {
  (void)state;
  lisec_err err = {0};
  ctl_revoked_set *r = ctl_revoked_new(16, 20);
  assert_non_null(r);
  assert_int_equal(revoked(r, CERT_A), 0);
  /* stored by another writer: seen once the set is older than 20 ms */
  revoke_stored(CERT_A);
  int rc = 0;
  uint64_t t0 = lisec_time_mono_ns();
  while ((rc = revoked(r, CERT_A)) == 0 && lisec_time_mono_ns() - t0 < 30000000000ull) usleep(1000);
  assert_int_equal(rc, 1);
  /* this lisecd's revocation: refused from before its commit */
  ctl_revoked_note(r, CERT_B);
  assert_int_equal(revoked(r, CERT_B), 1);
  ctl_revoked_settle(r, CERT_B, false); /* the commit failed: nothing stored */
  assert_int_equal(revoked(r, CERT_B), 0);
  ctl_revoked_note(r, CERT_C);
  revoke_stored(CERT_C);
  ctl_revoked_settle(r, CERT_C, true);
  assert_int_equal(revoked(r, CERT_C), 1);
  /* a revocation the store no longer holds is not refused */
  assert_int_equal(store_doc_delete(s, CTL_REVOKED_KIND, CERT_C, &err), 0);
  assert_int_equal(revoked(r, CERT_C), 0);
  ctl_revoked_free(r);
  /* more revocations than the set may keep: the store answers each lookup */
  revoke_stored(CERT_C);
  r = ctl_revoked_new(1, 60000);
  assert_int_equal(revoked(r, CERT_A), 1);
  assert_int_equal(revoked(r, CERT_C), 1);
  assert_int_equal(revoked(r, CERT_B), 0);
  ctl_revoked_free(r);
  /* no set: the store answers */
  assert_int_equal(revoked(NULL, CERT_A), 1);
  assert_int_equal(revoked(NULL, CERT_B), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nonce_taken_then_spent_by_its_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nonce_not_spent_until_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_result_split_and_joined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nonce_kept_copy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_revoked_set, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
