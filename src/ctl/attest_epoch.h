/* A TPM's state going back, as a host's attestation document remembers
 * what its TPM showed (ctl/attest.c). Every TPM2_Startup raises resetCount
 * (a Reset) or restartCount (a Restart or Resume), and within one
 * (resetCount, restartCount) epoch the TPM's clock only runs forward. A TPM
 * whose state was set back to a copy (a virtual TPM's state file, a
 * firmware TPM's flash) can show the counters a location was confirmed at
 * once more after the host was moved; what gives it away is a restartCount
 * below one seen at that resetCount, or in that epoch a clock below one
 * seen. That voids the location (TR103308-6.2-R10) until asset management
 * confirms it again, however far the restored clock runs on meanwhile. A
 * resetCount below the highest seen (TPM2_Clear) is ctl/attest.c's own
 * check. The document's fields: "max_restart_count" and "max_tpm_clock"
 * (the highest seen at "max_reset_count"), "last_tpm_clock", and the kept
 * void "tpm_rollback", and "max_nonce_expires_ms": the expiry of the nonce
 * of the quote that last raised them. A host holds several nonces at once,
 * so a quote made over an earlier nonce can be answered after a later
 * quote of the same TPM: its lower counters or clock are then no rollback
 * (ctl_attest_epoch_late). */
#ifndef LISEC_CTL_ATTEST_EPOCH_H
#define LISEC_CTL_ATTEST_EPOCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "attest/attest.h"

/* Whether the fresh, verified quote q shows less than the host's TPM
 * showed before at resetCount max_reset (the highest seen, read before
 * this quote): why gets the reason, which doc keeps ("tpm_rollback") and
 * repeats until ctl_attest_epoch_confirmed. A void kept from an earlier
 * quote is true as well, with its reason. */
bool ctl_attest_epoch_rolled_back(json_t *doc, const attest_quote *q, int64_t max_reset, char *why,
                                  size_t why_len);
/* Whether the fresh quote q, over a nonce expiring at nonce_expires_ms,
 * shows less than the host's TPM showed before at resetCount max_reset
 * while its nonce was issued before the nonce of the quote that showed it:
 * a quote made earlier and answered late, which may be a healthy TPM's. It
 * proves nothing (no location, no baseline) and voids nothing kept; why
 * gets the reason. */
bool ctl_attest_epoch_late(const json_t *doc, const attest_quote *q, int64_t max_reset, int64_t nonce_expires_ms,
                           char *why, size_t why_len);
/* Notes a verified quote: its clock as the last one, and for a fresh one
 * the highest restartCount and clock of its resetCount (a higher resetCount
 * than max_reset starts them again), with its nonce's expiry
 * nonce_expires_ms when it raised them. */
void ctl_attest_epoch_note(json_t *doc, const attest_quote *q, bool fresh, int64_t max_reset,
                           int64_t nonce_expires_ms);
/* Asset management confirmed the location at the last quote's counters:
 * they and its clock are the new baseline, and a kept void ends. */
void ctl_attest_epoch_confirmed(json_t *doc, uint32_t restart_count);

#endif
