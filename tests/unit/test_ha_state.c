/* State that must survive a failover lives in the store (issue 17 item 2,
 * docs/ha.md "State in the store"). Two store handles on one database play
 * two lisecd, one leading after the other: a nonce issued through one is
 * accepted through the other, once; a nonce spent on either is refused on
 * the other, as is an expired one and one never issued; de-enrolment drops
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "ctl/attest_nonces.h"
#include "store/store.h"

#define HOST "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OTHER "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define MAX 4

static char dir[64], url[128];
static lisec_store *a, *b; /* the old leader's handle, the new leader's */

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/lisec-ha-state-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", dir);
  lisec_err err = {0};
  if (store_open(url, &a, &err) || store_open(url, &b, &err)) fail_msg("store_open: %s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  store_close(a);
  store_close(b);
  char path[160];
  snprintf(path, sizeof path, "%s/lisec.db", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/lisec.db-wal", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/lisec.db-shm", dir);
  unlink(path);
  rmdir(dir);
  return 0;
}

static void test_nonce_of_the_old_leader_accepted_once_by_the_new(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = lisec_time_now_ms();
  uint8_t n1[ATTEST_NONCE_LEN], n2[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue(a, HOST, MAX, now, 60000, n1, &err), 0);
  assert_int_equal(ctl_nonces_issue(a, HOST, MAX, now, 60000, n2, &err), 0);
  /* the new leader accepts what the old one issued */
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n1, sizeof n1, now + 1000, &err), 0);
  /* spent on b: refused on b and on a */
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n1, sizeof n1, now + 1000, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-5.1"));
  assert_int_equal(ctl_nonces_consume(a, HOST, MAX, n1, sizeof n1, now + 1000, &err), LISEC_EDENIED);
  /* spent on a first: refused on b */
  assert_int_equal(ctl_nonces_consume(a, HOST, MAX, n2, sizeof n2, now + 1000, &err), 0);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n2, sizeof n2, now + 1000, &err), LISEC_EDENIED);
}

static void test_expired_unknown_and_forgotten_nonces_refused(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = lisec_time_now_ms();
  uint8_t n[ATTEST_NONCE_LEN], never[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue(a, HOST, MAX, now, 1000, n, &err), 0);
  memset(&err, 0, sizeof err);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n, sizeof n, now + 2000, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-5.1"));
  memset(never, 0x5a, sizeof never);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, never, sizeof never, now, &err), LISEC_EDENIED);
  /* a nonce of one host is not another's */
  assert_int_equal(ctl_nonces_issue(a, HOST, MAX, now, 60000, n, &err), 0);
  assert_int_equal(ctl_nonces_consume(b, OTHER, MAX, n, sizeof n, now, &err), LISEC_EDENIED);
  /* de-enrolment on one drops them for all */
  assert_int_equal(ctl_nonces_forget(a, HOST, &err), 0);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n, sizeof n, now, &err), LISEC_EDENIED);
  assert_int_equal(ctl_nonces_forget(b, HOST, &err), 0); /* none left: still fine */
}

static void test_outstanding_nonces_bounded_in_the_store(void **state) {
  (void)state;
  lisec_err err = {0};
  int64_t now = lisec_time_now_ms();
  uint8_t first[ATTEST_NONCE_LEN], n[ATTEST_NONCE_LEN];
  assert_int_equal(ctl_nonces_issue(a, HOST, MAX, now, 60000, first, &err), 0);
  for (int i = 0; i < MAX; i++)
    assert_int_equal(ctl_nonces_issue(i % 2 ? a : b, HOST, MAX, now + 1 + i, 60000, n, &err), 0);
  /* the oldest made room; the newest is good */
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, first, sizeof first, now + 10, &err), LISEC_EDENIED);
  assert_int_equal(ctl_nonces_consume(a, HOST, MAX, n, sizeof n, now + 10, &err), 0);
  char *body = NULL;
  assert_int_equal(store_doc_get(a, CTL_NONCES_KIND, HOST, &body, NULL, &err), 0);
  json_t *doc = NULL;
  assert_int_equal(lisec_json_parse(body, strlen(body), &doc, &err), 0);
  assert_int_equal(json_array_size(json_object_get(doc, "nonces")), MAX);
  json_decref(doc);
  free(body);
  /* an unreadable stored table holds no usable nonce and is replaced */
  assert_int_equal(store_doc_put(a, CTL_NONCES_KIND, HOST, "{\"nonces\":7}", -1, NULL, &err), 0);
  assert_int_equal(ctl_nonces_consume(b, HOST, MAX, n, sizeof n, now + 10, &err), LISEC_EDENIED);
  assert_int_equal(ctl_nonces_issue(b, HOST, MAX, now, 60000, n, &err), 0);
  assert_int_equal(ctl_nonces_consume(a, HOST, MAX, n, sizeof n, now + 10, &err), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nonce_of_the_old_leader_accepted_once_by_the_new, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_unknown_and_forgotten_nonces_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outstanding_nonces_bounded_in_the_store, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
