/* lisecd's side of chassis telemetry (issue 19; ctl/telemetry.h): the
 * settings, the report read out of a host's evidence, its appraisal kept
 * in the host's attestation document (no schema change: the document store
 * holds it), and the compliance findings. A void (intrusion, a newer
 * intrusion in the BMC's event log, asset tag, power-on hours, BMC
 * identity) is latched in the document as
 * "chassis_void" and repeated at every appraisal until asset management
 * confirms the location again, exactly as a TPM reset's void is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/internal.h"
#include "ctl/telemetry.h"
#include "store/store.h"

/* ctl/attest.c's kind for a host's attestation document. */
#define TEL_HOST_KIND "attest.host"

int ctl_telemetry_conf_read(const lisec_config *cfg, ctl_telemetry_conf *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  const char *m = lisec_config_str(cfg, "telemetry", "missing", "off");
  if (strcmp(m, "off") == 0) out->policy.missing = ATTEST_MISSING_OFF;
  else if (strcmp(m, "finding") == 0) out->policy.missing = ATTEST_MISSING_FINDING;
  else if (strcmp(m, "untrusted") == 0) out->policy.missing = ATTEST_MISSING_UNTRUSTED;
  else return lisec_err_set(err, LISEC_EINVAL, "[telemetry] missing: \"off\", \"finding\" or \"untrusted\"");
  int rc;
  if ((rc = lisec_config_int(cfg, "telemetry", "max_age_s", 600, 1, 86400, &out->policy.max_age_s, err)) ||
      (rc = lisec_config_int(cfg, "telemetry", "idle_w", 150, 0, ATTEST_CHASSIS_POWER_MAX, &out->policy.idle_w,
                             err)) ||
      (rc = lisec_config_int(cfg, "telemetry", "peak_w", 800, 0, ATTEST_CHASSIS_POWER_MAX, &out->policy.peak_w,
                             err)) ||
      (rc = lisec_config_int(cfg, "telemetry", "busy_vms", 10, 0, 100000, &out->policy.busy_vms, err)) ||
      (rc = lisec_config_int(cfg, "telemetry", "max_bytes", ATTEST_CHASSIS_MAX_BYTES, 256,
                             ATTEST_CHASSIS_MAX_BYTES, &out->max_bytes, err)))
    return rc;
  if (out->policy.peak_w && out->policy.peak_w <= out->policy.idle_w)
    return lisec_err_set(err, LISEC_EINVAL, "[telemetry] peak_w must be above idle_w");
  return 0;
}

static int refuse(lisec_ctl *ctl, const ctl_actor *actor, const char *host, int code, const char *why,
                  lisec_err *err) {
  char reason[LISEC_ERR_MSG_MAX + 96];
  snprintf(reason, sizeof reason, "the evidence's chassis report is refused: %s", why);
  lisec_err_set(err, code, "%s", reason);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.chassis", false, NULL, code, NULL, err,
                   "host %s", host);
}

int ctl_telemetry_get(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, const char *host,
                      const ctl_telemetry_conf *conf, attest_chassis *out,
                      uint8_t sha[ATTEST_DIGEST_LEN], bool *has, lisec_err *err) {
  const json_t *j = json_object_get(body, "chassis");
  *has = false;
  if (!j || json_is_null(j)) return 0;
  if (!json_is_string(j))
    return refuse(ctl, actor, host, LISEC_EINVAL,
                  ATTEST_CHASSIS_REQ ": \"chassis\" must be a string (the bytes the agent hashed)", err);
  lisec_err pe = {0};
  int rc = attest_chassis_parse(json_string_value(j), json_string_length(j), (size_t)conf->max_bytes, out, &pe);
  if (rc) return refuse(ctl, actor, host, rc, pe.msg, err);
  if (strcmp(out->host, host) != 0)
    return refuse(ctl, actor, host, LISEC_EDENIED,
                  ATTEST_CHASSIS_REQ ": it names another host than the certificate's", err);
  crypto_sha256(json_string_value(j), json_string_length(j), sha);
  *has = true;
  return 0;
}

static int64_t running_vms(const attest_inventory *inv) {
  if (!inv) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < inv->n; i++) n += inv->domains[i].state == ATTEST_DOM_RUNNING;
  return n;
}

static void base_from(const json_t *b, attest_chassis_base *out) {
  memset(out, 0, sizeof *out);
  out->max_poh_h = -1;
  if (!json_is_object(b)) return;
  const char *guid = json_string_value(json_object_get(b, "guid"));
  if (guid) {
    out->has_bmc = true;
    snprintf(out->guid, sizeof out->guid, "%s", guid);
    out->manufacturer = json_integer_value(json_object_get(b, "manufacturer"));
    out->product = json_integer_value(json_object_get(b, "product"));
  }
  if (json_is_integer(json_object_get(b, "max_poh_h"))) out->max_poh_h = json_integer_value(json_object_get(b, "max_poh_h"));
  const char *sel = json_string_value(json_object_get(b, "sel_intrusion"));
  if (sel) {
    out->has_sel = true;
    snprintf(out->sel_intrusion, sizeof out->sel_intrusion, "%s", sel);
  }
}

static json_t *base_json(const attest_chassis_base *b) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (b->has_bmc) {
    json_object_set_new(o, "guid", json_string(b->guid));
    json_object_set_new(o, "manufacturer", json_integer(b->manufacturer));
    json_object_set_new(o, "product", json_integer(b->product));
  }
  if (b->max_poh_h >= 0) json_object_set_new(o, "max_poh_h", json_integer(b->max_poh_h));
  if (b->has_sel) json_object_set_new(o, "sel_intrusion", json_string(b->sel_intrusion));
  return o;
}

void ctl_telemetry_appraise(json_t *doc, const attest_chassis *c, const ctl_telemetry_conf *conf,
                            const char *cert_asset_tag, const attest_inventory *inv, int64_t now,
                            attest_chassis_verdict *out) {
  json_t *was = json_object_get(doc, "chassis");
  attest_chassis_base base;
  base_from(json_object_get(was, "base"), &base);
  attest_chassis_appraise(c, &base, cert_asset_tag, running_vms(inv), &conf->policy, now, out);
  const char *latched = json_string_value(json_object_get(doc, "chassis_void"));
  char held[ATTEST_REASON_LEN] = "";
  if (latched) snprintf(held, sizeof held, "%s", latched);
  if (out->nvoid) {
    if (!latched) json_object_set_new(doc, "chassis_void", json_string(out->voids[0]));
  } else if (held[0]) {
    /* A void in force stays until the confirm step. */
    snprintf(out->voids[out->nvoid++], ATTEST_REASON_LEN, "%s", held);
  }
  /* A host without a BMC report, nothing to say and nothing said before
   * keeps its document as it was. */
  if (!c && !out->nfind && !was) return;
  json_t *f = json_array();
  for (size_t i = 0; f && i < out->nfind; i++) json_array_append_new(f, json_string(out->findings[i]));
  json_t *reading = NULL;
  if (c) {
    char *s = attest_chassis_json(c);
    if (s && lisec_json_parse(s, strlen(s), &reading, NULL) != 0) reading = NULL;
    free(s);
  }
  json_t *rec = json_pack("{s:I, s:o, s:o, s:o}", "at", (json_int_t)now, "reading", reading ? reading : json_null(),
                          "base", base_json(&out->next), "findings", f ? f : json_array());
  if (rec) json_object_set_new(doc, "chassis", rec);
}

/* The baseline a stored reading (attest_chassis_json's form) makes: its
 * BMC, its power-on hours, its event log's newest intrusion; what it does
 * not carry (a BMC that did not answer, a log not read) the next report
 * gives. */
static json_t *base_of_reading(const json_t *r) {
  attest_chassis_base b;
  memset(&b, 0, sizeof b);
  b.max_poh_h = -1;
  const json_t *bmc = json_object_get(r, "bmc");
  const char *guid = json_string_value(json_object_get(bmc, "guid"));
  if (guid) {
    b.has_bmc = true;
    snprintf(b.guid, sizeof b.guid, "%s", guid);
    b.manufacturer = json_integer_value(json_object_get(bmc, "manufacturer"));
    b.product = json_integer_value(json_object_get(bmc, "product"));
  }
  if (json_is_integer(json_object_get(r, "poh_h"))) b.max_poh_h = json_integer_value(json_object_get(r, "poh_h"));
  const char *sel = json_string_value(json_object_get(r, "sel_intrusion"));
  if (sel) {
    b.has_sel = true;
    snprintf(b.sel_intrusion, sizeof b.sel_intrusion, "%s", sel);
  }
  return base_json(&b);
}

void ctl_telemetry_confirmed(json_t *doc) {
  json_object_del(doc, "chassis_void");
  /* Asset management looked at the chassis the last report showed (the
   * confirm takes the TPM's counters, clock and firmware from the last
   * quote too): that report is the new baseline. Left to the next report,
   * a lid opened and closed or a BMC swapped between the confirm and that
   * report would become the baseline instead of a void. */
  json_t *was = json_object_get(doc, "chassis");
  if (json_is_object(was)) json_object_set_new(was, "base", base_of_reading(json_object_get(was, "reading")));
}

/* ---- the compliance report ---------------------------------------------- */

static int add_violation(json_t *violations, const char *host, const char *sentence) {
  char subject[16 + ATTEST_HOST_ID_LEN], fact[64 + ATTEST_HOST_ID_LEN];
  snprintf(subject, sizeof subject, "host %s", host);
  snprintf(fact, sizeof fact, "chassis(host %.64s) observed as attested: false", host);
  json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", ATTEST_CHASSIS_REQ, "clauses",
                        "TR 103 308 §5.6 O.1.1; §6.2 requirements 10, 14", "subject", subject, "sentence",
                        sentence, "fact", fact);
  return v && json_array_append_new(violations, v) == 0 ? 0 : LISEC_ENOMEM;
}

static int finding_cb(void *ctx, const char *host, const char *body, int64_t version) {
  (void)version;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL) != 0) return LISEC_ESTORE;
  int rc = 0;
  const char *held = json_string_value(json_object_get(doc, "chassis_void"));
  if (held) rc = add_violation(ctx, host, held);
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(json_object_get(doc, "chassis"), "findings"), i, f) {
    if (rc) break;
    if (json_is_string(f)) rc = add_violation(ctx, host, json_string_value(f));
  }
  json_decref(doc);
  return rc;
}

int ctl_telemetry_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err) {
  int rc = store_doc_list(ctl->store, TEL_HOST_KIND, finding_cb, violations, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored attestation does not parse");
  return rc;
}
