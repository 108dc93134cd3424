/* liblisec-events, the spool after the VM's counter went back
 * (docs/events.md "A counter that went back"): the VM's state file was
 * reset, or the VM restored from a snapshot, so the events it made since
 * took seqs lisecd had already; lisecd answers them as replays and would
 * never take them. The spool makes them again, in order, at seqs above
 * what lisecd has (taken from the state file first, durably), so they are
 * signed again by the VM's key when sent. Only the VM's key can sign what is
 * made here: an old signed event replayed by anyone else stays a replay.
 * Telling the two apart needs the spool's event at lisecd's last seq,
 * looked for in the whole file whatever part a read of it takes
 * (spool_find_seq), and an event made again at another seq must still fit
 * what lisecd takes, which the note checks at the longest seq
 * (spool_sendable_any_seq). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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

/* The window spool_find_seq reads at once: a few records, whatever
 * max_bytes is. */
#define FIND_WINDOW (8 * EVSP_RECORD_MAX)

/* The good record of vm at seq among those a window's bytes hold (read
 * as the spool's reader reads them); its payload then in *payload. */
static int match_in(const uint8_t *d, size_t len, const char *vm, uint64_t seq,
                    char **payload) {
  evsp_scan sc;
  lisec_err e = {0};
  int found = 0;
  if (evsp_scan_buf(d, len, &sc, &e))
    return -1;
  for (size_t i = 0; i < sc.n && !found; i++)
    if (sc.rec[i].seq == seq && strcmp(sc.rec[i].vm, vm) == 0) {
      *payload = strndup((const char *)d + sc.rec[i].payload_off,
                         sc.rec[i].payload_len);
      found = *payload ? 1 : -1;
    }
  evsp_scan_clear(&sc);
  return found;
}

int spool_find_seq(const lisec_event_spool *s, const char *vm, uint64_t seq,
                   char **payload, char err[LISEC_EVENT_ERR_MAX]) {
  char prefix[48];
  int plen = snprintf(prefix, sizeof prefix, EVSP_MAGIC "%llu ",
                      (unsigned long long)seq);
  *payload = NULL;
  /* one open file read through: a rewrite renames another file in and
   * leaves this one as it was, so no lock is needed for a consistent read */
  int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return spool_fail(err, "%.160s: cannot read the spool (%.60s)", s->path,
                      strerror(errno));
  uint8_t *buf = malloc(FIND_WINDOW);
  size_t have = 0;
  int found = buf ? 0 : -1, eof = 0, skip = 0;
  while (!found && !eof) {
    ssize_t n = read(fd, buf + have, FIND_WINDOW - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      found = -1;
      break;
    }
    have += (size_t)n;
    eof = n == 0;
    if (!eof && have < FIND_WINDOW)
      continue; /* the window filled first */
    /* whole lines only (a record is at most EVSP_RECORD_MAX, a few to a
     * window), but for the file's last, whose newline may be missing */
    const uint8_t *nl = have ? memrchr(buf, '\n', have) : NULL;
    size_t cut = eof ? have : nl ? (size_t)(nl - buf) + 1 : 0;
    size_t end = cut ? cut : have, from = 0; /* no newline: the window */
    if (skip) { /* the rest of a line longer than a window: no record */
      const uint8_t *e = memchr(buf, '\n', end);
      from = e ? (size_t)(e - buf) + 1 : end;
    }
    /* most windows do not hold the header: only those are read as records
     * (as the spool's reader reads them: a record whole by its length is
     * taken even where its newline was damaged) */
    if (from < end && memmem(buf + from, end - from, prefix, (size_t)plen))
      found = match_in(buf + from, end - from, vm, seq, payload);
    skip = cut == 0; /* the next window begins inside a line */
    if (cut == 0)
      cut = have;
    memmove(buf, buf + cut, have - cut);
    have -= cut;
  }
  close(fd);
  free(buf);
  if (found < 0)
    return spool_fail(err, "%.160s: cannot read the spool", s->path);
  return found;
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
