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
 * void "tpm_rollback". */
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
/* Notes a verified quote: its clock as the last one, and for a fresh one
 * the highest restartCount and clock of its resetCount (a higher resetCount
 * than max_reset starts them again). */
void ctl_attest_epoch_note(json_t *doc, const attest_quote *q, bool fresh, int64_t max_reset);
/* Asset management confirmed the location at the last quote's counters:
 * they and its clock are the new baseline, and a kept void ends. */
void ctl_attest_epoch_confirmed(json_t *doc, uint32_t restart_count);

#endif
