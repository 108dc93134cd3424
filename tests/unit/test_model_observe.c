/* Unit test of observation beside intent (issue 15, model/observe.c): each
 * violation kind appears exactly when its facts hold and names what was
 * declared, what was observed, when and by which quote (PLACEMENT,
 * DUPLICATE, UNREPORTED after the attestation interval plus grace,
 * UNKNOWN-DOMAIN on a host that carries an LI VM, IMAGE against the
 * package's digests), each with its negative; a host's new inventory
 * replaces its old one and reports a finding once; a move decision judges
 * from the observed host; bad inventories are refused whole. What a host
 * touches (model_host_li_vms, model_host_lis) counts the VMs it runs by
 * intent and as observed, and a VM an LI names but not declared "li"
 * makes no UNKNOWN-DOMAIN finding (§4.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

static const int64_t T0 = 1780272000; /* 2026-06-01 */
static const int64_t WINDOW = 360;    /* interval 300 s + grace 60 s */

static const char IMG_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char IMG_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void ok(int rc, const lisec_err *err) {
  if (rc) fail_msg("unexpected %d: %s", rc, err->msg);
}

/* hel-1 (web), lon-1 (nothing), hel-2 (lim, an LI VM), all trusted. */
static int setup(void **state) {
  model *m = model_new();
  lisec_err err = {0};
  model_set_time(m, T0, &err);
  static const struct {
    const char *id, *country;
  } hosts[] = {{"hel-1", "FI"}, {"lon-1", "GB"}, {"hel-2", "FI"}};
  for (int i = 0; i < 3; i++) {
    model_location loc = {.country = hosts[i].country, .source = MODEL_LOC_ATTESTED};
    model_host_spec h = {hosts[i].id, MODEL_TRUST_TRUSTED, &loc, MODEL_CLASS_LI};
    ok(model_host_put(m, &h, &err), &err);
    char hyp[32];
    snprintf(hyp, sizeof hyp, "hv-%s", hosts[i].id);
    ok(model_hypervisor_put(m, hyp, hosts[i].id, &err), &err);
  }
  model_vm_spec web = {"web", "hv-hel-1", MODEL_CLASS_GENERAL, "core", false};
  model_vm_spec lim = {"lim", "hv-hel-2", MODEL_CLASS_LI, "li", true};
  ok(model_vm_put(m, &web, &err), &err);
  ok(model_vm_put(m, &lim, &err), &err);
  *state = m;
  return 0;
}

static int teardown(void **state) {
  model_free(*state);
  return 0;
}

/* One host's inventory with one domain. */
static int observe1(model *m, const char *host, int64_t at, const char *ev, const char *uuid,
                    const char *vm, model_dom_state st, const char *image,
                    const char *const *expected, size_t n_expected, model_verdict *found) {
  model_obs_domain d = {uuid, vm, st, image, expected, n_expected};
  model_observation o = {host, at, ev, &d, uuid ? 1 : 0};
  lisec_err err = {0};
  memset(found, 0, sizeof *found);
  return model_observe_host(m, &o, WINDOW, found, &err);
}

static size_t count_req(const model_verdict *v, const char *req) {
  size_t n = 0;
  for (size_t i = 0; i < v->n; i++) n += strcmp(v->reasons[i].requirement, req) == 0;
  return n;
}

static const model_reason *find_req(const model_verdict *v, const char *req) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->reasons[i].requirement, req) == 0) return &v->reasons[i];
  return NULL;
}

static size_t reconcile_count(model *m, const char *req) {
  model_verdict v = {0};
  assert_int_equal(model_observe_reconcile(m, WINDOW, &v), 0);
  size_t n = count_req(&v, req);
  model_verdict_free(&v);
  return n;
}

static void test_placement(void **state) {
  model *m = *state;
  model_verdict f;
  /* Negative first: observed where declared. */
  assert_int_equal(observe1(m, "hel-1", T0, "00aa11bb22cc33dd", "u-1", "web", MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_PLACEMENT), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 0);
  /* Declared on hel-1, observed on lon-1 (and no longer on hel-1). */
  assert_int_equal(observe1(m, "hel-1", T0 + 10, "1111111111111111", NULL, NULL, 0, NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  assert_int_equal(observe1(m, "lon-1", T0 + 20, "2222222222222222", "u-1", "web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), 0);
  const model_reason *r = find_req(&f, MODEL_REQ_PLACEMENT);
  assert_non_null(r);
  assert_string_equal(r->subject, "vm web");
  assert_non_null(strstr(r->sentence, "declared on host hel-1"));
  assert_non_null(strstr(r->sentence, "host lon-1"));
  assert_non_null(strstr(r->sentence, "2222222222222222"));
  assert_non_null(strstr(r->sentence, "2026-06-01T00:00:20Z"));
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 1);
  /* The same inventory again finds nothing new (recorded once), while the
   * reconcile still shows it. */
  assert_int_equal(observe1(m, "lon-1", T0 + 30, "3333333333333333", "u-1", "web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), 0);
  assert_int_equal(f.n, 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 1);
  /* A shut-off definition left on lon-1 does not place it there. */
  assert_int_equal(observe1(m, "lon-1", T0 + 40, "4444444444444444", "u-1", "web",
                            MODEL_DOM_SHUTOFF, NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 0);
  model_vm_observation ob;
  assert_true(model_vm_observed(m, "web", &ob));
  assert_string_equal(ob.host, "lon-1");
  assert_int_equal(ob.state, MODEL_DOM_SHUTOFF);
  assert_int_equal(ob.n_hosts, 0);
  /* Running there again, then lon-1 leaves the model: what it proved no
   * longer counts. */
  assert_int_equal(observe1(m, "lon-1", T0 + 50, "5555555555555555", "u-1", "web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 1);
  int64_t at = 0;
  assert_true(model_host_observed(m, "lon-1", &at, NULL));
  assert_int_equal(at, T0 + 50);
  model_observe_forget(m, "lon-1");
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 0);
  assert_false(model_vm_observed(m, "web", &ob));
  /* nor does it count as a host that reports (a termination would wait for it) */
  assert_false(model_host_observed(m, "lon-1", NULL, NULL));
  lisec_err err = {0};
  model_set_time(m, T0 + 10 * WINDOW, &err);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 1); /* its last report is old */
}

static void test_duplicate(void **state) {
  model *m = *state;
  model_verdict f;
  assert_int_equal(observe1(m, "hel-1", T0, "aaaa000000000001", "u-1", "web", MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  /* Negative: the other host shows it shut off. */
  assert_int_equal(observe1(m, "lon-1", T0 + 1, "aaaa000000000002", "u-9", "web",
                            MODEL_DOM_SHUTOFF, NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_DUPLICATE), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_DUPLICATE), 0);
  /* Running on both. */
  assert_int_equal(observe1(m, "lon-1", T0 + 2, "aaaa000000000003", "u-9", "web",
                            MODEL_DOM_PAUSED, NULL, NULL, 0, &f), 0);
  const model_reason *r = find_req(&f, MODEL_REQ_DUPLICATE);
  assert_non_null(r);
  assert_non_null(strstr(r->sentence, "host hel-1"));
  assert_non_null(strstr(r->sentence, "host lon-1"));
  assert_non_null(strstr(r->sentence, "aaaa000000000003"));
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_DUPLICATE), 1);
  model_vm_observation ob;
  assert_true(model_vm_observed(m, "web", &ob));
  assert_null(ob.host); /* two hosts: no single placement */
  assert_int_equal(ob.n_hosts, 2);
}

static void test_unreported(void **state) {
  model *m = *state;
  model_verdict f;
  lisec_err err = {0};
  /* No host reports at all: nothing is due, nothing is unreported. */
  model_set_time(m, T0 + 10 * WINDOW, &err);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 0);
  model_set_time(m, T0, &err);
  /* hel-1 reports, without web. */
  assert_int_equal(observe1(m, "hel-1", T0, "bbbb000000000001", NULL, NULL, 0, NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_UNREPORTED), 0);
  model_verdict_free(&f);
  model_set_time(m, T0 + WINDOW, &err);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 0); /* inside the window */
  model_set_time(m, T0 + WINDOW + 1, &err);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 1);
  /* The next inventory without it finds it (once). */
  assert_int_equal(observe1(m, "hel-1", T0 + WINDOW + 1, "bbbb000000000002", NULL, NULL, 0,
                            NULL, NULL, 0, &f), 0);
  const model_reason *r = find_req(&f, MODEL_REQ_UNREPORTED);
  assert_non_null(r);
  assert_non_null(strstr(r->sentence, "VM web is declared on host hel-1"));
  assert_non_null(strstr(r->sentence, "bbbb000000000002"));
  model_verdict_free(&f);
  /* Reported again: gone. */
  assert_int_equal(observe1(m, "hel-1", T0 + WINDOW + 2, "bbbb000000000003", "u-1", "web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 0);
  /* A host that stops attesting: its last report ages out. */
  model_set_time(m, T0 + 3 * WINDOW, &err);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNREPORTED), 1);
}

static void test_unknown_domain(void **state) {
  model *m = *state;
  model_verdict f;
  /* Negative: an unnamed domain on hel-1, which carries no LI VM. */
  assert_int_equal(observe1(m, "hel-1", T0, "cccc000000000001", "u-x", NULL, MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_UNKNOWN_DOMAIN), 0);
  model_verdict_free(&f);
  /* hel-2 carries lim (an LI VM): an unnamed domain there is a finding, as
   * is one naming a VM the model does not have. */
  model_obs_domain d[3] = {{"u-lim", "lim", MODEL_DOM_RUNNING, NULL, NULL, 0},
                           {"u-anon", NULL, MODEL_DOM_RUNNING, NULL, NULL, 0},
                           {"u-ghost", "ghost", MODEL_DOM_PAUSED, NULL, NULL, 0}};
  model_observation o = {"hel-2", T0 + 5, "cccc000000000002", d, 3};
  lisec_err err = {0};
  memset(&f, 0, sizeof f);
  ok(model_observe_host(m, &o, WINDOW, &f, &err), &err);
  assert_int_equal(count_req(&f, MODEL_REQ_UNKNOWN_DOMAIN), 2);
  const model_reason *r = find_req(&f, MODEL_REQ_UNKNOWN_DOMAIN);
  assert_string_equal(r->subject, "host hel-2");
  assert_non_null(strstr(r->sentence, "u-anon"));
  assert_non_null(strstr(r->sentence, "cccc000000000002"));
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNKNOWN_DOMAIN), 2);
  /* The same again: nothing new; one of them gone: one left. */
  o.evidence = "cccc000000000003";
  memset(&f, 0, sizeof f);
  ok(model_observe_host(m, &o, WINDOW, &f, &err), &err);
  assert_int_equal(f.n, 0);
  model_verdict_free(&f);
  o.n = 2;
  memset(&f, 0, sizeof f);
  ok(model_observe_host(m, &o, WINDOW, &f, &err), &err);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNKNOWN_DOMAIN), 1);
}

/* An LI (li-1) monitoring web on hel-1, its function on lim (hel-2); web2
 * on lon-1 hosts li-2's function without being declared "li". */
static void add_lis(model *m) {
  lisec_err err = {0};
  static const char *const fi[] = {"FI"};
  ok(model_jurisdiction_put(m, "fi", fi, 1, NULL, &err), &err);
  ok(model_lea_put(m, "lea", "LEA", "fi", &err), &err);
  model_vm_spec web2 = {"web2", "hv-lon-1", MODEL_CLASS_GENERAL, "core", false};
  ok(model_vm_put(m, &web2, &err), &err);
  ok(model_storage_put(m, "st", "lim", &err), &err);
  model_li_spec l1 = {.id = "li-1", .jurisdiction = "fi", .lea = "lea", .monitored = "web",
                      .host = "lim", .storage = "st", .valid_from = T0 - 10, .valid_until = T0 + 86400};
  model_li_spec l2 = l1;
  l2.id = "li-2", l2.host = "web2";
  ok(model_li_put(m, &l1, &err), &err);
  ok(model_li_put(m, &l2, &err), &err);
}

/* ids: the array's strings joined by ",". */
static void ids_equal(json_t *a, const char *want) {
  char got[256] = "";
  size_t i;
  json_t *x;
  assert_non_null(a);
  json_array_foreach(a, i, x) {
    if (i) strcat(got, ",");
    strcat(got, json_string_value(x));
  }
  json_decref(a);
  assert_string_equal(got, want);
}

static void test_host_touch(void **state) {
  model *m = *state;
  add_lis(m);
  ids_equal(model_host_li_vms(m, "hel-1"), "");
  ids_equal(model_host_lis(m, "hel-1"), "li-1,li-2");
  ids_equal(model_host_li_vms(m, "hel-2"), "lim");
  ids_equal(model_host_lis(m, "hel-2"), "li-1,li-2");
  ids_equal(model_host_li_vms(m, "lon-1"), "");
  ids_equal(model_host_lis(m, "lon-1"), "li-2");
  ids_equal(model_host_li_vms(m, "nowhere"), "");
  ids_equal(model_host_lis(m, NULL), "");
  /* hel-1 proves it runs lim too: lim counts there as well, once */
  model_verdict f;
  assert_int_equal(observe1(m, "hel-1", T0, "cccc000000000001", "u-lim", "lim", MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  ids_equal(model_host_li_vms(m, "hel-1"), "lim");
  ids_equal(model_host_lis(m, "hel-1"), "li-1,li-2");
}

/* An unknown domain beside a VM an LI monitors (web on hel-1) or one that
 * hosts an LI's function without being declared "li" (web2 on lon-1) is no
 * finding: it would tell every reader that an LI names a VM there; the LI
 * whose function runs on web2 fails its own rule instead. */
static void test_unknown_domain_li_named(void **state) {
  model *m = *state;
  add_lis(m);
  model_verdict f;
  assert_int_equal(observe1(m, "hel-1", T0, "cccc000000000001", "u-x", NULL, MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_UNKNOWN_DOMAIN), 0);
  model_verdict_free(&f);
  assert_int_equal(observe1(m, "lon-1", T0, "cccc000000000002", "u-y", NULL, MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_UNKNOWN_DOMAIN), 0);
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_UNKNOWN_DOMAIN), 0);
  /* and hel-2, which carries lim (declared "li"), still has its finding */
  assert_int_equal(observe1(m, "hel-2", T0, "cccc000000000003", "u-z", NULL, MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_UNKNOWN_DOMAIN), 1);
  model_verdict_free(&f);
}

static void test_image(void **state) {
  model *m = *state;
  model_verdict f;
  const char *const expected[] = {IMG_A};
  /* Negative: the package's image; and an image with no package known. */
  assert_int_equal(observe1(m, "hel-1", T0, "dddd000000000001", "u-1", "web", MODEL_DOM_RUNNING,
                            IMG_A, expected, 1, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_IMAGE), 0);
  model_verdict_free(&f);
  assert_int_equal(observe1(m, "hel-1", T0 + 1, "dddd000000000002", "u-1", "web",
                            MODEL_DOM_RUNNING, IMG_B, NULL, 0, &f), 0);
  assert_int_equal(count_req(&f, MODEL_REQ_IMAGE), 0);
  model_verdict_free(&f);
  /* Another image than the package's. */
  assert_int_equal(observe1(m, "hel-1", T0 + 2, "dddd000000000003", "u-1", "web",
                            MODEL_DOM_RUNNING, IMG_B, expected, 1, &f), 0);
  const model_reason *r = find_req(&f, MODEL_REQ_IMAGE);
  assert_non_null(r);
  assert_non_null(strstr(r->sentence, IMG_B));
  assert_non_null(strstr(r->sentence, IMG_A));
  assert_non_null(strstr(r->sentence, "dddd000000000003"));
  model_verdict_free(&f);
  assert_int_equal(reconcile_count(m, MODEL_REQ_IMAGE), 1);
}

static void test_decision_uses_observed(void **state) {
  model *m = *state;
  model_verdict v, f;
  lisec_err err = {0};
  /* Declared only: moving to its own hypervisor is MOVE1. */
  ok(model_decide_move(m, "web", "hv-hel-1", &v, &err), &err);
  assert_false(v.allow);
  assert_string_equal(v.reasons[0].requirement, "TR103308-6.2-MOVE1");
  model_verdict_free(&v);
  /* Observed on lon-1: it already runs there; hel-1 is a real move. */
  assert_int_equal(observe1(m, "lon-1", T0, "eeee000000000001", "u-1", "web", MODEL_DOM_RUNNING,
                            NULL, NULL, 0, &f), 0);
  model_verdict_free(&f);
  ok(model_decide_move(m, "web", "hv-lon-1", &v, &err), &err);
  assert_false(v.allow);
  assert_string_equal(v.reasons[0].requirement, "TR103308-6.2-MOVE1");
  assert_non_null(strstr(v.reasons[0].sentence, "eeee000000000001"));
  model_verdict_free(&v);
  ok(model_decide_move(m, "web", "hv-hel-1", &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* A decision moves nothing: intent and observation are as before. */
  ok(model_decide_move(m, "web", "hv-hel-2", &v, &err), &err);
  assert_true(v.allow);
  model_verdict_free(&v);
  model_vm_observation ob;
  assert_true(model_vm_observed(m, "web", &ob));
  assert_string_equal(ob.host, "lon-1");
  assert_int_equal(reconcile_count(m, MODEL_REQ_PLACEMENT), 1);
}

static void test_bad_inventory(void **state) {
  model *m = *state;
  model_verdict f;
  const char *const bad_expected[] = {"xyz"};
  assert_int_equal(observe1(m, "nowhere", T0, "ffff000000000001", "u-1", "web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), LISEC_ENOTFOUND);
  assert_int_equal(observe1(m, "hel-1", T0, "ffff000000000001", "u-1", "web", MODEL_DOM_RUNNING,
                            "ABC", NULL, 0, &f), LISEC_EINVAL);
  assert_int_equal(observe1(m, "hel-1", T0, "ffff000000000001", "u-1", "../web",
                            MODEL_DOM_RUNNING, NULL, NULL, 0, &f), LISEC_EINVAL);
  assert_int_equal(observe1(m, "hel-1", T0, "ffff000000000001", "u-1", "web", MODEL_DOM_RUNNING,
                            IMG_A, bad_expected, 1, &f), LISEC_EINVAL);
  assert_int_equal(observe1(m, "hel-1", T0, "ffff000000000001", "u-1", "web",
                            (model_dom_state)42, NULL, NULL, 0, &f), LISEC_EINVAL);
  /* Nothing of the refused inventories was kept. */
  model_vm_observation ob;
  assert_false(model_vm_observed(m, "web", &ob));
  assert_false(model_host_observed(m, "hel-1", NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_domain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_domain_li_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_touch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_image, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decision_uses_observed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_inventory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
