/* Unit test of the full evaluation on several threads (src/model/evalall.c,
 * issue 22 item 7): on a generated platform with violations of most rules
 * (hosts untrusted or without a location, VMs above their host's
 * protection, insecure and IPC connections across machines, storing
 * intermediates, mixed domains, LIs outside their jurisdiction, one of
 * them a polygon that GEOS answers), evaluating on 2, 3 and 8 threads
 * gives the very violation lists one thread gives, subject by subject,
 * the same total, and a compliance report byte for byte the same; small
 * chunks of work are forced by the platform's size against the 4,096
 * subjects a chunk holds (about 8,000 subjects: 7 chunks). A model below the threshold stays on one
 * thread and still gives the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/internal.h"
#include "model/model.h"

static const int64_t T0 = 1780272000; /* 2026-06-01 */
static uint64_t rs = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return n ? (uint32_t)(rs % n) : 0;
}

enum { NHOST = 160, NHYP = 200, NVM = 3600, NST = 30, NCONN = 2400, NGROUP = 1000, NLI = 500 };

static void must(int rc, const lisec_err *err) {
  if (rc) fail_msg("setup failed %d: %s", rc, err->msg);
}

static const char *id(char *buf, size_t cap, const char *p, int i) {
  snprintf(buf, cap, "%s%d", p, i);
  return buf;
}

static model *build(void) {
  model *m = model_new();
  lisec_err err = {0};
  char a[32], b[32], c[32];
  assert_non_null(m);
  model_set_time(m, T0, &err);
  model_batch_begin(m);
  const char *fi[] = {"FI"}, *se[] = {"SE"}, *nordic[] = {"FI", "SE", "NO"}, *sub[] = {"FI-18"};
  must(model_jurisdiction_put(m, "fi", fi, 1, NULL, &err), &err);
  must(model_jurisdiction_put(m, "se", se, 1, NULL, &err), &err);
  must(model_jurisdiction_put(m, "nordic", nordic, 3, NULL, &err), &err);
  must(model_jurisdiction_put(m, "uusimaa", sub, 1, NULL, &err), &err);
  json_t *box = json_loads("{\"type\":\"Polygon\",\"coordinates\":[[[20,55],[26,55],[26,62],"
                           "[20,62],[20,55]]]}",
                           0, NULL);
  must(model_jurisdiction_put(m, "box", NULL, 0, box, &err), &err);
  json_decref(box);
  static const char *const jurs[] = {"fi", "se", "nordic", "uusimaa", "box"};
  must(model_lea_put(m, "lea", "LEA", "fi", &err), &err);
  static const char *const cc[] = {"FI", "SE", "NO", "DE"};
  for (int i = 0; i < NHOST; i++) {
    model_location l = {.country = cc[rnd(4)]};
    if (!strcmp(l.country, "FI") && rnd(2)) l.subdivision = "FI-18";
    if (rnd(2)) {
      l.has_coords = true;
      l.lat = 54 + rnd(1000) / 100.0;
      l.lon = 18 + rnd(1000) / 100.0;
    }
    model_host_spec s = {.id = id(a, sizeof a, "h", i), .trust = (model_trust)(rnd(6) ? 1 : rnd(3)),
                         .location = rnd(12) ? &l : NULL, .protection = (model_class)(rnd(5) ? 2 : rnd(2))};
    must(model_host_put(m, &s, &err), &err);
  }
  for (int i = 0; i < NHYP; i++)
    must(model_hypervisor_put(m, id(a, sizeof a, "hv", i), id(b, sizeof b, "h", i % NHOST), &err), &err);
  static const char *const doms[] = {"core", "li", "dmz", "li2", "edge"};
  for (int i = 0; i < NVM; i++) {
    int cls = rnd(8) ? 0 : 1 + (int)rnd(2);
    model_vm_spec s = {.id = id(a, sizeof a, "vm", i), .hypervisor = id(b, sizeof b, "hv", (int)rnd(NHYP)),
                       .sensitivity = (model_class)cls,
                       .domain = cls == 2 ? doms[rnd(20) ? 1 + 2 * (int)rnd(2) : 0] : doms[rnd(5)],
                       .paired = rnd(4) != 0};
    must(model_vm_put(m, &s, &err), &err);
  }
  for (int i = 0; i < NST; i++) {
    must(model_storage_put(m, id(a, sizeof a, "st", i), id(b, sizeof b, "vm", (int)rnd(NVM)), &err), &err);
    for (int k = 0; k < 6; k++) model_storage_attach(m, a, id(b, sizeof b, "vm", (int)rnd(NVM)), &err);
  }
  static int ends[NCONN][2];
  for (int i = 0; i < NCONN; i++) {
    int x = (int)rnd(NVM), y = (int)rnd(NVM);
    if (x == y) y = (x + 1) % NVM;
    ends[i][0] = x, ends[i][1] = y;
    model_conn_spec s = {.id = id(a, sizeof a, "c", i), .a = id(b, sizeof b, "vm", x),
                         .b = id(c, sizeof c, "vm", y),
                         .kind = rnd(4) ? MODEL_CONN_NETWORK : MODEL_CONN_IPC, .secure = rnd(5) != 0};
    must(model_conn_put(m, &s, &err), &err);
  }
  /* groups: one connection, or two that share a VM (found by a short scan) */
  for (int i = 0; i < NGROUP; i++) {
    int c0 = (int)rnd(NCONN), c1 = -1, mid = -1;
    for (int t = 0; t < 200 && rnd(2) && c1 < 0; t++) {
      int k = (int)rnd(NCONN);
      if (k == c0) continue;
      for (int p = 0; p < 2 && c1 < 0; p++)
        for (int q = 0; q < 2 && c1 < 0; q++)
          if (ends[c0][p] == ends[k][q] && ends[c0][1 - p] != ends[k][1 - q]) c1 = k, mid = ends[c0][p];
    }
    char n0[32], n1[32], mv[32];
    const char *cl[2] = {id(n0, sizeof n0, "c", c0), c1 >= 0 ? id(n1, sizeof n1, "c", c1) : NULL};
    const char *iv[1] = {mid >= 0 ? id(mv, sizeof mv, "vm", mid) : NULL};
    bool st[1] = {rnd(3) == 0};
    model_group_spec s = {.id = id(a, sizeof a, "g", i), .n = c1 >= 0 ? 2 : 1, .connections = cl,
                          .intermediates = c1 >= 0 ? iv : NULL, .stores = c1 >= 0 ? st : NULL};
    model_group_put(m, &s, &err); /* a path the model refuses is simply not there */
  }
  for (int i = 0; i < NLI; i++) {
    /* most LIs along an existing connection, so paths exist for some */
    int k = (int)rnd(NCONN);
    char mon[32], host[32], st[32], via[32];
    model_li_spec s = {.id = id(a, sizeof a, "li", i), .jurisdiction = jurs[rnd(5)], .lea = "lea",
                       .monitored = id(mon, sizeof mon, "vm", rnd(4) ? ends[k][0] : (int)rnd(NVM)),
                       .host = id(host, sizeof host, "vm", ends[k][1]),
                       .storage = id(st, sizeof st, "st", (int)rnd(NST)),
                       .storage_via = rnd(2) ? id(via, sizeof via, "vm", (int)rnd(NVM)) : NULL,
                       .valid_from = T0 - 1000 - (int64_t)rnd(3) * 86400,
                       .valid_until = T0 + (rnd(8) ? 1000 : -500)};
    model_li_put(m, &s, &err);
  }
  model_batch_end(m);
  return m;
}

/* Every subject's violation list, in subject order, as bytes. */
static size_t lists(const model *m, mviol **out) {
  size_t n = 0, cap = 1024;
  mviol *v = malloc(cap * sizeof *v);
  assert_non_null(v);
  for (uint8_t sk = 0; sk < SK_COUNT; sk++)
    for (uint32_t i = 0; i < subj_count(m, sk); i++) {
      if (!subj_alive(m, sk, i)) continue;
      const msubj *s = subj_of_c(m, sk, i);
      /* a marker between subjects, so a violation that moved to a
       * neighbour would not compare equal */
      mviol mark = {.rule = 0xff, .sk = sk, .subj = i, .e = {s->viol.n, 0, 0}};
      for (uint32_t k = 0; k <= s->viol.n; k++) {
        if (n == cap) {
          cap *= 2;
          v = realloc(v, cap * sizeof *v);
          assert_non_null(v);
        }
        v[n++] = k < s->viol.n ? s->viol.v[k] : mark;
      }
    }
  *out = v;
  return n;
}

static char *report(const model *m) {
  model_verdict v;
  assert_int_equal(model_compliance(m, &v), 0);
  assert_int_equal(v.n, model_violation_count(m));
  json_t *j = model_verdict_json(&v);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  model_verdict_free(&v);
  assert_non_null(s);
  return s;
}

static void test_threads_equal_one(void **state) {
  (void)state;
  model *m = build();
  model_set_eval_threads(m, 1, 0);
  model_evaluate_all(m);
  mviol *one;
  size_t n_one = lists(m, &one), v_one = model_violation_count(m);
  char *r_one = report(m);
  size_t counts[MODEL_RULE_COUNT];
  model_count_by_rule(m, counts);
  int rules = 0;
  for (int r = 0; r < MODEL_RULE_COUNT; r++) rules += counts[r] > 0;
  /* the platform must give the threads something to get wrong */
  assert_true(v_one > 1000);
  assert_true(rules >= 10);
  static const unsigned threads[] = {2, 3, 8};
  for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
    model_set_eval_threads(m, threads[t], 0);
    model_evaluate_all(m);
    mviol *par;
    size_t n_par = lists(m, &par);
    assert_int_equal(model_violation_count(m), v_one);
    assert_int_equal(n_par, n_one);
    assert_memory_equal(par, one, n_one * sizeof *one);
    char *r_par = report(m);
    assert_string_equal(r_par, r_one);
    free(r_par);
    free(par);
  }
  /* the default threshold: this model is below it, one thread, the same */
  model_set_eval_threads(m, 0, MODEL_EVAL_PAR_MIN);
  model_evaluate_all(m);
  char *r_def = report(m);
  assert_string_equal(r_def, r_one);
  free(r_def);
  free(r_one);
  free(one);
  model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads_equal_one)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
