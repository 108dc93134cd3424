/* Chassis telemetry (issue 19; TR 103 308 §5.6 O.1.1, §6.2 R10/R14): the
 * small document lisec-agent makes of what its host's BMC says (chassis
 * intrusion, power state, power-on hours, power draw, inlet and CPU
 * temperatures, the FRU asset tag, the BMC's identity), its binding to the
 * quote, and its appraisal. All pure: bytes and structs in, verdicts out.
 *
 * The parser reads bytes a host sent, so it is bounded (bytes, every
 * string) and strict (the exact fields of version 1, of version 2 which
 * adds the event log's newest intrusion, or of version 3 which adds the
 * log's Overflow flag, each reading in its physical range); a refusal names
 * ATTEST_CHASSIS_REQ and the field.
 *
 * The binding keeps one rule with a version: a quote without a chassis
 * report binds the inventory as before (version 1); with one, the TPM signs
 * SHA-256("lisec-evidence-v2" || nonce || SHA-256(inventory) or 32 zero
 * bytes || SHA-256(chassis)), so neither document can be swapped under the
 * quote, and a report is as fresh as the nonce. What the BMC says is not
 * the TPM's truth: the quote proves what the agent read at quote time.
 *
 * The appraisal turns a report into location voids (an intrusion now or a
 * newer one in the BMC's event log than seen before, a FRU
 * asset tag other than the location certificate's, power-on hours going
 * backwards, another BMC than the one seen since the last confirmation)
 * and findings (power draw implausible for the load the inventory shows; no
 * intrusion state, an event log not read, or one that overflowed; a missing
 * or stale report when the policy says "finding"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "crypto/crypto.h"

void attest_evidence_binding(const uint8_t *nonce, size_t nonce_len,
                             const uint8_t *inv_sha256, const uint8_t *chassis_sha256,
                             uint8_t out[ATTEST_DIGEST_LEN]) {
  if (!chassis_sha256) {
    attest_inventory_binding(nonce, nonce_len, inv_sha256, out);
    return;
  }
  static const uint8_t none[ATTEST_DIGEST_LEN];
  const void *parts[4] = {ATTEST_EVIDENCE_TAG, nonce, inv_sha256 ? inv_sha256 : none, chassis_sha256};
  size_t lens[4] = {sizeof ATTEST_EVIDENCE_TAG - 1, nonce_len, ATTEST_DIGEST_LEN, ATTEST_DIGEST_LEN};
  crypto_sha256_parts(parts, lens, 4, out);
}

/* ---- the parser ------------------------------------------------------------ */

static bool printable(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
  return true;
}

/* An optional (null) or required string of printable ASCII. */
static int get_str(const json_t *o, const char *key, bool nullable, char *out, size_t cap,
                   bool *has, lisec_err *err) {
  json_t *v = json_object_get(o, key);
  out[0] = '\0';
  if (has) *has = false;
  if (!v) return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: no \"%s\"", key);
  if (json_is_null(v) && nullable) return 0;
  if (!json_is_string(v))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: \"%s\" must be a string%s",
                         key, nullable ? " or null" : "");
  size_t n = json_string_length(v);
  if (n == 0 || n >= cap)
    return lisec_err_set(err, n ? LISEC_ETOOBIG : LISEC_EINVAL,
                         ATTEST_CHASSIS_REQ ": chassis: \"%s\" must be 1 to %zu bytes", key, cap - 1);
  if (!printable(json_string_value(v), n))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: \"%s\" is not printable ASCII",
                         key);
  memcpy(out, json_string_value(v), n + 1);
  if (has) *has = true;
  return 0;
}

/* A reading: null (absent), or an integer within [min, max] in unit. */
static int get_reading(const json_t *o, const char *key, int64_t min, int64_t max, const char *unit,
                       bool *has, int64_t *out, lisec_err *err) {
  json_t *v = json_object_get(o, key);
  *has = false;
  if (!v) return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: no \"%s\"", key);
  if (json_is_null(v)) return 0;
  if (!json_is_integer(v))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: \"%s\" must be an integer or null",
                         key);
  json_int_t i = json_integer_value(v);
  if (i < min || i > max)
    return lisec_err_set(err, LISEC_EINVAL,
                         ATTEST_CHASSIS_REQ ": chassis: \"%s\" %lld is outside the physical range "
                         "%lld..%lld %s",
                         key, (long long)i, (long long)min, (long long)max, unit);
  *out = i;
  *has = true;
  return 0;
}

static int get_flag(const json_t *o, const char *key, bool *has, bool *out, lisec_err *err) {
  json_t *v = json_object_get(o, key);
  *has = false;
  if (!v) return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: no \"%s\"", key);
  if (json_is_null(v)) return 0;
  if (!json_is_boolean(v))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: \"%s\" must be true, false or null",
                         key);
  *out = json_is_true(v);
  *has = true;
  return 0;
}

static int only_keys(const json_t *o, const char *const *keys, const char *what, lisec_err *err) {
  if (!json_is_object(o))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: %s must be an object", what);
  int rc = lisec_json_only_keys(o, keys, err);
  return rc ? (lisec_err_wrap(err, ATTEST_CHASSIS_REQ ": chassis: %s", what), rc) : 0;
}

static int parse_bmc(const json_t *b, attest_chassis *c, lisec_err *err) {
  static const char *const keys[] = {"guid", "manufacturer", "product", "firmware", NULL};
  bool has_fw;
  int rc;
  if ((rc = only_keys(b, keys, "\"bmc\"", err)) ||
      (rc = get_str(b, "guid", false, c->guid, sizeof c->guid, NULL, err)) ||
      (rc = get_str(b, "firmware", true, c->firmware, sizeof c->firmware, &has_fw, err)))
    return rc;
  /* IPMI's manufacturer id is 20 bits (IANA enterprise number), the
   * product id 16 bits. */
  if ((rc = lisec_json_get_int(b, "manufacturer", true, 0, 0xfffff, &c->manufacturer, err)) ||
      (rc = lisec_json_get_int(b, "product", true, 0, 0xffff, &c->product, err)))
    return lisec_err_wrap(err, ATTEST_CHASSIS_REQ ": chassis: \"bmc\""), rc;
  c->bmc = true;
  return 0;
}

static int parse_doc(const json_t *root, attest_chassis *c, lisec_err *err) {
  static const char *const keys1[] = {"version", "host",    "read_at", "bmc",   "intrusion", "power",
                                      "poh_h",   "power_w", "inlet_c", "cpu_c", "asset_tag", NULL};
  static const char *const keys2[] = {"version", "host",    "read_at", "bmc",   "intrusion", "power",
                                      "poh_h",   "power_w", "inlet_c", "cpu_c", "asset_tag", "sel_intrusion",
                                      NULL};
  static const char *const keys3[] = {"version",       "host",        "read_at", "bmc",   "intrusion",
                                      "power",         "poh_h",       "power_w", "inlet_c", "cpu_c",
                                      "asset_tag",     "sel_intrusion", "sel_overflow", NULL};
  char power[8];
  int rc;
  if (!json_is_object(root))
    return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: the document must be an object");
  if ((rc = lisec_json_get_int(root, "version", true, 1, 3, &c->version, err)))
    return lisec_err_wrap(err, ATTEST_CHASSIS_REQ ": chassis (only versions 1, 2 and 3 are known)"), rc;
  if ((rc = only_keys(root, c->version == 3 ? keys3 : c->version == 2 ? keys2 : keys1, "the document", err)))
    return rc;
  if ((rc = lisec_json_get_int(root, "read_at", true, 0, INT64_MAX / 2, &c->read_at, err)))
    return lisec_err_wrap(err, ATTEST_CHASSIS_REQ ": chassis"), rc;
  if ((rc = get_str(root, "host", false, c->host, sizeof c->host, NULL, err))) return rc;
  const json_t *b = json_object_get(root, "bmc");
  if (!b) return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: no \"bmc\"");
  if (!json_is_null(b) && (rc = parse_bmc(b, c, err))) return rc;
  if ((rc = get_flag(root, "intrusion", &c->has_intrusion, &c->intrusion, err)) ||
      (rc = get_str(root, "power", true, power, sizeof power, &c->has_power, err)) ||
      (rc = get_reading(root, "poh_h", 0, ATTEST_CHASSIS_POH_MAX, "hours", &c->has_poh, &c->poh_h, err)) ||
      (rc = get_reading(root, "power_w", 0, ATTEST_CHASSIS_POWER_MAX, "W", &c->has_power_w, &c->power_w,
                        err)) ||
      (rc = get_reading(root, "inlet_c", ATTEST_CHASSIS_TEMP_MIN, ATTEST_CHASSIS_TEMP_MAX, "°C",
                        &c->has_inlet, &c->inlet_c, err)) ||
      (rc = get_reading(root, "cpu_c", ATTEST_CHASSIS_TEMP_MIN, ATTEST_CHASSIS_TEMP_MAX, "°C", &c->has_cpu,
                        &c->cpu_c, err)) ||
      (rc = get_str(root, "asset_tag", true, c->asset_tag, sizeof c->asset_tag, &c->has_asset_tag, err)))
    return rc;
  if (c->version >= 2 &&
      (rc = get_str(root, "sel_intrusion", true, c->sel_intrusion, sizeof c->sel_intrusion, &c->has_sel, err)))
    return rc;
  if (c->version >= 3 && (rc = get_flag(root, "sel_overflow", &c->has_sel_overflow, &c->sel_overflow, err)))
    return rc;
  if (c->has_power) {
    if (strcmp(power, "on") != 0 && strcmp(power, "off") != 0)
      return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: \"power\" is not on, off or null");
    c->power_on = power[0] == 'o' && power[1] == 'n';
  }
  if (!c->bmc && (c->has_intrusion || c->has_power || c->has_poh || c->has_power_w || c->has_inlet ||
                  c->has_cpu || c->has_asset_tag || c->has_sel || c->has_sel_overflow))
    return lisec_err_set(err, LISEC_EINVAL,
                         ATTEST_CHASSIS_REQ ": chassis: readings without a BMC (\"bmc\" is null)");
  return 0;
}

int attest_chassis_parse(const char *bytes, size_t len, size_t max_bytes, attest_chassis *out,
                         lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!max_bytes || max_bytes > ATTEST_CHASSIS_MAX_BYTES) max_bytes = ATTEST_CHASSIS_MAX_BYTES;
  if (!bytes) return lisec_err_set(err, LISEC_EINVAL, ATTEST_CHASSIS_REQ ": chassis: no bytes");
  if (len > max_bytes)
    return lisec_err_set(err, LISEC_ETOOBIG, ATTEST_CHASSIS_REQ ": chassis: %zu bytes, more than the %zu allowed",
                         len, max_bytes);
  json_t *root = NULL;
  int rc = lisec_json_parse(bytes, len, &root, err);
  if (rc) return lisec_err_wrap(err, ATTEST_CHASSIS_REQ ": chassis"), rc;
  rc = parse_doc(root, out, err);
  json_decref(root);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

static json_t *opt_int(bool has, int64_t v) { return has ? json_integer(v) : json_null(); }

char *attest_chassis_json(const attest_chassis *c) {
  json_t *bmc = c->bmc ? json_pack("{s:s, s:I, s:I, s:s?}", "guid", c->guid, "manufacturer",
                                   (json_int_t)c->manufacturer, "product", (json_int_t)c->product,
                                   "firmware", c->firmware[0] ? c->firmware : NULL)
                       : json_null();
  json_t *j = json_pack("{s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "version",
                        (json_int_t)(c->version >= 2 && c->version <= 3 ? c->version : 1), "host", c->host,
                        "read_at", (json_int_t)c->read_at, "bmc", bmc, "intrusion",
                        c->has_intrusion ? json_boolean(c->intrusion) : json_null(), "power",
                        c->has_power ? json_string(c->power_on ? "on" : "off") : json_null(), "poh_h",
                        opt_int(c->has_poh, c->poh_h), "power_w", opt_int(c->has_power_w, c->power_w),
                        "inlet_c", opt_int(c->has_inlet, c->inlet_c), "cpu_c", opt_int(c->has_cpu, c->cpu_c),
                        "asset_tag", c->has_asset_tag ? json_string(c->asset_tag) : json_null());
  if (j && c->version >= 2 && c->version <= 3 &&
      json_object_set_new(j, "sel_intrusion", c->has_sel ? json_string(c->sel_intrusion) : json_null()) != 0) {
    json_decref(j);
    j = NULL;
  }
  if (j && c->version == 3 &&
      json_object_set_new(j, "sel_overflow", c->has_sel_overflow ? json_boolean(c->sel_overflow) : json_null()) !=
          0) {
    json_decref(j);
    j = NULL;
  }
  char *s = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  return s;
}

/* ---- the appraisal --------------------------------------------------------- */

static void note(size_t *n, char (*arr)[ATTEST_REASON_LEN], const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(size_t *n, char (*arr)[ATTEST_REASON_LEN], const char *fmt, ...) {
  if (*n == ATTEST_CHASSIS_NOTES_MAX) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(arr[(*n)++], ATTEST_REASON_LEN, fmt, ap);
  va_end(ap);
}

#define VOID_REQ "TR103308-6.2-R10/R14"
#define VOID_TAIL "; the location is void until asset management confirms it again"

/* No report, no BMC, or a stale one: what the policy says. */
static void missing(attest_chassis_verdict *v, const attest_chassis_policy *pol, const char *what) {
  if (pol->missing == ATTEST_MISSING_FINDING)
    note(&v->nfind, v->findings, ATTEST_CHASSIS_REQ ": %s: the chassis is not observed", what);
  else if (pol->missing == ATTEST_MISSING_UNTRUSTED) {
    v->untrusted = true;
    snprintf(v->untrusted_why, sizeof v->untrusted_why,
             ATTEST_CHASSIS_REQ ": %s: the chassis is not observed ([telemetry] missing = \"untrusted\")", what);
  }
}

static void appraise_power(const attest_chassis *c, int64_t running, const attest_chassis_policy *pol,
                           attest_chassis_verdict *v) {
  if (!c->has_power_w || running < 0) return;
  if (running == 0 && pol->peak_w > 0 && c->power_w >= pol->peak_w)
    note(&v->nfind, v->findings,
         ATTEST_CHASSIS_REQ ": the host reports no running VM while its BMC reads %lld W, at or above "
                            "near-peak %lld W ([telemetry] peak_w)",
         (long long)c->power_w, (long long)pol->peak_w);
  if (pol->busy_vms > 0 && running >= pol->busy_vms && c->power_w <= pol->idle_w)
    note(&v->nfind, v->findings,
         ATTEST_CHASSIS_REQ ": the host reports %lld running VMs while its BMC reads %lld W, at or below "
                            "idle %lld W ([telemetry] idle_w, busy_vms)",
         (long long)running, (long long)c->power_w, (long long)pol->idle_w);
  if (c->has_power && !c->power_on && running > 0)
    note(&v->nfind, v->findings,
         ATTEST_CHASSIS_REQ ": the host reports %lld running VMs while its BMC says its power is off",
         (long long)running);
}

void attest_chassis_appraise(const attest_chassis *c, const attest_chassis_base *base,
                             const char *cert_asset_tag, int64_t running_vms,
                             const attest_chassis_policy *pol, int64_t now,
                             attest_chassis_verdict *out) {
  memset(out, 0, sizeof *out);
  out->next = *base;
  if (!c) return missing(out, pol, "the evidence carries no BMC report");
  if (!c->bmc) return missing(out, pol, "the host's BMC did not answer its agent");
  /* Voids: each one is what a moved or opened chassis looks like. */
  if (c->has_intrusion && c->intrusion)
    note(&out->nvoid, out->voids, VOID_REQ ": the BMC reports a chassis intrusion" VOID_TAIL);
  if (cert_asset_tag && cert_asset_tag[0]) {
    if (!c->has_asset_tag)
      note(&out->nvoid, out->voids,
           VOID_REQ ": the FRU shows no asset tag, the location certificate names one" VOID_TAIL);
    else if (strcmp(c->asset_tag, cert_asset_tag) != 0)
      note(&out->nvoid, out->voids,
           VOID_REQ ": the FRU asset tag is not the one in the location certificate" VOID_TAIL);
  }
  if (c->has_poh && base->max_poh_h >= 0 && c->poh_h < base->max_poh_h)
    note(&out->nvoid, out->voids,
         VOID_REQ ": the BMC's power-on hours went backwards (%lld, %lld seen before)" VOID_TAIL,
         (long long)c->poh_h, (long long)base->max_poh_h);
  if (base->has_bmc && (strcmp(base->guid, c->guid) != 0 || base->manufacturer != c->manufacturer ||
                        base->product != c->product))
    note(&out->nvoid, out->voids, VOID_REQ ": the BMC's identity (GUID, manufacturer, product) changed" VOID_TAIL);
  /* The event log keeps what the sensor forgets: a lid opened and closed
   * between two reports is a newer intrusion record than the one seen
   * before. The same record again (a BMC replaying its log, the one asset
   * management confirmed) is not new; "none" after a record is a cleared
   * log, and what comes into it next is new. */
  if (c->has_sel && base->has_sel && strcmp(c->sel_intrusion, "none") != 0 &&
      strcmp(c->sel_intrusion, base->sel_intrusion) != 0)
    note(&out->nvoid, out->voids,
         VOID_REQ ": the BMC's event log records a chassis intrusion since the last confirmation (SEL "
                  "record %s)" VOID_TAIL,
         c->sel_intrusion);
  if (c->has_sel) {
    out->next.has_sel = true;
    snprintf(out->next.sel_intrusion, sizeof out->next.sel_intrusion, "%s", c->sel_intrusion);
  }
  /* The baseline: the first BMC after a confirmation, the highest hours. */
  if (!base->has_bmc) {
    out->next.has_bmc = true;
    snprintf(out->next.guid, sizeof out->next.guid, "%s", c->guid);
    out->next.manufacturer = c->manufacturer;
    out->next.product = c->product;
  }
  if (c->has_poh && c->poh_h > out->next.max_poh_h) out->next.max_poh_h = c->poh_h;
  /* Stale: read long before (or after) the appraisal. */
  if (c->read_at < now - pol->max_age_s || c->read_at > now + pol->max_age_s)
    return missing(out, pol, "the BMC reading is stale ([telemetry] max_age_s)");
  if (!c->has_intrusion)
    note(&out->nfind, out->findings, ATTEST_CHASSIS_REQ ": the BMC gives no chassis intrusion state");
  /* A log not read says nothing of a lid opened and closed since the last
   * report: a gap, as a missing intrusion state is (the baseline stays). */
  if (c->version >= 2 && !c->has_sel)
    note(&out->nfind, out->findings,
         ATTEST_CHASSIS_REQ ": the BMC's event log was not read (sel_intrusion null: no answer in time, or "
                            "more records than the agent reads and no intrusion among them): an intrusion "
                            "between two reports would not be seen");
  /* A full log stops recording (or overwrites its oldest records): the
   * newest intrusion it holds may not be the newest there was. The flag
   * stays set until the log is cleared; a log read without it (version 3,
   * sel_overflow null) does not show it was not full. */
  if (c->version >= 3 && c->has_sel_overflow && c->sel_overflow)
    note(&out->nfind, out->findings,
         ATTEST_CHASSIS_REQ ": the BMC's event log overflowed (SEL Overflow flag): once full it drops new "
                            "events or overwrites old ones, so an intrusion since it filled may be in no "
                            "record; archive and clear the log (ipmitool sel clear)");
  else if (c->version >= 3 && c->has_sel && !c->has_sel_overflow)
    note(&out->nfind, out->findings,
         ATTEST_CHASSIS_REQ ": the BMC's event log gave no Overflow flag (sel_overflow null): the report "
                            "does not show the log still records events");
  appraise_power(c, running_vms, pol, out);
}
