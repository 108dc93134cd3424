/* The package images an observation is held to, as the controller keeps
 * them (ctl/pkg.c, issue 15): read from the store once per package, not per
 * report, and dropped as soon as a package or a vendor CRL is written
 * through ctl/pkg.c, so an image change that came with a retirement (or an
 * upload, which writes through the same path) is seen by the very next
 * observation. What is checked is the "expected" list of the observation
 * document the model builds (ctl_model_observe_doc), which is what the
 * running image is judged against; and that document's text, written
 * without a jansson tree, against the canonical dump of the same document.
 * And a package stored before lisec kept the SHA-256 of images listed with
 * SHA-384 or SHA-512 (built here by leaving the field out of the stored
 * description): it and its VMs are reported not compliant, naming the
 * requirement and the upload that mends it, not left unjudged. */
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
#include "ctl/pkg.h"
#include "ctl_fixture.h"
#include "store/store.h"

#define IMG_A "aa0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define IMG_B "bb0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define IMG_OLD "cc0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static char tmpdir[64];
static lisec_ctl *ctl;
static const ctl_actor OPERATOR = {"op-1", "operator", CTL_ROLE_OPERATOR};
static const ctl_actor AGENT = {"host", "host", CTL_ROLE_HOST};

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-pkgimg-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-admin.pub"))
    return -1;
  lisec_config *cfg = ctl_fixture_config(tmpdir, "li-admin.pub");
  lisec_config_set(cfg, "attest", "interval_s", "300");
  lisec_config_set(cfg, "attest", "grace_s", "60");
  ctl_fixture_open(cfg, &ctl);
  ctl_fixture_put(ctl, "host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  ctl_fixture_put(ctl, "hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  lisec_err err = {0};
  model_location loc = {.country = "FI", .source = MODEL_LOC_ATTESTED};
  assert_int_equal(ctl_model_host_attested(ctl, "hel-1", MODEL_TRUST_TRUSTED, "trusted", &loc, &err), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, tmpdir);
}

/* Package probe as on-boarding leaves it: version 1.0 with one image
 * (current), version 0.9 before it with another; written straight into the
 * store, past ctl/pkg.c, as another process's write would be. */
static void store_package(const char *image) {
  char body[1024];
  snprintf(body, sizeof body,
           "{\"id\":\"probe\",\"li\":false,\"record\":{\"owner\":\"operator\",\"package_version\":"
           "\"1.0\"},\"verification\":{\"artifacts\":[{\"path\":\"Artifacts/Images/probe.qcow2\","
           "\"algorithm\":\"SHA-256\",\"hash\":\"%s\",\"image\":true}]},\"previous\":[{"
           "\"package_version\":\"0.9\",\"images\":[\"sha256:" IMG_OLD "\"]}]}",
           image);
  lisec_err err = {0};
  assert_int_equal(store_doc_put(ctl->store, "pkg", "probe", body, -1, NULL, &err), 0);
}

/* The images hel-1's report of VM web (running image) is held to: the
 * observation document's "expected" for it, as one string. */
static void expected_of(const char *image, char out[256]) {
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", image};
  ctl_observation o = {"hel-1", lisec_time_now(), "e000000000000001", &d, 1};
  ctl_model_obs_prep *prep = NULL;
  char *text = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &text, &(bool){false}, &err), 0);
  json_t *doc = json_loads(text, 0, NULL);
  assert_non_null(doc);
  char *exp = json_dumps(json_object_get(json_array_get(json_object_get(doc, "domains"), 0), "expected"),
                         JSON_COMPACT);
  snprintf(out, 256, "%s", exp ? exp : "?");
  free(exp);
  json_decref(doc);
  free(text);
  ctl_model_obs_prep_free(prep);
}

/* hel-1 proves it runs web with image (the model takes it). */
static void observe(const char *image) {
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", image};
  ctl_observation o = {"hel-1", lisec_time_now(), "e000000000000002", &d, 1};
  lisec_err err = {0};
  assert_int_equal(ctl_model_observe(ctl, &AGENT, &o, &err), 0);
}

static void test_images_kept_until_a_package_changes(void **state) {
  (void)state;
  char got[256];
  store_package(IMG_A);
  ctl_fixture_put(ctl, "vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\",\"package\":\"probe\"}");
  expected_of(IMG_A, got);
  assert_string_equal(got, "[\"" IMG_A "\"]");
  /* Kept: a write that does not go through ctl/pkg.c is not read again
   * per report (this is what saves the store read). */
  store_package(IMG_B);
  expected_of(IMG_B, got);
  assert_string_equal(got, "[\"" IMG_A "\"]");
  observe(IMG_B);
  /* A retirement written through ctl/pkg.c drops what was kept: the next
   * report is held to the package as stored now. */
  json_t *body = json_pack("{s:s, s:s}", "version", "0.9", "reason", "superseded"), *out = NULL;
  lisec_err err = {0};
  int rc = ctl_pkg_retire(ctl, &OPERATOR, "probe", body, &out, &err);
  if (rc) fail_msg("retire: %s", err.msg);
  json_decref(body);
  json_decref(out);
  expected_of(IMG_B, got);
  assert_string_equal(got, "[\"" IMG_B "\"]");
  /* A refused retirement (no such version) writes nothing and keeps what
   * is kept. */
  store_package(IMG_A);
  body = json_pack("{s:s}", "version", "0.8");
  assert_int_not_equal(ctl_pkg_retire(ctl, &OPERATOR, "probe", body, &out, &err), 0);
  json_decref(body);
  expected_of(IMG_B, got);
  assert_string_equal(got, "[\"" IMG_B "\"]");
}

static void test_unknown_package_then_stored(void **state) {
  (void)state;
  char got[256];
  ctl_fixture_put(ctl, "vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\",\"package\":\"probe\"}");
  /* A package lisec does not hold names no image (not judged)... */
  expected_of(IMG_A, got);
  assert_string_equal(got, "[]");
  store_package(IMG_A);
  observe(IMG_A);
  /* ...until one is written through ctl/pkg.c (here: its retirement of
   * 0.9, which goes through the same write as an upload). */
  json_t *body = json_pack("{s:s}", "version", "0.9"), *out = NULL;
  lisec_err err = {0};
  int rc = ctl_pkg_retire(ctl, &OPERATOR, "probe", body, &out, &err);
  if (rc) fail_msg("retire: %s", err.msg);
  json_decref(body);
  json_decref(out);
  expected_of(IMG_A, got);
  assert_string_equal(got, "[\"" IMG_A "\"]");
}

/* A package whose manifest lists its image with SHA-512 (SOL 004 allows
 * it): the observation, which knows a running image by its SHA-256, is
 * held to the image's SHA-256 that verification kept beside it, not to
 * nothing (which would leave the image unjudged). */
static void test_sha512_image(void **state) {
  (void)state;
  char got[256];
  ctl_fixture_put(ctl, "vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\",\"package\":\"probe\"}");
  const char *body =
      "{\"id\":\"probe\",\"li\":false,\"record\":{\"owner\":\"operator\",\"package_version\":"
      "\"1.0\"},\"verification\":{\"artifacts\":[{\"path\":\"Artifacts/Images/probe.qcow2\","
      "\"algorithm\":\"SHA-512\",\"hash\":\"" IMG_A IMG_A "\",\"sha256\":\"" IMG_B "\","
      "\"image\":true}]}}";
  lisec_err err = {0};
  assert_int_equal(store_doc_put(ctl->store, "pkg", "probe", body, -1, NULL, &err), 0);
  expected_of(IMG_A, got);
  assert_string_equal(got, "[\"" IMG_B "\"]");
}

/* The compliance findings of the pkg topic (image reports, and packages
 * whose images cannot be judged) naming subject, as "requirement|sentence"
 * lines. */
static void findings_of(const char *subject, char *out, size_t n) {
  json_t *v = json_array();
  lisec_err err = {0};
  assert_int_equal(ctl_pkg_image_findings(ctl, v, &err), 0);
  out[0] = '\0';
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) {
    if (strcmp(json_string_value(json_object_get(x, "subject")), subject) != 0) continue;
    size_t used = strlen(out);
    snprintf(out + used, n - used, "%s|%s\n", json_string_value(json_object_get(x, "requirement")),
             json_string_value(json_object_get(x, "sentence")));
  }
  json_decref(v);
}

static json_t *get_probe(void) {
  json_t *out = NULL;
  lisec_err err = {0};
  int rc = ctl_pkg_get(ctl, &OPERATOR, "probe", &out, &err);
  if (rc) fail_msg("get: %s", err.msg);
  return out;
}

static void test_legacy_sha512_image(void **state) {
  (void)state;
  char got[4096];
  ctl_fixture_put(ctl, "vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\",\"package\":\"probe\"}");
  /* as test_sha512_image's package, stored before "sha256" was kept */
  const char *body =
      "{\"id\":\"probe\",\"li\":false,\"record\":{\"owner\":\"operator\",\"package_version\":"
      "\"1.0\"},\"verification\":{\"artifacts\":[{\"path\":\"Artifacts/Images/probe.qcow2\","
      "\"algorithm\":\"SHA-512\",\"hash\":\"" IMG_A IMG_A "\",\"image\":true},{\"path\":"
      "\"Scripts/install.sh\",\"algorithm\":\"SHA-512\",\"hash\":\"" IMG_A IMG_A "\",\"image\":false}]}}";
  lisec_err err = {0};
  assert_int_equal(store_doc_put(ctl->store, "pkg", "probe", body, -1, NULL, &err), 0);
  /* nothing to hold an observation to... */
  expected_of(IMG_A, got);
  assert_string_equal(got, "[]");
  /* ...so the VM and the package are findings, saying what to do */
  findings_of("vm web", got, sizeof got);
  if (!strstr(got, "TR103308-4.2-IMAGE|TR103308-4.2-IMAGE: images not judged: package probe was "
                   "on-boarded before lisec kept the SHA-256 of images listed with SHA-384 or "
                   "SHA-512 (1 image(s), 'Artifacts/Images/probe.qcow2' first), so the image VM web "
                   "runs, ") ||
      !strstr(got, "upload the same CSAR again (PUT /v1/packages/probe"))
    fail_msg("findings of vm web: %s", got);
  findings_of("package probe", got, sizeof got);
  if (!strstr(got, "TR103308-4.2-IMAGE|") || !strstr(got, "images not judged"))
    fail_msg("findings of package probe: %s", got);
  json_t *d = get_probe();
  assert_true(json_is_false(json_object_get(d, "compliant")));
  assert_non_null(strstr(json_string_value(json_object_get(d, "images_not_judged")), "PUT /v1/packages/probe"));
  json_decref(d);
  /* an image listed with SHA-256 needs nothing more; one with its SHA-256
   * kept neither (test_sha512_image's description) */
  body = "{\"id\":\"probe\",\"li\":false,\"record\":{\"owner\":\"operator\",\"package_version\":"
         "\"1.0\"},\"verification\":{\"artifacts\":[{\"path\":\"Artifacts/Images/probe.qcow2\","
         "\"algorithm\":\"SHA-512\",\"hash\":\"" IMG_A IMG_A "\",\"sha256\":\"" IMG_B "\","
         "\"image\":true}]}}";
  assert_int_equal(store_doc_put(ctl->store, "pkg", "probe", body, -1, NULL, &err), 0);
  findings_of("vm web", got, sizeof got);
  assert_string_equal(got, "");
  findings_of("package probe", got, sizeof got);
  assert_string_equal(got, "");
  d = get_probe();
  assert_true(json_is_true(json_object_get(d, "compliant")));
  assert_null(json_object_get(d, "images_not_judged"));
  json_decref(d);
}

/* The observation document as the model writes it (directly, for the
 * plain strings an agent sends) is byte for byte the canonical dump of the
 * document it describes, built here with jansson; so is one with a string
 * outside the plain form (which the model builds with jansson itself). */
static void check_text(const ctl_observed_domain *d, size_t n, const char *const *images) {
  ctl_observation o = {"hel-1", 1764000000, "e00000000000000f", d, n};
  ctl_model_obs_prep *prep = NULL;
  char *text = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_model_observe_doc(ctl, &o, &prep, &text, &(bool){false}, &err), 0);
  json_t *doms = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *exp = json_array();
    for (size_t k = 0; d[i].vm && strcmp(d[i].vm, "web") == 0 && images[k]; k++)
      json_array_append_new(exp, json_string(images[k]));
    json_array_append_new(doms, json_pack("{s:s?, s:s?, s:s, s:s?, s:o}", "uuid", d[i].uuid, "vm", d[i].vm,
                                          "state", d[i].state, "image", d[i].image_sha256, "expected", exp));
  }
  json_t *doc = json_pack("{s:s, s:I, s:I, s:s, s:o}", "host", "hel-1", "at", (json_int_t)1764000000,
                          "first_at", (json_int_t)1764000000, "evidence", "e00000000000000f", "domains", doms);
  char *want = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  assert_non_null(want);
  assert_string_equal(text, want);
  free(want);
  json_decref(doc);
  free(text);
  ctl_model_obs_prep_free(prep);
}

static void test_observation_text(void **state) {
  (void)state;
  store_package(IMG_A);
  ctl_fixture_put(ctl, "vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\","
                             "\"domain\":\"core\",\"package\":\"probe\"}");
  static const char *const images[] = {IMG_A, NULL};
  ctl_observed_domain plain[] = {
      {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", IMG_B},
      {"6c1c5a4e-0000-4000-8000-000000000002", NULL, NULL, "paused", NULL},
      {"6c1c5a4e-0000-4000-8000-000000000003", "other", NULL, "shutoff", IMG_A},
      {"quote\" and \\ back/slash", "web", NULL, "crashed", NULL},
  };
  check_text(plain, 4, images);
  check_text(plain, 0, images);
  ctl_observed_domain other[] = {
      {"6c1c5a4e-0000-4000-8000-000000000001", "web", NULL, "running", IMG_A},
      {"caf\xc3\xa9\ttab", NULL, NULL, "running", NULL},
  };
  check_text(other, 2, images);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_images_kept_until_a_package_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_package_then_stored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_observation_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sha512_image, setup, teardown),
      cmocka_unit_test_setup_teardown(test_legacy_sha512_image, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
