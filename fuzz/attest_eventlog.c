/* Fuzzes the TCG crypto-agile event log parser (attest/eventlog.c) and the
 * reference-value check over what it yields: every length in a log comes
 * from the host, so parsing must never read outside the buffer, events must
 * point inside it, and replay and policy lookup must cope with whatever
 * parses. The policy is a small fixed one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"

static const char policy_json[] =
    "{\"policy_id\":\"fuzz\",\"pcrs\":[0,4,7],\"events\":["
    "{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":"
    "[\"df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119\"]},"
    "{\"pcr\":4,\"type\":\"EV_EFI_BOOT_SERVICES_APPLICATION\",\"any_digest\":true},"
    "{\"pcr\":7,\"type\":\"0x800000e0\",\"digests\":"
    "[\"0000000000000000000000000000000000000000000000000000000000000000\"]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static attest_policy *policy;
  lisec_err err = {0};
  if (!policy && attest_policy_parse(policy_json, strlen(policy_json), &policy, &err) != 0) abort();
  attest_eventlog log;
  if (attest_eventlog_parse(data, size, &log, &err) != 0) {
    if (log.events || log.count) abort(); /* a refused log leaves nothing behind */
    return 0;
  }
  if (log.count > ATTEST_EVENTS_MAX) abort();
  for (size_t i = 0; i < log.count; i++) {
    const attest_event *e = &log.events[i];
    if (e->pcr >= ATTEST_PCR_COUNT) abort();
    if (e->data_len && (e->data < data || e->data + e->data_len > data + size)) abort();
    bool any = false;
    attest_policy_lookup(policy, e->pcr, e->type, e->digest, &any);
    attest_event_type_name(e->type);
  }
  attest_pcrs replay;
  attest_eventlog_replay(&log, &replay);
  if (replay.mask != 0xffffffu) abort();
  attest_eventlog_free(&log);
  return 0;
}
