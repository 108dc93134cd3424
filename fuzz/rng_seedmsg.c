/* libFuzzer harness for the seed-protocol parser (rng/seedmsg.c), the one
 * parser lisec-entropyd runs on bytes from the network and liblisec-rng on
 * the daemon's replies. Property: anything that decodes re-encodes to the
 * very same bytes, and a decoded request passes through the replay check
 * twice with the second refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t total = 0;
  (void)rng_msg_frame_len(data, size, &total, NULL);
  rng_msg m;
  if (rng_msg_decode(data, size, &m, NULL) != 0) return 0;
  uint8_t out[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t len = 0;
  if (rng_msg_encode(&m, out, sizeof out, &len, NULL) != 0) abort();
  if (len != size || memcmp(out, data, size) != 0) abort();
  if (m.type == RNG_MSG_REQUEST) {
    rng_replay *r = rng_replay_new();
    if (!r) return 0;
    if (rng_replay_check(r, "fuzz", &m, NULL) != 0) abort();
    if (rng_replay_check(r, "fuzz", &m, NULL) == 0) abort();
    rng_replay_free(r);
  }
  return 0;
}
