/* The durable audit appender. Callers encode their record, reserve the next
 * index under a mutex (a plain record is numbered and hashed there too; a
 * sealed one after, in parallel) and queue it in a ring indexed by position.
 * A caller that finds the head ready and nobody committing leads: it waits
 * (at most gather_us) for the records being prepared and for the callers its
 * previous batch just served to come back, takes every contiguous ready
 * record from the head, appends them to the store in one durable transaction
 * (group commit), adds their leaf hashes to the tree and wakes their callers.
 * If the transaction fails, the records in it fail; plain records queued
 * behind it are renumbered into its place (they were never durable), the
 * others fail with it: a caller is told "done" only for what is on disk, and
 * "refused" for everything else. A record may carry documents (the host and
 * observation documents of an attestation report): they are written in the
 * batch's transaction, so N reports in a batch cost one commit and a record
 * never lands without its documents. Checkpoints are signed by their own
 * thread, by the keys process (the key is never here). libsodium (sealed
 * boxes, Ed25519) is used directly here; crypto/crypto.h is not included
 * because it and sodium.h both declare crypto_sign(). */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctl/auditlog.h"
#include "keys/signer.h"

#define REFUSED "audit record could not be made durable; action refused (TR103308-5.5)"
#define RING_SIZE 65536u
#define ENTRIES_JSON_MAX 10000u

enum { P_RESERVED, P_READY, P_ABORTED, P_DONE, P_FAILED };

/* One caller's record in flight; it lives on the caller's stack until its
 * word says it is done or failed (see "Waking callers" below). */
typedef struct pending {
  uint64_t index;
  int state;
  int64_t time_ms;
  bool sealed;
  uint8_t *data;
  size_t len;
  uint8_t leaf[AUDIT_HASH_LEN];
  ctl_auditlog_doc *docs; /* written in the batch's transaction (caller's) */
  size_t n_docs;
  lisec_err fail;     /* why, when failed */
  atomic_uint word;   /* its caller waits on it: a count of nudges, or WORD_FINAL */
  struct pending *next_done; /* a batch's records to finish once mu is released */
  bool lowered;       /* its caller runs at a lower CPU priority (ctl_auditlog_thread_lowered) */
} pending;

/* Whether this thread runs at a lower CPU priority than the request
 * threads (a bulk thread at [server] bulk_nice), and how many group
 * commits it has led: see "Who leads" below. */
static _Thread_local uint64_t thread_led;

void ctl_auditlog_thread_lowered(bool lowered) { store_thread_set_lowered(lowered); }
uint64_t ctl_auditlog_thread_led(void) { return thread_led; }

/* How often this thread took mu in an append (test_auditlog). */
static _Thread_local uint64_t thread_locks;
uint64_t ctl_auditlog_thread_locks(void) { return thread_locks; }

/* The checkpoint key, as the keys process lends it: a signing call and
 * the public key. */
typedef struct signer {
  audit_sign_fn sign;
  void *ctx;
  bool dev;
  uint8_t pk[32];
  int (*next_key)(void *ctx, bool fresh, uint8_t pk[32], lisec_err *err);
  audit_sign_fn sign_next;
  int (*promote)(void *ctx, const uint8_t pk[32], lisec_err *err);
  /* the keys process as the log's witness (ctl/auditlog.h): when set, it
   * signs in place of sign and sign_next, given a consistency proof */
  int (*witness)(void *ctx, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err);
  int (*sign_proven)(void *ctx, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                     const audit_proof *proof, uint8_t sig[64], lisec_err *err);
} signer;

/* Where a checkpoint key rollover stands (under mu). */
typedef enum { RO_NONE, RO_SIGN, RO_PROMOTE } rollover_step;

struct ctl_auditlog {
  char *url;
  audit_vkey vkey; /* changed by a rollover: read under mu off the checkpoint thread */
  signer key;
  char *vkey_file;
  rollover_step ro;
  audit_vkey ro_key;
  bool restore_pending; /* the next checkpoint says the store was restored from restore_from */
  audit_checkpoint restore_from;
  bool li_set;
  uint8_t li_pk[32];
  bool rd_set;
  uint8_t rd_pk[32];
  uint64_t cp_every;
  int64_t cp_ms;
  uint32_t max_batch;
  int64_t gather_ns; /* how long a leader waits for records being prepared; 0: not at all */

  pthread_mutex_t mu;
  pthread_cond_t cv_cp, cv_done, cv_space;
  pthread_cond_t cv_gather; /* a leader gathering: what it waits for is there */
  bool gathering;
  uint64_t expected; /* callers the last batches served, not yet back with a new record */
  int64_t commit_ns;  /* how long the last transaction took (under leading) */
  atomic_uint preparing;   /* callers between entering an append and their record ready */
  pending **ring;
  uint64_t next_index; /* next to reserve */
  uint64_t committed;  /* durable entries */
  bool stop, broken;
  lisec_err broken_why;
  pthread_t cp_thread;
  bool cp_started;
  bool leading; /* a caller is committing a batch */
  bool lead_lowered; /* ... and that caller runs at a lower CPU priority */
  lisec_store *ws; /* the leaders' store handle (one leader at a time) */
  store_log_entry *batch;
  pending **held; /* the batch's records (the leader's, during a commit) */

  uint64_t batches; /* durable transactions so far (under mu) */
#ifdef LISEC_TEST_HOOKS
  uint64_t test_txns; /* transactions attempted (under leading) */
#endif

  /* checkpoints (under mu) */
  uint64_t cp_size;
  int64_t first_unsigned_ms; /* when the oldest entry after cp_size became durable */
  char *cp_note;
  bool cp_request;
  int64_t cp_retry_ms; /* after a failed checkpoint, not before this */
  lisec_err cp_err;
  /* the witness (checkpoint thread): the size it last signed, when known */
  bool wit_known;
  bool wit_first; /* it had none when asked: the next one signed is trusted on first use */
  uint64_t wit_size;
  uint64_t wit_refusals; /* checkpoints the witness refused (under mu; metrics) */
  bool wit_refusing;     /* the last one was refused: recorded once until one is signed (under mu) */
  int64_t cp_ok_ms;       /* the last checkpoint published (or the open) */
  uint64_t cp_failures;   /* checkpoints that failed since open (metrics) */
  /* RFC 3161 timestamps of the checkpoints (ctl/audit_tsa.h; NULL: none) */
  ctl_tsa *tsa;
  uint64_t ts_missing, ts_ok; /* (under mu) */
  bool ts_failing;            /* the last checkpoint has no timestamp (under mu) */

  /* tree (under tree_lock) */
  pthread_rwlock_t tree_lock;
  audit_tree *tree;
  audit_leaf_index *leaves; /* entry by leaf hash (proofs asked by hash) */

  /* open from a checkpoint (issue 22 item 7): entries below trusted_size
   * were loaded by their stored leaf hashes, which the checkpoint there
   * signs; their data is checked by the recheck thread after the open */
  uint64_t full_below;   /* config: a log with fewer entries below its checkpoint is checked in full */
  uint64_t trusted_size; /* 0: everything was checked at open */
  audit_vkey open_key;   /* the key the open verified with (a rollover may change vkey later) */
  pthread_t recheck_thread;
  bool recheck_started;
  atomic_bool recheck_stop;
  atomic_ullong recheck_checked; /* entries whose data the recheck has hashed and decoded */
  atomic_int recheck_state;      /* RECHECK_* */

  /* open from a checkpoint's stored frontier: the tree below base is not
   * in memory until the recheck thread has rebuilt it from the entries it
   * checks (deferred, under tree_lock). Meanwhile the log grows on front,
   * the right edge, and pend keeps the leaf hashes from base on, so the
   * rebuilt tree can catch up; proofs wait for it (EUNAVAIL). */
  bool deferred;
  uint64_t base;
  audit_frontier front;
  uint8_t (*pend)[AUDIT_HASH_LEN];
  uint64_t pend_cap;
  audit_frontier cpf; /* the checkpoint thread's right edge, at the last size it signed */
  bool from_frontier; /* the open began at a stored frontier (base) */
};


/* ---- Waking callers ------------------------------------------------------
 * A caller waits on its record's word (a Linux futex), not on a condition
 * variable under mu. A leader that made a batch durable marks its records
 * done under mu, releases mu, and only then wakes their callers one by one;
 * a woken caller whose word is final returns without taking mu again. With
 * a condition variable the leader woke each caller while holding mu and
 * every woken caller at once queued on mu behind it (64 writers: over a
 * quarter of the appender's perf samples were the mutex's own sleeps and
 * wake-ups; its CPU per entry fell by ~30 % without them, issue 22 item 1). Storing WORD_FINAL is the last access to a
 * record: its caller may return and its stack frame be reused at once, so
 * the wake that follows uses only the address; a wake that reaches a later
 * waiter at the same address is spurious, and every wait here re-checks its
 * word. A nudge (lead, or hand the lead over) is made under mu, to a record
 * still in the ring, so still alive. A leader whose own record was in the
 * batch returns once it has woken the others, without taking mu again. */
#define WORD_FINAL 0x80000000u

static void word_wake(atomic_uint *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

/* Sleeps while *w is still seen (returns at once if it changed). */
static void word_wait(atomic_uint *w, unsigned seen) {
  syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

/* Asks p's caller to look again (mu held; p in the ring). */
static void nudge(pending *p) {
  unsigned g = atomic_load_explicit(&p->word, memory_order_relaxed);
  atomic_store_explicit(&p->word, (g + 1) & ~WORD_FINAL, memory_order_release);
  word_wake(&p->word);
}

/* p's state and fail are set: publishes them; p is not touched after. */
static void finish(pending *p) {
  atomic_uint *w = &p->word;
  atomic_store_explicit(w, WORD_FINAL, memory_order_release);
  word_wake(w);
}

/* Finishes a batch's chain (mu not held); self is the leader's own record,
 * which needs no wake. */
static void finish_chain(pending *p, pending *self) {
  while (p) {
    pending *next = p->next_done;
    if (p == self) atomic_store_explicit(&p->word, WORD_FINAL, memory_order_release);
    else finish(p);
    p = next;
  }
}

/* ---- loading the log at open --------------------------------------------- */

/* Opening a large log (issue 22 item 7: 54 s at 10M entries when every leaf
 * hash was recomputed): when the newest stored checkpoint is signed by this
 * lisecd's key for the size it is filed at, the entries below it are loaded
 * by their stored leaf hashes; the verifier still places each one and
 * compares the tree's root with every stored checkpoint's signed root, so a
 * changed, forged, inserted, deleted or reordered leaf hash, and every
 * checkpoint fault, refuses the open as before. What is not checked at open
 * is whether each entry's data still hashes to its stored leaf hash (and
 * decodes, at its position, sealed when it is LI): a data-only edit below
 * the checkpoint. The recheck thread checks exactly that right after the
 * open, on its own store handle, while appends proceed; a finding stops
 * the log (appends refused naming TR103308-5.5, as a refused open would
 * have) and is logged. Entries from the checkpoint on, and every log with
 * fewer than full_below entries below it, are checked in full at open. */

/* The index first: a tree append that fails after it leaves the index one
 * entry ahead, which only adds a candidate no proof below the tree's size
 * returns; the other way round a durable entry could not be found. */
static int tree_add(ctl_auditlog *log, const uint8_t leaf[AUDIT_HASH_LEN], lisec_err *err) {
  if (log->deferred) {
    uint64_t n = log->front.size - log->base;
    if (n >= log->pend_cap) {
      uint64_t cap = log->pend_cap ? log->pend_cap * 2 : 4096;
      void *p = realloc(log->pend, cap * AUDIT_HASH_LEN);
      if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory growing the audit tree");
      log->pend = p;
      log->pend_cap = cap;
    }
    memcpy(log->pend[n], leaf, AUDIT_HASH_LEN);
    return audit_frontier_append(&log->front, leaf, err);
  }
  if (audit_leaf_index_size(log->leaves) == audit_tree_size(log->tree)) {
    int rc = audit_leaf_index_add(log->leaves, leaf, err);
    if (rc) return rc;
  }
  return audit_tree_append(log->tree, leaf, err);
}

/* Leaves in the tree (or on its right edge while it is deferred);
 * tree_lock held. */
static uint64_t tree_size(const ctl_auditlog *log) {
  return log->deferred ? log->front.size : audit_tree_size(log->tree);
}

static uint64_t tree_size_locked(ctl_auditlog *log) {
  pthread_rwlock_rdlock(&log->tree_lock);
  uint64_t n = tree_size(log);
  pthread_rwlock_unlock(&log->tree_lock);
  return n;
}

typedef struct load_ctx {
  ctl_auditlog *log;
  audit_verifier *v;
  int rc;
  lisec_err *err;
} load_ctx;

static int load_checkpoint(void *ctx, uint64_t size, const char *note) {
  load_ctx *c = ctx;
  /* below a stored frontier: checked by the recheck thread after the open */
  if (c->log->from_frontier && size < c->log->base) return 0;
  int rc = audit_verifier_add_checkpoint(c->v, size, note, strlen(note));
  if (rc) c->rc = lisec_err_set(c->err, rc, "loading audit checkpoints: %s", lisec_err_name(rc));
  return c->rc;
}

static int load_entry(void *ctx, const store_log_entry *e) {
  load_ctx *c = ctx;
  uint8_t leaf[AUDIT_HASH_LEN];
  int rc = 0;
  if (e->index < c->log->trusted_size) {
    rc = audit_verifier_add_leaf(c->v, e->index, e->leaf_hash);
    memcpy(leaf, e->leaf_hash, AUDIT_HASH_LEN);
  } else {
    rc = audit_verifier_add_entry(c->v, e->index, e->data, e->len, e->leaf_hash, leaf);
  }
  if (!rc) rc = tree_add(c->log, leaf, c->err);
  else lisec_err_set(c->err, rc, "loading the audit log: %s", lisec_err_name(rc));
  c->rc = rc;
  return rc;
}

static int resume_rollover(ctl_auditlog *log, const audit_vkey *logs, lisec_err *err);

/* Whether the newest stored checkpoint is signed by keys other than this
 * lisecd's only (a node given another key than the log's: issue 17 item 3),
 * and then the refusal naming the key that did sign it, in err. */
static bool signed_by_another(ctl_auditlog *log, lisec_store *s, lisec_err *err) {
  char *note = NULL, who[256], mine[AUDIT_ORIGIN_MAX + 16];
  uint64_t size = 0;
  lisec_err e = {0};
  if (store_checkpoint_latest(s, &size, &note, &e) != 0) return false;
  size_t text_len = 0;
  snprintf(mine, sizeof mine, "%s+%08x", log->vkey.name, (unsigned)log->vkey.id);
  bool other = audit_note_verify(note, strlen(note), &log->vkey, &text_len, &e) == LISEC_ECRYPTO &&
               audit_note_signers(note, strlen(note), who, sizeof who) > 0 && !strstr(who, mine);
  free(note);
  if (other)
    lisec_err_set(err, LISEC_EDENIED,
                  "TR103308-5.5: the audit log in the store is signed by key %s, which this lisecd "
                  "does not have (its checkpoint key is %s): give this node the key that signs the "
                  "log ([audit] development_key_file, or the token's key), the same on every node",
                  who, mine);
  return other;
}

/* The size up to which entries may be loaded by their stored leaf hashes:
 * the newest stored checkpoint's, when this lisecd's key signs it for the
 * size it is filed at, inside the log, and at least full_below; else 0. */
static uint64_t trusted_size(ctl_auditlog *log, lisec_store *s, uint64_t log_size, audit_checkpoint *cp) {
  char *note = NULL;
  uint64_t size = 0;
  lisec_err e = {0};
  if (store_checkpoint_latest(s, &size, &note, &e) != 0) return 0;
  bool ok = size >= log->full_below && size <= log_size &&
            audit_note_open(note, strlen(note), &log->vkey, cp, &e) == 0 && cp->size == size;
  free(note);
  return ok ? size : 0;
}

/* The frontier stored with the checkpoint the open trusts (cp): when there
 * is one, the open begins there and reads nothing below it (*found). One
 * that does not parse or does not give the checkpoint's signed root was
 * edited: the open is refused, as for any other edit of the log. A log
 * written before frontiers were stored has none at its newest checkpoint:
 * it opens by its stored leaf hashes, and its next checkpoint stores one. */
static int stored_frontier(lisec_store *s, const audit_checkpoint *cp, audit_frontier *f, bool *found,
                           lisec_err *err) {
  char id[24], *body = NULL;
  snprintf(id, sizeof id, "%llu", (unsigned long long)cp->size);
  lisec_err e = {0};
  *found = false;
  int rc = store_doc_get(s, AUDIT_FRONTIER_DOC_KIND, id, &body, NULL, &e);
  if (rc == LISEC_ENOTFOUND) return 0;
  if (rc) return lisec_err_set(err, rc, "loading the audit tree's frontier at size %s: %s", id, e.msg);
  rc = audit_frontier_parse(body, strlen(body), f, &e);
  free(body);
  uint8_t root[AUDIT_HASH_LEN];
  if (!rc) audit_frontier_root(f, root);
  if (rc || f->size != cp->size || sodium_memcmp(root, cp->root, AUDIT_HASH_LEN) != 0)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.5: the audit tree frontier stored with the checkpoint at size %s %s: it "
                         "was edited; lisecd will not extend a tampered log: run `lisec audit verify`",
                         id, rc ? e.msg : "does not give the checkpoint's signed root");
  *found = true;
  return 0;
}

static int load_log(ctl_auditlog *log, lisec_store *s, lisec_err *err) {
  load_ctx c = {.log = log, .err = err};
  int rc = audit_verifier_new(&log->vkey, NULL, &c.v, err);
  if (rc) return rc;
  audit_verifier_allow_unsigned(c.v);
  log->open_key = log->vkey;
  uint64_t size = 0;
  audit_checkpoint cp;
  audit_frontier f;
  rc = store_log_size(s, &size, err);
  if (!rc) log->trusted_size = trusted_size(log, s, size, &cp);
  /* A tail after the checkpoint longer than the log below it (checkpoints
   * that failed for long) makes the open O(n) anyway, and the leaves taken
   * while the tree is deferred cost 32 bytes each: such a log opens by its
   * stored leaf hashes into the compact tree instead. */
  if (!rc && log->trusted_size && size - cp.size <= cp.size)
    rc = stored_frontier(s, &cp, &f, &log->from_frontier, err);
  if (!rc && log->from_frontier) {
    /* Nothing below the checkpoint is read: the tree starts as its right
     * edge, and the recheck thread rebuilds the rest. */
    log->deferred = true;
    log->base = cp.size;
    log->front = log->cpf = f;
    if (audit_verifier_start_at(c.v, &f) != 0) rc = lisec_err_set(err, LISEC_EINTERNAL, "audit verifier");
  }
  if (!rc) rc = store_checkpoint_list_from(s, log->from_frontier ? log->base : 0, load_checkpoint, &c, err);
  if (!rc) rc = store_log_range(s, log->from_frontier ? log->base : 0, size, load_entry, &c, err);
  if (!rc && c.rc) rc = c.rc;
  audit_verify_summary sum;
  audit_verifier_finish(c.v, &sum);
  if (!rc && sum.findings && signed_by_another(log, s, err)) {
    rc = LISEC_EDENIED;
  } else if (!rc && sum.findings) {
    const char *first = audit_verifier_finding(c.v, 0);
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-5.5: the audit log in the store does not verify (%llu finding(s); first: "
                       "%s); lisecd will not extend a tampered log: run `lisec audit verify`",
                       (unsigned long long)sum.findings, first ? first : "?");
  }
  if (!rc && tree_size(log) != size)
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-5.5: the audit log has gaps");
  if (!rc && sum.have_newest) log->cp_size = sum.newest.size;
  audit_vkey logs;
  audit_verifier_current_key(c.v, &logs);
  audit_verifier_free(c.v);
  if (!rc && !audit_vkey_equal(&logs, &log->vkey)) rc = resume_rollover(log, &logs, err);
  if (!rc) {
    char *note = NULL;
    uint64_t cp_size = 0;
    lisec_err e2 = {0};
    if (store_checkpoint_latest(s, &cp_size, &note, &e2) == 0 && cp_size == log->cp_size)
      log->cp_note = note;
    else
      free(note);
  }
  log->committed = log->next_index = size;
  return rc;
}

/* ---- the recheck after an open from a checkpoint ----------------------------- */

enum { RECHECK_NONE, RECHECK_RUNNING, RECHECK_OK, RECHECK_FOUND, RECHECK_FAILED };

typedef struct recheck_ctx {
  ctl_auditlog *log;
  audit_verifier *v;
  /* opened from a stored frontier: the tree and index below it, rebuilt
   * from the leaf hashes recomputed here */
  audit_tree *tree;
  audit_leaf_index *leaves;
  int build_rc;
} recheck_ctx;

/* Only the checkpoints the open trusted or below: the ones above were
 * checked against recomputed leaf hashes at open already. */
static int recheck_checkpoint(void *ctx, uint64_t size, const char *note) {
  recheck_ctx *c = ctx;
  if (size > c->log->trusted_size) return 0;
  return audit_verifier_add_checkpoint(c->v, size, note, strlen(note));
}

static int recheck_entry(void *ctx, const store_log_entry *e) {
  recheck_ctx *c = ctx;
  if (atomic_load(&c->log->recheck_stop)) return LISEC_EUNAVAIL;
  uint8_t leaf[AUDIT_HASH_LEN];
  int rc = audit_verifier_add_entry(c->v, e->index, e->data, e->len, e->leaf_hash, leaf);
  lisec_err err = {0};
  /* a mismatch is the verifier's finding; the tree is then never used */
  if (!rc && c->tree && !c->build_rc && (c->build_rc = audit_leaf_index_add(c->leaves, leaf, &err)) == 0)
    c->build_rc = audit_tree_append(c->tree, leaf, &err);
  atomic_fetch_add(&c->log->recheck_checked, 1);
  return rc;
}

/* Appends the leaves the live log took since base (from `done` on) to the
 * rebuilt tree, then puts it in place of the right edge: proofs work from
 * then on. Most are copied under the read lock, appends going on; the last
 * few (or, after a bounded number of rounds, the rest) under the write
 * lock, with the swap. */
static int adopt_tree(ctl_auditlog *log, recheck_ctx *c, lisec_err *err) {
  enum { CHUNK = 65536, LAST = 4096, ROUNDS = 64 };
  uint8_t(*buf)[AUDIT_HASH_LEN] = malloc((size_t)CHUNK * AUDIT_HASH_LEN);
  if (!buf) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  uint64_t done = log->base;
  int rc = 0;
  for (int round = 0; !rc; round++) {
    pthread_rwlock_rdlock(&log->tree_lock);
    uint64_t have = log->front.size, n = have - done > CHUNK ? CHUNK : have - done;
    bool last = have - done <= LAST || round >= ROUNDS;
    if (!last) memcpy(buf, log->pend[done - log->base], n * AUDIT_HASH_LEN);
    pthread_rwlock_unlock(&log->tree_lock);
    if (last) break;
    for (uint64_t i = 0; !rc && i < n; i++)
      if (!(rc = audit_leaf_index_add(c->leaves, buf[i], err))) rc = audit_tree_append(c->tree, buf[i], err);
    done += n;
  }
  free(buf);
  if (rc) return rc;
  pthread_rwlock_wrlock(&log->tree_lock);
  for (uint64_t i = done; !rc && i < log->front.size; i++) {
    const uint8_t *leaf = log->pend[i - log->base];
    if (!(rc = audit_leaf_index_add(c->leaves, leaf, err))) rc = audit_tree_append(c->tree, leaf, err);
  }
  if (!rc) {
    audit_tree *old_tree = log->tree;
    audit_leaf_index *old_leaves = log->leaves;
    log->tree = c->tree;
    log->leaves = c->leaves;
    c->tree = old_tree;
    c->leaves = old_leaves;
    log->deferred = false;
    free(log->pend);
    log->pend = NULL;
    log->pend_cap = 0;
  }
  pthread_rwlock_unlock(&log->tree_lock);
  return rc;
}

/* Every entry below trusted_size, with its data: hashed against its stored
 * leaf hash, decoded, its position checked, as the open checks the rest. A
 * finding stops the log: from then on every append is refused (the action
 * with it) naming TR103308-5.5, as an open that had found it would. */
static void *recheck_main(void *arg) {
  ctl_auditlog *log = arg;
  recheck_ctx c = {.log = log};
  lisec_store *rs = NULL;
  lisec_err e = {0};
#ifdef LISEC_TEST_HOOKS
  /* test_auditlog: while the file LISEC_TEST_AUDIT_RECHECK_HOLD names
   * exists (at most 60 s), the recheck has not begun, so a test sees the
   * log with its tree deferred */
  const char *hold = getenv("LISEC_TEST_AUDIT_RECHECK_HOLD");
  for (int i = 0; hold && i < 6000 && !atomic_load(&log->recheck_stop) && access(hold, F_OK) == 0; i++) {
    struct timespec ts = {0, 10000000L};
    nanosleep(&ts, NULL);
  }
#endif
  int rc = store_open(log->url, &rs, &e);
  if (!rc) rc = audit_verifier_new(&log->open_key, NULL, &c.v, &e);
  if (!rc && log->from_frontier) {
    rc = audit_tree_new(audit_tree_low_level(log->tree), &c.tree, &e);
    if (!rc) rc = audit_leaf_index_new(&c.leaves, &e);
  }
  if (!rc) {
    audit_verifier_allow_unsigned(c.v);
    rc = store_checkpoint_list(rs, recheck_checkpoint, &c, &e);
  }
  if (!rc) rc = store_log_range(rs, 0, log->trusted_size, recheck_entry, &c, &e);
  if (rs) store_close(rs);
  if (atomic_load(&log->recheck_stop)) {
    audit_verifier_free(c.v);
    audit_tree_free(c.tree);
    audit_leaf_index_free(c.leaves);
    atomic_store(&log->recheck_state, RECHECK_FAILED);
    return NULL;
  }
  audit_verify_summary sum = {0};
  if (!rc) audit_verifier_finish(c.v, &sum);
  if (!rc && !sum.findings && c.tree) {
    if (c.build_rc) rc = lisec_err_set(&e, c.build_rc, "out of memory rebuilding the audit tree");
    else rc = adopt_tree(log, &c, &e);
  }
  if (rc) {
    /* Not a finding: the store could not be read. The open's checks stand;
     * the operator runs `lisec audit verify`. */
    lisec_log(LISEC_LOG_WARN, "audit: the check of the %llu entries below the checkpoint lisecd opened "
              "from could not finish: %s; run `lisec audit verify`%s",
              (unsigned long long)log->trusted_size, e.msg,
              log->from_frontier ? " (proofs stay unavailable until lisecd starts again)" : "");
    atomic_store(&log->recheck_state, RECHECK_FAILED);
  } else if (sum.findings) {
    const char *first = audit_verifier_finding(c.v, 0);
    pthread_mutex_lock(&log->mu);
    lisec_err_set(&log->broken_why, LISEC_EDENIED,
                  "TR103308-5.5: the audit log in the store does not verify (%llu finding(s) below the "
                  "checkpoint at %llu, found after start; first: %s); lisecd will not extend a tampered "
                  "log: run `lisec audit verify`",
                  (unsigned long long)sum.findings, (unsigned long long)log->trusted_size,
                  first ? first : "?");
    log->broken = true;
    pthread_cond_broadcast(&log->cv_space);
    pthread_mutex_unlock(&log->mu);
    lisec_log(LISEC_LOG_ERROR, "audit: %s", log->broken_why.msg);
    atomic_store(&log->recheck_state, RECHECK_FOUND);
  } else {
    atomic_store(&log->recheck_state, RECHECK_OK);
  }
  audit_verifier_free(c.v);
  audit_tree_free(c.tree);
  audit_leaf_index_free(c.leaves);
  return NULL;
}

/* ---- checkpoints --------------------------------------------------------- */

/* Signs and stores a checkpoint at the tree's size (everything in the tree
 * is durable). Checkpoint thread only; mu is not held. */
static int fetch_leaves(void *ctx, uint64_t from, uint64_t count, uint8_t (*out)[AUDIT_HASH_LEN],
                        lisec_err *err);
typedef struct fetch_ctx {
  lisec_store *reader;
  uint64_t from, count, got;
  uint8_t (*out)[AUDIT_HASH_LEN];
} fetch_ctx;

static int write_vkey_file(ctl_auditlog *log, lisec_err *err) {
  if (!log->vkey_file) return 0;
  char *vk = NULL;
  int rc = audit_vkey_format(&log->vkey, &vk, err);
  if (rc) return rc;
  size_t n = strlen(vk);
  vk[n] = '\n';
  rc = lisec_file_write_atomic(log->vkey_file, vk, n + 1, 0644, err);
  free(vk);
  return rc;
}

/* The keys process promotes the next key; the log signs with it from now. */
static int finish_rollover(ctl_auditlog *log, const audit_vkey *next, lisec_err *err) {
  int rc = log->key.promote(log->key.ctx, next->pk, err);
  if (rc) return lisec_err_wrap(err, "TR103308-5.5: the checkpoint key rollover is signed but not completed");
  pthread_mutex_lock(&log->mu);
  log->vkey = *next;
  memcpy(log->key.pk, next->pk, sizeof log->key.pk);
  log->ro = RO_NONE;
  pthread_mutex_unlock(&log->mu);
  LOG_INFO("audit: checkpoints are now signed with key %08x", (unsigned)next->id);
  return write_vkey_file(log, err);
}

int ctl_auditlog_rollover_begin(ctl_auditlog *log, char **new_vkey, lisec_err *err) {
  if (!log->key.next_key || (!log->key.sign_next && !log->key.sign_proven) || !log->key.promote)
    return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.5: this checkpoint signer cannot roll its key over");
  pthread_mutex_lock(&log->mu);
  bool busy = log->ro != RO_NONE;
  audit_vkey cur = log->vkey;
  pthread_mutex_unlock(&log->mu);
  if (busy) return lisec_err_set(err, LISEC_ECONFLICT, "a checkpoint key rollover is already under way");
  uint8_t pk[32];
  audit_vkey next;
  int rc = log->key.next_key(log->key.ctx, true, pk, err);
  if (!rc) rc = audit_vkey_make(cur.name, pk, &next, err);
  if (!rc) rc = audit_vkey_format(&next, new_vkey, err);
  if (rc) return rc;
  pthread_mutex_lock(&log->mu);
  log->ro_key = next;
  log->ro = RO_SIGN;
  pthread_mutex_unlock(&log->mu);
  return 0;
}

int ctl_auditlog_record_restore(ctl_auditlog *log, const audit_checkpoint *from, const audit_record *rec,
                                lisec_err *err) {
  pthread_mutex_lock(&log->mu);
  log->restore_from = *from;
  log->restore_pending = true;
  pthread_mutex_unlock(&log->mu);
  int rc = ctl_auditlog_append(log, rec, false, NULL, err);
  if (rc) {
    pthread_mutex_lock(&log->mu);
    log->restore_pending = false;
    pthread_mutex_unlock(&log->mu);
    return rc;
  }
  return ctl_auditlog_checkpoint_now(log, err);
}

void ctl_auditlog_rollover_cancel(ctl_auditlog *log) {
  pthread_mutex_lock(&log->mu);
  if (log->ro == RO_SIGN) log->ro = RO_NONE;
  pthread_mutex_unlock(&log->mu);
}

/* At open: the log's checkpoints rolled over to a key the keys process
 * holds only as its next key (cut short before the promotion): promote it.
 * Any other key is not ours to sign with. */
static int resume_rollover(ctl_auditlog *log, const audit_vkey *logs, lisec_err *err) {
  uint8_t pk[32];
  lisec_err e = {0};
  if (log->key.next_key && log->key.next_key(log->key.ctx, false, pk, &e) == 0 &&
      memcmp(pk, logs->pk, 32) == 0) {
    LOG_WARN("audit: completing the checkpoint key rollover to %08x that was cut short", (unsigned)logs->id);
    return finish_rollover(log, logs, err);
  }
  return lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-5.5: the audit log's checkpoints rolled over to key %08x, but the keys process "
                       "signs with %08x: configure the key the log rolled over to",
                       (unsigned)logs->id, (unsigned)log->vkey.id);
}

static int timestamp_checkpoint(ctl_auditlog *log, lisec_store *cs, uint64_t size, const char *note,
                                bool *finding, lisec_err *why);
static void timestamp_finding(ctl_auditlog *log, uint64_t size, const lisec_err *why);

/* The tree's right edge at size (what a checkpoint at size signs and
 * stores): from the tree, or while it is deferred from the checkpoint
 * thread's own edge moved on by the leaves taken since (sizes only grow). */
static int checkpoint_frontier(ctl_auditlog *log, lisec_store *cs, uint64_t size, audit_frontier *out,
                               lisec_err *err) {
  fetch_ctx fc = {.reader = cs};
  int rc = 0;
  pthread_rwlock_rdlock(&log->tree_lock);
  if (!log->deferred) {
    rc = audit_tree_frontier(log->tree, size, fetch_leaves, &fc, out, err);
  } else if (size < log->cpf.size || size > log->front.size) {
    rc = lisec_err_set(err, LISEC_EINTERNAL, "audit checkpoint at size %llu outside %llu..%llu",
                       (unsigned long long)size, (unsigned long long)log->cpf.size,
                       (unsigned long long)log->front.size);
  } else {
    while (!rc && log->cpf.size < size) rc = audit_frontier_append(&log->cpf, log->pend[log->cpf.size - log->base], err);
    *out = log->cpf;
  }
  pthread_rwlock_unlock(&log->tree_lock);
  return rc;
}

/* ---- the witness -----------------------------------------------------------
 * The keys process signs a checkpoint only with the consistency proof from
 * the last one it signed (keys/witness.h). The size it is at is asked once
 * and then follows what it signs; when it moved elsewhere (another node of
 * [ha] sharing its token signed since, or signs at the same time) or was
 * reset by an operator while lisecd runs, it answers ECONFLICT and is
 * asked again: after a reset the state is then absent and the checkpoint
 * trusted on first use is recorded (witness_first_use). A refusal
 * (EDENIED) is an attack signal: logged as an error, counted, recorded in
 * the log once until a checkpoint is signed again, and nothing is
 * published. */
typedef struct witnessed {
  ctl_auditlog *log;
  bool next;
  uint64_t old_size;
  audit_proof proof;
} witnessed;

static int sign_witnessed(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err) {
  witnessed *w = ctx;
  return w->log->key.sign_proven(w->log->key.ctx, w->next, msg, len, w->old_size, &w->proof, sig, err);
}

/* The proof from the witness's size to cp's into w; edge: the checkpoint
 * thread's right edge before this checkpoint (used while the tree is
 * deferred). */
static int witness_prove(ctl_auditlog *log, lisec_store *cs, const audit_checkpoint *cp, const audit_frontier *edge,
                         witnessed *w, lisec_err *err) {
  if (!log->wit_known) {
    bool have = false;
    uint8_t root[32];
    int rc = log->key.witness(log->key.ctx, &have, &log->wit_size, root, err);
    if (rc) return lisec_err_wrap(err, "TR103308-5.5: the keys process's last signed checkpoint");
    log->wit_known = true;
    log->wit_first = log->wit_first || !have; /* (one trusted but not yet published stays) */
  }
  w->old_size = log->wit_size;
  w->proof.len = 0;
  /* A witness beyond this log (a store rolled back or restored) or at its
   * size: nothing to prove; the keys process judges it, and names the
   * origin too when the state is another log's. */
  if (!w->old_size || w->old_size >= cp->size) return 0;
  fetch_ctx fc = {.reader = cs};
  int rc = 0;
  pthread_rwlock_rdlock(&log->tree_lock);
  if (!log->deferred) {
    rc = audit_tree_prove_consistency(log->tree, w->old_size, cp->size, fetch_leaves, &fc, &w->proof, err);
  } else if (w->old_size < edge->size || cp->size > log->front.size) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.5: the consistency proof from size %llu waits for the tree's rebuild",
                       (unsigned long long)w->old_size);
  } else {
    audit_frontier from = *edge;
    while (!rc && from.size < w->old_size) rc = audit_frontier_append(&from, log->pend[from.size - log->base], err);
    if (!rc)
      rc = audit_prove_extension(&from, log->pend + (from.size - log->base), cp->size - from.size, &w->proof, err);
  }
  pthread_rwlock_unlock(&log->tree_lock);
  return rc;
}

static void witness_refused(ctl_auditlog *log, uint64_t size, const lisec_err *why) {
  pthread_mutex_lock(&log->mu);
  log->wit_refusals++;
  bool first = !log->wit_refusing;
  log->wit_refusing = true;
  pthread_mutex_unlock(&log->mu);
  LOG_ERROR("audit: ATTACK SIGNAL: the checkpoint at size %llu was refused by the keys process: %s; nothing is "
            "published until a checkpoint extends the last one it signed",
            (unsigned long long)size, why->msg);
  if (!first) return;
  char subject[64], reason[LISEC_ERR_MSG_MAX + 64];
  snprintf(subject, sizeof subject, "audit checkpoint at size %llu", (unsigned long long)size);
  snprintf(reason, sizeof reason, "refused by the witness: %s", why->msg);
  audit_record rec = {.actor = "lisecd", .role = "system", .action = "audit.witness", .outcome = "refused",
                      .subjects = {subject}, .n_subjects = 1, .reasons = {reason}, .n_reasons = 1};
  lisec_err e = {0};
  if (ctl_auditlog_append(log, &rec, false, NULL, &e) != 0)
    LOG_ERROR("audit: the witness's refusal could not be recorded: %s", e.msg);
}

/* The witness had no state (an operator's reset, lisec audit witness-reset,
 * or an upgrade) and the checkpoint at size trusted on first use follows
 * one at before that this log was signed to: recorded, so that auditors
 * see where the witness started over. A fresh log's first checkpoint
 * (before 0) is no news. */
static void witness_first_use(ctl_auditlog *log, uint64_t size, uint64_t before) {
  LOG_WARN("audit: the keys process held no last signed checkpoint; the one at size %llu is trusted on first use "
           "(TR103308-5.5; the log was signed to size %llu before)",
           (unsigned long long)size, (unsigned long long)before);
  char subject[64], reason[256];
  snprintf(subject, sizeof subject, "audit checkpoint at size %llu", (unsigned long long)size);
  snprintf(reason, sizeof reason,
           "the witness held no last signed checkpoint (reset by an operator, or an upgrade): this one is trusted "
           "on first use; the log was signed to size %llu before",
           (unsigned long long)before);
  audit_record rec = {.actor = "lisecd", .role = "system", .action = "audit.witness", .outcome = "first_use",
                      .subjects = {subject}, .n_subjects = 1, .reasons = {reason}, .n_reasons = 1};
  lisec_err e = {0};
  if (ctl_auditlog_append(log, &rec, false, NULL, &e) != 0)
    LOG_ERROR("audit: the witness's first use could not be recorded: %s", e.msg);
}

/* The note for cp, signed as the rollover step and restore say. */
static int sign_note(ctl_auditlog *log, const audit_checkpoint *cp, rollover_step ro, const audit_vkey *next,
                     bool restored, const audit_checkpoint *from, audit_sign_fn sign, void *ctx,
                     audit_sign_fn sign_next, void *next_ctx, char **note, lisec_err *err) {
  if (ro == RO_SIGN)
    return audit_note_sign_rollover(cp, &log->vkey, sign, ctx, next, sign_next, next_ctx, note, err);
  if (restored) return audit_note_sign_restore(cp, from, &log->vkey, sign, ctx, note, err);
  return audit_note_sign(cp, &log->vkey, sign, ctx, note, err);
}

static int publish_checkpoint(ctl_auditlog *log, lisec_store *cs, lisec_err *err) {
  audit_checkpoint cp = {0};
  memcpy(cp.origin, log->vkey.name, sizeof cp.origin);
  /* The size is what is committed, never the tree's own: the tree takes a
   * batch's leaves before its callers are told, and a resync's before the
   * size moves, and a checkpoint over those would be served ahead of the
   * entries (issue 17 item 4). The tree proves every size up to its own. */
  pthread_mutex_lock(&log->mu);
  cp.size = log->committed;
  pthread_mutex_unlock(&log->mu);
  audit_frontier f, edge = log->cpf; /* (the checkpoint thread's own) */
  int rc = checkpoint_frontier(log, cs, cp.size, &f, err);
  if (!rc) audit_frontier_root(&f, cp.root);
  /* The right edge is stored before the checkpoint it belongs to: the
   * next start opens from it (a frontier without its checkpoint, after a
   * failure between the two, is never read). */
  char *fbody = NULL, fid[24];
  snprintf(fid, sizeof fid, "%llu", (unsigned long long)cp.size);
  if (!rc) rc = audit_frontier_format(&f, &fbody, err);
  if (!rc) rc = store_doc_put(cs, AUDIT_FRONTIER_DOC_KIND, fid, fbody, -1, NULL, err);
  free(fbody);
  char *note = NULL;
  pthread_mutex_lock(&log->mu);
  rollover_step ro = log->ro;
  audit_vkey next = log->ro_key;
  bool restored = log->restore_pending;
  audit_checkpoint from = log->restore_from;
  uint64_t before = log->cp_size;
  pthread_mutex_unlock(&log->mu);
  /* A rollover whose checkpoint is stored is promoted before anything else
   * is signed: from that checkpoint on, the log speaks with the new key. */
  if (!rc && ro == RO_PROMOTE) rc = finish_rollover(log, &next, err);
  if (!rc && !log->key.sign_proven) {
    rc = sign_note(log, &cp, ro, &next, restored, &from, log->key.sign, log->key.ctx, log->key.sign_next,
                   log->key.ctx, &note, err);
  } else if (!rc) {
    /* twice at most: the witness moved (ECONFLICT), asked again */
    witnessed *w = malloc(2 * sizeof *w);
    if (!w) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    for (int tries = 0; !rc && tries < 2; tries++) {
      w[0] = (witnessed){.log = log};
      if (!(rc = witness_prove(log, cs, &cp, &edge, &w[0], err))) {
        w[1] = w[0];
        w[1].next = true;
        rc = sign_note(log, &cp, ro, &next, restored, &from, sign_witnessed, &w[0], sign_witnessed, &w[1], &note,
                       err);
      }
      log->wit_known = rc == 0;
      if (!rc) log->wit_size = cp.size;
      if (rc != LISEC_ECONFLICT || tries) break;
      rc = 0;
    }
    free(w);
    if (rc == LISEC_EDENIED) witness_refused(log, cp.size, err);
  }
  if (!rc) rc = store_checkpoint_put(cs, cp.size, note, err);
  /* Timestamped before it is announced, so the checkpoint served carries
   * its token; a TSA that fails leaves it signed, stored and marked. */
  bool finding = false;
  lisec_err ts_err = {0};
  int ts_rc = !rc && log->tsa ? timestamp_checkpoint(log, cs, cp.size, note, &finding, &ts_err) : 0;
  pthread_mutex_lock(&log->mu);
  if (!rc) log->wit_refusing = false;
  if (!rc && cp.size > log->cp_size) {
    free(log->cp_note);
    log->cp_note = note;
    note = NULL;
    log->cp_size = cp.size;
    log->cp_ok_ms = lisec_time_mono_ms();
    log->first_unsigned_ms = log->committed > cp.size ? lisec_time_mono_ms() : 0;
    lisec_err_clear(&log->cp_err);
  }
  if (!rc && ro == RO_SIGN) log->ro = RO_PROMOTE;
  if (!rc && ro != RO_SIGN && restored) log->restore_pending = false;
  /* [audit] tsa_required: a checkpoint without its timestamp counts as a
   * checkpoint failure (metrics, readiness), though it stays published. */
  if (ts_rc && ctl_tsa_required(log->tsa)) {
    log->cp_err = ts_err;
    log->cp_failures++;
  }
  pthread_mutex_unlock(&log->mu);
  free(note);
  if (!rc && ro == RO_SIGN) rc = finish_rollover(log, &next, err);
  if (finding) timestamp_finding(log, cp.size, &ts_err);
  /* (wit_first stays until a checkpoint is published: one signed but not
   * stored leaves the keys process's state, and the next is the one) */
  if (!rc && log->wit_first) {
    log->wit_first = false;
    if (before) witness_first_use(log, cp.size, before);
  }
  return rc;
}

/* Asks the TSA for a timestamp over the stored note and stores the token,
 * or the reason there is none, as the checkpoint's timestamp document.
 * *finding: this is the first failure after a success (or the open), and
 * is recorded in the log; later ones are counted and logged only, or a TSA
 * that stays down would add a record, and so a checkpoint, each interval. */
static int timestamp_checkpoint(ctl_auditlog *log, lisec_store *cs, uint64_t size, const char *note,
                                bool *finding, lisec_err *why) {
  uint8_t *tok = NULL;
  size_t tok_len = 0;
  crypto_tsa_info info;
  memset(&info, 0, sizeof info);
  int rc = ctl_tsa_stamp(log->tsa, note, strlen(note), &tok, &tok_len, &info, why);
  char *body = NULL, id[24];
  snprintf(id, sizeof id, "%llu", (unsigned long long)size);
  lisec_err e = {0};
  int src = ctl_tsa_doc(size, rc ? NULL : tok, tok_len, &info, rc ? why->msg : NULL, &body, &e);
  if (!src) src = store_doc_put(cs, CTL_TSA_DOC_KIND, id, body, -1, NULL, &e);
  if (src && !rc) {
    rc = src;
    lisec_err_set(why, src, "TR103308-4.2: the timestamp could not be stored: %s", e.msg);
  }
  free(body);
  free(tok);
  pthread_mutex_lock(&log->mu);
  *finding = rc && !log->ts_failing;
  if (rc) log->ts_missing++;
  else log->ts_ok++;
  bool recovered = !rc && log->ts_failing;
  log->ts_failing = rc != 0;
  pthread_mutex_unlock(&log->mu);
  if (rc)
    LOG_LIMITED(LISEC_LOG_WARN, 3, 60000,
                "audit: the checkpoint at size %llu has no RFC 3161 timestamp from the TSA at %s: %s; it is "
                "signed and stored, marked un-timestamped, and the next checkpoint asks again",
                (unsigned long long)size, ctl_tsa_url(log->tsa), why->msg);
  else if (recovered)
    LOG_INFO("audit: the TSA at %s timestamps checkpoints again (size %llu, genTime %s)", ctl_tsa_url(log->tsa),
             (unsigned long long)size, info.gen_time);
  return rc;
}

/* The finding in the log itself (the checkpoint thread, mu not held). */
static void timestamp_finding(ctl_auditlog *log, uint64_t size, const lisec_err *why) {
  char subject[64], reason[LISEC_ERR_MSG_MAX + 64];
  snprintf(subject, sizeof subject, "audit checkpoint at size %llu", (unsigned long long)size);
  snprintf(reason, sizeof reason, "checkpoint not timestamped: %s", why->msg);
  audit_record rec = {.actor = "lisecd", .role = "system", .action = "audit.timestamp", .outcome = "failed",
                      .subjects = {subject}, .n_subjects = 1, .reasons = {reason}, .n_reasons = 1};
  lisec_err e = {0};
  if (ctl_auditlog_append(log, &rec, false, NULL, &e) != 0)
    LOG_WARN("audit: the missing timestamp could not be recorded: %s", e.msg);
}

/* ---- the writer ---------------------------------------------------------- */

static bool checkpoint_due(const ctl_auditlog *log, int64_t now) {
  if (log->committed <= log->cp_size) return false;
  if (!log->cp_request && now < log->cp_retry_ms) return false;
  return log->cp_request || log->committed - log->cp_size >= log->cp_every ||
         (log->first_unsigned_ms && now - log->first_unsigned_ms >= log->cp_ms);
}

/* Entries became durable (a commit, or rows taken in at a resync): the
 * first one after the last checkpoint starts the checkpoint_ms clock, and
 * the checkpoint thread, which sleeps without a deadline while everything
 * is signed, must learn of it. Wherever entries arrive this is the one way
 * the clock starts, so no path leaves them unsigned until checkpoint_entries
 * more arrive. mu held. */
static void entries_arrived(ctl_auditlog *log) {
  bool clock_started = false;
  if (log->committed > log->cp_size && !log->first_unsigned_ms) {
    log->first_unsigned_ms = lisec_time_mono_ms();
    clock_started = true;
  }
  if (clock_started || checkpoint_due(log, lisec_time_mono_ms())) pthread_cond_signal(&log->cv_cp);
}

static bool head_ready(const ctl_auditlog *log) {
  if (log->committed == log->next_index) return false;
  const pending *p = log->ring[log->committed % RING_SIZE];
  return p && (p->state == P_READY || p->state == P_ABORTED);
}

/* The sequence number is bytes 1..8 of the plain entry (big-endian). */
static void stamp_seq(uint8_t *plain, uint64_t index) {
  for (int i = 0; i < 8; i++) plain[1 + i] = (uint8_t)(index >> (56 - 8 * i));
}

/* Fails every record reserved and not durable; mu held. */
static void fail_reserved(ctl_auditlog *log, const lisec_err *why) {
  for (uint64_t i = log->committed; i < log->next_index; i++) {
    pending *p = log->ring[i % RING_SIZE];
    log->ring[i % RING_SIZE] = NULL;
    if (!p) continue;
    p->state = P_FAILED;
    p->fail = *why;
    finish(p);
  }
  log->next_index = log->committed;
  pthread_cond_broadcast(&log->cv_done);
  pthread_cond_broadcast(&log->cv_space);
}

/* A failed transaction fails the records in it (start, n). The records
 * queued behind it move down to the positions it left: a plain record ready
 * to go is numbered and hashed again (nobody has seen its number: it was
 * not durable), so it goes in the next transaction; a sealed one (its
 * number is inside the sealed box) or one still being prepared cannot be
 * renumbered and fails with the batch. Nothing durable is touched. mu held. */
static void fail_batch(ctl_auditlog *log, uint64_t start, size_t n, const lisec_err *why) {
  uint64_t to = start;
  for (uint64_t i = start; i < log->next_index; i++) {
    pending *p = log->ring[i % RING_SIZE];
    log->ring[i % RING_SIZE] = NULL;
    if (!p) continue;
    if (i >= start + n && p->state == P_READY && !p->sealed) {
      p->index = to;
      stamp_seq(p->data, to);
      audit_hash_leaf(p->data, p->len, p->leaf);
      log->ring[to++ % RING_SIZE] = p;
      continue;
    }
    p->state = P_FAILED;
    p->fail = *why;
    finish(p);
  }
  log->next_index = to;
  pthread_cond_broadcast(&log->cv_done);
  pthread_cond_broadcast(&log->cv_space);
}

#ifdef LISEC_TEST_HOOKS
/* test_auditlog: LISEC_TEST_AUDIT_FAIL_TXN=K fails the K-th transaction
 * since the open (1 = the first) without writing it, once four more records
 * are queued behind its batch (waited for at most 2 s), so a test sees that
 * only the batch fails. The leader only; mu not held. */
static bool inject_failure(ctl_auditlog *log, uint64_t start, size_t n) {
  const char *k = getenv("LISEC_TEST_AUDIT_FAIL_TXN");
  if (!k || (uint64_t)atoll(k) != ++log->test_txns) return false;
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&log->mu);
    bool queued = log->next_index - start >= n + 4;
    pthread_mutex_unlock(&log->mu);
    if (queued) break;
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
  }
  return true;
}

/* test_ha_state: while the file LISEC_TEST_AUDIT_DOUBT names exists, the
 * next transaction that writes documents is committed and then reported
 * failed, as when the connection is lost before COMMIT's answer; the file
 * is removed, so it happens once. The leader only; mu not held. */
static bool inject_doubt(bool docs) {
  const char *f = getenv("LISEC_TEST_AUDIT_DOUBT");
  return docs && f && unlink(f) == 0;
}
#endif

/* After a failed transaction the store may or may not have committed it (a
 * connection lost after COMMIT). Reopen, and take in whatever the store holds
 * beyond what the tree knows, after checking it like the load does; a store
 * that holds fewer entries than were acknowledged has been rolled back, and
 * the log stops (fail closed). Writer thread, mu not held. */
typedef struct resync_ctx {
  ctl_auditlog *log;
  uint64_t expect;
  lisec_err *err;
} resync_ctx;

static int resync_entry(void *ctx, const store_log_entry *e) {
  resync_ctx *c = ctx;
  uint8_t leaf[AUDIT_HASH_LEN];
  audit_hash_leaf(e->data, e->len, leaf);
  uint64_t seq = e->index;
  if (e->index != c->expect || sodium_memcmp(leaf, e->leaf_hash, 32) != 0 ||
      (e->len && e->data[0] == AUDIT_ENTRY_PLAIN && (audit_entry_peek_seq(e->data, e->len, &seq, NULL) || seq != e->index)))
    return lisec_err_set(c->err, LISEC_EDENIED, "TR103308-5.5: audit entry %llu in the store is not one this log wrote",
                         (unsigned long long)e->index);
  c->expect++;
  pthread_rwlock_wrlock(&c->log->tree_lock);
  int rc = tree_add(c->log, leaf, c->err);
  pthread_rwlock_unlock(&c->log->tree_lock);
  return rc;
}

static int writer_store(ctl_auditlog *log, lisec_err *err) {
  if (log->ws) return 0;
  int rc = store_open(log->url, &log->ws, err);
  if (rc) return rc;
  uint64_t size = 0, have = tree_size_locked(log);
  rc = store_log_size(log->ws, &size, err);
  if (!rc && size < have)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-5.5: the store holds %llu audit entries but %llu were acknowledged: it was "
                       "rolled back; appends stop",
                       (unsigned long long)size, (unsigned long long)have);
  if (!rc && size > have) {
    resync_ctx c = {.log = log, .expect = have, .err = err};
    rc = store_log_range(log->ws, have, size, resync_entry, &c, err);
    if (!rc) {
      /* Records reserved meanwhile carry positions that are now taken. */
      pthread_mutex_lock(&log->mu);
      lisec_err why;
      lisec_err_set(&why, LISEC_ESTORE, REFUSED ": the log moved on while the store was unavailable");
      fail_reserved(log, &why);
      log->committed = log->next_index = size;
      entries_arrived(log);
      pthread_mutex_unlock(&log->mu);
    }
  }
  if (rc == LISEC_EDENIED) {
    pthread_mutex_lock(&log->mu);
    log->broken = true;
    log->broken_why = *err;
    pthread_mutex_unlock(&log->mu);
  }
  if (rc) {
    store_close(log->ws);
    log->ws = NULL;
  }
  return rc;
}


/* Whether doc is at its expected version now, in the leader's open
 * transaction (which holds the write lock: SQLite's BEGIN IMMEDIATE), so
 * the write that follows cannot conflict and poison the batch. */
static int doc_precheck(lisec_store *ws, ctl_auditlog_doc *doc, lisec_err *err) {
  doc->rc = 0;
  if (doc->expected_version < 0) return 0;
  char *body = NULL;
  int64_t cur = 0;
  int rc = store_doc_get(ws, doc->kind, doc->id, &body, &cur, err);
  free(body);
  if (rc == LISEC_ENOTFOUND) cur = 0;
  else if (rc) return rc;
  if (doc->expected_version != cur) doc->rc = LISEC_ECONFLICT;
  return 0;
}

const char ctl_auditlog_remove[] = "(removed)";

/* A document deleted with its record: its version checked first (the
 * store's delete takes none), in the same transaction. Without precheck a
 * conflict fails the batch like a put's, to be written again with every
 * version checked. */
static int doc_remove(lisec_store *ws, ctl_auditlog_doc *doc, bool precheck, lisec_err *err) {
  if (!precheck) {
    int rc = doc_precheck(ws, doc, err);
    if (rc) return rc;
    if (doc->rc) {
      doc->rc = 0;
      return lisec_err_set(err, LISEC_ECONFLICT, "store: %s %s is not at version %lld", doc->kind,
                           doc->id, (long long)doc->expected_version);
    }
  }
  int rc = store_doc_delete(ws, doc->kind, doc->id, err);
  return rc == LISEC_ENOTFOUND ? 0 : rc;
}

/* The batch's entries and its records' documents in one durable
 * transaction: one commit (one fsync) for both. With precheck, every
 * document is checked against its expected version first, and a record
 * with one that conflicts gets none of its documents written and is told
 * so while the other records' land with the entries; without, a conflict
 * fails the transaction (*doc_conflict set) and nothing is written. Any
 * failure rolls everything back. mu not held; the batch is the leader's. */
static int write_batch(ctl_auditlog *log, size_t n, bool precheck, bool *doc_conflict, lisec_err *err) {
  int rc = store_begin(log->ws, err);
  for (size_t i = 0; !rc && i < n; i++) {
    pending *p = log->held[i];
    bool conflict = false;
    for (size_t k = 0; !rc && k < p->n_docs; k++) {
      p->docs[k].rc = 0;
      if (precheck) rc = doc_precheck(log->ws, &p->docs[k], err);
      conflict = conflict || p->docs[k].rc;
    }
    /* A record's documents are one act: all of them or none. */
    for (size_t k = 0; conflict && k < p->n_docs; k++) p->docs[k].rc = LISEC_ECONFLICT;
  }
  if (!rc) rc = store_log_append(log->ws, log->batch, n, err);
  for (size_t i = 0; !rc && i < n; i++)
    for (size_t k = 0; !rc && k < log->held[i]->n_docs; k++) {
      ctl_auditlog_doc *d = &log->held[i]->docs[k];
      if (!d->rc && d->body == ctl_auditlog_remove) rc = doc_remove(log->ws, d, precheck, err);
      else if (!d->rc) rc = store_doc_put(log->ws, d->kind, d->id, d->body, d->expected_version, NULL, err);
      *doc_conflict = *doc_conflict || rc == LISEC_ECONFLICT;
    }
  if (!rc) rc = store_commit(log->ws, err);
  else store_rollback(log->ws);
  return rc;
}

/* Documents are written as they are first, without reading each one's
 * version (a read of the whole document, ~8 % of a report's CPU): a
 * conflict is rare (the overdue timer's write between an appraisal's read
 * and its record), and when one rolls the batch back, the batch is written
 * again with every version checked. */
static int append_with_docs(ctl_auditlog *log, size_t n, lisec_err *err) {
  bool conflict = false;
  lisec_err first = {0};
  int rc = write_batch(log, n, false, &conflict, &first);
  if (!rc || !conflict) {
    if (rc && err) *err = first;
    return rc;
  }
  return write_batch(log, n, true, &conflict, err);
}

/* Leads one group commit: takes the contiguous run of ready records at the
 * head, appends them in one durable transaction on the leaders' store handle,
 * adds them to the tree and marks them done (or fails them). Called with mu
 * held by the one caller that set log->leading; returns with mu held and the
 * records made durable chained for finish_chain, which the leader calls once
 * it has released mu (a failed record is finished at once). A
 * caller leads instead of handing its record to a committing thread: a
 * thread that commits all the time is scheduled after the callers, which
 * sleep, on a loaded machine (its fdatasync took 3-4 ms against 1 ms for a
 * leader, same batch), and a lone writer pays no thread switch. */
static pending *lead_batch(ctl_auditlog *log) {
  uint64_t start = log->committed;
  size_t n = 0;
  bool aborted = false, docs = false;
  while (n < log->max_batch && start + n < log->next_index) {
    pending *p = log->ring[(start + n) % RING_SIZE];
    if (!p || p->state != P_READY) {
      aborted = p && p->state == P_ABORTED && n == 0;
      break;
    }
    docs = docs || p->n_docs;
    log->held[n] = p;
    store_log_entry *e = &log->batch[n++];
    e->index = p->index;
    e->time_ms = p->time_ms;
    e->sealed = p->sealed;
    e->data = p->data;
    e->len = p->len;
    memcpy(e->leaf_hash, p->leaf, AUDIT_HASH_LEN);
  }
  if (aborted) {
    lisec_err why;
    lisec_err_set(&why, LISEC_ESTORE, REFUSED ": a record before this one could not be prepared");
    fail_reserved(log, &why);
    return NULL;
  }
  if (n == 0) return NULL;
  pthread_mutex_unlock(&log->mu);
  lisec_err e = {0};
  int rc = writer_store(log, &e);
  if (!rc && tree_size_locked(log) != start)
    rc = lisec_err_set(&e, LISEC_ECONFLICT, "the store moved on without this writer");
  bool txn_failed = false;
#ifdef LISEC_TEST_HOOKS
  if (!rc && inject_failure(log, start, n)) {
    rc = lisec_err_set(&e, LISEC_ESTORE, "injected commit failure (LISEC_TEST_AUDIT_FAIL_TXN)");
    txn_failed = true;
  }
#endif
  if (!rc) {
    uint64_t t0 = lisec_time_mono_ns();
    rc = docs ? append_with_docs(log, n, &e) : store_log_append(log->ws, log->batch, n, &e);
    log->commit_ns = (int64_t)(lisec_time_mono_ns() - t0);
    txn_failed = rc != 0;
#ifdef LISEC_TEST_HOOKS
    if (!rc && inject_doubt(docs)) {
      rc = lisec_err_set(&e, LISEC_EUNAVAIL, "injected: the commit's answer was lost (LISEC_TEST_AUDIT_DOUBT)");
      txn_failed = true;
    }
#endif
  }
  if (!rc) {
    pthread_rwlock_wrlock(&log->tree_lock);
    for (size_t i = 0; !rc && i < n; i++) rc = tree_add(log, log->batch[i].leaf_hash, &e);
    pthread_rwlock_unlock(&log->tree_lock);
#ifdef LISEC_TEST_HOOKS
    /* test_auditlog: widens the moment the tree is ahead of what is committed */
    const char *delay = getenv("LISEC_TEST_AUDIT_COMMIT_DELAY_MS");
    if (delay) {
      struct timespec ts = {.tv_sec = atoi(delay) / 1000, .tv_nsec = (long)(atoi(delay) % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    /* test_auditlog: the leader holds the lead while the file
     * LISEC_TEST_AUDIT_HOLD names exists (at most 60 s), so a test can
     * queue callers behind a commit in the order it wants */
    const char *hold = getenv("LISEC_TEST_AUDIT_HOLD");
    for (int i = 0; hold && i < 60000 && access(hold, F_OK) == 0; i++) {
      struct timespec ts = {0, 1000000L};
      nanosleep(&ts, NULL);
    }
#endif
    /* Durable but not in the tree (out of memory): the tree can no longer
     * prove what is on disk; stop appending rather than diverge. */
    if (rc) {
      pthread_mutex_lock(&log->mu);
      log->broken = true;
      log->broken_why = e;
      pthread_mutex_unlock(&log->mu);
    }
  } else if (log->ws) {
    /* The transaction may have committed after all; find out on reopen. */
    store_close(log->ws);
    log->ws = NULL;
  }
  pthread_mutex_lock(&log->mu);
  pending *done = NULL;
  if (rc == 0) {
    for (size_t i = n; i-- > 0;) {
      pending *p = log->ring[(start + i) % RING_SIZE];
      log->ring[(start + i) % RING_SIZE] = NULL;
      p->state = P_DONE;
      p->next_done = done;
      done = p;
    }
    log->committed = start + n;
    log->batches++;
    log->expected = log->expected + n > log->max_batch ? log->max_batch : log->expected + n;
    entries_arrived(log);
    pthread_cond_broadcast(&log->cv_space);
    pthread_cond_broadcast(&log->cv_done);
  } else {
    lisec_err why;
    lisec_err_set(&why, LISEC_ESTORE, REFUSED ": %s", e.msg);
    if (txn_failed && !log->broken) fail_batch(log, start, n, &why);
    else fail_reserved(log, &why);
  }
  return done;
}

/* The checkpoint thread: signs a checkpoint when enough entries or enough
 * time have gone by, with its own store handle, so appends never wait for a
 * signature (a token may take milliseconds). */
static void *checkpoint_main(void *arg) {
  ctl_auditlog *log = arg;
  lisec_store *cs = NULL;
  pthread_mutex_lock(&log->mu);
  for (;;) {
    while (!log->stop && !checkpoint_due(log, lisec_time_mono_ms())) {
      if (log->first_unsigned_ms && log->committed > log->cp_size) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t deadline = log->first_unsigned_ms + log->cp_ms;
        if (log->cp_retry_ms > deadline) deadline = log->cp_retry_ms;
        int64_t wait = deadline - lisec_time_mono_ms();
        if (wait < 1) wait = 1;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&log->cv_cp, &log->mu, &ts);
      } else {
        pthread_cond_wait(&log->cv_cp, &log->mu);
      }
    }
    bool want = log->committed > log->cp_size;
    log->cp_request = false;
    pthread_mutex_unlock(&log->mu);
    lisec_err e = {0};
    int rc = 0;
    if (want) {
      if (!cs) rc = store_open(log->url, &cs, &e);
      if (!rc) rc = publish_checkpoint(log, cs, &e);
      if (rc && cs) {
        store_close(cs);
        cs = NULL;
      }
    }
    pthread_mutex_lock(&log->mu);
    if (rc) {
      log->cp_err = e;
      log->cp_failures++;
      LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "audit: a checkpoint could not be published: %s; "
                  "retried in %lld ms", e.msg, (long long)log->cp_ms);
      /* Retried at the next deadline, not in a loop. */
      log->first_unsigned_ms = lisec_time_mono_ms();
      log->cp_retry_ms = log->first_unsigned_ms + log->cp_ms;
    }
    pthread_cond_broadcast(&log->cv_done); /* checkpoint_now waits on it */
    /* At close, sign again if entries landed while this one was signed. */
    if (log->stop && (rc || log->committed <= log->cp_size)) break;
  }
  pthread_mutex_unlock(&log->mu);
  if (cs) store_close(cs);
  return NULL;
}

/* ---- the public face ----------------------------------------------------- */

int ctl_auditlog_open(lisec_store *s, const ctl_auditlog_config *cfg, ctl_auditlog **out,
                      lisec_err *err) {
  int early = 0;
  if (!cfg->store_url || !cfg->origin)
    early = lisec_err_set(err, LISEC_EINVAL, "[audit] needs the store URL and a checkpoint origin");
  else if ((!cfg->sign && !(cfg->sign_proven && cfg->witness)) || !cfg->pk)
    early = lisec_err_set(err, LISEC_EINVAL,
                          "[audit] needs a checkpoint key: pkcs11_module or development_key_file");
  else if (sodium_init() < 0)
    early = lisec_err_set(err, LISEC_ECRYPTO, "libsodium did not initialise");
  ctl_auditlog *log = early ? NULL : calloc(1, sizeof *log);
  if (!early && !log) early = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (early) {
    ctl_tsa_close(cfg->tsa);
    return early;
  }
  log->tsa = cfg->tsa;
  log->cp_ok_ms = lisec_time_mono_ms();
  pthread_mutex_init(&log->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&log->cv_cp, &ca);
  pthread_cond_init(&log->cv_done, NULL);
  pthread_cond_init(&log->cv_space, NULL);
  pthread_cond_init(&log->cv_gather, &ca);
  pthread_condattr_destroy(&ca);
  pthread_rwlock_init(&log->tree_lock, NULL);
  log->cp_every = cfg->checkpoint_entries ? cfg->checkpoint_entries : 1000;
  log->full_below = cfg->open_full_below ? cfg->open_full_below : CTL_AUDITLOG_OPEN_FULL_BELOW;
  log->cp_ms = cfg->checkpoint_ms ? cfg->checkpoint_ms : 10000;
  log->max_batch = cfg->max_batch ? cfg->max_batch : 4096;
  log->gather_ns = cfg->gather_us < 0 ? 0 : (int64_t)(cfg->gather_us ? cfg->gather_us : 200) * 1000;
  if (log->max_batch > RING_SIZE / 2) log->max_batch = RING_SIZE / 2;
  int rc = 0;
  unsigned low = cfg->keep_all_leaves ? 0 : cfg->low_level ? cfg->low_level : 4;
  log->url = strdup(cfg->store_url);
  log->ring = calloc(RING_SIZE, sizeof *log->ring);
  log->batch = calloc(log->max_batch, sizeof *log->batch);
  log->held = calloc(log->max_batch, sizeof *log->held);
  if (!log->url || !log->ring || !log->batch || !log->held) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto fail;
  }
  if (cfg->li_pk) {
    memcpy(log->li_pk, cfg->li_pk, 32);
    log->li_set = true;
  }
  if (cfg->rd_pk) {
    memcpy(log->rd_pk, cfg->rd_pk, 32);
    log->rd_set = true;
  }
  if ((rc = audit_tree_new(low, &log->tree, err)) || (rc = audit_leaf_index_new(&log->leaves, err))) goto fail;
  log->key = (signer){cfg->sign,      cfg->sign_ctx, cfg->development, {0}, cfg->next_key, cfg->sign_next,
                      cfg->promote, cfg->witness, cfg->sign_proven};
  memcpy(log->key.pk, cfg->pk, sizeof log->key.pk);
  if ((rc = audit_vkey_make(cfg->origin, log->key.pk, &log->vkey, err))) goto fail;
  if (cfg->vkey_file && !(log->vkey_file = strdup(cfg->vkey_file))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = load_log(log, s, err)) || (rc = write_vkey_file(log, err))) goto fail;
  if ((rc = writer_store(log, err))) goto fail;
  /* A log that grew after its last checkpoint (a crash) is vouched for now. */
  if (log->committed > log->cp_size) log->first_unsigned_ms = lisec_time_mono_ms() - log->cp_ms;
  if (pthread_create(&log->cp_thread, NULL, checkpoint_main, log) != 0) {
    rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start the audit checkpoint thread");
    goto fail;
  }
  log->cp_started = true;
  pthread_setname_np(log->cp_thread, "lisec-audit-cp"); /* ps, and the lifecycle test */
  if (log->trusted_size) {
    atomic_store(&log->recheck_state, RECHECK_RUNNING);
    if (pthread_create(&log->recheck_thread, NULL, recheck_main, log) != 0) {
      rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start the audit log's recheck thread");
      goto fail;
    }
    log->recheck_started = true;
    pthread_setname_np(log->recheck_thread, "lisec-audit-chk");
  }
  *out = log;
  return 0;
fail:
  ctl_auditlog_close(log);
  return rc;
}

void ctl_auditlog_close(ctl_auditlog *log) {
  if (!log) return;
  if (log->recheck_started) {
    atomic_store(&log->recheck_stop, true);
    pthread_join(log->recheck_thread, NULL);
  }
  if (log->cp_started) {
    pthread_mutex_lock(&log->mu);
    log->stop = true;
    /* Appends still in flight finish (their callers lead) before the last
     * checkpoint is signed. */
    while (log->committed != log->next_index) pthread_cond_wait(&log->cv_done, &log->mu);
    pthread_cond_broadcast(&log->cv_cp);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->cp_thread, NULL);
  }
  if (log->ws) store_close(log->ws);
  audit_tree_free(log->tree);
  audit_leaf_index_free(log->leaves);
  free(log->pend);
  free(log->ring);
  free(log->batch);
  free(log->held);
  free(log->cp_note);
  free(log->url);
  free(log->vkey_file);
  ctl_tsa_close(log->tsa);
  pthread_rwlock_destroy(&log->tree_lock);
  pthread_cond_destroy(&log->cv_cp);
  pthread_cond_destroy(&log->cv_done);
  pthread_cond_destroy(&log->cv_space);
  pthread_cond_destroy(&log->cv_gather);
  pthread_mutex_destroy(&log->mu);
  free(log);
}

bool ctl_auditlog_development(const ctl_auditlog *log) { return log->key.dev; }

void ctl_auditlog_recheck(ctl_auditlog *log, uint64_t *below, uint64_t *checked, bool *done, bool *intact) {
  int st = atomic_load(&log->recheck_state);
  *below = log->trusted_size;
  *checked = atomic_load(&log->recheck_checked);
  *done = st != RECHECK_RUNNING;
  *intact = st == RECHECK_NONE || st == RECHECK_OK;
}

int ctl_auditlog_vkey(ctl_auditlog *log, char **out, lisec_err *err) {
  pthread_mutex_lock(&log->mu);
  audit_vkey k = log->vkey;
  pthread_mutex_unlock(&log->mu);
  return audit_vkey_format(&k, out, err);
}

int ctl_auditlog_append(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                        uint64_t *index, lisec_err *err) {
  return ctl_auditlog_append_docs(log, rec, li_sealed, NULL, 0, index, err);
}

/* A document the store would refuse inside the batch's transaction would
 * fail every record of the batch: refused here, before a position is taken. */
static int docs_check(const ctl_auditlog_doc *docs, size_t n, lisec_err *err) {
  if (n > CTL_AUDITLOG_DOCS_MAX || (n && !docs))
    return lisec_err_set(err, LISEC_EINVAL, "at most %d documents with an audit record", CTL_AUDITLOG_DOCS_MAX);
  for (size_t i = 0; i < n; i++) {
    const ctl_auditlog_doc *d = &docs[i];
    bool body_ok = d->body == ctl_auditlog_remove || (d->body && *d->body && strnlen(d->body, STORE_BODY_MAX + 1) <= STORE_BODY_MAX);
    if (!d->kind || !d->id || !body_ok || !*d->kind || !*d->id ||
        strnlen(d->kind, STORE_KIND_MAX + 1) > STORE_KIND_MAX || strnlen(d->id, STORE_ID_MAX + 1) > STORE_ID_MAX ||
        d->expected_version < -1)
      return lisec_err_set(err, LISEC_EINVAL,
                           "document %zu with an audit record: kind, id and body required, within the "
                           "store's bounds, and a version of -1, 0 or n",
                           i);
  }
  return 0;
}

static int append_sealed(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                         const uint8_t *seal_pk, ctl_auditlog_doc *docs, size_t n_docs,
                         uint64_t *index, lisec_err *err);

int ctl_auditlog_append_docs(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                             ctl_auditlog_doc *docs, size_t n_docs, uint64_t *index,
                             lisec_err *err) {
  if (li_sealed && !log->li_set) {
    int rc = docs_check(docs, n_docs, err);
    if (rc) return rc;
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no LI administration key is configured, so this LI event "
                         "cannot be recorded; action refused");
  }
  return append_sealed(log, rec, li_sealed, li_sealed ? log->li_pk : NULL, docs, n_docs, index,
                       err);
}

int ctl_auditlog_append_rd(ctl_auditlog *log, const audit_record *rec, ctl_auditlog_doc *docs,
                           size_t n_docs, uint64_t *index, lisec_err *err) {
  if (!log->rd_set) {
    int rc = docs_check(docs, n_docs, err);
    if (rc) return rc;
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.8-RD-SEAL: no RD administration key is configured ([audit] "
                         "rd_seal_key), so this RD event cannot be recorded; action refused");
  }
  return append_sealed(log, rec, false, log->rd_pk, docs, n_docs, index, err);
}

/* Whether a leader gathering still has someone to wait for: a caller
 * preparing its record, or one the last batches served that has not come
 * back with its next one (writers that append again and again, as lisecd's
 * request threads under load do, then share one commit: a leader that
 * committed what was ready made batches of 2-4 records on tmpfs with 64
 * writers where a committing thread makes 15-28, and paid a transaction
 * each; issue 22 item 1). mu held. */
/* ---- Who leads ----------------------------------------------------------
 * Bulk work (attestation reports, package on-boarding) runs on threads at a
 * lower CPU priority ([server] bulk_nice, api/backend.c), and appends audit
 * records there too. A caller that leads a group commit carries every
 * record in the batch: when a niced thread leads, the decisions' records
 * in its batch wait for a thread the kernel runs last (nice is not
 * inherited; issue 22 item 6). So a caller marked lowered does not lead
 * while a caller at the normal priority has a record waiting: it wakes that
 * caller, which leads, and the batch (taken from the head of the log, so
 * with the lowered caller's record in it) is as it would have been. A
 * lowered caller still leads when no normal one waits (bulk work alone
 * progresses), and a lowered leader that is gathering hands the lead over
 * as soon as a normal caller's record arrives. Every record is still made
 * durable before its caller returns, by whoever leads. */

/* A caller at the normal priority with a record not yet durable, or NULL.
 * mu held. */
static pending *normal_waiter(const ctl_auditlog *log) {
  for (uint64_t i = log->committed; i < log->next_index; i++) {
    pending *p = log->ring[i % RING_SIZE];
    if (p && !p->lowered) return p;
  }
  return NULL;
}

/* A lowered caller about to lead: true when a normal caller will lead
 * instead: one waiting in append_sealed's loop (its record ready, or
 * aborted and waiting to be failed) is woken here; one still preparing its
 * record leads when it is ready, as it finds no leader then. mu held. */
static bool hand_lead_over(const ctl_auditlog *log) {
  pending *n = normal_waiter(log);
  if (!n) return false;
  if (n->state != P_RESERVED) nudge(n);
  return true;
}

static bool worth_waiting(const ctl_auditlog *log) {
  /* Served callers are waited for only while a commit is cheaper than the
   * wait (tmpfs, a write cache): on a disk whose fdatasync takes longer,
   * they come back during the next commit anyway, and waiting for them
   * only delayed it (64 writers: 20 % fewer appends/s on this disk). */
  bool served = log->expected > 0 && log->commit_ns < log->gather_ns;
  return (atomic_load(&log->preparing) > 0 || served) &&
         log->next_index - log->committed < log->max_batch && !log->stop && !log->broken;
}

/* Before it commits, a leader waits (at most gather_ns) while that is so;
 * a lone writer, or writers all ready, do not wait. Callers that do not come
 * back within gather_ns are no longer waited for. mu held (released while
 * waiting). */
static void gather(ctl_auditlog *log) {
  if (!log->gather_ns || !worth_waiting(log)) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = ts.tv_nsec + log->gather_ns;
  ts.tv_sec += ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  log->gathering = true;
  while (worth_waiting(log) && !(log->lead_lowered && normal_waiter(log)))
    if (pthread_cond_timedwait(&log->cv_gather, &log->mu, &ts) == ETIMEDOUT) {
      log->expected = 0;
      break;
    }
  log->gathering = false;
}

/* seal_pk NULL: stored plain; else sealed to that X25519 key (the LI or
 * the RD administration's). */
/* mu, taken by a caller in an append (counted for test_auditlog). */
static void append_lock(ctl_auditlog *log) {
  thread_locks++;
  pthread_mutex_lock(&log->mu);
}

static int append_sealed(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                         const uint8_t *seal_pk, ctl_auditlog_doc *docs, size_t n_docs,
                         uint64_t *index, lisec_err *err) {
  int rc = docs_check(docs, n_docs, err);
  if (rc) return rc;
  atomic_fetch_add(&log->preparing, 1);
  /* Encode first (with a placeholder sequence number): a record that cannot
   * be encoded must not take a position in the log. */
  audit_record r = *rec;
  r.seq = 0;
  r.li = li_sealed;
  if (r.time_ms == 0) r.time_ms = lisec_time_now_ms();
  r.owned = NULL;
  uint8_t *plain = NULL;
  size_t plen = 0;
  rc = audit_entry_encode(&r, &plain, &plen, err);
  if (rc) {
    atomic_fetch_sub(&log->preparing, 1);
    return rc;
  }

  bool lowered = store_thread_lowered();
  pending p = {.state = P_RESERVED, .time_ms = r.time_ms, .sealed = seal_pk != NULL, .docs = docs,
               .n_docs = n_docs, .lowered = lowered};
  append_lock(log);
  while (!log->stop && !log->broken && log->next_index - log->committed >= RING_SIZE)
    pthread_cond_wait(&log->cv_space, &log->mu);
  if (log->stop || log->broken) {
    rc = log->broken ? lisec_err_set(err, LISEC_ESTORE, REFUSED ": %s", log->broken_why.msg)
                     : lisec_err_set(err, LISEC_EUNAVAIL, REFUSED ": the audit log is closing");
    atomic_fetch_sub(&log->preparing, 1);
    pthread_mutex_unlock(&log->mu);
    sodium_memzero(plain, plen);
    free(plain);
    return rc;
  }
  p.index = log->next_index++;
  log->ring[p.index % RING_SIZE] = &p;
  if (log->expected) log->expected--;
  if (!seal_pk) {
    /* A plain record is numbered and hashed under the lock it holds (a hash
     * of a few hundred bytes): one lock per append instead of two. With
     * many writers on few cores their CPU went to waiting on this lock. */
    stamp_seq(plain, p.index);
    p.data = plain;
    p.len = plen;
    audit_hash_leaf(p.data, p.len, p.leaf);
    p.state = P_READY;
  } else {
    /* Sealing (an X25519 exchange) is done without the lock. */
    pthread_mutex_unlock(&log->mu);
    stamp_seq(plain, p.index);
    lisec_err e = {0};
    int state = P_READY;
    if (audit_entry_seal(plain, plen, seal_pk, &p.data, &p.len, &e) != 0) state = P_ABORTED;
    sodium_memzero(plain, plen);
    free(plain);
    if (state == P_READY) audit_hash_leaf(p.data, p.len, p.leaf);
    append_lock(log);
    if (p.state == P_RESERVED) p.state = state;
  }
  atomic_fetch_sub(&log->preparing, 1);
  /* A gathering leader is woken once, when it has no one left to wait for
   * (or when it is lowered and this caller is not: it hands the lead over). */
  if (log->gathering && (!worth_waiting(log) || (log->lead_lowered && !lowered)))
    pthread_cond_signal(&log->cv_gather);
  for (;;) {
    unsigned w = atomic_load_explicit(&p.word, memory_order_acquire);
    if (w == WORD_FINAL) {
      pthread_mutex_unlock(&log->mu);
      break;
    }
    /* Done but not yet finished (its leader is waking the batch): wait. */
    bool open = p.state != P_DONE && p.state != P_FAILED;
    if (open && !log->leading && head_ready(log) && !(lowered && hand_lead_over(log))) {
      log->leading = true;
      log->lead_lowered = lowered;
      gather(log);
      bool handed = lowered && hand_lead_over(log);
      pending *done = NULL;
      if (!handed) {
        done = lead_batch(log);
        thread_led++;
      }
      log->leading = false;
      log->lead_lowered = false;
      if (handed) continue;
      /* The owner of the new head leads next (if it is still preparing, it
       * will lead when it is ready). */
      if (log->committed != log->next_index) {
        pending *h = log->ring[log->committed % RING_SIZE];
        if (h && h != &p) nudge(h);
      }
      if (done) {
        pthread_mutex_unlock(&log->mu);
        finish_chain(done, &p);
        /* Its own record was in the batch: it returns without touching the
         * log again (once the batch is durable ctl_auditlog_close may free
         * it). Otherwise its record is still queued and keeps the log open. */
        if (atomic_load_explicit(&p.word, memory_order_acquire) == WORD_FINAL) break;
        append_lock(log);
      }
      continue;
    }
    pthread_mutex_unlock(&log->mu);
    word_wait(&p.word, w);
    if (atomic_load_explicit(&p.word, memory_order_acquire) == WORD_FINAL) break;
    append_lock(log);
  }
  free(p.data);
  if (p.state == P_FAILED) {
    if (err) *err = p.fail;
    return p.fail.code ? p.fail.code : LISEC_ESTORE;
  }
  if (index) *index = p.index;
  return 0;
}

uint64_t ctl_auditlog_queued(ctl_auditlog *log) {
  pthread_mutex_lock(&log->mu);
  uint64_t n = log->next_index - log->committed;
  pthread_mutex_unlock(&log->mu);
  return n;
}

uint64_t ctl_auditlog_size(ctl_auditlog *log) {
  pthread_mutex_lock(&log->mu);
  uint64_t n = log->committed;
  pthread_mutex_unlock(&log->mu);
  return n;
}

void ctl_auditlog_stats(ctl_auditlog *log, uint64_t *batches, uint64_t *entries) {
  pthread_mutex_lock(&log->mu);
  *batches = log->batches;
  *entries = log->committed;
  pthread_mutex_unlock(&log->mu);
}

int ctl_auditlog_checkpoint_now(ctl_auditlog *log, lisec_err *err) {
  pthread_mutex_lock(&log->mu);
  uint64_t want = log->committed;
  if (log->cp_size >= want) {
    pthread_mutex_unlock(&log->mu);
    return 0;
  }
  log->cp_request = true;
  lisec_err_clear(&log->cp_err);
  pthread_cond_signal(&log->cv_cp);
  while (log->cp_size < want && !log->cp_err.code && !log->stop)
    pthread_cond_wait(&log->cv_done, &log->mu);
  int rc = 0;
  if (log->cp_size < want)
    rc = lisec_err_set(err, log->cp_err.code ? log->cp_err.code : LISEC_EUNAVAIL,
                       "audit checkpoint not published: %s",
                       log->cp_err.code ? log->cp_err.msg : "the audit log is closing");
  pthread_mutex_unlock(&log->mu);
  return rc;
}

int ctl_auditlog_latest_checkpoint(ctl_auditlog *log, char **note, uint64_t *size,
                                   lisec_err *err) {
  pthread_mutex_lock(&log->mu);
  int rc = 0;
  if (!log->cp_note) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "no audit checkpoint published yet");
  } else {
    *note = strdup(log->cp_note);
    if (size) *size = log->cp_size;
    if (!*note) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  pthread_mutex_unlock(&log->mu);
  return rc;
}

void ctl_auditlog_lag(ctl_auditlog *log, uint64_t *unsigned_entries, int64_t *lag_ms,
                      uint64_t *failures) {
  pthread_mutex_lock(&log->mu);
  *unsigned_entries = log->committed > log->cp_size ? log->committed - log->cp_size : 0;
  int64_t since = log->cp_ok_ms ? log->cp_ok_ms : lisec_time_mono_ms();
  *lag_ms = *unsigned_entries ? lisec_time_mono_ms() - since : 0;
  *failures = log->cp_failures;
  pthread_mutex_unlock(&log->mu);
}

uint64_t ctl_auditlog_witness_refusals(ctl_auditlog *log) {
  pthread_mutex_lock(&log->mu);
  uint64_t n = log->wit_refusals;
  pthread_mutex_unlock(&log->mu);
  return n;
}

void ctl_auditlog_tsa_stats(ctl_auditlog *log, uint64_t *untimestamped, uint64_t *timestamped) {
  pthread_mutex_lock(&log->mu);
  *untimestamped = log->ts_missing;
  *timestamped = log->ts_ok;
  pthread_mutex_unlock(&log->mu);
}

void ctl_auditlog_checkpoint_error(ctl_auditlog *log, lisec_err *out) {
  pthread_mutex_lock(&log->mu);
  *out = log->cp_err;
  pthread_mutex_unlock(&log->mu);
}

/* ---- proofs -------------------------------------------------------------- */

static int fetch_one(void *ctx, const store_log_entry *e) {
  fetch_ctx *c = ctx;
  if (e->index != c->from + c->got || c->got >= c->count) return LISEC_EINVAL;
  /* Recomputed from the data: a proof reflects the entries themselves. */
  audit_hash_leaf(e->data, e->len, c->out[c->got++]);
  return 0;
}

static int fetch_leaves(void *ctx, uint64_t from, uint64_t count, uint8_t (*out)[AUDIT_HASH_LEN],
                        lisec_err *err) {
  fetch_ctx *c = ctx;
  c->from = from;
  c->count = count;
  c->got = 0;
  c->out = out;
  int rc = store_log_range(c->reader, from, from + count, fetch_one, c, err);
  if (!rc && c->got != count) rc = LISEC_EINVAL;
  if (rc)
    return lisec_err_set(err, LISEC_ESTORE, "audit entries %llu..%llu missing or out of order in the store",
                         (unsigned long long)from, (unsigned long long)(from + count - 1));
  return 0;
}

/* While the tree below the checkpoint the open began at is being rebuilt
 * (a few seconds per million entries, after the start) there is nothing to
 * prove from: the caller is told to come back. tree_lock held. */
static int tree_deferred(const ctl_auditlog *log, lisec_err *err) {
  if (!log->deferred) return 0;
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "audit proofs are not available yet: lisecd is rebuilding the tree of the %llu entries "
                       "below the checkpoint it started from (%llu checked); retry shortly",
                       (unsigned long long)log->base, (unsigned long long)atomic_load(&log->recheck_checked));
}

static uint64_t pick_size(ctl_auditlog *log, uint64_t size) {
  return size ? size : ctl_auditlog_size(log);
}

int ctl_auditlog_prove_inclusion(ctl_auditlog *log, lisec_store *reader, uint64_t index,
                                 uint64_t size, audit_proof *proof, uint8_t leaf_hash[32],
                                 uint8_t root[32], uint64_t *size_out, lisec_err *err) {
  size = pick_size(log, size);
  if (size > ctl_auditlog_size(log))
    return lisec_err_set(err, LISEC_EINVAL, "tree size %llu is beyond the log", (unsigned long long)size);
  fetch_ctx c = {.reader = reader};
  pthread_rwlock_rdlock(&log->tree_lock);
  int rc = tree_deferred(log, err);
  if (!rc) rc = audit_tree_prove_inclusion(log->tree, index, size, fetch_leaves, &c, proof, err);
  if (!rc && root) rc = audit_tree_root(log->tree, size, fetch_leaves, &c, root, err);
  pthread_rwlock_unlock(&log->tree_lock);
  uint8_t one[1][AUDIT_HASH_LEN];
  if (!rc && leaf_hash) {
    rc = fetch_leaves(&c, index, 1, one, err);
    if (!rc) memcpy(leaf_hash, one[0], AUDIT_HASH_LEN);
  }
  if (!rc && size_out) *size_out = size;
  return rc;
}

int ctl_auditlog_prove_consistency(ctl_auditlog *log, lisec_store *reader, uint64_t old_size,
                                   uint64_t new_size, audit_proof *proof, uint8_t old_root[32],
                                   uint8_t new_root[32], uint64_t *new_size_out, lisec_err *err) {
  new_size = pick_size(log, new_size);
  if (new_size > ctl_auditlog_size(log))
    return lisec_err_set(err, LISEC_EINVAL, "tree size %llu is beyond the log", (unsigned long long)new_size);
  fetch_ctx c = {.reader = reader};
  pthread_rwlock_rdlock(&log->tree_lock);
  int rc = tree_deferred(log, err);
  if (!rc) rc = audit_tree_prove_consistency(log->tree, old_size, new_size, fetch_leaves, &c, proof, err);
  if (!rc && old_root) rc = audit_tree_root(log->tree, old_size, fetch_leaves, &c, old_root, err);
  if (!rc && new_root) rc = audit_tree_root(log->tree, new_size, fetch_leaves, &c, new_root, err);
  pthread_rwlock_unlock(&log->tree_lock);
  if (!rc && new_size_out) *new_size_out = new_size;
  return rc;
}

int ctl_auditlog_find_leaf(ctl_auditlog *log, lisec_store *reader, const uint8_t leaf_hash[32],
                           uint64_t size, uint64_t *index, lisec_err *err) {
  size = pick_size(log, size);
  uint64_t few[16], *cand = few;
  size_t room = sizeof few / sizeof few[0], n = 0;
  int rc = 0;
  /* The candidates from the in-memory index under the lock (a few probes),
   * confirmed against the store after it is released: no I/O under the
   * tree lock, which the appender needs for every batch. */
  for (;;) {
    pthread_rwlock_rdlock(&log->tree_lock);
    rc = tree_deferred(log, err);
    uint64_t have = audit_tree_size(log->tree);
    n = rc ? 0 : audit_leaf_index_find(log->leaves, leaf_hash, size < have ? size : have, cand, room);
    pthread_rwlock_unlock(&log->tree_lock);
    if (rc) {
      if (cand != few) free(cand);
      return rc;
    }
    if (n < room) break;
    /* as many candidates as room (a crafted run of 32-bit prefixes): more room */
    uint64_t *more = room <= SIZE_MAX / 4 / sizeof *more ? malloc(room * 2 * sizeof *more) : NULL;
    if (cand != few) free(cand);
    if (!more) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    cand = more;
    room *= 2;
  }
  fetch_ctx c = {.reader = reader};
  rc = LISEC_ENOTFOUND;
  for (size_t i = 0; i < n && rc == LISEC_ENOTFOUND; i++) {
    uint8_t one[1][AUDIT_HASH_LEN];
    int frc = fetch_leaves(&c, cand[i], 1, one, err);
    if (frc) rc = frc;
    else if (sodium_memcmp(one[0], leaf_hash, 32) == 0) {
      *index = cand[i];
      rc = 0;
    }
  }
  if (cand != few) free(cand);
  if (rc == LISEC_ENOTFOUND)
    lisec_err_set(err, LISEC_ENOTFOUND, "no audit entry with that leaf hash below size %llu",
                  (unsigned long long)size);
  return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *hex_json(const uint8_t h[32]) {
  char hex[65];
  lisec_hex_encode(h, 32, hex);
  return json_string(hex);
}

static int entry_json(void *ctx, const store_log_entry *e) {
  json_t *arr = ctx;
  size_t b64_len = sodium_base64_ENCODED_LEN(e->len, sodium_base64_VARIANT_ORIGINAL);
  char *b64 = malloc(b64_len);
  if (!b64) return LISEC_ENOMEM;
  sodium_bin2base64(b64, b64_len, e->data, e->len, sodium_base64_VARIANT_ORIGINAL);
  json_t *o = json_pack("{s:I, s:I, s:b, s:s, s:o}", "index", (json_int_t)e->index, "time_ms",
                        (json_int_t)e->time_ms, "sealed", e->sealed, "data", b64, "leaf_hash",
                        hex_json(e->leaf_hash));
  free(b64);
  if (!o || json_array_append_new(arr, o) != 0) return LISEC_ENOMEM;
  return 0;
}

int ctl_auditlog_entries_json(lisec_store *reader, uint64_t from, uint64_t to, json_t **out,
                              lisec_err *err) {
  if (to < from || to - from > ENTRIES_JSON_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "at most %u audit entries per request", ENTRIES_JSON_MAX);
  json_t *arr = json_array();
  if (!arr) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_log_range(reader, from, to, entry_json, arr, err);
  if (rc == LISEC_ENOMEM) lisec_err_set(err, rc, "out of memory");
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:I, s:o}", "from", (json_int_t)from, "entries", arr);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* The checkpoints' timestamp documents by id (the tree size in decimal). */
static int timestamp_doc(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  json_t *j = json_loads(body, 0, NULL);
  json_t *o = json_object();
  json_t *tok = json_object_get(j, "token"), *gen = json_object_get(j, "gen_time"), *why = json_object_get(j, "error");
  if (o && json_is_string(tok)) {
    json_object_set(o, "token", tok);
    if (json_is_string(gen)) json_object_set(o, "gen_time", gen);
  } else if (o) {
    json_object_set_new(o, "error", json_is_string(why) ? json_copy(why) : json_string("malformed timestamp document"));
  }
  json_decref(j);
  return o && json_object_set_new(ctx, id, o) == 0 ? 0 : LISEC_ENOMEM;
}

typedef struct cps_ctx {
  json_t *arr;
  lisec_store *reader;
  uint64_t max_size, count, next;
  bool more;
  int rc;
  lisec_err *err;
} cps_ctx;

/* Stops the walk once a page is full: the row after it is where the next
 * page begins. */
#define CPS_PAGE_FULL (-1000)

static int checkpoint_json(void *ctx, uint64_t size, const char *note) {
  cps_ctx *c = ctx;
  if (size > c->max_size) return 0; /* ahead of the entries served */
  if (json_array_size(c->arr) == c->count) {
    c->more = true;
    c->next = size;
    return CPS_PAGE_FULL;
  }
  json_t *o = json_pack("{s:I, s:s}", "tree_size", (json_int_t)size, "note", note);
  json_t *ts = NULL;
  lisec_err e = {0};
  int rc = ctl_auditlog_timestamp_json(c->reader, size, &ts, &e);
  if (rc && rc != LISEC_ENOTFOUND) {
    json_decref(o);
    c->rc = lisec_err_set(c->err, rc, "reading the timestamp of the checkpoint at size %llu: %s",
                          (unsigned long long)size, e.msg);
    return c->rc;
  }
  if (o && ts) json_object_set_new(o, "timestamp", ts);
  else json_decref(ts);
  return o && json_array_append_new(c->arr, o) == 0 ? 0 : LISEC_ENOMEM;
}

int ctl_auditlog_timestamp_json(lisec_store *reader, uint64_t size, json_t **out, lisec_err *err) {
  char id[24], *body = NULL;
  snprintf(id, sizeof id, "%llu", (unsigned long long)size);
  int rc = store_doc_get(reader, CTL_TSA_DOC_KIND, id, &body, NULL, err);
  if (rc) return rc;
  json_t *one = json_object();
  rc = one ? timestamp_doc(one, id, body, 0) : LISEC_ENOMEM;
  free(body);
  *out = rc ? NULL : json_incref(json_object_get(one, id));
  json_decref(one);
  return rc ? lisec_err_set(err, rc, "out of memory") : 0;
}

int ctl_auditlog_checkpoints_json(lisec_store *reader, uint64_t max_size, uint64_t from, uint64_t count,
                                  json_t **out, lisec_err *err) {
  if (count == 0 || count > CTL_AUDITLOG_CP_PAGE_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "count: 1 to %u checkpoints per request", CTL_AUDITLOG_CP_PAGE_MAX);
  cps_ctx c = {.arr = json_array(), .reader = reader, .max_size = max_size, .count = count, .err = err};
  if (!c.arr) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  json_t *arr = c.arr;
  /* One page and its timestamps only: the whole list, with every
   * timestamp document, grew without bound with the log. */
  int rc = from > max_size ? 0 : store_checkpoint_list_from(reader, from, checkpoint_json, &c, err);
  if (rc == CPS_PAGE_FULL) rc = 0;
  if (rc) {
    if (rc == LISEC_ENOMEM) lisec_err_set(err, rc, "out of memory");
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "checkpoints", arr);
  if (*out && c.more) json_object_set_new(*out, "next", json_integer((json_int_t)c.next));
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
