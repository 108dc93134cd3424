/* Unit test of the observation document a caller stores in its own
 * transaction (ctl_model_observe_doc / _put / _stored, so lisecd makes one
 * durable commit per inventory report instead of two), on a real
 * controller with a temporary SQLite store: the document is byte for byte
 * the one ctl_model_observe stores itself (first and later observations),
 * none is made for a host the model does not know, a stored one is left
 * alone when the model takes the observation and deleted when it refuses
 * it, so a restart never reads back what the model refused. A report whose
 * content is the stored one's but for its time and quote is not written
 * again for [attest] grace_s (issue 15, the disk's figure), yet the model
 * sees the report's time; a changed one, or one grace_s later, is; after a
 * restart the stored one is what is compared with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "ctl/ctl.h"
#include "ctl/model.h"
#include "ctl_fixture.h"
#include "store/store.h"

#define OBS_KIND "model.observed"

static char tmpdir[64];
static lisec_ctl *ctl;
static const ctl_actor AGENT = {"host", "host", CTL_ROLE_HOST};

static void put(const char *kind, const char *json) { ctl_fixture_put(ctl, kind, json); }

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-obsdoc-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-admin.pub"))
    return -1;
  ctl_fixture_open(ctl_fixture_config(tmpdir, "li-admin.pub"), &ctl);
  put("host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  put("hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  put("vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, tmpdir);
}

/* The stored observation of host, or NULL (with *version 0) when none. */
static char *stored(const char *host, int64_t *version) {
  char *body = NULL;
  lisec_err err = {0};
  *version = 0;
  int rc = store_doc_get(ctl->store, OBS_KIND, host, &body, version, &err);
  if (rc == LISEC_ENOTFOUND) return NULL;
  if (rc) fail_msg("store_doc_get: %s", err.msg);
  return body;
}

static void test_doc_is_what_observe_stores(void **state) {
  (void)state;
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", NULL};
  /* A first observation (first_at is its own time), then a later one
   * (first_at stays the first's). */
  int64_t times[] = {1700000000, 1700000300};
  for (size_t i = 0; i < 2; i++) {
    ctl_observation o = {"hel-1", times[i], i ? "00000000000000b2" : "00000000000000b1", &d, 1};
    lisec_err err = {0};
    char *doc = NULL;
    ctl_model_obs_prep *prep = NULL;
    assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &doc, &(bool){false}, &err), 0);
    assert_non_null(prep);
    ctl_model_obs_prep_free(prep);
    assert_int_equal(ctl_model_observe(ctl, &AGENT, &o, &err), 0);
    int64_t v;
    char *body = stored("hel-1", &v);
    assert_non_null(body);
    assert_string_equal(doc, body);
    json_t *j = json_loads(body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "first_at")), times[0]);
    assert_int_equal(json_integer_value(json_object_get(j, "at")), times[i]);
    json_decref(j);
    free(doc);
    free(body);
  }
}

static void test_unknown_host_gets_no_doc(void **state) {
  (void)state;
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", NULL};
  ctl_observation o = {"nowhere-1", 1700000000, "00000000000000c1", &d, 1};
  lisec_err err = {0};
  char *doc = (char *)1;
  ctl_model_obs_prep *prep = (ctl_model_obs_prep *)1;
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &doc, &(bool){false}, &err), LISEC_ENOTFOUND);
  assert_null(doc);
  assert_null(prep);
  assert_non_null(strstr(err.msg, "nowhere-1"));
  /* Bad input is refused before anything is built. */
  ctl_observation bad = {NULL, 1700000000, "00000000000000c1", &d, 1};
  assert_int_equal(ctl_model_observe_doc(ctl, &bad, &prep, &doc, &(bool){false}, &err), LISEC_EINVAL);
  assert_null(prep);
}

static void test_stored_doc_kept_or_deleted(void **state) {
  (void)state;
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", NULL};
  ctl_observation o = {"hel-1", 1700000000, "00000000000000d1", &d, 1};
  lisec_err err = {0};
  char *doc = NULL;
  ctl_model_obs_prep *prep = NULL;
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &doc, &(bool){false}, &err), 0);
  assert_int_equal(ctl_model_observe_put(ctl, "hel-1", doc, &err), 0);
  /* Taken: the caller's document stays as it wrote it (not written again). */
  assert_int_equal(ctl_model_observe_stored(ctl, &AGENT, &o, prep, true, &err), 0);
  ctl_model_obs_prep_free(prep);
  int64_t v;
  char *body = stored("hel-1", &v);
  assert_non_null(body);
  assert_string_equal(body, doc);
  assert_int_equal(v, 1);
  free(body);
  free(doc);
  /* Refused (a domain whose VM id breaks the id rule): the document the
   * caller stored is deleted, so a restart does not read it back. */
  ctl_observed_domain bad = {"6c1c5a4e-0000-4000-8000-000000000002", "Bad Id!", NULL, "running", NULL};
  ctl_observation ob = {"hel-1", 1700000300, "00000000000000d2", &bad, 1};
  assert_int_equal(ctl_model_observe_doc(ctl, &ob, &prep, &doc, &(bool){false}, &err), 0);
  assert_int_equal(ctl_model_observe_put(ctl, "hel-1", doc, &err), 0);
  free(doc);
  assert_int_not_equal(ctl_model_observe_stored(ctl, &AGENT, &ob, prep, true, &err), 0);
  ctl_model_obs_prep_free(prep);
  assert_null(stored("hel-1", &v));
}

/* Not stored by the caller (its write failed), with the caller's parts:
 * the model stores the same document itself. */
static void test_prep_unstored_stores_doc(void **state) {
  (void)state;
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", NULL};
  ctl_observation o = {"hel-1", 1700000000, "00000000000000e1", &d, 1};
  lisec_err err = {0};
  char *doc = NULL;
  ctl_model_obs_prep *prep = NULL;
  int64_t v;
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &doc, &(bool){false}, &err), 0);
  assert_null(stored("hel-1", &v));
  assert_int_equal(ctl_model_observe_stored(ctl, &AGENT, &o, prep, false, &err), 0);
  ctl_model_obs_prep_free(prep);
  char *body = stored("hel-1", &v);
  assert_non_null(body);
  assert_string_equal(body, doc);
  free(body);
  free(doc);
}

/* The observed time of VM web as the model answers it (ctl_model_get). */
static int64_t web_observed_at(void) {
  static const ctl_actor op = {"op-1", "operator", CTL_ROLE_OPERATOR};
  json_t *out = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_model_get(ctl, &op, "vm", "web", &out, &err), 0);
  int64_t at = json_integer_value(json_object_get(json_object_get(out, "observed"), "at_unix"));
  json_decref(out);
  return at;
}

/* One report as lisecd's attestation makes it: the document built, written
 * unless unchanged, then the model told it is stored. *written says
 * whether it was written. */
static void report(const char *state, int64_t at, const char *evidence, bool *written) {
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, state, NULL};
  ctl_observation o = {"hel-1", at, evidence, &d, 1};
  lisec_err err = {0};
  char *doc = NULL;
  ctl_model_obs_prep *prep = NULL;
  bool unchanged = true;
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &doc, &unchanged, &err), 0);
  if (!unchanged) assert_int_equal(ctl_model_observe_put(ctl, "hel-1", doc, &err), 0);
  assert_int_equal(ctl_model_observe_stored(ctl, &AGENT, &o, prep, true, &err), 0);
  ctl_model_obs_prep_free(prep);
  free(doc);
  *written = !unchanged;
}

static int64_t stored_at(int64_t *version) {
  char *body = stored("hel-1", version);
  assert_non_null(body);
  json_t *j = json_loads(body, 0, NULL);
  int64_t at = json_integer_value(json_object_get(j, "at"));
  json_decref(j);
  free(body);
  return at;
}

static void test_unchanged_not_written(void **state) {
  (void)state;
  const int64_t t = 1700000000; /* [attest] grace_s: 60 (the default) */
  bool w;
  int64_t v;
  report("running", t, "00000000000000f1", &w);
  assert_true(w);
  /* The same domains 10 s later in another quote: not written, but the
   * model has the report's time. */
  report("running", t + 10, "00000000000000f2", &w);
  assert_false(w);
  assert_int_equal(stored_at(&v), t);
  assert_int_equal(v, 1);
  assert_int_equal(web_observed_at(), t + 10);
  /* A changed domain is written. */
  report("paused", t + 20, "00000000000000f3", &w);
  assert_true(w);
  assert_int_equal(stored_at(&v), t + 20);
  assert_int_equal(v, 2);
  /* Unchanged again until grace_s after the stored one, then written. */
  report("paused", t + 79, "00000000000000f4", &w);
  assert_false(w);
  report("paused", t + 80, "00000000000000f5", &w);
  assert_true(w);
  assert_int_equal(stored_at(&v), t + 80);
  assert_int_equal(v, 3);
}

/* After a restart the stored document is what a report is compared with,
 * and the model restores its (older, at most grace_s) time. */
static void test_unchanged_after_restart(void **state) {
  (void)state;
  const int64_t t = 1700000000;
  bool w;
  int64_t v;
  report("running", t, "00000000000000a1", &w);
  assert_true(w);
  report("running", t + 30, "00000000000000a2", &w);
  assert_false(w);
  ctl_close(ctl);
  ctl = NULL;
  ctl_fixture_open(ctl_fixture_config(tmpdir, "li-admin.pub"), &ctl);
  assert_int_equal(web_observed_at(), t);
  report("running", t + 40, "00000000000000a3", &w);
  assert_false(w);
  assert_int_equal(web_observed_at(), t + 40);
  /* a refused observation deletes the stored one: the next is written */
  ctl_observed_domain bad = {"6c1c5a4e-0000-4000-8000-000000000002", "Bad Id!", NULL, "running", NULL};
  ctl_observation ob = {"hel-1", t + 41, "00000000000000a4", &bad, 1};
  lisec_err err = {0};
  char *doc = NULL;
  ctl_model_obs_prep *prep = NULL;
  bool unchanged = true;
  assert_int_equal(ctl_model_observe_doc(ctl, &ob, &prep, &doc, &unchanged, &err), 0);
  assert_false(unchanged);
  assert_int_equal(ctl_model_observe_put(ctl, "hel-1", doc, &err), 0);
  free(doc);
  assert_int_not_equal(ctl_model_observe_stored(ctl, &AGENT, &ob, prep, true, &err), 0);
  ctl_model_obs_prep_free(prep);
  assert_null(stored("hel-1", &v));
  report("running", t + 42, "00000000000000a5", &w);
  assert_true(w);
  assert_int_equal(stored_at(&v), t + 42);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_doc_is_what_observe_stores, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_host_gets_no_doc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stored_doc_kept_or_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prep_unstored_stores_doc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unchanged_not_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unchanged_after_restart, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
