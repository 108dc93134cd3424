/* Unit test of the decisions of a real controller (a temporary SQLite
 * store, the development audit key, an LI and an RD administration key)
 * onto a destination whose trust fails: a host that gives no fresh quote
 * (here it is attested but enrolled nowhere, so attestation can never
 * give one) and a host that is not trusted. mon, which an LI monitors, and
 * twn, which is mon in every declared respect but no LI names, read the
 * same to every role but li-admin, ids aside: TR103308-6.2-MOVE2 with the
 * same sentence, note and attestation object, and records sealed alike
 * (both in the clear, neither naming the LI or R11). li-admin still reads
 * R11 for mon beside MOVE2. R11 for the LI's jurisdiction is still shown,
 * redacted (docs/model.md, "What each role sees"). The same for Retained
 * Data: rdq, which an obligation names, and its twin rdt read alike to
 * every role but rd-admin (li-admin included), who reads RD-R11 beside
 * MOVE2 (docs/rd.md). And a hypervisor's move onto such a host reads the
 * same for hv-m, which runs a monitored VM, and hv-w, which runs its twin,
 * its record too; and for hv-r, which runs an RD function, and hv-v, which
 * runs its twin, to every role but rd-admin, who reads RD-R11 beside
 * MOVE2. hv-r's move out of the obligation's jurisdiction is refused
 * under RD-R11 (redacted but to rd-admin), its record sealed; hv-v's is
 * allowed. Last, a refusal reads the same whether one VM an LI (an
 * obligation) involves fails a rule or three, and whether one LI
 * (obligation) involves a VM or two: the withheld rows come once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "ctl/audit.h"
#include "ctl/ctl.h"
#include "ctl/model.h"
#include "ctl/rd.h"
#include "ctl_fixture.h"

static char tmpdir[64];
static lisec_ctl *ctl;
static const ctl_actor OPERATOR = {"op-1", "operator", CTL_ROLE_OPERATOR};
static const ctl_actor HYP_ADMIN = {"hv-1", "hypervisor-admin", CTL_ROLE_HV_ADMIN};
static const ctl_actor MANO = {"mano-1", "mano", CTL_ROLE_MANO};
static const ctl_actor HOST = {"host-1", "host", CTL_ROLE_HOST};
static const ctl_actor LI_ADMIN = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};
static const ctl_actor RD_ADMIN = {"rd-1", "rd-admin", CTL_ROLE_RD_ADMIN};
static const ctl_actor *const NON_LI[] = {&OPERATOR, &HYP_ADMIN, &MANO, &HOST};
static const ctl_actor *const NON_RD[] = {&OPERATOR, &HYP_ADMIN, &MANO, &HOST, &LI_ADMIN};

static void put(const char *kind, const char *json) { ctl_fixture_put(ctl, kind, json); }

/* The RD administration's sealing key pair: the public half in dir/name
 * ([audit] rd_seal_key), the secret half kept to open its records. */
static uint8_t rd_sk[crypto_box_SECRETKEYBYTES];
static int write_rd_key(const char *dir, const char *name) {
  uint8_t pk[crypto_box_PUBLICKEYBYTES];
  crypto_box_keypair(pk, rd_sk);
  char *b64 = NULL, path[256];
  if (crypto_base64_encode(pk, sizeof pk, &b64)) return -1;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f) fprintf(f, "%s\n", b64);
  free(b64);
  return f && fclose(f) == 0 ? 0 : -1;
}

static void attested(const char *host, model_trust trust) {
  lisec_err err = {0};
  model_location loc = {.country = "FI", .source = MODEL_LOC_ATTESTED};
  assert_int_equal(ctl_model_host_attested(ctl, host, trust,
                                           trust == MODEL_TRUST_TRUSTED ? "trusted" : "untrusted:failed",
                                           &loc, &err),
                   0);
}

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-decide-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-admin.pub") || write_rd_key(tmpdir, "rd.pub"))
    return -1;
  lisec_config *cfg = ctl_fixture_config(tmpdir, "li-admin.pub");
  char rd_key[128];
  snprintf(rd_key, sizeof rd_key, "%s/rd.pub", tmpdir);
  lisec_config_set(cfg, "audit", "rd_seal_key", rd_key);
  lisec_config_set(cfg, "model", "allow_declared_trust", "true");
  ctl_fixture_open(cfg, &ctl);
  put("jurisdiction", "{\"id\":\"fi\",\"codes\":[\"FI\"]}");
  put("lea", "{\"id\":\"lea-fi\",\"jurisdiction\":\"fi\"}");
  put("host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  /* silent-1: attested, but attestation has no agent of it to ask */
  put("host", "{\"id\":\"silent-1\",\"protection\":\"li\"}");
  /* bad-1: not trusted (declared, so that no fresh quote is asked for and
   * only the model's trust decides); gb-1: trusted, in GB */
  put("host", "{\"id\":\"bad-1\",\"protection\":\"li\",\"trust\":\"untrusted\","
              "\"location\":{\"country\":\"FI\",\"source\":\"administrative\"}}");
  put("host", "{\"id\":\"gb-1\",\"protection\":\"li\",\"trust\":\"trusted\","
              "\"location\":{\"country\":\"GB\",\"source\":\"administrative\"}}");
  put("hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-silent-1\",\"host\":\"silent-1\"}");
  put("hypervisor", "{\"id\":\"hv-bad-1\",\"host\":\"bad-1\"}");
  put("hypervisor", "{\"id\":\"hv-gb-1\",\"host\":\"gb-1\"}");
  /* nol-1: not trusted, and no location (a VM there is in no
   * jurisdiction: that is its trust failing too) */
  put("host", "{\"id\":\"nol-1\",\"protection\":\"li\",\"trust\":\"untrusted\"}");
  put("hypervisor", "{\"id\":\"hv-nol-1\",\"host\":\"nol-1\"}");
  /* hv-m runs mo2 alone, which li-8 monitors; hv-w its twin tw2 alone */
  put("hypervisor", "{\"id\":\"hv-m\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-w\",\"host\":\"hel-1\"}");
  put("vm", "{\"id\":\"mo2\",\"hypervisor\":\"hv-m\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"tw2\",\"hypervisor\":\"hv-w\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  /* rdq, an RD function of obligation ob-fi, and its twin rdt */
  put("vm", "{\"id\":\"rdq\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"rdt\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"mon\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"twn\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"lim\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  put("storage", "{\"id\":\"st-li\",\"vm\":\"lim\"}");
  /* hv-r runs rdr alone, an RD function of ob-fi; hv-v its twin rdv alone */
  put("hypervisor", "{\"id\":\"hv-r\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-v\",\"host\":\"hel-1\"}");
  put("vm", "{\"id\":\"rdr\",\"hypervisor\":\"hv-r\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"rdv\",\"hypervisor\":\"hv-v\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  attested("hel-1", MODEL_TRUST_TRUSTED);
  attested("silent-1", MODEL_TRUST_TRUSTED);
  json_t *li = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "li-9", "jurisdiction", "fi",
                         "lea", "lea-fi", "monitored", "mon", "host", "lim", "storage", "st-li",
                         "valid_from", "2025-01-01T00:00:00Z", "valid_until", "2035-01-01T00:00:00Z"),
         *out = NULL;
  bool created = false;
  lisec_err err = {0};
  if (ctl_model_put(ctl, &LI_ADMIN, "li", NULL, li, false, &out, &created, &err))
    fail_msg("put li: %s", err.msg);
  json_decref(li);
  json_decref(out);
  li = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "li-8", "jurisdiction", "fi", "lea",
                 "lea-fi", "monitored", "mo2", "host", "lim", "storage", "st-li", "valid_from",
                 "2025-01-01T00:00:00Z", "valid_until", "2035-01-01T00:00:00Z");
  out = NULL;
  if (ctl_model_put(ctl, &LI_ADMIN, "li", NULL, li, false, &out, &created, &err))
    fail_msg("put li: %s", err.msg);
  json_decref(li);
  json_decref(out);
  /* rdn: an RD function not placed yet; rdx, its twin */
  json_t *ob = json_pack("{s:s, s:[s,s,s], s:[], s:i, s:i, s:s}", "jurisdiction", "fi", "functions",
                         "rdq", "rdn", "rdr", "stores", "period_s", 3600, "retention_s", 3600, "valid_from",
                         "2025-01-01T00:00:00Z");
  out = NULL;
  if (ctl_rd_put(ctl, &RD_ADMIN, "ob-fi", ob, &out, &err)) fail_msg("put obligation: %s", err.msg);
  json_decref(ob);
  json_decref(out);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, tmpdir);
}

static json_t *migrate(const ctl_actor *who, const char *vm, const char *host) {
  json_t *body = json_pack("{s:s, s:s}", "vm", vm, "host", host), *out = NULL;
  lisec_err err = {0};
  if (ctl_model_decide_migration(ctl, who, body, &out, &err))
    fail_msg("migration of %s to %s as %s: %s", vm, host, who->role, err.msg);
  json_decref(body);
  assert_non_null(out);
  return out;
}

/* The reply as text without its audit_index, every "vm" replaced by "VM"
 * (the id itself: mon and twn are both three letters). */
static char *norm(const json_t *reply, const char *vm) {
  json_t *c = json_deep_copy(reply);
  json_object_del(c, "audit_index");
  char *text = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(c);
  for (char *p = text; (p = strstr(p, vm)) != NULL; p += 3) memcpy(p, "VM!", 3);
  return text;
}

/* The audit entry at the reply's audit_index: its seal bit, and whether
 * its data (a clear one's) holds needle. */
static bool entry(const json_t *reply, const char *needle, bool *holds) {
  json_int_t at = json_integer_value(json_object_get(reply, "audit_index"));
  json_t *out = NULL, *e;
  lisec_err err = {0};
  assert_int_equal(ctl_audit_entries(ctl, (uint64_t)at, 1, &out, &err), 0);
  e = json_array_get(json_object_get(out, "entries"), 0);
  assert_non_null(e);
  assert_int_equal(json_integer_value(json_object_get(e, "index")), at);
  bool sealed = json_is_true(json_object_get(e, "sealed"));
  uint8_t *raw = NULL;
  size_t len = 0;
  assert_int_equal(crypto_base64_decode(json_string_value(json_object_get(e, "data")), 1u << 20, &raw,
                                        &len, &err),
                   0);
  *holds = memmem(raw, len, needle, strlen(needle)) != NULL;
  free(raw);
  json_decref(out);
  return sealed;
}

static size_t count_req(const json_t *reply, const char *req) {
  size_t i, n = 0;
  json_t *r;
  json_array_foreach(json_object_get(reply, "violations"), i, r)
    n += strcmp(json_string_value(json_object_get(r, "requirement")), req) == 0;
  return n;
}

/* mon and twn onto host read the same to every role but li-admin, ids
 * aside, refused under MOVE2 only; their records are both in the clear
 * and name neither R11 nor the LI; the note says note. */
static void alike(const char *host, const char *note) {
  for (size_t k = 0; k < sizeof NON_LI / sizeof *NON_LI; k++) {
    json_t *a = migrate(NON_LI[k], "mon", host), *b = migrate(NON_LI[k], "twn", host);
    char *ta = norm(a, "mon"), *tb = norm(b, "twn");
    if (strcmp(ta, tb) != 0)
      fail_msg("%s onto %s: the monitored VM's answer differs from its twin's:\n%s\n%s", NON_LI[k]->role,
               host, ta, tb);
    assert_false(json_is_true(json_object_get(a, "allow")));
    assert_int_equal(json_array_size(json_object_get(a, "violations")), 1);
    assert_int_equal(count_req(a, "TR103308-6.2-MOVE2"), 1);
    assert_int_equal(count_req(a, "TR103308-6.2-R11"), 0);
    assert_false(json_is_true(json_object_get(a, "redacted")));
    const char *got = json_string_value(json_object_get(json_object_get(a, "attestation"), "note"));
    if (!strstr(got, note)) fail_msg("%s onto %s: the note \"%s\" does not say \"%s\"", NON_LI[k]->role, host, got, note);
    bool ha = false, hb = false, hl = false;
    bool sa = entry(a, "TR103308-6.2-R11", &ha), sb = entry(b, "TR103308-6.2-R11", &hb);
    assert_false(sa);
    assert_false(sb);
    assert_false(ha);
    assert_false(hb);
    (void)entry(a, "li-9", &hl);
    assert_false(hl);
    (void)entry(a, "TR103308-6.2-MOVE2", &ha);
    assert_true(ha);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
  }
}

/* li-admin: mon's refusal is R11's too; twn's is MOVE2's alone. */
static void li_admin_sees_r11(const char *host, const char *words) {
  json_t *a = migrate(&LI_ADMIN, "mon", host), *b = migrate(&LI_ADMIN, "twn", host);
  assert_int_equal(count_req(a, "TR103308-6.2-MOVE2"), 1);
  assert_int_equal(count_req(a, "TR103308-6.2-R11"), 1);
  assert_int_equal(count_req(b, "TR103308-6.2-MOVE2"), 1);
  assert_int_equal(count_req(b, "TR103308-6.2-R11"), 0);
  size_t i;
  json_t *r;
  bool found = false;
  json_array_foreach(json_object_get(a, "violations"), i, r)
    if (strcmp(json_string_value(json_object_get(r, "requirement")), "TR103308-6.2-R11") == 0)
      found = strstr(json_string_value(json_object_get(r, "sentence")), words) != NULL;
  if (!found) fail_msg("li-admin onto %s: R11 does not say \"%s\"", host, words);
  json_decref(a);
  json_decref(b);
}

/* No fresh quote from the destination: not trusted at that moment, for
 * every VM alike. */
static void test_no_fresh_quote_alike(void **state) {
  (void)state;
  alike("silent-1", "no fresh attestation of host silent-1: ");
  json_t *a = migrate(&MANO, "mon", "silent-1");
  json_t *att = json_object_get(a, "attestation");
  assert_true(json_is_true(json_object_get(att, "required")));
  assert_false(json_is_true(json_object_get(att, "fresh_quote")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(a, "violations"), 0), "subject")),
                      "host silent-1");
  json_decref(a);
  li_admin_sees_r11("silent-1", "host silent-1 has no attestation appraised within the last");
}

/* Untrusted hardware: MOVE2 for every VM, R11 for li-admin beside it. */
static void test_untrusted_alike(void **state) {
  (void)state;
  alike("bad-1", "the host's trust was declared");
  li_admin_sees_r11("bad-1", "may move only to trusted hardware");
}

/* Negative: R11 for the LI's jurisdiction is still shown, redacted, and
 * the record of that refusal is sealed (the denial tells the caller an LI
 * is involved anyway); the twin is allowed. */
/* MANO moves vm to London, outside its LI's or obligation's jurisdiction:
 * refused under req, redacted, the record sealed; its twin is allowed. */
static void jurisdiction_shown(const char *vm, const char *twin, const char *req) {
  json_t *a = migrate(&MANO, vm, "gb-1"), *b = migrate(&MANO, twin, "gb-1");
  assert_false(json_is_true(json_object_get(a, "allow")));
  assert_int_equal(count_req(a, req), 1);
  assert_true(json_is_true(json_object_get(a, "redacted")));
  assert_true(json_is_true(json_object_get(b, "allow")));
  bool h = false;
  assert_true(entry(a, "x", &h));
  json_decref(a);
  json_decref(b);
}

static void test_jurisdiction_r11_shown(void **state) {
  (void)state;
  jurisdiction_shown("mon", "twn", "TR103308-6.2-R11");
}

static json_t *place(const ctl_actor *who, const char *id, const char *host) {
  json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "host", host, "sensitivity", "general",
                           "domain", "core"),
         *out = NULL;
  lisec_err err = {0};
  if (ctl_model_decide_placement(ctl, who, body, &out, &err))
    fail_msg("placement of %s on %s as %s: %s", id, host, who->role, err.msg);
  json_decref(body);
  assert_non_null(out);
  return out;
}

/* The RD twins rdq (a function of ob-fi) and rdt onto host, and the
 * placements of rdn (a function of ob-fi not placed yet) and rdx there,
 * read the same to every role but rd-admin, ids aside, refused under MOVE2
 * only, with nothing redacted; their records are in the clear and name
 * neither RD-R11 nor the obligation. */
static void rd_alike(const char *host) {
  for (size_t k = 0; k < sizeof NON_RD / sizeof *NON_RD; k++) {
    json_t *pair[2][2] = {{migrate(NON_RD[k], "rdq", host), migrate(NON_RD[k], "rdt", host)},
                          {place(NON_RD[k], "rdn", host), place(NON_RD[k], "rdx", host)}};
    const char *ids[2][2] = {{"rdq", "rdt"}, {"rdn", "rdx"}};
    for (int d = 0; d < 2; d++) {
      json_t *a = pair[d][0], *b = pair[d][1];
      char *ta = norm(a, ids[d][0]), *tb = norm(b, ids[d][1]);
      if (strcmp(ta, tb) != 0)
        fail_msg("%s onto %s: the RD VM's answer differs from its twin's:\n%s\n%s", NON_RD[k]->role, host,
                 ta, tb);
      assert_false(json_is_true(json_object_get(a, "allow")));
      assert_int_equal(count_req(a, "TR103308-6.2-MOVE2"), 1);
      assert_int_equal(count_req(a, "TR103308-5.8-RD-R11"), 0);
      assert_false(json_is_true(json_object_get(a, "redacted")));
      for (int i = 0; i < 2; i++) {
        bool h = false;
        assert_false(entry(pair[d][i], "RD-R11", &h));
        assert_false(h);
        (void)entry(pair[d][i], "ob-fi", &h);
        assert_false(h);
        (void)entry(pair[d][i], "TR103308-6.2-MOVE2", &h);
        assert_true(h);
      }
      free(ta);
      free(tb);
      json_decref(a);
      json_decref(b);
    }
  }
}

/* rd-admin: rdq's and rdn's refusals are RD-R11's too, for the host's
 * trust; rdt's and rdx's are MOVE2's alone. */
static void rd_admin_sees_rd11(const char *host) {
  json_t *a = migrate(&RD_ADMIN, "rdq", host), *b = migrate(&RD_ADMIN, "rdt", host),
         *c = place(&RD_ADMIN, "rdn", host), *d = place(&RD_ADMIN, "rdx", host);
  assert_int_equal(count_req(a, "TR103308-6.2-MOVE2"), 1);
  assert_int_equal(count_req(a, "TR103308-5.8-RD-R11"), 1);
  assert_int_equal(count_req(c, "TR103308-6.2-MOVE2"), 1);
  assert_int_equal(count_req(c, "TR103308-5.8-RD-R11"), 1);
  assert_int_equal(count_req(b, "TR103308-5.8-RD-R11"), 0);
  assert_int_equal(count_req(d, "TR103308-5.8-RD-R11"), 0);
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(a, "violations"), i, r)
    if (strcmp(json_string_value(json_object_get(r, "requirement")), "TR103308-5.8-RD-R11") == 0) {
      assert_non_null(strstr(json_string_value(json_object_get(r, "sentence")), "is not trusted"));
      assert_string_equal(json_string_value(json_object_get(r, "subject")), "rd ob-fi");
      assert_null(json_object_get(r, "lisec.trust_row")); /* the mark stays inside */
    }
  json_decref(a);
  json_decref(b);
  json_decref(c);
  json_decref(d);
}

/* Retained Data onto untrusted hardware, and onto hardware that is not
 * trusted and has no location: MOVE2 for every VM alike; RD-R11 beside it
 * for rd-admin only. */
static void test_rd_untrusted_alike(void **state) {
  (void)state;
  rd_alike("bad-1");
  rd_admin_sees_rd11("bad-1");
  rd_alike("nol-1");
  rd_admin_sees_rd11("nol-1");
}

/* Negative: RD-R11 for the obligation's jurisdiction is still shown,
 * redacted, and its record sealed to the RD administration; the twin is
 * allowed. */
static void test_rd_jurisdiction_shown(void **state) {
  (void)state;
  jurisdiction_shown("rdq", "rdt", "TR103308-5.8-RD-R11");
}

/* How many entries the audit log holds (at least one). */
static json_int_t log_size(void) {
  json_t *out = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_audit_entries(ctl, 0, 1, &out, &err), 0);
  json_int_t size = json_integer_value(json_object_get(out, "size"));
  json_decref(out);
  assert_true(size > 0);
  return size;
}

/* The newest audit entry: its seal bit, and whether its data (a clear
 * one's) holds needle. */
static bool last_entry(const char *needle, bool *holds) {
  json_int_t size = log_size();
  json_t *reply = json_pack("{s:I}", "audit_index", size - 1);
  bool sealed = entry(reply, needle, holds);
  json_decref(reply);
  return sealed;
}

/* Moves hypervisor hyp to host as who: refused (ECONFLICT), the refusal's
 * words with hyp written as "hv-X" into msg. */
static void move_hyp(const ctl_actor *who, const char *hyp, const char *host, char *msg, size_t cap) {
  json_t *body = json_pack("{s:s, s:s}", "id", hyp, "host", host), *out = NULL;
  bool created = false;
  lisec_err err = {0};
  int rc = ctl_model_put(ctl, who, "hypervisor", hyp, body, false, &out, &created, &err);
  json_decref(body);
  json_decref(out);
  if (rc != LISEC_ECONFLICT)
    fail_msg("the move of %s to %s as %s: rc %d, want ECONFLICT: %s", hyp, host, who->role, rc, err.msg);
  snprintf(msg, cap, "%s", err.msg);
  for (char *p = msg; (p = strstr(p, hyp)) != NULL; p += 4) memcpy(p, "hv-X", 4);
}

/* A hypervisor's move onto a host that is not trusted at that moment (no
 * fresh quote, untrusted, untrusted without a location) is refused under
 * MOVE2 with the same words for hv-m, which runs the monitored VM mo2, and
 * hv-w, which runs its twin, to the operator and the hypervisor admin, and
 * their records are sealed alike, in the clear, naming neither the LI nor
 * an LI rule. (On hardware without a location mo2 fails R1 too, which is
 * that trust failure: before, its row was shown, redacted, and sealed the
 * record, telling which hypervisor runs a VM an LI involves.) */
static void test_hypervisor_move_alike(void **state) {
  (void)state;
  const char *hosts[] = {"silent-1", "bad-1", "nol-1"};
  const ctl_actor *who[] = {&OPERATOR, &HYP_ADMIN};
  for (size_t h = 0; h < 3; h++)
    for (size_t k = 0; k < 2; k++) {
      char a[LISEC_ERR_MSG_MAX], b[LISEC_ERR_MSG_MAX];
      bool ha = false, hb = false, hl = false;
      move_hyp(who[k], "hv-m", hosts[h], a, sizeof a);
      bool sa = last_entry("TR103308-6.2-R", &ha);
      (void)last_entry("li-8", &hl);
      assert_false(hl);
      move_hyp(who[k], "hv-w", hosts[h], b, sizeof b);
      bool sb = last_entry("TR103308-6.2-R", &hb);
      if (strcmp(a, b) != 0)
        fail_msg("%s, onto %s: the move of the monitored VM's hypervisor reads otherwise:\n%s\n%s",
                 who[k]->role, hosts[h], a, b);
      assert_non_null(strstr(a, "TR103308-6.2-MOVE2"));
      assert_null(strstr(a, "TR103308-6.2-R"));
      assert_null(strstr(a, "withheld"));
      assert_false(sa);
      assert_false(sb);
      assert_false(ha);
      assert_false(hb);
    }
  /* the refused moves moved nothing: mo2 still runs on hv-m, on hel-1 */
  json_t *body = json_pack("{s:s, s:s}", "vm", "mo2", "hypervisor", "hv-m"), *vm = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_model_decide_migration(ctl, &MANO, body, &vm, &err), 0);
  assert_int_equal(count_req(vm, "TR103308-6.2-MOVE1"), 1);
  assert_string_equal(json_string_value(json_object_get(vm, "host")), "hel-1");
  json_decref(body);
  json_decref(vm);
}

/* Moves hypervisor hyp to host as who and returns its status; err's words
 * in msg, hyp written as "hv-X". */
static int try_move_hyp(const ctl_actor *who, const char *hyp, const char *host, char *msg, size_t cap) {
  json_t *body = json_pack("{s:s, s:s}", "id", hyp, "host", host), *out = NULL;
  bool created = false;
  lisec_err err = {0};
  int rc = ctl_model_put(ctl, who, "hypervisor", hyp, body, false, &out, &created, &err);
  json_decref(body);
  json_decref(out);
  snprintf(msg, cap, "%s", err.msg);
  for (char *p = msg; (p = strstr(p, hyp)) != NULL; p += 4) memcpy(p, "hv-X", 4);
  return rc;
}

/* The host hypervisor hyp stands on, as a migration decision of vm onto
 * it says (MOVE1: vm runs there). */
static void runs_on(const char *vm, const char *hyp, const char *host) {
  json_t *body = json_pack("{s:s, s:s}", "vm", vm, "hypervisor", hyp), *out = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_model_decide_migration(ctl, &MANO, body, &out, &err), 0);
  assert_int_equal(count_req(out, "TR103308-6.2-MOVE1"), 1);
  assert_string_equal(json_string_value(json_object_get(out, "host")), host);
  json_decref(body);
  json_decref(out);
}

/* The newest audit entry opened with the RD administration's secret key:
 * whether it opens, and then whether it holds needle. */
static bool last_opens_rd(const char *needle, bool *holds) {
  json_t *out = NULL;
  lisec_err err = {0};
  json_int_t size = log_size();
  assert_int_equal(ctl_audit_entries(ctl, (uint64_t)(size - 1), 1, &out, &err), 0);
  json_t *e = json_array_get(json_object_get(out, "entries"), 0);
  uint8_t *raw = NULL, *plain = NULL;
  size_t len = 0, plain_len = 0;
  assert_int_equal(crypto_base64_decode(json_string_value(json_object_get(e, "data")), 1u << 20, &raw,
                                        &len, &err),
                   0);
  bool opens = json_is_true(json_object_get(e, "sealed")) &&
               audit_entry_open(raw, len, rd_sk, &plain, &plain_len, &err) == 0;
  *holds = opens && memmem(plain, plain_len, needle, strlen(needle)) != NULL;
  free(raw);
  free(plain);
  json_decref(out);
  return opens;
}

/* A hypervisor's move onto hardware that is not trusted (in the
 * obligation's jurisdiction, or without a location) reads alike for hv-r,
 * which runs the RD function rdr, and hv-v, which runs its twin, to the
 * roles that move hypervisors (operator, hypervisor-admin; rd-admin is
 * not one): MOVE2 alone, records in the clear naming neither RD-R11 nor
 * the obligation (RD-R11 for the host's trust is a trust row: MOVE2 says
 * it for every hypervisor); nothing moves. */
static void test_hypervisor_move_rd_untrusted_alike(void **state) {
  (void)state;
  const char *hosts[] = {"bad-1", "nol-1"};
  const ctl_actor *who[] = {&OPERATOR, &HYP_ADMIN};
  for (size_t h = 0; h < 2; h++)
    for (size_t k = 0; k < 2; k++) {
      char a[LISEC_ERR_MSG_MAX], b[LISEC_ERR_MSG_MAX];
      bool ha = false, hb = false, ho = false;
      assert_int_equal(try_move_hyp(who[k], "hv-r", hosts[h], a, sizeof a), LISEC_ECONFLICT);
      bool sa = last_entry("RD-R11", &ha);
      (void)last_entry("ob-fi", &ho);
      assert_false(ho);
      assert_int_equal(try_move_hyp(who[k], "hv-v", hosts[h], b, sizeof b), LISEC_ECONFLICT);
      bool sb = last_entry("RD-R11", &hb);
      if (strcmp(a, b) != 0)
        fail_msg("%s, onto %s: the move of the RD function's hypervisor reads otherwise:\n%s\n%s",
                 who[k]->role, hosts[h], a, b);
      assert_non_null(strstr(a, "TR103308-6.2-MOVE2"));
      assert_null(strstr(a, "RD-R"));
      assert_null(strstr(a, "withheld"));
      assert_false(sa);
      assert_false(sb);
      assert_false(ha);
      assert_false(hb);
    }
  runs_on("rdr", "hv-r", "hel-1");
  runs_on("rdv", "hv-v", "hel-1");
}

/* A hypervisor's move out of the obligation's jurisdiction (gb-1, trusted,
 * in GB) while it runs the RD function rdr is refused under RD-R11, to the
 * operator and the hypervisor admin with the obligation withheld; its
 * record is sealed to the RD administration, whose key opens it to the
 * full reason (the obligation, the VM, the host), and nothing moves.
 * hv-v, which runs rdr's twin, is allowed there, its record in the clear.
 * Before, hv-r's move was allowed too: the compliance reports the move
 * compares hold no RD rule. */
static void test_hypervisor_move_rd_jurisdiction(void **state) {
  (void)state;
  const ctl_actor *who[] = {&OPERATOR, &HYP_ADMIN};
  char a[LISEC_ERR_MSG_MAX];
  bool h = false;
  for (size_t k = 0; k < 2; k++) {
    if (try_move_hyp(who[k], "hv-r", "gb-1", a, sizeof a) != LISEC_ECONFLICT)
      fail_msg("%s: the move of hv-r out of the obligation's jurisdiction was not refused: %s",
               who[k]->role, a);
    if (strncmp(a, "TR103308-5.8-RD-R11: ", 21) != 0 ||
        !strstr(a, "TR103308-5.8-RD-R11 (rd (withheld))"))
      fail_msg("%s: the refusal does not name RD-R11, redacted: %s", who[k]->role, a);
    assert_null(strstr(a, "ob-fi"));
    assert_null(strstr(a, "rdr"));
    assert_null(strstr(a, "MOVE2"));
    assert_true(last_entry("x", &h));
    if (!last_opens_rd("TR103308-5.8-RD-R11: VM rdr serves retention obligation ob-fi", &h) || !h)
      fail_msg("%s: the refusal's record is not sealed to the RD administration with RD-R11 in full",
               who[k]->role);
    assert_true(last_opens_rd("model.hypervisor.move", &h));
    assert_true(h);
    (void)last_opens_rd("host gb-1", &h);
    assert_true(h);
  }
  runs_on("rdr", "hv-r", "hel-1");
  /* the twin's hypervisor goes there, recorded in the clear */
  assert_int_equal(try_move_hyp(&OPERATOR, "hv-v", "gb-1", a, sizeof a), 0);
  assert_false(last_entry("model.hypervisor.move", &h));
  assert_true(h);
  runs_on("rdv", "hv-v", "gb-1");
}

/* Puts LI id, monitoring vm, as the LI administration. */
static void put_li(const char *id, const char *vm) {
  json_t *li = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "jurisdiction", "fi", "lea",
                         "lea-fi", "monitored", vm, "host", "lim", "storage", "st-li", "valid_from",
                         "2025-01-01T00:00:00Z", "valid_until", "2035-01-01T00:00:00Z"),
         *out = NULL;
  bool created = false;
  lisec_err err = {0};
  if (ctl_model_put(ctl, &LI_ADMIN, "li", NULL, li, false, &out, &created, &err))
    fail_msg("put li %s: %s", id, err.msg);
  json_decref(li);
  json_decref(out);
}

/* The migration of vm onto hypervisor hyp, as who. */
static json_t *migrate_hv(const ctl_actor *who, const char *vm, const char *hyp) {
  json_t *body = json_pack("{s:s, s:s}", "vm", vm, "hypervisor", hyp), *out = NULL;
  lisec_err err = {0};
  if (ctl_model_decide_migration(ctl, who, body, &out, &err))
    fail_msg("migration of %s to %s as %s: %s", vm, hyp, who->role, err.msg);
  json_decref(body);
  assert_non_null(out);
  return out;
}

/* How often needle occurs in text. */
static size_t occurs(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

/* How many VMs an LI (an obligation) involves is not told by a refusal to
 * a role that may not read its rows (docs/model.md, "What each role
 * sees"): hv-1l runs c1 (monitored by li-c1) beside two VMs no LI names,
 * hv-3l runs c3a..c3c, each monitored by an LI of its own; hv-1r runs d1
 * (a function of ob-c) beside two others, hv-3r d3a..d3c, all ob-c's.
 * Moved to gb-1 (outside FI), as operator and hypervisor-admin, hv-1l and
 * hv-3l are refused with the same words (R1 withheld once), and so are
 * hv-1r and hv-3r (RD-R11 withheld once); the RD administration's key
 * opens hv-3r's record to its three VMs. cm, which li-m1 and li-m2
 * monitor, and cn, which li-n1 monitors, migrate to hv-gb-1 alike for every
 * role but li-admin (R11 once), who reads both of cm's R11 rows; so do
 * rm, a function of ob-c and ob-d, and rn, of ob-c alone (RD-R11 once),
 * li-admin included. Before, each row came once per VM (LI, obligation). */
static void test_withheld_rows_once(void **state) {
  (void)state;
  static const char *const vms[][2] = {
      {"c1", "hv-1l"},  {"c1b", "hv-1l"}, {"c1c", "hv-1l"}, {"c3a", "hv-3l"}, {"c3b", "hv-3l"},
      {"c3c", "hv-3l"}, {"d1", "hv-1r"},  {"d1b", "hv-1r"}, {"d1c", "hv-1r"}, {"d3a", "hv-3r"},
      {"d3b", "hv-3r"}, {"d3c", "hv-3r"}, {"cm", "hv-hel-1"}, {"cn", "hv-hel-1"},
      {"rm", "hv-hel-1"}, {"rn", "hv-hel-1"}};
  char doc[256];
  static const char *const hvs[] = {"hv-1l", "hv-3l", "hv-1r", "hv-3r"};
  for (size_t i = 0; i < sizeof hvs / sizeof *hvs; i++) {
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"host\":\"hel-1\"}", hvs[i]);
    put("hypervisor", doc);
  }
  for (size_t i = 0; i < sizeof vms / sizeof *vms; i++) {
    snprintf(doc, sizeof doc,
             "{\"id\":\"%s\",\"hypervisor\":\"%s\",\"sensitivity\":\"general\",\"domain\":\"core\"}",
             vms[i][0], vms[i][1]);
    put("vm", doc);
  }
  put_li("li-c1", "c1");
  put_li("li-c3a", "c3a");
  put_li("li-c3b", "c3b");
  put_li("li-c3c", "c3c");
  put_li("li-m1", "cm");
  put_li("li-m2", "cm");
  put_li("li-n1", "cn");
  lisec_err err = {0};
  json_t *out = NULL,
         *ob = json_pack("{s:s, s:[s,s,s,s,s,s], s:[], s:i, s:i, s:s}", "jurisdiction", "fi", "functions",
                         "d1", "d3a", "d3b", "d3c", "rm", "rn", "stores", "period_s", 3600, "retention_s",
                         3600, "valid_from", "2025-01-01T00:00:00Z");
  if (ctl_rd_put(ctl, &RD_ADMIN, "ob-c", ob, &out, &err)) fail_msg("put obligation: %s", err.msg);
  json_decref(ob);
  json_decref(out);
  ob = json_pack("{s:s, s:[s], s:[], s:i, s:i, s:s}", "jurisdiction", "fi", "functions", "rm", "stores",
                 "period_s", 3600, "retention_s", 3600, "valid_from", "2025-01-01T00:00:00Z");
  out = NULL;
  if (ctl_rd_put(ctl, &RD_ADMIN, "ob-d", ob, &out, &err)) fail_msg("put obligation: %s", err.msg);
  json_decref(ob);
  json_decref(out);

  const ctl_actor *who[] = {&OPERATOR, &HYP_ADMIN};
  static const char *const pairs[][3] = {{"hv-1l", "hv-3l", "TR103308-6.2-R1 ("},
                                         {"hv-1r", "hv-3r", "TR103308-5.8-RD-R11 ("}};
  for (size_t k = 0; k < 2; k++)
    for (size_t p = 0; p < 2; p++) {
      char a[LISEC_ERR_MSG_MAX], b[LISEC_ERR_MSG_MAX];
      bool h = false;
      assert_int_equal(try_move_hyp(who[k], pairs[p][0], "gb-1", a, sizeof a), LISEC_ECONFLICT);
      assert_int_equal(try_move_hyp(who[k], pairs[p][1], "gb-1", b, sizeof b), LISEC_ECONFLICT);
      if (occurs(b, pairs[p][2]) != 1 || !strstr(b, "(withheld)"))
        fail_msg("%s: the move of %s names %s other than once, withheld: %s", who[k]->role, pairs[p][1],
                 pairs[p][2], b);
      if (strcmp(a, b) != 0)
        fail_msg("%s: the moves of %s and %s read otherwise:\n%s\n%s", who[k]->role, pairs[p][0],
                 pairs[p][1], a, b);
      assert_true(last_entry("x", &h)); /* sealed */
    }
  /* the RD administration reads every row of hv-3r's refusal */
  const char *full[] = {"VM d3a serves retention obligation ob-c", "VM d3b serves retention obligation ob-c",
                        "VM d3c serves retention obligation ob-c"};
  for (size_t i = 0; i < 3; i++) {
    bool h = false;
    if (!last_opens_rd(full[i], &h) || !h)
      fail_msg("the RD key does not read \"%s\" in hv-3r's record", full[i]);
  }

  /* one VM, two LIs (obligations) */
  for (size_t k = 0; k < sizeof NON_RD / sizeof *NON_RD; k++) {
    const ctl_actor *r = NON_RD[k];
    static const char *const twins[][3] = {{"cm", "cn", "TR103308-6.2-R11"},
                                           {"rm", "rn", "TR103308-5.8-RD-R11"}};
    for (size_t t = 0; t < 2; t++) {
      if (r == &LI_ADMIN && t == 0) continue; /* li-admin reads both LIs, below */
      json_t *a = migrate_hv(r, twins[t][0], "hv-gb-1"), *b = migrate_hv(r, twins[t][1], "hv-gb-1");
      char *ta = norm(a, twins[t][0]), *tb = norm(b, twins[t][1]);
      if (count_req(a, twins[t][2]) != 1)
        fail_msg("%s: the migration of %s names %s %zu times: %s", r->role, twins[t][0], twins[t][2],
                 count_req(a, twins[t][2]), ta);
      if (strcmp(ta, tb) != 0)
        fail_msg("%s: the migrations of %s and %s read otherwise:\n%s\n%s", r->role, twins[t][0],
                 twins[t][1], ta, tb);
      free(ta);
      free(tb);
      json_decref(a);
      json_decref(b);
    }
  }
  json_t *a = migrate_hv(&LI_ADMIN, "cm", "hv-gb-1");
  assert_int_equal(count_req(a, "TR103308-6.2-R11"), 2);
  json_decref(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_fresh_quote_alike),
      cmocka_unit_test(test_untrusted_alike),
      cmocka_unit_test(test_jurisdiction_r11_shown),
      cmocka_unit_test(test_rd_untrusted_alike),
      cmocka_unit_test(test_rd_jurisdiction_shown),
      cmocka_unit_test(test_hypervisor_move_alike),
      cmocka_unit_test(test_hypervisor_move_rd_untrusted_alike),
      cmocka_unit_test(test_hypervisor_move_rd_jurisdiction),
      cmocka_unit_test(test_withheld_rows_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
