/* Per-client rate limit for seed issuance: a token bucket refilled at a
 * configured rate up to a burst, driven by the caller's monotonic clock so
 * it stays pure and testable. */
#include "rng/rng.h"

bool rng_bucket_take(rng_bucket *b, uint64_t now_ns, double rate, double burst) {
  if (!b->started) {
    b->started = true;
    b->tokens = burst;
    b->last_ns = now_ns;
  } else if (now_ns > b->last_ns) {
    b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * rate;
    if (b->tokens > burst) b->tokens = burst;
    b->last_ns = now_ns;
  }
  if (b->tokens < 1.0) return false;
  b->tokens -= 1.0;
  return true;
}
