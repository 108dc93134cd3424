/* liblisec-events, the spool after the VM's counter went back
 * (docs/events.md "A counter that went back"): the VM's state file was
 * reset, or the VM restored from a snapshot, so the events it made since
 * took seqs lisecd had already; lisecd answers them as replays and would
 * never take them. The spool makes them again, in order, at seqs above
 * what lisecd has (taken from the state file first, durably), so they are
 * signed again by the VM's key when sent. Only the VM's key can sign what is
 * made here: an old signed event replayed by anyone else stays a replay.
 * An event made again at another seq must still fit what lisecd takes,
 * which the note checks at the longest seq (spool_sendable_any_seq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "events/libkey.h"
#include "events/spool.h"

int spool_event_at(const char *event, size_t len, uint64_t seq, char **out,
                   lisec_err *e) {
  json_t *j = NULL;
  ev_record r;
  *out = NULL;
  int rc = lisec_json_parse(event, len, &j, e);
  if (!rc)
    rc = ev_parse_record(json_object_get(j, "event"), &r, e);
  json_decref(j);
  if (rc)
    return rc;
  r.seq = seq;
  return ev_unsigned_text(&r, out, e);
}

int spool_sendable_any_seq(const char *event, lisec_err *e) {
  char *longest = NULL;
  int rc = spool_event_at(event, strlen(event), EV_SEQ_MAX, &longest, e);
  if (!rc)
    rc = spool_sendable(longest, e);
  free(longest);
  return rc;
}

/* The payload of rec made again at seq (an unsigned event, as
 * lisec_event_make makes it), encoded as a record. */
static int remake(const contents *c, const evsp_rec *rec, uint64_t seq,
                  char **out, size_t *out_len, lisec_err *e) {
  char *payload = NULL;
  uint64_t again = 0;
  int rc = spool_event_at((const char *)c->data + rec->payload_off,
                          rec->payload_len, seq, &payload, e);
  if (rc)
    return rc;
  rc = evsp_encode(payload, strlen(payload), out, out_len, &again, e);
  free(payload);
  return rc;
}

int spool_renumber(const lisec_event_spool *s, const char *state_path,
                   const char *vm, uint64_t floor, size_t *n,
                   uint64_t *old_from, uint64_t *old_to, uint64_t *from,
                   char err[LISEC_EVENT_ERR_MAX]) {
  *n = 0;
  *old_from = *old_to = *from = 0;
  int fd = -1;
  if (spool_lock_op(s, ".lock", LOCK_EX, &fd, err))
    return -1;
  contents c;
  int rc = spool_tidy(s, NULL, &c, err);
  const evsp_scan *sc = &c.scan;
  size_t mine = 0, cap = 1, at = 0;
  for (size_t i = 0; !rc && i < sc->n; i++) {
    cap += sc->rec[i].len + 1;
    if (strcmp(sc->rec[i].vm, vm) == 0) {
      if (!mine++)
        *old_from = sc->rec[i].seq;
      *old_to = sc->rec[i].seq;
    }
  }
  /* a record made again is at most EVSP_HEADER_MAX longer than it was */
  uint8_t *buf = rc || !mine ? NULL : malloc(cap + mine * EVSP_HEADER_MAX);
  unsigned long long first = 0;
  if (!rc && mine && !buf)
    rc = spool_fail(err, "out of memory");
  /* the seqs first, durably (a stop before the rewrite leaves them unused:
   * a gap at lisecd). From lisecd's last on: the seqs above it the state
   * gave were the spool's events made since the counter went back, each
   * made again here, and were only ever signed in batches lisecd refuses
   * for good (each held a seq at or below its last); so lisecd sees no gap
   * that is no loss. Not so when part of the file was not read (over
   * max_bytes): its events keep their seqs, so the new ones go above the
   * state's. */
  if (!rc && mine &&
      evk_seq_take(state_path, floor, mine, c.rest == 0, &first, err))
    rc = -1;
  for (size_t i = 0, k = 0; !rc && mine && i < sc->n; i++) {
    const evsp_rec *r = &sc->rec[i];
    if (strcmp(r->vm, vm) != 0) { /* not this VM's: kept as it is */
      size_t line = r->payload_off + r->payload_len - r->off;
      memcpy(buf + at, c.data + r->off, line);
      at += line;
      buf[at++] = '\n';
      continue;
    }
    char *rec = NULL;
    size_t len = 0;
    lisec_err e = {0};
    if (remake(&c, r, first + k++, &rec, &len, &e)) {
      rc = spool_fail(err, "%.160s: seq %llu cannot be made again: %.120s",
                      s->path, (unsigned long long)r->seq, e.msg);
      break;
    }
    memcpy(buf + at, rec, len); /* evsp_encode ends it with its newline */
    at += len;
    free(rec);
  }
  if (!rc && mine && spool_rewrite(s, buf, at, c.len, err))
    rc = -1;
  if (!rc) {
    *n = mine;
    *from = first;
  }
  free(buf);
  spool_contents_clear(&c);
  spool_unlock(fd);
  return rc ? -1 : 0;
}
