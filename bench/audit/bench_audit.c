/* The audit log's figures, each beside its peer where it has one:
 *   append  --dir D --writers N --seconds S [--li-every K] [--gather-us N]
 *           durable appends/s through the appender (group commit), and the
 *           mean batch it reached
 *   plain   --dir D --batch B --seconds S
 *           the peer: plain SQLite INSERTs of rows of the same size into the
 *           same table shape, WAL and synchronous=FULL, one transaction per
 *           B rows (the batch the appender reached), no hashing, no tree
 *   pipeline --dir D --batch B --seconds S
 *           the appender's own work per batch (encode, hash, one store
 *           transaction, tree) in one thread: its overhead over `plain`
 *   vs      --dir D --writers W --rounds R --seconds S [--side lisec|plain] [--gather-us N]
 *           the real appender (W threads calling ctl_auditlog_append) beside
 *           a minimal group-commit peer (W threads, a queue, one committing
 *           thread), alternating rounds; rates, batches, CPU per entry
 *   build   --url U --n N [--dir D --checkpoint-every K]
 *           fills a log fast (big transactions) for the next, with a signed
 *           checkpoint every K entries
 *   proofs  --url U --samples K [--hash-samples H] [--all-leaves] [--cold]
 *           [--origin O]
 *           opens the log (the full check at load, timed; opened from a
 *           stored frontier, until the tree below it is rebuilt) and
 *           measures inclusion and consistency proof latency at its size,
 *           and the proof asked by leaf hash; --cold drops the file from
 *           the page cache before each; --origin: the log's (another
 *           bench's, e.g. lisec.bench/scale), signed by D/bench-checkpoint.pem
 *   dropcache --file F   drops F and F-wal from the page cache
 *   verify-mem --n N   the verifier alone over N entries held in memory
 * Every result is one line "name value unit". */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ctl/auditlog.h"
#include "keys/signer.h"
#include "ready.h"

/* Each run starts from an empty database. */
static void remove_db(const char *path) {
  char p[700];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

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

static bool flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return true;
  return false;
}

static audit_record sample(uint64_t i, char *subject, size_t n) {
  snprintf(subject, n, "vm v-%llu", (unsigned long long)i);
  audit_record r = {.actor = "CN=mano-1", .role = "mano", .action = "decision.placement",
                    .outcome = i % 3 ? "allow" : "deny"};
  r.subjects[0] = subject;
  r.n_subjects = 1;
  return r;
}

static void die(const char *what, const lisec_err *err) {
  fprintf(stderr, "bench_audit: %s: %s\n", what, err ? err->msg : "");
  exit(2);
}

/* ---- append ------------------------------------------------------------- */

static ctl_auditlog *the_log;
static volatile int running = 1;
static unsigned li_every;

static void *appender(void *arg) {
  uint64_t *count = arg;
  char subject[64];
  for (uint64_t i = 0; running; i++) {
    audit_record r = sample(i, subject, sizeof subject);
    bool li = li_every && i % li_every == 0;
    uint64_t idx;
    lisec_err err = {0};
    if (ctl_auditlog_append(the_log, &r, li, &idx, &err)) die("append", &err);
    (*count)++;
  }
  return NULL;
}

/* The checkpoint key as the keys process holds it (keys/signer.h): a
 * development file here, opened once per run. */
static ctl_auditlog_config config(const char *url, const char *dir, const uint8_t *li_pk) {
  static char key[512];
  static keys_signer *signer;
  static uint8_t pk[32];
  snprintf(key, sizeof key, "%s/bench-checkpoint.pem", dir);
  lisec_err err = {0};
  if (!signer && keys_signer_open_file(key, true, &signer, &err)) die("checkpoint key", &err);
  keys_signer_public_key(signer, pk);
  ctl_auditlog_config c = {.store_url = url, .origin = "lisec.bench/audit", .li_pk = li_pk,
                           .sign = keys_signer_sign, .sign_ctx = signer, .pk = pk, .development = true,
                           .checkpoint_entries = 100000, .checkpoint_ms = 10000};
  return c;
}

static int cmd_append(int argc, char **argv) {
  const char *dir = opt(argc, argv, "--dir", "/tmp");
  int writers = atoi(opt(argc, argv, "--writers", "1"));
  double seconds = atof(opt(argc, argv, "--seconds", "3"));
  li_every = (unsigned)atoi(opt(argc, argv, "--li-every", "0"));
  char url[600];
  snprintf(url, sizeof url, "sqlite:%s/append-%d-%u.db", dir, writers, li_every);
  remove_db(url + 7);
  uint8_t li_pk[32] = {9};
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) die("store", &err);
  ctl_auditlog_config c = config(url, dir, li_pk);
  c.gather_us = atoi(opt(argc, argv, "--gather-us", "0"));
  if (ctl_auditlog_open(s, &c, &the_log, &err)) die("open", &err);
  store_close(s);
  pthread_t t[256];
  uint64_t counts[256] = {0};
  if (writers < 1 || writers > 256) return 2;
  uint64_t b0, e0, b1, e1;
  ctl_auditlog_stats(the_log, &b0, &e0);
  double t0 = now_s();
  for (int i = 0; i < writers; i++) pthread_create(&t[i], NULL, appender, &counts[i]);
  usleep((useconds_t)(seconds * 1e6));
  running = 0;
  for (int i = 0; i < writers; i++) pthread_join(t[i], NULL);
  double dt = now_s() - t0;
  ctl_auditlog_stats(the_log, &b1, &e1);
  ctl_auditlog_close(the_log);
  double n = (double)(e1 - e0);
  printf("appends_per_s %.0f\nmean_batch %.1f\n", n / dt, n / (double)(b1 - b0));
  return 0;
}

/* ---- the peer: plain SQLite --------------------------------------------- */

typedef struct plain_job {
  char path[600];
  int batch;
  double seconds;
  uint64_t rows;
  pthread_mutex_t *idx_lock;
  uint64_t *next_idx;
} plain_job;

static void *plain_main(void *arg) {
  plain_job *j = arg;
  int batch = j->batch;
  sqlite3 *db = NULL;
  if (sqlite3_open(j->path, &db) != SQLITE_OK) exit(2);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
               " sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);",
               NULL, NULL, NULL);
  sqlite3_stmt *ins = NULL;
  sqlite3_prepare_v2(db, "INSERT INTO log VALUES (?1, ?2, 0, ?3, ?4)", -1, &ins, NULL);
  /* Rows the size of the appender's entries (encoded the same way). */
  char subject[64];
  audit_record r = sample(1, subject, sizeof subject);
  uint8_t *data = NULL, hash[32] = {1};
  size_t len = 0;
  lisec_err err = {0};
  if (audit_entry_encode(&r, &data, &len, &err)) die("encode", &err);
  uint64_t idx = 0, rows = 0;
  double t0 = now_s(), dt;
  do {
    /* IMMEDIATE: writers queue for the lock instead of failing to upgrade. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) exit(2);
    pthread_mutex_lock(j->idx_lock);
    idx = *j->next_idx;
    *j->next_idx += (uint64_t)batch;
    pthread_mutex_unlock(j->idx_lock);
    for (int i = 0; i < batch; i++, idx++, rows++) {
      sqlite3_bind_int64(ins, 1, (sqlite3_int64)idx);
      sqlite3_bind_int64(ins, 2, (sqlite3_int64)idx);
      sqlite3_bind_blob(ins, 3, data, (int)len, SQLITE_STATIC);
      sqlite3_bind_blob(ins, 4, hash, 32, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) exit(2);
      sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) exit(2);
    dt = now_s() - t0;
  } while (dt < j->seconds);
  j->rows = rows;
  free(data);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return NULL;
}

/* --writers N: N threads, each with its own connection and its own
 * transaction per batch (what callers do without group commit). */
static int cmd_plain(int argc, char **argv) {
  const char *dir = opt(argc, argv, "--dir", "/tmp");
  int batch = atoi(opt(argc, argv, "--batch", "1")), writers = atoi(opt(argc, argv, "--writers", "1"));
  double seconds = atof(opt(argc, argv, "--seconds", "3"));
  if (batch < 1) batch = 1;
  if (writers < 1 || writers > 256) return 2;
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  uint64_t next = 0;
  plain_job jobs[256];
  pthread_t t[256];
  for (int i = 0; i < writers; i++) {
    jobs[i] = (plain_job){.batch = batch, .seconds = seconds, .idx_lock = &lock, .next_idx = &next};
    snprintf(jobs[i].path, sizeof jobs[i].path, "%s/plain-%d-%d.db", dir, batch, writers);
  }
  /* Schema first, from one connection. */
  remove_db(jobs[0].path);
  sqlite3 *db = NULL;
  if (sqlite3_open(jobs[0].path, &db) != SQLITE_OK) return 2;
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY,"
               " time_ms INTEGER NOT NULL, sealed INTEGER NOT NULL, data BLOB NOT NULL,"
               " leaf_hash BLOB NOT NULL);",
               NULL, NULL, NULL);
  sqlite3_close(db);
  double t0 = now_s();
  for (int i = 0; i < writers; i++) pthread_create(&t[i], NULL, plain_main, &jobs[i]);
  uint64_t rows = 0;
  for (int i = 0; i < writers; i++) {
    pthread_join(t[i], NULL);
    rows += jobs[i].rows;
  }
  printf("inserts_per_s %.0f\n", (double)rows / (now_s() - t0));
  return 0;
}

/* The appender's work per batch without its threads: encode B records,
 * hash them, one store transaction, extend the tree. Beside `plain` at the
 * same B it is the log's own overhead over bare SQLite. */
static int cmd_pipeline(int argc, char **argv) {
  const char *dir = opt(argc, argv, "--dir", "/tmp");
  int batch = atoi(opt(argc, argv, "--batch", "1"));
  double seconds = atof(opt(argc, argv, "--seconds", "3"));
  if (batch < 1 || batch > 4096) return 2;
  char url[600];
  snprintf(url, sizeof url, "sqlite:%s/pipeline-%d.db", dir, batch);
  remove_db(url + 7);
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) die("store", &err);
  audit_tree *t = NULL;
  audit_tree_new(4, &t, &err);
  store_log_entry *e = calloc((size_t)batch, sizeof *e);
  uint8_t **bufs = calloc((size_t)batch, sizeof *bufs);
  uint64_t idx = 0;
  double t0 = now_s(), dt;
  do {
    for (int i = 0; i < batch; i++) {
      char subject[64];
      audit_record r = sample(idx + (uint64_t)i, subject, sizeof subject);
      r.seq = idx + (uint64_t)i;
      r.time_ms = 1700000000000;
      size_t len = 0;
      if (audit_entry_encode(&r, &bufs[i], &len, &err)) die("encode", &err);
      e[i] = (store_log_entry){.index = r.seq, .time_ms = r.time_ms, .data = bufs[i], .len = len};
      audit_hash_leaf(bufs[i], len, e[i].leaf_hash);
    }
    if (store_log_append(s, e, (size_t)batch, &err)) die("append", &err);
    for (int i = 0; i < batch; i++) {
      audit_tree_append(t, e[i].leaf_hash, &err);
      free(bufs[i]);
    }
    idx += (uint64_t)batch;
    dt = now_s() - t0;
  } while (dt < seconds);
  printf("pipeline_per_s %.0f\n", (double)idx / dt);
  audit_tree_free(t);
  free(e);
  free(bufs);
  store_close(s);
  return 0;
}

/* ---- the two side by side, interleaved ----------------------------------- */

/* One plain SQLite transaction of B rows, then one batch of B records
 * through lisec, in turn, each timed on its own: on a shared machine whose
 * fsync latency swings tenfold from one second to the next, only
 * alternating transaction by transaction gives both sides the same disk.
 * With --appender (B = 1) lisec's side is the real appender, one
 * ctl_auditlog_append per record; otherwise it is the appender's work per
 * batch (as `pipeline`). Both files live in the same directory. */
static int cmd_pair(int argc, char **argv) {
  const char *dir = opt(argc, argv, "--dir", "/tmp");
  int batch = atoi(opt(argc, argv, "--batch", "1"));
  double seconds = atof(opt(argc, argv, "--seconds", "3"));
  bool real = flag(argc, argv, "--appender");
  if (batch < 1 || batch > 4096 || (real && batch != 1)) return 2;
  char plain_path[600], url[600];
  snprintf(plain_path, sizeof plain_path, "%s/pair-plain-%d.db", dir, batch);
  snprintf(url, sizeof url, "sqlite:%s/pair-lisec-%d.db", dir, batch);
  remove_db(plain_path);
  remove_db(url + 7);

  /* the peer: the same table as the log's (columns, primary key), WAL,
   * synchronous=FULL, one transaction per batch, rows of the same size */
  sqlite3 *db = NULL;
  if (sqlite3_open(plain_path, &db) != SQLITE_OK) return 2;
  sqlite3_busy_timeout(db, 10000);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
               " sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);",
               NULL, NULL, NULL);
  sqlite3_stmt *ins = NULL;
  if (sqlite3_prepare_v2(db, "INSERT INTO log VALUES (?1, ?2, 0, ?3, ?4)", -1, &ins, NULL)) return 2;

  lisec_err err = {0};
  lisec_store *s = NULL;
  if (store_open(url, &s, &err)) die("store", &err);
  ctl_auditlog *log = NULL;
  audit_tree *t = NULL;
  if (real) {
    ctl_auditlog_config c = config(url, dir, NULL);
    /* lisecd's defaults (a checkpoint every 1,000 entries or 10 s): their
     * signatures and writes run beside the appends, as in production */
    c.checkpoint_entries = 0;
    c.checkpoint_ms = 0;
    if (ctl_auditlog_open(s, &c, &log, &err)) die("open", &err);
    store_close(s);
    s = NULL;
  } else {
    audit_tree_new(4, &t, &err);
  }
  store_log_entry *e = calloc((size_t)batch, sizeof *e);
  uint8_t **bufs = calloc((size_t)batch, sizeof *bufs);
  uint64_t idx = 0, pidx = 0;
  double t_plain = 0, t_lisec = 0, start = now_s();
  while (now_s() - start < seconds) {
    /* plain: the peer stores the same bytes, encoded beforehand (encoding
     * is lisec's work, not SQLite's) */
    char subject[64];
    for (int i = 0; i < batch; i++) {
      audit_record r = sample(pidx + (uint64_t)i, subject, sizeof subject);
      r.seq = pidx + (uint64_t)i;
      r.time_ms = 1700000000000;
      if (audit_entry_encode(&r, &bufs[i], &e[i].len, &err)) die("encode", &err);
    }
    uint8_t hash[32] = {1};
    double a = now_s();
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return 2;
    for (int i = 0; i < batch; i++, pidx++) {
      sqlite3_bind_int64(ins, 1, (sqlite3_int64)pidx);
      sqlite3_bind_int64(ins, 2, 1700000000000);
      sqlite3_bind_blob(ins, 3, bufs[i], (int)e[i].len, SQLITE_STATIC);
      sqlite3_bind_blob(ins, 4, hash, 32, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) return 2;
      sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return 2;
    t_plain += now_s() - a;
    for (int i = 0; i < batch; i++) free(bufs[i]);
    /* lisec */
    a = now_s();
    if (real) {
      audit_record r = sample(idx, subject, sizeof subject);
      if (ctl_auditlog_append(log, &r, false, NULL, &err)) die("append", &err);
      idx++;
    } else {
      for (int i = 0; i < batch; i++) {
        audit_record r = sample(idx + (uint64_t)i, subject, sizeof subject);
        r.seq = idx + (uint64_t)i;
        r.time_ms = 1700000000000;
        size_t len = 0;
        if (audit_entry_encode(&r, &bufs[i], &len, &err)) die("encode", &err);
        e[i] = (store_log_entry){.index = r.seq, .time_ms = r.time_ms, .data = bufs[i], .len = len};
        audit_hash_leaf(bufs[i], len, e[i].leaf_hash);
      }
      if (store_log_append(s, e, (size_t)batch, &err)) die("append", &err);
      for (int i = 0; i < batch; i++) {
        audit_tree_append(t, e[i].leaf_hash, &err);
        free(bufs[i]);
      }
      idx += (uint64_t)batch;
    }
    t_lisec += now_s() - a;
  }
  printf("pair_plain_per_s %.0f\npair_lisec_per_s %.0f\npair_overhead %.2f\n", (double)pidx / t_plain,
         (double)idx / t_lisec, ((double)pidx / t_plain) / ((double)idx / t_lisec));
  if (log) ctl_auditlog_close(log);
  audit_tree_free(t);
  free(e);
  free(bufs);
  if (s) store_close(s);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return 0;
}

/* ---- the real appender beside a minimal group-commit writer ------------- */

/* The peer a user could write instead of lisec's log: W writer threads put
 * their row on a queue and wait; one committing thread takes everything
 * queued (up to 4096, the appender's max_batch), inserts it with one
 * prepared statement in one transaction (WAL, synchronous=FULL, the same
 * table and row bytes) and wakes the writers. lisec's side is W threads
 * calling ctl_auditlog_append (encoding their own record, as a use case
 * does) with lisecd's checkpoint defaults (a signed checkpoint every 1,000
 * entries). Rounds alternate between the sides in one process; each round's
 * process CPU time (user+sys, getrusage) is charged to the side that ran. */
typedef struct gc_req {
  struct gc_req *next;
  bool done;
  pthread_cond_t cv; /* its writer waits here: a commit wakes only its own */
} gc_req;

typedef struct gc_peer {
  sqlite3 *db;
  sqlite3_stmt *ins;
  const uint8_t *row;
  size_t row_len;
  pthread_mutex_t mu;
  pthread_cond_t cv_work;
  gc_req *head, **tail;
  bool stop;
  uint64_t idx, batches;
  double commit_s; /* time inside BEGIN..COMMIT */
  pthread_t thread;
} gc_peer;

static void *gc_committer(void *arg) {
  gc_peer *g = arg;
  uint8_t hash[32] = {1};
  pthread_mutex_lock(&g->mu);
  for (;;) {
    while (!g->head && !g->stop) pthread_cond_wait(&g->cv_work, &g->mu);
    if (!g->head && g->stop) break;
    gc_req *batch = g->head, *last = NULL;
    size_t n = 0;
    for (gc_req *r = batch; r && n < 4096; r = r->next) last = r, n++;
    g->head = last->next;
    if (!g->head) g->tail = &g->head;
    last->next = NULL;
    pthread_mutex_unlock(&g->mu);
    double t0 = now_s();
    if (sqlite3_exec(g->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) exit(2);
    for (size_t i = 0; i < n; i++, g->idx++) {
      sqlite3_bind_int64(g->ins, 1, (sqlite3_int64)g->idx);
      sqlite3_bind_int64(g->ins, 2, 1700000000000);
      sqlite3_bind_blob(g->ins, 3, g->row, (int)g->row_len, SQLITE_STATIC);
      sqlite3_bind_blob(g->ins, 4, hash, 32, SQLITE_STATIC);
      if (sqlite3_step(g->ins) != SQLITE_DONE) exit(2);
      sqlite3_reset(g->ins);
    }
    if (sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) exit(2);
    double dt = now_s() - t0;
    pthread_mutex_lock(&g->mu);
    g->commit_s += dt;
    g->batches++;
    for (gc_req *r = batch, *nx; r; r = nx) {
      nx = r->next; /* r may be gone once done */
      r->done = true;
      pthread_cond_signal(&r->cv);
    }
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

typedef struct vs_writer {
  gc_peer *peer; /* NULL: lisec */
  ctl_auditlog *log;
  volatile int *run;
  uint64_t count, seed;
} vs_writer;

static void *vs_writer_main(void *arg) {
  vs_writer *w = arg;
  char subject[64];
  for (uint64_t i = 0; *w->run; i++) {
    if (w->peer) {
      gc_req r = {0};
      pthread_cond_init(&r.cv, NULL);
      pthread_mutex_lock(&w->peer->mu);
      *w->peer->tail = &r;
      w->peer->tail = &r.next;
      pthread_cond_signal(&w->peer->cv_work);
      while (!r.done) pthread_cond_wait(&r.cv, &w->peer->mu);
      pthread_mutex_unlock(&w->peer->mu);
      pthread_cond_destroy(&r.cv);
    } else {
      audit_record r = sample(w->seed + i, subject, sizeof subject);
      lisec_err err = {0};
      if (ctl_auditlog_append(w->log, &r, false, NULL, &err)) die("append", &err);
    }
    w->count++;
  }
  return NULL;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec / 1e6;
}

/* One round of one side: W threads for `seconds`; adds entries, wall, CPU. */
static void vs_round(gc_peer *peer, ctl_auditlog *log, int writers, double seconds, uint64_t seed,
                     double acc[3]) {
  volatile int run = 1;
  pthread_t t[256];
  vs_writer w[256];
  double c0 = cpu_s(), t0 = now_s();
  for (int i = 0; i < writers; i++) {
    w[i] = (vs_writer){.peer = peer, .log = log, .run = &run, .seed = seed + (uint64_t)i * 1000000000ull};
    pthread_create(&t[i], NULL, vs_writer_main, &w[i]);
  }
  while (now_s() - t0 < seconds) usleep(20000);
  run = 0;
  uint64_t n = 0;
  for (int i = 0; i < writers; i++) {
    pthread_join(t[i], NULL);
    n += w[i].count;
  }
  acc[0] += (double)n;
  acc[1] += now_s() - t0;
  acc[2] += cpu_s() - c0;
}

static int cmd_vs(int argc, char **argv) {
  const char *dir = opt(argc, argv, "--dir", "/tmp");
  int writers = atoi(opt(argc, argv, "--writers", "64"));
  int rounds = atoi(opt(argc, argv, "--rounds", "6"));
  double seconds = atof(opt(argc, argv, "--seconds", "2"));
  /* --side lisec|plain: one side only (to profile it) */
  const char *side = opt(argc, argv, "--side", "both");
  bool run_lisec = strcmp(side, "plain") != 0, run_plain = strcmp(side, "lisec") != 0;
  if (writers < 1 || writers > 256 || rounds < 1 || rounds > 1000 || seconds <= 0 || seconds > 600) return 2;
  char plain_path[600], url[600];
  snprintf(plain_path, sizeof plain_path, "%s/vs-plain.db", dir);
  snprintf(url, sizeof url, "sqlite:%s/vs-lisec.db", dir);
  remove_db(plain_path);
  remove_db(url + 7);

  gc_peer g = {.tail = &g.head};
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv_work, NULL);
  /* opened as the store opens its file (created 0600 first, no SQLite mutex) */
  int fd = open(plain_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  if (sqlite3_open_v2(plain_path, &g.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    return 2;
  sqlite3_busy_timeout(g.db, 10000);
  sqlite3_exec(g.db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
               " sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);",
               NULL, NULL, NULL);
  if (sqlite3_prepare_v2(g.db, "INSERT INTO log VALUES (?1, ?2, 0, ?3, ?4)", -1, &g.ins, NULL)) return 2;
  char subject[64];
  audit_record r = sample(123456789, subject, sizeof subject);
  uint8_t *row = NULL;
  lisec_err err = {0};
  if (audit_entry_encode(&r, &row, &g.row_len, &err)) die("encode", &err);
  g.row = row;
  pthread_create(&g.thread, NULL, gc_committer, &g);

  lisec_store *s = NULL;
  ctl_auditlog *log = NULL;
  if (store_open(url, &s, &err)) die("store", &err);
  ctl_auditlog_config c = config(url, dir, NULL);
  c.checkpoint_entries = 0; /* lisecd's defaults: every 1,000 entries or 10 s */
  c.checkpoint_ms = 0;
  /* --gather-us N: the appender's gather_us (0: its default, negative: none) */
  c.gather_us = atoi(opt(argc, argv, "--gather-us", "0"));
  if (ctl_auditlog_open(s, &c, &log, &err)) die("open", &err);
  store_close(s);

  double lisec[3] = {0}, plain[3] = {0};
  for (int i = 0; i < rounds; i++) {
    /* who goes first alternates too */
    for (int k = 0; k < 2; k++) {
      if ((i + k) % 2 == 0 && run_lisec) vs_round(NULL, log, writers, seconds, (uint64_t)i * 100000000000ull, lisec);
      else if ((i + k) % 2 == 1 && run_plain) vs_round(&g, NULL, writers, seconds, 0, plain);
    }
  }
  uint64_t lb, le;
  ctl_auditlog_stats(log, &lb, &le);
  ctl_auditlog_close(log);
  pthread_mutex_lock(&g.mu);
  g.stop = true;
  pthread_cond_signal(&g.cv_work);
  pthread_mutex_unlock(&g.mu);
  pthread_join(g.thread, NULL);
  double lr = lisec[0] / lisec[1], pr = plain[0] / plain[1];
  printf("vs_writers %d\nvs_rounds %d\n", writers, rounds);
  printf("vs_plain_per_s %.0f\nvs_plain_batch %.1f\nvs_plain_cpu_us_per_entry %.2f\n", pr,
         plain[0] / (double)g.batches, plain[2] / plain[0] * 1e6);
  printf("vs_plain_commit_ms %.3f (mean BEGIN..COMMIT)\nvs_plain_cycle_ms %.3f (wall per batch)\n",
         g.commit_s / (double)g.batches * 1e3, plain[1] / (double)g.batches * 1e3);
  printf("vs_lisec_per_s %.0f\nvs_lisec_batch %.1f\nvs_lisec_cpu_us_per_entry %.2f\n", lr,
         (double)le / (double)lb, lisec[2] / lisec[0] * 1e6);
  printf("vs_ratio %.2f\nvs_cpu_ratio %.2f\n", pr / lr, (lisec[2] / lisec[0]) / (plain[2] / plain[0]));
  sqlite3_finalize(g.ins);
  sqlite3_close(g.db);
  free(row);
  return 0;
}

/* ---- a big log, and proofs at its size ---------------------------------- */

/* --checkpoint-every K (with --dir for the key): a signed checkpoint is
 * stored after every K entries, as lisecd's defaults make them (1,000), so
 * the load and `lisec audit verify` check as many signatures as they would. */
static int cmd_build(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL), *dir = opt(argc, argv, "--dir", "/tmp");
  uint64_t n = strtoull(opt(argc, argv, "--n", "1000000"), NULL, 10);
  uint64_t every = strtoull(opt(argc, argv, "--checkpoint-every", "0"), NULL, 10);
  if (!url) return 2;
  lisec_store *s = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err)) die("store", &err);
  audit_vkey key;
  ctl_auditlog_config c = config(url, dir, NULL);
  if (every && audit_vkey_make(c.origin, c.pk, &key, &err)) die("vkey", &err);
  audit_frontier f;
  audit_frontier_init(&f);
  enum { B = 20000 };
  store_log_entry *e = calloc(B, sizeof *e);
  uint8_t **bufs = calloc(B, sizeof *bufs);
  uint64_t checkpoints = 0;
  double t0 = now_s();
  for (uint64_t at = 0; at < n;) {
    size_t k = n - at < B ? (size_t)(n - at) : B;
    if (every && k > every - at % every) k = (size_t)(every - at % every);
    for (size_t i = 0; i < k; i++) {
      char subject[64];
      audit_record r = sample(at + i, subject, sizeof subject);
      r.seq = at + i;
      r.time_ms = 1700000000000 + (int64_t)(at + i);
      size_t len = 0;
      if (audit_entry_encode(&r, &bufs[i], &len, &err)) die("encode", &err);
      e[i] = (store_log_entry){.index = at + i, .time_ms = r.time_ms, .data = bufs[i], .len = len};
      audit_hash_leaf(bufs[i], len, e[i].leaf_hash);
      if (every && audit_frontier_append(&f, e[i].leaf_hash, &err)) die("frontier", &err);
    }
    if (store_log_append(s, e, k, &err)) die("append", &err);
    for (size_t i = 0; i < k; i++) free(bufs[i]);
    at += k;
    if (every && at % every == 0) {
      audit_checkpoint cp = {.size = at};
      snprintf(cp.origin, sizeof cp.origin, "%s", c.origin);
      audit_frontier_root(&f, cp.root);
      char *note = NULL;
      if (audit_note_sign(&cp, &key, c.sign, c.sign_ctx, &note, &err) ||
          store_checkpoint_put(s, at, note, &err))
        die("checkpoint", &err);
      free(note);
      checkpoints++;
    }
  }
  printf("build_s %.1f\ncheckpoints %llu\n", now_s() - t0, (unsigned long long)checkpoints);
  free(e);
  free(bufs);
  store_close(s);
  return 0;
}

/* Drops a database file and its WAL from the page cache (written back
 * first, then posix_fadvise DONTNEED): the next read comes from the disk. */
static void drop_cache(const char *path) {
  char p[700];
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, i ? "%s-wal" : "%s", path);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

static int cmd_dropcache(int argc, char **argv) {
  const char *file = opt(argc, argv, "--file", NULL);
  if (!file) return 2;
  drop_cache(file);
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int k) {
  qsort(v, (size_t)k, sizeof *v, cmp_double);
  double sum = 0;
  for (int i = 0; i < k; i++) sum += v[i];
  printf("%s_us mean %.1f p50 %.1f p99 %.1f\n", name, sum / k * 1e6, v[k / 2] * 1e6, v[k * 99 / 100] * 1e6);
}

static int leaf_of(void *ctx, const store_log_entry *e) {
  memcpy(ctx, e->leaf_hash, 32);
  return 0;
}

/* --cold: before every sample the database file and its WAL are dropped
 * from the page cache (drop_cache); the reader's own SQLite cache (2 MiB)
 * stays, which random samples over a log of 1M entries and more hit rarely.
 * Proof by hash: the leaf hash of a random entry (read untimed) is looked up
 * (ctl_auditlog_find_leaf) and its inclusion proof made, timed together. */
static int cmd_proofs(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL), *dir = opt(argc, argv, "--dir", "/tmp");
  int k = atoi(opt(argc, argv, "--samples", "2000"));
  int kh = atoi(opt(argc, argv, "--hash-samples", "200"));
  bool cold = flag(argc, argv, "--cold");
  if (!url || k < 1 || kh < 0 || k > 1000000 || kh > 1000000) return 2;
  const char *file = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : NULL;
  lisec_store *s = NULL, *peek = NULL;
  lisec_err err = {0};
  if (store_open(url, &s, &err) || store_open(url, &peek, &err)) die("store", &err);
  ctl_auditlog_config c = config(url, dir, NULL);
  c.keep_all_leaves = flag(argc, argv, "--all-leaves");
  c.origin = opt(argc, argv, "--origin", c.origin);
  if (cold && file) drop_cache(file);
  double t0 = now_s();
  ctl_auditlog *log = NULL;
  if (ctl_auditlog_open(s, &c, &log, &err)) die("open", &err);
  if (!bench_audit_wait_ready(log, 900)) die("the check after the open did not finish intact", NULL);
  uint64_t n = ctl_auditlog_size(log);
  printf("open_and_check_s %.2f\nopen_entries_per_s %.0f\n", now_s() - t0, (double)n / (now_s() - t0));
  double *inc = calloc((size_t)k, sizeof *inc), *con = calloc((size_t)k, sizeof *con);
  double *byh = calloc((size_t)kh + 1, sizeof *byh);
  uint64_t seed = 88172645463325252ull;
  for (int i = 0; i < k; i++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    uint64_t idx = seed % n, old = 1 + seed % (n - 1);
    audit_proof p;
    uint8_t leaf[32], root[32], oroot[32];
    uint64_t size;
    if (cold && file) drop_cache(file);
    double a = now_s();
    if (ctl_auditlog_prove_inclusion(log, s, idx, 0, &p, leaf, root, &size, &err)) die("inclusion", &err);
    double b = now_s();
    if (cold && file) drop_cache(file); /* not timed */
    double b2 = now_s();
    if (ctl_auditlog_prove_consistency(log, s, old, 0, &p, oroot, root, &size, &err)) die("consistency", &err);
    double d = now_s();
    inc[i] = b - a;
    con[i] = d - b2;
    if (i == 0 && audit_verify_consistency(old, size, oroot, root, &p, &err)) die("verify", &err);
    if (i < kh) {
      /* another entry, its hash read on another handle: the reader's own
       * SQLite cache has not seen it */
      uint64_t found = 0, want = (idx + n / 2) % n;
      if (store_log_range(peek, want, want + 1, leaf_of, leaf, &err)) die("peek", &err);
      if (cold && file) drop_cache(file);
      a = now_s();
      if (ctl_auditlog_find_leaf(log, s, leaf, 0, &found, &err) ||
          ctl_auditlog_prove_inclusion(log, s, found, 0, &p, NULL, root, &size, &err))
        die("proof by hash", &err);
      byh[i] = now_s() - a;
      if (found != want) die("proof by hash found another entry", NULL);
    }
  }
  const char *sfx = c.keep_all_leaves ? "_all_leaves" : "";
  char name[64];
  snprintf(name, sizeof name, "%sinclusion%s", cold ? "cold_" : "", sfx);
  report(name, inc, k);
  snprintf(name, sizeof name, "%sconsistency%s", cold ? "cold_" : "", sfx);
  report(name, con, k);
  if (kh > 0) {
    snprintf(name, sizeof name, "%sproof_by_hash%s", cold ? "cold_" : "", sfx);
    report(name, byh, kh < k ? kh : k);
  }
  free(inc);
  free(con);
  free(byh);
  ctl_auditlog_close(log);
  store_close(s);
  store_close(peek);
  return 0;
}

static int cmd_verify_mem(int argc, char **argv) {
  uint64_t n = strtoull(opt(argc, argv, "--n", "1000000"), NULL, 10);
  uint8_t **data = calloc(n, sizeof *data);
  size_t *len = calloc(n, sizeof *len);
  lisec_err err = {0};
  for (uint64_t i = 0; i < n; i++) {
    char subject[64];
    audit_record r = sample(i, subject, sizeof subject);
    r.seq = i;
    if (audit_entry_encode(&r, &data[i], &len[i], &err)) die("encode", &err);
  }
  audit_vkey k;
  uint8_t pk[32] = {0};
  audit_vkey_make("lisec.bench/audit", pk, &k, &err);
  audit_verifier *v = NULL;
  audit_verifier_new(&k, NULL, &v, &err);
  audit_verifier_allow_unsigned(v);
  double t0 = now_s();
  for (uint64_t i = 0; i < n; i++) audit_verifier_add_entry(v, i, data[i], len[i], NULL, NULL);
  audit_verify_summary sum;
  audit_verifier_finish(v, &sum);
  double dt = now_s() - t0;
  printf("verify_mem_entries_per_s %.0f\n", (double)n / dt);
  audit_verifier_free(v);
  for (uint64_t i = 0; i < n; i++) free(data[i]);
  free(data);
  free(len);
  return sum.findings ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "append") == 0) return cmd_append(argc, argv);
  if (strcmp(argv[1], "plain") == 0) return cmd_plain(argc, argv);
  if (strcmp(argv[1], "pipeline") == 0) return cmd_pipeline(argc, argv);
  if (strcmp(argv[1], "pair") == 0) return cmd_pair(argc, argv);
  if (strcmp(argv[1], "vs") == 0) return cmd_vs(argc, argv);
  if (strcmp(argv[1], "build") == 0) return cmd_build(argc, argv);
  if (strcmp(argv[1], "dropcache") == 0) return cmd_dropcache(argc, argv);
  if (strcmp(argv[1], "proofs") == 0) return cmd_proofs(argc, argv);
  if (strcmp(argv[1], "verify-mem") == 0) return cmd_verify_mem(argc, argv);
  fprintf(stderr, "usage: bench_audit append|plain|pipeline|pair|build|proofs|verify-mem ...\n");
  return 2;
}
