/* What a VM sends in one request (events.h): one signed event or a batch
 * of its own events, bounded by [events] max_event and max_batch, and the
 * sequence rules that decide the batch against the VM's last accepted seq:
 * a seq at or below it is a replay, a batch whose seqs do not rise is out
 * of order (both refused whole), a skipped number is a gap (accepted, a
 * finding: events may have been lost or withheld). A body with "batch" is
 * a signed batch (signed_batch.c). */
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

void ev_batch_clear(ev_batch *b) {
  if (!b) return;
  for (size_t i = 0; b->ev && i < b->n; i++) ev_signed_clear(&b->ev[i]);
  free(b->ev);
  free(b->statement);
  free(b->claimed);
  free(b->sig);
  free(b->sig_b64);
  memset(b, 0, sizeof *b);
}

int ev_batch_parse(const json_t *body, const ev_limits *lim, ev_batch *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(body))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a signed event or {\"events\": [...]} is required");
  if (json_object_get(body, "batch")) return ev_signed_batch_parse(body, lim, out, err);
  const json_t *list = json_object_get(body, "events");
  size_t n = 1;
  out->form = 1;
  if (list) {
    if (json_object_size(body) != 1 || !json_is_array(list) || json_array_size(list) == 0)
      return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a batch is {\"events\": [1 or more signed events]}");
    n = json_array_size(list);
    if (n > lim->max_batch)
      return lisec_err_set(err, LISEC_ETOOBIG, "TR103308-4.1: batch of %zu events over the limit of %zu ([events] max_batch)",
                           n, lim->max_batch);
  }
  out->ev = calloc(n, sizeof *out->ev);
  if (!out->ev) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    int rc = ev_parse(list ? json_array_get(list, i) : body, lim->max_event, &out->ev[i], err);
    if (!rc && i > 0 && strcmp(out->ev[i].rec.vm, out->ev[0].rec.vm) != 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a batch holds one VM's events");
    out->n = i + 1;
    if (rc) {
      if (list) lisec_err_wrap(err, "event %zu of the batch", i);
      ev_batch_clear(out);
      return rc;
    }
  }
  return 0;
}

int ev_batch_verify(const ev_batch *b, EVP_PKEY *key, lisec_err *err) {
  if (b->form != 2) {
    for (size_t i = 0; i < b->n; i++) {
      int rc = ev_verify(&b->ev[i], key, err);
      if (rc) return rc;
    }
    return 0;
  }
  return ev_signed_batch_verify(b, key, err);
}

int ev_seq_check(uint64_t last, const ev_batch *b, ev_seq_verdict *v, lisec_err *err) {
  memset(v, 0, sizeof *v);
  uint64_t prev = last;
  for (size_t i = 0; i < b->n; i++) {
    uint64_t s = b->ev[i].rec.seq;
    if (s <= last) {
      v->replayed = 1;
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "TR103308-4.1: replayed event: seq %llu is at or below the last accepted "
                           "(%llu)",
                           (unsigned long long)s, (unsigned long long)last);
    }
    if (s <= prev)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "TR103308-4.1: events out of order: seq %llu after %llu in one batch",
                           (unsigned long long)s, (unsigned long long)prev);
    if (s != prev + 1 && v->gaps++ == 0) {
      v->expected = prev + 1;
      v->got = s;
    }
    prev = s;
  }
  v->last = prev;
  return 0;
}
