/* Verdicts in two JSON forms: lisec's own (every check, every reason, the
 * quote's clock facts) and an EAT Attestation Result (EAR,
 * draft-ietf-rats-ear) whose submodule carries the AR4SI trustworthiness
 * vector, so a relying party that speaks EAR needs nothing of lisec's. */
#include <stdio.h>
#include <string.h>

#include "attest/internal.h"
#include "crypto/crypto.h"

#define EAR_PROFILE "tag:github.com,2023:veraison/ear"
#define EAR_SUBMOD "lisec-host"

static int tier(int v) {
  if (v >= -1 && v <= 1) return 0;
  if ((v >= 2 && v <= 31) || (v >= -32 && v <= -2)) return 2;
  if ((v >= 32 && v <= 95) || (v >= -96 && v <= -33)) return 32;
  return 96;
}

static const char *tier_name(int t) {
  switch (t) {
  case 2: return "affirming";
  case 32: return "warning";
  case 96: return "contraindicated";
  default: return "none";
  }
}

static json_t *location_json(const attest_location *l) {
  char when[32];
  lisec_time_format(l->issued_at, when);
  return json_pack("{s:s, s:s, s:f, s:f, s:s, s:I, s:s}", "country", l->country, "subdivision",
                   l->subdivision, "latitude", l->latitude, "longitude", l->longitude, "site",
                   l->site, "tpm_reset_count", (json_int_t)l->reset_count, "issued_at", when);
}

static json_t *strings(const char (*list)[ATTEST_REASON_LEN], size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(list[i]));
  return a;
}

json_t *attest_ear(const attest_verdict *v, const char *host_id, const uint8_t *nonce,
                   size_t nonce_len, int64_t iat) {
  const attest_trust_vector *t = &v->tv;
  struct {
    const char *name;
    int value;
  } claims[] = {
      {"instance-identity", t->instance_identity}, {"configuration", t->configuration},
      {"executables", t->executables},             {"file-system", t->file_system},
      {"hardware", t->hardware},                   {"runtime-opaque", t->runtime_opaque},
      {"storage-opaque", t->storage_opaque},       {"sourced-data", t->sourced_data},
  };
  json_t *tv = json_object();
  int worst = 0;
  for (size_t i = 0; i < LISEC_ARRAY_LEN(claims); i++) {
    if (claims[i].value == 0) continue; /* "no claim" is left out */
    json_object_set_new(tv, claims[i].name, json_integer(claims[i].value));
    if (tier(claims[i].value) > worst) worst = tier(claims[i].value);
  }
  /* A verdict that failed is never better than contraindicated, whatever
   * the vector could express (a wrong nonce has no AR4SI claim of its own). */
  if (!v->ok) worst = 96;
  else if (v->nwarnings && worst < 32) worst = 32;
  json_t *sub = json_pack("{s:s, s:o, s:o}", "ear.status", tier_name(worst),
                          "ear.trustworthiness-vector", tv, "lisec.reasons",
                          strings(v->reasons, v->nreasons));
  if (v->policy_id[0]) {
    char pid[128];
    snprintf(pid, sizeof pid, "urn:lisec:reference:%s", v->policy_id);
    json_object_set_new(sub, "ear.appraisal-policy-id", json_string(pid));
  }
  if (host_id) json_object_set_new(sub, "lisec.host-id", json_string(host_id));
  if (v->location_ok) json_object_set_new(sub, "lisec.location", location_json(&v->location));
  json_t *ear = json_pack("{s:s, s:I, s:{s:s, s:s}, s:{s:o}}", "eat_profile", EAR_PROFILE, "iat",
                          (json_int_t)iat, "ear.verifier-id", "developer", "urn:lisec",
                          "build", "lisec-attest 1", "submods", EAR_SUBMOD, sub);
  if (ear && nonce && nonce_len) {
    char *b64 = NULL;
    if (crypto_base64_encode(nonce, nonce_len, &b64) == 0) {
      /* EAT nonces are base64url without padding. */
      size_t n = strlen(b64);
      while (n && b64[n - 1] == '=') b64[--n] = '\0';
      for (char *c = b64; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
      json_object_set_new(ear, "eat_nonce", json_string(b64));
    }
    free(b64);
  }
  return ear;
}

json_t *attest_verdict_json(const attest_verdict *v) {
  json_t *j = json_pack("{s:b, s:b, s:o, s:o}", "verified", v->ok, "malformed", v->malformed,
                        "reasons", strings(v->reasons, v->nreasons), "warnings",
                        strings(v->warnings, v->nwarnings));
  if (!j) return NULL;
  if (v->more_reasons) json_object_set_new(j, "more_reasons", json_integer((json_int_t)v->more_reasons));
  json_t *checks = json_pack("{s:b, s:b, s:b}", "signature", v->signature_ok, "nonce",
                             v->nonce_ok, "pcr_digest", v->pcr_digest_ok);
  if (v->replay_ran) json_object_set_new(checks, "replay", json_boolean(v->replay_ok));
  if (v->replay_ran && v->policy_id[0])
    json_object_set_new(checks, "reference", json_boolean(v->reference_ok));
  if (v->location_ran) json_object_set_new(checks, "location", json_boolean(v->location_ok));
  json_object_set_new(j, "checks", checks);
  if (v->quote_parsed) {
    json_t *pcrs = json_object();
    for (unsigned i = 0; i < ATTEST_PCR_COUNT; i++) {
      if (!(v->pcrs.mask & (1u << i))) continue;
      char k[4], hex[2 * ATTEST_DIGEST_LEN + 1];
      snprintf(k, sizeof k, "%u", i);
      lisec_hex_encode(v->pcrs.value[i], ATTEST_DIGEST_LEN, hex);
      json_object_set_new(pcrs, k, json_string(hex));
    }
    json_object_set_new(
        j, "quote",
        json_pack("{s:I, s:I, s:I, s:b, s:I, s:o}", "clock", (json_int_t)v->quote.clock,
                  "reset_count", (json_int_t)v->quote.reset_count, "restart_count",
                  (json_int_t)v->quote.restart_count, "safe", v->quote.safe, "firmware_version",
                  (json_int_t)v->quote.firmware_version, "pcrs", pcrs));
  }
  if (v->replay_ran) json_object_set_new(j, "events", json_integer((json_int_t)v->nevents));
  if (v->policy_id[0]) json_object_set_new(j, "policy_id", json_string(v->policy_id));
  if (v->location_ok) json_object_set_new(j, "location", location_json(&v->location));
  return j;
}
