/* Fuzzes the chassis report parser (attest/telemetry.c, issue 19): bytes a
 * host sends about what its BMC read, parsed before anything about the
 * chassis is believed. What parses is in its physical ranges, printable and
 * bounded, has no reading without a BMC, and round-trips through the
 * canonical form to the same report; what does not parse leaves the output
 * zeroed and names the requirement. The appraiser then runs on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

static void printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  attest_chassis c, c2;
  lisec_err err = {0};
  static const attest_chassis zero;
  size_t max = size && data[0] == '{' ? 0 : 512;
  if (attest_chassis_parse((const char *)data, size, max, &c, &err) != 0) {
    if (memcmp(&c, &zero, sizeof c) || !strstr(err.msg, ATTEST_CHASSIS_REQ)) abort();
    return 0;
  }
  if ((c.has_inlet && (c.inlet_c < ATTEST_CHASSIS_TEMP_MIN || c.inlet_c > ATTEST_CHASSIS_TEMP_MAX)) ||
      (c.has_cpu && (c.cpu_c < ATTEST_CHASSIS_TEMP_MIN || c.cpu_c > ATTEST_CHASSIS_TEMP_MAX)) ||
      (c.has_power_w && (c.power_w < 0 || c.power_w > ATTEST_CHASSIS_POWER_MAX)) ||
      (c.has_poh && (c.poh_h < 0 || c.poh_h > ATTEST_CHASSIS_POH_MAX)) ||
      (!c.bmc && (c.has_intrusion || c.has_power || c.has_poh || c.has_power_w || c.has_inlet ||
                  c.has_cpu || c.has_asset_tag)))
    abort();
  printable(c.host), printable(c.guid), printable(c.firmware), printable(c.asset_tag);
  char *j = attest_chassis_json(&c);
  if (!j || attest_chassis_parse(j, strlen(j), 0, &c2, &err) != 0 || memcmp(&c, &c2, sizeof c)) abort();
  free(j);
  attest_chassis_base base = {.max_poh_h = -1};
  attest_chassis_policy pol = {ATTEST_MISSING_FINDING, 600, 150, 800, 10};
  attest_chassis_verdict v;
  attest_chassis_appraise(&c, &base, "LAB-0042", 3, &pol, c.read_at, &v);
  if (v.nvoid > ATTEST_CHASSIS_NOTES_MAX || v.nfind > ATTEST_CHASSIS_NOTES_MAX) abort();
  return 0;
}
