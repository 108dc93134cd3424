/* lisec-entropyd: reads its INI configuration, sets up the sources, the
 * conditioning pool and the TLS context, then runs the collector, the
 * metrics port and the seed service until SIGTERM.
 *
 *   lisec-entropyd -c /etc/lisec/entropyd.conf
 */
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "entropyd.h"

static const char *const known[] = {
    "server.listen", "server.vsock_port", "server.max_connections", "server.max_connections_per_peer",
    "server.idle_timeout_s",
    "tls.cert", "tls.key", "tls.client_ca",
    "clients.allowed", "clients.rate", "clients.burst", "clients.li", "clients.role_source",
    "clients.max_counter_ahead_s",
    "report.url", "report.cert", "report.key", "report.ca", "report.interval_s", "report.timeout_s",
    "metrics.listen",
    "entropy.alpha_log2", "entropy.min_sources", "entropy.reseed_ms", "entropy.max_stale_ms",
    "source.rdseed.enabled", "source.rdseed.min_entropy", "source.rdseed.block",
    "source.getrandom.enabled", "source.getrandom.min_entropy", "source.getrandom.block",
    "source.tpm.enabled", "source.tpm.min_entropy", "source.tpm.block", "source.tpm.tcti",
    "source.jitter.enabled", "source.jitter.min_entropy", "source.jitter.block",
    "source.rdrand.enabled", "source.rdrand.min_entropy", "source.rdrand.block",
    "source.device.enabled", "source.device.min_entropy", "source.device.block", "source.device.path",
    "log.level", "log.json", NULL};

static int usage(FILE *f) {
  fprintf(f, "usage: lisec-entropyd -c CONFIG | --help | --version\n");
  return f == stdout ? 0 : 2;
}

static int load_clients(entropyd *d, const char *list, lisec_err *err) {
  /* A comma-separated list of certificate CNs: the registered VNF
   * identities. An empty list serves nobody, which is refused outright. */
  const char *p = list;
  while (p && *p) {
    while (*p == ' ' || *p == ',') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    size_t n = (size_t)(t - p);
    if (n) {
      if (n >= ED_NAME_MAX) return lisec_err_set(err, LISEC_EINVAL, "[clients] name too long");
      if (d->nclients >= ED_MAX_CLIENTS)
        return lisec_err_set(err, LISEC_ETOOBIG, "[clients] more than %d", ED_MAX_CLIENTS);
      ed_client *c = &d->clients[d->nclients];
      memcpy(c->name, p, n);
      c->name[n] = '\0';
      /* A second entry would be a client of its own that nothing serves
       * and [clients] li does not mark (it marks the first): an LI VNF
       * listed twice would be named in /metrics. The error names the
       * entries, not the client, as the log is the platform operators'. */
      for (size_t i = 0; i < d->nclients; i++)
        if (strcmp(d->clients[i].name, c->name) == 0)
          return lisec_err_set(err, LISEC_EINVAL,
                               "[clients] allowed: entry %zu repeats entry %zu; list each VNF "
                               "identity once",
                               d->nclients + 1, i + 1);
      d->nclients++;
    }
    p = e;
  }
  if (d->nclients == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[clients] allowed lists no VNF identity: nobody could be served");
  /* Each client's log reference (entropyd.h): under a key of this start
   * alone, wiped once they are made, so a reference is not turned back into
   * a name by trying the names of [clients] allowed. */
  uint8_t key[32], mac[CRYPTO_SHA256_LEN];
  if (RAND_bytes(key, sizeof key) != 1) return lisec_err_set(err, LISEC_ECRYPTO, "client references: no random key");
  for (size_t i = 0; i < d->nclients; i++) {
    ed_client *c = &d->clients[i];
    crypto_hmac_sha256(key, sizeof key, c->name, strlen(c->name), mac);
    for (size_t k = 0; k < ED_REF_HEX / 2; k++) snprintf(c->ref + 2 * k, 3, "%02x", mac[k]);
  }
  crypto_wipe(key, sizeof key);
  return 0;
}

static int setup_tls(entropyd *d, const lisec_config *cfg, lisec_err *err) {
  const char *cert = lisec_config_str(cfg, "tls", "cert", NULL);
  const char *key = lisec_config_str(cfg, "tls", "key", NULL);
  const char *ca = lisec_config_str(cfg, "tls", "client_ca", NULL);
  if (!cert || !key || !ca)
    return lisec_err_set(err, LISEC_EINVAL, "[tls] cert, key and client_ca are required (mutual TLS)");
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  if (!c) return lisec_err_set(err, LISEC_ECRYPTO, "TLS context");
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
  if (SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1 || SSL_CTX_load_verify_locations(c, ca, NULL) != 1 ||
      !names) {
    unsigned long e = ERR_get_error();
    SSL_CTX_free(c);
    if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
    return lisec_err_set(err, LISEC_EINVAL, "[tls] loading %s / %s / %s: %s", cert, key, ca,
                         e ? ERR_reason_error_string(e) : "failed");
  }
  SSL_CTX_set_client_CA_list(c, names);
  ed_tls_require_client_auth(c);
  d->tls = c;
  return 0;
}

static int configure(entropyd *d, const lisec_config *cfg, lisec_err *err) {
  int64_t v;
  snprintf(d->listen, sizeof d->listen, "%s", lisec_config_str(cfg, "server", "listen", "127.0.0.1:7443"));
  snprintf(d->metrics_listen, sizeof d->metrics_listen, "%s",
           lisec_config_str(cfg, "metrics", "listen", ""));
#define INT(sec, key, def, lo, hi, dst)                                   \
  do {                                                                    \
    int rc_ = lisec_config_int(cfg, sec, key, def, lo, hi, &v, err);      \
    if (rc_) return rc_;                                                  \
    dst = (int)v;                                                         \
  } while (0)
  INT("server", "vsock_port", 0, 0, 65535, d->vsock_port);
  INT("server", "max_connections", 256, 1, 4096, d->max_conns);
  /* 0: a quarter of max_connections (at least 1), so that one peer (one VM
   * over vsock, one address over TCP) cannot take every slot. */
  INT("server", "max_connections_per_peer", 0, 0, 4096, d->max_conns_per_peer);
  if (d->max_conns_per_peer == 0) d->max_conns_per_peer = d->max_conns / 4 ? d->max_conns / 4 : 1;
  if (d->max_conns_per_peer > d->max_conns)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[server] max_connections_per_peer %d is over max_connections %d",
                         d->max_conns_per_peer, d->max_conns);
  INT("server", "idle_timeout_s", 30, 1, 3600, d->idle_timeout_s);
  INT("entropy", "min_sources", 1, 1, ED_MAX_SOURCES, d->min_sources);
  INT("entropy", "reseed_ms", 100, 10, 60000, d->reseed_ms);
  INT("entropy", "max_stale_ms", 2000, 100, 600000, d->max_stale_ms);
  /* A reseed interval at or over the staleness bound leaves every other
   * reseed, or all of them, later than max_stale_ms: the service would
   * fail closed between rounds of a healthy collector. */
  if (d->reseed_ms >= d->max_stale_ms)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[entropy] reseed_ms %d must be below [entropy] max_stale_ms %d (no reseed "
                         "within max_stale_ms stops the service)",
                         d->reseed_ms, d->max_stale_ms);
  int alpha;
  INT("entropy", "alpha_log2", 30, 30, 40, alpha);
  d->alpha_log2 = (unsigned)alpha;
  int rate, burst;
  INT("clients", "rate", 50000, 1, 10000000, rate);
  INT("clients", "burst", 100000, 1, 10000000, burst);
  /* How far a request's counter (the library's: the VM's real time in ns)
   * may be ahead of this daemon's clock (server.c, TR103308-5.12). */
  INT("clients", "max_counter_ahead_s", 600, 1, 604800, d->max_counter_ahead_s);
#undef INT
  d->rate = rate;
  d->burst = burst;
  /* as lisecd's [api] role_source: the VNF's role in a SAN URI
   * urn:lisec:role:vnf (default) or in the subject OU */
  const char *src = lisec_config_str(cfg, "clients", "role_source", "san-uri");
  if (strcmp(src, "san-uri") == 0) d->role_source = CRYPTO_ROLE_FROM_SAN_URI;
  else if (strcmp(src, "ou") == 0) d->role_source = CRYPTO_ROLE_FROM_OU;
  else return lisec_err_set(err, LISEC_EINVAL, "[clients] role_source must be san-uri or ou, not '%s'", src);
  int rc = load_clients(d, lisec_config_str(cfg, "clients", "allowed", ""), err);
  if (!rc) rc = ed_report_configure(d, cfg, err);
  if (!rc) rc = setup_tls(d, cfg, err);
  if (!rc) rc = ed_sources_setup(d, cfg, err);
  return rc;
}

/* Waits for the collector to end its round. A round held in a source's read
 * (a TPM that stopped answering: TPM2_GetRandom has no timeout) would hold
 * the stop for ever, and with it the final report: after max_stale_ms and
 * one more round (a duration: by the monotonic clock, so a wall clock
 * stepped back does not lengthen it) the collector is left where it is.
 * True when it ended. */
static bool collector_join(entropyd *d, pthread_t collector) {
  int64_t ms = (int64_t)d->max_stale_ms + d->reseed_ms;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_clockjoin_np(collector, NULL, CLOCK_MONOTONIC, &until) == 0) return true;
  LOG_ERROR("lisec-entropyd: the collector is held in a source read for over %lld ms; stopping "
            "without it", (long long)ms);
  return false;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int opt;
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {0}};
  while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    if (opt == 'c') path = optarg;
    else if (opt == 'h') return usage(stdout);
    else if (opt == 'V') return printf("lisec-entropyd %s\n", LISEC_VERSION), 0;
    else return usage(stderr);
  }
  if (!path) return usage(stderr);
  lisec_err err = {0};
  lisec_config *cfg = NULL;
  if (lisec_config_load(path, known, &cfg, &err) != 0) {
    fprintf(stderr, "lisec-entropyd: %s\n", err.msg);
    return 2;
  }
  lisec_log_level lvl = LISEC_LOG_INFO;
  lisec_log_level_parse(lisec_config_str(cfg, "log", "level", "info"), &lvl);
  bool json = false;
  lisec_config_bool(cfg, "log", "json", false, &json, NULL);
  lisec_log_setup(lvl, json);

  entropyd *d = calloc(1, sizeof *d);
  if (!d) return 2;
  pthread_mutex_init(&d->lock, NULL);
  pthread_mutex_init(&d->conn_lock, NULL);
  /* Both are waited on for durations (the report interval, the stop's
   * bound): their deadlines are monotonic times. */
  pthread_condattr_t mono;
  pthread_condattr_init(&mono);
  pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
  pthread_cond_init(&d->conn_cv, &mono);
  pthread_cond_init(&d->report_cv, &mono);
  pthread_condattr_destroy(&mono);
  d->replay = rng_replay_new();
  int rc = d->replay ? configure(d, cfg, &err) : LISEC_ENOMEM;
  lisec_config_free(cfg);
  pthread_t collector, metrics, reporter;
  bool have_collector = false, have_metrics = false, have_reporter = false;
  if (!rc) {
    /* The first round runs before anything listens, so an unhealthy start
     * is visible at once in the log. */
    ed_collect_round(d);
    have_collector = pthread_create(&collector, NULL, ed_collector_main, d) == 0;
    if (!have_collector) rc = lisec_err_set(&err, LISEC_EINTERNAL, "collector thread");
  }
  if (!rc && d->metrics_listen[0]) {
    rc = ed_metrics_start(d, &metrics, &err);
    have_metrics = rc == 0;
  }
  if (!rc && d->report_url[0]) {
    rc = ed_report_start(d, &reporter, &err);
    have_reporter = rc == 0;
  }
  if (!rc) rc = ed_server_run(d, &err);
  atomic_store(&d->stop, true);
  bool collector_left = have_collector && !collector_join(d, collector);
  if (have_metrics) ed_metrics_stop(metrics);
  /* Last: the final report counts every seed the server issued. */
  if (have_reporter) ed_report_stop(d, reporter);
  if (rc) LOG_ERROR("lisec-entropyd: %s", err.msg);
  else LOG_INFO("lisec-entropyd stopped");
  /* A collector left in a read still uses the sources, d and its lock: the
   * process ends without freeing them under it. */
  if (collector_left) return rc ? 1 : 0;
  ed_sources_free(d);
  rng_replay_free(d->replay);
  if (d->tls) SSL_CTX_free(d->tls);
  pthread_cond_destroy(&d->conn_cv);
  pthread_cond_destroy(&d->report_cv);
  pthread_mutex_destroy(&d->conn_lock);
  pthread_mutex_destroy(&d->lock);
  free(d);
  return rc ? 1 : 0;
}
