/* A restart keeps what hosts proved (issue 25 items 1 and 3), on a real
 * controller over SQLite: appraisals stored before the controller opens
 * (as a previous lisecd left them) come back into the model at open, before
 * any background work starts; the overdue countdown goes on from the stored
 * time (a host whose last good appraisal is older than interval_s +
 * grace_s is untrusted, one within it trusted with its attested location);
 * a host that never completed an appraisal stays unknown; a host that
 * attested before it was added is trusted as soon as it is added; every
 * enrolled host is asked to attest again at its next challenge; the ADMF
 * loop's gate (ctl_attest_reloaded) is open once the controller is; a
 * de-enrolled host leaves the host gauges of /metrics, and what it proved
 * about its VMs does not come back at a start after a stop in the middle
 * of its de-enrolment; a VM on a de-enrolled host terminates at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "ctl/attest.h"
#include "ctl/hosts_end.h"
#include "ctl/internal.h"
#include "ctl/metrics.h"
#include "ctl/model.h"
#include "ctl_fixture.h"
#include "store/store.h"

static char dir[64];
static lisec_ctl *ctl;
static const ctl_actor operator_ = {"op-1", "operator", CTL_ROLE_OPERATOR};

#define H_FRESH "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H_OVERDUE "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define H_LATER "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define H_NEVER "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define H_GONE "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* The document ctl/attest.c stores after a good appraisal at `at`. */
static void put_appraisal(lisec_store *s, const char *host, const char *trust, int64_t at) {
  char body[1024];
  if (at)
    snprintf(body, sizeof body,
             "{\"ak_pub\":\"AAAA\",\"host\":\"%s\",\"last\":{\"at\":%lld,\"trusted\":true},"
             "\"last_ok_at\":%lld,\"location\":{\"country\":\"FI\",\"latitude\":60.17,"
             "\"longitude\":24.94,\"site\":\"HEL1\",\"subdivision\":\"FI-18\","
             "\"tpm_reset_count\":3},\"trust\":\"%s\"}",
             host, (long long)at, (long long)at, trust);
  else
    snprintf(body, sizeof body, "{\"ak_pub\":\"AAAA\",\"host\":\"%s\",\"trust\":\"%s\"}", host,
             trust);
  lisec_err err = {0};
  if (store_doc_put(s, "attest.host", host, body, -1, NULL, &err)) fail_msg("put: %s", err.msg);
}

static void put_model_host(lisec_store *s, const char *host) {
  char body[256];
  snprintf(body, sizeof body, "{\"id\":\"%s\",\"protection\":\"li\"}", host);
  lisec_err err = {0};
  if (store_doc_put(s, "model.host", host, body, -1, NULL, &err)) fail_msg("put: %s", err.msg);
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(ctl_fixture_mkdir(dir, "/tmp/lisec-attest-reload-XXXXXX"), 0);
  assert_int_equal(ctl_fixture_write_li_key(dir, "li.pub"), 0);
  /* what a previous lisecd left in the store */
  char url[128];
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", dir);
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) fail_msg("store_open: %s", err.msg);
  int64_t now = lisec_time_now();
  put_model_host(s, H_FRESH);
  put_model_host(s, H_OVERDUE);
  put_model_host(s, H_NEVER);
  put_appraisal(s, H_FRESH, "trusted", now - 100);
  put_appraisal(s, H_OVERDUE, "trusted", now - 400); /* > 300 + 60 */
  put_appraisal(s, H_LATER, "trusted", now - 50);
  put_appraisal(s, H_NEVER, "untrusted:never-attested", 0);
  store_close(s);
  lisec_config *cfg = ctl_fixture_config(dir, "li.pub");
  lisec_config_set(cfg, "attest", "interval_s", "300");
  lisec_config_set(cfg, "attest", "grace_s", "60");
  ctl_fixture_open(cfg, &ctl);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, dir);
}

/* The model's view of a host: state.trust, state.attestation, the
 * attested location's country ("" when none). */
static void model_host(const char *host, char *trust, char *why, char *country) {
  json_t *out = NULL;
  lisec_err err = {0};
  if (ctl_model_get(ctl, &operator_, "host", host, &out, &err)) fail_msg("get: %s", err.msg);
  json_t *st = json_object_get(out, "state");
  snprintf(trust, 32, "%s", json_string_value(json_object_get(st, "trust")));
  const char *a = json_string_value(json_object_get(st, "attestation"));
  snprintf(why, 32, "%s", a ? a : "");
  const char *c = json_string_value(json_object_get(json_object_get(st, "location"), "country"));
  snprintf(country, 8, "%s", c ? c : "");
  json_decref(out);
}

static void test_stored_appraisals_reach_the_model_at_open(void **state) {
  (void)state;
  char trust[32], why[32], country[8];
  /* the controller is open, not started: no timer has run */
  assert_true(ctl_attest_reloaded(ctl->shared));
  model_host(H_FRESH, trust, why, country);
  assert_string_equal(trust, "trusted");
  assert_string_equal(country, "FI");
  model_host(H_OVERDUE, trust, why, country);
  assert_string_equal(trust, "untrusted");
  assert_string_equal(why, "untrusted:overdue");
  assert_string_equal(country, "");
  model_host(H_NEVER, trust, why, country);
  assert_string_equal(trust, "unknown");
}

static void test_a_host_added_after_it_attested_is_trusted_at_once(void **state) {
  (void)state;
  char trust[32], why[32], country[8];
  ctl_fixture_put(ctl, "host", "{\"id\":\"" H_LATER "\",\"protection\":\"li\"}");
  model_host(H_LATER, trust, why, country);
  assert_string_equal(trust, "trusted");
  assert_string_equal(country, "FI");
  /* deleted and added again: the host's appraisal is still its own */
  lisec_err err = {0};
  assert_int_equal(ctl_model_delete(ctl, &operator_, "host", H_LATER, &err), 0);
  ctl_fixture_put(ctl, "host", "{\"id\":\"" H_LATER "\",\"protection\":\"li\"}");
  model_host(H_LATER, trust, why, country);
  assert_string_equal(trust, "trusted");
}

static void test_every_enrolled_host_is_asked_to_attest_again(void **state) {
  (void)state;
  const char *hosts[] = {H_FRESH, H_OVERDUE, H_LATER, H_NEVER};
  for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
    json_t *body = json_pack("{s:s}", "host", hosts[i]), *out = NULL;
    lisec_err err = {0};
    if (ctl_attest_challenge(ctl, &operator_, body, &out, &err)) fail_msg("challenge: %s", err.msg);
    assert_true(json_is_true(json_object_get(out, "attest_now")));
    /* the fresh one is asked only because lisecd restarted */
    if (i == 0) assert_non_null(strstr(json_string_value(json_object_get(out, "why")), "restarted"));
    json_decref(body);
    json_decref(out);
  }
}

/* The value of the series `name` (with its labels) in /metrics' text, or
 * -1 when it is not there. */
static long long series(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtoll(p + n + 1, NULL, 10);
  return -1;
}

/* A de-enrolled host is gone from the host gauges ("enrolled hosts by
 * trust state"), so lisec_hosts{trust="untrusted"} and its alert
 * (examples/prometheus) do not count a host that was taken away, for good. */
static void test_a_deenrolled_host_leaves_the_host_gauges(void **state) {
  (void)state;
  char *m = ctl_metrics_render(ctl, false);
  assert_non_null(m);
  assert_int_equal(series(m, "lisec_hosts{trust=\"trusted\"}"), 2);   /* fresh, later */
  assert_int_equal(series(m, "lisec_hosts{trust=\"untrusted\"}"), 2); /* overdue, never */
  assert_int_equal(series(m, "lisec_hosts_never_attested"), 1);
  free(m);
  const char *gone[] = {H_FRESH, H_NEVER};
  for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
    json_t *out = NULL;
    lisec_err err = {0};
    if (ctl_host_deenrol(ctl, &operator_, gone[i], &out, &err)) fail_msg("de-enrol: %s", err.msg);
    assert_string_equal(json_string_value(json_object_get(out, "trust")), "untrusted:deenrolled");
    json_decref(out);
  }
  m = ctl_metrics_render(ctl, false);
  assert_non_null(m);
  assert_int_equal(series(m, "lisec_hosts{trust=\"trusted\"}"), 1);
  if (series(m, "lisec_hosts{trust=\"untrusted\"}") != 1)
    fail_msg("the de-enrolled hosts are still counted as enrolled untrusted hosts:\n%s", m);
  assert_int_equal(series(m, "lisec_hosts_never_attested"), 0);
  free(m);
  /* lisec host list still shows them, not enrolled, with why */
  json_t *list = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_attest_host_list(ctl, &operator_, &list, &err), 0);
  size_t i, deenrolled = 0;
  json_t *h;
  json_array_foreach(json_object_get(list, "hosts"), i, h)
    if (strcmp(json_string_value(json_object_get(h, "trust")), "untrusted:deenrolled") == 0 &&
        json_is_false(json_object_get(h, "enrolled")))
      deenrolled++;
  assert_int_equal(deenrolled, 2);
  json_decref(list);
}

/* De-enrolment commits the host's document, then drops what the host
 * proved about its VMs (its stored observation). A lisecd that stops
 * between the two leaves that observation stored: the next start must not
 * take it back, or the removed host would go on proving where the VM runs
 * (placement "observed") and a VM it lists could never finish terminating,
 * the host never reporting again. */
static void test_a_deenrolled_hosts_observation_does_not_come_back(void **state) {
  (void)state;
  static const ctl_actor agent = {H_GONE, "host", CTL_ROLE_HOST};
  ctl_fixture_put(ctl, "host", "{\"id\":\"" H_GONE "\",\"protection\":\"sensitive\"}");
  ctl_fixture_put(ctl, "hypervisor", "{\"id\":\"hv-gone\",\"host\":\"" H_GONE "\"}");
  ctl_fixture_put(ctl, "vm", "{\"id\":\"vm-gone\",\"hypervisor\":\"hv-gone\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\"}");
  put_appraisal(ctl->store, H_GONE, "trusted", lisec_time_now());
  lisec_err err = {0};
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-0000000000e1", "vm-gone", NULL, "running", NULL};
  ctl_observation o = {H_GONE, lisec_time_now(), "00000000000000e1", &d, 1};
  if (ctl_model_observe(ctl, &agent, &o, &err)) fail_msg("observe: %s", err.msg);
  char *obs = NULL;
  if (store_doc_get(ctl->store, CTL_MODEL_OBS_KIND, H_GONE, &obs, NULL, &err)) fail_msg("obs: %s", err.msg);
  json_t *out = NULL;
  assert_int_equal(ctl_model_get(ctl, &operator_, "vm", "vm-gone", &out, &err), 0);
  assert_non_null(json_object_get(out, "observed"));
  json_decref(out);
  if (ctl_host_deenrol(ctl, &operator_, H_GONE, &out, &err)) fail_msg("de-enrol: %s", err.msg);
  json_decref(out);
  /* the stop between the two steps: the observation as it was stored */
  if (store_doc_put(ctl->store, CTL_MODEL_OBS_KIND, H_GONE, obs, -1, NULL, &err)) fail_msg("put: %s", err.msg);
  free(obs);
  ctl_close(ctl);
  ctl = NULL;
  lisec_config *cfg = ctl_fixture_config(dir, "li.pub");
  lisec_config_set(cfg, "attest", "interval_s", "300");
  lisec_config_set(cfg, "attest", "grace_s", "60");
  ctl_fixture_open(cfg, &ctl);
  assert_int_equal(ctl_model_get(ctl, &operator_, "vm", "vm-gone", &out, &err), 0);
  if (json_object_get(out, "observed"))
    fail_msg("the de-enrolled host's observation came back at the start: %s",
             json_dumps(json_object_get(out, "observed"), JSON_COMPACT));
  json_decref(out);
  char *left = NULL;
  assert_int_equal(store_doc_get(ctl->store, CTL_MODEL_OBS_KIND, H_GONE, &left, NULL, &err), LISEC_ENOTFOUND);
}

/* A VM on a host that was de-enrolled is terminated on intent: that host
 * will never send an inventory again (its AK is revoked), so waiting for
 * one would keep the VM terminating for good. Before the host was removed
 * the same request waits for the host's next inventory. */
static void test_a_vm_on_a_deenrolled_host_terminates(void **state) {
  (void)state;
  static const ctl_actor agent = {H_GONE, "host", CTL_ROLE_HOST};
  ctl_fixture_put(ctl, "host", "{\"id\":\"" H_GONE "\",\"protection\":\"sensitive\"}");
  ctl_fixture_put(ctl, "hypervisor", "{\"id\":\"hv-gone\",\"host\":\"" H_GONE "\"}");
  static const char *const vms[] = {"vm-before", "vm-after"};
  for (size_t i = 0; i < 2; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"hypervisor\":\"hv-gone\",\"sensitivity\":\"general\","
             "\"domain\":\"core\"}", vms[i]);
    ctl_fixture_put(ctl, "vm", body);
  }
  put_appraisal(ctl->store, H_GONE, "trusted", lisec_time_now());
  lisec_err err = {0};
  /* the host reports inventories, listing neither VM */
  ctl_observation o = {H_GONE, lisec_time_now(), "00000000000000e2", NULL, 0};
  if (ctl_model_observe(ctl, &agent, &o, &err)) fail_msg("observe: %s", err.msg);
  json_t *out = NULL;
  assert_int_equal(ctl_model_vm_terminate(ctl, &operator_, "vm-before", &out, &err), 0);
  assert_string_equal(json_string_value(json_object_get(out, "state")), "terminating");
  json_decref(out);
  if (ctl_host_deenrol(ctl, &operator_, H_GONE, &out, &err)) fail_msg("de-enrol: %s", err.msg);
  json_decref(out);
  assert_int_equal(ctl_model_vm_terminate(ctl, &operator_, "vm-after", &out, &err), 0);
  if (strcmp(json_string_value(json_object_get(out, "state")), "terminated") != 0)
    fail_msg("a VM on the de-enrolled host waits for its inventory: %s", json_dumps(out, JSON_COMPACT));
  json_decref(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stored_appraisals_reach_the_model_at_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_host_added_after_it_attested_is_trusted_at_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_every_enrolled_host_is_asked_to_attest_again, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_deenrolled_host_leaves_the_host_gauges, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_deenrolled_hosts_observation_does_not_come_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_vm_on_a_deenrolled_host_terminates, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
