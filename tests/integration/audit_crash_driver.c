/* A small program around the audit appender for the integration tests and
 * the benchmark: it opens the log on a store URL with a development key file
 * (or the PKCS#11 token named in the environment), appends records from
 * several threads, and writes each acknowledged index to stdout with one
 * write(2) per line as soon as the append returns, so that a kill -9 at any
 * moment leaves on stdout exactly the indices the log promised to keep.
 *
 *   audit_crash_driver --url URL --key PEM [--li-pub FILE] [--threads N]
 *       [--count N (per thread; 0 = until killed)] [--li-every K]
 *       [--checkpoint-entries N] [--checkpoint-ms MS] [--vkey-out FILE]
 *       [--checkpoint-sync N (sign at every multiple of N, waiting)]
 *       [--origin NAME] [--quiet] */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "ctl/auditlog.h"
#include "keys/signer.h"

typedef struct opts {
  const char *url, *key, *li_pub, *vkey_out, *origin;
  unsigned threads, li_every;
  uint64_t count, cp_entries, cp_sync;
  uint32_t cp_ms;
  bool quiet;
} opts;

static opts o = {.threads = 4, .li_every = 5, .origin = "lisec.test/audit"};
static ctl_auditlog *log_;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void ack(uint64_t idx) {
  if (o.quiet) return;
  char line[32];
  int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)idx);
  pthread_mutex_lock(&out_lock);
  ssize_t w = write(1, line, (size_t)n);
  pthread_mutex_unlock(&out_lock);
  (void)w;
}

static void *worker(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  char actor[32], subject[48];
  snprintf(actor, sizeof actor, "CN=driver-%u", (unsigned)id);
  for (uint64_t i = 0; o.count == 0 || i < o.count; i++) {
    snprintf(subject, sizeof subject, "vm v-%u-%llu", (unsigned)id, (unsigned long long)i);
    bool li = o.li_pub && o.li_every && i % o.li_every == 0;
    audit_record r = {.actor = actor, .role = li ? "li-admin" : "mano",
                      .action = li ? "li.target.activate" : "decision.placement",
                      .outcome = i % 3 ? "allow" : "deny"};
    r.subjects[0] = subject;
    r.n_subjects = 1;
    if (i % 3 == 0) {
      r.reasons[0] = "TR103308-6.2-R7: host h-3 has no fresh attestation";
      r.n_reasons = 1;
    }
    uint64_t idx = 0;
    lisec_err err = {0};
    int rc = ctl_auditlog_append(log_, &r, li, &idx, &err);
    if (rc) {
      fprintf(stderr, "append: %s\n", err.msg);
      return (void *)1;
    }
    ack(idx);
    /* Exact checkpoint sizes for the tamper tests (one writer). */
    if (o.cp_sync && (idx + 1) % o.cp_sync == 0 && ctl_auditlog_checkpoint_now(log_, &err) != 0) {
      fprintf(stderr, "checkpoint: %s\n", err.msg);
      return (void *)1;
    }
  }
  return NULL;
}

static int arg_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !end || *end) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    uint64_t v = 0;
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quiet") == 0) o.quiet = true;
    else if (!next) goto usage;
    else if (strcmp(a, "--url") == 0) o.url = next, i++;
    else if (strcmp(a, "--key") == 0) o.key = next, i++;
    else if (strcmp(a, "--li-pub") == 0) o.li_pub = next, i++;
    else if (strcmp(a, "--vkey-out") == 0) o.vkey_out = next, i++;
    else if (strcmp(a, "--origin") == 0) o.origin = next, i++;
    else if (arg_u64(next, &v) != 0) goto usage;
    else if (strcmp(a, "--threads") == 0 && v > 0 && v <= 256) o.threads = (unsigned)v, i++;
    else if (strcmp(a, "--count") == 0) o.count = v, i++;
    else if (strcmp(a, "--li-every") == 0) o.li_every = (unsigned)v, i++;
    else if (strcmp(a, "--checkpoint-entries") == 0) o.cp_entries = v, i++;
    else if (strcmp(a, "--checkpoint-ms") == 0) o.cp_ms = (uint32_t)v, i++;
    else if (strcmp(a, "--checkpoint-sync") == 0) o.cp_sync = v, i++;
    else goto usage;
  }
  if (!o.url || !o.key) goto usage;
  uint8_t li_pk[32];
  lisec_err err = {0};
  keys_signer *signer = NULL;
  if (o.li_pub) {
    uint8_t *text = NULL, *raw = NULL;
    size_t len = 0, rlen = 0;
    if (lisec_file_read(o.li_pub, 1024, &text, &len, &err)) goto fail;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
    if (crypto_base64_decode((const char *)text, 64, &raw, &rlen, &err) || rlen != 32) {
      fprintf(stderr, "%s: not a base64 X25519 public key\n", o.li_pub);
      return 2;
    }
    memcpy(li_pk, raw, 32);
    free(raw);
    free(text);
  }
  /* the checkpoint key as the keys process holds it (keys/signer.h) */
  const char *module = getenv("LISEC_P11_MODULE");
  keys_signer_pkcs11 tk = {module, "lisec-test", "1234", "lisec-audit-checkpoint", true};
  if (module && getenv("SOFTHSM2_CONF") ? keys_signer_open_pkcs11(&tk, &signer, &err)
                                        : keys_signer_open_file(o.key, true, &signer, &err)) {
    lisec_err_wrap(&err, "audit checkpoint key");
    goto fail;
  }
  uint8_t pk[32];
  keys_signer_public_key(signer, pk);
  ctl_auditlog_config c = {.store_url = o.url, .origin = o.origin, .li_pk = o.li_pub ? li_pk : NULL,
                           .sign = keys_signer_sign, .sign_ctx = signer, .pk = pk,
                           .development = keys_signer_development(signer), .vkey_file = o.vkey_out,
                           .checkpoint_entries = o.cp_entries, .checkpoint_ms = o.cp_ms};
  lisec_store *s = NULL;
  if (store_open(o.url, &s, &err)) goto fail;
  int rc = ctl_auditlog_open(s, &c, &log_, &err);
  store_close(s);
  if (rc) goto fail;
  if (ctl_auditlog_development(log_))
    fprintf(stderr, "WARNING: the audit checkpoint key is a development file (%s)\n", o.key);
  pthread_t t[256];
  for (unsigned i = 0; i < o.threads; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
  int failed = 0;
  for (unsigned i = 0; i < o.threads; i++) {
    void *r = NULL;
    pthread_join(t[i], &r);
    failed |= r != NULL;
  }
  ctl_auditlog_close(log_);
  keys_signer_close(signer);
  return failed;
fail:
  keys_signer_close(signer);
  fprintf(stderr, "audit_crash_driver: %s\n", err.msg);
  return 2;
usage:
  fprintf(stderr, "usage: audit_crash_driver --url URL --key PEM [--li-pub FILE] [--threads N] [--count N]\n"
                  "       [--li-every K] [--checkpoint-entries N] [--checkpoint-ms MS] [--vkey-out FILE]\n"
                  "       [--checkpoint-sync N] [--origin NAME] [--quiet]\n");
  return 2;
}
