/* The full evaluation: every rule for every subject, from scratch, on
 * several threads (issue 22 item 7: < 1 s at 100k hosts / 2M VMs). Each
 * subject's violations depend only on the model, which no one changes
 * while it runs, and each lands in that subject's own list, so the subjects
 * are split into chunks that worker threads take in turn; the result (every
 * list, the total, the report model_compliance renders from them) is the
 * one a single thread computes, whichever thread took which chunk. The
 * only shared state a rule reads lazily is GEOS's (a jurisdiction's
 * prepared polygon): host_in_jur holds the model's GEOS lock around it.
 * Small models are evaluated on the caller's thread (starting threads
 * would cost more than it saves); model_set_eval_threads sets both limits.
 * No I/O: threads and memory only. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "model/internal.h"

/* Subjects per chunk: large enough that two threads rarely write
 * neighbouring subjects' lists (false sharing), small enough to balance. */
#define EVAL_CHUNK 4096u

typedef struct eval_run {
  model *m;
  uint32_t first[SK_COUNT + 1]; /* chunk number where each subject kind starts */
  atomic_uint next;             /* next chunk to take */
} eval_run;

typedef struct eval_worker {
  eval_run *run;
  size_t nviol;
  bool oom;
  pthread_t t;
  bool started;
} eval_worker;

static void eval_range(model *m, uint8_t sk, uint32_t from, uint32_t to, eval_worker *w) {
  for (uint32_t i = from; i < to; i++) {
    msubj *s = subj_of(m, sk, i);
    s->viol.n = 0;
    if (subj_alive(m, sk, i) && eval_subject(m, sk, i, &s->viol)) w->oom = true;
    w->nviol += s->viol.n;
  }
}

static void *eval_main(void *arg) {
  eval_worker *w = arg;
  eval_run *r = w->run;
  for (;;) {
    uint32_t c = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
    if (c >= r->first[SK_COUNT]) break;
    uint8_t sk = 0;
    while (c >= r->first[sk + 1]) sk++;
    uint32_t from = (c - r->first[sk]) * EVAL_CHUNK, n = subj_count(r->m, sk);
    uint32_t to = n - from > EVAL_CHUNK ? from + EVAL_CHUNK : n;
    eval_range(r->m, sk, from, to, w);
  }
  return NULL;
}

void model_set_eval_threads(model *m, unsigned threads, size_t min_subjects) {
  m->eval_threads = threads > MODEL_EVAL_THREADS_MAX ? MODEL_EVAL_THREADS_MAX : threads;
  m->eval_min = min_subjects;
}

static unsigned eval_threads(const model *m, size_t subjects) {
  if (subjects < m->eval_min) return 1;
  if (m->eval_threads) return m->eval_threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MODEL_EVAL_THREADS_MAX ? MODEL_EVAL_THREADS_MAX : (unsigned)n;
}

void model_evaluate_all(model *m) {
  eval_run r = {.m = m};
  size_t subjects = 0;
  for (uint8_t sk = 0; sk < SK_COUNT; sk++) {
    uint32_t n = subj_count(m, sk);
    subjects += n;
    r.first[sk + 1] = r.first[sk] + (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
  }
  atomic_init(&r.next, 0);
  unsigned nt = eval_threads(m, subjects);
  if (nt > r.first[SK_COUNT]) nt = r.first[SK_COUNT] ? r.first[SK_COUNT] : 1;
  eval_worker w[MODEL_EVAL_THREADS_MAX] = {0};
  /* The caller is worker 0; a thread that cannot start leaves its share
   * to the others, so the result is the same, only later. */
  for (unsigned k = 0; k < nt; k++) w[k].run = &r;
  for (unsigned k = 1; k < nt; k++) w[k].started = pthread_create(&w[k].t, NULL, eval_main, &w[k]) == 0;
  eval_main(&w[0]);
  m->nviol = 0;
  m->oom = false;
  for (unsigned k = 0; k < nt; k++) {
    if (k && w[k].started) pthread_join(w[k].t, NULL);
    m->nviol += w[k].nviol;
    m->oom |= w[k].oom;
  }
}
