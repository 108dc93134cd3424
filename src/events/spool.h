/* liblisec-events, the spool's parts shared by its two files (not
 * exported): the spool's file, its locks, reads and rewrites
 * (libspool.c), and sending it to lisecd (libspool_send.c). */
#ifndef LISEC_EVENTS_SPOOL_H
#define LISEC_EVENTS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "events/spoolrec.h"
#include "lisec/events.h"

struct lisec_event_spool {
  char *path;
  size_t max_events, max_bytes;
  lisec_event_spool_report_fn report;
  void *ctx;
};

/* What a rewrite leaves out besides bad records: vm's events whose seq is
 * in seqs (sorted). */
typedef struct drop_set {
  const char *vm;
  const uint64_t *seqs;
  size_t n;
} drop_set;

/* The spool's bytes and its records, as one read found them: data holds
 * the file's first len bytes; rest bytes after them were not read (a file
 * over the read bound: max_bytes and one record), a rewrite copies them
 * as they are. */
typedef struct contents {
  uint8_t *data;
  size_t len, rest;
  evsp_scan scan;
} contents;

/* err (when not NULL) says why; -1. */
int spool_fail(char err[LISEC_EVENT_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Tells the spool's report function, else standard error. */
void spool_say(const lisec_event_spool *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void spool_contents_clear(contents *c);
/* An exclusive flock on path+suffix (op: LOCK_EX, or with LOCK_NB not to
 * wait: EWOULDBLOCK); *fd to give to spool_unlock. */
int spool_lock_op(const lisec_event_spool *s, const char *suffix, int op,
                  int *fd, char err[LISEC_EVENT_ERR_MAX]);
void spool_unlock(int fd);
/* Reads the spool under FILE.lock into *c, bad records set aside, and
 * rewrites it without them and without drop's events (drop may be NULL). */
int spool_tidy_locked(const lisec_event_spool *s, const drop_set *drop,
                      contents *c, char err[LISEC_EVENT_ERR_MAX]);
/* Appends what the spool cannot keep to path+suffix (0600, fsync). */
void spool_set_aside(const lisec_event_spool *s, const char *suffix,
                     const char *note, const void *data, size_t len);
/* spool_tidy_locked's work, the caller holding FILE.lock. */
int spool_tidy(const lisec_event_spool *s, const drop_set *drop, contents *c,
               char err[LISEC_EVENT_ERR_MAX]);
/* Under FILE.lock: replaces the spool by head[0..len) and the file's bytes
 * from byte from on, durably (temporary file, fsync, rename). */
int spool_rewrite(const lisec_event_spool *s, const uint8_t *head, size_t len,
                  size_t from, char err[LISEC_EVENT_ERR_MAX]);
/* After lisecd showed that the VM's counter went back (it has seqs up to
 * floor, and the spool's event at floor is not the one it has, or the
 * spool has none there): under FILE.lock, every event of vm the spool
 * holds, in order, made again at seqs taken from state_path from floor + 1
 * on (above the state's when part of the file was not read; the state
 * first, durably; then the spool rewritten). *n events, from seq
 * *old_from..*old_to to *from on. */
int spool_renumber(const lisec_event_spool *s, const char *state_path,
                   const char *vm, uint64_t floor, size_t *n,
                   uint64_t *old_from, uint64_t *old_to, uint64_t *from,
                   char err[LISEC_EVENT_ERR_MAX]);
int spool_cmp_u64(const void *a, const void *b);
/* 0 when an unsigned event fits a signed batch lisecd can take (each of
 * its events at most EV_EVENT_CEILING bytes as recorded), as
 * lisec_event_sign_batch checks it; else EINVAL or ETOOBIG with why (an
 * event that can never be sent), or ENOMEM. */
int spool_sendable(const char *event, lisec_err *e);
/* An unsigned event (as lisec_event_make makes it, len bytes) made again
 * at seq: its fields as they are, the new seq; *out malloc'd. */
int spool_event_at(const char *event, size_t len, uint64_t seq, char **out,
                   lisec_err *e);
/* As spool_sendable, for the event made again at the longest seq there is
 * (EV_SEQ_MAX, 16 digits): 0 when it fits at every seq the spool may give
 * it (a renumbering after the VM's counter went back, the probe that shows
 * lisecd so), so an event the spool takes can always be signed and sent. */
int spool_sendable_any_seq(const char *event, lisec_err *e);
/* Looks through the whole spool file (a window of a few records at a time,
 * whatever max_bytes says) for a good record of vm at seq: 1 and *payload
 * (its event, malloc'd, NUL-ended) when found, 0 when not, -1 when the
 * spool cannot be read (err). */
int spool_find_seq(const lisec_event_spool *s, const char *vm, uint64_t seq,
                   char **payload, char err[LISEC_EVENT_ERR_MAX]);

#endif
