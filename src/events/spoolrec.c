/* The event spool's records (spoolrec.h; docs/events.md "The spool"): the
 * one line a record is, and the reader that takes a spool file's bytes
 * apart into good records, bad ones (each with why) and a torn tail. The
 * reader trusts nothing it reads: each field is bounded and checked, the
 * payload must hash to the header's digest and be an event whose canonical
 * form is exactly its bytes, so what the library later signs and sends is
 * only ever what lisec_event_make made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "events/spoolrec.h"

#define MAGIC_LEN (sizeof EVSP_MAGIC - 1)

int evsp_payload_check(const char *payload, size_t len, uint64_t *seq,
                       char vm[EV_VM_MAX + 1], lisec_err *err) {
  if (len == 0 || len > EVSP_PAYLOAD_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "an event of 1 to %d bytes",
                         EVSP_PAYLOAD_MAX);
  if (memchr(payload, '\n', len) || memchr(payload, '\0', len))
    return lisec_err_set(err, LISEC_EINVAL,
                         "a newline or NUL inside the event");
  json_error_t je;
  json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
  json_t *e = json_object_get(j, "event");
  ev_record r;
  char *again = NULL;
  int rc = 0;
  if (!json_is_object(j) || json_object_size(j) != 1 || !e)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "not an unsigned event {\"event\": {...}}");
  else if (ev_parse_record(e, &r, err) != 0)
    rc = LISEC_EINVAL;
  else if (ev_unsigned_text(&r, &again, err) != 0)
    rc = -1;
  else if (strlen(again) != len || memcmp(again, payload, len) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "the event is not in its canonical form");
  if (!rc) {
    *seq = r.seq;
    if (vm)
      snprintf(vm, EV_VM_MAX + 1, "%s", r.vm);
  }
  free(again);
  json_decref(j);
  return rc;
}

int evsp_encode(const char *payload, size_t len, char **out, size_t *out_len,
                uint64_t *seq, lisec_err *err) {
  *out = NULL;
  int rc = evsp_payload_check(payload, len, seq, NULL, err);
  if (rc)
    return rc;
  uint8_t d[CRYPTO_SHA256_LEN];
  char hex[2 * CRYPTO_SHA256_LEN + 1];
  crypto_sha256(payload, len, d);
  lisec_hex_encode(d, sizeof d, hex);
  size_t cap = EVSP_HEADER_MAX + len + 2;
  if (!(*out = malloc(cap)))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int h = snprintf(*out, cap, EVSP_MAGIC "%llu %zu %s ",
                   (unsigned long long)*seq, len, hex);
  memcpy(*out + h, payload, len);
  (*out)[h + len] = '\n';
  *out_len = (size_t)h + len + 1;
  return 0;
}

/* A decimal field of 1 to max_digits digits, no leading zero, ended by a
 * space; *at moves past the space. */
static int decimal(const uint8_t *d, size_t len, size_t *at, int max_digits,
                   uint64_t *out) {
  size_t i = *at;
  uint64_t v = 0;
  int n = 0;
  while (i < len && d[i] >= '0' && d[i] <= '9' && n < max_digits)
    v = v * 10 + (uint64_t)(d[i++] - '0'), n++;
  if (n == 0 || (n > 1 && d[*at] == '0') || i >= len || d[i] != ' ')
    return -1;
  *at = i + 1;
  *out = v;
  return 0;
}

/* The record starting at p: 0 and *end (the payload's end) when good,
 * else -1 with why. */
static int record_at(const uint8_t *d, size_t len, size_t p, evsp_rec *r,
                     size_t *end, char why[96]) {
  size_t at = p;
  uint64_t seq = 0, plen = 0;
  if (len - p < MAGIC_LEN || memcmp(d + p, EVSP_MAGIC, MAGIC_LEN) != 0)
    return snprintf(why, 96, "not a spool record (no %.5s header)", EVSP_MAGIC),
           -1;
  at += MAGIC_LEN;
  if (decimal(d, len, &at, 16, &seq) || seq == 0 || seq > EV_SEQ_MAX)
    return snprintf(why, 96, "a bad seq field"), -1;
  if (decimal(d, len, &at, 4, &plen) || plen == 0 || plen > EVSP_PAYLOAD_MAX)
    return snprintf(why, 96, "a bad length field"), -1;
  uint8_t want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
  char hex[2 * CRYPTO_SHA256_LEN + 1];
  if (len - at < 2 * CRYPTO_SHA256_LEN + 1 ||
      d[at + 2 * CRYPTO_SHA256_LEN] != ' ')
    return snprintf(why, 96, "a bad checksum field"), -1;
  memcpy(hex, d + at, 2 * CRYPTO_SHA256_LEN);
  hex[2 * CRYPTO_SHA256_LEN] = '\0';
  for (size_t i = 0; i < 2 * CRYPTO_SHA256_LEN; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return snprintf(why, 96, "a bad checksum field"), -1;
  if (lisec_hex_decode(hex, want, sizeof want) != 0)
    return snprintf(why, 96, "a bad checksum field"), -1;
  at += 2 * CRYPTO_SHA256_LEN + 1;
  if (len - at < plen)
    return snprintf(why, 96, "cut short (%llu bytes of event announced)",
                    (unsigned long long)plen),
           -1;
  crypto_sha256(d + at, (size_t)plen, got);
  if (memcmp(want, got, sizeof got) != 0)
    return snprintf(why, 96, "corrupted (the checksum does not match)"), -1;
  lisec_err e = {0};
  uint64_t pseq = 0;
  if (evsp_payload_check((const char *)d + at, (size_t)plen, &pseq, r->vm,
                         &e) != 0)
    return snprintf(why, 96, "not an event: %.70s", e.msg), -1;
  if (pseq != seq)
    return snprintf(why, 96, "the header's seq is not the event's"), -1;
  r->off = p;
  r->seq = seq;
  r->payload_off = at;
  r->payload_len = (size_t)plen;
  *end = at + (size_t)plen;
  return 0;
}

static int push_bad(evsp_scan *s, size_t *cap, size_t off, size_t len,
                    const char *why, lisec_err *err) {
  /* right after another bad stretch: one stretch, so what is kept of bad
   * lines (and reported, and set aside) is bounded by the good records
   * between them, not by how many short lines a file holds */
  evsp_bad *prev = s->n_bad ? &s->bad[s->n_bad - 1] : NULL;
  if (prev && prev->off + prev->len == off) {
    const char *more = ", and the lines after it";
    if (!strstr(prev->why, more) &&
        strlen(prev->why) + strlen(more) < sizeof prev->why)
      strcat(prev->why, more);
    prev->len += len;
    return 0;
  }
  if (s->n_bad == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    evsp_bad *m = realloc(s->bad, nc * sizeof *m);
    if (!m)
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    s->bad = m;
    *cap = nc;
  }
  evsp_bad *b = &s->bad[s->n_bad++];
  b->off = off;
  b->len = len;
  snprintf(b->why, sizeof b->why, "%s", why);
  return 0;
}

/* The seqs of the good records found so far, an open-addressed set (0 is
 * an empty slot: no seq is 0), so telling a second record of one seq
 * costs the same whatever order the records are in. A search through the
 * records found cost a spool written out of order (a state file reset
 * under a long outage, a large max_events) time quadratic in its records:
 * 200,000 of them held the open 398 s. */
typedef struct seq_set {
  uint64_t *slot;
  size_t cap, n; /* cap: 0 or a power of two */
} seq_set;

static size_t slot_of(uint64_t seq, size_t cap) {
  return (size_t)((seq * 0x9e3779b97f4a7c15ull) >> 24) & (cap - 1);
}

static int seen(const seq_set *s, uint64_t seq) {
  for (size_t i = s->cap ? slot_of(seq, s->cap) : 0; s->cap;
       i = (i + 1) & (s->cap - 1)) {
    if (s->slot[i] == seq)
      return 1;
    if (s->slot[i] == 0)
      return 0;
  }
  return 0;
}

static void put(seq_set *s, uint64_t seq) {
  size_t i = slot_of(seq, s->cap);
  while (s->slot[i] != 0)
    i = (i + 1) & (s->cap - 1);
  s->slot[i] = seq;
  s->n++;
}

/* Adds seq (not in s), the set kept at most half full. */
static int remember(seq_set *s, uint64_t seq) {
  if (2 * (s->n + 1) > s->cap) {
    seq_set g = {calloc(s->cap ? 2 * s->cap : 64, sizeof *g.slot),
                 s->cap ? 2 * s->cap : 64, 0};
    if (!g.slot)
      return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slot[i])
        put(&g, s->slot[i]);
    free(s->slot);
    *s = g;
  }
  put(s, seq);
  return 0;
}

int evsp_scan_buf(const uint8_t *data, size_t len, evsp_scan *out,
                  lisec_err *err) {
  memset(out, 0, sizeof *out);
  out->torn_off = len;
  size_t cap = 0, bad_cap = 0, p = 0;
  seq_set seqs = {0};
  while (p < len) {
    const uint8_t *nl = memchr(data + p, '\n', len - p);
    evsp_rec r;
    size_t end = 0;
    char why[96];
    memset(&r, 0, sizeof r);
    if (record_at(data, len, p, &r, &end, why) == 0) {
      /* the newline after it, or whatever byte stands there if it was
       * damaged: the record is whole by its digest, the next starts after */
      r.len = end < len ? end + 1 - p : end - p;
      if (end == len)
        out->unterminated = 1;
      if (seen(&seqs, r.seq)) {
        char dup[96];
        snprintf(dup, sizeof dup, "a second record of seq %llu",
                 (unsigned long long)r.seq);
        if (push_bad(out, &bad_cap, p, r.len, dup, err))
          goto oom;
      } else {
        if (out->n == cap) {
          size_t nc = cap ? cap * 2 : 16;
          evsp_rec *m = realloc(out->rec, nc * sizeof *m);
          if (!m) {
            lisec_err_set(err, LISEC_ENOMEM, "out of memory");
            goto oom;
          }
          out->rec = m;
          cap = nc;
        }
        if (remember(&seqs, r.seq)) {
          lisec_err_set(err, LISEC_ENOMEM, "out of memory");
          goto oom;
        }
        out->rec[out->n++] = r;
      }
      p += r.len;
      continue;
    }
    if (!nl) { /* no newline to the end: what a writer killed mid-write leaves
                */
      out->torn_off = p;
      break;
    }
    if (push_bad(out, &bad_cap, p, (size_t)(nl - data) + 1 - p, why, err))
      goto oom;
    p = (size_t)(nl - data) + 1;
  }
  free(seqs.slot);
  return 0;
oom:
  free(seqs.slot);
  evsp_scan_clear(out);
  return LISEC_ENOMEM;
}

void evsp_scan_clear(evsp_scan *s) {
  if (!s)
    return;
  free(s->rec);
  free(s->bad);
  memset(s, 0, sizeof *s);
}
