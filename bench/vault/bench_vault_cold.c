/* bench/vault/bench_vault_cold: target reads when the data-key cache does
 * not help (issue 22 item 3), beside plaintext reads of the same rows in the
 * same SQLite store, each read opened as the keys process opens it
 * (keys/kek.h: the record's KEK by label, the cache, the token on a miss).
 * The token is reached through bench/vault/p11delay, which waits
 * LISEC_BENCH_P11_DELAY_US before each token call: 0 is SoftHSM2 as it is,
 * 1000 a network HSM 1 ms away. For each delay given, in this order:
 *   restart   a KEK opened afresh (as after a lisecd restart), reading
 *             SMALL records it has never seen: every read asks the token;
 *   warm      the same records again (the cache's best case);
 *   capacity  the first SMALL records again after all COLD records (more
 *             distinct keys than the cache holds) were read at delay 0
 *             (to fill the cache fast): they were evicted;
 *   batch/S   a KEK opened afresh with S token sessions (BENCH_BATCH_SESSIONS,
 *             default "1 4 8") reading SMALL records in batches of 256 as
 *             an OPEN_BATCH does: the batch's misses unwrapped at once;
 *   ttl       (with TTL_WAIT 1) the restart records once more after every
 *             KEK's cache entries expired (waits the cache TTL + 2 s, once
 *             for all delays).
 * Prints reads/s, µs per read, token calls per read and the ratio to the
 * plaintext rate measured right before each phase (alternating). Bounded
 * by the counts given.
 * `populate` writes N sealed targets as lisecd stores them (kind "target",
 * ids PREFIX-1..N, under the token's KEK, one transaction), for
 * bench/vault/rotate to rotate: making 100,000 targets through the API
 * would take longer than the rotation it measures. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "keys/kek.h"
#include "store/store.h"
#include "vault/vault.h"

#define MAX_DELAYS 4
#define CACHE_TTL_S 60 /* keys/kek.c CACHE_TTL_MS */

static const char *IDS = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"},"
                         "{\"kind\":\"e164\",\"value\":\"358401234567\"}]";
static unsigned long (*token_calls)(void);
static lisec_store *st;

static double now_s(void) { return (double)lisec_time_mono_ns() / 1e9; }

/* This process's user+sys CPU seconds. */
static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void set_delay(long us) {
  char v[32];
  snprintf(v, sizeof v, "%ld", us);
  setenv("LISEC_BENCH_P11_DELAY_US", v, 1);
}

static int fail(const lisec_err *err) { return fprintf(stderr, "bench_vault_cold: %s\n", err->msg), 1; }

/* Writes n sealed records and n plaintext rows, one transaction each. */
static int populate(keys_kek *kek, int n) {
  lisec_err err = {0};
  json_error_t je;
  json_t *ids = json_loads(IDS, 0, &je);
  vault_kek vk = keys_kek_vault(kek);
  char id[64];
  if (store_begin(st, &err)) return fail(&err);
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "cold-%d", i);
    vault_sealed sealed;
    json_t *j = NULL;
    if (vault_seal(id, "li-1", 1, ids, &vk, &sealed, &err) || vault_sealed_to_json(&sealed, &j, &err))
      return fail(&err);
    char *body = lisec_json_dump_canonical(j);
    if (store_doc_put(st, "bench-cold", id, body, 0, NULL, &err)) return fail(&err);
    free(body);
    json_decref(j);
    vault_sealed_free(&sealed);
    snprintf(id, sizeof id, "plain-%d", i);
    body = json_dumps(ids, JSON_COMPACT);
    if (store_doc_put(st, "bench-cold-plain", id, body, 0, NULL, &err)) return fail(&err);
    free(body);
  }
  if (store_commit(st, &err)) return fail(&err);
  keys_kek_release(kek, vk.ctx);
  json_decref(ids);
  return 0;
}

/* Plaintext reads of rows [0, n): per second. */
static double plain_reads(int n) {
  lisec_err err = {0};
  char id[64];
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "plain-%d", i);
    char *body = NULL;
    json_t *j = NULL;
    if (store_doc_get(st, "bench-cold-plain", id, &body, NULL, &err) ||
        lisec_json_parse(body, strlen(body), &j, &err))
      return fail(&err), -1;
    json_decref(j);
    free(body);
  }
  return n / (now_s() - t0);
}

/* Sealed reads of records [0, n) opened through kek: per second; *calls
 * gets the token calls made per read, *cpu_us the CPU per read. */
static double sealed_reads(keys_kek *kek, int n, double *calls, double *cpu_us) {
  lisec_err err = {0};
  char id[64];
  unsigned long c0 = token_calls ? token_calls() : 0;
  double t0 = now_s(), u0 = cpu_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "cold-%d", i);
    char *body = NULL;
    json_t *back = NULL;
    vault_sealed sealed;
    vault_opener op;
    if (store_doc_get(st, "bench-cold", id, &body, NULL, &err) ||
        vault_sealed_parse(body, strlen(body), &sealed, &err) ||
        keys_kek_for(kek, sealed.kek_label, NULL, &op, &err) || vault_open_with(&sealed, &op, &back, &err))
      return fail(&err), -1;
    keys_kek_release(kek, op.ctx);
    json_decref(back);
    vault_sealed_free(&sealed);
    free(body);
  }
  double rate = n / (now_s() - t0);
  if (cpu_us) *cpu_us = (cpu_s() - u0) * 1e6 / n;
  if (calls) *calls = token_calls ? (double)(token_calls() - c0) / n : -1;
  return rate;
}

/* Sealed reads of records [0, n) as the keys process answers an
 * OPEN_BATCH: BATCH records loaded, their missing data keys unwrapped at
 * once over the KEK's sessions (keys_kek_prefetch), then each opened. */
#define BATCH 256
static double batch_reads(keys_kek *kek, int n, double *calls, double *cpu_us) {
  lisec_err err = {0};
  char id[64];
  vault_sealed *recs = calloc(BATCH, sizeof *recs);
  if (!recs) return -1;
  unsigned long c0 = token_calls ? token_calls() : 0;
  double t0 = now_s(), u0 = cpu_s();
  for (int at = 0; at < n; at += BATCH) {
    int m = n - at < BATCH ? n - at : BATCH;
    for (int i = 0; i < m; i++) {
      snprintf(id, sizeof id, "cold-%d", at + i);
      char *body = NULL;
      if (store_doc_get(st, "bench-cold", id, &body, NULL, &err) ||
          vault_sealed_parse(body, strlen(body), &recs[i], &err))
        return fail(&err), -1;
      free(body);
    }
    (void)keys_kek_prefetch(kek, recs, (size_t)m);
    for (int i = 0; i < m; i++) {
      json_t *back = NULL;
      vault_opener op;
      if (keys_kek_for(kek, recs[i].kek_label, NULL, &op, &err) || vault_open_with(&recs[i], &op, &back, &err))
        return fail(&err), -1;
      keys_kek_release(kek, op.ctx);
      json_decref(back);
      vault_sealed_free(&recs[i]);
    }
  }
  free(recs);
  double rate = n / (now_s() - t0);
  *cpu_us = (cpu_s() - u0) * 1e6 / n;
  *calls = token_calls ? (double)(token_calls() - c0) / n : -1;
  return rate;
}

/* A fresh KEK with `sessions` token sessions, reading n records it has
 * never seen in batches. */
static int batch_phase(const keys_kek_pkcs11_config *pc, unsigned sessions, long delay, int n) {
  lisec_err err = {0};
  keys_kek *kek = NULL;
  if (keys_kek_open_pkcs11_sessions(pc, sessions, &kek, &err)) return fail(&err);
  double u0 = cpu_s(), p = plain_reads(n), pcpu = (cpu_s() - u0) * 1e6 / n, calls = 0, cpu = 0;
  set_delay(delay);
  double r = batch_reads(kek, n, &calls, &cpu);
  set_delay(0);
  keys_kek_close(kek);
  if (p < 0 || r < 0) return 1;
  printf("  batch/%-3u delay %5ld us  %6d reads: plaintext %9.0f/s (cpu %5.1f us)  sealed %9.0f/s (cpu %6.1f us, "
         "wall %8.1f us)  %.2f token calls/read  ratio %.2fx (goal <= 2x: %s)\n",
         sessions, delay, n, p, pcpu, r, cpu, 1e6 / r, calls, p / r, p / r <= 2 ? "met" : "NOT met");
  fflush(stdout);
  return 0;
}

static int phase(const char *name, long delay, keys_kek *kek, int n) {
  double u0 = cpu_s(), p = plain_reads(n), pcpu = (cpu_s() - u0) * 1e6 / n, calls = 0, cpu = 0;
  set_delay(delay);
  double r = sealed_reads(kek, n, &calls, &cpu);
  set_delay(0);
  if (p < 0 || r < 0) return 1;
  printf("  %-9s delay %5ld us  %6d reads: plaintext %9.0f/s (cpu %5.1f us)  sealed %9.0f/s (cpu %6.1f us, "
         "wall %8.1f us)  %.2f token calls/read  ratio %.2fx (goal <= 2x: %s)\n",
         name, delay, n, p, pcpu, r, cpu, 1e6 / r, calls, p / r, p / r <= 2 ? "met" : "NOT met");
  fflush(stdout);
  return 0;
}

/* populate STORE_URL MODULE TOKEN PIN KEY_LABEL AUTHORISATION PREFIX N */
static int cmd_populate(char **a) {
  int n = atoi(a[7]);
  if (n < 1 || n > 10000000) return 2;
  keys_kek_pkcs11_config pc = {a[1], a[2], a[3], a[4], false, getenv("BENCH_P11_INIT_ARGS")};
  keys_kek *kek = NULL;
  lisec_err err = {0};
  if (store_open(a[0], &st, &err) || keys_kek_open_pkcs11(&pc, &kek, &err)) return fail(&err);
  json_error_t je;
  json_t *ids = json_loads(IDS, 0, &je);
  vault_kek vk = keys_kek_vault(kek);
  char id[64];
  double t0 = now_s();
  if (store_begin(st, &err)) return fail(&err);
  for (int i = 1; i <= n; i++) {
    snprintf(id, sizeof id, "%.40s-%d", a[6], i);
    vault_sealed sealed;
    json_t *j = NULL;
    if (vault_seal(id, a[5], 1, ids, &vk, &sealed, &err) || vault_sealed_to_json(&sealed, &j, &err))
      return fail(&err);
    char *body = lisec_json_dump_canonical(j); /* as ctl/targets.c saves it */
    if (store_doc_put(st, "target", id, body, 0, NULL, &err)) return fail(&err);
    free(body);
    json_decref(j);
    vault_sealed_free(&sealed);
  }
  if (store_commit(st, &err)) return fail(&err);
  printf("populate: %d sealed targets under %s in %.1f s\n", n, vk.label, now_s() - t0);
  keys_kek_release(kek, vk.ctx);
  json_decref(ids);
  keys_kek_close(kek);
  store_close(st);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 10 && strcmp(argv[1], "populate") == 0) return cmd_populate(argv + 2);
  if (argc < 7) {
    fprintf(stderr, "usage: bench_vault_cold STORE_URL P11DELAY_MODULE COLD SMALL TTL_WAIT DELAY_US...\n");
    return 2;
  }
  int cold = atoi(argv[3]), small = atoi(argv[4]), ttl_wait = atoi(argv[5]), nd = argc - 6;
  if (cold < 1 || cold > 1000000 || small < 1 || small > cold || nd > MAX_DELAYS) return 2;
  long delays[MAX_DELAYS];
  for (int i = 0; i < nd; i++) delays[i] = atol(argv[6 + i]);
  set_delay(0);
  lisec_err err = {0};
  /* SoftHSM2's token "bench", or another named by BENCH_P11_TOKEN with the
   * module's C_Initialize parameters in BENCH_P11_INIT_ARGS (NSS's softoken) */
  const char *token = getenv("BENCH_P11_TOKEN");
  keys_kek_pkcs11_config pc = {argv[2], token ? token : "bench", "1234", "bench-kek", true,
                               getenv("BENCH_P11_INIT_ARGS")};
  keys_kek *writer = NULL, *kek[MAX_DELAYS] = {0};
  if (store_open(argv[1], &st, &err) || keys_kek_open_pkcs11(&pc, &writer, &err)) return fail(&err);
  void *self = dlopen(argv[2], RTLD_NOW | RTLD_NOLOAD);
  if (self) *(void **)&token_calls = dlsym(self, "lisec_bench_p11_calls");
  double t0 = now_s();
  if (populate(writer, cold)) return 1;
  printf("bench_vault_cold: %d sealed + %d plaintext records written in %.1f s; the cache holds 16384 keys\n",
         cold, cold, now_s() - t0);
  keys_kek_close(writer);
  int rc = 0;
  for (int d = 0; d < nd && !rc; d++) {
    set_delay(delays[d]); /* the open's key lookup goes to the token too */
    if (keys_kek_open_pkcs11(&pc, &kek[d], &err)) return fail(&err);
    set_delay(0);
    rc = phase("restart", delays[d], kek[d], small) || phase("warm", delays[d], kek[d], small);
    /* batches of records (the ADMF's OPEN_BATCH), cold, over 1..N sessions */
    const char *bs = getenv("BENCH_BATCH_SESSIONS");
    char list[64];
    snprintf(list, sizeof list, "%s", bs ? bs : "1 4 8");
    for (char *save = NULL, *t = strtok_r(list, " ", &save); t && !rc; t = strtok_r(NULL, " ", &save))
      rc = batch_phase(&pc, (unsigned)atoi(t), delays[d], small);
    if (!rc && cold > 16384) {
      double c = 0;
      if (sealed_reads(kek[d], cold, &c, NULL) < 0) return 1; /* at delay 0: fills the cache */
      rc = phase("capacity", delays[d], kek[d], small);
    }
  }
  if (!rc && ttl_wait) {
    printf("  (waiting %d s for every cached data key to expire)\n", CACHE_TTL_S + 2);
    fflush(stdout);
    sleep(CACHE_TTL_S + 2);
    for (int d = 0; d < nd && !rc; d++) rc = phase("ttl", delays[d], kek[d], small);
  }
  for (int d = 0; d < nd; d++) keys_kek_close(kek[d]);
  store_close(st);
  return rc;
}
