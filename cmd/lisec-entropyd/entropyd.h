/* lisec-entropyd: the NFV platform's source of true random numbers for VNFs
 * (TR 103 308 §4.2, §5.15). Raw sources (RDSEED, getrandom, the TPM's
 * TPM2_GetRandom, CPU jitter) each pass the SP 800-90B continuous health
 * tests; healthy output is conditioned into a pool that reseeds the serving
 * DRBG; seeds go out over mutually authenticated TLS (TCP and AF_VSOCK) to
 * registered VNF identities only, one per fresh (nonce, counter) request. */
#ifndef LISEC_ENTROPYD_H
#define LISEC_ENTROPYD_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "crypto/cert_role.h"
#include "rng/rng.h"

#define ED_MAX_SOURCES 6
#define ED_MAX_CLIENTS 1024
#define ED_NAME_MAX 128
#define ED_PEER_MAX 64 /* INET6_ADDRSTRLEN, or "vsock:" and a CID */
#define ED_WHY_MAX 128  /* why a VNF's certificate was refused (peer.c) */

typedef enum {
  ED_SRC_RDSEED,
  ED_SRC_GETRANDOM,
  ED_SRC_TPM,
  ED_SRC_JITTER,
  ED_SRC_RDRAND,
  ED_SRC_DEVICE, /* a character device such as /dev/hwrng (virtio-rng) */
} ed_src_kind;

typedef struct ed_source {
  ed_src_kind kind;
  const char *name;
  bool enabled, available; /* configured / present on this machine */
  double h;                /* claimed min-entropy per sample (bits) */
  size_t block;            /* samples per collection round */
  rng_health health;
  char reason[256];        /* why it is excluded, if it is */
  uint64_t rounds, bytes, read_errors;
  double credited_bits;
  void *tpm;               /* ESYS context for the TPM source */
  void *tcti;
  char path[256];          /* TCTI configuration or device path */
  int fd;
  bool logged;
  int64_t since;           /* when it entered its current state (seconds since the epoch:
                            * a time reported, the wall clock's) */
} ed_source;

/* A client's reference in the daemon's log: hex of HMAC-SHA-256 under a
 * key drawn at each start, over the client's name (main.c). It names no
 * client and reads alike for an LI VNF and any other; the reports to
 * lisecd carry it beside the name, so lisecd's record of what it refers to
 * (rng.replay, sealed for an LI VNF) says whose it is. */
#define ED_REF_HEX RNG_REPORT_REF_LEN

typedef struct ed_client {
  char name[ED_NAME_MAX];
  char ref[ED_REF_HEX + 1];
  rng_bucket bucket;
  uint64_t seeds, bytes, refused_replay, refused_rate, last_issue_s;
  bool li;                     /* an LI VNF: lisecd seals its issuance records */
  uint64_t acked_seeds, acked_bytes, acked_replays; /* what lisecd has acknowledged (report.c) */
} ed_client;

/* Why requests were refused (metrics.c names them); ED_REF_ROLE: a client
 * certificate whose role is not vnf (server.c). */
/* ED_REF_AHEAD: a counter over [clients] max_counter_ahead_s ahead of the
 * daemon's clock (server.c). */
enum { ED_REF_UNKNOWN, ED_REF_REPLAY, ED_REF_RATE, ED_REF_MALFORMED, ED_REF_UNHEALTHY, ED_REF_ROLE,
       ED_REF_AHEAD, ED_REF_N };

/* The role a VNF's client certificate carries (docs/rng.md, "Which client
 * is a VNF"); `lisec pki issue DIR NAME vnf NAME` issues it. */
#define ED_VNF_ROLE "vnf"

typedef struct entropyd {
  /* configuration */
  char listen[256];
  int vsock_port, max_conns, max_conns_per_peer, idle_timeout_s;
  char metrics_listen[256];
  double rate, burst;
  int max_counter_ahead_s; /* [clients]: how far ahead of the real time a counter may be */
  crypto_role_source role_source; /* [clients] role_source: where a certificate carries its role */
  unsigned alpha_log2;
  int min_sources, reseed_ms, max_stale_ms;
  SSL_CTX *tls;

  /* entropy side, owned by the collector thread; the lock guards what the
   * server and the metrics read */
  ed_source src[ED_MAX_SOURCES];
  size_t nsrc;
  rng_pool pool;
  pthread_mutex_t lock;
  EVP_RAND_CTX *drbg;      /* serving DRBG, reseeded from the pool */
  bool serving;
  char unhealthy_reason[256];
  uint64_t reseeds, pool_short;
  int64_t last_reseed_ms;

  /* clients and issuance (under lock) */
  ed_client clients[ED_MAX_CLIENTS];
  size_t nclients;
  rng_replay *replay;
  uint64_t refused[ED_REF_N];
  uint64_t conns_total;

  /* reports to lisecd (report.c); under lock except the curl handle */
  char report_url[512], report_cert[512], report_key[512], report_ca[512];
  int report_interval_s, report_timeout_s;
  pthread_cond_t report_cv;
  bool report_due;
  uint64_t reports_ok, reports_failed;
  char report_error[256];

  /* run state */
  atomic_bool stop;
  atomic_int active_conns;
  pthread_mutex_t conn_lock;
  pthread_cond_t conn_cv;
  int conn_fds[4096];
  /* the peer of each slot (an IP address, or vsock:CID): one peer holds at
   * most max_conns_per_peer slots, before any certificate is seen */
  char conn_peer[4096][ED_PEER_MAX];
  uint64_t conns_refused_max, conns_refused_peer, conns_refused_cert; /* under conn_lock */
} entropyd;

/* sources.c */
int ed_sources_setup(entropyd *d, const lisec_config *cfg, lisec_err *err);
/* One collection round: read, health-test, credit, and reseed the serving
 * DRBG when the pool holds enough; updates d->serving. */
void ed_collect_round(entropyd *d);
void *ed_collector_main(void *arg);
/* True (and d->serving cleared, with the reason) when the last reseed from
 * credited entropy is older than max_stale_ms, whether or not the collector
 * has finished a round since. Called with d->lock held. */
bool ed_stale_locked(entropyd *d);
void ed_sources_free(entropyd *d);

/* peer.c: the context verifies a VNF's certificate as a TLS client's
 * (clientAuth in its extended key usage); during a handshake whose SSL's app
 * data points to an ED_WHY_MAX buffer (empty), a refused certificate leaves
 * its reason there. */
void ed_tls_require_client_auth(SSL_CTX *c);

/* server.c */
int ed_server_run(entropyd *d, lisec_err *err);
ed_client *ed_client_find(entropyd *d, const char *name);

/* report.c: issuance summaries and health changes to lisecd over mutual
 * TLS (libcurl), kept and resent until acknowledged. */
int ed_report_configure(entropyd *d, const lisec_config *cfg, lisec_err *err);
int ed_report_start(entropyd *d, pthread_t *th, lisec_err *err);
/* Sends what is pending once more (bounded by the timeout) and stops. */
void ed_report_stop(entropyd *d, pthread_t th);
/* Asks for a report now (a source was excluded, serving changed). */
void ed_report_wake(entropyd *d);

/* metrics.c */
int ed_metrics_start(entropyd *d, pthread_t *th, lisec_err *err);
void ed_metrics_stop(pthread_t th);
/* Writes the Prometheus text or the JSON health document into b. */
void ed_metrics_text(entropyd *d, lisec_buf *b);
void ed_health_json(entropyd *d, lisec_buf *b);

#endif
