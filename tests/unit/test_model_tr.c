/* The trust model read against the text of ETSI TR 103 308 by an outside
 * tester: each case quotes the clause it holds lisec to and tries a
 * placement, move or LI action the clause forbids (two LIs in two
 * jurisdictions, validity boundaries, trusted hardware with no location,
 * moved hardware, storage providers and storage VMs that move, IPC paths a
 * move breaks, a VM in two groups, an LI whose data path is insecure or
 * cached, a shut-off definition on the target, absent fields). A case that
 * the TR forbids must be denied naming the requirement that fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

/* 2026-06-01T00:00:00Z */
static const int64_t T0 = 1780272000;
/* li-fi's validity, [2026-01-01, 2027-01-01) */
static const int64_t FROM = 1767225600, UNTIL = 1798761600;

/* LI li-fi (Finland) monitors "target" (Espoo) from LI VM "li1"
 * (Helsinki) over a secure direct connection; its data goes over IPC to
 * "via1" on the same machine, which mounts "st1" from "store1" in Tampere
 * over a secure NFS connection. Compliant at T0. */
static const char topo[] =
    "{\"format\":\"lisec-topology/1\","
    "\"jurisdictions\":["
    " {\"id\":\"fi\",\"codes\":[\"FI\"]},"
    " {\"id\":\"se\",\"codes\":[\"SE\"]},"
    " {\"id\":\"uusimaa\",\"codes\":[\"FI-18\"]},"
    " {\"id\":\"hki\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
    "   [[[24.5,60.0],[25.3,60.0],[25.3,60.4],[24.5,60.4],[24.5,60.0]]]}}],"
    "\"leas\":[{\"id\":\"lea-fi\",\"jurisdiction\":\"fi\"},{\"id\":\"lea-se\",\"jurisdiction\":\"se\"}],"
    "\"hosts\":["
    " {\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\","
    "   \"subdivision\":\"FI-18\",\"lat\":60.17,\"lon\":24.94}},"
    " {\"id\":\"hel-2\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\","
    "   \"subdivision\":\"FI-18\",\"lat\":60.21,\"lon\":24.66}},"
    " {\"id\":\"tre-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\","
    "   \"subdivision\":\"FI-11\"}},"
    " {\"id\":\"fi-bare\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\"}},"
    " {\"id\":\"sto-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"SE\"}},"
    " {\"id\":\"lon-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"GB\","
    "   \"subdivision\":\"GB-LND\"}},"
    " {\"id\":\"fi-untr\",\"trust\":\"untrusted\",\"protection\":\"li\",\"location\":{\"country\":\"FI\"}},"
    " {\"id\":\"fi-silent\",\"protection\":\"li\",\"location\":{\"country\":\"FI\"}},"
    " {\"id\":\"noloc\",\"protection\":\"li\"}],"
    "\"hypervisors\":[{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"},{\"id\":\"hv-hel-2\",\"host\":\"hel-2\"},"
    " {\"id\":\"hv-tre-1\",\"host\":\"tre-1\"},{\"id\":\"hv-fi-bare\",\"host\":\"fi-bare\"},"
    " {\"id\":\"hv-sto-1\",\"host\":\"sto-1\"},{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"},"
    " {\"id\":\"hv-fi-untr\",\"host\":\"fi-untr\"},{\"id\":\"hv-fi-silent\",\"host\":\"fi-silent\"},"
    " {\"id\":\"hv-noloc\",\"host\":\"noloc\"}],"
    "\"vms\":["
    " {\"id\":\"target\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"sensitive\",\"domain\":\"core\"},"
    " {\"id\":\"bystander\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\",\"domain\":\"core\"},"
    " {\"id\":\"fw1\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"general\",\"domain\":\"dmz\"},"
    " {\"id\":\"li1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true},"
    " {\"id\":\"via1\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true},"
    " {\"id\":\"store1\",\"hypervisor\":\"hv-tre-1\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true}],"
    "\"storage\":[{\"id\":\"st1\",\"vm\":\"store1\",\"provided_to\":[\"via1\"]}],"
    "\"connections\":["
    " {\"id\":\"c1\",\"between\":[\"target\",\"li1\"],\"kind\":\"network\",\"secure\":true},"
    " {\"id\":\"c2\",\"between\":[\"li1\",\"via1\"],\"kind\":\"ipc\",\"secure\":true},"
    " {\"id\":\"c3\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\",\"secure\":true}],"
    "\"lis\":[{\"id\":\"li-fi\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":\"target\","
    " \"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
    " \"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}]}";

static void ok(int rc, const lisec_err *err) {
  if (rc) fail_msg("unexpected failure %d: %s", rc, err->msg);
}

static model *load(void) {
  model *m = NULL;
  lisec_err err = {0};
  ok(model_topology_load(topo, strlen(topo), T0, &m, &err), &err);
  return m;
}

static void put(model *m, const char *kind, const char *json) {
  lisec_err err = {0};
  json_error_t je;
  json_t *o = json_loads(json, 0, &je);
  if (!o) fail_msg("bad test JSON: %s", je.text);
  ok(model_put_json(m, kind, o, &err), &err);
  json_decref(o);
}

static int put_rc(model *m, const char *kind, const char *json, lisec_err *err) {
  json_error_t je;
  json_t *o = json_loads(json, 0, &je);
  if (!o) fail_msg("bad test JSON: %s", je.text);
  int rc = model_put_json(m, kind, o, err);
  json_decref(o);
  return rc;
}

static bool has(const model_verdict *v, model_rule r, const char *needle) {
  for (size_t i = 0; i < v->n; i++)
    if (v->reasons[i].rule == r && strcmp(v->reasons[i].requirement, model_rule_id(r)) == 0 &&
        (!needle || strstr(v->reasons[i].sentence, needle)))
      return true;
  return false;
}

static void show(const model_verdict *v) {
  for (size_t i = 0; i < v->n; i++)
    print_message("  %s %s: %s\n", v->reasons[i].requirement, v->reasons[i].subject,
                  v->reasons[i].sentence);
}

/* The move decision; *v is the caller's to free. */
static void decide(model *m, const char *vm, const char *hyp, model_verdict *v) {
  lisec_err err = {0};
  ok(model_decide_move(m, vm, hyp, v, &err), &err);
  assert_int_equal(v->allow, v->n == 0);
}

/* Denied, with requirement r among the reasons (whose sentence holds needle). */
static void denied(model *m, const char *vm, const char *hyp, model_rule r, const char *needle) {
  model_verdict v;
  decide(m, vm, hyp, &v);
  if (v.allow || !has(&v, r, needle)) {
    show(&v);
    fail_msg("move %s -> %s: expected a denial naming %s (%s)", vm, hyp, model_rule_id(r),
             needle ? needle : "");
  }
  model_verdict_free(&v);
}

static void allowed(model *m, const char *vm, const char *hyp) {
  model_verdict v;
  decide(m, vm, hyp, &v);
  if (!v.allow) {
    show(&v);
    fail_msg("move %s -> %s: expected allow", vm, hyp);
  }
  model_verdict_free(&v);
}

static size_t violations(model *m) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  show(&v);
  size_t n = v.n;
  model_verdict_free(&v);
  return n;
}

/* The incrementally kept index equals a full evaluation. */
/* model_li_compliance of li: compliant, or not and r among its violations. */
static void li_compliant(model *m, const char *li) {
  model_verdict v;
  bool active = false;
  lisec_err err = {0};
  ok(model_li_compliance(m, li, &v, &active, &err), &err);
  show(&v);
  assert_true(v.allow);
  model_verdict_free(&v);
}

static void li_violates(model *m, const char *li, model_rule r) {
  model_verdict v;
  bool active = false;
  lisec_err err = {0};
  ok(model_li_compliance(m, li, &v, &active, &err), &err);
  show(&v);
  assert_false(v.allow);
  assert_true(has(&v, r, NULL));
  model_verdict_free(&v);
}

static void index_matches_full(model *m) {
  size_t inc = model_violation_count(m);
  model_evaluate_all(m);
  assert_int_equal(model_violation_count(m), inc);
}

static void test_topology_compliant(void **state) {
  (void)state;
  model *m = load();
  assert_int_equal(violations(m), 0);
  model_free(m);
}

/* §4.2: "the LI takes place in the country/jurisdiction, or authorized
 * countries/jurisdictions, that issued the authorization"; §6.2 req. 11:
 * "The geographical location of the target hardware has to be compliant
 * with the jurisdiction of the LI entity". A VM two LIs involve may go
 * only where both are satisfied; an LI issued for two countries admits
 * either. */
static void test_two_lis_two_jurisdictions(void **state) {
  (void)state;
  model *m = load();
  allowed(m, "target", "hv-fi-bare");
  put(m, "li", "{\"id\":\"li-se\",\"jurisdiction\":\"se\",\"lea\":\"lea-se\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  denied(m, "target", "hv-fi-bare", MODEL_R11, "LI li-se");
  denied(m, "target", "hv-sto-1", MODEL_R11, "LI li-fi");
  denied(m, "target", "hv-lon-1", MODEL_R11, "LI li-se");
  denied(m, "target", "hv-lon-1", MODEL_R11, "LI li-fi");
  /* One LI authorised for both countries admits either. */
  put(m, "jurisdiction", "{\"id\":\"nordic\",\"codes\":[\"FI\",\"SE\"]}");
  put(m, "li", "{\"id\":\"li-se\",\"jurisdiction\":\"nordic\",\"lea\":\"lea-se\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  allowed(m, "target", "hv-fi-bare");
  denied(m, "target", "hv-sto-1", MODEL_R11, "LI li-fi");
  index_matches_full(m);
  model_free(m);
}

/* §6.2 req. 11 binds while the LI is valid, [valid_from, valid_until):
 * the last second inside is bound, the first second after is not, and the
 * clock going back binds again. */
static void test_validity_boundaries(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  ok(model_set_time(m, UNTIL - 1, &err), &err);
  denied(m, "target", "hv-lon-1", MODEL_R11, "LI li-fi");
  ok(model_set_time(m, UNTIL, &err), &err);
  allowed(m, "target", "hv-lon-1");
  ok(model_set_time(m, FROM - 1, &err), &err);
  allowed(m, "target", "hv-lon-1");
  ok(model_set_time(m, FROM, &err), &err);
  denied(m, "target", "hv-lon-1", MODEL_R11, "LI li-fi");
  /* Outside London while bound: R1 appears and goes with the period. */
  model_vm_move(m, "target", "hv-lon-1", &err);
  assert_int_equal(violations(m), 1);
  ok(model_set_time(m, UNTIL, &err), &err);
  index_matches_full(m);
  ok(model_set_time(m, UNTIL - 1, &err), &err);
  assert_int_equal(violations(m), 1);
  index_matches_full(m);
  model_free(m);
}

/* §6.2 req. 8: "This trusted mechanism has to be able to provide the
 * geographical location"; moveVM: "h.executesOn.trusted = true". Trusted
 * hardware with no location, untrusted hardware, and hardware that has
 * never attested are no place for any VM: MOVE2 for every VM alike, and
 * for a VM an LI involves req. 11's too (the LI administration's to read;
 * its location unknown is that trust failure, not one R11 per LI). */
static void test_trust_and_location_of_target(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  ok(model_host_set_trust(m, "noloc", MODEL_TRUST_TRUSTED, &err), &err);
  denied(m, "target", "hv-noloc", MODEL_R11, "may move only to trusted hardware");
  denied(m, "target", "hv-noloc", MODEL_MOVE2, "no location");
  model_verdict nl;
  decide(m, "target", "hv-noloc", &nl);
  for (size_t i = 0; i < nl.n; i++) assert_null(strstr(nl.reasons[i].sentence, "unknown place"));
  model_verdict_free(&nl);
  denied(m, "li1", "hv-noloc", MODEL_R11, NULL);
  denied(m, "li1", "hv-noloc", MODEL_MOVE2, NULL);
  denied(m, "target", "hv-fi-untr", MODEL_R11, NULL);
  denied(m, "target", "hv-fi-untr", MODEL_MOVE2, NULL);
  denied(m, "target", "hv-fi-silent", MODEL_R11, NULL);
  denied(m, "target", "hv-fi-silent", MODEL_MOVE2, NULL);
  denied(m, "bystander", "hv-noloc", MODEL_MOVE2, NULL);
  denied(m, "bystander", "hv-fi-untr", MODEL_MOVE2, NULL);
  denied(m, "bystander", "hv-fi-silent", MODEL_MOVE2, NULL);
  allowed(m, "bystander", "hv-fi-bare");
  model_vm_spec nv = {"new-li", "hv-noloc", MODEL_CLASS_LI, "li", true};
  model_verdict v;
  ok(model_decide_place(m, &nv, &v, &err), &err);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_MOVE2, NULL));
  model_verdict_free(&v);
  model_free(m);
}

/* §6.2 req. 10: "Movement of the physical hardware should invalidate the
 * embedded geographical location in the TPM, and also cause any TPM
 * measurements related with this to fail". Trust lapses with the move, and
 * every decision after it sees the lapse; the same place again keeps it. */
static void test_moved_hardware_lapses(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  allowed(m, "target", "hv-fi-bare");
  model_location same = {.country = "FI", .source = MODEL_LOC_ATTESTED};
  ok(model_host_set_location(m, "fi-bare", &same, &err), &err);
  allowed(m, "target", "hv-fi-bare");
  model_location moved = {.country = "FI", .subdivision = "FI-11", .source = MODEL_LOC_ATTESTED};
  ok(model_host_set_location(m, "fi-bare", &moved, &err), &err);
  denied(m, "target", "hv-fi-bare", MODEL_R11, NULL);
  denied(m, "bystander", "hv-fi-bare", MODEL_MOVE2, NULL);
  /* Trust lapsing under a running LI VM is a violation at once. */
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_UNTRUSTED, &err), &err);
  model_verdict v;
  bool active = false;
  ok(model_li_compliance(m, "li-fi", &v, &active, &err), &err);
  assert_true(active);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_R8, NULL));
  model_verdict_free(&v);
  index_matches_full(m);
  model_free(m);
}

/* §6.2 req. 2: "The VM that provides the storage that is utilized by the
 * LI has to be within the geographical location within the jurisdiction
 * of the LI"; req. 3: "The VM being utilized to store the data from the LI
 * has to be within ... the jurisdiction"; req. 9: its hardware "should be
 * trusted". Both move under req. 11. */
static void test_storage_vms_move(void **state) {
  (void)state;
  model *m = load();
  denied(m, "store1", "hv-lon-1", MODEL_R11, "LI li-fi");
  denied(m, "store1", "hv-fi-untr", MODEL_R11, NULL);
  denied(m, "via1", "hv-sto-1", MODEL_R11, "LI li-fi");
  allowed(m, "store1", "hv-fi-bare");
  model_free(m);
}

/* §6.2 req. 4/5: "There has to be a connection path between the VM being
 * monitored and the VM ... running the LI" and between the VM utilising
 * the storage and the one providing it. An IPC connection only joins VMs
 * on one machine, so a move that splits them breaks the path. */
static void test_ipc_path_broken_by_move(void **state) {
  (void)state;
  model *m = load();
  denied(m, "via1", "hv-hel-2", MODEL_R5, NULL);
  denied(m, "li1", "hv-hel-2", MODEL_R5, NULL);
  /* The monitored VM joined to the LI VM only by IPC: across machines
   * that is no path; on one machine it is, and moving away breaks it. */
  put(m, "connection", "{\"id\":\"c1\",\"between\":[\"target\",\"li1\"],\"kind\":\"ipc\","
                       "\"secure\":true}");
  assert_int_equal(violations(m), 1);
  allowed(m, "target", "hv-hel-1");
  lisec_err err = {0};
  ok(model_vm_move(m, "target", "hv-hel-1", &err), &err);
  assert_int_equal(violations(m), 0);
  denied(m, "target", "hv-hel-2", MODEL_R4, NULL);
  denied(m, "li1", "hv-hel-2", MODEL_R4, NULL);
  index_matches_full(m);
  model_free(m);
}

/* §6.2 req. 6: "If a connection exists between the VM hosting the LI and
 * another VM then this connection has to be secured ... the whole path,
 * ie the connection group is secure". A VM in two groups: the insecure one
 * fails even though a secure one also joins the pair. */
static void test_vm_in_two_groups(void **state) {
  (void)state;
  model *m = load();
  put(m, "connection", "{\"id\":\"c4\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c5\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":false}");
  put(m, "group", "{\"id\":\"g-direct\",\"connections\":[\"c1\"]}");
  put(m, "group", "{\"id\":\"g-fw\",\"connections\":[\"c4\",\"c5\"],"
                  "\"intermediates\":[{\"vm\":\"fw1\",\"stores\":false}]}");
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  assert_true(has(&v, MODEL_R6, "c5"));
  model_verdict_free(&v);
  /* A group that returns to a VM is no path. */
  lisec_err err = {0};
  put(m, "connection", "{\"id\":\"c6\",\"between\":[\"li1\",\"target\"],\"kind\":\"network\","
                       "\"secure\":true}");
  assert_int_equal(put_rc(m, "group", "{\"id\":\"g-loop\",\"connections\":[\"c1\",\"c6\"],"
                                      "\"intermediates\":[{\"vm\":\"li1\",\"stores\":false}]}",
                          &err),
                   LISEC_EINVAL);
  index_matches_full(m);
  model_free(m);
}

/* What the ADMF asks before it acts for an LI (model.h: "its LI VM's and
 * storage's hardware trusted and inside its jurisdiction, its connection
 * groups, ..."): an LI whose data path fails req. 6 ("the connection group
 * is secure") or req. 7 ("No intermediate VM within the VM's that form of
 * the connection path within a connection group may store information")
 * is not one to act for. */
static void test_li_compliance_covers_its_paths(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  li_compliant(m, "li-fi");
  /* The monitored VM reaches the LI VM through a caching firewall. */
  put(m, "connection", "{\"id\":\"c4\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c5\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "group", "{\"id\":\"g-fw\",\"connections\":[\"c4\",\"c5\"],"
                  "\"intermediates\":[{\"vm\":\"fw1\",\"stores\":true}]}");
  li_violates(m, "li-fi", MODEL_R7);
  put(m, "group", "{\"id\":\"g-fw\",\"connections\":[\"c4\",\"c5\"],"
                  "\"intermediates\":[{\"vm\":\"fw1\",\"stores\":false}]}");
  li_compliant(m, "li-fi");
  /* The LI VM's direct connection to the monitored VM is not secure. */
  put(m, "connection", "{\"id\":\"c1\",\"between\":[\"target\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":false}");
  li_violates(m, "li-fi", MODEL_R6);
  put(m, "connection", "{\"id\":\"c1\",\"between\":[\"target\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  /* The storage VM's path to the storage provider is not secure. */
  put(m, "connection", "{\"id\":\"c3\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":false}");
  li_violates(m, "li-fi", MODEL_R6);
  /* ... nor is the storage VM provided the storage through a usable path:
   * the NFS connection is gone, so req. 5 fails for it. */
  put(m, "connection", "{\"id\":\"c3\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":true}");
  ok(model_conn_remove(m, "c3", &err), &err);
  li_violates(m, "li-fi", MODEL_R5);
  /* The LI VM connected to a VM it may not operate with (§4.2). */
  put(m, "connection", "{\"id\":\"c3\",\"between\":[\"via1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c7\",\"between\":[\"li1\",\"bystander\"],\"kind\":\"network\","
                       "\"secure\":true}");
  li_violates(m, "li-fi", MODEL_KNOWN);
  ok(model_conn_remove(m, "c7", &err), &err);
  /* Another LI's path is not this one's. */
  put(m, "vm", "{\"id\":\"li2\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  put(m, "connection", "{\"id\":\"c8\",\"between\":[\"bystander\",\"li2\"],\"kind\":\"network\","
                       "\"secure\":false}");
  put(m, "storage", "{\"id\":\"st2\",\"vm\":\"li2\"}");
  put(m, "li", "{\"id\":\"li-other\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"bystander\",\"host\":\"li2\",\"storage\":\"st2\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  assert_true(violations(m) > 0);
  li_compliant(m, "li-fi");
  li_violates(m, "li-other", MODEL_R6);
  model_free(m);
}

/* moveVM's "v.runsOn != h": a definition left shut off on a host is not
 * the VM running there (the model's own placement rule reads it so:
 * test_model_observe.c), so it neither refuses the move as MOVE1 nor lets
 * the VM's own hypervisor pass as a move. */
static void test_shutoff_definition_is_not_running(void **state) {
  (void)state;
  model *m = load();
  model_obs_domain d = {"u-1", "bystander", MODEL_DOM_SHUTOFF, NULL, NULL, 0};
  model_observation o = {"fi-bare", T0, "ffff000000000001", &d, 1};
  model_verdict f = {0};
  lisec_err err = {0};
  ok(model_observe_host(m, &o, 360, &f, &err), &err);
  model_verdict_free(&f);
  allowed(m, "bystander", "hv-fi-bare");
  denied(m, "bystander", "hv-hel-2", MODEL_MOVE1, NULL);
  /* Running there, it is there. */
  d.state = MODEL_DOM_RUNNING;
  o.at = T0 + 1;
  o.evidence = "ffff000000000002";
  memset(&f, 0, sizeof f);
  ok(model_observe_host(m, &o, 360, &f, &err), &err);
  model_verdict_free(&f);
  denied(m, "bystander", "hv-fi-bare", MODEL_MOVE1, "ffff000000000002");
  allowed(m, "bystander", "hv-hel-2");
  model_free(m);
}

/* Whether the verdict objects to the VM running on the target at all:
 * schedulers (the Kubernetes extender, ctl/model.c k8s_node_ok; the Nova
 * filter, integrations/openstack) read MOVE1 alone as "recorded there
 * already, no objection" and keep the node. */
static bool objects_beside_move1(const model_verdict *v) {
  for (size_t i = 0; i < v->n; i++)
    if (v->reasons[i].rule != MODEL_MOVE1) return true;
  return false;
}

/* §6.2 req. 8: the hardware of the LI VM "should be trusted"; req. 1: the
 * hardware running the monitored VM "has to be at a geographical location
 * within the scope of the LI's jurisdiction"; moveVM:
 * "h.executesOn.trusted = true". A VM recorded (or observed) on a node is
 * still to be refused there when that node's trust lapsed or it lies
 * outside the jurisdiction: MOVE1 must not hide what else fails. */
static void test_move1_does_not_hide_the_target(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  model_verdict v;
  /* Trusted and inside: MOVE1 alone. */
  decide(m, "target", "hv-hel-2", &v);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_MOVE1, NULL));
  assert_false(objects_beside_move1(&v));
  model_verdict_free(&v);
  /* The node's trust lapses: the LI's monitored VM, and any VM, is refused there. */
  ok(model_host_set_trust(m, "hel-2", MODEL_TRUST_UNTRUSTED, &err), &err);
  decide(m, "target", "hv-hel-2", &v);
  show(&v);
  assert_true(has(&v, MODEL_MOVE1, NULL));
  assert_true(has(&v, MODEL_R11, "LI li-fi"));
  model_verdict_free(&v);
  decide(m, "bystander", "hv-hel-2", &v);
  assert_true(has(&v, MODEL_MOVE1, NULL));
  assert_true(has(&v, MODEL_MOVE2, NULL));
  model_verdict_free(&v);
  ok(model_host_set_trust(m, "hel-2", MODEL_TRUST_TRUSTED, &err), &err);
  /* Recorded in London (a violation now): restarting it there is refused. */
  ok(model_vm_move(m, "target", "hv-lon-1", &err), &err);
  decide(m, "target", "hv-lon-1", &v);
  show(&v);
  assert_true(has(&v, MODEL_MOVE1, NULL));
  assert_true(has(&v, MODEL_R11, "host lon-1 is located in GB"));
  model_verdict_free(&v);
  /* The LI VM on a node below its protection level (O.1.3). */
  put(m, "host", "{\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"sensitive\","
                 "\"location\":{\"country\":\"FI\",\"subdivision\":\"FI-18\"}}");
  decide(m, "li1", "hv-hel-1", &v);
  assert_true(has(&v, MODEL_MOVE1, NULL));
  assert_true(has(&v, MODEL_O13, NULL));
  model_verdict_free(&v);
  /* Observed running on a node whose trust then lapses. */
  model_obs_domain d = {"u-2", "bystander", MODEL_DOM_RUNNING, NULL, NULL, 0};
  model_observation o = {"fi-bare", T0, "ffff000000000003", &d, 1};
  model_verdict f = {0};
  ok(model_observe_host(m, &o, 360, &f, &err), &err);
  model_verdict_free(&f);
  ok(model_host_set_trust(m, "fi-bare", MODEL_TRUST_UNKNOWN, &err), &err);
  decide(m, "bystander", "hv-fi-bare", &v);
  show(&v);
  assert_true(has(&v, MODEL_MOVE1, "ffff000000000003"));
  assert_true(has(&v, MODEL_MOVE2, NULL));
  model_verdict_free(&v);
  index_matches_full(m);
  model_free(m);
}

/* §4.2: "if an LI VM is instantiated it can only operate with the VM's it
 * is allowed to". A connection group from the LI VM to a VM it may not
 * operate with is refused even when its first hop is shared with a group
 * to a VM it may (the monitored VM, through the same firewall). */
static void test_known_hop_shared_by_two_groups(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  put(m, "connection", "{\"id\":\"c4\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c5\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c9\",\"between\":[\"fw1\",\"bystander\"],\"kind\":\"network\","
                       "\"secure\":true}");
  const char *bad_ids[] = {"c5", "c9"};
  const char *bad_via[] = {"fw1"};
  const bool no[] = {false};
  model_group_spec bad = {"g-bad", NULL, NULL, 2, bad_ids, bad_via, no};
  model_verdict v;
  /* With a group through the same firewall to the monitored VM ... */
  put(m, "group", "{\"id\":\"g-ok\",\"connections\":[\"c5\",\"c4\"],"
                  "\"intermediates\":[{\"vm\":\"fw1\",\"stores\":false}]}");
  assert_int_equal(violations(m), 0);
  /* ... the group to the bystander is still refused, */
  ok(model_decide_connect(m, &bad, NULL, 0, &v, &err), &err);
  show(&v);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_KNOWN, "bystander"));
  model_verdict_free(&v);
  /* and still a violation once it exists. */
  ok(model_group_put(m, &bad, &err), &err);
  assert_int_equal(model_compliance(m, &v), 0);
  show(&v);
  assert_true(has(&v, MODEL_KNOWN, "bystander"));
  model_verdict_free(&v);
  index_matches_full(m);
  /* The bystander made a known LI VM: allowed. */
  put(m, "vm", "{\"id\":\"bystander\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  assert_int_equal(model_compliance(m, &v), 0);
  assert_false(has(&v, MODEL_KNOWN, NULL));
  model_verdict_free(&v);
  index_matches_full(m);
  model_free(m);
}

/* Fail closed on what is absent: a host that states no trust has not
 * attested; a connection must say whether it is secure and an
 * intermediate whether it stores; an LI with no storage_via stores
 * through its LI VM, which then must be provided the storage (req. 3, 5);
 * a jurisdiction must name some area; a polygon jurisdiction holds no host
 * without coordinates. */
static void test_absent_fields_fail_closed(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  denied(m, "bystander", "hv-fi-silent", MODEL_MOVE2, NULL);
  assert_int_equal(put_rc(m, "connection", "{\"id\":\"c9\",\"between\":[\"li1\",\"store1\"],"
                                           "\"kind\":\"network\"}", &err),
                   LISEC_EINVAL);
  put(m, "connection", "{\"id\":\"c4\",\"between\":[\"target\",\"fw1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  put(m, "connection", "{\"id\":\"c5\",\"between\":[\"fw1\",\"li1\"],\"kind\":\"network\","
                       "\"secure\":true}");
  assert_int_equal(put_rc(m, "group", "{\"id\":\"g\",\"connections\":[\"c4\",\"c5\"],"
                                      "\"intermediates\":[{\"vm\":\"fw1\"}]}", &err),
                   LISEC_EINVAL);
  assert_int_equal(put_rc(m, "jurisdiction", "{\"id\":\"none\",\"codes\":[]}", &err),
                   LISEC_EINVAL);
  assert_int_equal(put_rc(m, "jurisdiction", "{\"id\":\"eu\",\"codes\":[\"EU\"]}", &err),
                   LISEC_EINVAL);
  assert_int_equal(put_rc(m, "jurisdiction", "{\"id\":\"fi-lower\",\"codes\":[\"fi\"]}", &err),
                   LISEC_EINVAL);
  put(m, "li", "{\"id\":\"li-fi\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  assert_true(has(&v, MODEL_R5, NULL));
  model_verdict_free(&v);
  /* Geofenced to Helsinki: hel-2 has coordinates inside, fi-bare none. */
  put(m, "li", "{\"id\":\"li-fi\",\"jurisdiction\":\"hki\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  allowed(m, "target", "hv-hel-1");
  denied(m, "target", "hv-fi-bare", MODEL_R11, NULL);
  /* A subdivision jurisdiction holds no host that names only the country. */
  put(m, "li", "{\"id\":\"li-fi\",\"jurisdiction\":\"uusimaa\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"via1\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  denied(m, "target", "hv-fi-bare", MODEL_R11, NULL);
  denied(m, "target", "hv-tre-1", MODEL_R11, NULL);
  allowed(m, "target", "hv-hel-1");
  /* Times are UTC: an offset is refused, not read as local time. */
  assert_int_equal(put_rc(m, "li", "{\"id\":\"li-tz\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\","
                                   "\"monitored\":\"target\",\"host\":\"li1\",\"storage\":\"st1\","
                                   "\"valid_from\":\"2026-01-01T00:00:00+02:00\","
                                   "\"valid_until\":\"2027-01-01T00:00:00Z\"}", &err),
                   LISEC_EINVAL);
  /* An empty validity period is refused. */
  assert_int_equal(put_rc(m, "li", "{\"id\":\"li-tz\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\","
                                   "\"monitored\":\"target\",\"host\":\"li1\",\"storage\":\"st1\","
                                   "\"valid_from\":\"2026-01-01T00:00:00Z\","
                                   "\"valid_until\":\"2026-01-01T00:00:00Z\"}", &err),
                   LISEC_EINVAL);
  index_matches_full(m);
  model_free(m);
}

/* Violations of r in the compliance report whose sentence holds needle. */
static size_t count_rule(model *m, model_rule r, const char *needle) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  size_t n = 0;
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == r && (!needle || strstr(v.reasons[i].sentence, needle))) n++;
  model_verdict_free(&v);
  return n;
}

/* st1, li-fi's storage, provided to via1 (its storage VM) and the VMs
 * named, each given a secure NFS path to the provider store1 (req. 5), so
 * that what is left to judge is who may read the LI's data. */
static void provide_st1(model *m, const char *const *users, size_t n) {
  char body[1024];
  size_t k = (size_t)snprintf(body, sizeof body, "{\"id\":\"st1\",\"vm\":\"store1\",\"provided_to\":[\"via1\"");
  for (size_t i = 0; i < n; i++) {
    char conn[256];
    snprintf(conn, sizeof conn,
             "{\"id\":\"nfs-%s\",\"between\":[\"%s\",\"store1\"],\"kind\":\"nfs\",\"secure\":true}",
             users[i], users[i]);
    put(m, "connection", conn);
    k += (size_t)snprintf(body + k, sizeof body - k, ",\"%s\"", users[i]);
  }
  snprintf(body + k, sizeof body - k, "]}");
  put(m, "storage", body);
}

/* §4.2: an LI VM "can only operate with the VMs it is allowed to"; §6.2:
 * "a VM utilizing storage being provided by another VM implies that a
 * connection exists between the two VMs", and req. 7's note: the storage
 * the LI stores its data at "is the only correct place to store said
 * data". A VM outside the LI that is also given the LI's storage reads
 * what the LI collected: a violation though it runs in the jurisdiction on
 * trusted hardware, reported on the LI (subject withheld from other roles
 * by the controller), and refused as a decision to provide the storage. */
static void test_store_user_not_allowed(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  const char *users[] = {"bystander"};
  model_verdict v;
  ok(model_decide_attach(m, "st1", "bystander", &v, &err), &err);
  show(&v);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_STORE, "also provided to VM bystander"));
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == MODEL_STORE) assert_string_equal(v.reasons[i].subject, "li li-fi");
  model_verdict_free(&v);
  provide_st1(m, users, 1);
  assert_int_equal(count_rule(m, MODEL_STORE, "LI li-fi stores its data in storage st1, which is "
                                              "also provided to VM bystander"), 1);
  /* (the storage VM store1, an LI VM, connected to bystander is the
   * known-LI-VM rule's own violation besides) */
  assert_int_equal(count_rule(m, MODEL_KNOWN, "LI VM store1 is connected to VM bystander"), 1);
  assert_int_equal(violations(m), 2);
  li_violates(m, "li-fi", MODEL_STORE);
  assert_true(model_rule_about_li(MODEL_STORE));
  assert_string_equal(model_rule_id(MODEL_STORE), "TR103308-4.2-STORE");
  index_matches_full(m);
  /* The monitored VM is the worst reader of all: its own interception. */
  const char *target[] = {"target"};
  provide_st1(m, target, 1);
  assert_int_equal(count_rule(m, MODEL_STORE, "the VM the LI monitors"), 1);
  assert_int_equal(count_rule(m, MODEL_STORE, NULL), 1);
  /* Outside its validity period the LI holds no data to guard. */
  ok(model_set_time(m, UNTIL, &err), &err);
  assert_int_equal(count_rule(m, MODEL_STORE, NULL), 0);
  index_matches_full(m);
  model_free(m);
}

/* Those the LI VM may operate with may share the storage: its storage VM
 * (req. 3), the LI VM itself, a known (paired) LI VM, and the storage VM
 * of another LI the same LI VM hosts. Each is held to req. 3 (its
 * hardware inside the LI's jurisdiction) and an LI VM to req. 8 (trusted,
 * with a location). */
static void test_store_users_allowed(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  model_verdict v;
  ok(model_decide_attach(m, "st1", "via1", &v, &err), &err); /* provided already */
  assert_true(v.allow);
  model_verdict_free(&v);
  put(m, "connection", "{\"id\":\"nfs-li1\",\"between\":[\"li1\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":true}");
  ok(model_decide_attach(m, "st1", "li1", &v, &err), &err);
  show(&v);
  assert_true(v.allow);
  model_verdict_free(&v);
  put(m, "vm", "{\"id\":\"li2\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  const char *lis[] = {"li1", "li2"};
  provide_st1(m, lis, 2);
  assert_int_equal(violations(m), 0);
  li_compliant(m, "li-fi");
  /* bystander becomes the storage VM of another LI of li1 */
  const char *users[] = {"li1", "li2", "bystander"};
  provide_st1(m, users, 3);
  assert_int_equal(count_rule(m, MODEL_STORE, "also provided to VM bystander"), 1);
  put(m, "li", "{\"id\":\"li-fi-b\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"bystander\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}");
  put(m, "connection", "{\"id\":\"c-by\",\"between\":[\"li1\",\"bystander\"],\"kind\":\"network\","
                       "\"secure\":true}");
  /* store1, an LI VM, may not be connected to bystander (4.2-KNOWN judges
   * the provider's connections as they are); the storage may be read by
   * it, as li1 stores through it */
  assert_int_equal(count_rule(m, MODEL_STORE, NULL), 0);
  assert_int_equal(violations(m), 1);
  index_matches_full(m);
  /* The other LI ends: bystander is no VM li1 stores through any more. */
  put(m, "li", "{\"id\":\"li-fi-b\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":"
               "\"target\",\"host\":\"li1\",\"storage\":\"st1\",\"storage_via\":\"bystander\","
               "\"valid_from\":\"2026-01-01T00:00:00Z\",\"valid_until\":\"2026-05-01T00:00:00Z\"}");
  assert_int_equal(count_rule(m, MODEL_STORE, "also provided to VM bystander"), 1);
  index_matches_full(m);
  /* An LI VM the LI administration no longer knows may not read it. */
  put(m, "vm", "{\"id\":\"li2\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":false}");
  assert_int_equal(count_rule(m, MODEL_STORE, "also provided to VM li2"), 1);
  index_matches_full(m);
  model_free(m);
}

/* Req. 3: "The VM being utilized to store the data from the LI has to be
 * within ... the jurisdiction of the LI"; req. 8: the hardware of an LI VM
 * "should be trusted". An allowed VM abroad, or an LI VM on hardware that
 * is not trusted, fails; so does one whose host moves or lapses later. */
static void test_store_user_abroad_or_untrusted(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  put(m, "vm", "{\"id\":\"li-se\",\"hypervisor\":\"hv-sto-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  put(m, "vm", "{\"id\":\"li-u\",\"hypervisor\":\"hv-fi-untr\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  model_verdict v;
  put(m, "connection", "{\"id\":\"nfs-li-se\",\"between\":[\"li-se\",\"store1\"],\"kind\":\"nfs\","
                       "\"secure\":true}");
  ok(model_decide_attach(m, "st1", "li-se", &v, &err), &err);
  show(&v);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_STORE, "LI li-fi is issued in FI; host sto-1 is located in SE"));
  model_verdict_free(&v);
  const char *users[] = {"li-se", "li-u"};
  provide_st1(m, users, 2);
  assert_int_equal(count_rule(m, MODEL_STORE, "host sto-1 is located in SE"), 1);
  assert_int_equal(count_rule(m, MODEL_STORE, "LI VM li-u is provided storage st1, where LI li-fi "
                                              "stores its data; its hardware, host fi-untr, "
                                              "is not trusted (untrusted"), 1);
  assert_int_equal(violations(m), 2);
  index_matches_full(m);
  /* Attested again, trusted: li-u passes; its host losing trust fails it. */
  ok(model_host_set_trust(m, "fi-untr", MODEL_TRUST_TRUSTED, &err), &err);
  assert_int_equal(count_rule(m, MODEL_STORE, "li-u"), 0);
  ok(model_host_set_trust(m, "fi-untr", MODEL_TRUST_UNKNOWN, &err), &err);
  assert_int_equal(count_rule(m, MODEL_STORE, "li-u"), 1);
  index_matches_full(m);
  /* Moved home, li-se passes; its hardware moving abroad fails it again. */
  ok(model_vm_move(m, "li-se", "hv-hel-2", &err), &err);
  assert_int_equal(count_rule(m, MODEL_STORE, "li-se"), 0);
  model_location gb = {.country = "GB", .source = MODEL_LOC_ADMINISTRATIVE};
  ok(model_host_set_location(m, "hel-2", &gb, &err), &err);
  assert_true(count_rule(m, MODEL_STORE, "li-se") >= 1);
  index_matches_full(m);
  model_free(m);
}

/* §6.2 req. 11 read with req. 3: the VM a move would take abroad while it
 * reads an LI's storage takes the LI's data with it. The move is refused
 * naming 4.2-STORE, for an allowed VM and for one that should not have
 * the storage at all; within the jurisdiction it is allowed. */
static void test_store_user_move(void **state) {
  (void)state;
  model *m = load();
  put(m, "vm", "{\"id\":\"li2\",\"hypervisor\":\"hv-hel-2\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  const char *users[] = {"li2", "bystander"};
  provide_st1(m, users, 2);
  denied(m, "li2", "hv-lon-1", MODEL_STORE, "LI li-fi is issued in FI; host lon-1 is located in GB");
  denied(m, "li2", "hv-sto-1", MODEL_STORE, "VM li2, to which the LI's storage st1 is provided");
  /* no location is the target's trust, any VM's, not the LI's place */
  denied(m, "li2", "hv-noloc", MODEL_MOVE2, "no location");
  model_verdict nl;
  decide(m, "li2", "hv-noloc", &nl);
  assert_false(has(&nl, MODEL_STORE, NULL));
  model_verdict_free(&nl);
  denied(m, "bystander", "hv-lon-1", MODEL_STORE, "LI li-fi");
  denied(m, "li2", "hv-fi-untr", MODEL_MOVE2, NULL); /* the target's trust: any VM's */
  allowed(m, "li2", "hv-fi-bare");
  allowed(m, "li2", "hv-tre-1");
  /* its storage VM and LI VM are req. 11's (R11), not asked twice */
  model_verdict v;
  decide(m, "via1", "hv-lon-1", &v);
  show(&v);
  assert_true(has(&v, MODEL_R11, "LI li-fi"));
  assert_false(has(&v, MODEL_STORE, NULL));
  model_verdict_free(&v);
  /* no storage of an active LI: nothing to guard */
  lisec_err err = {0};
  ok(model_set_time(m, UNTIL, &err), &err);
  allowed(m, "li2", "hv-lon-1");
  model_free(m);
}

/* How many reasons of rule r in v are marked as failing for a host's
 * trust alone (model_reason.trust: marked) or are not (!marked). */
static size_t n_marked(const model_verdict *v, model_rule r, bool marked) {
  size_t n = 0;
  for (size_t i = 0; i < v->n; i++) n += v->reasons[i].rule == r && v->reasons[i].trust == marked;
  return n;
}

/* The same over the compliance report. */
static size_t c_marked(model *m, model_rule r, bool marked) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  size_t n = n_marked(&v, r, marked);
  model_verdict_free(&v);
  return n;
}

/* The mark a reason carries when it fails for its hardware's trust alone
 * (model_reason.trust), set where the model makes it, which the controller
 * reads to show such a reason to the LI administration only (ctl/model.c,
 * trust_row): on a move, R11 beside MOVE2 and never MOVE2 itself nor R11
 * for the jurisdiction; in compliance, R8, R9 and 4.2-STORE on untrusted
 * hardware and R1-R3 where the hardware has no location, never R1-R3 or
 * 4.2-STORE outside the jurisdiction (what a hypervisor's move compares
 * before and after). The words are the model's as before. */
static void test_trust_reasons_marked(void **state) {
  (void)state;
  model *m = load();
  lisec_err err = {0};
  put(m, "host", "{\"id\":\"gb-untr\",\"trust\":\"untrusted\",\"protection\":\"li\","
                 "\"location\":{\"country\":\"GB\"}}");
  put(m, "hypervisor", "{\"id\":\"hv-gb-untr\",\"host\":\"gb-untr\"}");
  model_verdict v;
  /* untrusted, inside: MOVE2 unmarked, R11 marked, one each */
  decide(m, "target", "hv-fi-untr", &v);
  show(&v);
  assert_int_equal(n_marked(&v, MODEL_MOVE2, false), 1);
  assert_int_equal(n_marked(&v, MODEL_MOVE2, true), 0);
  assert_int_equal(n_marked(&v, MODEL_R11, true), 1);
  assert_int_equal(n_marked(&v, MODEL_R11, false), 0);
  assert_true(has(&v, MODEL_R11, "may move only to trusted hardware"));
  model_verdict_free(&v);
  /* trusted, outside: R11 for the jurisdiction, unmarked */
  decide(m, "target", "hv-lon-1", &v);
  assert_int_equal(n_marked(&v, MODEL_R11, false), 1);
  assert_int_equal(n_marked(&v, MODEL_R11, true), 0);
  model_verdict_free(&v);
  /* untrusted and outside: both R11, one marked */
  decide(m, "target", "hv-gb-untr", &v);
  show(&v);
  assert_int_equal(n_marked(&v, MODEL_R11, false), 1);
  assert_int_equal(n_marked(&v, MODEL_R11, true), 1);
  assert_int_equal(n_marked(&v, MODEL_MOVE2, false), 1);
  model_verdict_free(&v);
  /* trusted without a location: the trust failure, marked; no other R11 */
  ok(model_host_set_trust(m, "noloc", MODEL_TRUST_TRUSTED, &err), &err);
  decide(m, "target", "hv-noloc", &v);
  assert_int_equal(n_marked(&v, MODEL_R11, true), 1);
  assert_int_equal(n_marked(&v, MODEL_R11, false), 0);
  model_verdict_free(&v);
  ok(model_host_set_trust(m, "noloc", MODEL_TRUST_UNKNOWN, &err), &err);
  /* a VM no LI involves: MOVE2 alone, nothing marked */
  decide(m, "bystander", "hv-fi-untr", &v);
  assert_int_equal(v.n, 1);
  assert_false(v.reasons[0].trust);
  model_verdict_free(&v);
  /* nor a placement's MOVE2 */
  model_vm_spec nv = {"new-li", "hv-fi-untr", MODEL_CLASS_LI, "li", true};
  ok(model_decide_place(m, &nv, &v, &err), &err);
  assert_int_equal(n_marked(&v, MODEL_MOVE2, false), 1);
  for (size_t i = 0; i < v.n; i++) assert_false(v.reasons[i].trust);
  model_verdict_free(&v);

  /* compliance: compliant, nothing marked */
  assert_int_equal(violations(m), 0);
  /* the monitored VM on hardware without a location: R1, marked */
  ok(model_vm_move(m, "target", "hv-noloc", &err), &err);
  assert_int_equal(c_marked(m, MODEL_R1, true), 1);
  assert_int_equal(c_marked(m, MODEL_R1, false), 0);
  /* ... abroad: R1 for the jurisdiction, unmarked */
  ok(model_vm_move(m, "target", "hv-lon-1", &err), &err);
  assert_int_equal(c_marked(m, MODEL_R1, true), 0);
  assert_int_equal(c_marked(m, MODEL_R1, false), 1);
  ok(model_vm_move(m, "target", "hv-hel-2", &err), &err);
  /* the storage provider on untrusted hardware: R9, marked */
  ok(model_vm_move(m, "store1", "hv-fi-untr", &err), &err);
  assert_true(c_marked(m, MODEL_R9, true) >= 1);
  assert_int_equal(c_marked(m, MODEL_R9, false), 0);
  ok(model_vm_move(m, "store1", "hv-tre-1", &err), &err);
  /* the LI VM's hardware untrusted: R8, marked */
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_UNTRUSTED, &err), &err);
  assert_true(c_marked(m, MODEL_R8, true) >= 1);
  assert_int_equal(c_marked(m, MODEL_R8, false), 0);
  ok(model_host_set_trust(m, "hel-1", MODEL_TRUST_TRUSTED, &err), &err);
  assert_int_equal(violations(m), 0);
  /* a further LI VM reading the LI's storage: on untrusted hardware
   * 4.2-STORE marked, abroad unmarked */
  put(m, "vm", "{\"id\":\"li-u\",\"hypervisor\":\"hv-fi-untr\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  put(m, "vm", "{\"id\":\"li-se\",\"hypervisor\":\"hv-sto-1\",\"sensitivity\":\"li\","
               "\"domain\":\"li\",\"paired\":true}");
  const char *users[] = {"li-u", "li-se"};
  provide_st1(m, users, 2);
  assert_int_equal(c_marked(m, MODEL_STORE, true), 1);
  assert_int_equal(c_marked(m, MODEL_STORE, false), 1);
  assert_int_equal(count_rule(m, MODEL_STORE, "host fi-untr, is not trusted (untrusted"), 1);
  index_matches_full(m);
  model_free(m);
}

/* Ids are exact strings: a near miss (case, trailing space, overlong) is
 * not the entity, so it cannot stand in for a trusted host or a VM. */
static void test_id_edges(void **state) {
  (void)state;
  model *m = load();
  model_verdict v;
  lisec_err err = {0};
  assert_int_equal(model_decide_move(m, "Target", "hv-lon-1", &v, &err), LISEC_ENOTFOUND);
  assert_int_equal(model_decide_move(m, "target ", "hv-lon-1", &v, &err), LISEC_EINVAL);
  assert_int_equal(model_decide_move(m, "target", "HV-LON-1", &v, &err), LISEC_ENOTFOUND);
  char longid[200];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(model_decide_move(m, longid, "hv-lon-1", &v, &err), LISEC_EINVAL);
  const char *hyp;
  assert_int_equal(model_resolve_target(m, "lon-1\n", &hyp, &err), LISEC_EINVAL);
  ok(model_resolve_target(m, "lon-1", &hyp, &err), &err);
  assert_string_equal(hyp, "hv-lon-1");
  model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topology_compliant),
      cmocka_unit_test(test_two_lis_two_jurisdictions),
      cmocka_unit_test(test_validity_boundaries),
      cmocka_unit_test(test_trust_and_location_of_target),
      cmocka_unit_test(test_trust_reasons_marked),
      cmocka_unit_test(test_moved_hardware_lapses),
      cmocka_unit_test(test_storage_vms_move),
      cmocka_unit_test(test_ipc_path_broken_by_move),
      cmocka_unit_test(test_vm_in_two_groups),
      cmocka_unit_test(test_li_compliance_covers_its_paths),
      cmocka_unit_test(test_shutoff_definition_is_not_running),
      cmocka_unit_test(test_move1_does_not_hide_the_target),
      cmocka_unit_test(test_known_hop_shared_by_two_groups),
      cmocka_unit_test(test_absent_fields_fail_closed),
      cmocka_unit_test(test_id_edges),
      cmocka_unit_test(test_store_user_not_allowed),
      cmocka_unit_test(test_store_users_allowed),
      cmocka_unit_test(test_store_user_abroad_or_untrusted),
      cmocka_unit_test(test_store_user_move),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
