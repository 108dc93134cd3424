/* liblisec-events, sending the spool (include/lisec/events.h; docs/events.md
 * "The spool"): one sender at a time (FILE.send.lock) sends the spool's
 * events to lisecd in signed batches, in seq order, and takes out of the
 * file only what lisecd answered 201 for; a replay answer, a batch lisecd
 * will never take and a spool another sender is sending are handled as
 * docs/events.md's answers table says. The file's reads and rewrites are
 * libspool.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "events/libsend.h"
#include "events/spool.h"

#define BATCH_MAX 16 /* lisecd's [events] max_batch ceiling */
#define CONFLICT_TRIES 3

/* lisecd's last accepted seq from its replay answer: its error's
 * last_seq field (field >= 0), else the message ("TR103308-4.1: replayed
 * event: seq S is at or below the last accepted (L)", as lisecd before
 * the field answers). */
static int replay_last(long long field, const char *msg, uint64_t *last) {
  if (field >= 0 && (unsigned long long)field <= EV_SEQ_MAX) {
    *last = (uint64_t)field;
    return 0;
  }
  const char *r = strstr(msg, "TR103308-4.1: replayed event: seq ");
  const char *at = r ? strstr(r, "at or below the last accepted (") : NULL;
  if (!at)
    return -1;
  at += strlen("at or below the last accepted (");
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(at, &end, 10);
  if (errno || end == at || *end != ')' || v > EV_SEQ_MAX)
    return -1;
  *last = v;
  return 0;
}

/* The next batch: up to max records from the i-th, of its VM, up to one
 * that no signed batch can carry (spool_sendable: queued by a library
 * that did not check, or by another writer); *unfit says why when that is
 * the i-th itself (0 returned). */
static size_t pick(const contents *c, size_t i, size_t max, char **events,
                   char unfit[LISEC_EVENT_ERR_MAX]) {
  const evsp_scan *sc = &c->scan;
  size_t k = 0;
  unfit[0] = '\0';
  for (; i + k < sc->n && k < max; k++) {
    const evsp_rec *r = &sc->rec[i + k];
    lisec_err e = {0};
    if (strcmp(r->vm, sc->rec[i].vm) != 0)
      break;
    if (!(events[k] =
              strndup((const char *)c->data + r->payload_off, r->payload_len)))
      break;
    int rc = spool_sendable(events[k], &e);
    if (rc == LISEC_EINVAL || rc == LISEC_ETOOBIG) {
      free(events[k]);
      events[k] = NULL;
      if (k == 0)
        snprintf(unfit, LISEC_EVENT_ERR_MAX, "%.200s", e.msg);
      break;
    }
  }
  return k;
}

/* Takes out of the spool (one rewrite under FILE.lock) the events of vm
 * lisecd took or that were set aside. */
static int remove_taken(const lisec_event_spool *s, const char *vm,
                        uint64_t *seqs, size_t n,
                        char err[LISEC_EVENT_ERR_MAX]) {
  if (n == 0)
    return 0;
  qsort(seqs, n, sizeof *seqs, spool_cmp_u64);
  drop_set d = {vm, seqs, n};
  contents after;
  int rc = spool_tidy_locked(s, &d, &after, err);
  spool_contents_clear(&after);
  return rc;
}

/* The one event ev (len bytes), signed as a batch and sent, lisecd's
 * answer in *st and *same (error.last_same); seq (not 0): made again at
 * that seq first. 0 sent and answered, -1 not; 1 not sent: made again at
 * seq it is over what lisecd takes (an event queued before the note
 * checked it at the longest seq). */
static int probe(const lisec_event_key *k, lisec_event_client *cl,
                 const char *ev, size_t len, uint64_t seq, long *st, int *same,
                 char err[LISEC_EVENT_ERR_MAX]) {
  char *one = NULL, *body = NULL;
  long long field = -1;
  lisec_err e = {0};
  *st = 0, *same = -1;
  int rc = 0;
  if (!seq && !(one = strndup(ev, len)))
    rc = LISEC_ENOMEM;
  else if (seq && !(rc = spool_event_at(ev, len, seq, &one, &e))) {
    rc = spool_sendable(one, &e);
    if (rc == LISEC_EINVAL || rc == LISEC_ETOOBIG) {
      free(one);
      return 1;
    }
  }
  if (rc) {
    free(one);
    return spool_fail(err, "%.200s", e.msg[0] ? e.msg : "out of memory");
  }
  const char *list = one;
  if (lisec_event_sign_batch(k, &list, 1, &body, err) == 0)
    evs_send_body(cl, body, st, &field, same, err);
  free(one);
  free(body);
  return *st ? 0 : -1;
}

/* lisecd answered a replay (it has seqs up to last, at or above the
 * i-th's; same: its last_same for the batch sent). Whether the VM's
 * counter went back: 1 it did, 0 the events were taken before (a stop
 * between lisecd's 201 and their removal) or it cannot be told, -1
 * lisecd not reached (the round stops). Sent in seq order from this one
 * spool, the events lisecd took and the spool still holds always include
 * the one at last, the one it took last: so the spool's event at last
 * being another than lisecd's, or none at last while the spool holds
 * lower ones, means the seqs were taken again. The event at last is
 * looked for in the whole file, not only in what this round read: a spool
 * over this sender's read bound (filled by a sender with a larger
 * max_bytes) holds it past that, and not finding it there would be taken
 * for a counter gone back. With none at last the VM's key signs one of its
 * events (the i-th, else the first after it that fits) at last and sends
 * it, refused as a replay but seen by lisecd as another event at a seq it
 * had: so lisecd records that the counter went back (docs/events.md). */
static int went_back(const lisec_event_spool *s, const lisec_event_key *k,
                     lisec_event_client *cl, const contents *c, size_t i,
                     uint64_t last, int same, char err[LISEC_EVENT_ERR_MAX]) {
  const evsp_scan *sc = &c->scan;
  const char *vm = sc->rec[i].vm;
  if (same >= 0) /* the batch held the event at last */
    return !same;
  size_t j = i;
  while (j < sc->n && strcmp(sc->rec[j].vm, vm) == 0 && sc->rec[j].seq < last)
    j++;
  long st = 0;
  if (j < sc->n && strcmp(sc->rec[j].vm, vm) == 0 && sc->rec[j].seq == last)
    return probe(k, cl, (const char *)c->data + sc->rec[j].payload_off,
                 sc->rec[j].payload_len, 0, &st, &same, err) ||
                   st != 409
               ? -1
               : same == 0;
  char *at_last = NULL;
  int found = spool_find_seq(s, vm, last, &at_last, err);
  if (found > 0) {
    int rc = probe(k, cl, at_last, strlen(at_last), 0, &st, &same, err);
    free(at_last);
    return rc || st != 409 ? -1 : same == 0;
  }
  if (found < 0)
    return -1;
  for (j = i; j < sc->n && strcmp(sc->rec[j].vm, vm) == 0; j++) {
    int rc = probe(k, cl, (const char *)c->data + sc->rec[j].payload_off,
                   sc->rec[j].payload_len, last, &st, &same, err);
    if (rc < 0 || (rc == 0 && st != 409))
      return -1;
    if (rc == 0)
      return 1;
  }
  spool_say(s,
            "TR103308-4.1: %.160s: none of the spool's events fits what "
            "lisecd takes at seq %llu (queued before the spool checked them "
            "at the longest seq): lisecd is not shown that the VM's event "
            "counter went back",
            s->path, (unsigned long long)last);
  return 1;
}

#define REMOVE_EVERY                                                           \
  256 /* events taken before the spool is rewritten without them */
#define ROUNDS 16

/* One round over what the spool holds now (c, in seq order): batches sent
 * in order until lisecd stops taking them; what it took is removed every
 * REMOVE_EVERY events and at the end. 1: the round went through all of
 * them; 0: stopped (err says why); -1: the spool could not be changed. */
static int round_once(const lisec_event_spool *s, const char *state,
                      const lisec_event_key *k, lisec_event_client *cl,
                      const contents *c, size_t *batch, size_t *taken,
                      long *status, char err[LISEC_EVENT_ERR_MAX]) {
  const evsp_scan *sc = &c->scan;
  char vm[EV_VM_MAX + 1] = "";
  uint64_t *gone = calloc(sc->n ? sc->n : 1, sizeof *gone);
  size_t n_gone = 0, i = 0, pending = 0;
  int conflicts = 0, out = 1, back = 0;
  if (!gone)
    return spool_fail(err, "out of memory"), -1;
  while (i < sc->n) {
    char *events[BATCH_MAX] = {0}, *body = NULL;
    long st = 0;
    long long field = -1;
    int same = -1;
    uint64_t last = 0;
    if (strcmp(vm, sc->rec[i].vm) !=
        0) { /* another VM's events (one spool per VM is the rule) */
      if (remove_taken(s, vm, gone, n_gone, err)) {
        out = -1;
        break;
      }
      n_gone = pending = 0;
      snprintf(vm, sizeof vm, "%s", sc->rec[i].vm);
    }
    char unfit[LISEC_EVENT_ERR_MAX];
    size_t n = pick(c, i, *batch, events, unfit);
    int ok = -1;
    if (n == 0 && !unfit[0])
      spool_fail(err, "out of memory");
    else if (n == 0)
      ; /* the i-th is set aside below */
    else if (lisec_event_sign_batch(k, (const char *const *)events, n, &body,
                                    err) == 0)
      ok = evs_send_body(cl, body, &st, &field, &same, err);
    for (size_t j = 0; j < n; j++)
      free(events[j]);
    free(body);
    if (status)
      *status = st;
    if (n > 0 && ok == 0) { /* 201: recorded durably */
      for (size_t j = 0; j < n; j++)
        gone[n_gone++] = sc->rec[i + j].seq;
      i += n, *taken += n, pending += n;
    } else if (n == 0 && unfit[0]) {
      /* lisecd could never take it: the events after it still go */
      char note[LISEC_EVENT_ERR_MAX + 16];
      snprintf(note, sizeof note, "# cannot be sent: %.200s\n", unfit);
      spool_set_aside(s, ".rejected", note, c->data + sc->rec[i].off,
                      sc->rec[i].len);
      spool_say(s,
                "TR103308-4.1: %.160s: seq %llu cannot be sent, lisecd takes "
                "events of at most %d bytes as recorded (%.120s): set aside "
                "in %.160s.rejected",
                s->path, (unsigned long long)sc->rec[i].seq, EV_EVENT_CEILING,
                unfit, s->path);
      gone[n_gone++] = sc->rec[i].seq;
      i++, pending++;
    } else if (st == 409 && replay_last(field, err, &last) == 0 &&
               last >= sc->rec[i].seq && state &&
               (back = went_back(s, k, cl, c, i, last, same, err)) != 0) {
      /* the VM's counter went back: its events made again above lisecd's
       * last, once what lisecd took in this round left the spool */
      size_t nr = 0;
      uint64_t a = 0, b = 0, from = 0;
      if (back < 0) {
        out = 0; /* lisecd not reached: kept for the next flush */
        break;
      }
      if (remove_taken(s, vm, gone, n_gone, err) ||
          spool_renumber(s, state, vm, last, &nr, &a, &b, &from, err)) {
        n_gone = 0;
        out = -1;
        break;
      }
      n_gone = pending = 0;
      if (nr)
        spool_say(
            s,
            "TR103308-4.1: %.160s: the VM's event counter went back (its "
            "state file reset, or the VM restored from a snapshot): lisecd "
            "has seqs up to %llu and other events there; %zu event(s), seq "
            "%llu to %llu made again at seq %llu to %llu, in the same order, "
            "signed and sent again (lisecd records that the counter went "
            "back)",
            s->path, (unsigned long long)last, nr, (unsigned long long)a,
            (unsigned long long)b, (unsigned long long)from,
            (unsigned long long)(from + nr - 1));
      break; /* the next round reads the spool made again */
    } else if (st == 409 && replay_last(field, err, &last) == 0 &&
               last >= sc->rec[i].seq) {
      /* lisecd can never take them: either it took them before (sent
       * again after a stop between its 201 and their removal) or they were
       * made at seqs it had already (the state file reset, or restored
       * with the VM from a snapshot: other events, lost if only dropped).
       * The spool cannot tell which: they leave it, kept in FILE.rejected */
      size_t was = i;
      char note[96];
      snprintf(note, sizeof note,
               "# lisecd has seqs up to %llu: taken before, or a reused seq\n",
               (unsigned long long)last);
      while (i < sc->n && strcmp(sc->rec[i].vm, vm) == 0 &&
             sc->rec[i].seq <= last) {
        spool_set_aside(s, ".rejected", note, c->data + sc->rec[i].off,
                        sc->rec[i].len);
        gone[n_gone++] = sc->rec[i++].seq; /* by seq: one noted meanwhile at a
                                              seq at or below last stays */
      }
      pending += i - was;
      spool_say(
          s,
          "TR103308-4.1: %.160s: seq %llu to %llu refused by lisecd as "
          "replays (it has seqs up to %llu): removed, not sent again; taken "
          "by it before (a stop between its answer and their removal), or "
          "made at seqs it had (the state file reset or restored: never "
          "taken): set aside in %.160s.rejected",
          s->path, (unsigned long long)sc->rec[was].seq,
          (unsigned long long)sc->rec[i - 1].seq, (unsigned long long)last,
          s->path);
    } else if (st == 409 && conflicts < CONFLICT_TRIES) {
      conflicts++; /* lisecd: the VM's sequence changed meanwhile; send again */
    } else if ((st == 413 || st == 400) && n > 1) {
      *batch = n / 2; /* lisecd's [events] max_batch is lower, or one event is
                         bad: find it */
    } else if ((st == 413 || st == 400) && n == 1) {
      char note[LISEC_EVENT_ERR_MAX + 16];
      snprintf(note, sizeof note, "# %s\n", err);
      spool_set_aside(s, ".rejected", note, c->data + sc->rec[i].off,
                      sc->rec[i].len);
      spool_say(
          s,
          "TR103308-4.1: %.160s: seq %llu refused by lisecd for good (%.200s): "
          "set aside in %.160s.rejected",
          s->path, (unsigned long long)sc->rec[i].seq, err, s->path);
      gone[n_gone++] = sc->rec[i].seq;
      i++, pending++;
    } else {
      out = 0; /* lisecd not reached, or refusing the VM: kept for the next
                  flush */
      break;
    }
    if (pending >= REMOVE_EVERY) {
      if (remove_taken(s, vm, gone, n_gone, err)) {
        out = -1;
        break;
      }
      n_gone = pending = 0;
    }
  }
  char e2[LISEC_EVENT_ERR_MAX] = "";
  if (out >= 0 && remove_taken(s, vm, gone, n_gone, e2)) {
    if (out)
      snprintf(err, LISEC_EVENT_ERR_MAX, "%s", e2);
    else
      spool_say(s, "%s", e2); /* err keeps lisecd's answer */
    out = -1;
  }
  free(gone);
  return out;
}

int lisec_event_spool_flush(lisec_event_spool *s, const lisec_event_key *k,
                            lisec_event_client *cl, size_t max_batch,
                            size_t *sent, long *status,
                            char err[LISEC_EVENT_ERR_MAX]) {
  return lisec_event_spool_flush_state(s, NULL, k, cl, max_batch, sent, status,
                                       err);
}

int lisec_event_spool_flush_state(lisec_event_spool *s, const char *state_path,
                                  const lisec_event_key *k,
                                  lisec_event_client *cl, size_t max_batch,
                                  size_t *sent, long *status,
                                  char err[LISEC_EVENT_ERR_MAX]) {
  if (sent)
    *sent = 0;
  if (status)
    *status = 0;
  err[0] = '\0';
  if (!s || !k || !cl)
    return spool_fail(err, "a spool, a key and a client are required");
  size_t batch =
             max_batch == 0 || max_batch > BATCH_MAX ? BATCH_MAX : max_batch,
         taken = 0;
  int send_fd = -1, rc = -1;
  /* another flush sending this spool: not waited for (it may take as long
   * as lisecd is slow); it sends what is queued, and so does the next */
  if (spool_lock_op(s, ".send.lock", LOCK_EX | LOCK_NB, &send_fd, err))
    return errno == EWOULDBLOCK
               ? spool_fail(err,
                            "another flush is sending the spool %.160s "
                            "(FILE.send.lock): the events stay queued for it",
                            s->path)
               : -1;
  /* each round goes through the spool as it was; events noted meanwhile
   * are in the next; bounded, and what is left waits for the next flush */
  for (int r = 0; r < ROUNDS; r++) {
    contents c;
    if (spool_tidy_locked(s, NULL, &c, err))
      break;
    if (c.scan.n == 0) {
      spool_contents_clear(&c);
      rc = 0;
      break;
    }
    int done =
        round_once(s, state_path, k, cl, &c, &batch, &taken, status, err);
    spool_contents_clear(&c);
    if (done <= 0)
      break;
    if (r == ROUNDS - 1)
      spool_fail(err,
                 "events are left in the spool (noted faster than sent); the "
                 "next flush sends them");
  }
  spool_unlock(send_fd);
  if (sent)
    *sent = taken;
  return rc;
}
