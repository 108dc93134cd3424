/* bench/scale's audit log curve: how the real appender and its proofs
 * behave as the log grows (issue 22 item 7). Two commands on one SQLite log:
 *   grow    --url U --to N
 *           the bulk loader: appends generated records from the log's
 *           current size up to N entries, 20,000 per durable transaction,
 *           each a real encoded audit record with its RFC 9162 leaf hash,
 *           so the log and the tree lisecd rebuilds from it are valid
 *   measure --url U --dir D --writers W --seconds S --samples K
 *           opens the log as lisecd does (timed; from its newest
 *           checkpoint's stored frontier when it has one, the entries after
 *           it checked in full) and waits until the tree below is rebuilt,
 *           then durable appends/s through
 *           ctl_auditlog_append with W writers for S seconds, then K
 *           inclusion and consistency proofs, and proofs by leaf hash (the
 *           lookup lisec audit prove --leaf asks for), at most 50 of them
 *           and at most 20 s; the process's RSS after the open
 * Every result is one line "name value ...". Bounded in count and time. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/auditlog.h"
#include "keys/signer.h"
#include "../audit/ready.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static void die(const char *what, const lisec_err *err) {
  fprintf(stderr, "scale_audit: %s: %s\n", what, err ? err->msg : "");
  exit(2);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kib;
}

/* A decision record like the ones lisecd writes most. */
static audit_record sample(uint64_t i, char *subject, size_t n) {
  snprintf(subject, n, "vm v-%llu", (unsigned long long)i);
  audit_record r = {.actor = "CN=mano-1", .role = "mano", .action = "decision.migration",
                    .outcome = i % 3 ? "allow" : "deny"};
  r.subjects[0] = subject;
  r.n_subjects = 1;
  return r;
}

static int cmd_grow(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL);
  uint64_t to = strtoull(opt(argc, argv, "--to", "1000000"), NULL, 10);
  if (!url || to > 1000000000ull) return 2;
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) die("store", &err);
  uint64_t at = 0;
  if (store_log_size(s, &at, &err)) die("size", &err);
  enum { B = 20000 };
  store_log_entry *e = calloc(B, sizeof *e);
  uint8_t **bufs = calloc(B, sizeof *bufs);
  if (!e || !bufs) die("memory", NULL);
  uint64_t from = at;
  double t0 = now_s();
  while (at < to) {
    size_t k = to - at < B ? (size_t)(to - at) : B;
    for (size_t i = 0; i < k; i++) {
      char subject[64];
      audit_record r = sample(at + i, subject, sizeof subject);
      r.seq = at + i;
      r.time_ms = 1700000000000 + (int64_t)(at + i);
      size_t len = 0;
      if (audit_entry_encode(&r, &bufs[i], &len, &err)) die("encode", &err);
      e[i] = (store_log_entry){.index = at + i, .time_ms = r.time_ms, .data = bufs[i], .len = len};
      audit_hash_leaf(bufs[i], len, e[i].leaf_hash);
    }
    if (store_log_append(s, e, k, &err)) die("append", &err);
    for (size_t i = 0; i < k; i++) free(bufs[i]);
    at += k;
  }
  double dt = now_s() - t0;
  printf("grow_entries %llu\ngrow_s %.1f\ngrow_per_s %.0f\n", (unsigned long long)(to > from ? to - from : 0), dt,
         dt > 0 ? (double)(at - from) / dt : 0.0);
  free(e);
  free(bufs);
  store_close(s);
  return 0;
}

/* The log as lisecd opens it, its checkpoint key as the keys process
 * holds it: a development file in DIR, made on first use. */
static ctl_auditlog_config log_config(const char *url, const char *dir, uint8_t pk[32], keys_signer **signer) {
  char key[600];
  snprintf(key, sizeof key, "%s/scale-checkpoint.pem", dir);
  lisec_err err = {0};
  if (keys_signer_open_file(key, true, signer, &err)) die("checkpoint key", &err);
  keys_signer_public_key(*signer, pk);
  return (ctl_auditlog_config){.store_url = url, .origin = "lisec.bench/scale", .sign = keys_signer_sign,
                               .sign_ctx = *signer, .pk = pk, .development = true};
}

static ctl_auditlog *the_log;
static volatile int running = 1;

static void *writer(void *arg) {
  uint64_t *count = arg;
  char subject[64];
  for (uint64_t i = 0; running && i < 100000000ull; i++) {
    audit_record r = sample(i, subject, sizeof subject);
    uint64_t idx;
    lisec_err err = {0};
    if (ctl_auditlog_append(the_log, &r, false, &idx, &err)) die("append", &err);
    (*count)++;
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int k) {
  qsort(v, (size_t)k, sizeof *v, cmp_double);
  printf("%s_us p50 %.1f p99 %.1f max %.1f\n", name, v[k / 2] * 1e6, v[k * 99 / 100] * 1e6, v[k - 1] * 1e6);
}

static int cmd_measure(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL), *dir = opt(argc, argv, "--dir", "/tmp");
  int writers = atoi(opt(argc, argv, "--writers", "64")), k = atoi(opt(argc, argv, "--samples", "2000"));
  double seconds = atof(opt(argc, argv, "--seconds", "3"));
  if (!url || writers < 1 || writers > 256 || k < 10 || k > 1000000 || seconds <= 0 || seconds > 600) return 2;
  lisec_err err = {0};
  uint8_t pk[32];
  keys_signer *signer = NULL;
  ctl_auditlog_config c = log_config(url, dir, pk, &signer);
  lisec_store *s = NULL;
  if (store_open(url, &s, &err)) die("store", &err);
  long rss0 = rss_kib();
  double t0 = now_s();
  if (ctl_auditlog_open(s, &c, &the_log, &err)) die("open", &err);
  double t_open = now_s() - t0;
  uint64_t n = ctl_auditlog_size(the_log);
  printf("size %llu\nopen_s %.2f\n", (unsigned long long)n, t_open);
  long rss_open = rss_kib();
  /* proofs wait for the tree below a stored frontier: so do they here */
  if (!bench_audit_wait_ready(the_log, 900)) die("the check after the open did not finish intact", NULL);
  /* the appender's memory once its tree is whole: the leaves taken while
   * it was rebuilt (32 bytes each) are freed then; the peak at the open is
   * printed beside it */
  printf("ready_s %.2f\nopen_rss_mib %.1f\nopen_peak_rss_mib %.1f\n", now_s() - t0, (rss_kib() - rss0) / 1024.0,
         (rss_open - rss0) / 1024.0);

  pthread_t t[256];
  uint64_t counts[256] = {0};
  uint64_t b0, e0, b1, e1;
  ctl_auditlog_stats(the_log, &b0, &e0);
  t0 = now_s();
  for (int i = 0; i < writers; i++) pthread_create(&t[i], NULL, writer, &counts[i]);
  usleep((useconds_t)(seconds * 1e6));
  running = 0;
  uint64_t total = 0;
  for (int i = 0; i < writers; i++) pthread_join(t[i], NULL), total += counts[i];
  double dt = now_s() - t0;
  ctl_auditlog_stats(the_log, &b1, &e1);
  printf("append_per_s %.0f\nappend_mean_batch %.1f\n", (double)total / dt,
         b1 > b0 ? (double)(e1 - e0) / (double)(b1 - b0) : 0.0);

  n = ctl_auditlog_size(the_log);
  /* inc is reused for the (up to 50) proofs by leaf hash below */
  double *inc = calloc((size_t)(k > 50 ? k : 50), sizeof *inc), *con = calloc((size_t)k, sizeof *con);
  if (!inc || !con) die("memory", NULL);
  uint64_t seed = 88172645463325252ull;
  audit_proof p;
  uint8_t leaf[32], root[32], oroot[32];
  uint64_t size;
  for (int i = 0; i < k; i++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    uint64_t idx = seed % n, old = 1 + seed % (n - 1);
    double a = now_s();
    if (ctl_auditlog_prove_inclusion(the_log, s, idx, 0, &p, leaf, root, &size, &err)) die("inclusion", &err);
    double b = now_s();
    if (ctl_auditlog_prove_consistency(the_log, s, old, 0, &p, oroot, root, &size, &err)) die("consistency", &err);
    inc[i] = b - a;
    con[i] = now_s() - b;
  }
  report("inclusion", inc, k);
  report("consistency", con, k);
  /* proofs by leaf hash: the leaf of a random entry looked up, then proven */
  int kl = 0;
  double deadline = now_s() + 20;
  for (; kl < 50 && now_s() < deadline; kl++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    uint64_t idx = seed % n, found = 0;
    if (ctl_auditlog_prove_inclusion(the_log, s, idx, 0, &p, leaf, root, &size, &err)) die("inclusion", &err);
    double a = now_s();
    if (ctl_auditlog_find_leaf(the_log, s, leaf, 0, &found, &err)) die("find leaf", &err);
    if (ctl_auditlog_prove_inclusion(the_log, s, found, 0, &p, leaf, root, &size, &err)) die("inclusion", &err);
    inc[kl] = now_s() - a;
    if (found != idx) die("find leaf: another index", NULL);
  }
  report("by_leaf", inc, kl);
  free(inc);
  free(con);
  ctl_auditlog_close(the_log);
  store_close(s);
  keys_signer_close(signer);
  return 0;
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* lisecd's start alone: the log opened (timed, wall and CPU) and closed,
 * which signs a checkpoint at its size when the newest one is older, as a
 * lisecd stopping does; so a second `open` is a restart after a clean
 * stop: the log opened from its last signed checkpoint and the tree
 * frontier stored with it, reading only what came after (issue 22 item 7);
 * the data below is checked, and the tree below rebuilt, by a thread after
 * the open. That thread is stopped at the close and not counted, unless
 * --ready: then the run also waits (at most 900 s) until it is done (proofs
 * work from then on) and prints when, with the process's CPU by then.
 * --without-frontier: the checkpoint's stored frontier is set aside for the
 * open (put back after it), so the log opens by every stored leaf hash as
 * before the frontier was stored. --full checks every entry at open, as
 * lisecd did before either (and does below [audit] open_full_check_below). */
static int cmd_open(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL), *dir = opt(argc, argv, "--dir", "/tmp");
  if (!url) return 2;
  lisec_err err = {0};
  uint8_t pk[32];
  keys_signer *signer = NULL;
  ctl_auditlog_config c = log_config(url, dir, pk, &signer);
  bool ready = false, without = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--full") == 0) c.open_full_below = UINT64_MAX;
    if (strcmp(argv[i], "--ready") == 0) ready = true;
    if (strcmp(argv[i], "--without-frontier") == 0) without = true;
  }
  lisec_store *s = NULL;
  if (store_open(url, &s, &err)) die("store", &err);
  char id[24], *frontier = NULL;
  if (without) {
    uint64_t at = 0;
    char *note = NULL;
    if (store_checkpoint_latest(s, &at, &note, &err)) die("checkpoint", &err);
    free(note);
    snprintf(id, sizeof id, "%llu", (unsigned long long)at);
    if (store_doc_get(s, AUDIT_FRONTIER_DOC_KIND, id, &frontier, NULL, &err)) die("frontier", &err);
    if (store_doc_delete(s, AUDIT_FRONTIER_DOC_KIND, id, &err)) die("frontier", &err);
  }
  ctl_auditlog *log = NULL;
  double t0 = now_s(), c0 = cpu_s();
  if (ctl_auditlog_open(s, &c, &log, &err)) die("open", &err);
  double t = now_s() - t0, cpu = cpu_s() - c0;
  uint64_t below = 0, checked = 0;
  bool done = false, intact = false;
  ctl_auditlog_recheck(log, &below, &checked, &done, &intact);
  printf("size %llu\nopen_s %.3f\nopen_cpu_s %.3f\nfrom_checkpoint %llu\n", (unsigned long long)ctl_auditlog_size(log),
         t, cpu, (unsigned long long)below);
  if (ready) {
    bool whole = bench_audit_wait_ready(log, 900);
    printf("ready_s %.2f\nready_cpu_s %.2f\nready_intact %d\n", now_s() - t0, cpu_s() - c0, whole);
  }
  ctl_auditlog_close(log);
  if (frontier && store_doc_put(s, AUDIT_FRONTIER_DOC_KIND, id, frontier, -1, NULL, &err)) die("frontier", &err);
  free(frontier);
  store_close(s);
  keys_signer_close(signer);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "open") == 0) return cmd_open(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "grow") == 0) return cmd_grow(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "measure") == 0) return cmd_measure(argc, argv);
  fprintf(stderr, "usage: scale_audit grow --url U --to N | open --url U --dir D [--full | --without-frontier] [--ready] | measure --url U --dir D [--writers W] [--seconds S] "
                  "[--samples K]\n");
  return 2;
}
