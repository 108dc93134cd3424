/* The controller's shape (issue 16 items 2 and 3): background work runs on
 * the controller's own threads from ctl_start to ctl_stop and never from
 * ctl_open; the one audit-then-act rule (a refusal that cannot be recorded
 * still refuses and says so; an act that cannot be recorded does not
 * happen); typed roles, from a role string and from the API's role bit. The
 * threads are found by the names they give themselves in /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>

#include "api/api.h"
#include "ctl_fixture.h"

static char dir[64];
static lisec_ctl *ctl;

/* How many threads of this process are called name. */
static int threads_named(const char *name) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue; /* a thread that ended meanwhile */
    if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
    fclose(f);
    if (strcmp(comm, name) == 0) n++;
  }
  closedir(d);
  return n;
}

/* A controller whose configuration may leave out the LI administration's
 * key (so no LI record can be written). */
static void open_ctl(bool li_key) {
  assert_int_equal(ctl_fixture_mkdir(dir, "/tmp/lisec-ctl-life-XXXXXX"), 0);
  lisec_config *cfg = NULL;
  if (li_key) {
    assert_int_equal(ctl_fixture_write_li_key(dir, "li.pub"), 0);
    cfg = ctl_fixture_config(dir, "li.pub");
  } else {
    /* the fixture's settings but the LI administration's key */
    char url[256], key[256];
    snprintf(url, sizeof url, "sqlite:%s/lisec.db", dir);
    snprintf(key, sizeof key, "%s/audit-dev.pem", dir);
    cfg = lisec_config_new();
    lisec_config_set(cfg, "store", "url", url);
    lisec_config_set(cfg, "audit", "development_key_file", key);
    lisec_config_set(cfg, "audit", "allow_development_key", "true");
  }
  ctl_fixture_open(cfg, &ctl);
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, dir);
}

static void test_background_work_runs_from_start_to_stop(void **state) {
  (void)state;
  open_ctl(true);
  /* opening is not starting: no request (nor a check of the configuration)
   * starts the X1 loop or the attestation timer */
  assert_int_equal(threads_named("lisec-x1"), 0);
  assert_int_equal(threads_named("lisec-attest"), 0);
  lisec_err err = {0};
  assert_int_equal(ctl_start(ctl, &err), 0);
  assert_int_equal(threads_named("lisec-x1"), 1);
  assert_int_equal(threads_named("lisec-attest"), 1);
  /* a second start starts nothing twice */
  assert_int_equal(ctl_start(ctl, &err), 0);
  assert_int_equal(threads_named("lisec-x1"), 1);
  assert_int_equal(threads_named("lisec-attest"), 1);
  ctl_stop(ctl);
  assert_int_equal(threads_named("lisec-x1"), 0);
  assert_int_equal(threads_named("lisec-attest"), 0);
  ctl_stop(ctl); /* idempotent */
  /* a worker context neither starts nor stops the shared work */
  lisec_ctl *w = NULL;
  assert_int_equal(ctl_open_worker(ctl, &w, &err), 0);
  assert_int_equal(ctl_start(ctl, &err), 0);
  ctl_stop(w);
  assert_int_equal(threads_named("lisec-x1"), 1);
  ctl_close(w);
  /* closing without a stop still stops (and joins) the threads */
}

/* The audit log's checkpoint thread is not started lazily (by a first
 * record or a route): it runs from the controller's open, before any
 * request, so a record appended at open is checkpointed too, through
 * start and stop, and ends with the close. */
static void test_checkpoint_thread_from_open_to_close(void **state) {
  (void)state;
  open_ctl(true);
  assert_int_equal(threads_named("lisec-audit-cp"), 1);
  lisec_err err = {0};
  assert_int_equal(ctl_start(ctl, &err), 0);
  assert_int_equal(threads_named("lisec-audit-cp"), 1);
  ctl_stop(ctl);
  assert_int_equal(threads_named("lisec-audit-cp"), 1);
  assert_int_equal(ctl_fixture_close(&ctl, dir), 0);
  assert_int_equal(threads_named("lisec-audit-cp"), 0);
}

static void test_refusal_that_cannot_be_recorded_still_refuses(void **state) {
  (void)state;
  open_ctl(false);
  /* An operator may not touch LI authorisations; the refusal is an LI
   * record, which cannot be sealed without the LI administration's key. */
  static const ctl_actor op = {"op-1", "operator", CTL_ROLE_OPERATOR};
  json_t *body = json_pack("{s:s}", "lea", "lea-1"), *out = NULL;
  bool created = false;
  lisec_err err = {0};
  int rc = ctl_model_put(ctl, &op, "li", "li-1", body, false, &out, &created, &err);
  json_decref(body);
  assert_int_equal(rc, LISEC_EDENIED);
  assert_null(out);
  /* the refusal's own reason; that an LI record failed is not the
   * operator's to learn (it would tell LI records from others) */
  assert_non_null(strstr(err.msg, "may not perform"));
  assert_null(strstr(err.msg, "could not be recorded"));
  assert_null(strstr(err.msg, "li_admin_key"));

  /* The helper itself: a refusal keeps its code whatever the recording
   * failure's, and the LI administration is told it went unrecorded and
   * why; an act that cannot be recorded is not done. */
  static const ctl_actor li_admin = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};
  lisec_err e2 = {0};
  lisec_err_set(&e2, LISEC_EINVAL, "field x is bad");
  rc = ctl_audit(ctl, &li_admin, CTL_OUTCOME_REFUSED, "test.refuse", true, NULL, LISEC_EINVAL, NULL,
                 &e2, "thing %s", "t-1");
  assert_int_equal(rc, LISEC_EINVAL);
  assert_int_equal(strncmp(e2.msg, "field x is bad; this refusal could not be recorded", 50), 0);
  assert_non_null(strstr(e2.msg, "li_admin_key"));
  lisec_err e2b = {0};
  lisec_err_set(&e2b, LISEC_EDENIED, "no");
  assert_int_equal(ctl_audit(ctl, &li_admin, CTL_OUTCOME_DENIED, "test.refuse", true, NULL,
                             LISEC_EDENIED, NULL, &e2b, "x"),
                   LISEC_EDENIED);
  assert_int_equal(strncmp(e2b.msg, "no; this refusal could not be recorded", 38), 0);
  lisec_err e3 = {0};
  rc = ctl_audit(ctl, &op, CTL_OUTCOME_OK, "test.act", true, NULL, 0, NULL, &e3, "thing %s", "t-1");
  assert_int_not_equal(rc, 0);
  /* a verdict that is the answer (rc 0: a decision that says no) is
   * recorded and answered; not about LI, it can be recorded */
  lisec_err e4 = {0};
  assert_int_equal(ctl_audit(ctl, &op, CTL_OUTCOME_DENIED, "test.deny", false, "why", 0, NULL, &e4, "x"),
                   0);
  /* recorded refusals and failures keep their message unchanged */
  lisec_err e5 = {0};
  lisec_err_set(&e5, LISEC_ECONFLICT, "in use");
  assert_int_equal(ctl_audit(ctl, &op, CTL_OUTCOME_FAILED, "test.fail", false, NULL, LISEC_ECONFLICT,
                             NULL, &e5, "x"),
                   LISEC_ECONFLICT);
  assert_string_equal(e5.msg, "in use");
}

static void test_roles_are_typed(void **state) {
  (void)state;
  assert_int_equal(ctl_role_parse("operator"), CTL_ROLE_OPERATOR);
  assert_int_equal(ctl_role_parse("li-admin"), CTL_ROLE_LI_ADMIN);
  assert_int_equal(ctl_role_parse("hypervisor-admin"), CTL_ROLE_HV_ADMIN);
  assert_int_equal(ctl_role_parse("host"), CTL_ROLE_HOST);
  assert_int_equal(ctl_role_parse("mano"), CTL_ROLE_MANO);
  assert_int_equal(ctl_role_parse("auditor"), CTL_ROLE_AUDITOR);
  assert_int_equal(ctl_role_parse("tenant:acme"), CTL_ROLE_TENANT);
  /* bad cases: no name, another case, a prefix, nothing */
  assert_int_equal(ctl_role_parse("tenant:"), CTL_ROLE_NONE);
  assert_int_equal(ctl_role_parse("LI-admin"), CTL_ROLE_NONE);
  assert_int_equal(ctl_role_parse("li-admin "), CTL_ROLE_NONE);
  assert_int_equal(ctl_role_parse(""), CTL_ROLE_NONE);
  assert_int_equal(ctl_role_parse(NULL), CTL_ROLE_NONE);
  assert_int_equal(ctl_actor_role(NULL), CTL_ROLE_NONE);
  /* the typed role wins over the string it was made from */
  ctl_actor a = {"x", "li-admin", CTL_ROLE_AUDITOR};
  assert_int_equal(ctl_actor_role(&a), CTL_ROLE_AUDITOR);
  a.kind = CTL_ROLE_UNSET;
  assert_int_equal(ctl_actor_role(&a), CTL_ROLE_LI_ADMIN);
  /* the API's principal, by its role bit */
  assert_int_equal(api_role_kind(api_role_bit("li-admin")), CTL_ROLE_LI_ADMIN);
  assert_int_equal(api_role_kind(api_role_bit("hypervisor-admin")), CTL_ROLE_HV_ADMIN);
  assert_int_equal(api_role_kind(api_role_bit("tenant:acme")), CTL_ROLE_TENANT);
  assert_int_equal(api_role_kind(api_role_bit("operator")), CTL_ROLE_OPERATOR);
  assert_int_equal(api_role_kind(api_role_bit("host")), CTL_ROLE_HOST);
  assert_int_equal(api_role_kind(api_role_bit("mano")), CTL_ROLE_MANO);
  assert_int_equal(api_role_kind(api_role_bit("auditor")), CTL_ROLE_AUDITOR);
  assert_int_equal(api_role_kind(0), CTL_ROLE_NONE);
  assert_int_equal(api_role_kind(API_ROLE_OPERATOR | API_ROLE_HOST), CTL_ROLE_NONE);
}

/* Every setting is read and checked in ctl_open, and a bad one stops it
 * with its section and key, whichever topic uses it. */
static void test_bad_setting_stops_the_open(void **state) {
  (void)state;
  static const struct {
    const char *section, *key, *value;
  } bad[] = {
      {"attest", "grace_s", "-1"},           {"attest", "interval_s", "0"},
      {"model", "attestation_max_age_s", "x"}, {"pkg", "max_package", "1023"},
      {"li", "restart_stopped", "maybe"},    {"model", "allow_declared_trust", ""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(ctl_fixture_mkdir(dir, "/tmp/lisec-ctl-life-XXXXXX"), 0);
    assert_int_equal(ctl_fixture_write_li_key(dir, "li.pub"), 0);
    lisec_config *cfg = ctl_fixture_config(dir, "li.pub");
    lisec_config_set(cfg, bad[i].section, bad[i].key, bad[i].value);
    lisec_err err = {0};
    lisec_ctl *c = NULL;
    int rc = ctl_open(cfg, NULL, &c, &err);
    lisec_config_free(cfg);
    assert_int_equal(rc, LISEC_EINVAL);
    assert_null(c);
    char want[96];
    snprintf(want, sizeof want, "[%s] %s", bad[i].section, bad[i].key);
    if (!strstr(err.msg, want)) fail_msg("%s: %s", want, err.msg);
    assert_int_equal(ctl_fixture_close(&ctl, dir), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_background_work_runs_from_start_to_stop, teardown),
      cmocka_unit_test(test_checkpoint_thread_from_open_to_close),
      cmocka_unit_test_teardown(test_refusal_that_cannot_be_recorded_still_refuses, teardown),
      cmocka_unit_test(test_roles_are_typed),
      cmocka_unit_test(test_bad_setting_stops_the_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
