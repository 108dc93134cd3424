/* The TPM's counters and clock against what the host's TPM showed before
 * (ctl/attest_epoch.h): a restartCount or, within one epoch, a clock that
 * went back is a TPM whose state was set back, and voids the location
 * until it is confirmed again. */
#include "ctl/attest_epoch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int64_t get(const json_t *doc, const char *key) {
  return json_integer_value(json_object_get(doc, key));
}

/* A clock (ms, 64 bits) as JSON's integer; beyond INT64_MAX (292 million
 * years) it is clamped. */
static json_t *clock_json(uint64_t ms) {
  return json_integer(ms > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)ms);
}

bool ctl_attest_epoch_rolled_back(json_t *doc, const attest_quote *q, int64_t max_reset, char *why,
                                  size_t why_len) {
  int64_t max_restart = get(doc, "max_restart_count"), max_clock = get(doc, "max_tpm_clock");
  uint64_t clock = q->clock > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : q->clock;
  why[0] = '\0';
  if ((int64_t)q->reset_count == max_reset && (int64_t)q->restart_count < max_restart)
    snprintf(why, why_len,
             "TR103308-6.2-R10: the TPM's restartCount went back from %" PRId64 " to %" PRIu32
             " within resetCount %" PRIu32 ": the TPM's state was rolled back, so its location "
             "binding is void until asset management confirms it again",
             max_restart, q->restart_count, q->reset_count);
  else if ((int64_t)q->reset_count == max_reset && (int64_t)q->restart_count == max_restart &&
           (int64_t)clock < max_clock)
    snprintf(why, why_len,
             "TR103308-6.2-R10: the TPM clock went back from %" PRId64 " ms to %" PRIu64
             " ms within resetCount %" PRIu32 ", restartCount %" PRIu32 ": the TPM's state was "
             "rolled back, so its location binding is void until asset management confirms it "
             "again",
             max_clock, q->clock, q->reset_count, q->restart_count);
  if (why[0]) {
    json_object_set_new(doc, "tpm_rollback", json_string(why));
    return true;
  }
  const char *kept = json_string_value(json_object_get(doc, "tpm_rollback"));
  if (!kept) return false;
  snprintf(why, why_len, "%s", kept);
  return true;
}

bool ctl_attest_epoch_late(const json_t *doc, const attest_quote *q, int64_t max_reset, int64_t nonce_expires_ms,
                           char *why, size_t why_len) {
  int64_t max_restart = get(doc, "max_restart_count"), max_clock = get(doc, "max_tpm_clock");
  int64_t max_nonce = get(doc, "max_nonce_expires_ms");
  uint64_t clock = q->clock > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : q->clock;
  why[0] = '\0';
  if ((int64_t)q->reset_count != max_reset || !max_nonce || nonce_expires_ms >= max_nonce) return false;
  if ((int64_t)q->restart_count > max_restart ||
      ((int64_t)q->restart_count == max_restart && (int64_t)clock >= max_clock))
    return false;
  snprintf(why, why_len,
           "TR103308-6.2-R10: the quote (resetCount %" PRIu32 ", restartCount %" PRIu32 ", clock %" PRIu64
           " ms) was made over a nonce issued before that of a later quote already appraised (restartCount "
           "%" PRId64 ", clock %" PRId64 " ms): a quote answered late proves no location",
           q->reset_count, q->restart_count, q->clock, max_restart, max_clock);
  return true;
}

void ctl_attest_epoch_note(json_t *doc, const attest_quote *q, bool fresh, int64_t max_reset,
                           int64_t nonce_expires_ms) {
  json_object_set_new(doc, "last_tpm_clock", clock_json(q->clock));
  if (!fresh || (int64_t)q->reset_count < max_reset) return;
  int64_t max_restart = get(doc, "max_restart_count"), max_clock = get(doc, "max_tpm_clock");
  bool newer = (int64_t)q->reset_count > max_reset || (int64_t)q->restart_count > max_restart ||
               !json_object_get(doc, "max_restart_count");
  if (!newer && (int64_t)q->restart_count < max_restart) return;
  if (newer) json_object_set_new(doc, "max_restart_count", json_integer(q->restart_count));
  if (newer || (q->clock <= (uint64_t)INT64_MAX && (int64_t)q->clock > max_clock)) {
    json_object_set_new(doc, "max_tpm_clock", clock_json(q->clock));
    json_object_set_new(doc, "max_nonce_expires_ms", json_integer(nonce_expires_ms));
  }
}

void ctl_attest_epoch_confirmed(json_t *doc, uint32_t restart_count) {
  json_object_set_new(doc, "max_restart_count", json_integer(restart_count));
  json_t *last = json_object_get(doc, "last_tpm_clock");
  if (json_is_integer(last)) json_object_set(doc, "max_tpm_clock", last);
  else json_object_del(doc, "max_tpm_clock");
  json_object_del(doc, "tpm_rollback");
}
