/* Unit tests of lisecd's chassis telemetry (ctl/telemetry.c, issue 19) on a
 * real controller with a temporary SQLite store: the [telemetry] settings
 * (defaults, each bad value named), a report read out of the evidence
 * (refused whole and recorded when malformed, out of range or for another
 * host), the appraisal kept in the host's attestation document (the void
 * latched until the confirm step, the baseline, the findings) and the
 * findings in the compliance report. The quote path around it is
 * telemetry_ipmi's (a real BMC simulator, swtpm and lisecd); this one runs
 * under the sanitizer build too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_fixture.h"
#include "ctl/telemetry.h"
#include "store/store.h"

#define HOST "bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22"

typedef struct fx {
  char dir[64];
  lisec_ctl *ctl;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f || ctl_fixture_mkdir(f->dir, "/tmp/lisec-ctl-tel-XXXXXX") || ctl_fixture_write_li_key(f->dir, "li.pub"))
    return -1;
  ctl_fixture_open(ctl_fixture_config(f->dir, "li.pub"), &f->ctl);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  int rc = ctl_fixture_close(&f->ctl, f->dir);
  free(f);
  return rc;
}

static void test_conf(void **state) {
  (void)state;
  ctl_telemetry_conf c;
  lisec_err err = {0};
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(ctl_telemetry_conf_read(cfg, &c, &err), 0);
  assert_int_equal(c.policy.missing, ATTEST_MISSING_OFF);
  assert_int_equal(c.policy.max_age_s, 600);
  assert_int_equal(c.max_bytes, ATTEST_CHASSIS_MAX_BYTES);
  lisec_config_set(cfg, "telemetry", "missing", "untrusted");
  assert_int_equal(ctl_telemetry_conf_read(cfg, &c, &err), 0);
  assert_int_equal(c.policy.missing, ATTEST_MISSING_UNTRUSTED);
  lisec_config_set(cfg, "telemetry", "missing", "maybe");
  assert_int_not_equal(ctl_telemetry_conf_read(cfg, &c, &err), 0);
  assert_non_null(strstr(err.msg, "[telemetry] missing"));
  lisec_config_set(cfg, "telemetry", "missing", "finding");
  lisec_config_set(cfg, "telemetry", "idle_w", "900");
  assert_int_not_equal(ctl_telemetry_conf_read(cfg, &c, &err), 0);
  assert_non_null(strstr(err.msg, "peak_w must be above idle_w"));
  lisec_config_set(cfg, "telemetry", "idle_w", "100");
  lisec_config_set(cfg, "telemetry", "max_bytes", "99999");
  assert_int_not_equal(ctl_telemetry_conf_read(cfg, &c, &err), 0);
  lisec_config_free(cfg);
}

static const char QUIET[] =
    "{\"asset_tag\":\"LAB-0042\",\"bmc\":{\"firmware\":\"9.08\",\"guid\":\"g-1\",\"manufacturer\":4753,"
    "\"product\":3842},\"cpu_c\":45,\"host\":\"" HOST "\",\"inlet_c\":24,\"intrusion\":false,\"poh_h\":1200,"
    "\"power\":\"on\",\"power_w\":200,\"read_at\":1800000000,\"version\":1}";

static int get(fx *f, const char *chassis_json_string, attest_chassis *c, bool *has, lisec_err *err) {
  static const ctl_actor host = {HOST, "host", CTL_ROLE_HOST};
  ctl_telemetry_conf conf;
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(ctl_telemetry_conf_read(cfg, &conf, err), 0);
  lisec_config_free(cfg);
  json_t *body = json_object();
  if (chassis_json_string) json_object_set_new(body, "chassis", json_string(chassis_json_string));
  uint8_t sha[ATTEST_DIGEST_LEN];
  int rc = ctl_telemetry_get(f->ctl, &host, body, HOST, &conf, c, sha, has, err);
  json_decref(body);
  return rc;
}

static void test_get(void **state) {
  fx *f = *state;
  attest_chassis c;
  bool has = true;
  lisec_err err = {0};
  assert_int_equal(get(f, NULL, &c, &has, &err), 0);
  assert_false(has);
  assert_int_equal(get(f, QUIET, &c, &has, &err), 0);
  assert_true(has);
  assert_int_equal(c.power_w, 200);
  /* out of range, for another host, not a string: refused naming the requirement */
  char doc[1024];
  const char *p = strstr(QUIET, "\"cpu_c\":45");
  snprintf(doc, sizeof doc, "%.*s\"cpu_c\":451%s", (int)(p - QUIET), QUIET, p + 10);
  err.msg[0] = '\0';
  assert_int_not_equal(get(f, doc, &c, &has, &err), 0);
  assert_false(has);
  assert_non_null(strstr(err.msg, "TR103308-5.6-O.1.1: chassis: \"cpu_c\" 451 is outside the physical range"));
  char other[sizeof QUIET];
  snprintf(other, sizeof other, "%s", QUIET);
  memset(strstr(other, HOST), 'c', 64);
  assert_int_equal(get(f, other, &c, &has, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "names another host"));
  static const ctl_actor host = {HOST, "host", CTL_ROLE_HOST};
  ctl_telemetry_conf conf;
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(ctl_telemetry_conf_read(cfg, &conf, &err), 0);
  lisec_config_free(cfg);
  json_t *body = json_pack("{s:i}", "chassis", 5);
  uint8_t sha[ATTEST_DIGEST_LEN];
  assert_int_equal(ctl_telemetry_get(f->ctl, &host, body, HOST, &conf, &c, sha, &has, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "must be a string"));
  json_decref(body);
}

static attest_chassis parsed(const char *s) {
  attest_chassis c;
  lisec_err err = {0};
  assert_int_equal(attest_chassis_parse(s, strlen(s), 0, &c, &err), 0);
  return c;
}

static void test_appraise_latch_and_confirm(void **state) {
  (void)state;
  ctl_telemetry_conf conf;
  lisec_err err = {0};
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "telemetry", "missing", "finding");
  assert_int_equal(ctl_telemetry_conf_read(cfg, &conf, &err), 0);
  lisec_config_free(cfg);
  json_t *doc = json_object();
  attest_chassis c = parsed(QUIET);
  attest_chassis_verdict v;
  int64_t now = 1800000000;
  /* the first report is the baseline */
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(doc, "chassis"), "base"), "guid")),
                      "g-1");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "chassis"), "reading"), "power_w")),
                   200);
  /* the intrusion voids, and the void stays after it clears */
  c.intrusion = true;
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 1);
  assert_non_null(strstr(json_string_value(json_object_get(doc, "chassis_void")), "chassis intrusion"));
  c.intrusion = false;
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 1);
  assert_non_null(strstr(v.voids[0], "chassis intrusion"));
  /* another BMC: void too, the first void is the one kept */
  snprintf(c.guid, sizeof c.guid, "g-2");
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_true(v.nvoid >= 1);
  assert_non_null(strstr(json_string_value(json_object_get(doc, "chassis_void")), "chassis intrusion"));
  /* the confirm step: no void, and the next report is the new baseline */
  ctl_telemetry_confirmed(doc);
  assert_null(json_object_get(doc, "chassis_void"));
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(doc, "chassis"), "base"), "guid")),
                      "g-2");
  /* no report: a finding under "finding", kept as the host's findings */
  ctl_telemetry_appraise(doc, NULL, &conf, NULL, NULL, now, &v);
  assert_int_equal(v.nfind, 1);
  assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "chassis"), "findings")), 1);
  json_decref(doc);
}

/* The confirm step's baseline is the chassis asset management looked at:
 * the last report before it, as the TPM's is its last quote. A lid opened
 * and closed (a newer event-log record) or another BMC between the confirm
 * and the next report is not a baseline but a void. */
static void test_confirm_baseline_is_last_report(void **state) {
  (void)state;
  ctl_telemetry_conf conf;
  lisec_err err = {0};
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(ctl_telemetry_conf_read(cfg, &conf, &err), 0);
  lisec_config_free(cfg);
  char v2[sizeof QUIET + 64];
  snprintf(v2, sizeof v2, "%.*s,\"sel_intrusion\":\"3 12/01/2026 10:00:00\",\"version\":2}",
           (int)(strlen(QUIET) - strlen(",\"version\":1}")), QUIET);
  json_t *doc = json_object();
  attest_chassis c = parsed(v2);
  attest_chassis_verdict v;
  int64_t now = 1800000000;
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  /* an intrusion between two reports, found in the event log: void */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "9 12/07/2026 03:30:00");
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 1);
  /* asset management looks into record 9 and the operator confirms */
  ctl_telemetry_confirmed(doc);
  assert_null(json_object_get(doc, "chassis_void"));
  json_t *base = json_object_get(json_object_get(doc, "chassis"), "base");
  const char *sel = json_string_value(json_object_get(base, "sel_intrusion")),
             *guid = json_string_value(json_object_get(base, "guid"));
  assert_non_null(sel);
  assert_non_null(guid);
  assert_string_equal(sel, "9 12/07/2026 03:30:00");
  assert_string_equal(guid, "g-1");
  assert_int_equal(json_integer_value(json_object_get(base, "max_poh_h")), 1200);
  json_t *kept = json_deep_copy(doc);
  /* the record confirmed, read again: nothing */
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  /* the lid opened and closed after the confirm, before the next report */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "10 12/07/2026 05:00:00");
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 1);
  assert_non_null(strstr(v.voids[0], "event log records a chassis intrusion since the last confirmation (SEL "
                                     "record 10 12/07/2026 05:00:00)"));
  json_decref(doc);
  /* another BMC after the confirm, before the next report */
  doc = kept;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "9 12/07/2026 03:30:00");
  snprintf(c.guid, sizeof c.guid, "g-2");
  ctl_telemetry_appraise(doc, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 1);
  assert_non_null(strstr(v.voids[0], "the BMC's identity (GUID, manufacturer, product) changed"));
  /* a confirm with no report before it (or one whose BMC did not answer)
   * leaves the next report to be the baseline */
  json_t *bare = json_object();
  ctl_telemetry_confirmed(bare);
  ctl_telemetry_appraise(bare, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  attest_chassis silent = parsed("{\"asset_tag\":null,\"bmc\":null,\"cpu_c\":null,\"host\":\"" HOST "\","
                                 "\"inlet_c\":null,\"intrusion\":null,\"poh_h\":null,\"power\":null,"
                                 "\"power_w\":null,\"read_at\":1800000000,\"sel_intrusion\":null,\"version\":2}");
  ctl_telemetry_appraise(bare, &silent, &conf, "LAB-0042", NULL, now, &v);
  ctl_telemetry_confirmed(bare);
  snprintf(c.guid, sizeof c.guid, "g-3");
  ctl_telemetry_appraise(bare, &c, &conf, "LAB-0042", NULL, now, &v);
  assert_int_equal(v.nvoid, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(bare, "chassis"), "base"), "guid")),
                      "g-3");
  json_decref(bare);
  json_decref(doc);
}

static void test_findings_in_compliance(void **state) {
  fx *f = *state;
  lisec_err err = {0};
  const char *doc = "{\"chassis_void\":\"TR103308-6.2-R10/R14: the BMC reports a chassis intrusion\","
                    "\"chassis\":{\"findings\":[\"TR103308-5.6-O.1.1: power\"]}}";
  assert_int_equal(store_doc_put(f->ctl->store, "attest.host", HOST, doc, -1, NULL, &err), 0);
  json_t *viol = json_array();
  assert_int_equal(ctl_telemetry_findings(f->ctl, viol, &err), 0);
  assert_int_equal(json_array_size(viol), 2);
  json_t *v0 = json_array_get(viol, 0);
  assert_string_equal(json_string_value(json_object_get(v0, "requirement")), ATTEST_CHASSIS_REQ);
  assert_string_equal(json_string_value(json_object_get(v0, "subject")), "host " HOST);
  json_decref(viol);
  /* and through the compliance report the model makes */
  json_t *out = NULL;
  assert_int_equal(ctl_model_compliance_read(f->ctl, &out, &err), 0);
  size_t i, n = 0;
  json_t *v;
  json_array_foreach(json_object_get(out, "violations"), i, v)
      n += strcmp(json_string_value(json_object_get(v, "requirement")), ATTEST_CHASSIS_REQ) == 0;
  assert_int_equal(n, 2);
  json_decref(out);
  /* a stored document that does not parse fails the report, not silently */
  assert_int_equal(store_doc_put(f->ctl->store, "attest.host", HOST, "{", -1, NULL, &err), 0);
  viol = json_array();
  assert_int_not_equal(ctl_telemetry_findings(f->ctl, viol, &err), 0);
  json_decref(viol);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conf),
      cmocka_unit_test_setup_teardown(test_get, setup, teardown),
      cmocka_unit_test(test_appraise_latch_and_confirm),
      cmocka_unit_test(test_confirm_baseline_is_last_report),
      cmocka_unit_test_setup_teardown(test_findings_in_compliance, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
