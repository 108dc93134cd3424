/* The record format of the VM's event spool (docs/events.md "The spool"):
 * pure, no I/O, so the reader is unit-tested and fuzzed on its own. The
 * spool is one append-only file of text lines, one event a line:
 *   LSEV1 <seq> <len> <sha256> <payload>\n
 * seq decimal (1 to 2^53, no leading zero), len the payload's bytes
 * (decimal, 1 to EVSP_PAYLOAD_MAX), sha256 the payload's SHA-256 in 64
 * lowercase hex digits, and the payload the unsigned event exactly as
 * lisec_event_make makes it ({"event":{...}}, canonical, no newline). A
 * record is taken only when every part agrees: the header's form, the
 * digest, the payload parsed as an event and made again to the same
 * bytes, and its seq equal to the header's. Records are independent: a
 * bad one is reported and skipped, and reading goes on at the next line;
 * bytes after the last newline that are no whole record are a torn tail
 * (a writer killed mid-write), reported for truncation. */
#ifndef LISEC_EVENTS_SPOOLREC_H
#define LISEC_EVENTS_SPOOLREC_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "events/events.h"

#define EVSP_MAGIC "LSEV1 "
#define EVSP_PAYLOAD_MAX                                                       \
  8192 /* an event of 8 details of 256 bytes, escaped, fits */
/* header: magic, 16 digits of seq, 4 of len, 64 of digest, 3 spaces */
#define EVSP_HEADER_MAX (sizeof EVSP_MAGIC - 1 + 16 + 1 + 4 + 1 + 64 + 1)
#define EVSP_RECORD_MAX (EVSP_HEADER_MAX + EVSP_PAYLOAD_MAX + 1)

/* One good record: where it is in the buffer (off, len: the line with its
 * newline, or without it for a last record whose newline is missing), its
 * seq and VM, and its payload (inside the buffer, not NUL-ended). */
typedef struct evsp_rec {
  size_t off, len;
  uint64_t seq;
  char vm[EV_VM_MAX + 1];
  size_t payload_off, payload_len;
} evsp_rec;

/* One bad stretch of the buffer: what was wrong with it. */
typedef struct evsp_bad {
  size_t off, len;
  char why[96];
} evsp_bad;

typedef struct evsp_scan {
  evsp_rec *rec; /* in the order found */
  size_t n;
  evsp_bad *bad; /* corrupted or duplicate records, in the order found */
  size_t n_bad;
  size_t torn_off;  /* where a torn tail starts; the buffer's length when there
                       is none */
  int unterminated; /* the last record is whole but its newline is missing */
} evsp_scan;

/* Reads every record of data[0..len). Fails only for memory (ENOMEM);
 * whatever the bytes, the rest is in *out. A record whose seq was seen
 * already in the buffer is bad (a second record of one seq). */
int evsp_scan_buf(const uint8_t *data, size_t len, evsp_scan *out,
                  lisec_err *err);
void evsp_scan_clear(evsp_scan *s);

/* Checks a payload (an unsigned event as lisec_event_make makes it, its
 * bytes exactly the canonical ones) and gives its seq and VM (vm may be
 * NULL). EINVAL naming what is wrong. */
int evsp_payload_check(const char *payload, size_t len, uint64_t *seq,
                       char vm[EV_VM_MAX + 1], lisec_err *err);

/* The record of a payload (checked as above): *out malloc'd, *out_len its
 * bytes with the newline; *seq the payload's seq. */
int evsp_encode(const char *payload, size_t len, char **out, size_t *out_len,
                uint64_t *seq, lisec_err *err);

#endif
