/* Unit tests of the model's topology format and its refusals: unknown ids,
 * a VM on two hypervisors, a connection group that is not a path, an empty
 * jurisdiction, codes that are not ISO 3166 (UK and XK are not assigned
 * alpha-2 codes; GB is the United Kingdom's), polygons that do not close or
 * are not valid areas, unknown fields, malformed, oversized and too deeply
 * nested documents. Each refusal names the field, and a refused change to a
 * loaded model leaves it exactly as it was. Also: both example files load
 * and give the verdicts their descriptions state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

#ifndef LISEC_SRC_DIR
#define LISEC_SRC_DIR "."
#endif

static const int64_t T0 = 1780272000; /* 2026-06-01T00:00:00Z */

/* A small valid document; the bad cases each change one part of it. */
#define J_JUR "{\"id\":\"fi\",\"codes\":[\"FI\"]}"
#define J_HOST                                                                            \
  "{\"id\":\"h1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\"}}"
#define J_VMS                                                                             \
  "{\"id\":\"a\",\"hypervisor\":\"hv1\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true}," \
  "{\"id\":\"b\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"core\"},"  \
  "{\"id\":\"c\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"core\"}"
#define J_CONNS                                                                           \
  "{\"id\":\"c1\",\"between\":[\"a\",\"b\"],\"kind\":\"network\",\"secure\":true},"        \
  "{\"id\":\"c2\",\"between\":[\"b\",\"c\"],\"kind\":\"network\",\"secure\":true}"

static char *doc(const char *jurs, const char *hosts, const char *vms, const char *groups,
                 const char *lis) {
  char *out = NULL;
  int n = asprintf(&out,
                   "{\"jurisdictions\":[%s],\"leas\":[{\"id\":\"lea\"}],\"hosts\":[%s],"
                   "\"hypervisors\":[{\"id\":\"hv1\",\"host\":\"h1\"}],\"vms\":[%s],"
                   "\"storage\":[{\"id\":\"st\",\"vm\":\"c\",\"provided_to\":[\"a\"]}],"
                   "\"connections\":[" J_CONNS "],\"groups\":[%s],\"lis\":[%s]}",
                   jurs, hosts, vms, groups, lis);
  assert_true(n > 0);
  return out;
}

#define J_LI                                                                              \
  "{\"id\":\"li\",\"jurisdiction\":\"fi\",\"lea\":\"lea\",\"monitored\":\"b\",\"host\":\"a\"," \
  "\"storage\":\"st\",\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":"          \
  "\"2035-01-01T00:00:00Z\"}"
#define J_GROUPS                                                                          \
  "{\"id\":\"g1\",\"connections\":[\"c1\",\"c2\"],\"intermediates\":[{\"vm\":\"b\","     \
  "\"stores\":false}]}"

/* Loading must fail with code and a reason containing want. */
static void refused(char *json, int code, const char *want) {
  model *m = (model *)1;
  lisec_err err = {0};
  int rc = model_topology_load(json, strlen(json), T0, &m, &err);
  if (rc != code || !strstr(err.msg, want))
    fail_msg("expected %d with \"%s\", got %d: %s", code, want, rc, err.msg);
  assert_null(m);
  free(json);
}

static void test_valid_document(void **state) {
  (void)state;
  char *json = doc(J_JUR, J_HOST, J_VMS, J_GROUPS, J_LI);
  model *m;
  lisec_err err = {0};
  assert_int_equal(model_topology_load(json, strlen(json), T0, &m, &err), 0);
  model_stats s;
  model_get_stats(m, &s);
  assert_int_equal(s.vms, 3);
  assert_int_equal(s.groups, 1);
  assert_int_equal(s.lis_active, 1);
  model_free(m);
  free(json);
}

static void test_unknown_ids(void **state) {
  (void)state;
  refused(doc(J_JUR, J_HOST,
              "{\"id\":\"a\",\"hypervisor\":\"hv-9\",\"sensitivity\":\"li\",\"domain\":\"li\"}",
              "", ""),
          LISEC_ENOTFOUND, "vms[0].hypervisor: unknown hypervisor \"hv-9\"");
  refused(doc(J_JUR, J_HOST, J_VMS, J_GROUPS,
              "{\"id\":\"li\",\"jurisdiction\":\"se\",\"lea\":\"lea\",\"monitored\":\"b\","
              "\"host\":\"a\",\"storage\":\"st\",\"valid_from\":0,\"valid_until\":1}"),
          LISEC_ENOTFOUND, "lis[0].jurisdiction: unknown jurisdiction \"se\"");
  refused(doc(J_JUR, J_HOST, J_VMS,
              "{\"id\":\"g1\",\"connections\":[\"c1\",\"c9\"],\"intermediates\":[{\"vm\":\"b\","
              "\"stores\":false}]}",
              ""),
          LISEC_ENOTFOUND, "groups[0].connections[1]: unknown connection \"c9\"");
}

static void test_vm_on_two_hypervisors(void **state) {
  (void)state;
  refused(doc(J_JUR, J_HOST,
              J_VMS ",{\"id\":\"a\",\"hypervisor\":\"hv1\",\"sensitivity\":\"li\",\"domain\":"
                    "\"li\"}",
              "", ""),
          LISEC_EINVAL, "vms[3].id: VM \"a\" is listed twice");
  refused(doc(J_JUR, J_HOST,
              "{\"id\":\"a\",\"hypervisor\":[\"hv1\",\"hv2\"],\"sensitivity\":\"li\",\"domain\":"
              "\"li\"}",
              "", ""),
          LISEC_EINVAL, "vms[0].hypervisor: a VM runs on exactly one hypervisor");
}

static void test_group_not_a_path(void **state) {
  (void)state;
  /* c2 then c1 in the wrong order still chains (c2 b-c, c1 a-b); c1 twice does not. */
  refused(doc(J_JUR, J_HOST, J_VMS,
              "{\"id\":\"g1\",\"connections\":[\"c1\",\"c1\"],\"intermediates\":[{\"vm\":\"b\","
              "\"stores\":false}]}",
              ""),
          LISEC_EINVAL, "groups[0].connections[");
  refused(doc(J_JUR, J_HOST, J_VMS,
              "{\"id\":\"g1\",\"connections\":[\"c1\",\"c2\"],\"intermediates\":[{\"vm\":\"c\","
              "\"stores\":false}]}",
              ""),
          LISEC_EINVAL, "groups[0].intermediates[0]: \"c\" is not the VM joining connections c1 "
                        "and c2 (that is b)");
  refused(doc(J_JUR, J_HOST, J_VMS, "{\"id\":\"g1\",\"connections\":[\"c1\",\"c2\"]}", ""),
          LISEC_EINVAL, "groups[0].intermediates: a path of 2 connections passes 1 intermediate");
  refused(doc(J_JUR, J_HOST, J_VMS,
              "{\"id\":\"g1\",\"between\":[\"a\",\"b\"],\"connections\":[\"c1\",\"c2\"],"
              "\"intermediates\":[{\"vm\":\"b\",\"stores\":false}]}",
              ""),
          LISEC_EINVAL, "groups[0].between: the connections join VM a and VM c, not a and b");
  refused(doc(J_JUR, J_HOST, J_VMS, "{\"id\":\"g1\",\"connections\":[]}", ""), LISEC_EINVAL,
          "groups[0].connections: at least one connection");
  /* Two connections that share no VM. */
  char *json = NULL;
  assert_true(asprintf(&json,
                       "{\"hosts\":[" J_HOST "],\"hypervisors\":[{\"id\":\"hv1\",\"host\":"
                       "\"h1\"}],\"vms\":[" J_VMS ",{\"id\":\"d\",\"hypervisor\":\"hv1\","
                       "\"sensitivity\":\"general\",\"domain\":\"core\"}],\"connections\":["
                       "{\"id\":\"c1\",\"between\":[\"a\",\"b\"],\"kind\":\"ipc\",\"secure\":"
                       "true},{\"id\":\"c3\",\"between\":[\"c\",\"d\"],\"kind\":\"ipc\","
                       "\"secure\":true}],\"groups\":[{\"id\":\"g\",\"connections\":[\"c1\","
                       "\"c3\"],\"intermediates\":[{\"vm\":\"b\",\"stores\":false}]}]}") > 0);
  refused(json, LISEC_EINVAL, "groups[0].connections[1]: connection c3 shares no VM with connection c1");
}

static void test_empty_jurisdiction(void **state) {
  (void)state;
  refused(doc("{\"id\":\"fi\",\"codes\":[]}", J_HOST, J_VMS, J_GROUPS, J_LI), LISEC_EINVAL,
          "jurisdictions[0].codes: the jurisdiction is empty");
  refused(doc("{\"id\":\"fi\"}", J_HOST, J_VMS, J_GROUPS, J_LI), LISEC_EINVAL,
          "jurisdictions[0].codes: the jurisdiction is empty");
  refused(doc(J_JUR, J_HOST, J_VMS, J_GROUPS,
              "{\"id\":\"li\",\"jurisdiction\":{\"codes\":[]},\"lea\":\"lea\",\"monitored\":\"b\","
              "\"host\":\"a\",\"storage\":\"st\",\"valid_from\":0,\"valid_until\":1}"),
          LISEC_EINVAL, "lis[0].jurisdiction: the id of an entry");
}

static void test_invalid_codes(void **state) {
  (void)state;
  refused(doc("{\"id\":\"uk\",\"codes\":[\"UK\"]}", J_HOST, J_VMS, J_GROUPS, ""), LISEC_EINVAL,
          "jurisdictions[0].codes[0]: \"UK\" is not an ISO 3166-1 alpha-2 or ISO 3166-2 code");
  refused(doc("{\"id\":\"x\",\"codes\":[\"FI\",\"fi\"]}", J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "jurisdictions[0].codes[1]: \"fi\" is not");
  refused(doc("{\"id\":\"x\",\"codes\":[\"FI-99\"]}", J_HOST, J_VMS, J_GROUPS, ""), LISEC_EINVAL,
          "jurisdictions[0].codes[0]: \"FI-99\" is not");
  refused(doc(J_JUR,
              "{\"id\":\"h1\",\"protection\":\"li\",\"location\":{\"country\":\"XK\"}}", J_VMS,
              J_GROUPS, ""),
          LISEC_EINVAL, "hosts[0].location.country: \"XK\" is not an ISO 3166-1 alpha-2 code");
  refused(doc(J_JUR,
              "{\"id\":\"h1\",\"protection\":\"li\",\"location\":{\"country\":\"FI\","
              "\"subdivision\":\"SE-AB\"}}",
              J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "hosts[0].location.subdivision: SE-AB is not a subdivision of FI");
  refused(doc(J_JUR,
              "{\"id\":\"h1\",\"protection\":\"li\",\"location\":{\"country\":\"FI\",\"lat\":"
              "91,\"lon\":0}}",
              J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "hosts[0].location.lat: must be a number in -90..90");
  /* The ISO tables themselves. */
  assert_true(model_iso3166_country("FI"));
  assert_true(model_iso3166_country("GB"));
  assert_false(model_iso3166_country("UK"));
  assert_false(model_iso3166_country("EU"));
  assert_true(model_iso3166_subdivision("GB-SCT"));
  assert_true(model_iso3166_subdivision("FI-18"));
  assert_false(model_iso3166_subdivision("FI-20"));
}

static void test_polygons(void **state) {
  (void)state;
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[24,60],[25,"
              "60],[25,61],[24,61]]]}}",
              J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL,
          "jurisdictions[0].geometry.coordinates[0]: the ring does not close: its last position "
          "[24, 61] differs from its first [24, 60]");
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[[[[24,60],"
              "[25,60],[25,61],[24,60]]],[[[0,0],[1,0],[1,1],[0,1]]]]}}",
              J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "jurisdictions[0].geometry.coordinates[1][0]: the ring does not close");
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[24,60],[25,"
              "60],[24,60]]]}}",
              J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "a ring needs at least 4 positions");
  /* A bow tie closes but has no clear inside. */
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[2,2],"
              "[2,0],[0,2],[0,0]]]}}",
              J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "jurisdictions[0].geometry: not a valid area");
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]}}", J_HOST,
              J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "geometry.type: must be \"Polygon\" or \"MultiPolygon\"");
  refused(doc("{\"id\":\"p\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[200,0],"
              "[1,1],[0,0]]]}}",
              J_HOST, J_VMS, J_GROUPS, ""),
          LISEC_EINVAL, "longitude must be in -180..180");
}

static void test_malformed(void **state) {
  (void)state;
  refused(strdup("{\"hosts\":[}"), LISEC_EINVAL, "malformed JSON");
  refused(strdup("[]"), LISEC_EINVAL, "topology: must be a JSON object");
  refused(strdup("{\"hostz\":[]}"), LISEC_EINVAL, "hostz: unknown field");
  refused(doc(J_JUR, "{\"id\":\"h1\",\"protection\":\"li\",\"colour\":\"red\"}", "", "", ""),
          LISEC_EINVAL, "hosts[0].colour: unknown field");
  refused(doc(J_JUR, "{\"id\":\"h1\",\"protection\":\"top\"}", "", "", ""), LISEC_EINVAL,
          "hosts[0].protection: must be");
  refused(doc(J_JUR, "{\"id\":\"h 1\",\"protection\":\"li\"}", "", "", ""), LISEC_EINVAL,
          "hosts[0].id: not a valid id");
  refused(strdup("{\"format\":\"lisec-topology/2\"}"), LISEC_EINVAL, "format:");
  refused(doc(J_JUR, J_HOST, J_VMS, J_GROUPS,
              "{\"id\":\"li\",\"jurisdiction\":\"fi\",\"lea\":\"lea\",\"monitored\":\"b\","
              "\"host\":\"a\",\"storage\":\"st\",\"valid_from\":\"2030-01-01T00:00:00Z\","
              "\"valid_until\":\"2025-01-01T00:00:00Z\"}"),
          LISEC_EINVAL, "lis[0].valid_until: must be after valid_from");
  refused(doc(J_JUR, J_HOST, J_VMS, J_GROUPS,
              "{\"id\":\"li\",\"jurisdiction\":\"fi\",\"lea\":\"lea\",\"monitored\":\"b\","
              "\"host\":\"a\",\"storage\":\"st\",\"valid_from\":\"yesterday\","
              "\"valid_until\":1}"),
          LISEC_EINVAL, "lis[0].valid_from: not an RFC 3339");
  /* Nesting deeper than the JSON bound, refused before jansson recurses. */
  char *deep = malloc(200);
  memset(deep, '[', 199);
  deep[199] = '\0';
  refused(deep, LISEC_EINVAL, "nested deeper");
  /* Oversized: refused from its length alone. */
  model *m = NULL;
  lisec_err err = {0};
  assert_int_equal(model_topology_load("{}", (size_t)MODEL_TOPOLOGY_MAX + 1, T0, &m, &err),
                   LISEC_ETOOBIG);
  assert_null(m);
  /* An id longer than the bound. */
  char *longid = malloc(400);
  memset(longid, 'x', 399);
  longid[399] = '\0';
  char *json = NULL;
  assert_true(asprintf(&json, "{\"hosts\":[{\"id\":\"%s\",\"protection\":\"li\"}]}", longid) > 0);
  free(longid);
  refused(json, LISEC_EINVAL, "hosts[0].id: longer than 128 bytes");
}

/* Every compliance sentence, for comparing a model before and after. */
static char *snapshot(const model *m) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  json_t *j = model_verdict_json(&v);
  model_stats s;
  model_get_stats(m, &s);
  json_object_set_new(j, "stats", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "vms", (json_int_t)s.vms,
                                            "conns", (json_int_t)s.connections, "groups",
                                            (json_int_t)s.groups, "lis", (json_int_t)s.lis,
                                            "jurs", (json_int_t)s.jurisdictions, "att",
                                            (json_int_t)s.attachments, "hosts",
                                            (json_int_t)s.hosts));
  char *out = json_dumps(j, JSON_SORT_KEYS);
  json_decref(j);
  model_verdict_free(&v);
  return out;
}

static void put_refused(model *m, const char *kind, const char *json, int code, const char *want) {
  char *before = snapshot(m);
  json_error_t je;
  json_t *o = json_loads(json, 0, &je);
  assert_non_null(o);
  lisec_err err = {0};
  int rc = model_put_json(m, kind, o, &err);
  json_decref(o);
  if (rc != code || !strstr(err.msg, want))
    fail_msg("expected %d with \"%s\", got %d: %s", code, want, rc, err.msg);
  char *after = snapshot(m);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

static void test_refused_change_leaves_model(void **state) {
  (void)state;
  char *json = doc(J_JUR, J_HOST, J_VMS, J_GROUPS, J_LI);
  model *m;
  lisec_err err = {0};
  assert_int_equal(model_topology_load(json, strlen(json), T0, &m, &err), 0);
  free(json);
  /* Make it non-trivial: one violation to keep. */
  json_t *o = json_loads("{\"id\":\"c1\",\"between\":[\"a\",\"b\"],\"kind\":\"network\","
                         "\"secure\":false}",
                         0, NULL);
  assert_int_equal(model_put_json(m, "connection", o, &err), 0);
  json_decref(o);
  assert_true(model_violation_count(m) > 0);
  put_refused(m, "vm", "{\"id\":\"d\",\"hypervisor\":\"hv-9\",\"sensitivity\":\"li\",\"domain\":"
                       "\"li\"}",
              LISEC_ENOTFOUND, "hypervisor: unknown hypervisor \"hv-9\"");
  put_refused(m, "group", "{\"id\":\"g1\",\"connections\":[\"c2\",\"c2\"],\"intermediates\":"
                          "[{\"vm\":\"b\",\"stores\":true}]}",
              LISEC_EINVAL, "connections[");
  put_refused(m, "jurisdiction", "{\"id\":\"fi\",\"codes\":[\"FI\",\"ZZ\"]}", LISEC_EINVAL,
              "codes[1]");
  put_refused(m, "jurisdiction", "{\"id\":\"fi\",\"codes\":[]}", LISEC_EINVAL,
              "the jurisdiction is empty");
  put_refused(m, "jurisdiction",
              "{\"id\":\"fi\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],"
              "[1,1],[0,1]]]}}",
              LISEC_EINVAL, "does not close");
  put_refused(m, "host", "{\"id\":\"h1\",\"protection\":\"li\",\"location\":{\"country\":\"EU\"}}",
              LISEC_EINVAL, "location.country");
  put_refused(m, "storage", "{\"id\":\"st\",\"vm\":\"c\",\"provided_to\":[\"a\",\"zz\"]}",
              LISEC_ENOTFOUND, "provided_to[1]: unknown VM \"zz\"");
  put_refused(m, "storage", "{\"id\":\"st\",\"vm\":\"c\",\"provided_to\":[\"c\"]}", LISEC_EINVAL,
              "not provided to its own root");
  put_refused(m, "hypervisor", "{\"id\":\"hv1\",\"host\":\"h2\"}", LISEC_ENOTFOUND, "host");
  put_refused(m, "li", "{\"id\":\"li\",\"jurisdiction\":\"fi\",\"lea\":\"lea\",\"monitored\":\"b\","
                       "\"host\":\"zz\",\"storage\":\"st\",\"valid_from\":0,\"valid_until\":1}",
              LISEC_ENOTFOUND, "host: unknown VM \"zz\"");
  put_refused(m, "connection", "{\"id\":\"c1\",\"between\":[\"a\",\"c\"],\"kind\":\"network\","
                               "\"secure\":true}",
              LISEC_ECONFLICT, "part of group g1");
  put_refused(m, "connection", "{\"id\":\"c9\",\"between\":[\"a\",\"a\"],\"kind\":\"network\","
                               "\"secure\":true}",
              LISEC_EINVAL, "two different VMs");
  put_refused(m, "nonsense", "{}", LISEC_EINVAL, "unknown entity kind");
  /* Removals that would leave dangling references are refused too. */
  char *before = snapshot(m);
  assert_int_equal(model_remove_kind(m, "vm", "a", &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "VM a is named by LI li"));
  assert_int_equal(model_remove_kind(m, "connection", "c1", &err), LISEC_ECONFLICT);
  assert_int_equal(model_remove_kind(m, "jurisdiction", "fi", &err), LISEC_ECONFLICT);
  assert_int_equal(model_remove_kind(m, "host", "h1", &err), LISEC_ECONFLICT);
  assert_int_equal(model_remove_kind(m, "storage", "st", &err), LISEC_ECONFLICT);
  assert_int_equal(model_remove_kind(m, "vm", "zz", &err), LISEC_ENOTFOUND);
  char *after = snapshot(m);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* ... and removal in order works. */
  assert_int_equal(model_remove_kind(m, "li", "li", &err), 0);
  assert_int_equal(model_remove_kind(m, "group", "g1", &err), 0);
  assert_int_equal(model_remove_kind(m, "connection", "c1", &err), 0);
  assert_int_equal(model_storage_detach(m, "st", "a", &err), 0);
  assert_int_equal(model_remove_kind(m, "storage", "st", &err), 0);
  assert_int_equal(model_remove_kind(m, "vm", "a", &err), 0);
  assert_int_equal(model_violation_count(m), 0);
  model_free(m);
}

static model *load_example(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/examples/%s", LISEC_SRC_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = malloc(1 << 20);
  assert_non_null(buf);
  size_t len = fread(buf, 1, 1 << 20, f);
  fclose(f);
  model *m = NULL;
  lisec_err err = {0};
  if (model_topology_load(buf, len, T0, &m, &err)) fail_msg("%s: %s", name, err.msg);
  free(buf);
  return m;
}

static int has_rule(const model_verdict *v, model_rule r, const char *needle) {
  int n = 0;
  for (size_t i = 0; i < v->n; i++)
    if (v->reasons[i].rule == r && (!needle || strstr(v->reasons[i].sentence, needle))) n++;
  return n;
}

/* The larger example's description lists the violations it contains. */
static void test_large_example(void **state) {
  (void)state;
  model *m = load_example("topology-large.json");
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  for (size_t i = 0; i < v.n; i++)
    print_message("  %s %s: %s\n", v.reasons[i].requirement, v.reasons[i].subject,
                  v.reasons[i].sentence);
  /* The firewall fw-dmz stores (logs) what passes through it. */
  assert_int_equal(has_rule(&v, MODEL_R7, "intermediate VM fw-dmz"), 1);
  /* The Stockholm LI's data is stored in Tampere. */
  assert_int_equal(has_rule(&v, MODEL_R2, "LI li-se-1 is issued in SE"), 1);
  /* The Paris edge host has not attested. */
  assert_int_equal(has_rule(&v, MODEL_R8, "host par-2"), 1);
  assert_int_equal(has_rule(&v, MODEL_R6, "connection c-se-mon-fw"), 1);
  /* Storage st-fi, shared by the two LIs, is provided to a VM outside
   * each one's jurisdiction: the Swedish LI VM reads the Finnish LI's
   * data, the Finnish mediation VM the Swedish LI's. */
  assert_int_equal(has_rule(&v, MODEL_STORE, "LI li-fi-1 is issued in FI; host sto-1 is located in "
                                             "SE"), 1);
  assert_int_equal(has_rule(&v, MODEL_STORE, "LI li-se-1 is issued in SE; host hel-1 is located in "
                                             "FI"), 1);
  assert_int_equal(v.n, 6);
  model_verdict_free(&v);
  lisec_err err = {0};
  assert_int_equal(model_decide_move(m, "vm-fi-mme", "hv-tre-1", &v, &err), 0);
  assert_true(v.allow);
  model_verdict_free(&v);
  assert_int_equal(model_decide_move(m, "vm-fi-mme", "hv-sto-1", &v, &err), 0);
  assert_false(v.allow);
  assert_int_equal(has_rule(&v, MODEL_R11, "LI li-fi-1 is issued in FI; host sto-1 is located in SE"),
                   1);
  model_verdict_free(&v);
  model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_document),
      cmocka_unit_test(test_unknown_ids),
      cmocka_unit_test(test_vm_on_two_hypervisors),
      cmocka_unit_test(test_group_not_a_path),
      cmocka_unit_test(test_empty_jurisdiction),
      cmocka_unit_test(test_invalid_codes),
      cmocka_unit_test(test_polygons),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_refused_change_leaves_model),
      cmocka_unit_test(test_large_example),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
