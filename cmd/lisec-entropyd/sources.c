/* lisec-entropyd's entropy side: the raw sources, their SP 800-90B health
 * tests, the conditioning pool and the serving DRBG's reseeds. A source that
 * fails a test is excluded for the rest of the daemon's life and named in
 * /metrics and /v1/health; when fewer than min_sources remain healthy, or no
 * reseed from healthy sources happened within max_stale_ms, the daemon stops
 * serving seeds (fails closed) rather than stretch an old seed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "entropyd.h"
#include "rng/libos.h"

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const struct {
  ed_src_kind kind;
  const char *name;
  bool enabled;
  double h;
  int block;
} defaults[] = {
    {ED_SRC_RDSEED, "rdseed", true, 4.0, 64},  {ED_SRC_GETRANDOM, "getrandom", true, 4.0, 64},
    {ED_SRC_TPM, "tpm", false, 4.0, 32},       {ED_SRC_JITTER, "jitter", true, 0.5, 512},
    {ED_SRC_RDRAND, "rdrand", false, 2.0, 64}, {ED_SRC_DEVICE, "device", false, 4.0, 64},
};

static int tpm_open(ed_source *s, lisec_err *err) {
  TSS2_TCTI_CONTEXT *tcti = NULL;
  ESYS_CONTEXT *esys = NULL;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(s->path, &tcti);
  if (rc != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EUNAVAIL, "TPM TCTI '%s': %s", s->path, Tss2_RC_Decode(rc));
  rc = Esys_Initialize(&esys, tcti, NULL);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti);
    return lisec_err_set(err, LISEC_EUNAVAIL, "TPM ESAPI: %s", Tss2_RC_Decode(rc));
  }
  s->tpm = esys;
  s->tcti = tcti;
  return 0;
}

static size_t tpm_read(ed_source *s, uint8_t *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    TPM2B_DIGEST *r = NULL;
    UINT16 want = (UINT16)(n - done > 32 ? 32 : n - done);
    TSS2_RC rc = Esys_GetRandom(s->tpm, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, want, &r);
    if (rc != TSS2_RC_SUCCESS || !r || r->size == 0 || r->size > want) {
      if (rc != TSS2_RC_SUCCESS && !s->logged)
        LOG_WARN("rng source tpm: TPM2_GetRandom: %s", Tss2_RC_Decode(rc));
      Esys_Free(r);
      break;
    }
    memcpy(buf + done, r->buffer, r->size);
    done += r->size;
    crypto_wipe(r->buffer, r->size);
    Esys_Free(r);
  }
  return done;
}

static size_t source_read(ed_source *s, uint8_t *buf, size_t n) {
  switch (s->kind) {
  case ED_SRC_RDSEED: return rngl_rdseed(buf, n);
  case ED_SRC_RDRAND: return rngl_rdrand(buf, n);
  case ED_SRC_GETRANDOM: return rngl_getrandom(buf, n, NULL) == 0 ? n : 0;
  case ED_SRC_JITTER: rngl_jitter(buf, n); return n;
  case ED_SRC_TPM: return tpm_read(s, buf, n);
  case ED_SRC_DEVICE: {
    size_t done = 0;
    while (done < n) {
      ssize_t r = read(s->fd, buf + done, n - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      done += (size_t)r;
    }
    return done;
  }
  }
  return 0;
}

int ed_sources_setup(entropyd *d, const lisec_config *cfg, lisec_err *err) {
  d->nsrc = 0;
  for (size_t i = 0; i < LISEC_ARRAY_LEN(defaults); i++) {
    ed_source *s = &d->src[d->nsrc++];
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->kind = defaults[i].kind;
    s->name = defaults[i].name;
    char sec[64];
    snprintf(sec, sizeof sec, "source.%s", s->name);
    int rc = lisec_config_bool(cfg, sec, "enabled", defaults[i].enabled, &s->enabled, err);
    int64_t block = 0;
    if (!rc) rc = lisec_config_int(cfg, sec, "block", defaults[i].block, 16, 1024, &block, err);
    if (rc) return rc;
    s->block = (size_t)block;
    s->since = (int64_t)time(NULL);
    const char *h = lisec_config_str(cfg, sec, "min_entropy", NULL);
    s->h = defaults[i].h;
    if (h) {
      char *end = NULL;
      s->h = strtod(h, &end);
      if (!end || *end)
        return lisec_err_set(err, LISEC_EINVAL, "[%s] min_entropy '%s' is not a number", sec, h);
    }
    rc = rng_health_init(&s->health, s->h, d->alpha_log2, false, err);
    if (rc) return lisec_err_wrap(err, "[%s]", sec);
    if (!s->enabled) continue;
    s->available = true;
    switch (s->kind) {
    case ED_SRC_RDSEED:
    case ED_SRC_RDRAND:
      s->available = s->kind == ED_SRC_RDSEED ? rngl_cpu_has_rdseed() : rngl_cpu_has_rdrand();
      if (!s->available) snprintf(s->reason, sizeof s->reason, "the CPU lacks the instruction");
      break;
    case ED_SRC_TPM: {
      snprintf(s->path, sizeof s->path, "%s", lisec_config_str(cfg, sec, "tcti", "device:/dev/tpmrm0"));
      lisec_err e = {0};
      if (tpm_open(s, &e) != 0) {
        s->available = false;
        snprintf(s->reason, sizeof s->reason, "%.250s", e.msg);
      }
      break;
    }
    case ED_SRC_DEVICE:
      snprintf(s->path, sizeof s->path, "%s", lisec_config_str(cfg, sec, "path", "/dev/hwrng"));
      s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
      if (s->fd < 0) {
        char why[sizeof s->reason];
        snprintf(why, sizeof why, "%.200s: %s", s->path, strerror(errno));
        s->available = false;
        memcpy(s->reason, why, sizeof why);
      }
      break;
    default: break;
    }
    if (!s->available) LOG_WARN("rng source %s unavailable: %s", s->name, s->reason);
    else
      LOG_INFO("rng source %s: claimed H=%.2f bits/sample, RCT cutoff %u, APT cutoff %u/%u",
               s->name, s->h, s->health.rct_cutoff, s->health.apt_cutoff, s->health.apt_window);
  }
  static const char pers[] = "lisec-entropyd pool";
  int rc = rng_pool_init(&d->pool, pers, sizeof pers - 1, err);
  if (rc) return rc;
  /* The serving DRBG starts with OpenSSL's own seed but serves nothing until
   * the pool has reseeded it from health-tested sources. */
  EVP_RAND *r = EVP_RAND_fetch(NULL, "CTR-DRBG", NULL);
  d->drbg = r ? EVP_RAND_CTX_new(r, NULL) : NULL;
  EVP_RAND_free(r);
  if (!d->drbg || !rng_drbg_configure(d->drbg, RNG_DRBG_CTR_AES256) ||
      EVP_RAND_instantiate(d->drbg, 256, 0, (const uint8_t *)pers, sizeof pers - 1, NULL) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "entropyd: serving DRBG could not be instantiated");
  d->serving = false;
  snprintf(d->unhealthy_reason, sizeof d->unhealthy_reason,
           "TR103308-4.2: not yet seeded from health-tested sources");
  return 0;
}

/* The staleness half of the serving state, at the moment of asking. The
 * collector decides after each round, but a round that never ends (a read
 * from a source that hangs: a TPM that stops answering, where TPM2_GetRandom
 * waits without a timeout) would leave its last decision standing and the
 * DRBG serving on an old seed for ever; the seed service, /metrics,
 * /v1/health and the reports ask here. */
bool ed_stale_locked(entropyd *d) {
  if (d->reseeds != 0 && mono_ms() - d->last_reseed_ms <= d->max_stale_ms) return false;
  bool was = d->serving;
  d->serving = false;
  snprintf(d->unhealthy_reason, sizeof d->unhealthy_reason,
           "TR103308-4.2: no reseed from credited entropy within %d ms", d->max_stale_ms);
  if (was) {
    /* Found here rather than by the collector: say so and report it now,
     * as the collector would (ed_report_wake without taking the lock). */
    LOG_ERROR("entropyd stops serving seeds (fail closed): %s", d->unhealthy_reason);
    d->report_due = true;
    pthread_cond_signal(&d->report_cv);
  }
  return true;
}

void ed_collect_round(entropyd *d) {
  uint8_t buf[1024];
  int healthy = 0;
  for (size_t i = 0; i < d->nsrc; i++) {
    ed_source *s = &d->src[i];
    if (!s->enabled || !s->available || s->health.state != RNG_HEALTH_OK) continue;
    size_t n = source_read(s, buf, s->block);
    if (n < s->block) {
      pthread_mutex_lock(&d->lock);
      s->read_errors++;
      pthread_mutex_unlock(&d->lock);
      crypto_wipe(buf, sizeof buf);
      continue;
    }
    lisec_err err = {0};
    /* The health state is read by /metrics, /v1/health and the reports
     * under the lock: the tests run on a copy (this thread is the only
     * writer), which goes back under the lock. */
    rng_health h = s->health;
    int rc = rng_health_feed(&h, buf, n, &err);
    if (rc == 0) rc = rng_pool_absorb(&d->pool, s->name, buf, n, (double)n * s->h, &err);
    crypto_wipe(buf, sizeof buf);
    pthread_mutex_lock(&d->lock);
    s->health = h;
    s->rounds++;
    s->bytes += n;
    if (rc == 0) {
      s->credited_bits += (double)n * s->h;
      healthy++;
    } else {
      snprintf(s->reason, sizeof s->reason, "%.250s", err.msg);
      if (!s->logged) s->since = (int64_t)time(NULL);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc != 0 && !s->logged) {
      s->logged = true;
      LOG_ERROR("rng source %s excluded: %s", s->name, err.msg);
      ed_report_wake(d);
    }
  }
  uint8_t seed[48];
  lisec_err err = {0};
  int rc = LISEC_EUNAVAIL;
  if (healthy >= d->min_sources) rc = rng_pool_extract(&d->pool, "serve", 5, seed, sizeof seed, &err);
  pthread_mutex_lock(&d->lock);
  int64_t now = mono_ms();
  if (rc == 0) {
    if (EVP_RAND_reseed(d->drbg, 0, seed, sizeof seed, NULL, 0) == 1) {
      d->reseeds++;
      d->last_reseed_ms = now;
    }
  } else if (healthy >= d->min_sources) {
    d->pool_short++;
  }
  crypto_wipe(seed, sizeof seed);
  bool was = d->serving;
  if (healthy < d->min_sources) {
    d->serving = false;
    snprintf(d->unhealthy_reason, sizeof d->unhealthy_reason,
             "TR103308-4.2: %d healthy entropy source(s), %d required", healthy, d->min_sources);
  } else if (ed_stale_locked(d)) {
    /* (ed_stale_locked set the reason) */
  } else {
    d->serving = true;
    d->unhealthy_reason[0] = '\0';
  }
  bool is = d->serving;
  char why[256];
  snprintf(why, sizeof why, "%s", d->unhealthy_reason);
  pthread_mutex_unlock(&d->lock);
  if (was && !is) LOG_ERROR("entropyd stops serving seeds (fail closed): %s", why);
  if (!was && is) LOG_INFO("entropyd serving seeds: %d healthy source(s)", healthy);
  if (was != is) ed_report_wake(d);
}

void *ed_collector_main(void *arg) {
  entropyd *d = arg;
  while (!atomic_load(&d->stop)) {
    ed_collect_round(d);
    struct timespec ts = {.tv_sec = d->reseed_ms / 1000, .tv_nsec = (d->reseed_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

void ed_sources_free(entropyd *d) {
  for (size_t i = 0; i < d->nsrc; i++) {
    ed_source *s = &d->src[i];
    if (s->tpm) {
      ESYS_CONTEXT *e = s->tpm;
      Esys_Finalize(&e);
    }
    if (s->tcti) {
      TSS2_TCTI_CONTEXT *t = s->tcti;
      Tss2_TctiLdr_Finalize(&t);
    }
    if (s->fd >= 0) close(s->fd);
  }
  rng_pool_free(&d->pool);
  EVP_RAND_CTX_free(d->drbg);
  d->drbg = NULL;
}
