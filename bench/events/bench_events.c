/* Signed LI VM events through lisecd's intake, beside its peers (issue 20:
 * ">= 20,000 signed events/s verified and appended durably on 2 cores").
 *   bench_events --dir D [--vms N] [--events K] [--batch B] [--rounds R]
 * opens a real controller on SQLite in D (development audit key, a sealing
 * key for the LI administration), registers, enables and pairs 2N LI VMs
 * (each its own P-256 key); N VMs sign K events each as signed batches of
 * B (form 2: one signature over the batch's digests), the other N each
 * event by itself (form 1); all signed beforehand (the VMs' work, not
 * timed). Then R rounds, each timing in turn, on N threads (one per VM),
 * a 1/R share of the events:
 *   lisec    (form 2) each thread parsing its bodies and calling
 *            ctl_events_intake: bounded parse, the VM's record read and its
 *            paired key, each event's digest against the batch's list, the
 *            batch signature verified, the sequence checked, one audit
 *            record per batch sealed to the LI administration and durable
 *            with the VM's seq (group commit) before it returns
 *   verify   the crypto peer of form 1: OpenSSL verifying each event's
 *            signature over its canonical bytes, nothing else
 *   verify_batch  the crypto peer of form 2: SHA-256 of each event's
 *            canonical bytes and one OpenSSL verification per batch
 *   sqlite   the storage peer: plain SQLite INSERTs of the same texts (WAL,
 *            synchronous=FULL, one transaction per batch), no verification
 *   lisec_form1  the intake on the form 1 bodies (every event verified)
 * Each result is one line "name value unit" (sums over the rounds). */
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "ctl/li.h"
#include "events/events.h"
#include "keys/keys.h"
#include "li/li.h"

typedef struct vm_load {
  char id[32];
  EVP_PKEY *key;
  char **bodies; /* one request body per batch */
  size_t n_bodies;
  char **canonical; /* per event, for the verify peers */
  uint8_t **sig;
  size_t *sig_len, n_events;
  char **stmt; /* form 2: per batch, the statement and its signature */
  uint8_t **bsig;
  size_t *bsig_len;
  size_t from, to; /* this round's batches */
  lisec_ctl *ctl;
  uint64_t done;
  int rc;
} vm_load;

static const char *dir;
static size_t batch = 16;
static int form = 1; /* of the VMs set up next */

static void die(const char *what, const lisec_err *err) {
  fprintf(stderr, "bench_events: %s: %s\n", what, err ? err->msg : "");
  exit(2);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static void write_file(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f)) die(path, NULL);
}

static void setup_vm(lisec_ctl *ctl, EVP_PKEY *admin, vm_load *v, size_t k) {
  static const ctl_actor mano = {"mano-1", "mano", CTL_ROLE_MANO}, hv = {"hv-1", "hypervisor-admin", CTL_ROLE_HV_ADMIN},
                         li = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};
  lisec_err err = {0};
  char *pem = NULL, *stmt = NULL;
  json_t *out = NULL, *body;
  if (crypto_pkey_generate(false, &v->key, &err) || crypto_pkey_public_pem(v->key, &pem, &err)) die("key", &err);
  body = json_pack("{s:s, s:s}", "vm", v->id, "pubkey", pem);
  if (ctl_li_instantiate(ctl, &mano, body, &out, &err)) die("instantiate", &err);
  json_decref(body), json_decref(out);
  if (ctl_li_enable(ctl, &hv, v->id, &out, &err)) die("enable", &err);
  json_decref(out);
  if (li_pair_sign(v->id, v->key, 0, lisec_time_now() + 3600, admin, &stmt, &err)) die("pair-sign", &err);
  body = json_pack("{s:s}", "statement", stmt);
  if (ctl_li_pair(ctl, &li, v->id, body, &out, &err)) die("pair", &err);
  json_decref(body), json_decref(out);
  free(stmt), free(pem);
  /* the VM's work: k signed events, batched */
  v->n_events = k;
  v->canonical = calloc(k, sizeof *v->canonical);
  v->sig = calloc(k, sizeof *v->sig);
  v->sig_len = calloc(k, sizeof *v->sig_len);
  v->n_bodies = (k + batch - 1) / batch;
  v->bodies = calloc(v->n_bodies, sizeof *v->bodies);
  size_t cap = batch * EV_EVENT_CEILING + 32;
  if (form == 2) {
    v->stmt = calloc(v->n_bodies, sizeof *v->stmt);
    v->bsig = calloc(v->n_bodies, sizeof *v->bsig);
    v->bsig_len = calloc(v->n_bodies, sizeof *v->bsig_len);
  }
  for (size_t b = 0; b < v->n_bodies; b++) {
    char *text = malloc(cap), *evs[EV_BATCH_CEILING];
    size_t at = (size_t)snprintf(text, cap, "{\"events\":["), m = 0;
    for (size_t i = b * batch; i < k && i < (b + 1) * batch; i++) {
      ev_record r;
      char *signed_ev = NULL, xid[48];
      snprintf(xid, sizeof xid, "5e7f0000-aaaa-4bbb-8ccc-%012zu", i);
      if (ev_record_init(&r, v->id, i + 1, lisec_time_now(), i % 2 ? "delivery" : "activation", &err) ||
          ev_record_add_detail(&r, "xid", xid, &err))
        die("event", &err);
      if (form == 2) {
        if (ev_unsigned_text(&r, &evs[m++], &err) || ev_canonical(&r, &v->canonical[i], &err)) die("event", &err);
        continue;
      }
      if (ev_sign(&r, v->key, &signed_ev, &err)) die("sign", &err);
      ev_signed s;
      if (ev_parse_bytes(signed_ev, strlen(signed_ev), EV_EVENT_CEILING, &s, &err)) die("parse", &err);
      v->canonical[i] = s.canonical, v->sig[i] = s.sig, v->sig_len[i] = s.sig_len;
      s.canonical = NULL, s.sig = NULL;
      ev_signed_clear(&s);
      at += (size_t)snprintf(text + at, cap - at, "%s%s", i % batch ? "," : "", signed_ev);
      free(signed_ev);
    }
    if (form == 2) {
      /* the VM's side of a signed batch, as liblisec-events does it */
      free(text);
      if (ev_signed_batch_statement((const char *const *)evs, m, EV_EVENT_CEILING, &v->stmt[b], &err) ||
          crypto_pkey_sign(v->key, v->stmt[b], strlen(v->stmt[b]), &v->bsig[b], &v->bsig_len[b], &err) ||
          ev_signed_batch_body((const char *const *)evs, m, v->stmt[b], v->bsig[b], v->bsig_len[b], &text, &err))
        die("sign batch", &err);
      for (size_t i = 0; i < m; i++) free(evs[i]);
    } else snprintf(text + at, cap - at, "]}");
    v->bodies[b] = text;
  }
}

static void *run_lisec(void *arg) {
  vm_load *v = arg;
  static const ctl_actor vm = {"vm-1", "vm", CTL_ROLE_VM};
  for (size_t b = v->from; b < v->to && !v->rc; b++) {
    lisec_err err = {0};
    json_t *body = NULL, *out = NULL;
    if ((v->rc = lisec_json_parse(v->bodies[b], strlen(v->bodies[b]), &body, &err)) ||
        (v->rc = ctl_events_intake(v->ctl, &vm, body, &out, &err)))
      fprintf(stderr, "bench_events: intake: %s\n", err.msg);
    else v->done += (uint64_t)json_integer_value(json_object_get(out, "accepted"));
    json_decref(body), json_decref(out);
  }
  return NULL;
}

static void *run_verify(void *arg) {
  vm_load *v = arg;
  lisec_err err = {0};
  for (size_t i = v->from * batch; i < v->to * batch && i < v->n_events && !v->rc; i++) {
    if ((v->rc = crypto_pkey_verify(v->key, v->canonical[i], strlen(v->canonical[i]), v->sig[i], v->sig_len[i], &err)))
      fprintf(stderr, "bench_events: verify: %s\n", err.msg);
    else v->done++;
  }
  return NULL;
}

static void *run_verify_batch(void *arg) {
  vm_load *v = arg;
  lisec_err err = {0};
  for (size_t b = v->from; b < v->to && !v->rc; b++) {
    uint8_t d[EV_DIGEST_LEN];
    size_t i = b * batch;
    for (; i < v->n_events && i < (b + 1) * batch; i++) crypto_sha256(v->canonical[i], strlen(v->canonical[i]), d);
    if ((v->rc = crypto_pkey_verify(v->key, v->stmt[b], strlen(v->stmt[b]), v->bsig[b], v->bsig_len[b], &err)))
      fprintf(stderr, "bench_events: verify batch: %s\n", err.msg);
    else v->done += i - b * batch;
  }
  return NULL;
}

static void *run_sqlite(void *arg) {
  vm_load *v = arg;
  char path[512];
  snprintf(path, sizeof path, "%s/plain.db", dir);
  sqlite3 *db = NULL;
  sqlite3_stmt *ins = NULL;
  if (sqlite3_open(path, &db) || sqlite3_busy_timeout(db, 60000) ||
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) ||
      sqlite3_prepare_v2(db, "INSERT INTO events(vm, seq, body) VALUES (?, ?, ?)", -1, &ins, NULL)) {
    fprintf(stderr, "bench_events: sqlite: %s\n", sqlite3_errmsg(db));
    v->rc = -1;
  }
  for (size_t b = v->from; b < v->to && !v->rc; b++) {
    /* the same texts, one row per event, one transaction per batch */
    const char *p = v->bodies[b] + strlen("{\"events\":[");
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = b * batch; i < v->n_events && i < (b + 1) * batch; i++) {
      const char *end = strstr(p, "\"},{\"event\"");
      size_t len = end ? (size_t)(end - p) + 2 : strlen(p) - 2;
      sqlite3_bind_text(ins, 1, v->id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, (sqlite3_int64)i + 1);
      sqlite3_bind_text(ins, 3, p, (int)len, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) v->rc = -1;
      sqlite3_reset(ins);
      p += len + 1;
      v->done++;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) v->rc = -1;
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return NULL;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec / 1e6;
}

static double cpu_used; /* of the last timed run: CPU seconds of this process */

/* Runs fn on n threads over round r of rounds; adds the events done, the
 * wall and the CPU time to *sum. */
typedef struct tally {
  uint64_t events;
  double wall, cpu;
} tally;

static void timed(vm_load *vms, size_t n, void *(*fn)(void *), size_t r, size_t rounds, tally *sum) {
  pthread_t th[64];
  for (size_t i = 0; i < n; i++) {
    vms[i].done = 0, vms[i].rc = 0;
    vms[i].from = vms[i].n_bodies * r / rounds, vms[i].to = vms[i].n_bodies * (r + 1) / rounds;
  }
  double c0 = cpu_s(), t0 = now_s();
  for (size_t i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, &vms[i]);
  for (size_t i = 0; i < n; i++) pthread_join(th[i], NULL);
  sum->wall += now_s() - t0;
  cpu_used = cpu_s() - c0;
  sum->cpu += cpu_used;
  for (size_t i = 0; i < n; i++) {
    if (vms[i].rc) exit(2);
    sum->events += vms[i].done;
  }
}

static void report(const char *name, const tally *t, const char *what) {
  printf("%s_events_per_s %.0f events/s (%llu events, %.2f s; %s)\n", name, (double)t->events / t->wall,
         (unsigned long long)t->events, t->wall, what);
  printf("%s_events_per_cpu_s %.0f events per CPU second\n", name, (double)t->events / t->cpu);
}

int main(int argc, char **argv) {
  dir = opt(argc, argv, "--dir", NULL);
  size_t n = (size_t)atoi(opt(argc, argv, "--vms", "4")), k = (size_t)atoi(opt(argc, argv, "--events", "10000"));
  size_t rounds = (size_t)atoi(opt(argc, argv, "--rounds", "3"));
  batch = (size_t)atoi(opt(argc, argv, "--batch", "16"));
  if (!dir || n < 1 || n > 32 || k < 1 || batch < 1 || batch > EV_BATCH_CEILING || rounds < 1 || rounds > 20 ||
      sodium_init() < 0) {
    fprintf(stderr, "usage: bench_events --dir D [--vms 1-32] [--events K] [--batch 1-16] [--rounds 1-20]\n");
    return 2;
  }
  lisec_err err = {0};
  uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  char *b64 = NULL, *pem = NULL, path[512];
  EVP_PKEY *admin = NULL;
  if (crypto_base64_encode(pk, sizeof pk, &b64) || crypto_pkey_generate(false, &admin, &err) ||
      crypto_pkey_public_pem(admin, &pem, &err))
    die("keys", &err);
  write_file("li-audit.pub", b64);
  write_file("li-admin.pem", pem);
  free(b64), free(pem);
  lisec_config *cfg = lisec_config_new();
  snprintf(path, sizeof path, "sqlite:%s/lisec.db", dir);
  lisec_config_set(cfg, "store", "url", path);
  snprintf(path, sizeof path, "%s/audit-dev.pem", dir);
  lisec_config_set(cfg, "audit", "development_key_file", path);
  lisec_config_set(cfg, "audit", "allow_development_key", "true");
  snprintf(path, sizeof path, "%s/li-audit.pub", dir);
  lisec_config_set(cfg, "audit", "li_admin_key", path);
  snprintf(path, sizeof path, "%s/li-admin.pem", dir);
  lisec_config_set(cfg, "li", "admin_pubkey", path);
  keys_client *keys = NULL;
  lisec_ctl *ctl = NULL;
  if (keys_local_start(cfg, &keys, &err) || ctl_open(cfg, keys, &ctl, &err)) die("ctl_open", &err);
  lisec_config_free(cfg);
  /* vms[0..n): form 2 (signed batches); vms[n..2n): form 1 */
  vm_load *vms = calloc(2 * n, sizeof *vms);
  for (size_t i = 0; i < 2 * n; i++) {
    form = i < n ? 2 : 1;
    snprintf(vms[i].id, sizeof vms[i].id, "vm-bench-f%d-%zu", form, i % n);
    setup_vm(ctl, admin, &vms[i], k);
    if (ctl_open_worker(ctl, &vms[i].ctl, &err)) die("worker", &err);
  }
  snprintf(path, sizeof path, "%s/plain.db", dir);
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) ||
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE events(id INTEGER PRIMARY KEY, vm TEXT, seq INTEGER, body TEXT)",
                   NULL, NULL, NULL))
    die("sqlite", NULL);
  sqlite3_close(db);
  /* alternating rounds, so the machine's load falls on every side alike */
  tally lisec = {0}, verify = {0}, verify_batch = {0}, sqlite = {0}, lisec1 = {0};
  for (size_t r = 0; r < rounds; r++) {
    timed(vms, n, run_lisec, r, rounds, &lisec);
    timed(vms + n, n, run_verify, r, rounds, &verify);
    timed(vms, n, run_verify_batch, r, rounds, &verify_batch);
    timed(vms + n, n, run_sqlite, r, rounds, &sqlite);
    timed(vms + n, n, run_lisec, r, rounds, &lisec1);
  }
  char what[128];
  snprintf(what, sizeof what, "signed batches of %zu, %zu VMs, %zu rounds", batch, n, rounds);
  report("lisec", &lisec, what);
  report("verify", &verify, "OpenSSL verify of each event alone");
  report("verify_batch", &verify_batch, "SHA-256 of each event and OpenSSL verify of each batch alone");
  report("sqlite", &sqlite, "plain INSERT, WAL, synchronous=FULL, a transaction per batch");
  report("lisec_form1", &lisec1, "the intake, each event signed by itself");
  n *= 2;
  for (size_t i = 0; i < n; i++) {
    ctl_close(vms[i].ctl);
    for (size_t j = 0; j < vms[i].n_events; j++) free(vms[i].canonical[j]), free(vms[i].sig[j]);
    for (size_t j = 0; j < vms[i].n_bodies; j++) {
      free(vms[i].bodies[j]);
      if (vms[i].stmt) free(vms[i].stmt[j]), free(vms[i].bsig[j]);
    }
    free(vms[i].stmt), free(vms[i].bsig), free(vms[i].bsig_len);
    free(vms[i].canonical), free(vms[i].sig), free(vms[i].sig_len), free(vms[i].bodies);
    EVP_PKEY_free(vms[i].key);
  }
  free(vms);
  ctl_close(ctl);
  keys_client_close(keys);
  EVP_PKEY_free(admin);
  return 0;
}
