/* The SP 800-90B §4.4 continuous health tests run on every raw sample a
 * noise source produces before any of it is credited: the repetition count
 * test (a stuck source) and the adaptive proportion test (a source that has
 * lost entropy to bias). Cutoffs come from the standard's formulas with the
 * source's claimed min-entropy H and the false-positive rate alpha. */
#include <math.h>

#include "rng/rng.h"

uint32_t rng_rct_cutoff(double h, unsigned alpha_log2) {
  /* The epsilon keeps an exact quotient (30 / 0.5 = 60) from being pushed
   * up by one by rounding in the division. */
  return 1u + (uint32_t)ceil((double)alpha_log2 / h - 1e-9);
}

/* log of the Binomial(n, p) probability mass at k. */
static double binom_log_pmf(uint32_t n, uint32_t k, double p) {
  double lc = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
  double a = k ? (double)k * log(p) : 0.0;
  double b = (n - k) ? (double)(n - k) * log1p(-p) : 0.0;
  return lc + a + b;
}

uint32_t rng_apt_cutoff(double h, unsigned alpha_log2, uint32_t window) {
  double p = exp2(-h), alpha = exp2(-(double)alpha_log2);
  if (p >= 1.0) return window + 1; /* no entropy claimed: the test cannot pass */
  /* Sum the upper tail from the top; C is the smallest c whose tail
   * P(B >= c) is still <= alpha, i.e. 1 + CRITBINOM(W, p, 1 - alpha). */
  double tail = 0.0;
  uint32_t c = window + 1;
  for (uint32_t k = window;; k--) {
    tail += exp(binom_log_pmf(window, k, p));
    if (tail > alpha) break;
    c = k;
    if (k == 0) break;
  }
  return c;
}

int rng_health_init(rng_health *t, double h, unsigned alpha_log2, bool binary, lisec_err *err) {
  double hmax = binary ? 1.0 : 8.0;
  if (!(h > 0.0 && h <= hmax))
    return lisec_err_set(err, LISEC_EINVAL,
                         "SP800-90B-4.4: claimed min-entropy %.3f outside (0, %.0f] bits/sample", h,
                         hmax);
  if (alpha_log2 < 20 || alpha_log2 > 40)
    return lisec_err_set(err, LISEC_EINVAL, "SP800-90B-4.4: alpha 2^-%u outside 2^-20..2^-40",
                         alpha_log2);
  /* The RCT cutoff must fit its counter: a smaller claim would convert an
   * out-of-range double (undefined; on x86-64 a cutoff of a few samples, or
   * of one). */
  if ((double)alpha_log2 / h >= (double)UINT32_MAX - 1.0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "SP800-90B-4.4.1: claimed min-entropy %g bits/sample is too small for "
                         "the repetition count test (cutoff past 2^32 samples)",
                         h);
  *t = (rng_health){0};
  t->h = h;
  t->alpha_log2 = alpha_log2;
  t->binary = binary;
  t->apt_window = binary ? RNG_APT_WINDOW_BINARY : RNG_APT_WINDOW_NONBINARY;
  t->rct_cutoff = rng_rct_cutoff(h, alpha_log2);
  t->apt_cutoff = rng_apt_cutoff(h, alpha_log2, t->apt_window);
  t->state = RNG_HEALTH_OK;
  return 0;
}

static int health_failed(const rng_health *t, lisec_err *err) {
  if (t->state == RNG_HEALTH_RCT_FAIL)
    return lisec_err_set(err, LISEC_EDENIED,
                         "SP800-90B-4.4.1: repetition count test failed (a run of %u identical "
                         "samples, cutoff %u for H=%.3f)",
                         (unsigned)t->rct_max_run, t->rct_cutoff, t->h);
  return lisec_err_set(err, LISEC_EDENIED,
                       "SP800-90B-4.4.2: adaptive proportion test failed (%u of %u samples equal, "
                       "cutoff %u for H=%.3f)",
                       (unsigned)t->apt_max_count, t->apt_window, t->apt_cutoff, t->h);
}

int rng_health_feed(rng_health *t, const uint8_t *samples, size_t n, lisec_err *err) {
  if (t->state != RNG_HEALTH_OK) return health_failed(t, err);
  for (size_t i = 0; i < n; i++) {
    uint8_t s = t->binary ? (uint8_t)(samples[i] & 1u) : samples[i];
    t->samples++;
    /* Repetition count: a run of C identical samples fails. */
    if (t->rct_started && s == t->rct_last) {
      if (++t->rct_count > t->rct_max_run) t->rct_max_run = t->rct_count;
      if (t->rct_count >= t->rct_cutoff) {
        t->state = RNG_HEALTH_RCT_FAIL;
        return health_failed(t, err);
      }
    } else {
      t->rct_started = true;
      t->rct_last = s;
      t->rct_count = 1;
      if (t->rct_max_run == 0) t->rct_max_run = 1;
    }
    /* Adaptive proportion: count the window's first value over W samples. */
    if (t->apt_seen == 0) {
      t->apt_first = s;
      t->apt_count = 1;
      t->apt_seen = 1;
    } else {
      if (s == t->apt_first) {
        t->apt_count++;
        if (t->apt_count > t->apt_max_count) t->apt_max_count = t->apt_count;
        if (t->apt_count >= t->apt_cutoff) {
          t->state = RNG_HEALTH_APT_FAIL;
          return health_failed(t, err);
        }
      }
      if (++t->apt_seen == t->apt_window) t->apt_seen = 0;
    }
  }
  return 0;
}

const char *rng_health_state_name(rng_health_state s) {
  switch (s) {
  case RNG_HEALTH_OK: return "ok";
  case RNG_HEALTH_RCT_FAIL: return "failed_repetition_count";
  case RNG_HEALTH_APT_FAIL: return "failed_adaptive_proportion";
  }
  return "unknown";
}
