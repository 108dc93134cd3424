/* KEK rotation of the target vault as a job (TR 103 308 §5.7; issue 22
 * items 3 and 6). POST /v1/vault/rotate-kek checks the request, records it
 * (sealed to the LI administration; a refused one too, with its reason,
 * before the answer), makes the new token key current and
 * answers at once with a job id; the re-wrapping of every data key runs on
 * the controller's rotation thread with its own store connection, so no
 * request channel waits for it however many targets there are. The thread
 * re-wraps outside any store transaction (token calls, in batches of
 * [keys] max_batch records, one round trip to the keys process a batch,
 * several batches in flight at once), then writes in
 * transactions of [vault] rotation_chunk records, each chunk's records read
 * and made before its transaction, so the store's write lock is held a
 * chunk's writes at a time, and a normal-priority writer waiting then goes
 * first (the store's write turn). It is bulk work (issue 22 item 6): the thread
 * runs at [vault] rotation_nice, so decisions keep the cores while both
 * want them, and [vault] rotation_rate (targets per second, 0: no bound)
 * paces both the re-wrapping and the writes, spreading a rotation's token
 * and store work over time instead of taking them in one burst. The end is recorded with its counts, and the
 * job (kept as a document of kind "vault.rotation") tells its progress and
 * its outcome. One rotation at a time: a second is refused while one runs.
 * A lisecd stopped (or killed) mid-rotation leaves every target readable:
 * each record names the key that wrapped it and the previous key stays in
 * the token; the store still names the previous key as current, the job
 * reads "interrupted", and the next rotation finishes the work. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ctl/counters.h"
#include "ctl/internal.h"
#include "ctl/targets.h"

#define ROTATION_KIND "vault.rotation"
#define ROTATION_REQ "TR103308-5.7"
#define ROTATION_ID_MAX 40
/* A chunk of 50 holds the write lock for a few ms, which an audit append
 * waiting behind it can afford (bench/api: 500 cost decisions' p99). */
#define ROTATION_CHUNK_DEFAULT 50
#define ROTATION_CHUNK_MAX 100000
#define ROTATION_RATE_MAX 1000000
#define ROTATION_NICE_DEFAULT 10

static const ctl_actor CONTROLLER = {.subject = "lisecd", .role = "controller", .kind = CTL_ROLE_CONTROLLER};

/* One rotation: what it moves from and to, who asked, how far it got. */
typedef struct job {
  char id[ROTATION_ID_MAX + 1];
  char name[KEYS_KEK_NAME_MAX + 1], prev[KEYS_KEK_NAME_MAX + 1];
  char label[VAULT_ID_MAX + 1], prev_label[VAULT_ID_MAX + 1];
  char subject[256], role[64];
  const char *state; /* "running", "done", "failed", "interrupted" */
  size_t targets, prepared, rewrapped;
  int64_t started_at, ended_at;
  char error[LISEC_ERR_MSG_MAX];
} job;

struct ctl_rotation_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool started, stopping, queued, running;
  pthread_t thread;
  lisec_ctl *ctx; /* the rotation thread's own context and store connection */
  size_t chunk;   /* [vault] rotation_chunk */
  int64_t rate;   /* [vault] rotation_rate: targets per second, 0: no bound */
  int nice;       /* [vault] rotation_nice */
  size_t lanes;   /* batches of re-wraps in flight at once: KEYS_ROTATION_LANES([vault] token_sessions) */
  size_t batch;   /* records in a batch at most: [keys] max_batch */
  uint64_t seq;   /* ids made by this process */
  job job;        /* the last rotation this process started */
};

/* ---- the job document ------------------------------------------------------ */

static json_t *job_json(const job *j) {
  char started[32] = "", ended[32] = "";
  if (j->started_at) lisec_time_format(j->started_at, started);
  if (j->ended_at) lisec_time_format(j->ended_at, ended);
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "id", j->id, "state",
                        j->state, "key_label", j->name, "kek", j->label, "previous", j->prev_label,
                        "previous_key_label", j->prev, "targets", (json_int_t)j->targets, "prepared",
                        (json_int_t)j->prepared, "rewrapped", (json_int_t)j->rewrapped, "started_at",
                        started);
  if (o && j->ended_at) json_object_set_new(o, "ended_at", json_string(ended));
  if (o && j->error[0]) json_object_set_new(o, "error", json_string(j->error));
  return o;
}

static int job_save(lisec_store *s, const job *j, lisec_err *err) {
  json_t *o = job_json(j);
  char *text = o ? lisec_json_dump_canonical(o) : NULL;
  json_decref(o);
  int rc = text ? store_doc_put(s, ROTATION_KIND, j->id, text, -1, NULL, err)
                : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  free(text);
  return rc;
}

/* ---- the re-wrapping (run on the rotation thread) ---------------------------- */

/* A data key re-wrapped before the write transaction: the record's stored
 * version when it was read, and its new wrapped key (under r->label). */
typedef struct rewrapped {
  int64_t version;
  uint8_t *wrapped; /* NULL: nothing to write (already under the key, or gone) */
  size_t len;
} rewrapped;

typedef struct rotation {
  lisec_ctl *ctl;
  struct ctl_rotation_state *st;
  uint64_t paced_from; /* the phase's start (monotonic ns), for rotation_rate */
  json_t *ids;     /* every target id, collected before writing */
  rewrapped *done; /* one per id */
  size_t rewrapped;
  char label[VAULT_ID_MAX + 1]; /* the current KEK's record label */
} rotation;

static int collect_id(void *ctx, const char *id, const char *body, int64_t version) {
  (void)body, (void)version;
  return json_array_append_new(((rotation *)ctx)->ids, json_string(id)) ? LISEC_ENOMEM : 0;
}

/* A rotation's error names the target it stopped at, keeping the
 * requirement id in front when the cause carries one. */
static void stopped_at(const char *id, int rc, lisec_err *err) {
  static const char req[] = ROTATION_REQ ": ";
  char cause[LISEC_ERR_MSG_MAX];
  snprintf(cause, sizeof cause, "%s", err->msg);
  const char *rest = strncmp(cause, req, strlen(req)) == 0 ? cause + strlen(req) : cause;
  lisec_err_set(err, rc, "%sKEK rotation stopped at target %s, nothing changed: %s", req, id, rest);
}

/* Whether lisecd stops: the rotation ends between two targets or chunks. */
static int check_stop(rotation *r, lisec_err *err) {
  pthread_mutex_lock(&r->st->mu);
  bool stopping = r->st->stopping;
  pthread_mutex_unlock(&r->st->mu);
  return stopping ? lisec_err_set(err, LISEC_EUNAVAIL, "%s: lisecd stopped during the KEK rotation, "
                                  "nothing changed", ROTATION_REQ)
                  : 0;
}

/* [vault] rotation_rate: after `done` targets of the phase that started at
 * r->paced_from, waits until done / rate seconds have passed since (woken
 * early by a stop, which the next check_stop sees). It sleeps only once
 * it is PACE_AHEAD_NS ahead, so the targets go a few at a time between
 * sleeps instead of one sleep and wake-up each (bench/api: about a tenth
 * less CPU a target at 4,000/s; a paced rotation still costs 2-2.5x an
 * unpaced one a target, its token round trips waking sleeping threads). */
#define PACE_AHEAD_NS (2 * 1000 * 1000)
static void pace(rotation *r, size_t done) {
  int64_t rate = r->st->rate;
  if (rate <= 0) return;
  uint64_t due = r->paced_from + (uint64_t)((double)done * 1e9 / (double)rate), now = lisec_time_mono_ns();
  if (now + PACE_AHEAD_NS > due) return;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  uint64_t ns = (uint64_t)until.tv_nsec + (due - now);
  until.tv_sec += (time_t)(ns / 1000000000u);
  until.tv_nsec = (long)(ns % 1000000000u);
  pthread_mutex_lock(&r->st->mu);
  if (!r->st->stopping) pthread_cond_timedwait(&r->st->cv, &r->st->mu, &until);
  pthread_mutex_unlock(&r->st->mu);
}

/* Test builds only: while the file LISEC_TEST_ROTATION_PAUSE names exists,
 * the rotation waits before each chunk but the first, so a test catches it
 * part-way (a request answered meanwhile, a second rotation, a restart). */
static void test_pause(rotation *r) {
#ifdef LISEC_TEST_HOOKS
  const char *path = getenv("LISEC_TEST_ROTATION_PAUSE");
  for (int i = 0; path && i < 6000; i++) { /* at most 10 minutes */
    FILE *f = fopen(path, "r");
    if (!f) return;
    fclose(f);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 100 * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->st->mu);
    bool stopping = r->st->stopping;
    if (!stopping) pthread_cond_timedwait(&r->st->cv, &r->st->mu, &until);
    pthread_mutex_unlock(&r->st->mu);
    if (stopping) return;
  }
#else
  (void)r;
#endif
}

/* The target's data key under the current KEK, by the keys process (an
 * unwrap by the key its record names and a wrap by the current one: token
 * calls). *moved is false when it was under the current key already. The
 * record is written naming r->label, so an answer under another label is
 * refused (keys_vault_rewrap, TR103308-5.7) and the rotation stops there. */
static int rewrap_one(rotation *r, vault_sealed *s, bool *moved, lisec_err *err) {
  *moved = false;
  if (strcmp(s->kek_label, r->label) == 0) return 0;
  int rc = keys_vault_rewrap(r->ctl->shared->keys, s, r->label, moved, err);
  ctl_metrics_vault(CTL_METRICS_VAULT_REWRAP, rc == 0);
  if (rc) stopped_at(s->id, rc, err);
  return rc;
}

/* The re-wraps in flight at once, in batches (issue 22 items 3 and 6).
 * The rotation thread reads the records (its store connection is its own)
 * and queues them in batches of st->batch; each of st->lanes lanes,
 * lowered like it, sends one batch at a time to the keys process
 * (REWRAP_BATCH: one round trip a batch instead of one a target) and keeps
 * each result in its own slot of r->done. The keys process shares a batch's
 * records out over KEYS_ROTATION_LANES lowered threads (all its token
 * sessions but one, which stays for cold reads), so with a network HSM the
 * token's round trips overlap (2,001 targets behind a 1 ms HSM took 15.5 s
 * one at a time), and a target costs no message and no thread wake-up of
 * its own. */
typedef struct lane_batch {
  size_t n;
  size_t *at;       /* each record's index in r->ids */
  int64_t *version; /* each record's stored version when it was read */
  vault_sealed *s;
} lane_batch;

static void batch_free(lane_batch *b) {
  if (!b) return;
  for (size_t k = 0; k < b->n; k++) vault_sealed_free(&b->s[k]);
  free(b->at);
  free(b->version);
  free(b->s);
  free(b);
}

static lane_batch *batch_new(size_t cap) {
  lane_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->at = calloc(cap, sizeof *b->at);
  b->version = calloc(cap, sizeof *b->version);
  b->s = calloc(cap, sizeof *b->s);
  if (b->at && b->version && b->s) return b;
  batch_free(b);
  return NULL;
}

#define LANE_QUEUE KEYS_VAULT_SESSIONS_MAX /* batches waiting; st->lanes of them at most */
typedef struct lanes {
  rotation *r;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a batch queued, a slot free, a lane done, or closing */
  lane_batch *q[LANE_QUEUE];
  size_t head, count, cap, finished, batches;
  bool closing;
  int rc;    /* the first failure in the rotation's order among the batches sent, */
  size_t at; /* at r->ids[at], with its words (naming it) in err */
  lisec_err err;
} lanes;

/* One batch's answers as they come (keys_rewrapped_fn). */
typedef struct batch_answers {
  rotation *r;
  lane_batch *b;
  size_t answered;
  int rc; /* the batch's first failure, at b->at[at] */
  size_t at;
  lisec_err err;
} batch_answers;

/* The target of a batch's record i, by its store id (what the rotation
 * listed and writes; a record's own id field could be anything, even empty). */
static const char *target_of(const rotation *r, const lane_batch *b, size_t i) {
  return json_string_value(json_array_get(r->ids, b->at[i]));
}

static void one_rewrapped(void *ctx, size_t i, int rc, const char *msg, bool changed) {
  batch_answers *a = ctx;
  lane_batch *b = a->b;
  a->answered = i + 1;
  ctl_metrics_vault(CTL_METRICS_VAULT_REWRAP, rc == 0);
  if (rc) {
    if (!a->rc) {
      a->rc = lisec_err_set(&a->err, rc, "%s", msg);
      a->at = i;
      stopped_at(target_of(a->r, b, i), rc, &a->err);
    }
    return;
  }
  if (!changed) return; /* under the current key already (written meanwhile) */
  rewrapped *d = &a->r->done[b->at[i]];
  if ((d->wrapped = malloc(b->s[i].wrapped_key_len))) {
    memcpy(d->wrapped, b->s[i].wrapped_key, b->s[i].wrapped_key_len);
    d->len = b->s[i].wrapped_key_len;
    d->version = b->version[i];
  } else if (!a->rc) {
    a->rc = lisec_err_set(&a->err, LISEC_ENOMEM, "out of memory");
    a->at = i;
    stopped_at(target_of(a->r, b, i), a->rc, &a->err);
  }
}

static bool stopping(rotation *r) {
  pthread_mutex_lock(&r->st->mu);
  bool stop = r->st->stopping;
  pthread_mutex_unlock(&r->st->mu);
  return stop;
}

static void *lane_main(void *arg) {
  lanes *l = arg;
  keys_client *keys = l->r->ctl->shared->keys;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->count && !l->closing) pthread_cond_wait(&l->cv, &l->mu);
    if (!l->count) break;
    lane_batch *b = l->q[l->head];
    l->head = (l->head + 1) % LANE_QUEUE;
    l->count--;
    bool skip = l->rc != 0; /* a batch failed: nothing more is asked */
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    batch_answers a = {.r = l->r, .b = b};
    /* (a stop ends the rotation: the batches queued are not asked for) */
    bool ask = !skip && !stopping(l->r);
    if (ask) {
      lisec_err e = {0};
      int rc = keys_vault_rewrap_many(keys, b->s, b->n, l->r->label, one_rewrapped, &a, &e);
      if (rc && !a.rc && a.answered < b->n) { /* the channel, or the batch refused whole */
        a.rc = rc;
        a.at = a.answered;
        a.err = e;
        stopped_at(target_of(l->r, b, a.at), rc, &a.err);
      }
    }
    pthread_mutex_lock(&l->mu);
    if (a.rc && (!l->rc || b->at[a.at] < l->at)) l->rc = a.rc, l->at = b->at[a.at], l->err = a.err;
    l->finished += b->n;
    l->batches += ask;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    batch_free(b);
    pthread_mutex_lock(&l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* Queues a batch for the lanes (taking it), waiting for a free slot; false
 * once a batch has failed (the batch is freed). */
static bool lanes_put(lanes *l, lane_batch *b) {
  pthread_mutex_lock(&l->mu);
  while (l->count == l->cap && !l->rc) pthread_cond_wait(&l->cv, &l->mu);
  bool ok = !l->rc;
  if (ok) {
    l->q[(l->head + l->count) % LANE_QUEUE] = b;
    l->count++;
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  if (!ok) batch_free(b);
  return ok;
}

/* Counts passed (0 or 1: a target that needs no re-wrap, deleted since
 * the listing or under the current key already) as done; returns the
 * targets done so far (the job's "prepared"). */
static size_t lanes_finished(lanes *l, size_t passed) {
  pthread_mutex_lock(&l->mu);
  l->finished += passed;
  size_t n = l->finished;
  pthread_mutex_unlock(&l->mu);
  return n;
}

/* Records in one batch: at most ROTATION_BATCH_MAX and [keys] max_batch,
 * and with [vault] rotation_rate at most ROTATION_BATCH_MS of the rate's
 * targets, so a paced rotation still spreads its token work over time
 * instead of sending it in bursts. 64 records already make a batch's own
 * cost (a message each way, a few wake-ups) about a microsecond a target,
 * and keep what a stop of lisecd waits for short: the batches in flight,
 * 64 token round trips a lane (a quarter of a second with an HSM 1 ms
 * away) instead of [keys] max_batch's 256. */
#define ROTATION_BATCH_MAX 64
#define ROTATION_BATCH_MS 50
static size_t batch_size(const struct ctl_rotation_state *st) {
  size_t n = st->batch && st->batch < ROTATION_BATCH_MAX ? st->batch : ROTATION_BATCH_MAX;
  if (st->rate > 0) {
    int64_t paced = st->rate * ROTATION_BATCH_MS / 1000;
    if (paced < 1) paced = 1;
    if ((size_t)paced < n) n = (size_t)paced;
  }
  return n;
}

/* Outside any transaction, so the store's writers are not held up by the
 * token (two to four token calls a target: seconds for 100,000 targets
 * with SoftHSM2, minutes with a network HSM): every data key not yet under
 * the current KEK is re-wrapped, in batches, st->lanes batches at a time,
 * and kept in memory with the version it was read at. Nothing is written;
 * a target deleted meanwhile is passed over. *batches: the batches the
 * keys process was asked. */
static int rewrap_outside(rotation *r, size_t *batches, lisec_err *err) {
  lisec_ctl *ctl = r->ctl;
  *batches = 0;
  int rc = store_doc_list(ctl->store, CTL_TARGET_KIND, collect_id, r, err);
  size_t n = json_array_size(r->ids);
  if (!rc && n && !(r->done = calloc(n, sizeof *r->done)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory for %zu re-wrapped keys", n);
  pthread_mutex_lock(&r->st->mu);
  r->st->job.targets = n;
  pthread_mutex_unlock(&r->st->mu);
  if (rc || !n) return rc;
  size_t per = batch_size(r->st);
  lanes l = {.r = r, .cap = r->st->lanes < LANE_QUEUE ? r->st->lanes : LANE_QUEUE};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  pthread_t th[KEYS_VAULT_SESSIONS_MAX];
  size_t nth = 0;
  while (nth < r->st->lanes && pthread_create(&th[nth], NULL, lane_main, &l) == 0) nth++;
  if (!nth) rc = lisec_err_set(err, LISEC_ENOMEM, "%s: cannot start a thread to re-wrap data keys", ROTATION_REQ);
  lane_batch *b = NULL;
  r->paced_from = lisec_time_mono_ns();
  for (size_t i = 0; i < n && !rc; i++) {
    pace(r, i);
    if ((i & 63) == 0 && (rc = check_stop(r, err))) break;
    vault_sealed s;
    int64_t dv = 0;
    size_t passed = 0;
    rc = ctl_target_load(ctl, json_string_value(json_array_get(r->ids, i)), &s, &dv, err);
    if (rc == LISEC_ENOTFOUND) { /* deleted since the listing: passed over */
      rc = 0;
      passed = 1;
    } else if (rc) { /* (a record that does not parse, or holds another target's) */
      stopped_at(json_string_value(json_array_get(r->ids, i)), rc, err);
    } else if (strcmp(s.kek_label, r->label) == 0) { /* nothing to ask the token */
      vault_sealed_free(&s);
      passed = 1;
    } else if (!rc && !b && !(b = batch_new(per))) {
      vault_sealed_free(&s);
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory for a batch of %zu re-wraps", per);
    } else if (!rc) {
      b->at[b->n] = i, b->version[b->n] = dv, b->s[b->n] = s;
      if (++b->n == per) {
        lane_batch *full = b;
        b = NULL;
        if (!lanes_put(&l, full)) break;
      }
    }
    if (rc) break;
    size_t finished = lanes_finished(&l, passed);
    pthread_mutex_lock(&r->st->mu);
    r->st->job.prepared = finished;
    pthread_mutex_unlock(&r->st->mu);
  }
  if (b && (rc || !b->n)) batch_free(b);
  else if (b) (void)lanes_put(&l, b); /* the last, part full */
  pthread_mutex_lock(&l.mu);
  l.closing = true;
  pthread_cond_broadcast(&l.cv);
  pthread_mutex_unlock(&l.mu);
  for (size_t t = 0; t < nth; t++) pthread_join(th[t], NULL);
  if (!rc && l.rc) {
    rc = l.rc;
    *err = l.err;
  }
  /* a stop while the last batches were queued leaves them unasked */
  if (!rc) rc = check_stop(r, err);
  *batches = l.batches;
  pthread_mutex_lock(&r->st->mu);
  r->st->job.prepared = l.finished;
  pthread_mutex_unlock(&r->st->mu);
  pthread_cond_destroy(&l.cv);
  pthread_mutex_destroy(&l.mu);
  return rc;
}

/* One record's new stored text, made before its chunk's transaction, and
 * the version it was made from (the write is compare-and-set on it). */
typedef struct staged {
  size_t i;
  int64_t version;
  char *text;
} staged;

/* A chunk's records read and their new text made outside any transaction:
 * the record's re-wrapped key when it is still at the version re-wrapped
 * (else re-wrapped again now, unless the change sealed it under the current
 * key already; one deleted meanwhile is passed over). out gets *n texts. */
static int stage_chunk(rotation *r, size_t start, size_t end, staged *out, size_t *n, lisec_err *err) {
  lisec_ctl *ctl = r->ctl;
  int rc = 0;
  *n = 0;
  for (size_t i = start; i < end && !rc; i++) {
    rewrapped *d = &r->done[i];
    if (!d->wrapped) continue;
    vault_sealed s;
    int64_t dv = 0;
    bool moved = false;
    rc = ctl_target_load(ctl, json_string_value(json_array_get(r->ids, i)), &s, &dv, err);
    if (rc == LISEC_ENOTFOUND) {
      rc = 0;
      continue;
    }
    if (rc) break;
    if (dv == d->version && d->len <= sizeof s.wrapped_key) {
      /* the label the keys process answered with: the client refused any other */
      snprintf(s.kek_label, sizeof s.kek_label, "%s", r->label);
      memcpy(s.wrapped_key, d->wrapped, s.wrapped_key_len = d->len);
      moved = true;
    } else {
      rc = rewrap_one(r, &s, &moved, err);
    }
    json_t *j = NULL;
    if (!rc && moved && !(rc = vault_sealed_to_json(&s, &j, err))) {
      char *text = lisec_json_dump_canonical(j);
      if (text) out[(*n)++] = (staged){i, dv, text};
      else rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    json_decref(j);
    if (rc && !strstr(err->msg, "KEK rotation stopped")) stopped_at(s.id, rc, err);
    vault_sealed_free(&s);
  }
  return rc;
}

/* A chunk's staged texts written in one transaction, each compare-and-set
 * on the version it was made from, so the write lock is held for the
 * writes alone (the reads, JSON and any token call were done before).
 * *changed: a record moved on since it was staged (nothing written). */
static int write_staged(rotation *r, const staged *st, size_t n, bool *changed, lisec_err *err) {
  lisec_store *store = r->ctl->store;
  *changed = false;
  int rc = store_begin(store, err);
  if (rc) return rc;
  for (size_t k = 0; k < n && !rc; k++) {
    rc = store_doc_put(store, CTL_TARGET_KIND, json_string_value(json_array_get(r->ids, st[k].i)), st[k].text,
                       st[k].version, NULL, err);
    if (rc == LISEC_ECONFLICT) *changed = true;
    if (rc) stopped_at(json_string_value(json_array_get(r->ids, st[k].i)), rc, err);
  }
  if (!rc) return store_commit(store, err); /* rolls back when it fails */
  store_rollback(store);
  return rc;
}

/* Times a chunk is staged again when a record moved on between its staging
 * and its write (a target updated meanwhile); then the rotation stops. */
#define ROTATION_RESTAGE_MAX 3

/* The writes, in transactions of st->chunk records, so the store's write
 * lock is held a chunk at a time and other writers (audit appends,
 * decisions) go in between; the store's write turn (src/store/turn.c) lets
 * every normal-priority writer waiting then go before the rotation's next
 * chunk, whose thread runs lowered. Each chunk is staged first, outside any
 * transaction (stage_chunk), then written (write_staged): the transaction
 * holds the lock for its writes alone. A record changed between the two is
 * staged again. Then the store notes which key is current. The token work
 * was done before, so only a store failure, a stop (or a target changed
 * meanwhile whose key cannot be re-wrapped) ends it part-way: the chunks
 * written stay under the new key, which their records name, so every
 * record stays readable, and the error says how many were written. */
static int write_rewrapped(rotation *r, const char *name, lisec_err *err) {
  lisec_ctl *ctl = r->ctl;
  size_t n = json_array_size(r->ids), committed = 0, chunk = r->st->chunk;
  staged *st = n ? calloc(chunk < n ? chunk : n, sizeof *st) : NULL;
  int rc = n && !st ? lisec_err_set(err, LISEC_ENOMEM, "out of memory") : 0;
  r->paced_from = lisec_time_mono_ns();
  for (size_t start = 0; start < n && !rc; start += chunk) {
    if (start) test_pause(r);
    pace(r, start);
    if ((rc = check_stop(r, err))) break;
    size_t end = start + chunk < n ? start + chunk : n;
    for (int attempt = 0;; attempt++) {
      size_t staged_n = 0;
      bool changed = false;
      rc = stage_chunk(r, start, end, st, &staged_n, err);
      if (!rc && staged_n) rc = write_staged(r, st, staged_n, &changed, err);
      for (size_t k = 0; k < staged_n; k++) free(st[k].text);
      if (rc && changed && attempt < ROTATION_RESTAGE_MAX) {
        rc = 0;
        continue;
      }
      if (!rc) committed += staged_n;
      break;
    }
    pthread_mutex_lock(&r->st->mu);
    r->st->job.rewrapped = committed;
    pthread_mutex_unlock(&r->st->mu);
  }
  free(st);
  r->rewrapped = committed;
  if (!rc) {
    json_t *doc = json_pack("{s:s}", "key_label", name);
    char *text = doc ? lisec_json_dump_canonical(doc) : NULL;
    json_decref(doc);
    rc = text ? store_doc_put(ctl->store, CTL_VAULT_KEK_DOC_KIND, CTL_VAULT_KEK_DOC_ID, text, -1, NULL, err)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    free(text);
  }
  if (rc && committed) {
    char cause[LISEC_ERR_MSG_MAX];
    snprintf(cause, sizeof cause, "%s", err->msg);
    char *nc = strstr(cause, ", nothing changed"); /* stopped_at's words; not so now */
    if (nc) memmove(nc, nc + strlen(", nothing changed"), strlen(nc + strlen(", nothing changed")) + 1);
    lisec_err_set(err, rc, "%s (%zu targets were re-wrapped before it stopped; they name their new KEK "
                  "and stay readable; rotate again to finish)", cause, committed);
  }
  return rc;
}

static void rotation_free(rotation *r) {
  for (size_t i = 0; r->done && i < json_array_size(r->ids); i++) free(r->done[i].wrapped);
  free(r->done);
  json_decref(r->ids);
}

/* The whole job on the rotation thread: re-wrap, write, then the previous
 * key current again on failure (records already moved name the new one)
 * or the older keys unloaded on success; the end recorded with its counts
 * and the job document written. */
static void run_job(struct ctl_rotation_state *st) {
  lisec_ctl *ctl = st->ctx;
  keys_client *keys = ctl->shared->keys;
  pthread_mutex_lock(&st->mu);
  job j = st->job; /* the names and the actor; only this thread changes the counts */
  pthread_mutex_unlock(&st->mu);
  ctl_actor actor = {.subject = j.subject, .role = j.role};
  rotation r = {.ctl = ctl, .st = st, .ids = json_array()};
  snprintf(r.label, sizeof r.label, "%s", j.label);
  lisec_err err = {0};
  uint64_t t0 = lisec_time_mono_ns(), t1 = t0;
  size_t batches = 0;
  int rc = r.ids ? 0 : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  if (!rc && !(rc = rewrap_outside(&r, &batches, &err))) {
    t1 = lisec_time_mono_ns();
    rc = write_rewrapped(&r, j.name, &err);
  }
  bool stopped = false;
  pthread_mutex_lock(&st->mu);
  stopped = st->stopping;
  pthread_mutex_unlock(&st->mu);
  if (rc) {
    (void)keys_vault_use_kek(keys, j.prev, false, NULL);
    /* The error names the target it stopped at: the job (li-admin's) and
     * the sealed record carry it; operators read the log, which names no
     * target (docs/operations.md, "Logs"). */
    LOG_WARN("KEK rotation %s %s after %zu of %zu targets (%s); the job says where and why (li-admin: GET "
             "/v1/vault/rotate-kek/%s)", j.id, stopped ? "interrupted" : "failed", r.rewrapped,
             json_array_size(r.ids), lisec_err_name(rc), j.id);
  } else {
    /* Every record is under the new key now: the older ones are unloaded
     * (a record sealed under one meanwhile loads it again), so rotations
     * never run into the bound on keys loaded at once. */
    (void)keys_vault_unload_keks(keys, NULL, NULL);
    LOG_INFO("KEK rotation %s: %zu data keys re-wrapped in %.1f s (%zu batches), written in transactions of %zu "
             "in %.1f s", j.id, r.rewrapped, (double)(t1 - t0) / 1e9, batches, st->chunk,
             (double)(lisec_time_mono_ns() - t1) / 1e9);
  }
  char reason[2 * KEYS_KEK_NAME_MAX + 160];
  snprintf(reason, sizeof reason, "job %s from %s to %s: %s, %zu of %zu targets re-wrapped", j.id, j.prev,
           j.name, rc ? (stopped ? "interrupted" : "failed") : "done", r.rewrapped, json_array_size(r.ids));
  /* A failure's record that cannot be written is logged by ctl_audit. */
  lisec_err aerr = {0};
  if (ctl_audit(ctl, &actor, rc ? CTL_OUTCOME_FAILED : CTL_OUTCOME_OK, "target.rotate-kek", true, reason, rc,
                NULL, &aerr, "target %s", "*") && !rc)
    LOG_ERROR("KEK rotation %s: its end could not be recorded: %s", j.id, aerr.msg);
  pthread_mutex_lock(&st->mu);
  st->job.state = rc ? (stopped ? "interrupted" : "failed") : "done";
  st->job.rewrapped = r.rewrapped;
  st->job.ended_at = lisec_time_now();
  if (rc) snprintf(st->job.error, sizeof st->job.error, "%s", err.msg);
  j = st->job;
  pthread_mutex_unlock(&st->mu);
  lisec_err serr = {0};
  if (job_save(ctl->store, &j, &serr)) LOG_ERROR("KEK rotation %s: its outcome could not be stored: %s", j.id, serr.msg);
  pthread_mutex_lock(&st->mu);
  st->running = false;
  pthread_mutex_unlock(&st->mu);
  rotation_free(&r);
}

static void *rotation_main(void *arg) {
  struct ctl_rotation_state *st = arg;
  /* this thread's own nice value (Linux: per thread, who 0 is the caller);
   * lowering it needs no privilege */
  if (st->nice > 0 && setpriority(PRIO_PROCESS, 0, st->nice) != 0)
    LOG_WARN("the KEK rotation thread cannot lower its CPU priority to nice %d ([vault] rotation_nice): %s",
             st->nice, strerror(errno));
  else if (st->nice > 0)
    ctl_auditlog_thread_lowered(true);
  pthread_mutex_lock(&st->mu);
  for (;;) {
    while (!st->queued && !st->stopping) pthread_cond_wait(&st->cv, &st->mu);
    /* A job queued just before the stop still runs: it ends at its first
     * check, recorded and stored as interrupted. */
    if (st->queued) {
      st->queued = false;
      pthread_mutex_unlock(&st->mu);
      run_job(st);
      pthread_mutex_lock(&st->mu);
      continue;
    }
    if (st->stopping) break;
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

/* ---- the topic -------------------------------------------------------------- */

/* A job the store still holds as running was cut short by a crash or a
 * kill: it is marked interrupted and its end recorded. */
typedef struct leftover {
  lisec_ctl *ctl;
  json_t *ids;
} leftover;

static int find_running(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  leftover *l = ctx;
  json_t *doc = json_loads(body, 0, NULL);
  const char *state = json_string_value(json_object_get(doc, "state"));
  int rc = 0;
  if (state && strcmp(state, "running") == 0) rc = json_array_append_new(l->ids, json_string(id)) ? LISEC_ENOMEM : 0;
  json_decref(doc);
  return rc;
}

static int mark_interrupted(lisec_ctl *ctl, const char *id, lisec_err *err) {
  char *body = NULL;
  json_t *doc = NULL;
  int rc = store_doc_get(ctl->store, ROTATION_KIND, id, &body, NULL, err);
  if (!rc) rc = lisec_json_parse(body, strlen(body), &doc, err);
  free(body);
  if (rc) return rc;
  char ended[32];
  lisec_time_format(lisec_time_now(), ended);
  json_int_t written = json_integer_value(json_object_get(doc, "rewrapped"));
  json_object_set_new(doc, "state", json_string("interrupted"));
  json_object_set_new(doc, "ended_at", json_string(ended));
  json_object_set_new(doc, "error", json_string(ROTATION_REQ ": lisecd stopped during the KEK rotation; "
                                                "targets re-wrapped before it name their new KEK and stay "
                                                "readable, the others stay under the previous one; rotate "
                                                "again to finish"));
  char reason[ROTATION_ID_MAX + 96];
  snprintf(reason, sizeof reason, "job %s: interrupted by a stop of lisecd (at least %lld targets re-wrapped)",
           id, (long long)written);
  /* recorded as a failure (ctl_audit logs when even that cannot be) */
  lisec_err aerr = {0};
  (void)ctl_audit(ctl, &CONTROLLER, CTL_OUTCOME_FAILED, "target.rotate-kek", true, reason, LISEC_EUNAVAIL, NULL,
                  &aerr, "target %s", "*");
  char *text = lisec_json_dump_canonical(doc);
  rc = text ? store_doc_put(ctl->store, ROTATION_KIND, id, text, -1, NULL, err)
            : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  free(text);
  json_decref(doc);
  return rc;
}

/* [vault] rotation_chunk, rotation_rate, rotation_nice: the k-th of them
 * (0-2), its value in *v; the error names the setting and its bounds. */
static int rotation_setting(const lisec_config *cfg, int k, int64_t *v, lisec_err *err) {
  static const struct {
    const char *key;
    int64_t def, min, max;
  } S[] = {{"rotation_chunk", ROTATION_CHUNK_DEFAULT, 1, ROTATION_CHUNK_MAX},
           {"rotation_rate", 0, 0, ROTATION_RATE_MAX},
           {"rotation_nice", ROTATION_NICE_DEFAULT, 0, 19}};
  return lisec_config_int(cfg, "vault", S[k].key, S[k].def, S[k].min, S[k].max, v, err);
}

int ctl_vault_rotation_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx) {
  int problems = 0;
  for (int k = 0; k < 3; k++) {
    int64_t v = 0;
    lisec_err err = {0};
    if (rotation_setting(cfg, k, &v, &err) != 0) problems++, report(ctx, err.msg);
  }
  return problems;
}

int ctl_vault_rotation_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  int64_t chunk = 0, rate = 0, nice = 0, sessions = 0;
  keys_settings ks;
  int rc = rotation_setting(cfg, 0, &chunk, err);
  if (!rc) rc = rotation_setting(cfg, 1, &rate, err);
  if (!rc) rc = rotation_setting(cfg, 2, &nice, err);
  /* (the keys process checks them and names them; read here for the
   * lanes and their batches) */
  if (!rc)
    rc = lisec_config_int(cfg, "vault", "token_sessions", KEYS_VAULT_SESSIONS_DEFAULT, 1, KEYS_VAULT_SESSIONS_MAX,
                          &sessions, err);
  if (!rc) rc = keys_settings_parse(cfg, &ks, err);
  if (rc) return rc;
  struct ctl_rotation_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->mu, NULL);
  /* the pace's waits are durations (pace, test_pause): a wall clock
   * stepped back would stall a paced rotation for the step */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->cv, &ca);
  pthread_condattr_destroy(&ca);
  st->chunk = (size_t)chunk;
  st->rate = rate;
  st->nice = (int)nice;
  st->lanes = KEYS_ROTATION_LANES((size_t)sessions);
  st->batch = ks.max_batch;
  sh->rotation = st;
  lisec_ctl ctl = {.shared = sh, .store = s};
  leftover l = {&ctl, json_array()};
  if (!l.ids) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = store_doc_list(s, ROTATION_KIND, find_running, &l, err);
  for (size_t i = 0; !rc && i < json_array_size(l.ids); i++) {
    const char *id = json_string_value(json_array_get(l.ids, i));
    rc = mark_interrupted(&ctl, id, err);
    if (!rc) LOG_WARN("KEK rotation %s was interrupted by a stop of lisecd; every target stays readable; "
                      "rotate again to finish", id);
  }
  json_decref(l.ids);
  if (rc) lisec_err_wrap(err, "%s: cannot read the KEK rotations left running", ROTATION_REQ);
  return rc;
}

int ctl_vault_rotation_start(ctl_shared *sh, lisec_err *err) {
  struct ctl_rotation_state *st = sh->rotation;
  if (!st || st->started) return 0;
  lisec_ctl parent = {.shared = sh};
  int rc = ctl_open_worker(&parent, &st->ctx, err);
  if (rc) return rc;
  st->stopping = false;
  if ((rc = ctl_thread_start(&st->thread, rotation_main, st, "lisec-rotate", &st->ctx, err))) return rc;
  st->started = true;
  return 0;
}

void ctl_vault_rotation_stop(ctl_shared *sh) {
  struct ctl_rotation_state *st = sh->rotation;
  if (!st || !st->started) return;
  ctl_thread_stop(&st->mu, &st->cv, &st->stopping, st->thread, &st->ctx);
  st->started = false;
}

void ctl_vault_rotation_close(ctl_shared *sh) {
  struct ctl_rotation_state *st = sh->rotation;
  if (!st) return;
  ctl_vault_rotation_stop(sh);
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
  free(st);
  sh->rotation = NULL;
}

/* ---- the use cases ---------------------------------------------------------- */

static int need_kek(lisec_ctl *ctl, lisec_err *err) {
  return ctl->shared->keys && keys_client_info(ctl->shared->keys)->vault
             ? 0
             : lisec_err_set(err, LISEC_EUNAVAIL, "%s: no key-encryption key is configured ([vault]); "
                             "targets cannot be stored or read", ROTATION_REQ);
}

/* A rotation refused before its record (a bad body, the development key,
 * one running, the current key named): recorded sealed before the answer,
 * its reason led by TR103308-5.7 (ctl/targets.c), so every access to the
 * targets' keys leaves a record (TR 103 308 §5.2, §5.7). */
static int refused(lisec_ctl *ctl, const ctl_actor *actor, int rc, lisec_err *err) {
  return ctl_target_refused(ctl, actor, "target.rotate-kek", ROTATION_REQ, "*", rc, err);
}

int ctl_target_rotate_kek(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err) {
  const char *name = NULL;
  int rc;
  if ((rc = need_kek(ctl, err)) || (rc = lisec_json_only_keys(body, (const char *[]){"key_label", NULL}, err)) ||
      (rc = lisec_json_get_str(body, "key_label", true, KEYS_KEK_NAME_MAX, &name, err)))
    return refused(ctl, actor, rc, err);
  keys_client *keys = ctl->shared->keys;
  if (keys_client_info(keys)->vault_development)
    return refused(ctl, actor,
                   lisec_err_set(err, LISEC_EINVAL, "%s: the development key file cannot be rotated; "
                                 "KEK rotation needs a PKCS#11 token ([vault] pkcs11_module)", ROTATION_REQ),
                   err);
  if (!keys_kek_name_valid(name))
    return refused(ctl, actor,
                   lisec_err_set(err, LISEC_EINVAL, "key_label: 1 to %d letters, digits, '.', '_' or '-'",
                                 KEYS_KEK_NAME_MAX),
                   err);
  struct ctl_rotation_state *st = ctl->shared->rotation;
  if (!st || !st->started)
    return refused(ctl, actor,
                   lisec_err_set(err, LISEC_EUNAVAIL, "%s: the controller's rotation thread is not running",
                                 ROTATION_REQ),
                   err);
  /* Taken for the whole check-and-start, so two requests cannot both
   * start one; the token and store calls below are short (no re-wrap).
   * A refusal is recorded after the lock is let go: the rotation thread
   * takes it between targets and need not wait for the record's write. */
  pthread_mutex_lock(&st->mu);
  if (st->running || st->queued) {
    rc = lisec_err_set(err, LISEC_ECONFLICT, "%s: a KEK rotation is running (job %s, to \"%s\", %zu of %zu "
                       "targets re-wrapped); one rotation at a time: wait for it (GET "
                       "/v1/vault/rotate-kek/%s)", ROTATION_REQ, st->job.id, st->job.name, st->job.rewrapped,
                       st->job.targets, st->job.id);
    pthread_mutex_unlock(&st->mu);
    return refused(ctl, actor, rc, err);
  }
  job j = {.state = "running", .started_at = lisec_time_now()};
  snprintf(j.name, sizeof j.name, "%s", name);
  snprintf(j.subject, sizeof j.subject, "%s", actor->subject ? actor->subject : "");
  snprintf(j.role, sizeof j.role, "%s", actor->role ? actor->role : "");
  snprintf(j.id, sizeof j.id, "rot-%lld-%llu", (long long)lisec_time_now_ms(), (unsigned long long)++st->seq);
  rc = keys_vault_current_kek(keys, j.prev, j.prev_label, err);
  if (!rc && strcmp(j.prev, name) == 0)
    rc = lisec_err_set(err, LISEC_ECONFLICT, "\"%s\" is the current KEK already", name);
  if (rc) {
    pthread_mutex_unlock(&st->mu);
    return refused(ctl, actor, rc, err);
  }
  /* Recorded first; then the new key (generated in the token when absent)
   * becomes current, so writes from now on use it; the job is stored as
   * running (a crash leaves it so, and the next start marks it
   * interrupted), and the rotation thread takes it. */
  char reason[2 * KEYS_KEK_NAME_MAX + ROTATION_ID_MAX + 32];
  snprintf(reason, sizeof reason, "job %s from %s to %s", j.id, j.prev, name);
  bool recorded = !(rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "target.rotate-kek", true, reason, 0, NULL, err,
                                    "target %s", "*"));
  bool switched = false;
  if (!rc) switched = !(rc = keys_vault_use_kek(keys, name, true, err));
  if (!rc) rc = keys_vault_current_kek(keys, NULL, j.label, err);
  if (!rc) rc = job_save(ctl->store, &j, err);
  if (!rc) {
    /* The answer first: once queued, the job is the thread's. */
    if (!(*out = job_json(&j))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc) {
    st->job = j;
    st->running = st->queued = true;
    pthread_cond_broadcast(&st->cv);
  }
  pthread_mutex_unlock(&st->mu);
  if (rc && switched) (void)keys_vault_use_kek(keys, j.prev, false, NULL);
  if (rc && recorded) {
    lisec_err aerr = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "target.rotate-kek", true, reason, rc, NULL, &aerr,
                    "target %s", "*");
  }
  return rc;
}

static bool id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > ROTATION_ID_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-')) return false;
  return true;
}

int ctl_target_rotation(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
                        lisec_err *err) {
  (void)actor;
  if (!id_valid(id))
    return lisec_err_set(err, LISEC_ENOTFOUND, "no KEK rotation has this id (ids are rot-<digits>-<digits>)");
  struct ctl_rotation_state *st = ctl->shared->rotation;
  if (st) {
    pthread_mutex_lock(&st->mu);
    bool mine = strcmp(st->job.id, id) == 0;
    if (mine) *out = job_json(&st->job); /* with its progress */
    pthread_mutex_unlock(&st->mu);
    if (mine) return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  char *body = NULL;
  int rc = store_doc_get(ctl->store, ROTATION_KIND, id, &body, NULL, err);
  if (rc == LISEC_ENOTFOUND) return lisec_err_set(err, rc, "no KEK rotation %s", id);
  if (!rc) rc = lisec_json_parse(body, strlen(body), out, err);
  free(body);
  return rc;
}
