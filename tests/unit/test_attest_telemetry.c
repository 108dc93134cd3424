/* Unit tests of the chassis report (attest/telemetry.c, issue 19): the
 * strict, bounded parser (every field, physical ranges, malformed,
 * truncated at every length, oversized), the versioned quote binding
 * (expected digests from Python's hashlib, not from the code), and the
 * appraiser: intrusion, asset tag against the location certificate,
 * power-on hours going back, another BMC, a newer intrusion in the BMC's
 * event log than the baseline's, each voiding the location;
 * implausible power draw a finding only, as are an event log not read and
 * one that overflowed (version 3's sel_overflow); a missing or stale report
 * a finding or untrusted by policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest/attest.h"

#define HOST "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"
#define NOW 1800000000

/* A quiet chassis, as the agent writes it, with one field replaced when
 * key is not NULL (value is its JSON text). */
static char *doc_with(const char *key, const char *value) {
  static const char *const keys[] = {"version", "host",    "read_at", "bmc",   "intrusion", "power",
                                     "poh_h",   "power_w", "inlet_c", "cpu_c", "asset_tag", NULL};
  const char *vals[] = {"1",     "\"" HOST "\"", "1800000000",
                        "{\"guid\":\"01234567-89ab-cdef-0123-456789abcdef\",\"manufacturer\":4753,"
                        "\"product\":3842,\"firmware\":\"9.08\"}",
                        "false", "\"on\"",       "1200", "200", "24", "45", "\"LAB-0042\""};
  char *out = malloc(8192);
  size_t n = 0;
  out[n++] = '{';
  for (int i = 0; keys[i]; i++) {
    const char *v = key && strcmp(key, keys[i]) == 0 ? value : vals[i];
    if (!v) continue; /* NULL value: the field is left out */
    n += (size_t)snprintf(out + n, 8192 - n, "%s\"%s\":%s", n > 1 ? "," : "", keys[i], v);
  }
  out[n++] = '}';
  out[n] = '\0';
  return out;
}

static int parse(const char *s, attest_chassis *c, lisec_err *err) {
  return attest_chassis_parse(s, strlen(s), 0, c, err);
}

static void refused(const char *key, const char *value, const char *why) {
  char *s = doc_with(key, value);
  attest_chassis c;
  lisec_err err = {0};
  int rc = parse(s, &c, &err);
  if (rc == 0 || !strstr(err.msg, why) || !strstr(err.msg, ATTEST_CHASSIS_REQ))
    fail_msg("%s=%s: rc %d, \"%s\" (wanted \"%s\")", key ? key : "-", value ? value : "(absent)", rc, err.msg, why);
  assert_false(c.bmc); /* nothing of a refused report is kept */
  free(s);
}

static void test_parse_good(void **state) {
  (void)state;
  char *s = doc_with(NULL, NULL);
  attest_chassis c;
  lisec_err err = {0};
  assert_int_equal(parse(s, &c, &err), 0);
  assert_string_equal(c.host, HOST);
  assert_int_equal(c.read_at, NOW);
  assert_true(c.bmc);
  assert_string_equal(c.guid, "01234567-89ab-cdef-0123-456789abcdef");
  assert_int_equal(c.manufacturer, 4753);
  assert_int_equal(c.product, 3842);
  assert_true(c.has_intrusion && !c.intrusion);
  assert_true(c.has_power && c.power_on);
  assert_int_equal(c.poh_h, 1200);
  assert_int_equal(c.power_w, 200);
  assert_int_equal(c.inlet_c, 24);
  assert_int_equal(c.cpu_c, 45);
  assert_string_equal(c.asset_tag, "LAB-0042");
  /* The canonical form parses to the same report, and is stable. */
  char *j = attest_chassis_json(&c), *j2;
  attest_chassis c2;
  assert_non_null(j);
  assert_int_equal(parse(j, &c2, &err), 0);
  assert_memory_equal(&c, &c2, sizeof c);
  assert_non_null(j2 = attest_chassis_json(&c2));
  assert_string_equal(j, j2);
  free(j), free(j2), free(s);
  /* Every reading may be null (the BMC has no such sensor); edge values. */
  const char *nulls[] = {"intrusion", "power", "poh_h", "power_w", "inlet_c", "cpu_c", "asset_tag"};
  for (size_t i = 0; i < 7; i++) {
    s = doc_with(nulls[i], "null");
    assert_int_equal(parse(s, &c, &err), 0);
    free(s);
  }
  s = doc_with("inlet_c", "-40");
  assert_int_equal(parse(s, &c, &err), 0);
  assert_int_equal(c.inlet_c, -40);
  free(s);
  s = doc_with("power_w", "100000");
  assert_int_equal(parse(s, &c, &err), 0);
  free(s);
  /* No BMC answered: every reading null. */
  const char *none = "{\"version\":1,\"host\":\"" HOST "\",\"read_at\":5,\"bmc\":null,\"intrusion\":null,"
                     "\"power\":null,\"poh_h\":null,\"power_w\":null,\"inlet_c\":null,\"cpu_c\":null,"
                     "\"asset_tag\":null}";
  assert_int_equal(parse(none, &c, &err), 0);
  assert_false(c.bmc);
}

static void test_parse_refusals(void **state) {
  (void)state;
  /* physical ranges */
  refused("inlet_c", "151", "outside the physical range -40..150");
  refused("inlet_c", "-41", "outside the physical range");
  refused("cpu_c", "1000", "outside the physical range");
  refused("power_w", "-1", "outside the physical range 0..100000 W");
  refused("power_w", "100001", "outside the physical range");
  refused("poh_h", "2000001", "outside the physical range");
  refused("power_w", "250.5", "must be an integer or null");
  refused("inlet_c", "\"24\"", "must be an integer or null");
  /* shapes */
  refused("version", "4", "only versions 1, 2 and 3");
  refused("version", "0", "only versions 1, 2 and 3");
  refused("intrusion", "1", "must be true, false or null");
  refused("power", "\"standby\"", "is not on, off or null");
  refused("asset_tag", "\"\"", "must be 1 to 64 bytes");
  refused("asset_tag", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "must be 1 to 64 bytes");
  refused("asset_tag", "\"tab\\there\"", "not printable");
  refused("asset_tag", "\"caf\\u00e9\"", "not printable");
  refused("bmc", "{\"guid\":\"g\",\"manufacturer\":1,\"product\":1}", "no \"firmware\"");
  refused("bmc", "{\"guid\":\"g\",\"manufacturer\":1048576,\"product\":1,\"firmware\":null}", "\"bmc\"");
  refused("bmc", "{\"guid\":\"g\",\"manufacturer\":1,\"product\":1,\"firmware\":null,\"x\":1}", "\"bmc\"");
  refused("bmc", "[]", "\"bmc\" must be an object");
  refused("bmc", "null", "readings without a BMC");
  refused("cpu_c", NULL, "no \"cpu_c\"");
  refused("host", NULL, "no \"host\"");
  refused("read_at", "-1", ATTEST_CHASSIS_REQ);
  /* an unknown field is refused, not ignored */
  char *s = doc_with(NULL, NULL);
  s[strlen(s) - 1] = '\0';
  strcat(s, ",\"extra\":1}");
  attest_chassis c;
  lisec_err err = {0};
  assert_int_not_equal(parse(s, &c, &err), 0);
  free(s);
  /* every truncation is refused */
  s = doc_with(NULL, NULL);
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) {
    err.msg[0] = '\0';
    assert_int_not_equal(attest_chassis_parse(s, i, 0, &c, &err), 0);
    assert_non_null(strstr(err.msg, ATTEST_CHASSIS_REQ));
  }
  /* oversized: over the caller's bound, and over the hard one */
  assert_int_equal(attest_chassis_parse(s, n, n - 1, &c, &err), LISEC_ETOOBIG);
  char *big = calloc(1, ATTEST_CHASSIS_MAX_BYTES + 2);
  memset(big, ' ', ATTEST_CHASSIS_MAX_BYTES + 1);
  memcpy(big, s, n);
  assert_int_equal(attest_chassis_parse(big, ATTEST_CHASSIS_MAX_BYTES + 1, 1u << 20, &c, &err), LISEC_ETOOBIG);
  assert_int_not_equal(attest_chassis_parse("[1,2]", 5, 0, &c, &err), 0);
  assert_int_not_equal(attest_chassis_parse(NULL, 0, 0, &c, &err), 0);
  free(big), free(s);
}

/* Version 2: version 1's fields and the event log's newest intrusion. */
static char *v2_with(const char *sel) {
  char *s = doc_with("version", "2");
  s[strlen(s) - 1] = '\0';
  if (sel) {
    strcat(s, ",\"sel_intrusion\":");
    strcat(s, sel);
  }
  strcat(s, "}");
  return s;
}

static void test_parse_v2(void **state) {
  (void)state;
  attest_chassis c;
  lisec_err err = {0};
  const char *good[] = {"null", "\"none\"", "\"7 12/07/2026 03:30:00\""};
  for (size_t i = 0; i < 3; i++) {
    char *s = v2_with(good[i]);
    if (parse(s, &c, &err) != 0) fail_msg("%s: %s", s, err.msg);
    assert_int_equal(c.version, 2);
    assert_int_equal(c.has_sel, i > 0);
    /* the canonical form keeps the version and the record */
    char *j = attest_chassis_json(&c);
    attest_chassis c2;
    assert_int_equal(parse(j, &c2, &err), 0);
    assert_memory_equal(&c, &c2, sizeof c);
    free(j), free(s);
  }
  assert_string_equal(c.sel_intrusion, "7 12/07/2026 03:30:00");
  /* version 2 needs the field, version 1 may not carry it */
  const char *bad[][2] = {{NULL, "no \"sel_intrusion\""},
                          {"1", "must be a string or null"},
                          {"\"\"", "must be 1 to 64 bytes"},
                          {"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "must be 1 to 64 bytes"},
                          {"\"7\\n8\"", "not printable"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *s = v2_with(bad[i][0]);
    err.msg[0] = '\0';
    if (parse(s, &c, &err) == 0 || !strstr(err.msg, bad[i][1]) || !strstr(err.msg, ATTEST_CHASSIS_REQ))
      fail_msg("%s: \"%s\" (wanted \"%s\")", s, err.msg, bad[i][1]);
    free(s);
  }
  char *s = doc_with(NULL, NULL);
  s[strlen(s) - 1] = '\0';
  strcat(s, ",\"sel_intrusion\":\"none\"}");
  assert_int_not_equal(parse(s, &c, &err), 0);
  free(s);
  /* no BMC: the log is not read either */
  const char *none = "{\"version\":2,\"host\":\"" HOST "\",\"read_at\":5,\"bmc\":null,\"intrusion\":null,"
                     "\"power\":null,\"poh_h\":null,\"power_w\":null,\"inlet_c\":null,\"cpu_c\":null,"
                     "\"asset_tag\":null,\"sel_intrusion\":\"none\"}";
  err.msg[0] = '\0';
  assert_int_not_equal(parse(none, &c, &err), 0);
  assert_non_null(strstr(err.msg, "readings without a BMC"));
}

/* Version 3: version 2's fields and the event log's Overflow flag. */
static char *v3_with(const char *sel, const char *overflow) {
  char *s = doc_with("version", "3");
  s[strlen(s) - 1] = '\0';
  if (sel) {
    strcat(s, ",\"sel_intrusion\":");
    strcat(s, sel);
  }
  if (overflow) {
    strcat(s, ",\"sel_overflow\":");
    strcat(s, overflow);
  }
  strcat(s, "}");
  return s;
}

static void test_parse_v3(void **state) {
  (void)state;
  attest_chassis c;
  lisec_err err = {0};
  const char *good[] = {"null", "false", "true"};
  for (size_t i = 0; i < 3; i++) {
    char *s = v3_with("\"none\"", good[i]);
    if (parse(s, &c, &err) != 0) fail_msg("%s: %s", s, err.msg);
    assert_int_equal(c.version, 3);
    assert_true(c.has_sel);
    assert_int_equal(c.has_sel_overflow, i > 0);
    assert_int_equal(c.sel_overflow, i == 2);
    /* the canonical form keeps the version and the flag */
    char *j = attest_chassis_json(&c);
    assert_non_null(strstr(j, i == 0 ? "\"sel_overflow\":null" : i == 1 ? "\"sel_overflow\":false"
                                                                       : "\"sel_overflow\":true"));
    assert_non_null(strstr(j, "\"version\":3"));
    attest_chassis c2;
    assert_int_equal(parse(j, &c2, &err), 0);
    assert_memory_equal(&c, &c2, sizeof c);
    free(j), free(s);
  }
  /* version 3 needs both fields, each of its type */
  const char *bad[][3] = {{"\"none\"", NULL, "no \"sel_overflow\""},
                          {NULL, "false", "no \"sel_intrusion\""},
                          {"\"none\"", "1", "\"sel_overflow\" must be true, false or null"},
                          {"\"none\"", "\"true\"", "\"sel_overflow\" must be true, false or null"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *s = v3_with(bad[i][0], bad[i][1]);
    err.msg[0] = '\0';
    if (parse(s, &c, &err) == 0 || !strstr(err.msg, bad[i][2]) || !strstr(err.msg, ATTEST_CHASSIS_REQ))
      fail_msg("%s: \"%s\" (wanted \"%s\")", s, err.msg, bad[i][2]);
    assert_false(c.bmc);
    free(s);
  }
  /* version 2 may not carry it */
  char *s = v2_with("\"none\"");
  s[strlen(s) - 1] = '\0';
  strcat(s, ",\"sel_overflow\":false}");
  assert_int_not_equal(parse(s, &c, &err), 0);
  free(s);
  /* no BMC: no flag either */
  const char *none = "{\"version\":3,\"host\":\"" HOST "\",\"read_at\":5,\"bmc\":null,\"intrusion\":null,"
                     "\"power\":null,\"poh_h\":null,\"power_w\":null,\"inlet_c\":null,\"cpu_c\":null,"
                     "\"asset_tag\":null,\"sel_intrusion\":null,\"sel_overflow\":false}";
  err.msg[0] = '\0';
  assert_int_not_equal(parse(none, &c, &err), 0);
  assert_non_null(strstr(err.msg, "readings without a BMC"));
  const char *none_ok = "{\"version\":3,\"host\":\"" HOST "\",\"read_at\":5,\"bmc\":null,\"intrusion\":null,"
                        "\"power\":null,\"poh_h\":null,\"power_w\":null,\"inlet_c\":null,\"cpu_c\":null,"
                        "\"asset_tag\":null,\"sel_intrusion\":null,\"sel_overflow\":null}";
  assert_int_equal(parse(none_ok, &c, &err), 0);
}

static void test_binding(void **state) {
  (void)state;
  /* python3: hashlib.sha256(b'lisec-evidence-v2' + bytes(range(32)) +
   *          bytes([0x11]*32) + bytes([0x22]*32)).hexdigest(), and with
   *          bytes(32) for the absent inventory. */
  uint8_t nonce[32], inv[32], ch[32], out[32], want[32], v1[32];
  for (int i = 0; i < 32; i++) nonce[i] = (uint8_t)i;
  memset(inv, 0x11, 32), memset(ch, 0x22, 32);
  attest_evidence_binding(nonce, 32, inv, ch, out);
  assert_int_equal(lisec_hex_decode("b9a483241e3c3f13e7d790015a1bf9fa21b9e6dfb43a1a9f97caac45353ec0a0", want, 32), 0);
  assert_memory_equal(out, want, 32);
  attest_evidence_binding(nonce, 32, NULL, ch, out);
  assert_int_equal(lisec_hex_decode("06eb1935e947f646a41d7892068f881c4a5a3d83f44f55024315f751d39db8eb", want, 32), 0);
  assert_memory_equal(out, want, 32);
  /* Without a chassis report it is version 1, the inventory's binding. */
  attest_evidence_binding(nonce, 32, inv, NULL, out);
  attest_inventory_binding(nonce, 32, inv, v1);
  assert_memory_equal(out, v1, 32);
}

static const attest_chassis_policy POL = {ATTEST_MISSING_FINDING, 600, 150, 800, 10};

static attest_chassis quiet(void) {
  char *s = doc_with(NULL, NULL);
  attest_chassis c;
  lisec_err err = {0};
  assert_int_equal(parse(s, &c, &err), 0);
  free(s);
  return c;
}

static bool has(const char (*arr)[ATTEST_REASON_LEN], size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (strstr(arr[i], what)) return true;
  return false;
}

static void test_appraise_voids(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base none = {.max_poh_h = -1};
  attest_chassis_verdict v;
  /* quiet: nothing, and the baseline is this BMC and these hours */
  attest_chassis_appraise(&c, &none, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_int_equal(v.nfind, 0);
  assert_false(v.untrusted);
  assert_true(v.next.has_bmc);
  assert_string_equal(v.next.guid, c.guid);
  assert_int_equal(v.next.max_poh_h, 1200);
  attest_chassis_base base = v.next;
  /* intrusion */
  c.intrusion = true;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid, "TR103308-6.2-R10/R14: the BMC reports a chassis intrusion"));
  c = quiet();
  /* asset tag other than the certificate's, or none */
  attest_chassis_appraise(&c, &base, "LAB-0043", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid, "asset tag is not the one in the location certificate"));
  c.has_asset_tag = false;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid, "the FRU shows no asset tag"));
  /* a certificate without an asset tag compares nothing */
  attest_chassis_appraise(&c, &base, "", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  c = quiet();
  /* power-on hours going back; forward is fine and raises the baseline */
  c.poh_h = 1199;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid, "power-on hours went backwards (1199, 1200 seen before)"));
  assert_int_equal(v.next.max_poh_h, 1200);
  c.poh_h = 1300;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_int_equal(v.next.max_poh_h, 1300);
  c = quiet();
  /* another BMC (GUID, or manufacturer, or product) */
  snprintf(c.guid, sizeof c.guid, "%s", "ffffffff-89ab-cdef-0123-456789abcdef");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid, "the BMC's identity (GUID, manufacturer, product) changed"));
  assert_string_equal(v.next.guid, base.guid); /* the baseline stays until confirmed */
  c = quiet();
  c.product = 1;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 1);
  /* every void names the requirement and the confirm step */
  assert_true(has(v.voids, v.nvoid, "void until asset management confirms it again"));
}

/* The event log: an intrusion that came and went between two reports. */
static void test_appraise_sel(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_verdict v;
  c.version = 2;
  c.has_sel = true;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "3 12/01/2026 10:00:00");
  /* the first log after a confirmation is the baseline, whatever it holds */
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_true(v.next.has_sel);
  assert_string_equal(v.next.sel_intrusion, "3 12/01/2026 10:00:00");
  base = v.next;
  /* the same record again (replayed, or the one confirmed): nothing */
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  /* a newer one while the sensor is quiet again: void, naming the record */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "9 12/07/2026 03:30:00");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.voids, v.nvoid,
                  "TR103308-6.2-R10/R14: the BMC's event log records a chassis intrusion since the last "
                  "confirmation (SEL record 9 12/07/2026 03:30:00)"));
  assert_true(has(v.voids, v.nvoid, "void until asset management confirms it again"));
  /* an older one than the baseline is not the baseline either: void */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "1 11/01/2026 10:00:00");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 1);
  /* a cleared log is no intrusion, and what comes into it next is new */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "none");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_string_equal(v.next.sel_intrusion, "none");
  base = v.next;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "1 12/07/2026 04:00:00");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 1);
  /* a log not read (null, or a version 1 report) compares nothing and
   * keeps the baseline */
  c.has_sel = false;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_true(v.next.has_sel);
  assert_string_equal(v.next.sel_intrusion, "none");
  /* without a baseline (first report after a confirmation) nothing voids */
  c.has_sel = true;
  attest_chassis_base fresh = {.max_poh_h = -1};
  attest_chassis_appraise(&c, &fresh, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
}

/* A version 2 report whose event log was not read (null: no answer in
 * time, or more records than the agent reads with no intrusion among them)
 * does not say the chassis stayed shut between two reports: a finding, as
 * a missing intrusion state is. A version 1 report has no log to read. */
static void test_appraise_sel_unread(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_verdict v;
  c.version = 2;
  c.has_sel = true;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "3 12/01/2026 10:00:00");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
  base = v.next;
  c.has_sel = false;
  c.sel_intrusion[0] = '\0';
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_true(has(v.findings, v.nfind,
                  "TR103308-5.6-O.1.1: the BMC's event log was not read (sel_intrusion null"));
  assert_false(v.untrusted);
  assert_string_equal(v.next.sel_intrusion, "3 12/01/2026 10:00:00");
  /* whatever the policy: it is part of a report, not a missing one */
  attest_chassis_policy off = POL;
  off.missing = ATTEST_MISSING_OFF;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &off, NOW, &v);
  assert_true(has(v.findings, v.nfind, "event log was not read"));
  /* version 1: no log, no such finding */
  c.version = 1;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
}

/* A full event log (its Overflow flag set) drops new events, or overwrites
 * old ones: the newest intrusion it shows may not be the newest there was.
 * A finding whatever the policy, beside what the log holds; the baseline
 * and the voids are as without it. A version 3 log read without the flag
 * does not show it still records: a finding too. */
static void test_appraise_sel_overflow(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_verdict v;
  c.version = 3;
  c.has_sel = true;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "3 12/01/2026 10:00:00");
  c.has_sel_overflow = true;
  c.sel_overflow = false;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
  assert_int_equal(v.nvoid, 0);
  base = v.next;
  /* overflowed: a finding, whatever [telemetry] missing says */
  c.sel_overflow = true;
  attest_chassis_policy off = POL;
  off.missing = ATTEST_MISSING_OFF;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &off, NOW, &v);
  assert_int_equal(v.nfind, 1);
  assert_true(has(v.findings, v.nfind, "TR103308-5.6-O.1.1: the BMC's event log overflowed (SEL Overflow flag)"));
  assert_int_equal(v.nvoid, 0);
  assert_false(v.untrusted);
  assert_string_equal(v.next.sel_intrusion, "3 12/01/2026 10:00:00");
  /* a newer intrusion in a full (overwriting) log still voids, and the
   * finding stays beside it */
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "9 12/07/2026 03:30:00");
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 1);
  assert_true(has(v.findings, v.nfind, "event log overflowed"));
  /* overflowed and not read whole: both said */
  c.has_sel = false;
  c.sel_intrusion[0] = '\0';
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_true(has(v.findings, v.nfind, "event log was not read"));
  assert_true(has(v.findings, v.nfind, "event log overflowed"));
  /* read, but without the flag */
  c.has_sel = true;
  snprintf(c.sel_intrusion, sizeof c.sel_intrusion, "3 12/01/2026 10:00:00");
  c.has_sel_overflow = c.sel_overflow = false;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nfind, 1);
  assert_true(has(v.findings, v.nfind, "gave no Overflow flag (sel_overflow null)"));
  /* a stale report is missing, not appraised further */
  c.has_sel_overflow = c.sel_overflow = true;
  c.read_at = NOW - 601;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_false(has(v.findings, v.nfind, "overflowed"));
  /* version 2 carries no flag: no such finding */
  c.read_at = NOW;
  c.version = 2;
  c.has_sel_overflow = c.sel_overflow = false;
  attest_chassis_appraise(&c, &base, "LAB-0042", 5, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
}

static void test_appraise_findings(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_verdict v;
  /* idle host near peak */
  c.power_w = 800;
  attest_chassis_appraise(&c, &base, NULL, 0, &POL, NOW, &v);
  assert_int_equal(v.nvoid, 0);
  assert_true(has(v.findings, v.nfind, "no running VM while its BMC reads 800 W"));
  /* busy host at idle power */
  c.power_w = 150;
  attest_chassis_appraise(&c, &base, NULL, 40, &POL, NOW, &v);
  assert_true(has(v.findings, v.nfind, "40 running VMs while its BMC reads 150 W"));
  assert_false(v.untrusted);
  assert_int_equal(v.nvoid, 0);
  /* plausible: nothing; no inventory: no comparison */
  c.power_w = 400;
  attest_chassis_appraise(&c, &base, NULL, 40, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
  c.power_w = 900;
  attest_chassis_appraise(&c, &base, NULL, -1, &POL, NOW, &v);
  assert_int_equal(v.nfind, 0);
  /* running VMs with the power off */
  c.power_w = 400;
  c.power_on = false;
  attest_chassis_appraise(&c, &base, NULL, 3, &POL, NOW, &v);
  assert_true(has(v.findings, v.nfind, "says its power is off"));
  /* no intrusion state at all is a gap */
  c = quiet();
  c.has_intrusion = false;
  attest_chassis_appraise(&c, &base, NULL, 3, &POL, NOW, &v);
  assert_true(has(v.findings, v.nfind, "no chassis intrusion state"));
}

static void test_appraise_missing_and_stale(void **state) {
  (void)state;
  attest_chassis c = quiet();
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_verdict v;
  attest_chassis_policy off = POL, finding = POL, untrusted = POL;
  off.missing = ATTEST_MISSING_OFF;
  untrusted.missing = ATTEST_MISSING_UNTRUSTED;
  /* no report */
  attest_chassis_appraise(NULL, &base, NULL, 0, &off, NOW, &v);
  assert_int_equal(v.nfind + v.nvoid, 0);
  assert_false(v.untrusted);
  attest_chassis_appraise(NULL, &base, NULL, 0, &finding, NOW, &v);
  assert_true(has(v.findings, v.nfind, "carries no BMC report"));
  assert_false(v.untrusted);
  attest_chassis_appraise(NULL, &base, NULL, 0, &untrusted, NOW, &v);
  assert_true(v.untrusted);
  assert_non_null(strstr(v.untrusted_why, ATTEST_CHASSIS_REQ));
  /* a BMC that did not answer */
  c.bmc = false;
  attest_chassis_appraise(&c, &base, NULL, 0, &finding, NOW, &v);
  assert_true(has(v.findings, v.nfind, "did not answer"));
  attest_chassis_appraise(&c, &base, NULL, 0, &untrusted, NOW, &v);
  assert_true(v.untrusted);
  /* stale (old, or from the future), yet an intrusion in it still voids */
  c = quiet();
  attest_chassis_appraise(&c, &base, NULL, 0, &finding, NOW + 601, &v);
  assert_true(has(v.findings, v.nfind, "stale"));
  attest_chassis_appraise(&c, &base, NULL, 0, &untrusted, NOW - 601, &v);
  assert_true(v.untrusted);
  c.intrusion = true;
  attest_chassis_appraise(&c, &base, NULL, 0, &finding, NOW + 601, &v);
  assert_int_equal(v.nvoid, 1);
  attest_chassis_appraise(&c, &base, NULL, 0, &finding, NOW + 600, &v);
  assert_false(has(v.findings, v.nfind, "stale"));
}

/* The location certificate's optional asset tag. */
static void test_location_asset_tag(void **state) {
  (void)state;
  attest_location l = {0};
  snprintf(l.host_id, sizeof l.host_id, "%s", HOST);
  snprintf(l.country, sizeof l.country, "FI");
  snprintf(l.subdivision, sizeof l.subdivision, "FI-18");
  snprintf(l.site, sizeof l.site, "HEL1");
  char *s = attest_location_content(&l);
  assert_null(strstr(s, "asset_tag"));
  free(s);
  snprintf(l.asset_tag, sizeof l.asset_tag, "LAB-0042");
  s = attest_location_content(&l);
  assert_non_null(strstr(s, "\"asset_tag\":\"LAB-0042\""));
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_good),
      cmocka_unit_test(test_parse_refusals),
      cmocka_unit_test(test_parse_v2),
      cmocka_unit_test(test_parse_v3),
      cmocka_unit_test(test_binding),
      cmocka_unit_test(test_appraise_voids),
      cmocka_unit_test(test_appraise_sel),
      cmocka_unit_test(test_appraise_sel_unread),
      cmocka_unit_test(test_appraise_sel_overflow),
      cmocka_unit_test(test_appraise_findings),
      cmocka_unit_test(test_appraise_missing_and_stale),
      cmocka_unit_test(test_location_asset_tag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
