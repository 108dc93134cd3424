/* Unit tests of Retained Data in the model (issue 20): a retention obligation
 * issued in Germany with RD functions and an RD store; each RD rule
 * (TR103308-5.8-RD-R1/R2/R3/R8/R9/R11) with a case that holds and one that
 * fails; placement of a declared RD VM in London denied and in Frankfurt
 * allowed; migration; the key grant only for a declared RD function on
 * trusted hardware inside the jurisdiction; retention never shortened;
 * bounds on malformed input; the period arithmetic; and the RD
 * administration's signed extension command (signature, obligation,
 * counter, expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>

#include "model/model.h"
#include "model/rd_command.h"
#include "model/rd_recipient.h"
#include "model/rd_register.h"
#include <openssl/pem.h>

static const int64_t T0 = 1780272000; /* 2026-06-01 */

static const char base_json[] =
    "{\"format\":\"lisec-topology/1\","
    "\"jurisdictions\":[{\"id\":\"de\",\"codes\":[\"DE\"]},{\"id\":\"fi\",\"codes\":[\"FI\"]}],"
    "\"hosts\":["
    " {\"id\":\"fra-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"DE\"}},"
    " {\"id\":\"fra-2\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"DE\"}},"
    " {\"id\":\"ber-u\",\"trust\":\"untrusted\",\"protection\":\"li\",\"location\":{\"country\":\"DE\"}},"
    " {\"id\":\"lon-1\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"GB\"}}],"
    "\"hypervisors\":[{\"id\":\"hv-fra-1\",\"host\":\"fra-1\"},{\"id\":\"hv-fra-2\",\"host\":\"fra-2\"},"
    " {\"id\":\"hv-ber-u\",\"host\":\"ber-u\"},{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"}],"
    "\"vms\":["
    " {\"id\":\"rd-q\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"},"
    " {\"id\":\"rd-db\",\"hypervisor\":\"hv-fra-2\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"},"
    " {\"id\":\"user\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}],"
    "\"storage\":[{\"id\":\"rd-store\",\"vm\":\"rd-db\",\"provided_to\":[\"user\"]}]}";

static const char *const FNS[] = {"rd-q", "rd-new"};
static const char *const STS[] = {"rd-store"};

static model *base(void) {
  model *m = NULL;
  lisec_err err = {0};
  if (model_topology_load(base_json, strlen(base_json), T0, &m, &err)) fail_msg("load: %s", err.msg);
  model_rd_spec s = {.id = "ob-de", .jurisdiction = "de", .functions = FNS, .n_functions = 2,
                     .stores = STS, .n_stores = 1, .period_s = 86400, .retention_s = 180 * 86400,
                     .valid_from = T0};
  if (model_rd_put(m, &s, &err)) fail_msg("rd put: %s", err.msg);
  return m;
}

static size_t rd_count(model *m, model_rule r, const char *needle) {
  model_verdict v = {0};
  assert_int_equal(model_rd_compliance(m, &v), 0);
  size_t n = 0;
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == r && (!needle || strstr(v.reasons[i].sentence, needle))) {
      assert_string_equal(v.reasons[i].subject, "rd ob-de");
      n++;
    }
  model_verdict_free(&v);
  return n;
}

static bool has(const model_verdict *v, model_rule r) {
  for (size_t i = 0; i < v->n; i++)
    if (v->reasons[i].rule == r) return true;
  return false;
}

static void test_compliant_then_each_rule_fails(void **state) {
  (void)state;
  model *m = base();
  model_verdict v = {0};
  assert_int_equal(model_rd_compliance(m, &v), 0);
  assert_true(v.allow);
  assert_int_equal(v.n, 0);
  model_verdict_free(&v);
  lisec_err err = {0};
  /* RD1: the RD function moved (as a fact) to London. */
  assert_int_equal(model_vm_move(m, "rd-q", "hv-lon-1", &err), 0);
  assert_int_equal(rd_count(m, MODEL_RD1, "RD function VM rd-q runs on host lon-1"), 1);
  assert_int_equal(rd_count(m, MODEL_RD8, NULL), 0);
  /* RD8: onto untrusted hardware inside Germany. */
  assert_int_equal(model_vm_move(m, "rd-q", "hv-ber-u", &err), 0);
  assert_int_equal(rd_count(m, MODEL_RD1, NULL), 0);
  assert_int_equal(rd_count(m, MODEL_RD8, "not trusted"), 1);
  assert_int_equal(model_vm_move(m, "rd-q", "hv-fra-1", &err), 0);
  /* RD2 and RD9: the store's provider. */
  assert_int_equal(model_vm_move(m, "rd-db", "hv-lon-1", &err), 0);
  assert_int_equal(rd_count(m, MODEL_RD2, "provider of RD store rd-store"), 1);
  assert_int_equal(model_vm_move(m, "rd-db", "hv-ber-u", &err), 0);
  assert_int_equal(rd_count(m, MODEL_RD9, NULL), 1);
  assert_int_equal(model_vm_move(m, "rd-db", "hv-fra-2", &err), 0);
  /* RD3: a VM the store is provided to. */
  assert_int_equal(model_vm_move(m, "user", "hv-lon-1", &err), 0);
  assert_int_equal(rd_count(m, MODEL_RD3, "user of RD store rd-store"), 1);
  assert_int_equal(model_vm_move(m, "user", "hv-fra-1", &err), 0);
  assert_int_equal(model_rd_compliance(m, &v), 0);
  assert_int_equal(v.n, 0);
  model_verdict_free(&v);
  /* The rule ids are the RD ones. */
  assert_string_equal(model_rule_id(MODEL_RD1), "TR103308-5.8-RD-R1");
  assert_string_equal(model_rule_id(MODEL_RD11), "TR103308-5.8-RD-R11");
  model_free(m);
}

static void test_placement_and_migration(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v = {0};
  /* A declared RD function not yet in the model, placed in London: denied. */
  model_vm_spec nv = {.id = "rd-new", .hypervisor = "hv-lon-1", .sensitivity = MODEL_CLASS_SENSITIVE,
                      .domain = "rd"};
  assert_int_equal(model_decide_place(m, &nv, &v, &err), 0);
  assert_false(v.allow);
  assert_true(has(&v, MODEL_RD11));
  assert_non_null(strstr(v.reasons[0].sentence, "located in GB"));
  model_verdict_free(&v);
  /* ... in Frankfurt: allowed. */
  nv.hypervisor = "hv-fra-1";
  assert_int_equal(model_decide_place(m, &nv, &v, &err), 0);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* A VM no obligation names may go to London. */
  nv.id = "plain";
  nv.hypervisor = "hv-lon-1";
  assert_int_equal(model_decide_place(m, &nv, &v, &err), 0);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* Migration of the RD function, of the store provider and of the store
   * user to London, or to untrusted hardware: denied by RD11. */
  const char *vms[] = {"rd-q", "rd-db", "user"};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(model_decide_move(m, vms[i], "hv-lon-1", &v, &err), 0);
    assert_false(v.allow);
    assert_true(has(&v, MODEL_RD11));
    model_verdict_free(&v);
  }
  assert_int_equal(model_decide_move(m, "rd-q", "hv-ber-u", &v, &err), 0);
  assert_true(has(&v, MODEL_RD11));
  model_verdict_free(&v);
  assert_int_equal(model_decide_move(m, "rd-q", "hv-fra-2", &v, &err), 0);
  assert_true(v.allow);
  model_verdict_free(&v);
  /* The obligation gone, London is fine again. */
  assert_int_equal(model_rd_remove(m, "ob-de", &err), 0);
  assert_int_equal(model_decide_move(m, "rd-q", "hv-lon-1", &v, &err), 0);
  assert_true(v.allow);
  model_verdict_free(&v);
  assert_int_equal(model_rd_remove(m, "ob-de", &err), LISEC_ENOTFOUND);
  model_free(m);
}

/* How many RD-R11 reasons of v are marked as failing for the host's trust
 * alone (model_reason.trust: marked) or are not (!marked); and whether
 * every other reason is unmarked. */
static size_t rd11(const model_verdict *v, bool marked) {
  size_t n = 0;
  for (size_t i = 0; i < v->n; i++) {
    if (v->reasons[i].rule != MODEL_RD11) assert_false(v->reasons[i].trust);
    n += v->reasons[i].rule == MODEL_RD11 && v->reasons[i].trust == marked;
  }
  return n;
}

static void put_json(model *m, const char *kind, const char *text) {
  lisec_err err = {0};
  json_error_t je;
  json_t *o = json_loads(text, 0, &je);
  if (!o) fail_msg("bad test JSON: %s", je.text);
  if (model_put_json(m, kind, o, &err)) fail_msg("put %s: %s", kind, err.msg);
  json_decref(o);
}

/* RD-R11 on a move or placement is two reasons: the host outside the
 * obligation's jurisdiction (unmarked: shown, redacted, to every role but
 * rd-admin) and the host not trusted (marked model_reason.trust: MOVE2
 * says it for every VM, and the controller shows that RD-R11 to rd-admin
 * only). No location is the trust failure, not a place outside. */
static void test_rd11_trust_marked(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_verdict v = {0};
  put_json(m, "host", "{\"id\":\"lon-u\",\"trust\":\"untrusted\",\"protection\":\"li\","
                      "\"location\":{\"country\":\"GB\"}}");
  put_json(m, "host", "{\"id\":\"nol-u\",\"trust\":\"untrusted\",\"protection\":\"li\"}");
  put_json(m, "hypervisor", "{\"id\":\"hv-lon-u\",\"host\":\"lon-u\"}");
  put_json(m, "hypervisor", "{\"id\":\"hv-nol-u\",\"host\":\"nol-u\"}");
  /* untrusted, inside: MOVE2 and one RD-R11, marked, for the function,
   * the store's provider and its user alike */
  const char *vms[] = {"rd-q", "rd-db", "user"};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(model_decide_move(m, vms[i], "hv-ber-u", &v, &err), 0);
    assert_true(has(&v, MODEL_MOVE2));
    assert_int_equal(rd11(&v, true), 1);
    assert_int_equal(rd11(&v, false), 0);
    model_verdict_free(&v);
  }
  assert_int_equal(model_decide_move(m, "rd-q", "hv-ber-u", &v, &err), 0);
  for (size_t i = 0; i < v.n; i++)
    if (v.reasons[i].rule == MODEL_RD11) {
      assert_string_equal(v.reasons[i].subject, "rd ob-de");
      assert_non_null(strstr(v.reasons[i].sentence, "host ber-u, which is not trusted (untrusted)"));
      assert_string_equal(v.reasons[i].fact, "h.executesOn.trusted: host ber-u: false (untrusted)");
    }
  model_verdict_free(&v);
  /* trusted, outside: one RD-R11, unmarked, the words as before */
  assert_int_equal(model_decide_move(m, "rd-q", "hv-lon-1", &v, &err), 0);
  assert_int_equal(rd11(&v, false), 1);
  assert_int_equal(rd11(&v, true), 0);
  assert_non_null(strstr(v.reasons[0].sentence, "host lon-1, trusted and located in GB"));
  model_verdict_free(&v);
  /* untrusted and outside: both */
  assert_int_equal(model_decide_move(m, "rd-q", "hv-lon-u", &v, &err), 0);
  assert_int_equal(rd11(&v, false), 1);
  assert_int_equal(rd11(&v, true), 1);
  model_verdict_free(&v);
  /* no location: the trust failure alone */
  assert_int_equal(model_decide_move(m, "rd-q", "hv-nol-u", &v, &err), 0);
  assert_true(has(&v, MODEL_MOVE2));
  assert_int_equal(rd11(&v, true), 1);
  assert_int_equal(rd11(&v, false), 0);
  model_verdict_free(&v);
  /* a placement of a declared RD function: the same */
  model_vm_spec nv = {.id = "rd-new", .hypervisor = "hv-ber-u", .sensitivity = MODEL_CLASS_SENSITIVE,
                      .domain = "rd"};
  assert_int_equal(model_decide_place(m, &nv, &v, &err), 0);
  assert_true(has(&v, MODEL_MOVE2));
  assert_int_equal(rd11(&v, true), 1);
  assert_int_equal(rd11(&v, false), 0);
  model_verdict_free(&v);
  /* a VM no obligation names: MOVE2 alone, unmarked */
  nv.id = "plain";
  assert_int_equal(model_decide_place(m, &nv, &v, &err), 0);
  assert_int_equal(v.n, 1);
  assert_true(has(&v, MODEL_MOVE2));
  assert_false(v.reasons[0].trust);
  model_verdict_free(&v);
  model_free(m);
}

static void test_key_grant(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  model_rd_key_grant g;
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-q", "fra-1", &g, &err), 0);
  assert_string_equal(g.obligation, "ob-de");
  assert_int_equal(g.period_s, 86400);
  /* not a declared RD function of the obligation */
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "user", "fra-1", &g, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, MODEL_REQ_RD_KEY));
  /* declared but not in the model */
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-new", "fra-1", &g, &err), LISEC_EDENIED);
  /* a store no obligation names: refused with the very sentence of a VM
   * that is not an RD function, so a host cannot probe which storage ids
   * are RD stores */
  char not_function[LISEC_ERR_MSG_MAX];
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "user", "fra-1", &g, &err), LISEC_EDENIED);
  snprintf(not_function, sizeof not_function, "%s", err.msg);
  assert_int_equal(model_rd_key_allowed(m, "nope", "rd-q", "fra-1", &g, &err), LISEC_EDENIED);
  assert_string_equal(err.msg, not_function);
  /* outside the jurisdiction, and on untrusted hardware */
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-q", "lon-1", &g, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "jurisdiction"));
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-q", "ber-u", &g, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "attested"));
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-q", "nohost", &g, &err), LISEC_EDENIED);
  /* attestation voided (trust unknown) on the good host */
  assert_int_equal(model_host_set_trust(m, "fra-1", MODEL_TRUST_UNKNOWN, &err), 0);
  assert_int_equal(model_rd_key_allowed(m, "rd-store", "rd-q", "fra-1", &g, &err), LISEC_EDENIED);
  model_free(m);
}

static void test_bad_input_and_retention(void **state) {
  (void)state;
  model *m = base();
  lisec_err err = {0};
  const char *bad_ids[] = {"ok", "bad id"};
  const char *dup[] = {"a", "a"};
  model_rd_spec s = {.id = "ob-2", .jurisdiction = "de", .functions = FNS, .n_functions = 1,
                     .period_s = 60, .retention_s = 60, .valid_from = T0};
  s.jurisdiction = "xx";
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_ENOTFOUND);
  s.jurisdiction = "de";
  s.period_s = 0;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "period_s"));
  s.period_s = 60;
  s.retention_s = MODEL_RD_SECONDS_MAX + 1;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  s.retention_s = 60;
  s.functions = bad_ids;
  s.n_functions = 2;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "functions[1]"));
  s.functions = dup;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  s.n_functions = MODEL_RD_MEMBERS_MAX + 1;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  s.n_functions = 0;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL); /* names nothing */
  s.id = "bad id";
  s.functions = FNS;
  s.n_functions = 1;
  assert_int_equal(model_rd_put(m, &s, &err), LISEC_EINVAL);
  /* Retention: lengthened yes, shortened no; period and start fixed. */
  model_rd_spec o = {.id = "ob-de", .jurisdiction = "de", .functions = FNS, .n_functions = 2,
                     .stores = STS, .n_stores = 1, .period_s = 86400, .retention_s = 200 * 86400,
                     .valid_from = T0};
  assert_int_equal(model_rd_put(m, &o, &err), 0);
  o.retention_s = 10;
  assert_int_equal(model_rd_put(m, &o, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "TR103308-5.8-RD-EARLY"));
  o.retention_s = 200 * 86400;
  o.period_s = 3600;
  assert_int_equal(model_rd_put(m, &o, &err), LISEC_ECONFLICT);
  json_t *j = model_rd_json(m, "ob-de");
  assert_non_null(j);
  assert_int_equal(json_integer_value(json_object_get(j, "retention_s")), 200 * 86400);
  json_decref(j);
  /* The jurisdiction an obligation names cannot go, and says nothing of it. */
  assert_int_equal(model_jurisdiction_remove(m, "de", &err), LISEC_ECONFLICT);
  assert_null(strstr(err.msg, "ob-de"));
  model_free(m);
}

static void test_periods(void **state) {
  (void)state;
  assert_int_equal(model_rd_period_at(1000, 60, 999), -1);
  assert_int_equal(model_rd_period_at(1000, 60, 1000), 0);
  assert_int_equal(model_rd_period_at(1000, 60, 1059), 0);
  assert_int_equal(model_rd_period_at(1000, 60, 1060), 1);
  int64_t a, b, d;
  model_rd_period_window(1000, 60, 30, 2, &a, &b, &d);
  assert_int_equal(a, 1120);
  assert_int_equal(b, 1180);
  assert_int_equal(d, 1210);
  model_rd_period_window(1000, 60, 30, INT64_MAX, &a, &b, &d); /* saturates, no overflow */
  assert_true(d > a);
}

static void test_extension_command(void **state) {
  (void)state;
  EVP_PKEY *admin = EVP_EC_gen("P-256"), *rogue = EVP_EC_gen("P-256");
  assert_non_null(admin);
  assert_non_null(rogue);
  const int64_t now = 1800000000;
  model_rd_command c = {.obligation = "ob-de", .counter = 5, .expires = now + 600, .retention_s = 999};
  char *msg = NULL, *bad = NULL;
  lisec_err err = {0};
  assert_int_equal(model_rd_command_sign(&c, admin, &msg, &err), 0);
  model_rd_command out;
  const uint8_t *m = (const uint8_t *)msg;
  size_t n = strlen(msg);
  assert_int_equal(model_rd_command_verify(m, n, admin, "ob-de", 4, now, &out, &err), 0);
  assert_int_equal(out.retention_s, 999);
  assert_int_equal(out.counter, 5);
  /* replay: the counter must be above the last one */
  assert_int_equal(model_rd_command_verify(m, n, admin, "ob-de", 5, now, &out, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "TR103308-5.8-RD-EXTEND"));
  /* another obligation, another key, expired */
  assert_int_equal(model_rd_command_verify(m, n, admin, "ob-fi", 0, now, &out, &err), LISEC_EDENIED);
  assert_int_equal(model_rd_command_verify(m, n, rogue, "ob-de", 0, now, &out, &err), LISEC_EDENIED);
  assert_int_equal(model_rd_command_verify(m, n, admin, "ob-de", 0, now + 600, &out, &err), LISEC_EDENIED);
  /* valid for more than a week */
  model_rd_command l = c;
  l.expires = now + MODEL_RD_CMD_LIFETIME_MAX + 10;
  assert_int_equal(model_rd_command_sign(&l, admin, &bad, &err), 0);
  assert_int_equal(model_rd_command_verify((const uint8_t *)bad, strlen(bad), admin, "ob-de", 0, now, &out, &err),
                   LISEC_EDENIED);
  free(bad);
  /* a field changed after signing */
  bad = strdup(msg);
  char *p = strstr(bad, "999");
  assert_non_null(p);
  p[0] = '8';
  assert_int_equal(model_rd_command_verify((const uint8_t *)bad, strlen(bad), admin, "ob-de", 0, now, &out, &err),
                   LISEC_EDENIED);
  free(bad);
  /* malformed: not JSON, unknown field, oversized, wrong type */
  assert_int_equal(model_rd_command_verify((const uint8_t *)"{", 1, admin, "ob-de", 0, now, &out, &err), LISEC_EINVAL);
  const char *extra = "{\"command\":{\"counter\":1,\"expires\":1800000100,\"obligation\":\"ob-de\","
                      "\"retention_s\":9,\"type\":\"rd-extend\",\"v\":1,\"x\":1},\"signature\":\"AA==\"}";
  assert_int_equal(model_rd_command_verify((const uint8_t *)extra, strlen(extra), admin, "ob-de", 0, now, &out, &err),
                   LISEC_EINVAL);
  const char *type = "{\"command\":{\"counter\":1,\"expires\":1800000100,\"obligation\":\"ob-de\","
                     "\"retention_s\":9,\"type\":\"li-disable\",\"v\":1},\"signature\":\"AA==\"}";
  assert_int_equal(model_rd_command_verify((const uint8_t *)type, strlen(type), admin, "ob-de", 0, now, &out, &err),
                   LISEC_EINVAL);
  char *big = calloc(1, MODEL_RD_CMD_MAX + 2);
  memset(big, ' ', MODEL_RD_CMD_MAX + 1);
  assert_int_equal(model_rd_command_verify((const uint8_t *)big, MODEL_RD_CMD_MAX + 1, admin, "ob-de", 0, now, &out, &err),
                   LISEC_EINVAL);
  free(big);
  free(msg);
  EVP_PKEY_free(admin);
  EVP_PKEY_free(rogue);
}

/* The PEM of k's public part (static buffer). */
static const char *pub_pem(EVP_PKEY *k) {
  static char buf[4096];
  BIO *b = BIO_new(BIO_s_mem());
  assert_true(PEM_write_bio_PUBKEY(b, k));
  int n = BIO_read(b, buf, sizeof buf - 1);
  assert_true(n > 0);
  buf[n] = 0;
  BIO_free(b);
  return buf;
}

/* The RD data key's recipient (model/rd_recipient.c): a P-256 PEM gives its
 * uncompressed point, which goes back to the same PEM; no key, a malformed
 * or oversized PEM, a NUL inside, RSA-1024 and P-384 are each refused
 * naming TR103308-5.7-RD-WRAP. */
static void test_recipient_key(void **state) {
  (void)state;
  lisec_err err = {0};
  uint8_t pt[MODEL_RD_POINT_LEN];
  EVP_PKEY *p256 = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384"),
           *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  assert_non_null(p256), assert_non_null(p384), assert_non_null(rsa);
  const char *pem = pub_pem(p256);
  char good[1024];
  snprintf(good, sizeof good, "%s", pem);
  assert_int_equal(model_rd_recipient_parse(good, strlen(good), pt, &err), 0);
  uint8_t want[MODEL_RD_POINT_LEN];
  size_t wl = 0;
  assert_true(EVP_PKEY_get_octet_string_param(p256, "encoded-pub-key", want, sizeof want, &wl));
  assert_int_equal(wl, MODEL_RD_POINT_LEN);
  assert_memory_equal(pt, want, wl);
  char *back = NULL;
  assert_int_equal(model_rd_point_pem(pt, &back, &err), 0);
  assert_string_equal(back, good);
  free(back);

  char big[MODEL_RD_RECIPIENT_PEM_MAX + 64];
  memset(big, 'A', sizeof big - 1), big[sizeof big - 1] = 0;
  char nul[1024];
  size_t nul_len = strlen(good);
  memcpy(nul, good, nul_len), nul[40] = 0;
  char rsa_pem[2048], p384_pem[1024];
  snprintf(rsa_pem, sizeof rsa_pem, "%s", pub_pem(rsa));
  snprintf(p384_pem, sizeof p384_pem, "%s", pub_pem(p384));
  const char *bad_pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
  const struct {
    const char *pem;
    size_t len;
    const char *why;
  } bad[] = {{NULL, 0, "none given"},           {"", 0, "none given"},
             {big, strlen(big), "longer"},      {nul, nul_len, "NUL"},
             {bad_pem, strlen(bad_pem), "PEM"}, {rsa_pem, strlen(rsa_pem), "not an EC key"},
             {p384_pem, strlen(p384_pem), "P-256"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err = (lisec_err){0};
    assert_int_equal(model_rd_recipient_parse(bad[i].pem, bad[i].len, pt, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, MODEL_REQ_RD_WRAP));
    if (!strstr(err.msg, bad[i].why)) fail_msg("case %zu: %s", i, err.msg);
  }
  EVP_PKEY_free(p256);
  EVP_PKEY_free(p384);
  EVP_PKEY_free(rsa);
}

/* Every refusal of an RD administration's key registration names its
 * requirement, those of the command's form too (POST
 * /v1/rd/recipients/{vm} answers them as they are). */
static void test_registration_form_named(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"command\":", /* not JSON */
      "{\"command\":{},\"signature\":\"AA==\",\"x\":1}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":1,"
      "\"vm\":\"rd-q\",\"x\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":1,"
      "\"vm\":\"rd-q\"}}",
      "{\"command\":{\"counter\":\"1\",\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":1,"
      "\"vm\":\"rd-q\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":2,"
      "\"vm\":\"rd-q\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":1,"
      "\"vm\":\"rd q\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"type\":\"rd-recipient-remove\",\"v\":1,"
      "\"vm\":\"rd-q\"},\"signature\":\"!!\"}",
      NULL};
  for (size_t i = 0; bad[i]; i++) {
    lisec_err err = {0};
    model_rd_reg c;
    assert_int_equal(model_rd_reg_open((const uint8_t *)bad[i], strlen(bad[i]), NULL, &c, &err), LISEC_EINVAL);
    if (!strstr(err.msg, MODEL_REQ_RD_RECIPIENT)) fail_msg("case %zu: %s", i, err.msg);
  }
}

/* Every refusal of an RD administration's extension command names its
 * requirement, those of the command's form too (POST .../extend answers
 * them as they are). */
static void test_extension_form_named(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"command\":", /* not JSON */
      "{\"command\":{},\"signature\":\"AA==\",\"x\":1}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":1,\"x\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":1}}",
      "{\"command\":{\"counter\":\"1\",\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":0,"
      "\"type\":\"rd-extend\",\"v\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":2},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob "
      "de\",\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":1,\"expires\":9,\"obligation\":\"ob-de\","
      "\"retention_s\":9,"
      "\"type\":\"rd-extend\",\"v\":1},\"signature\":\"!!\"}",
      NULL};
  for (size_t i = 0; bad[i]; i++) {
    lisec_err err = {0};
    model_rd_command c;
    assert_int_equal(model_rd_command_verify((const uint8_t *)bad[i],
                                             strlen(bad[i]), NULL, "ob-de", 0,
                                             1, &c, &err),
                     LISEC_EINVAL);
    if (!strstr(err.msg, "TR103308-5.8-RD-EXTEND"))
      fail_msg("case %zu: %s", i, err.msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compliant_then_each_rule_fails),
      cmocka_unit_test(test_placement_and_migration),
      cmocka_unit_test(test_rd11_trust_marked),
      cmocka_unit_test(test_key_grant),
      cmocka_unit_test(test_bad_input_and_retention),
      cmocka_unit_test(test_periods),
      cmocka_unit_test(test_extension_command),
      cmocka_unit_test(test_recipient_key),
      cmocka_unit_test(test_registration_form_named),
      cmocka_unit_test(test_extension_form_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
