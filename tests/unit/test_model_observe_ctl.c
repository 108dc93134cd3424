/* Unit test of ctl_model_observe on a real controller (a temporary SQLite
 * store, the development audit key and an LI administration key): an
 * attested inventory placing a VM elsewhere than its intent shows in
 * compliance and GET vm ("observed"), is recorded once, and survives a
 * restart; decisions say they used the observed placement; an allowed
 * migration leaves the intent alone until the destination's inventory
 * shows the VM; a finding about a host that carries an LI VM is sealed, one
 * about a VM an LI monitors (not declared li) is not.
 * Image reports and checks come from where the VM runs: the host that
 * proved it runs it, else its declared host; from neither host while two
 * show it (TR103308-T.1.4-DUPLICATE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "ctl/audit.h"
#include "ctl/ctl.h"
#include "ctl/model.h"
#include "ctl/pkg.h"
#include "ctl_fixture.h"

static char tmpdir[64];
static lisec_ctl *ctl;
static const ctl_actor OPERATOR = {"op-1", "operator", CTL_ROLE_OPERATOR};
static const ctl_actor LI_ADMIN = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};

static lisec_config *config(void) {
  lisec_config *cfg = ctl_fixture_config(tmpdir, "li-admin.pub");
  lisec_config_set(cfg, "attest", "interval_s", "300");
  lisec_config_set(cfg, "attest", "grace_s", "60");
  lisec_config_set(cfg, "model", "allow_declared_trust", "true");
  return cfg;
}

static void open_ctl(void) { ctl_fixture_open(config(), &ctl); }

static void put(const char *kind, const char *json) { ctl_fixture_put(ctl, kind, json); }

static void attested(const char *host, const char *country) {
  lisec_err err = {0};
  model_location loc = {.country = country, .source = MODEL_LOC_ATTESTED};
  assert_int_equal(ctl_model_host_attested(ctl, host, MODEL_TRUST_TRUSTED, "trusted", &loc, &err), 0);
}

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-observe-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-admin.pub"))
    return -1;
  open_ctl();
  put("host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  put("host", "{\"id\":\"lon-1\",\"protection\":\"li\"}");
  put("host", "{\"id\":\"hel-2\",\"protection\":\"li\"}");
  put("hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"}");
  put("hypervisor", "{\"id\":\"hv-hel-2\",\"host\":\"hel-2\"}");
  put("vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"lim\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  attested("hel-1", "FI");
  attested("lon-1", "GB");
  attested("hel-2", "FI");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, tmpdir);
}

static int observe(const char *host, const char *ev, const char *uuid, const char *vm,
                   const char *st) {
  static const ctl_actor agent = {"host", "host", CTL_ROLE_HOST};
  ctl_observed_domain d = {uuid, vm, NULL, st, NULL};
  ctl_observation o = {host, lisec_time_now(), ev, &d, uuid ? 1 : 0};
  lisec_err err = {0};
  int rc = ctl_model_observe(ctl, &agent, &o, &err);
  if (rc) print_message("observe: %s\n", err.msg);
  return rc;
}

/* The violations of a requirement in compliance as role sees it. */
static json_t *compliance_of(const ctl_actor *who, const char *req) {
  lisec_err err = {0};
  json_t *out = NULL, *hits = json_array(), *r;
  assert_int_equal(ctl_model_compliance(ctl, who, &out, &err), 0);
  size_t i;
  json_array_foreach(json_object_get(out, "violations"), i, r)
    if (strcmp(json_string_value(json_object_get(r, "requirement")), req) == 0)
      json_array_append(hits, r);
  json_decref(out);
  return hits;
}

static json_t *get_vm(const char *id) {
  lisec_err err = {0};
  json_t *out = NULL;
  assert_int_equal(ctl_model_get(ctl, &OPERATOR, "vm", id, &out, &err), 0);
  return out;
}

static uint64_t audit_size(void) {
  lisec_err err = {0};
  json_t *out = NULL;
  assert_int_equal(ctl_audit_entries(ctl, 0, 1, &out, &err), 0);
  uint64_t n = (uint64_t)json_integer_value(json_object_get(out, "size"));
  json_decref(out);
  return n;
}

/* Audit entries from index from on that contain text (unsealed) or are
 * sealed (text NULL: counts the sealed ones). */
static size_t audit_count(uint64_t from, const char *text) {
  lisec_err err = {0};
  json_t *out = NULL, *e;
  assert_int_equal(ctl_audit_entries(ctl, from, 100, &out, &err), 0);
  size_t i, n = 0;
  json_array_foreach(json_object_get(out, "entries"), i, e) {
    bool sealed = json_is_true(json_object_get(e, "sealed"));
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *b64 = json_string_value(json_object_get(e, "data"));
    assert_int_equal(crypto_base64_decode(b64, 1u << 20, &raw, &len, &err), 0);
    bool has = text && memmem(raw, len, text, strlen(text)) != NULL;
    n += text ? has : sealed;
    free(raw);
  }
  json_decref(out);
  return n;
}

static void test_placement_end_to_end(void **state) {
  (void)state;
  uint64_t before = audit_size();
  assert_int_equal(observe("lon-1", "0011223344556677", "6c1c5a4e-0000-4000-8000-000000000001",
                           "web", "running"), 0);
  /* Recorded, unsealed (no LI involved), naming both hosts. */
  assert_int_equal(audit_count(before, "TR103308-T.1.4-PLACEMENT"), 1);
  assert_int_equal(audit_count(before, NULL), 0);
  json_t *hits = compliance_of(&OPERATOR, MODEL_REQ_PLACEMENT);
  assert_int_equal(json_array_size(hits), 1);
  const char *sentence = json_string_value(json_object_get(json_array_get(hits, 0), "sentence"));
  assert_non_null(strstr(sentence, "declared on host hel-1"));
  assert_non_null(strstr(sentence, "host lon-1"));
  assert_non_null(strstr(sentence, "0011223344556677"));
  json_decref(hits);
  json_t *vm = get_vm("web");
  json_t *obs = json_object_get(vm, "observed");
  assert_string_equal(json_string_value(json_object_get(obs, "host")), "lon-1");
  assert_string_equal(json_string_value(json_object_get(obs, "state")), "running");
  assert_string_equal(json_string_value(json_object_get(obs, "evidence")), "0011223344556677");
  assert_string_equal(json_string_value(json_object_get(vm, "hypervisor")), "hv-hel-1");
  json_decref(vm);
  /* A decision judges from where it runs, and says so. */
  lisec_err err = {0};
  json_t *body = json_pack("{s:s, s:s}", "vm", "web", "host", "lon-1"), *out = NULL;
  assert_int_equal(ctl_model_decide_migration(ctl, &OPERATOR, body, &out, &err), 0);
  assert_false(json_is_true(json_object_get(out, "allow")));
  assert_string_equal(json_string_value(json_object_get(out, "placement_source")), "observed");
  json_decref(out);
  json_decref(body);
  /* Restart: the observation comes back from the store. */
  ctl_close(ctl);
  open_ctl();
  vm = get_vm("web");
  assert_string_equal(json_string_value(json_object_get(json_object_get(vm, "observed"), "host")),
                      "lon-1");
  json_decref(vm);
  hits = compliance_of(&OPERATOR, MODEL_REQ_PLACEMENT);
  assert_int_equal(json_array_size(hits), 1);
  json_decref(hits);
  /* The same inventory after the restart records nothing again. */
  before = audit_size();
  assert_int_equal(observe("lon-1", "8899aabbccddeeff", "6c1c5a4e-0000-4000-8000-000000000001",
                           "web", "running"), 0);
  assert_int_equal(audit_size(), before);
  /* Back where it is declared: compliant again. */
  assert_int_equal(observe("lon-1", "1899aabbccddeeff", NULL, NULL, NULL), 0);
  assert_int_equal(observe("hel-1", "2899aabbccddeeff", "6c1c5a4e-0000-4000-8000-000000000001",
                           "web", "running"), 0);
  hits = compliance_of(&OPERATOR, MODEL_REQ_PLACEMENT);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
}

static void test_migration_waits_for_destination(void **state) {
  (void)state;
  const char *uuid = "6c1c5a4e-0000-4000-8000-000000000002";
  /* The destination's trust is declared: lon-1's is attested, and without
   * an agent here to give a fresh quote a migration onto it is denied for
   * every VM alike (fail closed; docs/model.md, "Trust comes from
   * evidence"), which is not what this test is about. */
  put("host", "{\"id\":\"lon-2\",\"protection\":\"li\",\"trust\":\"trusted\","
              "\"location\":{\"country\":\"GB\",\"source\":\"administrative\"}}");
  put("hypervisor", "{\"id\":\"hv-lon-2\",\"host\":\"lon-2\"}");
  assert_int_equal(observe("hel-1", "a000000000000001", uuid, "web", "running"), 0);
  lisec_err err = {0};
  json_t *body = json_pack("{s:s, s:s}", "vm", "web", "host", "lon-2"), *out = NULL;
  assert_int_equal(ctl_model_decide_migration(ctl, &OPERATOR, body, &out, &err), 0);
  assert_true(json_is_true(json_object_get(out, "allow")));
  assert_string_equal(json_string_value(json_object_get(out, "placement_source")), "observed");
  json_decref(out);
  json_decref(body);
  /* Allowed, not moved. */
  json_t *vm = get_vm("web");
  assert_string_equal(json_string_value(json_object_get(vm, "hypervisor")), "hv-hel-1");
  json_decref(vm);
  /* The source stops showing it: still not moved. A host that is not the
   * allowed destination showing it does not move it either. */
  assert_int_equal(observe("hel-1", "a000000000000002", NULL, NULL, NULL), 0);
  assert_int_equal(observe("hel-2", "a000000000000003", uuid, "web", "running"), 0);
  vm = get_vm("web");
  assert_string_equal(json_string_value(json_object_get(vm, "hypervisor")), "hv-hel-1");
  json_decref(vm);
  assert_int_equal(observe("hel-2", "a000000000000004", NULL, NULL, NULL), 0);
  /* The destination proves it: the model follows, and it is compliant. */
  uint64_t before = audit_size();
  assert_int_equal(observe("lon-2", "a000000000000005", uuid, "web", "running"), 0);
  vm = get_vm("web");
  assert_string_equal(json_string_value(json_object_get(vm, "hypervisor")), "hv-lon-2");
  assert_null(json_object_get(vm, "migrating_to"));
  json_decref(vm);
  assert_int_equal(audit_count(before, "model.vm.arrived"), 1);
  json_t *hits = compliance_of(&OPERATOR, MODEL_REQ_PLACEMENT);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
  /* and the move is stored: a restart keeps it */
  ctl_close(ctl);
  open_ctl();
  vm = get_vm("web");
  assert_string_equal(json_string_value(json_object_get(vm, "hypervisor")), "hv-lon-2");
  json_decref(vm);
}

static void test_li_host_sealed(void **state) {
  (void)state;
  uint64_t before = audit_size();
  /* hel-2 carries lim (an LI VM) and an unnamed domain. */
  ctl_observed_domain d[2] = {{"6c1c5a4e-0000-4000-8000-00000000000a", "lim", NULL, "running", NULL},
                              {"6c1c5a4e-0000-4000-8000-00000000000b", NULL, NULL, "running", NULL}};
  static const ctl_actor agent = {"host", "host", CTL_ROLE_HOST};
  ctl_observation o = {"hel-2", lisec_time_now(), "b000000000000001", d, 2};
  lisec_err err = {0};
  assert_int_equal(ctl_model_observe(ctl, &agent, &o, &err), 0);
  /* Recorded sealed, nothing of it in the clear. */
  assert_true(audit_count(before, NULL) >= 1);
  assert_int_equal(audit_count(before, "UNKNOWN-DOMAIN"), 0);
  json_t *hits = compliance_of(&LI_ADMIN, MODEL_REQ_UNKNOWN_DOMAIN);
  assert_int_equal(json_array_size(hits), 1);
  json_decref(hits);
  /* Negative: the same on hel-1, which carries no LI VM. */
  o.host = "hel-1";
  d[0].vm = "web";
  assert_int_equal(ctl_model_observe(ctl, &agent, &o, &err), 0);
  hits = compliance_of(&OPERATOR, MODEL_REQ_UNKNOWN_DOMAIN);
  assert_int_equal(json_array_size(hits), 1); /* hel-2's only */
  json_decref(hits);
}

/* A VM an LI monitors (mon, declared "sensitive") is not sealed for it:
 * operator and auditor read each entry's seal bit, so a seal would name it
 * (TR 103 308 §4.1). lon-1 showing it where it is not declared is a
 * finding in the clear, as its twin's (twn) is, and so is the refusal of
 * lon-1's next, malformed, inventory; neither names the LI. */
static void test_li_named_vm_clear(void **state) {
  (void)state;
  put("jurisdiction", "{\"id\":\"fi\",\"codes\":[\"FI\"]}");
  put("lea", "{\"id\":\"lea-fi\",\"jurisdiction\":\"fi\"}");
  put("vm", "{\"id\":\"mon\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"sensitive\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"twn\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"sensitive\",\"domain\":\"core\"}");
  put("storage", "{\"id\":\"st-li\",\"vm\":\"lim\"}");
  json_t *li = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "li-9", "jurisdiction", "fi",
                         "lea", "lea-fi", "monitored", "mon", "host", "lim", "storage", "st-li",
                         "valid_from", "2025-01-01T00:00:00Z", "valid_until", "2035-01-01T00:00:00Z"),
         *out = NULL;
  bool created = false;
  lisec_err err = {0};
  assert_int_equal(ctl_model_put(ctl, &LI_ADMIN, "li", NULL, li, false, &out, &created, &err), 0);
  json_decref(li);
  json_decref(out);
  uint64_t before = audit_size();
  assert_int_equal(observe("lon-1", "d000000000000001", "6c1c5a4e-0000-4000-8000-0000000000c1", "twn",
                           "running"),
                   0);
  assert_int_equal(audit_count(before, "vm twn"), 1);
  before = audit_size();
  assert_int_equal(observe("lon-1", "d000000000000002", "6c1c5a4e-0000-4000-8000-0000000000c2", "mon",
                           "running"),
                   0);
  assert_int_equal(audit_count(before, NULL), 0); /* nothing sealed */
  assert_int_equal(audit_count(before, "vm mon"), 1);
  assert_int_equal(audit_count(before, "li-9"), 0);
  /* lon-1 now carries mon: a refused inventory of it is in the clear too */
  before = audit_size();
  assert_int_equal(observe("lon-1", "d000000000000003", "u", "../x", "running"), LISEC_EINVAL);
  assert_int_equal(audit_count(before, NULL), 0);
  assert_int_equal(audit_count(before, "model.observe"), 1);
}

#define PROBE_IMG "5f0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

/* host's image report of VM web under package probe; the refusal's text in
 * why (may be NULL), *source the placement it was accepted on. */
static int report(const char *host, char *why, char *source) {
  ctl_actor agent = {host, "host", CTL_ROLE_HOST};
  json_t *body = json_pack("{s:s, s:s, s:s}", "vm", "web", "digest", "sha256:" PROBE_IMG, "event",
                           "resume"),
         *out = NULL;
  lisec_err err = {0};
  int rc = ctl_pkg_image_report(ctl, &agent, "probe", body, &out, &err);
  if (why) snprintf(why, LISEC_ERR_MSG_MAX, "%s", err.msg);
  if (!rc) {
    assert_true(json_is_true(json_object_get(out, "compliant")));
    snprintf(source, 16, "%s", json_string_value(json_object_get(out, "placement_source")));
  }
  json_decref(body);
  json_decref(out);
  return rc;
}

/* host's check at start (the qemu hook's prepare) of VM web's image. */
static int image_check(const char *host, char *why, bool *checked) {
  ctl_actor agent = {host, "host", CTL_ROLE_HOST};
  json_t *body = json_pack("{s:s, s:s}", "vm", "web", "digest", "sha256:" PROBE_IMG), *out = NULL;
  lisec_err err = {0};
  int rc = ctl_pkg_image_check(ctl, &agent, body, &out, &err);
  snprintf(why, LISEC_ERR_MSG_MAX, "%s", err.msg);
  *checked = json_is_true(json_object_get(out, "checked")) && json_is_true(json_object_get(out, "compliant"));
  json_decref(body);
  json_decref(out);
  return rc;
}

static void test_image_report_follows_observation(void **state) {
  (void)state;
  /* web runs package probe, whose one image is PROBE_IMG (stored as
   * on-boarding leaves it). */
  lisec_err err = {0};
  assert_int_equal(store_doc_put(ctl->store, "pkg", "probe",
                                 "{\"id\":\"probe\",\"li\":false,\"verification\":{\"artifacts\":"
                                 "[{\"path\":\"Artifacts/Images/probe.qcow2\",\"algorithm\":"
                                 "\"SHA-256\",\"hash\":\"" PROBE_IMG "\",\"image\":true}]}}",
                                 -1, NULL, &err),
                   0);
  put("vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
            "\"domain\":\"core\",\"package\":\"probe\"}");
  char why[LISEC_ERR_MSG_MAX], source[16];
  const char *uuid = "6c1c5a4e-0000-4000-8000-000000000003";
  /* No host reports it: its declared host speaks for it, no other. */
  assert_int_equal(report("hel-1", NULL, source), 0);
  assert_string_equal(source, "declared");
  /* The refused host is not told where the VM runs; the record says. */
  uint64_t at = audit_size();
  assert_int_equal(report("lon-1", why, source), LISEC_EDENIED);
  assert_non_null(strstr(why, "TR103308-4.2-IMAGE"));
  assert_non_null(strstr(why, "VM web does not run on host lon-1"));
  assert_null(strstr(why, "hel-1"));
  assert_int_equal(audit_count(at, "runs on host hel-1 (declared placement), not on host lon-1"), 1);
  /* Declared on hel-1, proved running on lon-1: lon-1 reports, hel-1 is
   * refused naming where it was observed. */
  assert_int_equal(observe("lon-1", "d000000000000001", uuid, "web", "running"), 0);
  assert_int_equal(report("lon-1", NULL, source), 0);
  assert_string_equal(source, "observed");
  at = audit_size();
  assert_int_equal(report("hel-1", why, source), LISEC_EDENIED);
  assert_non_null(strstr(why, "VM web does not run on host hel-1"));
  assert_null(strstr(why, "lon-1"));
  assert_int_equal(audit_count(at, "runs on host lon-1 (observed placement), not on host hel-1"), 1);
  bool checked = false;
  assert_int_equal(image_check("lon-1", why, &checked), 0);
  assert_true(checked);
  /* Shown running on both: neither host's report nor start is accepted. */
  assert_int_equal(observe("hel-1", "d000000000000002", uuid, "web", "running"), 0);
  uint64_t before = audit_size();
  for (int i = 0; i < 2; i++) {
    const char *h = i ? "hel-1" : "lon-1";
    assert_int_equal(report(h, why, source), LISEC_EDENIED);
    assert_non_null(strstr(why, "TR103308-T.1.4-DUPLICATE"));
    assert_int_equal(image_check(h, why, &checked), LISEC_EDENIED);
    assert_non_null(strstr(why, "TR103308-T.1.4-DUPLICATE"));
  }
  assert_int_equal(audit_count(before, "TR103308-T.1.4-DUPLICATE"), 4); /* each refusal recorded */
  /* Resolved (lon-1 no longer shows it; hel-1 only ever seen shut off
   * counts as no observation): back to one host. */
  assert_int_equal(observe("lon-1", "d000000000000003", NULL, NULL, NULL), 0);
  assert_int_equal(observe("hel-1", "d000000000000004", uuid, "web", "shutoff"), 0);
  assert_int_equal(report("hel-1", NULL, source), 0);
  assert_string_equal(source, "declared");
  at = audit_size();
  assert_int_equal(report("lon-1", why, source), LISEC_EDENIED);
  assert_int_equal(audit_count(at, "runs on host hel-1 (declared placement), not on host lon-1"), 1);
}

static void test_bad_observation(void **state) {
  (void)state;
  uint64_t before = audit_size();
  assert_int_equal(observe("nowhere", "c000000000000001", "u", "web", "running"), LISEC_ENOTFOUND);
  assert_int_equal(observe("hel-1", "c000000000000001", "u", "../x", "running"), LISEC_EINVAL);
  /* each refusal recorded */
  assert_int_equal(audit_count(before, "model.observe"), 2);
  json_t *vm = get_vm("web");
  assert_null(json_object_get(vm, "observed"));
  json_decref(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_placement_end_to_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migration_waits_for_destination, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_host_sealed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_observation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_named_vm_clear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_image_report_follows_observation, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
