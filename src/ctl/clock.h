/* Trusted time in the controller (issue 19, TR 103 308 §4.2): whether
 * lisecd's clock is proven, and "now" for the decisions that depend on it.
 * With [time] source = "chrony" a thread reads chronyd's tracking and the
 * selected source's authdata over chronyd's Unix command socket every
 * poll_ms and judges them against the [time] bounds (base/chrony.h); every
 * quote's TPM clock is tracked per host and a controller clock that moves
 * against most hosts' TPM clocks (attest/tpmclock.h) makes time unproven
 * too. A decision that depends on time (LI validity boundaries, the age of
 * an attestation, nonce expiry, an LI administration's command's expiry, a
 * package signer's or vendor CRL's validity) asks ctl_clock_trusted_now
 * and fails closed with TR103308-4.2-TIME naming the clock. With source =
 * "none" (the development default) nothing is checked and lisecd says so
 * at start; the TPM clocks are still tracked and reported. docs/time.md. */
#ifndef LISEC_CTL_CLOCK_H
#define LISEC_CTL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "ctl/ctl.h"
#include "ctl/internal.h"

/* The topic's hooks (ctl/topics.c): open reads [time]; start reads chrony
 * once (so a lisecd that starts beside a synchronised chronyd is proven at
 * once) and starts the poll thread. */
int ctl_clock_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_clock_start(ctl_shared *sh, lisec_err *err);
void ctl_clock_stop(ctl_shared *sh);
void ctl_clock_close(ctl_shared *sh);

/* ctl_clock_trusted_now, the question every time-dependent decision asks,
 * is declared in ctl/internal.h: the model, the lowest topic, asks it too. */

/* The same question for the attestation path (a nonce's expiry, an
 * appraisal), judged by chronyd's reading only: the TPM fleet's verdict is
 * left out. A fleet jump ends only when the next round of appraisals
 * measures each host from the new baseline (ctl_clock_tpm_sample), so
 * refusing nonces and appraisals for it would hold time unproven for ever.
 * The decisions that depend on time still wait for the fleet to agree. */
int ctl_clock_witness_now(ctl_shared *sh, const char *what, int64_t *now_ms, lisec_err *err);

/* ctl_clock_trusted_now in whole seconds, for the checks that compare with
 * times kept in seconds: an LI administration's signed command's expiry,
 * a package signer's certificate validity, a CRL's thisUpdate/nextUpdate.
 * *now_s is the time the clock was judged at, so the value checked is the
 * one proven (never a second reading of the wall clock); on a refusal it
 * is still set, and nothing may be decided by it. */
int ctl_clock_trusted_s(ctl_shared *sh, const char *what, int64_t *now_s, lisec_err *err);

/* The clock information of a quote whose signature verified, appraised at
 * now_ms. A TPM clock that went back within one reset epoch or is not safe
 * is a finding about the host; the fleet's median shift past [time]
 * tpm_jump_ms a finding about the controller's clock. Each is recorded in
 * the audit log (by ctl) and counted. */
void ctl_clock_tpm_sample(lisec_ctl *ctl, const char *host, uint64_t clock_ms, uint32_t reset_count,
                          uint32_t restart_count, bool safe, int64_t now_ms);

/* The clock's state for GET /v1/status (a new reference; NULL when out of
 * memory) and its Prometheus lines (lisec_time_*). */
json_t *ctl_clock_status(ctl_shared *sh);
void ctl_clock_metrics(ctl_shared *sh, lisec_buf *b);

#endif
