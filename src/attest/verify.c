/* The appraisal of one piece of evidence, in the order an attacker would
 * have to defeat it: the quote is a TPM's own statement (magic, type),
 * signed by the host's AK, over this attestation's nonce; the PCR values
 * are the ones quoted; the event log replays to them; every measured event
 * is in the reference values; the location certificate is asset
 * management's, names this host, is measured in the quote and was issued
 * for the TPM's current resetCount and restartCount. Each failure adds a reason naming its
 * requirement, and checks that do not depend on each other all run, so one
 * verdict tells an operator everything that is wrong. */
#include <stdio.h>
#include <string.h>

#include "attest/internal.h"
#include "crypto/crypto.h"

/* AR4SI values used (draft-ietf-rats-ar4si, trustworthiness claims). */
enum {
  TV_NONE = 0,
  TV_AFFIRMING = 2,
  TV_APPROVED_BOOT = 3,       /* executables: only approved boot-time objects */
  TV_WARNING = 32,
  TV_UNRECOGNIZED_RUN = 33,   /* executables: objects that are not recognised */
  TV_CONTRAINDICATED = 96,
  TV_UNRECOGNIZED_HW = 97,    /* hardware: should be recognised but is not */
};

static bool is_location_event(const attest_event *e) {
  if (e->pcr != ATTEST_LOCATION_PCR || e->type != ATTEST_EV_EVENT_TAG || e->data_len != 40)
    return false;
  uint32_t tag = (uint32_t)e->data[0] | (uint32_t)e->data[1] << 8 | (uint32_t)e->data[2] << 16 |
                 (uint32_t)e->data[3] << 24;
  return tag == ATTEST_LOCATION_TAG;
}

static void check_reference(const attest_context *ctx, const attest_eventlog *log,
                            uint32_t covered, attest_verdict *v) {
  bool ok = true, warned = false;
  for (size_t i = 0; i < log->count; i++) {
    const attest_event *e = &log->events[i];
    /* Events of PCRs outside the quote are not covered by its signature:
     * they prove nothing either way. The policy's "pcrs" makes sure the
     * ones that matter are covered. */
    if (e->type == ATTEST_EV_NO_ACTION || !(covered & (1u << e->pcr))) continue;
    if (ctx->location_ca && is_location_event(e)) continue; /* appraised as the location */
    bool any = false;
    int r = attest_policy_lookup(ctx->policy, e->pcr, e->type, e->digest, &any);
    const char *name = attest_event_type_name(e->type);
    char tname[16], hex[20];
    if (!name) snprintf(tname, sizeof tname, "0x%08x", e->type), name = tname;
    if (r < 0) {
      ok = false;
      attest_reason(v,
                    "TR103308-5.4: PCR %u event %s%s has no reference values (event %zu)",
                    e->pcr, name, attest_event_type_name(e->type) ? "" : " (unknown event type)",
                    i);
    } else if (r == 0) {
      ok = false;
      attest_hex_short(e->digest, ATTEST_DIGEST_LEN, hex);
      attest_reason(v, "TR103308-5.4: PCR %u event %s digest %s not in reference values (event %zu)",
                    e->pcr, name, hex, i);
    } else if (any && !warned) {
      warned = true;
      attest_warning(v, "TR103308-5.4: PCR %u %s accepted with any digest (policy any_digest)",
                     e->pcr, name);
    }
  }
  v->reference_ok = ok;
}

static void check_location(const attest_context *ctx, const attest_evidence *ev,
                           const attest_eventlog *log, bool log_ok, attest_verdict *v) {
  v->location_ran = true;
  if (!ev->location || ev->location_len == 0) {
    attest_reason(v, "TR103308-6.2-R8: no location certificate: the host's location is unknown");
    v->tv.sourced_data = TV_CONTRAINDICATED;
    return;
  }
  lisec_err e = {0};
  int rc = attest_location_parse(ev->location, ev->location_len, ctx->location_ca, ctx->now,
                                 &v->location, &e);
  if (rc) {
    if (rc == LISEC_EDENIED) attest_reason(v, "%s", e.msg);
    else attest_reason(v, "TR103308-6.2-R8: location certificate cannot be read: %s", e.msg);
    v->tv.sourced_data = TV_CONTRAINDICATED;
    return;
  }
  bool ok = true, voided = false;
  if (!ctx->host_id || strcmp(v->location.host_id, ctx->host_id) != 0) {
    ok = false;
    attest_reason(v,
                  "TR103308-6.2-R12: location certificate names host %.16s.., not this host "
                  "(%.16s..)",
                  v->location.host_id, ctx->host_id ? ctx->host_id : "unknown");
  }
  /* Measured: the last location event in the quoted PCR is this
   * certificate, and the replay of that PCR matched the quote. */
  const attest_event *last = NULL;
  for (size_t i = 0; log_ok && i < log->count; i++)
    if (is_location_event(&log->events[i])) last = &log->events[i];
  bool covered = v->quote.pcr_mask & (1u << ATTEST_LOCATION_PCR);
  if (!covered) {
    ok = false;
    attest_reason(v, "TR103308-6.2-R8: the quote does not cover PCR %d, where the location "
                     "certificate is measured", ATTEST_LOCATION_PCR);
  } else if (!last || !crypto_ct_equal(last->digest, v->location.digest, ATTEST_DIGEST_LEN) ||
             !crypto_ct_equal(last->data + 8, v->location.digest, ATTEST_DIGEST_LEN)) {
    ok = false;
    attest_reason(v, "TR103308-6.2-R8: the location certificate presented is not the one "
                     "last measured into PCR %d of this quote", ATTEST_LOCATION_PCR);
  } else if (!v->replay_ok || !v->pcr_digest_ok) {
    ok = false;
    attest_reason(v, "TR103308-6.2-R8: the location measurement is not covered by a valid quote");
  }
  if (v->quote.reset_count != v->location.reset_count) {
    ok = false, voided = true;
    attest_reason(v,
                  "TR103308-6.2-R10: location confirmed at TPM resetCount %u, the quote shows %u: "
                  "the host was power-cycled (and may have moved) since; asset management must "
                  "confirm its location again",
                  v->location.reset_count, v->quote.reset_count);
  } else if (v->quote.restart_count != v->location.restart_count) {
    /* A TPM Restart keeps resetCount but resets the PCRs: the host sent
     * TPM2_Shutdown(STATE) (as before suspend or hibernation, or on its
     * root's command), lost power, and its firmware's Startup(CLEAR) began
     * a new boot, in which the old certificate can be measured again
     * wherever the host now stands. A Resume raises restartCount as well
     * and cannot be told apart in a quote, so both void the location. */
    ok = false, voided = true;
    attest_reason(v,
                  "TR103308-6.2-R10: location confirmed at TPM restartCount %u, the quote shows "
                  "%u (resetCount %u): the TPM was restarted or resumed since, which keeps "
                  "resetCount but may follow a power-off (and a move); asset management must "
                  "confirm its location again",
                  v->location.restart_count, v->quote.restart_count, v->quote.reset_count);
  }
  v->location_ok = ok;
  v->tv.sourced_data = ok ? TV_AFFIRMING : voided ? TV_WARNING : TV_CONTRAINDICATED;
}

int attest_verify(const attest_context *ctx, const attest_evidence *ev, attest_verdict *v,
                  lisec_err *err) {
  memset(v, 0, sizeof *v);
  v->ok = true;
  if (!ctx || !ev || !ctx->ak)
    return lisec_err_set(err, LISEC_EINVAL, "attest_verify: no AK given");
  if (!ctx->nonce || ctx->nonce_len < ATTEST_NONCE_MIN || ctx->nonce_len > ATTEST_NONCE_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "attest_verify: the nonce must be %d-%d bytes",
                         ATTEST_NONCE_MIN, ATTEST_NONCE_MAX);
  if (ctx->policy)
    snprintf(v->policy_id, sizeof v->policy_id, "%s", attest_policy_id(ctx->policy));
  lisec_err e = {0};

  /* The quote itself. */
  if (attest_quote_parse(ev->quote, ev->quote_len, &v->quote, &e) != 0) {
    v->malformed = true;
    attest_reason(v, "TR103308-5.1: quote cannot be read: %s", e.msg);
    v->tv.instance_identity = TV_CONTRAINDICATED;
    return 0;
  }
  v->quote_parsed = true;
  if (v->quote.magic != TPM2_GENERATED_VALUE)
    attest_reason(v, "TR103308-5.1: quote magic 0x%08x is not TPM_GENERATED: a TPM did not make it",
                  v->quote.magic);
  if (v->quote.type != TPM2_ST_ATTEST_QUOTE)
    attest_reason(v, "TR103308-5.1: attestation type 0x%04x is not a quote", v->quote.type);
  int rc = attest_signature_verify(ctx->ak, ev->quote, ev->quote_len, ev->sig, ev->sig_len, &e);
  if (rc == 0) {
    v->signature_ok = true;
  } else {
    if (rc == LISEC_EINVAL || rc == LISEC_ETOOBIG) v->malformed = true;
    attest_reason(v, "TR103308-5.1: quote signature: %s (not this host's AK, or altered)", e.msg);
  }
  /* The AK must be the EK's child: a key elsewhere in the same TPM passes
   * the attribute checks and the credential activation, but the TPM
   * obfuscates resetCount, restartCount and firmwareVersion in its quotes,
   * so none of them could be compared (location, rollbacks). Its quote's
   * facts are then not this host's: signature_ok stays false. */
  if (ctx->ek_pub) {
    uint8_t qn[ATTEST_NAME_MAX];
    size_t qn_len = 0;
    char got[20], want[20];
    if (attest_ak_qualified_name(ctx->ek_pub, ctx->ek_pub_len, ctx->ak, qn, &qn_len, &e) != 0) {
      v->signature_ok = false;
      attest_reason(v, "TR103308-5.1: the AK's qualified name under this host's EK cannot be "
                       "computed: %s", e.msg);
    } else if (v->quote.signer_len != qn_len || !crypto_ct_equal(v->quote.signer, qn, qn_len)) {
      v->signature_ok = false;
      attest_hex_short(v->quote.signer, v->quote.signer_len, got);
      attest_hex_short(qn, qn_len, want);
      attest_reason(v, "TR103308-5.1: the quote's signer is not an AK under this host's EK in the "
                       "endorsement hierarchy (qualified name %s, the EK's child has %s): the TPM "
                       "obfuscates resetCount, restartCount and firmwareVersion in such a key's "
                       "quotes; enrol an AK created under the EK",
                    v->quote.signer_len ? got : "(none)", want);
    }
  }
  /* With an inventory the TPM signs its binding to the nonce instead of
   * the nonce: the inventory is then as fresh as the quote, and no other
   * inventory fits under it. */
  uint8_t bound[ATTEST_DIGEST_LEN];
  const uint8_t *want = ctx->nonce;
  size_t want_len = ctx->nonce_len;
  if (ctx->inventory_sha256 || ctx->chassis_sha256) {
    attest_evidence_binding(ctx->nonce, ctx->nonce_len, ctx->inventory_sha256, ctx->chassis_sha256, bound);
    want = bound, want_len = sizeof bound;
  }
  if (v->quote.extra_len == want_len && crypto_ct_equal(v->quote.extra, want, want_len))
    v->nonce_ok = true;
  else if (ctx->chassis_sha256)
    attest_reason(v, "TR103308-5.6-O.1.1: the quote's qualifying data is not the binding of this "
                     "attestation's nonce and its reports (altered chassis report or inventory, or a "
                     "stale or replayed quote)");
  else if (ctx->inventory_sha256)
    attest_reason(v, "TR103308-T.1.4: the quote's qualifying data is not the binding of this "
                     "attestation's nonce and this inventory (altered inventory, or a stale or "
                     "replayed quote)");
  else
    attest_reason(v, "TR103308-5.1: quote does not carry this attestation's nonce (stale or "
                     "replayed quote)");

  /* The PCR values, checked against the quoted digest. */
  bool pcrs_read = false;
  if (v->quote.type == TPM2_ST_ATTEST_QUOTE) {
    if (attest_pcrs_parse(ev->pcrs, ev->pcrs_len, v->quote.pcr_mask, &v->pcrs, &e) != 0) {
      v->malformed = true;
      attest_reason(v, "TR103308-5.4: PCR values cannot be read: %s", e.msg);
    } else {
      pcrs_read = true;
      uint8_t d[ATTEST_DIGEST_LEN];
      if (attest_pcrs_digest(&v->pcrs, d) == 0 &&
          crypto_ct_equal(d, v->quote.pcr_digest, ATTEST_DIGEST_LEN))
        v->pcr_digest_ok = true;
      else
        attest_reason(v, "TR103308-5.4: PCR values do not match the quoted PCR digest");
    }
  }

  /* Reference values are required unless only the quote is asked about. */
  if (!ctx->quote_only && !ctx->policy)
    attest_reason(v, "TR103308-5.4: no reference values loaded: the boot cannot be appraised");
  if (ctx->policy && (attest_policy_pcrs(ctx->policy) & ~v->quote.pcr_mask))
    attest_reason(v, "TR103308-5.4: the quote covers PCRs 0x%06x but the policy requires 0x%06x",
                  v->quote.pcr_mask, attest_policy_pcrs(ctx->policy));

  /* The event log: replay, then reference values. */
  attest_eventlog log = {0};
  bool log_ok = false;
  if (ev->eventlog && ev->eventlog_len) {
    if (attest_eventlog_parse(ev->eventlog, ev->eventlog_len, &log, &e) != 0) {
      v->malformed = true;
      attest_reason(v, "TR103308-5.4: event log cannot be read: %s", e.msg);
    } else {
      log_ok = true;
      v->nevents = log.count;
      attest_pcrs replay;
      attest_eventlog_replay(&log, &replay);
      v->replay_ran = true;
      v->replay_ok = pcrs_read && replay.mask;
      for (unsigned pcr = 0; pcrs_read && pcr < ATTEST_PCR_COUNT; pcr++) {
        if (!(v->pcrs.mask & (1u << pcr))) continue;
        if (!(replay.mask & (1u << pcr)) ||
            memcmp(replay.value[pcr], v->pcrs.value[pcr], ATTEST_DIGEST_LEN) != 0) {
          char a[20], b[20];
          attest_hex_short(replay.value[pcr], ATTEST_DIGEST_LEN, a);
          attest_hex_short(v->pcrs.value[pcr], ATTEST_DIGEST_LEN, b);
          v->replay_ok = false;
          attest_reason(v,
                        "TR103308-5.4: event log does not replay to PCR %u (log gives %s, quote "
                        "has %s): events are missing or altered",
                        pcr, a, b);
        }
      }
      if (ctx->policy) check_reference(ctx, &log, v->quote.pcr_mask, v);
    }
  } else if (ctx->policy) {
    attest_reason(v, "TR103308-5.4: no event log: the boot cannot be compared with reference "
                     "values");
  }

  if (ctx->location_ca) check_location(ctx, ev, &log, log_ok, v);
  attest_eventlog_free(&log);

  if (!v->quote.safe)
    attest_warning(v, "TPM clock is not marked safe: it may have been rolled back since the last "
                      "orderly shutdown");

  /* The trust vector. */
  attest_trust_vector *tv = &v->tv;
  bool authentic = v->signature_ok && v->quote.magic == TPM2_GENERATED_VALUE &&
                   v->quote.type == TPM2_ST_ATTEST_QUOTE;
  tv->instance_identity = authentic && v->nonce_ok ? TV_AFFIRMING : TV_CONTRAINDICATED;
  tv->hardware = authentic ? TV_AFFIRMING : TV_UNRECOGNIZED_HW;
  if (v->replay_ran && !v->replay_ok) {
    tv->executables = tv->configuration = TV_CONTRAINDICATED;
  } else if (ctx->policy && v->replay_ran) {
    tv->executables = v->reference_ok ? TV_APPROVED_BOOT : TV_UNRECOGNIZED_RUN;
    tv->configuration = v->reference_ok ? TV_AFFIRMING : TV_WARNING;
  }
  if (!v->pcr_digest_ok && v->quote.type == TPM2_ST_ATTEST_QUOTE)
    tv->executables = tv->configuration = TV_CONTRAINDICATED;
  return 0;
}

attest_trust attest_trust_at(int64_t verified_at, bool passed, int64_t max_age_s, int64_t now) {
  if (verified_at <= 0) return ATTEST_TRUST_NEVER;
  if (!passed) return ATTEST_TRUST_FAILED;
  /* A time in the future is as untrustworthy as one too far in the past. */
  if (now - verified_at > max_age_s || verified_at > now + 5) return ATTEST_TRUST_OVERDUE;
  return ATTEST_TRUST_OK;
}

const char *attest_trust_name(attest_trust t) {
  switch (t) {
  case ATTEST_TRUST_OK: return "trusted";
  case ATTEST_TRUST_FAILED: return "untrusted:failed";
  case ATTEST_TRUST_OVERDUE: return "untrusted:overdue";
  default: return "untrusted:never-attested";
  }
}
