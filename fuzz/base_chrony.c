/* libFuzzer harness: chronyd's replies to lisecd's tracking and authdata
 * requests (base/chrony.c), read as each kind with the sequence number the
 * bytes carry (so the header checks do not stop every input), then the
 * reading judged against fixed bounds as the controller does. Seeds are
 * real replies of chronyd 4.3 (fuzz/corpus/base_chrony). */
#include <stddef.h>
#include <stdint.h>

#include "base/chrony.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t seq = size >= 20 ? (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 |
                                  (uint32_t)data[18] << 8 | data[19]
                            : 0;
  lisec_err err;
  lisec_chrony_tracking t;
  lisec_chrony_auth a;
  bool have_t = lisec_chrony_parse_tracking(data, size, seq, &t, &err) == 0;
  bool have_a = lisec_chrony_parse_auth(data, size, seq, &a, &err) == 0;
  if (have_t) {
    lisec_clock_bounds b = {.max_offset_ms = 100, .max_root_dispersion_ms = 500, .require_nts = true};
    char why[512], addr[48];
    (void)lisec_clock_judge(&t, have_a ? &a : NULL, &b, 1796458800000LL, why, sizeof why);
    lisec_chrony_addr_text(&t.addr, addr);
  }
  return 0;
}
