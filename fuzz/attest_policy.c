/* Fuzzes the reference-value policy parser (attest/policy.c): an operator's
 * file, but one a mistake must never turn into "accept everything". What
 * parses has an id, covers at least one PCR and looks events up without
 * reading outside its tables. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  attest_policy *p = NULL;
  lisec_err err = {0};
  if (attest_policy_parse((const char *)data, size, &p, &err) != 0) {
    if (p) abort();
    return 0;
  }
  if (!attest_policy_id(p)[0] || attest_policy_pcrs(p) == 0) abort();
  uint8_t d[ATTEST_DIGEST_LEN] = {0};
  bool any = false;
  for (uint32_t pcr = 0; pcr < ATTEST_PCR_COUNT; pcr++) {
    attest_policy_lookup(p, pcr, ATTEST_EV_SEPARATOR, d, &any);
    attest_policy_lookup(p, pcr, 0x80000003, d, &any);
  }
  attest_policy_free(p);
  return 0;
}
