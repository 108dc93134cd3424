/* Unit tests of model/ rules and decisions: every requirement of TR 103 308
 * §6.2 (1-15), §4.1, §4.2 and O.1.3/O.1.7 with a case that passes and one
 * that fails, the Helsinki/London example of §6.2 req. 1 from
 * examples/helsinki-london.json, and the moveVM, placement, connection and
 * storage decisions. Countries and subdivisions are ISO 3166 facts
 * (Helsinki and Espoo: FI / FI-18 Uusimaa; Tampere: FI-11 Pirkanmaa;
 * London: GB / GB-LND, inside GB-ENG). */
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

/* 2026-06-01T00:00:00Z, inside every validity period below. */
static const int64_t T0 = 1780272000;

/* A compliant platform: LI li-1 (Finland) monitors "target" (Espoo) from
 * LI VM li1 (Helsinki) through firewall fw1; its data goes over IPC to
 * via1, which mounts st1 from store1 in Tampere over NFS. */
static const char base_json[] =
    "{\"format\":\"lisec-topology/1\","
    "\"jurisdictions\":["
    " {\"id\":\"fi\",\"codes\":[\"FI\"]},"
    " {\"id\":\"uusimaa\",\"codes\":[\"FI-18\"]},"
    " {\"id\":\"gb-eng\",\"codes\":[\"GB-ENG\"]},"
    " {\"id\":\"hki-area\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
    "   [[[24.5,60.0],[25.3,60.0],[25.3,60.4],[24.5,60.4],[24.5,60.0]]]}}],"
    "\"leas\":[{\"id\":\"lea-fi\",\"name\":\"LEA FI\",\"jurisdiction\":\"fi\"}],"
    "\"hosts\":["
    " {\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\","
    "   \"subdivision\":\"FI-18\",\"lat\":60.1699,\"lon\":24.9384,\"site\":\"Helsinki\"}},"
    " {\"id\":\"hel-2\",\"trust\":\"trusted\",\"protection\":\"sensitive\",\"location\":"
    "   {\"country\":\"FI\",\"subdivision\":\"FI-18\",\"lat\":60.2055,\"lon\":24.6559}},"
    " {\"id\":\"tre-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":"
    "   {\"country\":\"FI\",\"subdivision\":\"FI-11\",\"lat\":61.4978,\"lon\":23.7610}},"
    " {\"id\":\"lon-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":"
    "   {\"country\":\"GB\",\"subdivision\":\"GB-LND\",\"lat\":51.5155,\"lon\":-0.0922}},"
    " {\"id\":\"unk-1\",\"protection\":\"li\",\"location\":{\"country\":\"FI\"}},"
    " {\"id\":\"edge-1\",\"trust\":\"trusted\",\"protection\":\"general\",\"location\":"
    "   {\"country\":\"FI\"}}],"
    "\"hypervisors\":[{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"},{\"id\":\"hv-hel-2\",\"host\":"
    " \"hel-2\"},{\"id\":\"hv-tre-1\",\"host\":\"tre-1\"},{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"},"
    " {\"id\":\"hv-unk-1\",\"host\":\"unk-1\"},{\"id\":\"hv-edge-1\",\"host\":\"edge-1\"}],"
    "\"vms\":["
    " {\"id\":\"target\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"sensitive\",\"domain\":"
    "   \"core\"},"
    " {\"id\":\"fw1\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\",\"domain\":\"dmz\"},"
    " {\"id\":\"li1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\","
    "   \"paired\":true},"
    " {\"id\":\"via1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\","
    "   \"paired\":true},"
    " {\"id\":\"store1\",\"hypervisor\":\"hv-tre-1\",\"sensitivity\":\"li\",\"domain\":\"li\","
    "   \"paired\":true},"
    " {\"id\":\"other\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\",\"domain\":"
    "   \"core\"}],"
    "\"storage\":[{\"id\":\"st1\",\"vm\":\"store1\",\"provided_to\":[\"via1\"]}],"
    "\"connections\":["
    " {\"id\":\"c1\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\",\"secure\":true},"
    " {\"id\":\"c2\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\",\"secure\":true},"
    " {\"id\":\"c3\",\"between\":[\"li1\",\"via1\"],\"kind\":\"ipc\",\"secure\":true},"
    " {\"id\":\"c4\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\",\"secure\":true},"
    " {\"id\":\"c5\",\"between\":[\"other\",\"fw1\"],\"kind\":\"network\",\"secure\":false}],"
    "\"groups\":["
    " {\"id\":\"g1\",\"between\":[\"target\",\"li1\"],\"connections\":[\"c1\",\"c2\"],"
    "   \"intermediates\":[{\"vm\":\"fw1\",\"stores\":false}]},"
    " {\"id\":\"g2\",\"connections\":[\"c3\"]},"
    " {\"id\":\"g3\",\"connections\":[\"c4\"]},"
    " {\"id\":\"g5\",\"connections\":[\"c5\"]}],"
    "\"lis\":[{\"id\":\"li-1\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":\"target\","
    " \"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
    " \"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}]}";

static model *load(const char *json) {
  model *m = NULL;
  lisec_err err = {0};
  int rc = model_topology_load(json, strlen(json), T0, &m, &err);
  if (rc) fail_msg("load: %s", err.msg);
  return m;
}

static model *base(void) { return load(base_json); }

/* Violations of rule r whose sentence contains needle (NULL: any). */
static size_t count(model *m, model_rule r, const char *needle) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  size_t n = 0;
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == r && (!needle || strstr(v.reasons[i].sentence, needle))) n++;
  assert_int_equal(v.n, model_violation_count(m));
  model_verdict_free(&v);
  return n;
}

static size_t total(model *m) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  size_t n = v.n;
  for (size_t i = 0; i < v.n; i++)
    print_message("  %s %s: %s\n", v.reasons[i].requirement, v.reasons[i].subject,
                  v.reasons[i].sentence);
  model_verdict_free(&v);
  return n;
}

static bool has(const model_verdict *v, model_rule r, const char *needle) {
  for (size_t i = 0; i < v->n; i++)
    if (v->reasons[i].rule == r && (!needle || strstr(v->reasons[i].sentence, needle)) &&
        strcmp(v->reasons[i].requirement, model_rule_id(r)) == 0 && v->reasons[i].fact[0])
      return true;
  return false;
}

static void ok(int rc, const lisec_err *err) {
  if (rc) fail_msg("unexpected failure %d: %s", rc, err->msg);
}

static void move(model *m, const char *vm, const char *hyp) {
  lisec_err err = {0};
  ok(model_vm_move(m, vm, hyp, &err), &err);
}

static void put(model *m, const char *kind, const char *json) {
  lisec_err err = {0};
  json_error_t je;
  json_t *o = json_loads(json, 0, &je);
  assert_non_null(o);
  ok(model_put_json(m, kind, o, &err), &err);
  json_decref(o);
}

static void test_base_compliant(void **state) {
  (void)state;
  model *m = base();
  assert_int_equal(total(m), 0);
  model_free(m);
}

/* ---- §6.2 req. 1 and the Helsinki / London example ------------------------------ */

static char *read_example(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/examples/%s", LISEC_SRC_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = malloc(1 << 20);
  assert_non_null(buf);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static void test_helsinki_london(void **state) {
  (void)state;
  size_t len;
  char *json = read_example("helsinki-london.json", &len);
  model *m = NULL;
  lisec_err err = {0};
  ok(model_topology_load(json, len, T0, &m, &err), &err);
  free(json);
  /* The monitored VM in Helsinki: acceptable. */
  assert_int_equal(total(m), 0);
  model_verdict v;
  ok(model_decide_move(m, "vm-target", "hv-hel-1", &v, &err), &err);
  assert_true(v.allow);
  assert_int_equal(v.n, 0);
  model_verdict_free(&v);
  /* ... in London: not acceptable, and the reason says so with both places. */
  ok(model_decide_move(m, "vm-target", "hv-lon-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R11, "LI li-fi-1 is issued in FI; host lon-1 is located in GB"));
  model_verdict_free(&v);
  /* A decision leaves the model as it was. */
  assert_int_equal(total(m), 0);
  /* If the VM runs in London anyway, compliance names req. 1. */
  move(m, "vm-target", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R1, "LI li-fi-1 is issued in FI; host lon-1 is located in GB"),
                   1);
  move(m, "vm-target", "hv-hel-2");
  assert_int_equal(total(m), 0);
  model_free(m);
}

static void test_r1_location(void **state) {
  (void)state;
  model *m = base();
  move(m, "target", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R1, "which the LI monitors"), 1);
  move(m, "li1", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R1, "which hosts the LI function"), 1);
  move(m, "target", "hv-hel-2");
  move(m, "li1", "hv-hel-1");
  assert_int_equal(count(m, MODEL_R1, NULL), 0);
  /* A jurisdiction of one subdivision: Espoo and Helsinki are in Uusimaa,
   * Tampere (the storage) is not. */
  put(m, "li", "{\"id\":\"li-1\",\"jurisdiction\":\"uusimaa\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}");
  assert_int_equal(count(m, MODEL_R1, NULL), 0);
  assert_int_equal(count(m, MODEL_R2, "host tre-1 is located in FI (FI-11"), 1);
  /* A geofence polygon: coordinates inside it pass, Tampere's do not. */
  put(m, "li", "{\"id\":\"li-1\",\"jurisdiction\":\"hki-area\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}");
  assert_int_equal(count(m, MODEL_R1, NULL), 0);
  assert_int_equal(count(m, MODEL_R2, "host tre-1"), 1);
  /* A parent subdivision contains its children: GB-LND lies in GB-ENG. */
  put(m, "li", "{\"id\":\"li-1\",\"jurisdiction\":\"gb-eng\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}");
  move(m, "target", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R1, "VM target"), 0);
  assert_int_equal(count(m, MODEL_R1, "VM li1"), 1);
  model_free(m);
}

static void test_r1_unknown_location(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  ok(model_host_set_location(m, "hel-2", NULL, &err), &err);
  assert_int_equal(count(m, MODEL_R1, "host hel-2 has no known location"), 1);
  model_free(m);
}

/* ---- req. 2, 3: storage inside the jurisdiction ---------------------------------- */

static void test_r2_r3_storage_location(void **state) {
  (void)state;
  model *m = base();
  assert_int_equal(count(m, MODEL_R2, NULL) + count(m, MODEL_R3, NULL), 0);
  move(m, "store1", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R2, "VM store1, which provides the LI's storage"), 1);
  move(m, "store1", "hv-tre-1");
  move(m, "via1", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R3, "VM via1, which stores the LI's data"), 1);
  model_free(m);
}

/* ---- req. 4, 5: connection paths -------------------------------------------------- */

static void test_r4_path(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  assert_int_equal(count(m, MODEL_R4, NULL), 0);
  ok(model_group_remove(m, "g1", &err), &err);
  assert_int_equal(count(m, MODEL_R4, "no connection group joins target and li1"), 1);
  /* A group whose IPC hop spans two machines is no path. */
  put(m, "connection", "{\"id\":\"c2\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"ipc\","
                       "\"secure\":true}");
  put(m, "group", "{\"id\":\"g1\",\"connections\":[\"c1\",\"c2\"],\"intermediates\":"
                  "[{\"vm\":\"fw1\",\"stores\":false}]}");
  assert_int_equal(count(m, MODEL_R4, "IPC connection c2 between fw1 on host hel-2 and li1 on "
                                      "host hel-1"),
                   1);
  /* ... and works again once both ends share the hardware. */
  move(m, "fw1", "hv-hel-1");
  assert_int_equal(count(m, MODEL_R4, NULL), 0);
  model_free(m);
}

static void test_r5_storage_path(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  assert_int_equal(count(m, MODEL_R5, NULL), 0);
  /* Without g3 the direct connection c4 is still the path (a group of
   * one); without c4 as well there is none. */
  ok(model_group_remove(m, "g3", &err), &err);
  ok(model_conn_remove(m, "c4", &err), &err);
  assert_int_equal(count(m, MODEL_R5, "storage st1 is rooted in VM store1 and provided to VM via1, "
                                      "but no connection group joins via1 and store1"),
                   1);
  ok(model_group_remove(m, "g2", &err), &err);
  ok(model_conn_remove(m, "c3", &err), &err);
  assert_int_equal(count(m, MODEL_R5, "stores its data through VM via1, but no connection group"),
                   1);
  ok(model_storage_detach(m, "st1", "via1", &err), &err);
  assert_int_equal(count(m, MODEL_R5, "st1 is not provided to via1"), 1);
  /* Storage provided outside any LI still implies a connection. */
  model_free(m);
  m = base();
  put(m, "storage", "{\"id\":\"st-x\",\"vm\":\"fw1\",\"provided_to\":[\"other\"]}");
  assert_int_equal(count(m, MODEL_R5, NULL), 0); /* g5 joins other and fw1 */
  put(m, "storage", "{\"id\":\"st-y\",\"vm\":\"fw1\",\"provided_to\":[\"via1\"]}");
  assert_int_equal(count(m, MODEL_R5, "storage st-y"), 1);
  model_free(m);
}

/* §6.2: "A simple direct connection between two VMs implies that the
 * connection group has a single connection." A direct connection no group
 * object names is such a group: it satisfies R4 and R5 as an explicit
 * one-connection group does, fails them the same way (an IPC hop across
 * machines), and is held to R6 the same way. */
static void test_direct_connection_is_a_group_of_one(void **state) {
  (void)state;
  lisec_err err = {0};
  model_verdict v;
  model *m = base();
  /* LI VM li1 <-> storage VM via1 (c3, IPC) and via1 <-> provider store1
   * (c4, NFS) with no group object: R5 holds, nothing else changes. */
  ok(model_group_remove(m, "g2", &err), &err);
  ok(model_group_remove(m, "g3", &err), &err);
  assert_int_equal(count(m, MODEL_R5, NULL), 0);
  assert_int_equal(total(m), 0);
  /* Monitored VM target <-> LI VM li1 over one direct connection, no group:
   * R4 holds. */
  ok(model_group_remove(m, "g1", &err), &err);
  ok(model_conn_remove(m, "c2", &err), &err); /* li1's hop to fw1 served only g1 */
  assert_int_equal(count(m, MODEL_R4, "no connection group joins target and li1"), 1);
  put(m, "connection", "{\"id\":\"c6\",\"between\":[\"target\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  assert_int_equal(count(m, MODEL_R4, NULL), 0);
  assert_int_equal(total(m), 0);
  /* Failing variant of R5: the IPC connection c3 spans two machines once
   * via1 moves; the decision says so before the move, and the compliance
   * report after it, exactly as for the explicit group g2. */
  ok(model_decide_move(m, "via1", "hv-tre-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R5, "the direct one is IPC connection c3 between li1 on host hel-1 and "
                                "via1 on host tre-1"));
  model_verdict_free(&v);
  move(m, "via1", "hv-tre-1");
  assert_int_equal(count(m, MODEL_R5, "every connection group joining li1 and via1 is broken"), 1);
  model *e = base(); /* the same with the explicit one-connection group */
  move(e, "via1", "hv-tre-1");
  assert_int_equal(count(e, MODEL_R5, "every connection group joining li1 and via1 is broken: "
                                      "group g2 uses IPC connection c3"),
                   1);
  model_free(e);
  move(m, "via1", "hv-hel-1");
  assert_int_equal(count(m, MODEL_R5, NULL), 0);
  /* Failing variant of R4: removing the direct connection leaves no path. */
  ok(model_conn_remove(m, "c6", &err), &err);
  assert_int_equal(count(m, MODEL_R4, "no connection group joins target and li1"), 1);
  put(m, "connection", "{\"id\":\"c6\",\"between\":[\"li1\",\"target\"],\"kind\":\"ipc\","
                       "\"secure\":true}");
  assert_int_equal(count(m, MODEL_R4, "the direct one is IPC connection c6"), 1);
  move(m, "target", "hv-hel-1");
  assert_int_equal(count(m, MODEL_R4, NULL), 0);
  /* R6: the direct storage path via1 <-> store1 carries the LI's data, so
   * it has to be secure, as g3 would have to be. */
  put(m, "connection", "{\"id\":\"c4\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":false}");
  assert_int_equal(count(m, MODEL_R6, "connection c4 directly joins VM via1 and VM store1 and is "
                                      "the data path of LI li-1"),
                   1);
  e = base();
  put(e, "connection", "{\"id\":\"c4\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":false}");
  assert_int_equal(count(e, MODEL_R6, "connection group g3"), 1);
  model_free(e);
  /* once a group names it, the group's R6 speaks for it, once */
  put(m, "group", "{\"id\":\"g3\",\"connections\":[\"c4\"]}");
  assert_int_equal(count(m, MODEL_R6, NULL), 1);
  assert_int_equal(count(m, MODEL_R6, "connection group g3"), 1);
  model_free(m);
}

/* ---- req. 6, 7: secure, non-storing LI connection groups ---------------------------- */

static void test_r6_secure(void **state) {
  (void)state;
  model *m = base();
  assert_int_equal(count(m, MODEL_R6, NULL), 0);
  /* c5 is insecure but carries no LI traffic. */
  put(m, "connection", "{\"id\":\"c1\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":false}");
  assert_int_equal(count(m, MODEL_R6, "connection group g1 between VM target and VM li1 carries "
                                      "the traffic of LI li-1, but its network connection c1"),
                   1);
  assert_int_equal(count(m, MODEL_R6, NULL), 1);
  put(m, "connection", "{\"id\":\"c2\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":false}");
  /* c2 touches the LI VM itself: the connection and its group. */
  assert_int_equal(count(m, MODEL_R6, "VM li1 hosts LI li-1, and its network connection c2"), 1);
  assert_int_equal(count(m, MODEL_R6, NULL), 2);
  model_free(m);
}

static void test_r7_no_storing_intermediate(void **state) {
  (void)state;
  model *m = base();
  assert_int_equal(count(m, MODEL_R7, NULL), 0);
  put(m, "group", "{\"id\":\"g1\",\"connections\":[\"c1\",\"c2\"],\"intermediates\":"
                  "[{\"vm\":\"fw1\",\"stores\":true}]}");
  assert_int_equal(count(m, MODEL_R7, "intermediate VM fw1 of connection group g1"), 1);
  /* A storing intermediate on a path that carries no LI traffic is no
   * concern of req. 7. */
  put(m, "connection", "{\"id\":\"c6\",\"between\":[\"fw1\",\"target\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "group", "{\"id\":\"g6\",\"connections\":[\"c5\",\"c6\"],\"intermediates\":"
                  "[{\"vm\":\"fw1\",\"stores\":true}]}");
  assert_int_equal(count(m, MODEL_R7, "group g6"), 0);
  model_free(m);
}

/* ---- req. 8-10 (12-14): trusted hardware ------------------------------------------- */

static void test_r8_r9_trust(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  assert_int_equal(count(m, MODEL_R8, NULL) + count(m, MODEL_R9, NULL), 0);
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_UNTRUSTED, &err), &err);
  assert_int_equal(count(m, MODEL_R8, "VM li1 is the LI VM of LI li-1; its hardware, host hel-1, "
                                      "is not trusted (untrusted"),
                   1);
  assert_int_equal(count(m, MODEL_R9, NULL), 0);
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_TRUSTED, &err), &err);
  ok(model_host_set_trust(m, "tre-1", MODEL_TRUST_UNKNOWN, &err), &err);
  assert_int_equal(count(m, MODEL_R9, "host tre-1, is not trusted (unknown: it has not attested)"),
                   1);
  assert_int_equal(count(m, MODEL_R8, NULL), 0);
  model_free(m);
}

/* What the ADMF asks before sending X1 tasks for an LI: only that LI's
 * violations, and whether it is inside its validity. */
static void test_li_compliance(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  bool active = false;
  ok(model_li_compliance(m, "li-1", &v, &active, &err), &err);
  assert_true(v.allow);
  assert_true(active);
  model_verdict_free(&v);
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_UNTRUSTED, &err), &err);
  ok(model_li_compliance(m, "li-1", &v, &active, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R8, "its hardware, host hel-1, is not trusted"));
  for (size_t i = 0; i < v.n; i++) assert_string_equal(v.reasons[i].subject, "li li-1");
  model_verdict_free(&v);
  assert_int_equal(model_li_compliance(m, "li-none", &v, &active, &err), LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "li-none"));
  model_free(m);
}

static void test_r10_moved_hardware(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  /* Hardware that moves loses its trust until it attests again. */
  model_location tampere = {.country = "FI", .subdivision = "FI-11"};
  ok(model_host_set_location(m, "hel-1", &tampere, &err), &err);
  assert_int_equal(count(m, MODEL_R8, "host hel-1, is not trusted (unknown"), 1);
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_TRUSTED, &err), &err);
  assert_int_equal(total(m), 0);
  /* The same location again is no move. */
  ok(model_host_set_location(m, "hel-1", &tampere, &err), &err);
  assert_int_equal(total(m), 0);
  /* A host marked trusted with no location bound to its attestation. */
  put(m, "host", "{\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"li\"}");
  assert_int_equal(count(m, MODEL_R10, "host hel-1 is marked trusted but no location"), 1);
  assert_int_equal(count(m, MODEL_R8, "trusted but its trust mechanism provides no location"), 1);
  model_free(m);
}

/* ---- req. 11 (15) and moveVM ------------------------------------------------------------ */

static void test_move_decisions(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  /* moveVM pre v.runsOn != h */
  ok(model_decide_move(m, "target", "hv-hel-2", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_MOVE1, "VM target already runs on hypervisor hv-hel-2"));
  model_verdict_free(&v);
  /* A monitored VM to untrusted hardware in the right country: moveVM's
   * trusted precondition, as for every VM (MOVE2), and req. 11 for the LI
   * beside it (which only the LI administration is shown, ctl/model.c). */
  ok(model_decide_move(m, "target", "hv-unk-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_MOVE2, "VM target may run only on trusted hardware"));
  assert_true(has(&v, MODEL_R11, "may move only to trusted hardware"));
  assert_int_equal(v.n, 2);
  char target_move2[512], target_fact[256];
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == MODEL_MOVE2) {
      snprintf(target_move2, sizeof target_move2, "%s", v.reasons[i].sentence);
      snprintf(target_fact, sizeof target_fact, "%s", v.reasons[i].fact);
    }
  /* R11's fact is the same precondition, word for word: how ctl/model.c
   * knows it for R11 refusing the destination's trust (trust_row). */
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == MODEL_R11) assert_string_equal(v.reasons[i].fact, target_fact);
  assert_non_null(strstr(target_fact, "h.executesOn.trusted: host unk-1: false"));
  model_verdict_free(&v);
  /* A VM no LI involves, to untrusted hardware: the same MOVE2, word for
   * word but for its id, and nothing else. */
  ok(model_decide_move(m, "other", "hv-unk-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_MOVE2, "host unk-1, which is not trusted"));
  assert_false(has(&v, MODEL_R11, NULL));
  assert_int_equal(v.n, 1);
  char other_move2[512];
  snprintf(other_move2, sizeof other_move2, "VM target%s", v.reasons[0].sentence + strlen("VM other"));
  assert_string_equal(other_move2, target_move2);
  assert_string_equal(v.reasons[0].fact, target_fact);
  model_verdict_free(&v);
  /* The LI's storage provider (another way an LI involves a VM) alike. */
  ok(model_decide_move(m, "store1", "hv-unk-1", &v, &err), &err);
  assert_true(has(&v, MODEL_MOVE2, "VM store1 may run only on trusted hardware"));
  assert_true(has(&v, MODEL_R11, "may move only to trusted hardware"));
  model_verdict_free(&v);
  /* The storage provider leaving Finland: req. 11 names the LI. */
  ok(model_decide_move(m, "store1", "hv-lon-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R11, "LI li-1 is issued in FI; host lon-1 is located in GB"));
  model_verdict_free(&v);
  /* Inside Finland, trusted: allowed. */
  ok(model_decide_move(m, "store1", "hv-hel-1", &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* Trusted and in Finland, but the IPC link li1-via1 would span two
   * machines: the storage path rule (req. 5) still has to hold. */
  ok(model_decide_move(m, "via1", "hv-tre-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R5, "IPC connection c3"));
  assert_int_equal(v.n, 1);
  model_verdict_free(&v);
  /* Unknown ids are bad input, not a deny. */
  assert_int_equal(model_decide_move(m, "nope", "hv-hel-1", &v, &err), LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "vm: unknown VM \"nope\""));
  assert_int_equal(model_decide_move(m, "target", "hv-9", &v, &err), LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "hypervisor"));
  /* None of this changed the model. */
  assert_int_equal(total(m), 0);
  model_free(m);
}

/* A move's reasons at their longest (ids of MODEL_ID_MAX bytes, a site of
 * MODEL_TEXT_MAX, nine codes and a polygon): the words are whole and
 * exactly the rule's, and an id that is not one is refused as such. */
static void test_move_words_longest(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  char li[MODEL_ID_MAX + 1], jur[MODEL_ID_MAX + 1], host[MODEL_ID_MAX + 1],
      hv[MODEL_ID_MAX + 1], vm[MODEL_ID_MAX + 1], site[MODEL_TEXT_MAX + 1], json[2048];
  memset(li, 'l', MODEL_ID_MAX), memset(jur, 'j', MODEL_ID_MAX), memset(host, 'h', MODEL_ID_MAX);
  memset(hv, 'v', MODEL_ID_MAX), memset(vm, 'm', MODEL_ID_MAX), memset(site, 's', MODEL_TEXT_MAX);
  li[MODEL_ID_MAX] = jur[MODEL_ID_MAX] = host[MODEL_ID_MAX] = hv[MODEL_ID_MAX] = '\0';
  vm[MODEL_ID_MAX] = site[MODEL_TEXT_MAX] = '\0';
  snprintf(json, sizeof json,
           "{\"id\":\"%s\",\"codes\":[\"FI\",\"SE\",\"NO\",\"DK\",\"DE\",\"FR\",\"GB-ENG\","
           "\"IE\",\"NL\"],\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
           "[[[24.5,60.0],[25.3,60.0],[25.3,60.4],[24.5,60.4],[24.5,60.0]]]}}",
           jur);
  put(m, "jurisdiction", json);
  snprintf(json, sizeof json,
           "{\"id\":\"%s\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":"
           "\"US\",\"subdivision\":\"US-CA\",\"lat\":-37.1234,\"lon\":-122.4321,\"site\":\"%s\"}}",
           host, site);
  put(m, "host", json);
  snprintf(json, sizeof json, "{\"id\":\"%s\",\"host\":\"%s\"}", hv, host);
  put(m, "hypervisor", json);
  snprintf(json, sizeof json,
           "{\"id\":\"%s\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\",\"domain\":"
           "\"core\"}",
           vm);
  put(m, "vm", json);
  snprintf(json, sizeof json,
           "{\"id\":\"%s\",\"jurisdiction\":\"%s\",\"lea\":\"lea-fi\",\"monitored\":\"%s\","
           "\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
           "\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}",
           li, jur, vm);
  put(m, "li", json);
  model_verdict v;
  ok(model_decide_move(m, vm, hv, &v, &err), &err);
  assert_false(v.allow);
  char area[512], where[512], sentence[2048], fact[2048], subject[MODEL_ID_MAX + 8];
  snprintf(area, sizeof area, "FI/SE/NO/DK/DE/FR/GB-ENG/IE/+1 more or the area of jurisdiction %s (1 polygon)",
           jur);
  snprintf(where, sizeof where, "US (US-CA, %s, -37.1234,-122.4321)", site);
  snprintf(sentence, sizeof sentence,
           "LI %s is issued in %s; host %s is located in %s; VM %s, which the LI monitors, would "
           "run there",
           li, area, host, where, vm);
  snprintf(fact, sizeof fact,
           "h.executesOn.geographicalLocation IN v.hosts.jurisdiction: host %s at %s IN {%s}: "
           "false",
           host, where, area);
  snprintf(subject, sizeof subject, "vm %s", vm);
  size_t found = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (v.reasons[i].rule != MODEL_R11) continue;
    found++;
    assert_string_equal(v.reasons[i].subject, subject);
    assert_string_equal(v.reasons[i].sentence, sentence);
    assert_string_equal(v.reasons[i].fact, fact);
  }
  assert_int_equal(found, 1);
  assert_true(strlen(sentence) > 900 && strlen(sentence) < 1024);
  model_verdict_free(&v);
  /* Refused ids: not an id, too long, none; an unknown one is not found. */
  assert_int_equal(model_decide_move(m, "bad id", hv, &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "vm: not a valid id: byte 0x20 at byte 4"));
  char longer[MODEL_ID_MAX + 2];
  memset(longer, 'm', MODEL_ID_MAX + 1);
  longer[MODEL_ID_MAX + 1] = '\0';
  assert_int_equal(model_decide_move(m, longer, hv, &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "vm: not a valid id: 129 bytes"));
  assert_int_equal(model_decide_move(m, NULL, hv, &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "vm: required"));
  assert_int_equal(model_decide_move(m, vm, "-hv", &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "hypervisor: not a valid id: '-' at byte 1"));
  vm[MODEL_ID_MAX - 1] = 'n';
  assert_int_equal(model_decide_move(m, vm, hv, &v, &err), LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "vm: unknown VM"));
  model_free(m);
}

static void test_move_fixes_are_allowed(void **state) {
  (void)state;
  /* A VM already outside the jurisdiction may be moved back in, even when
   * the platform has other violations. */
  model *m = base();
  lisec_err err = {0};
  move(m, "target", "hv-lon-1");
  put(m, "connection", "{\"id\":\"c1\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":false}");
  model_verdict v;
  ok(model_decide_move(m, "target", "hv-hel-2", &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* ... but not to another place outside it. */
  ok(model_decide_move(m, "target", "hv-unk-1", &v, &err), &err);
  assert_false(v.allow);
  model_verdict_free(&v);
  model_free(m);
}

/* ---- O.1.3 / O.1.7: protection levels ------------------------------------------------------ */

static void test_o13_protection(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  ok(model_decide_move(m, "target", "hv-edge-1", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_O13, "VM target has sensitivity sensitive; host edge-1's protection "
                                 "level admits VNFs up to general"));
  model_verdict_free(&v);
  ok(model_decide_move(m, "other", "hv-edge-1", &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  move(m, "target", "hv-edge-1");
  assert_int_equal(count(m, MODEL_O13, "VM target"), 1);
  model_free(m);
}

/* ---- §4.1: LI VMs in their own security domain --------------------------------------------- */

static void test_domain(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  assert_int_equal(count(m, MODEL_DOMAIN, NULL), 0);
  put(m, "vm", "{\"id\":\"other\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\","
               "\"domain\":\"li\"}");
  assert_int_equal(count(m, MODEL_DOMAIN, "security domain li holds LI VM"), 1);
  put(m, "vm", "{\"id\":\"other\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\","
               "\"domain\":\"core\"}");
  assert_int_equal(count(m, MODEL_DOMAIN, NULL), 0);
  model_verdict v;
  model_vm_spec bad = {.id = "new1", .hypervisor = "hv-hel-1", .sensitivity = MODEL_CLASS_GENERAL,
                       .domain = "li"};
  ok(model_decide_place(m, &bad, &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_DOMAIN, "security domain li holds LI VMs"));
  model_verdict_free(&v);
  model_vm_spec good = {.id = "new2", .hypervisor = "hv-hel-1", .sensitivity = MODEL_CLASS_LI,
                        .domain = "li", .paired = true};
  ok(model_decide_place(m, &good, &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* Placement also needs trusted hardware and enough protection. */
  model_vm_spec p2 = {.id = "new3", .hypervisor = "hv-unk-1", .sensitivity = MODEL_CLASS_LI,
                      .domain = "li2"};
  ok(model_decide_place(m, &p2, &v, &err), &err);
  assert_true(has(&v, MODEL_MOVE2, "host unk-1"));
  model_verdict_free(&v);
  model_vm_spec p3 = {.id = "new4", .hypervisor = "hv-edge-1", .sensitivity = MODEL_CLASS_LI,
                      .domain = "li3"};
  ok(model_decide_place(m, &p3, &v, &err), &err);
  assert_true(has(&v, MODEL_O13, "host edge-1"));
  model_verdict_free(&v);
  model_vm_spec dup = {.id = "target", .hypervisor = "hv-hel-1", .domain = "core"};
  assert_int_equal(model_decide_place(m, &dup, &v, &err), LISEC_ECONFLICT);
  model_free(m);
}

/* ---- the mark of a reason naming an LI VM (model_reason.li_vms) ----------------------------- */

/* Whether reason r's words (subject, sentence or fact) hold id. */
static bool words_hold(const model_reason *r, const char *id) {
  return strstr(r->subject, id) || strstr(r->sentence, id) || strstr(r->fact, id);
}

/* The LI VMs the reasons of rule rl whose subject is subj are marked with,
 * joined by ","; every mark is one the reason's words name. */
static void marks(const model_verdict *v, model_rule rl, const char *subj, char *out, size_t cap) {
  out[0] = '\0';
  for (size_t i = 0; i < v->n; i++) {
    const model_reason *r = &v->reasons[i];
    assert_false(r->li_vms_more);
    for (uint8_t k = 0; k < r->n_li_vms; k++) assert_true(words_hold(r, r->li_vms[k]));
    if (r->rule != rl || strcmp(r->subject, subj) != 0) continue;
    for (uint8_t k = 0; k < r->n_li_vms; k++)
      snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "", r->li_vms[k]);
  }
}

static void compliance_marks(model *m, model_rule rl, const char *subj, char *out, size_t cap) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  marks(&v, rl, subj, out, cap);
  model_verdict_free(&v);
}

/* The model marks each reason with the VMs of sensitivity li it names,
 * where it makes it, not by what its words hold: an LI VM called edge-1,
 * as a host is, is not marked on a row naming host edge-1. */
static void test_li_vm_marks(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  char got[256];
  /* an LI VM on a host admitting "general" only: its O.1.3 row names it */
  put(m, "vm", "{\"id\":\"lv\",\"hypervisor\":\"hv-edge-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li-x\"}");
  compliance_marks(m, MODEL_O13, "vm lv", got, sizeof got);
  assert_string_equal(got, "lv");
  /* an LI VM with a host's id, and an ordinary VM on that host: the
   * ordinary VM's row names host edge-1 and no LI VM */
  put(m, "vm", "{\"id\":\"edge-1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li\"}");
  move(m, "target", "hv-edge-1");
  compliance_marks(m, MODEL_O13, "vm target", got, sizeof got);
  assert_string_equal(got, "");
  model_verdict v;
  ok(model_decide_move(m, "other", "hv-edge-1", &v, &err), &err);
  marks(&v, MODEL_O13, "vm other", got, sizeof got);
  assert_string_equal(got, "");
  model_verdict_free(&v);
  /* DOMAIN names one LI VM of the domain and the other VM */
  put(m, "vm", "{\"id\":\"other\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\","
               "\"domain\":\"li\"}");
  compliance_marks(m, MODEL_DOMAIN, "domain li", got, sizeof got);
  assert_int_equal(strchr(got, ',') == NULL, 1);
  assert_true(strcmp(got, "li1") == 0 || strcmp(got, "via1") == 0 || strcmp(got, "store1") == 0 ||
              strcmp(got, "edge-1") == 0);
  /* a placement of an LI VM: every reason names it */
  model_vm_spec p = {.id = "new5", .hypervisor = "hv-unk-1", .sensitivity = MODEL_CLASS_LI,
                     .domain = "core"};
  ok(model_decide_place(m, &p, &v, &err), &err);
  assert_true(v.n >= 2); /* MOVE2 (unk-1 untrusted), DOMAIN (core holds target) */
  for (size_t i = 0; i < v.n; i++) {
    assert_int_equal(v.reasons[i].n_li_vms, 1);
    assert_string_equal(v.reasons[i].li_vms[0], "new5");
  }
  model_verdict_free(&v);
  /* the LI rules' rows name their LI VM: R8 for li1 on an untrusted host */
  move(m, "li1", "hv-unk-1");
  model_verdict c;
  assert_int_equal(model_compliance(m, &c), 0);
  bool r8 = false;
  for (size_t i = 0; i < c.n; i++)
    if (c.reasons[i].rule == MODEL_R8 && strstr(c.reasons[i].sentence, "VM li1")) {
      r8 = true;
      assert_int_equal(c.reasons[i].n_li_vms, 1);
      assert_string_equal(c.reasons[i].li_vms[0], "li1");
    }
  assert_true(r8);
  marks(&c, MODEL_R8, "li li-1", got, sizeof got); /* and every mark is in its words */
  model_verdict_free(&c);
  model_free(m);
}

/* ---- §4.2: only known LI VMs ---------------------------------------------------------------- */

static void test_known_li_vms(void **state) {
  (void)state;
  model *m = base();
  assert_int_equal(count(m, MODEL_KNOWN, NULL), 0);
  put(m, "vm", "{\"id\":\"li1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":false}");
  assert_int_equal(count(m, MODEL_KNOWN, "LI VM li1, which is not paired"), 1);
  put(m, "vm", "{\"id\":\"li1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"sensitive\","
               "\"domain\":\"li\",\"paired\":true}");
  assert_int_equal(count(m, MODEL_KNOWN, "VM li1, which is not an LI VM"), 1);
  put(m, "vm", "{\"id\":\"li1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  assert_int_equal(count(m, MODEL_KNOWN, NULL), 0);
  /* An LI VM connected to a VM none of its LIs concerns. */
  put(m, "connection", "{\"id\":\"c7\",\"between\":[\"li1\",\"other\"],\"kind\":\"network\","
                       "\"secure\":true}");
  assert_int_equal(count(m, MODEL_KNOWN, "LI VM li1 is connected to VM other (connection c7)"), 1);
  /* To another known LI VM: allowed. */
  put(m, "connection", "{\"id\":\"c8\",\"between\":[\"li1\",\"store1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  assert_int_equal(count(m, MODEL_KNOWN, NULL), 1);
  /* When the LI ends, li1 may no longer talk to target either. */
  lisec_err err = {0};
  ok(model_set_time(m, 2082758400 /* 2036-01-01 */, &err), &err);
  assert_int_equal(count(m, MODEL_KNOWN, "connected to VM fw1 (connection c2)"), 1);
  model_free(m);
}

/* ---- LI validity period ------------------------------------------------------------------------ */

static void test_validity(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  move(m, "target", "hv-lon-1");
  assert_int_equal(count(m, MODEL_R1, NULL), 1);
  ok(model_set_time(m, 1735689600 - 1 /* before 2025-01-01 */, &err), &err);
  assert_int_equal(count(m, MODEL_R1, NULL), 0);
  model_verdict v;
  ok(model_decide_move(m, "li1", "hv-lon-1", &v, &err), &err);
  assert_true(v.allow); /* no active LI binds li1 */
  model_verdict_free(&v);
  ok(model_set_time(m, T0, &err), &err);
  assert_int_equal(count(m, MODEL_R1, NULL), 1);
  model_free(m);
}

/* ---- connect and attach decisions -------------------------------------------------------------- */

static void test_decide_connect(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  size_t before = model_violation_count(m);
  /* li1 to "other" through fw1 over a new insecure hop that stores. */
  model_conn_spec nc[] = {{.id = "n1", .a = "li1", .b = "fw1", .kind = MODEL_CONN_NETWORK,
                           .secure = false},
                          {.id = "n2", .a = "fw1", .b = "other", .kind = MODEL_CONN_NETWORK,
                           .secure = true}};
  const char *conns[] = {"n1", "n2"}, *inter[] = {"fw1"};
  bool stores[] = {true};
  model_group_spec g = {.id = "gn", .from = "li1", .to = "other", .n = 2, .connections = conns,
                        .intermediates = inter, .stores = stores};
  ok(model_decide_connect(m, &g, nc, 2, &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R6, "connection n1"));
  assert_true(has(&v, MODEL_R7, "intermediate VM fw1 of connection group gn"));
  assert_true(has(&v, MODEL_KNOWN, "LI VM li1 is connected to VM fw1"));
  model_verdict_free(&v);
  /* A secure, non-storing path from target to li1 is fine. */
  model_conn_spec ok1[] = {{.id = "n3", .a = "target", .b = "li1", .kind = MODEL_CONN_NETWORK,
                            .secure = true}};
  const char *c3[] = {"n3"};
  model_group_spec g3 = {.id = "gd", .n = 1, .connections = c3};
  ok(model_decide_connect(m, &g3, ok1, 1, &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* Not a path: bad input, and nothing was added. */
  const char *broken[] = {"c1", "c4"};
  model_group_spec gb = {.id = "gx", .n = 2, .connections = broken, .intermediates = inter,
                         .stores = stores};
  assert_int_equal(model_decide_connect(m, &gb, NULL, 0, &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "does not form a path"));
  assert_int_equal(model_decide_connect(m, &g, nc, 1, &v, &err), LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "connections[1]: unknown connection \"n2\""));
  assert_int_equal(model_violation_count(m), before);
  model_stats s;
  model_get_stats(m, &s);
  assert_int_equal(s.connections, 5);
  assert_int_equal(s.groups, 4);
  model_free(m);
}

static void test_decide_attach(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  ok(model_decide_attach(m, "st1", "target", &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R5, "storage st1 is rooted in VM store1 and provided to VM target"));
  model_verdict_free(&v);
  ok(model_decide_attach(m, "st1", "via1", &v, &err), &err); /* attached already */
  assert_true(v.allow);
  model_verdict_free(&v);
  put(m, "storage", "{\"id\":\"st2\",\"vm\":\"fw1\"}");
  ok(model_decide_attach(m, "st2", "other", &v, &err), &err); /* g5 joins them */
  assert_true(v.allow);
  model_verdict_free(&v);
  assert_int_equal(model_decide_attach(m, "st2", "fw1", &v, &err), LISEC_EINVAL);
  assert_int_equal(total(m), 0);
  model_free(m);
}

static void test_rule_table(void **state) {
  (void)state;
  /* Every rule has a distinct stable id that parses back. */
  for (int i = 0; i < MODEL_RULE_COUNT; i++) {
    model_rule r;
    assert_int_equal(model_rule_parse(model_rule_id((model_rule)i), &r), 0);
    assert_int_equal(r, i);
    assert_true(strlen(model_rule_title((model_rule)i)) > 10);
    for (int k = 0; k < i; k++)
      assert_string_not_equal(model_rule_id((model_rule)i), model_rule_id((model_rule)k));
  }
  assert_string_equal(model_rule_id(MODEL_R4), "TR103308-6.2-R4");
  /* 12-15 restate 8-11: one rule, both numbers. */
  assert_non_null(strstr(model_rule_clauses(MODEL_R8), "8 and 12"));
  assert_non_null(strstr(model_rule_clauses(MODEL_R11), "11 and 15"));
}

static void test_verdict_json(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v;
  ok(model_decide_move(m, "target", "hv-lon-1", &v, &err), &err);
  json_t *j = model_verdict_json(&v);
  assert_non_null(j);
  assert_true(json_is_false(json_object_get(j, "allow")));
  json_t *first = json_array_get(json_object_get(j, "violations"), 0);
  assert_string_equal(json_string_value(json_object_get(first, "requirement")),
                      "TR103308-6.2-R11");
  assert_non_null(json_string_value(json_object_get(first, "fact")));
  assert_non_null(json_string_value(json_object_get(first, "sentence")));
  json_decref(j);
  model_verdict_free(&v);
  model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base_compliant),
      cmocka_unit_test(test_helsinki_london),
      cmocka_unit_test(test_li_compliance),
      cmocka_unit_test(test_r1_location),
      cmocka_unit_test(test_r1_unknown_location),
      cmocka_unit_test(test_r2_r3_storage_location),
      cmocka_unit_test(test_r4_path),
      cmocka_unit_test(test_r5_storage_path),
      cmocka_unit_test(test_direct_connection_is_a_group_of_one),
      cmocka_unit_test(test_r6_secure),
      cmocka_unit_test(test_r7_no_storing_intermediate),
      cmocka_unit_test(test_r8_r9_trust),
      cmocka_unit_test(test_r10_moved_hardware),
      cmocka_unit_test(test_move_decisions),
      cmocka_unit_test(test_move_words_longest),
      cmocka_unit_test(test_move_fixes_are_allowed),
      cmocka_unit_test(test_o13_protection),
      cmocka_unit_test(test_domain),
      cmocka_unit_test(test_li_vm_marks),
      cmocka_unit_test(test_known_li_vms),
      cmocka_unit_test(test_validity),
      cmocka_unit_test(test_decide_connect),
      cmocka_unit_test(test_decide_attach),
      cmocka_unit_test(test_rule_table),
      cmocka_unit_test(test_verdict_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
