/* bench/observe: observation beside intent (issue 15) at platform scale, in
 * one process. A generated platform (by default 10,000 hosts with 20 VMs
 * each, 200,000 VMs) gets every host's attested inventory twice (an old
 * round and a current one, some hosts stale, some VMs misplaced, on two
 * hosts, dropped, running a wrong image, and unnamed domains beside LI
 * VMs); then it times one host's inventory applied (p50/p99; the goal is
 * < 200 us p99) and the full reconcile of every VM (goal < 1 s) in lisec's
 * model, and beside it the same in SQLite (in memory): tables intent(vm,
 * host, cls, digest) and observed(vm, host, state, digest, at) with the
 * indexes an operator would create, an inventory applied as delete + insert
 * in a transaction, and the reconcile as one SQL query per violation kind.
 * Both sides must find the same number of violations of each kind; the
 * ratios are printed.
 *
 * usage: bench_observe [HOSTS [VMS_PER_HOST [APPLIES [SQL_APPLIES]]]] */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return n ? (uint32_t)(rs % n) : 0;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "bench_observe: %s: %s\n", what, why);
  exit(1);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  qsort(v, n, sizeof *v, cmp_d);
  size_t i = (size_t)(p * (double)(n - 1));
  return v[i];
}

enum { NPKG = 10 };
static const int64_t T0 = 1780272000, WINDOW = 360;
static char pkg_digest[NPKG][65], bad_digest[65];
static const char *pkg_list[NPKG][1];

static uint32_t H, PER, NVM;
static char (*host_id)[16], (*vm_id)[16], (*uuid)[40];
/* The inventory of each host: VM indexes (UINT32_MAX: an unnamed domain). */
typedef struct inv {
  uint32_t *vm;
  uint32_t n, cap;
} inv;
static inv *cur, *old;
static uint8_t *bad_image; /* per VM */

static void inv_add(inv *x, uint32_t v) {
  if (x->n == x->cap) {
    x->cap = x->cap ? 2 * x->cap : 32;
    x->vm = realloc(x->vm, x->cap * sizeof *x->vm);
    if (!x->vm) die("inventory", "out of memory");
  }
  x->vm[x->n++] = v;
}

static bool is_li(uint32_t v) { return v % (PER * 100) == 0; } /* first VM of every 100th host */
static bool stale(uint32_t h) { return h % 100 == 50; }

static void generate(void) {
  for (int p = 0; p < NPKG; p++) {
    for (int k = 0; k < 64; k++) pkg_digest[p][k] = "0123456789abcdef"[rnd(16)];
    pkg_list[p][0] = pkg_digest[p];
  }
  memset(bad_digest, 'e', 64);
  host_id = calloc(H, sizeof *host_id);
  vm_id = calloc(NVM, sizeof *vm_id);
  uuid = calloc(NVM + H, sizeof *uuid);
  cur = calloc(H, sizeof *cur);
  old = calloc(H, sizeof *old);
  bad_image = calloc(NVM, 1);
  if (!host_id || !vm_id || !uuid || !cur || !old || !bad_image) die("generate", "out of memory");
  for (uint32_t h = 0; h < H; h++) snprintf(host_id[h], sizeof host_id[h], "h%05u", h);
  for (uint32_t v = 0; v < NVM + H; v++)
    snprintf(uuid[v], sizeof uuid[v], "6c1c5a4e-%04x-4000-8000-%012x", v >> 16 & 0xffff, v);
  for (uint32_t v = 0; v < NVM; v++) {
    snprintf(vm_id[v], sizeof vm_id[v], "vm%06u", v);
    uint32_t h = v / PER, r = rnd(1000);
    bad_image[v] = r < 5;
    /* 0.5% run elsewhere, 0.2% on two hosts, 0.1% reported once only */
    uint32_t where = r >= 5 && r < 10 ? (h + 1) % H : h;
    inv_add(&old[where], v);
    if (r >= 10 && r < 12) inv_add(&old[(h + 1) % H], v);
    if (!(r >= 12 && r < 13)) {
      inv_add(&cur[where], v);
      if (r >= 10 && r < 12) inv_add(&cur[(h + 1) % H], v);
    }
  }
  /* An unnamed domain beside an LI VM on half the hosts that carry one. */
  for (uint32_t h = 0; h < H; h += 200) {
    inv_add(&old[h], UINT32_MAX);
    inv_add(&cur[h], UINT32_MAX);
  }
}

/* ---- lisec ----------------------------------------------------------------- */

static model *m;
static model_obs_domain *doms;

static void lisec_apply(uint32_t h, const inv *x, int64_t at, model_verdict *found) {
  for (uint32_t k = 0; k < x->n; k++) {
    uint32_t v = x->vm[k];
    if (v == UINT32_MAX) {
      doms[k] = (model_obs_domain){uuid[NVM + h], NULL, MODEL_DOM_RUNNING, NULL, NULL, 0};
      continue;
    }
    doms[k] = (model_obs_domain){uuid[v],          vm_id[v],  MODEL_DOM_RUNNING,
                                 bad_image[v] ? bad_digest : pkg_digest[v % NPKG],
                                 pkg_list[v % NPKG], 1};
  }
  char ev[17];
  snprintf(ev, sizeof ev, "%016llx", (unsigned long long)(at * 7919 + h));
  model_observation o = {host_id[h], at, ev, doms, x->n};
  lisec_err err = {0};
  if (model_observe_host(m, &o, WINDOW, found, &err)) die("observe", err.msg);
}

static void lisec_build(void) {
  lisec_err err = {0};
  m = model_new();
  model_set_time(m, T0 - 2 * WINDOW, &err);
  model_batch_begin(m);
  for (uint32_t h = 0; h < H; h++) {
    model_host_spec s = {host_id[h], MODEL_TRUST_UNKNOWN, NULL, MODEL_CLASS_LI};
    char hyp[20];
    snprintf(hyp, sizeof hyp, "hv%05u", h);
    if (model_host_put(m, &s, &err) || model_hypervisor_put(m, hyp, host_id[h], &err))
      die("host", err.msg);
  }
  for (uint32_t v = 0; v < NVM; v++) {
    char hyp[20];
    snprintf(hyp, sizeof hyp, "hv%05u", v / PER);
    model_vm_spec s = {vm_id[v], hyp, is_li(v) ? MODEL_CLASS_LI : MODEL_CLASS_GENERAL,
                       is_li(v) ? "li" : "core", is_li(v)};
    if (model_vm_put(m, &s, &err)) die("vm", err.msg);
  }
  model_batch_end(m);
  uint32_t maxn = 0;
  for (uint32_t h = 0; h < H; h++) maxn = cur[h].n > maxn ? cur[h].n : maxn;
  for (uint32_t h = 0; h < H; h++) maxn = old[h].n > maxn ? old[h].n : maxn;
  doms = calloc(maxn + 1, sizeof *doms);
  for (uint32_t h = 0; h < H; h++) lisec_apply(h, &old[h], T0 - 2 * WINDOW, NULL);
  model_set_time(m, T0, &err);
  for (uint32_t h = 0; h < H; h++)
    if (!stale(h)) lisec_apply(h, &cur[h], T0, NULL);
}

/* ---- SQLite ------------------------------------------------------------------ */

static sqlite3 *db;
static sqlite3_stmt *s_del, *s_ins, *s_seen, *s_begin, *s_commit;

static void sql(const char *q) {
  char *e = NULL;
  if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK) die(q, e ? e : "?");
}

static void prep(const char *q, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(db, q, -1, st, NULL) != SQLITE_OK) die(q, sqlite3_errmsg(db));
}

static void step_done(sqlite3_stmt *st) {
  if (sqlite3_step(st) != SQLITE_DONE) die("step", sqlite3_errmsg(db));
  sqlite3_reset(st);
}

static void sql_apply(uint32_t h, const inv *x, int64_t at) {
  step_done(s_begin);
  sqlite3_bind_text(s_del, 1, host_id[h], -1, SQLITE_STATIC);
  step_done(s_del);
  for (uint32_t k = 0; k < x->n; k++) {
    uint32_t v = x->vm[k];
    sqlite3_bind_text(s_ins, 1, v == UINT32_MAX ? uuid[NVM + h] : uuid[v], -1, SQLITE_STATIC);
    if (v == UINT32_MAX) sqlite3_bind_null(s_ins, 2);
    else sqlite3_bind_text(s_ins, 2, vm_id[v], -1, SQLITE_STATIC);
    sqlite3_bind_text(s_ins, 3, host_id[h], -1, SQLITE_STATIC);
    sqlite3_bind_text(s_ins, 4, "running", -1, SQLITE_STATIC);
    if (v == UINT32_MAX) sqlite3_bind_null(s_ins, 5);
    else sqlite3_bind_text(s_ins, 5, bad_image[v] ? bad_digest : pkg_digest[v % NPKG], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s_ins, 6, at);
    step_done(s_ins);
    if (v == UINT32_MAX || !s_seen) continue;
    sqlite3_bind_text(s_seen, 1, vm_id[v], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s_seen, 2, at);
    step_done(s_seen);
  }
  step_done(s_commit);
}

static void sql_build(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("sqlite", "open");
  sql("CREATE TABLE intent(vm TEXT PRIMARY KEY, host TEXT NOT NULL, cls TEXT NOT NULL, "
      "digest TEXT NOT NULL);"
      "CREATE INDEX intent_host ON intent(host);"
      "CREATE TABLE reported(host TEXT PRIMARY KEY, first_at INTEGER NOT NULL);"
      "CREATE TABLE observed(uuid TEXT NOT NULL, vm TEXT, host TEXT NOT NULL, state TEXT NOT NULL, "
      "digest TEXT, at INTEGER NOT NULL);"
      "CREATE INDEX observed_vm ON observed(vm); CREATE INDEX observed_host ON observed(host);"
      "CREATE TABLE seen(vm TEXT PRIMARY KEY, at INTEGER NOT NULL);");
  sqlite3_stmt *ins;
  sql("BEGIN");
  prep("INSERT INTO intent VALUES(?,?,?,?)", &ins);
  for (uint32_t v = 0; v < NVM; v++) {
    sqlite3_bind_text(ins, 1, vm_id[v], -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, host_id[v / PER], -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, is_li(v) ? "li" : "general", -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, pkg_digest[v % NPKG], -1, SQLITE_STATIC);
    step_done(ins);
  }
  sqlite3_finalize(ins);
  sql("COMMIT");
  prep("DELETE FROM observed WHERE host = ?", &s_del);
  prep("INSERT INTO observed VALUES(?,?,?,?,?,?)", &s_ins);
  prep("BEGIN", &s_begin);
  prep("COMMIT", &s_commit);
  for (uint32_t h = 0; h < H; h++) sql_apply(h, &old[h], T0 - 2 * WINDOW);
  /* when each VM was last reported and each host first reported: kept
   * beside the tables, as lisec keeps them */
  sql("INSERT INTO seen SELECT vm, MAX(at) FROM observed WHERE vm IS NOT NULL GROUP BY vm;"
      "INSERT INTO reported SELECT host, MIN(at) FROM observed GROUP BY host;");
  prep("INSERT INTO seen VALUES(?1, ?2) ON CONFLICT(vm) DO UPDATE SET at = MAX(at, excluded.at)",
       &s_seen);
  for (uint32_t h = 0; h < H; h++)
    if (!stale(h)) sql_apply(h, &cur[h], T0);
}

/* The reconcile as SQL: one query per kind; returns the counts. */
static const char *const sql_kinds[5] = {
    /* PLACEMENT */
    "SELECT COUNT(*) FROM (SELECT DISTINCT o.vm, o.host FROM observed o JOIN intent i ON i.vm = o.vm "
    "WHERE o.state IN ('running','paused') AND o.host <> i.host)",
    /* DUPLICATE */
    "SELECT COUNT(*) FROM (SELECT vm FROM observed WHERE vm IS NOT NULL AND state IN "
    "('running','paused') GROUP BY vm HAVING COUNT(DISTINCT host) > 1)",
    /* UNREPORTED */
    "SELECT COUNT(*) FROM intent i LEFT JOIN seen s ON s.vm = i.vm LEFT JOIN reported r ON "
    "r.host = i.host WHERE NOT EXISTS (SELECT 1 FROM observed o WHERE o.vm = i.vm AND o.at >= ?1 - ?2) "
    "AND COALESCE(s.at, r.first_at) IS NOT NULL AND ?1 - COALESCE(s.at, r.first_at) > ?2",
    /* UNKNOWN-DOMAIN */
    "SELECT COUNT(*) FROM observed o WHERE (o.vm IS NULL OR o.vm NOT IN (SELECT vm FROM intent)) "
    "AND o.host IN (SELECT host FROM intent WHERE cls = 'li' UNION SELECT o2.host FROM observed o2 "
    "JOIN intent i2 ON i2.vm = o2.vm WHERE i2.cls = 'li')",
    /* IMAGE */
    "SELECT COUNT(*) FROM (SELECT DISTINCT o.vm, o.host FROM observed o JOIN intent i ON i.vm = o.vm "
    "WHERE o.state IN ('running','paused') AND o.digest IS NOT NULL AND o.digest <> i.digest)",
};
static const char *const kind_names[5] = {MODEL_REQ_PLACEMENT, MODEL_REQ_DUPLICATE,
                                          MODEL_REQ_UNREPORTED, MODEL_REQ_UNKNOWN_DOMAIN,
                                          MODEL_REQ_IMAGE};

static void sql_reconcile(long counts[5]) {
  for (int k = 0; k < 5; k++) {
    sqlite3_stmt *st;
    prep(sql_kinds[k], &st);
    sqlite3_bind_int64(st, 1, T0);
    sqlite3_bind_int64(st, 2, WINDOW);
    if (sqlite3_step(st) != SQLITE_ROW) die(sql_kinds[k], sqlite3_errmsg(db));
    counts[k] = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
}

static void lisec_reconcile(long counts[5]) {
  model_verdict v = {0};
  if (model_observe_reconcile(m, WINDOW, &v)) die("reconcile", "failed");
  memset(counts, 0, 5 * sizeof *counts);
  for (size_t i = 0; i < v.n; i++)
    for (int k = 0; k < 5; k++) counts[k] += strcmp(v.reasons[i].requirement, kind_names[k]) == 0;
  model_verdict_free(&v);
}

int main(int argc, char **argv) {
  H = argc > 1 ? (uint32_t)atoi(argv[1]) : 10000;
  PER = argc > 2 ? (uint32_t)atoi(argv[2]) : 20;
  uint32_t applies = argc > 3 ? (uint32_t)atoi(argv[3]) : 20000;
  uint32_t sql_applies = argc > 4 ? (uint32_t)atoi(argv[4]) : 5000;
  if (H < 200 || PER < 1 || applies < 1 || sql_applies < 1) die("usage", "bench_observe [HOSTS>=200 [VMS_PER_HOST [APPLIES [SQL_APPLIES]]]]");
  NVM = H * PER;
  generate();
  double t = now_s();
  lisec_build();
  printf("platform: %u hosts x %u VMs = %u VMs; lisec loaded with two rounds of inventories in %.2f s\n",
         H, PER, NVM, now_s() - t);
  t = now_s();
  sql_build();
  printf("SQLite (in memory) loaded the same in %.2f s\n", now_s() - t);

  /* One host's inventory applied (the current one again, a newer quote);
   * lisec with its findings collected, as lisecd does. */
  double *lat = malloc(applies * sizeof *lat), *slat = malloc(sql_applies * sizeof *slat);
  for (uint32_t i = 0; i < applies; i++) {
    uint32_t h = rnd(H);
    if (stale(h)) h = (h + 1) % H;
    model_verdict f = {0};
    double a = now_s();
    lisec_apply(h, &cur[h], T0, &f);
    model_verdict_free(&f);
    lat[i] = (now_s() - a) * 1e6;
  }
  for (uint32_t i = 0; i < sql_applies; i++) {
    uint32_t h = rnd(H);
    if (stale(h)) h = (h + 1) % H;
    double a = now_s();
    sql_apply(h, &cur[h], T0);
    slat[i] = (now_s() - a) * 1e6;
  }
  double lp50 = pct(lat, applies, 0.5), lp99 = pct(lat, applies, 0.99);
  double sp50 = pct(slat, sql_applies, 0.5), sp99 = pct(slat, sql_applies, 0.99);
  printf("one host's inventory applied: lisec p50 %.1f us, p99 %.1f us (goal p99 < 200 us); "
         "SQLite p50 %.1f us, p99 %.1f us; ratio p50 %.1fx, p99 %.1fx\n",
         lp50, lp99, sp50, sp99, sp50 / lp50, sp99 / lp99);

  /* The full reconcile, 3 rounds each, alternating; the median. */
  long lc[5], sc[5];
  double lr[3], sr[3];
  for (int r = 0; r < 3; r++) {
    double a = now_s();
    lisec_reconcile(lc);
    lr[r] = now_s() - a;
    a = now_s();
    sql_reconcile(sc);
    sr[r] = now_s() - a;
  }
  double lmed = pct(lr, 3, 0.5), smed = pct(sr, 3, 0.5);
  int mismatch = 0;
  for (int k = 0; k < 5; k++) {
    printf("  %-28s lisec %6ld  SQLite %6ld%s\n", kind_names[k], lc[k], sc[k],
           lc[k] == sc[k] ? "" : "  MISMATCH");
    mismatch |= lc[k] != sc[k];
  }
  printf("full reconcile of %u VMs: lisec %.1f ms (goal < 1000 ms), SQLite %.1f ms; ratio %.1fx\n",
         NVM, lmed * 1e3, smed * 1e3, smed / lmed);
  free(lat);
  free(slat);
  model_free(m);
  for (sqlite3_stmt *const *st = (sqlite3_stmt *const[]){s_del, s_ins, s_seen, s_begin, s_commit, NULL}; *st; st++)
    sqlite3_finalize(*st);
  sqlite3_close(db);
  if (mismatch) die("cross-check", "lisec and SQLite disagree on a violation count");
  return 0;
}
