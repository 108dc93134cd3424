/* bench/vault: (1) encrypted target writes and reads (seal under a fresh
 * data key wrapped in a SoftHSM2 token, store; load, unwrap, open) beside
 * the same writes and reads of plaintext rows in the same SQLite store;
 * (2) KEK rotation as lisecd does it (every data key unwrapped by the old
 * token key and wrapped by a new one, rows rewritten in one transaction)
 * beside rewriting the plaintext rows in one transaction, with a fresh KEK
 * so no data key is cached; (3) ActivateTask+DeactivateTask round trips
 * to lisec-ne over mutual TLS keep-alive; (4) the encrypted writes and
 * reads again as lisecd's controller makes them since issue 16: sealed and
 * opened by a keys process (forked here, the service of keys/keys.h) over a
 * socketpair, one round trip each, and the reads again in batches of
 * [keys] max_batch records a round trip (OPEN_BATCH). Bounded in count
 * and time; prints rates and the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys/kek.h"
#include "keys/keys.h"
#include "ctl/x1_admf.h"
#include "store/store.h"
#include "vault/vault.h"

#define READ_ROUNDS 7

static double now_s(void) { return (double)lisec_time_mono_ns() / 1e9; }

static const char *IDS = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"},"
                         "{\"kind\":\"e164\",\"value\":\"358401234567\"}]";

/* A keys process with the bench token's KEK, forked; *pid to reap. */
static int keys_fork(const char *module, const char *dir, keys_client **out, pid_t *pid) {
  char pin[600];
  snprintf(pin, sizeof pin, "%.512s/bench-keys.pin", dir);
  lisec_err err = {0};
  if (lisec_file_write_atomic(pin, "1234", 4, 0600, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "vault", "pkcs11_module", module);
  lisec_config_set(cfg, "vault", "token", "bench");
  lisec_config_set(cfg, "vault", "pin_file", pin);
  lisec_config_set(cfg, "vault", "key_label", "bench-kek");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return perror("socketpair"), 1;
  fflush(NULL);
  *pid = fork();
  if (*pid < 0) return perror("fork"), 1;
  if (*pid == 0) {
    close(sv[0]);
    keys_service *ks = NULL;
    int rc = keys_service_open(cfg, &ks, &err) || keys_service_serve(ks, sv[1], &err);
    if (rc) fprintf(stderr, "keys: %s\n", err.msg);
    keys_service_close(ks);
    _exit(rc);
  }
  close(sv[1]);
  /* the controller's side of [keys] spin_us, as cmd/lisecd/controller.c sets it */
  keys_settings ks;
  int rc = keys_settings_parse(cfg, &ks, &err) || keys_client_open(sv[0], out, &err);
  lisec_config_free(cfg);
  if (rc) return fprintf(stderr, "%s\n", err.msg), 1;
  keys_client_configure(*out, &ks);
  return 0;
}

/* Plaintext rows of kind and n, written (*w per second), or read (best
 * pass into *r) when w is NULL. */
static int plain_pass(lisec_store *s, const char *kind, const json_t *ids, int n, double *w, double *r) {
  lisec_err err = {0};
  char id[64];
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "%s-%d", kind, i);
    if (w) {
      char *body = json_dumps(ids, JSON_COMPACT);
      if (store_doc_put(s, kind, id, body, 0, NULL, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
      free(body);
    } else {
      char *body = NULL;
      json_t *j = NULL;
      if (store_doc_get(s, kind, id, &body, NULL, &err) || lisec_json_parse(body, strlen(body), &j, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
      json_decref(j);
      free(body);
    }
  }
  double rate = n / (now_s() - t0);
  if (w) *w = rate;
  else if (rate > *r) *r = rate;
  return 0;
}

/* The same writes and reads as lisecd's controller makes them since issue
 * 16: sealed and opened by a keys process over a socketpair, one round trip
 * each, beside plaintext rows written and read in the same phase (the
 * in-process KEK is closed by then: one process on the token, as in
 * lisecd). in_process_us: what an in-process open added to a plaintext
 * read, to tell the hop apart. */
static void count_opened(void *ctx, size_t i, int rc, const char *msg, json_t *ids) {
  (void)i, (void)msg;
  if (!rc) (*(int *)ctx)++;
  json_decref(ids);
}

static int bench_keys(const char *url, keys_client *keys, int n, double in_process_us) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  json_error_t je;
  json_t *ids = json_loads(IDS, 0, &je);
  char id[64];
  double plain_w = 0, plain_r = 0, w = 0, r = 0, rb = 0;
  if (plain_pass(s, "bench-plain-k", ids, n, &plain_w, NULL)) return 1;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "keys-%d", i);
    vault_sealed sealed;
    json_t *j = NULL;
    if (keys_vault_seal(keys, id, "li-1", 1, ids, &sealed, &err) || vault_sealed_to_json(&sealed, &j, &err))
      return fprintf(stderr, "%s\n", err.msg), 1;
    char *body = lisec_json_dump_canonical(j);
    if (store_doc_put(s, "bench-keys", id, body, 0, NULL, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    free(body);
    json_decref(j);
    vault_sealed_free(&sealed);
  }
  w = n / (now_s() - t0);
  for (int round = 0; round < READ_ROUNDS; round++) {
    if (plain_pass(s, "bench-plain-k", ids, n, NULL, &plain_r)) return 1;
    t0 = now_s();
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "keys-%d", i);
      char *body = NULL;
      json_t *back = NULL;
      vault_sealed sealed;
      if (store_doc_get(s, "bench-keys", id, &body, NULL, &err) ||
          vault_sealed_parse(body, strlen(body), &sealed, &err) || keys_vault_open(keys, &sealed, &back, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
      json_decref(back);
      vault_sealed_free(&sealed);
      free(body);
    }
    double rr = n / (now_s() - t0);
    if (rr > r) r = rr;
    /* the same records read and opened in batches of [keys] max_batch,
     * one round trip each, as the ADMF's reconciliation opens them */
    vault_sealed *all = calloc((size_t)n, sizeof *all);
    if (!all) return fprintf(stderr, "out of memory\n"), 1;
    int opened = 0;
    t0 = now_s();
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "keys-%d", i);
      char *body = NULL;
      if (store_doc_get(s, "bench-keys", id, &body, NULL, &err) ||
          vault_sealed_parse(body, strlen(body), &all[i], &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
      free(body);
    }
    if (keys_vault_open_many(keys, all, (size_t)n, count_opened, &opened, &err) || opened != n)
      return fprintf(stderr, "open_many: %s (%d of %d)\n", err.msg, opened, n), 1;
    rr = n / (now_s() - t0);
    if (rr > rb) rb = rr;
    for (int i = 0; i < n; i++) vault_sealed_free(&all[i]);
    free(all);
  }
  double extra_us = 1e6 / r - 1e6 / plain_r;
  printf("  through the keys process (one socketpair round trip each):\n"
         "  writes: plaintext %8.0f/s   encrypted %8.0f/s   overhead %.2fx (goal <= 2x)\n"
         "  reads:  plaintext %8.0f/s   encrypted %8.0f/s   overhead %.2fx (goal <= 2x; best of %d interleaved passes)\n"
         "  a read costs %.1f us more than plaintext (in-process %.1f us): the hop is about %.1f us\n"
         "  reads in batches (OPEN_BATCH, [keys] max_batch a round trip): %8.0f/s   overhead %.2fx (goal <= 2x)\n",
         plain_w, w, plain_w / w, plain_r, r, plain_r / r, READ_ROUNDS, extra_us, in_process_us,
         extra_us - in_process_us, rb, plain_r / rb);
  json_decref(ids);
  store_close(s);
  return 0;
}

static int bench_store(const char *url, keys_kek *kek, int n, double *in_process_us) {
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  json_error_t je;
  json_t *ids = json_loads(IDS, 0, &je);
  vault_kek vk = keys_kek_vault(kek);
  vault_opener op;
  if (keys_kek_for(kek, vk.label, NULL, &op, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  char id[64];
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "plain-%d", i);
    char *body = json_dumps(ids, JSON_COMPACT);
    if (store_doc_put(s, "bench-plain", id, body, 0, NULL, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    free(body);
  }
  double plain_w = n / (now_s() - t0);
  t0 = now_s();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "sealed-%d", i);
    vault_sealed sealed;
    json_t *j = NULL;
    if (vault_seal(id, "li-1", 1, ids, &vk, &sealed, &err) || vault_sealed_to_json(&sealed, &j, &err))
      return fprintf(stderr, "%s\n", err.msg), 1;
    char *body = lisec_json_dump_canonical(j); /* as ctl/targets.c stores it */
    if (store_doc_put(s, "bench-sealed", id, body, 0, NULL, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    free(body);
    json_decref(j);
    vault_sealed_free(&sealed);
  }
  double sealed_w = n / (now_s() - t0);
  /* Reads are short and the machine is shared: interleave plaintext and
   * encrypted passes and keep each one's best pass. */
  double plain_r = 0, sealed_r = 0;
  for (int round = 0; round < READ_ROUNDS; round++) {
    t0 = now_s();
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "plain-%d", i);
      char *body = NULL;
      json_t *j = NULL;
      if (store_doc_get(s, "bench-plain", id, &body, NULL, &err) || lisec_json_parse(body, strlen(body), &j, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
      json_decref(j);
      free(body);
    }
    double r = n / (now_s() - t0);
    if (r > plain_r) plain_r = r;
    t0 = now_s();
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "sealed-%d", i);
      char *body = NULL;
      json_t *back = NULL;
      vault_sealed sealed;
      if (store_doc_get(s, "bench-sealed", id, &body, NULL, &err) ||
          vault_sealed_parse(body, strlen(body), &sealed, &err) || vault_open_with(&sealed, &op, &back, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
      json_decref(back);
      vault_sealed_free(&sealed);
      free(body);
    }
    r = n / (now_s() - t0);
    if (r > sealed_r) sealed_r = r;
  }
  *in_process_us = 1e6 / sealed_r - 1e6 / plain_r;
  printf("  writes: plaintext %8.0f/s   encrypted (KEK in SoftHSM2) %8.0f/s   overhead %.2fx (goal <= 2x)\n",
         plain_w, sealed_w, plain_w / sealed_w);
  printf("  reads:  plaintext %8.0f/s   encrypted (KEK in SoftHSM2) %8.0f/s   overhead %.2fx (goal <= 2x;"
         " best of %d interleaved passes)\n",
         plain_r, sealed_r, plain_r / sealed_r, READ_ROUNDS);
  json_decref(ids);
  store_close(s);
  return 0;
}

/* Every row of kind rewritten in one transaction: as it was (plaintext), or
 * with its data key re-wrapped from old to cur (sealed). Rows per second. */
static double rewrite_all(lisec_store *s, const char *kind, const char *prefix, int n, const vault_kek *old,
                          const vault_kek *cur, lisec_err *err) {
  char id[64];
  double t0 = now_s();
  if (store_begin(s, err)) return -1;
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "%s-%d", prefix, i);
    char *body = NULL, *text = NULL;
    if (store_doc_get(s, kind, id, &body, NULL, err)) return -1;
    if (old) {
      vault_sealed sealed;
      json_t *j = NULL;
      if (vault_sealed_parse(body, strlen(body), &sealed, err) || vault_rewrap(&sealed, old, cur, err) ||
          vault_sealed_to_json(&sealed, &j, err))
        return -1;
      text = lisec_json_dump_canonical(j);
      json_decref(j);
      vault_sealed_free(&sealed);
    }
    int rc = store_doc_put(s, kind, id, text ? text : body, -1, NULL, err);
    free(text);
    free(body);
    if (rc) return -1;
  }
  if (store_commit(s, err)) return -1;
  return n / (now_s() - t0);
}

static int bench_rotation(const char *url, const char *module, int n) {
  keys_kek_pkcs11_config pc = {module, "bench", "1234", "bench-kek", false, NULL};
  keys_kek *kek = NULL;
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (keys_kek_open_pkcs11(&pc, &kek, &err) || store_open(url, &s, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  vault_kek old = keys_kek_vault(kek), cur;
  double plain = rewrite_all(s, "bench-plain", "plain", n, NULL, NULL, &err), sealed = -1;
  if (plain > 0 && !keys_kek_use(kek, "bench-kek-2", true, &err)) {
    cur = keys_kek_vault(kek);
    sealed = rewrite_all(s, "bench-sealed", "sealed", n, &old, &cur, &err);
  }
  store_close(s);
  keys_kek_close(kek);
  if (plain < 0 || sealed < 0) return fprintf(stderr, "rotation: %s\n", err.msg), 1;
  printf("  KEK rotation, one transaction: plaintext rewrite %8.0f/s   re-wrap (no cached key) %8.0f/s   "
         "%.2fx\n", plain, sealed, plain / sealed);
  return 0;
}

static int bench_x1(const char *url, const char *pki, double seconds, int max) {
  char cert[512], key[512], ca[512];
  snprintf(cert, sizeof cert, "%s/admf.crt", pki);
  snprintf(key, sizeof key, "%s/admf.key", pki);
  snprintf(ca, sizeof ca, "%s/ca.crt", pki);
  /* the ADMF's key is signed with by a keys service, as in lisecd */
  lisec_config *kcfg = lisec_config_new();
  keys_client *keys = NULL;
  lisec_err err = {0};
  int krc = kcfg ? keys_local_start(kcfg, &keys, &err) : LISEC_ENOMEM;
  lisec_config_free(kcfg);
  if (krc) return fprintf(stderr, "keys service: %s\n", err.msg), 1;
  ctl_x1_peer peer = {url, cert, key, ca, keys, 0, 0};
  ctl_x1_client *c = NULL;
  if (ctl_x1_client_open(&peer, &c, &err)) return fprintf(stderr, "%s\n", err.msg), keys_client_close(keys), 1;
  x1_request req = {.type = X1_ACTIVATE_TASK};
  strcpy(req.task.targets[0].element, "imsi");
  strcpy(req.task.targets[0].value, "244051234567890");
  req.task.n_targets = 1;
  strcpy(req.task.delivery, "X2andX3");
  x1_uuid(req.task.dids[0], &err);
  req.task.n_dids = 1;
  int n = 0;
  double t0 = now_s();
  while (n < max && now_s() - t0 < seconds) {
    x1_response resp;
    req.type = X1_ACTIVATE_TASK;
    if (x1_header_init(&req.h, "admf-1", "poi-1", &err) || x1_uuid(req.task.xid, &err) ||
        ctl_x1_exchange(c, &req, &resp, &err) || !resp.ok)
      return fprintf(stderr, "activate: %s %s\n", err.msg, resp.error_description), 1;
    req.type = X1_DEACTIVATE_TASK;
    strcpy(req.xid, req.task.xid);
    if (x1_header_init(&req.h, "admf-1", "poi-1", &err) || ctl_x1_exchange(c, &req, &resp, &err) || !resp.ok)
      return fprintf(stderr, "deactivate: %s\n", err.msg), 1;
    n += 2;
  }
  double dt = now_s() - t0;
  printf("  X1 to lisec-ne over mTLS keep-alive: %.0f round trips/s (%d in %.1f s; goal >= 5000/s)\n", n / dt, n, dt);
  ctl_x1_client_close(c);
  keys_client_close(keys);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: bench_vault STORE_URL P11_MODULE COUNT NE_URL PKI_DIR SECONDS\n");
    return 2;
  }
  keys_kek_pkcs11_config pc = {argv[2], "bench", "1234", "bench-kek", true, NULL};
  keys_kek *kek = NULL;
  lisec_err err = {0};
  if (keys_kek_open_pkcs11(&pc, &kek, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  double in_process_us = 0;
  int rc = bench_store(argv[1], kek, atoi(argv[3]), &in_process_us);
  keys_kek_close(kek);
  keys_client *keys = NULL;
  pid_t pid = 0;
  char dir[512];
  snprintf(dir, sizeof dir, "%s", strncmp(argv[1], "sqlite:", 7) == 0 ? argv[1] + 7 : "./x");
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  if (!rc) rc = keys_fork(argv[2], slash ? dir : ".", &keys, &pid);
  if (!rc) rc = bench_keys(argv[1], keys, atoi(argv[3]), in_process_us);
  keys_client_close(keys);
  if (pid > 0) waitpid(pid, NULL, 0);
  if (!rc) rc = bench_rotation(argv[1], argv[2], atoi(argv[3]));
  return rc ? rc : bench_x1(argv[4], argv[5], atof(argv[6]), 1000000);
}
