/* The sealed finding a host that loses its trust or is de-enrolled gets
 * (ctl_attest_li_finding, TR 103 308 §4.1): every reader of the log sees
 * a sealed entry's length, so the finding of a host running VMs that no LI
 * names, one LI, two, more LIs than its words can list, and one whose LIs
 * the model could not say, and one of the longest host id and actor, are
 * all as long (one bucket of the seal's padding); the LI administration still
 * reads which LIs each names. A real controller on a temporary store
 * (ctl_fixture.h), its records read back as any role reads them
 * (ctl_audit_entries) and opened with the LI administration's secret key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "ctl/attest.h"
#include "ctl/audit.h"
#include "ctl_fixture.h"

static char dir[64];
static lisec_ctl *ctl;
static uint8_t li_sk[crypto_box_SECRETKEYBYTES];

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(dir, "/tmp/lisec-li-finding-XXXXXX")) return -1;
  uint8_t pk[crypto_box_PUBLICKEYBYTES];
  crypto_box_keypair(pk, li_sk);
  char *b64 = NULL, path[128];
  if (crypto_base64_encode(pk, sizeof pk, &b64)) return -1;
  snprintf(path, sizeof path, "%s/li.pub", dir);
  FILE *f = fopen(path, "w");
  if (!f) return free(b64), -1;
  fprintf(f, "%s\n", b64);
  fclose(f);
  free(b64);
  ctl_fixture_open(ctl_fixture_config(dir, "li.pub"), &ctl);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sodium_memzero(li_sk, sizeof li_sk);
  return ctl_fixture_close(&ctl, dir);
}

/* The sealed entries from index from on: their lengths into len and their
 * reasons, opened, into reason (malloc'd); how many. */
static size_t sealed_from(uint64_t from, size_t len[], char *reason[], size_t max) {
  json_t *page = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_audit_entries(ctl, from, 100, &page, &err), 0);
  size_t n = 0, i;
  json_t *e;
  json_array_foreach(json_object_get(page, "entries"), i, e) {
    if (!json_is_true(json_object_get(e, "sealed"))) continue;
    assert_true(n < max);
    uint8_t *data = NULL, *plain = NULL;
    size_t dlen = 0, plen = 0;
    assert_int_equal(
        crypto_base64_decode(json_string_value(json_object_get(e, "data")), 1 << 17, &data, &dlen, &err), 0);
    len[n] = dlen;
    assert_int_equal(audit_entry_open(data, dlen, li_sk, &plain, &plen, &err), 0);
    audit_record r = {0};
    assert_int_equal(audit_entry_decode(plain, plen, &r, &err), 0);
    assert_string_equal(r.action, "attest.finding");
    assert_int_equal(r.n_reasons, 1);
    reason[n++] = strdup(r.reasons[0]);
    audit_record_clear(&r);
    free(data), free(plain);
  }
  json_decref(page);
  return n;
}

static json_t *ids(size_t n, size_t width) {
  json_t *a = json_array();
  char id[MODEL_ID_MAX + 1];
  for (size_t i = 0; i < n; i++) {
    snprintf(id, sizeof id, "li-%0*zu", (int)(width - 3), i);
    json_array_append_new(a, json_string(id));
  }
  return a;
}

static void test_every_finding_is_as_long(void **state) {
  (void)state;
  static const ctl_actor timer = {"lisecd:attest", "lisecd", CTL_ROLE_OPERATOR};
  static const char *what = "TR103308-6.2-R8: finding: host 0123456789abcdef.. "
                            "lost its trust (overdue)";
  json_t *none = json_array(), *one = json_pack("[s]", "li-fi-1"),
         *two = json_pack("[s, s]", "li-fi-1", "li-fi-2"), *many = ids(40, MODEL_ID_MAX);
  const json_t *cases[] = {none, one, two, many, NULL};
  char host[8];
  for (size_t i = 0; i < 5; i++) {
    snprintf(host, sizeof host, "host-%zu", i); /* as long as each other */
    ctl_attest_li_finding(ctl, &timer, host, what, cases[i]);
  }
  /* a longer what than the finding keeps, cut inside a two-byte character */
  char long_what[400];
  memset(long_what, 'x', sizeof long_what);
  memcpy(long_what + 359, "\xc3\xa9", 2);
  long_what[sizeof long_what - 1] = '\0';
  ctl_attest_li_finding(ctl, &timer, "host-5", long_what, one);
  /* the longest host id, by an API client of the longest subject and role:
   * the same bucket (audit/seal.c pads every sealed entry to one) */
  char long_host[MODEL_ID_MAX + 1], subject[256], role[80];
  memset(long_host, 'h', MODEL_ID_MAX), long_host[MODEL_ID_MAX] = '\0';
  memset(subject, 's', 255), subject[255] = '\0';
  memset(role, 'r', 79), role[79] = '\0';
  const ctl_actor client = {subject, role, CTL_ROLE_OPERATOR};
  ctl_attest_li_finding(ctl, &client, long_host, what, many);

  size_t len[8];
  char *reason[8];
  size_t n = sealed_from(0, len, reason, 8);
  assert_int_equal(n, 7);
  for (size_t i = 0; i < n; i++) {
    if (len[i] != len[0]) fail_msg("sealed finding %zu is %zu bytes, finding 0 %zu", i, len[i], len[0]);
    assert_int_equal(strlen(reason[i]), AUDIT_STR_MAX);
  }
  assert_int_equal(len[0], 1 + crypto_box_SEALBYTES + 2 * AUDIT_SEAL_BUCKET);
  /* what li-admin reads: the words, then only the padding */
  assert_non_null(strstr(reason[0], "lost its trust (overdue); it touches no LI authorisation  "));
  assert_non_null(strstr(reason[1], "; it touches the LI authorisations li-fi-1, evaluated again  "));
  assert_non_null(strstr(reason[2], "li-fi-1, li-fi-2, evaluated again  "));
  assert_non_null(strstr(reason[3], "; it touches the LI authorisations li-0"));
  assert_non_null(strstr(reason[3], " more, evaluated again  "));
  assert_null(strstr(reason[3], "\xe2\x80\xa6")); /* nothing cut by the recorder */
  assert_non_null(strstr(reason[4], "; which LI authorisations it touches is unknown  "));
  /* the long what is kept to 359 bytes, its character whole */
  assert_int_equal(strspn(reason[5], "x"), 359);
  assert_int_equal(strncmp(reason[5] + 359, "; it touches the LI authorisations li-fi-1", 42), 0);
  for (size_t i = 0; i < n; i++) {
    size_t end = strlen(reason[i]);
    while (end > 0 && reason[i][end - 1] == ' ') end--;
    assert_true(end < AUDIT_STR_MAX); /* words, then padding */
    free(reason[i]);
  }
  json_decref(none), json_decref(one), json_decref(two), json_decref(many);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_finding_is_as_long, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
