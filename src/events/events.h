/* Signed events from LI VMs (TR 103 308 §4.1 "any events on the LI VMs are
 * logged, and only the LI administration can read those logs"; O.1.4 actions
 * recorded and validated from the platform). Pure: the event record, its one
 * canonical byte string, its signature by the VM's own key, the bounded
 * parse of what a VM sends (one signed event or a batch of one VM's events)
 * and the sequence rules (replay and out-of-order refused, a gap accepted
 * but a finding). The VM side (include/lisec/events.h) and lisecd's intake
 * (ctl/events.c) both build the canonical bytes here, so they cannot differ.
 * Formats in docs/events.md. */
#ifndef LISEC_EVENTS_EVENTS_H
#define LISEC_EVENTS_EVENTS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define EV_VERSION 1
#define EV_BATCH_VERSION 2 /* the signed batch's statement (below) */
#define EV_DIGEST_LEN 32   /* SHA-256 */
#define EV_VM_MAX LISEC_ID_MAX
#define EV_TYPE_MAX 32
#define EV_DETAILS_MAX 8
#define EV_DETAIL_KEY_MAX 32
#define EV_DETAIL_VALUE_MAX 256
#define EV_SIG_MAX 256
#define EV_SEQ_MAX ((uint64_t)1 << 53) /* exact in every JSON reader */
/* Ceilings of [events] max_event / max_batch: a batch is one audit record
 * whose strings (one per event) are at most 1024 bytes and 16 in number
 * (audit/audit.h AUDIT_STR_MAX, AUDIT_LIST_MAX). */
#define EV_EVENT_CEILING 1024
#define EV_BATCH_CEILING 16

typedef struct ev_detail {
  char key[EV_DETAIL_KEY_MAX + 1];
  char value[EV_DETAIL_VALUE_MAX + 1];
} ev_detail;

/* One event as the VM states it. time: seconds since the epoch (the VM's
 * clock; lisecd records its own time beside it). */
typedef struct ev_record {
  char vm[EV_VM_MAX + 1];
  uint64_t seq; /* per VM, 1..2^53, each one used once */
  int64_t time;
  char type[EV_TYPE_MAX + 1];
  ev_detail details[EV_DETAILS_MAX];
  size_t n_details;
} ev_record;

/* The event types: activation, deactivation, target-change, delivery,
 * error, start, stop. */
bool ev_type_known(const char *type);
/* Fills r (details none) after checking each field; EINVAL names the field. */
int ev_record_init(ev_record *r, const char *vm, uint64_t seq, int64_t time, const char *type,
                   lisec_err *err);
/* Adds one detail "key=value": key 1-32 of a-z 0-9 _ -, value at most 256
 * bytes of UTF-8 without control characters, keys unique. */
int ev_record_add_detail(ev_record *r, const char *key, const char *value, lisec_err *err);
/* The fields of an "event" object (exactly those above, each bounded). */
int ev_parse_record(const json_t *e, ev_record *r, lisec_err *err);
/* The canonical bytes (keys sorted, no spaces, decimal integers, "details"
 * left out when empty); *out malloc'd. */
int ev_canonical(const ev_record *r, char **out, lisec_err *err);

/* A signed event: {"event": {...}, "sig": "<base64>"}, the signature over
 * the canonical bytes (ECDSA P-256 over SHA-256, DER; or Ed25519). text is
 * its canonical form, what the audit log keeps. */
typedef struct ev_signed {
  ev_record rec;
  char *canonical;
  uint8_t *sig; /* NULL for an event of a signed batch */
  size_t sig_len;
  char *text;
  uint8_t digest[EV_DIGEST_LEN]; /* SHA-256 of canonical (a signed batch's events) */
} ev_signed;

/* Signs r with the VM's private key; *out (malloc'd) is the signed text. */
int ev_sign(const ev_record *r, EVP_PKEY *key, char **out, lisec_err *err);
/* The signed text of canonical bytes signed elsewhere (the VM's library
 * signs with a software key or its TPM; both end here). */
int ev_signed_text(const char *canonical, const uint8_t *sig, size_t sig_len, char **out, lisec_err *err);
/* Parses one signed event (exactly the fields above, each bounded), and
 * rebuilds its canonical bytes and text; ETOOBIG when the text is longer
 * than max_event. The signature is not verified here. */
int ev_parse(const json_t *j, size_t max_event, ev_signed *out, lisec_err *err);
/* The same from bytes (the fuzz harness and the CLI's checks). */
int ev_parse_bytes(const char *data, size_t len, size_t max_event, ev_signed *out, lisec_err *err);
void ev_signed_clear(ev_signed *s);
/* 0 when the signature verifies against the VM's key; EDENIED otherwise. */
int ev_verify(const ev_signed *s, EVP_PKEY *key, lisec_err *err);

typedef struct ev_limits {
  size_t max_event; /* bytes of one signed event's text */
  size_t max_batch; /* events per request */
} ev_limits;

/* form 1: each event signed by itself. form 2, a signed batch: the events
 * unsigned, one signature by the VM's key over the statement
 * {"digests":[hex SHA-256 of each event's canonical bytes, in order],
 *  "v":2,"vm":"<vm>"} (canonical), so one verification covers the batch
 * and each event stays bound by its own digest (docs/events.md). */
typedef struct ev_batch {
  ev_signed *ev;
  size_t n;
  int form;
  char *statement;              /* form 2: rebuilt from the digests received */
  uint8_t (*claimed)[EV_DIGEST_LEN]; /* form 2: the digests the statement lists */
  uint8_t *sig;                 /* form 2 */
  size_t sig_len;
  char *sig_b64;                /* form 2: the signature as the record keeps it */
} ev_batch;

/* body: one signed event, {"events": [signed...]} with 1..max_batch
 * events, all of one VM, or a signed batch {"batch": {statement},
 * "events": [{"event": {...}}...], "sig": "<base64>"}. */
int ev_batch_parse(const json_t *body, const ev_limits *lim, ev_batch *out, lisec_err *err);
void ev_batch_clear(ev_batch *b);
/* A signed batch's body (events.c's parse calls it for a body with
 * "batch"). Each event's text is {"digest":"<hex>","event":{...}}. */
int ev_signed_batch_parse(const json_t *body, const ev_limits *lim, ev_batch *out, lisec_err *err);
/* The statement over n digests of vm's events (*out malloc'd). */
int ev_batch_statement(const char *vm, const uint8_t (*digests)[EV_DIGEST_LEN], size_t n, char **out,
                       lisec_err *err);
/* The VM side of a signed batch: parses n unsigned events ({"event":
 * {...}}, one VM, within max_event), and gives their statement (*stmt) and
 * the body to send once sig (over *stmt) is known: ev_signed_batch_body. */
int ev_signed_batch_statement(const char *const *events, size_t n, size_t max_event, char **stmt,
                              lisec_err *err);
int ev_signed_batch_body(const char *const *events, size_t n, const char *stmt, const uint8_t *sig,
                         size_t sig_len, char **body, lisec_err *err);
/* An unsigned event ({"event": <canonical>}) for a signed batch. */
int ev_unsigned_text(const ev_record *r, char **out, lisec_err *err);
/* 0 when every event's signature (form 1), or the batch's digests and
 * signature (form 2), verify against the VM's key; EDENIED naming
 * TR103308-4.1 otherwise. */
int ev_batch_verify(const ev_batch *b, EVP_PKEY *key, lisec_err *err);
int ev_signed_batch_verify(const ev_batch *b, EVP_PKEY *key, lisec_err *err);

/* What the sequence rules say of a batch after last (the VM's last
 * accepted seq, 0 before the first): the batch's seqs must rise strictly
 * and start above last. gaps: how many steps skipped numbers (accepted, a
 * finding); the first gap's expected and received seq. */
typedef struct ev_seq_verdict {
  size_t gaps;
  uint64_t expected, got;
  uint64_t last; /* the batch's last seq: the VM's new last */
  int replayed;  /* refused as a replay (a seq at or below last) */
} ev_seq_verdict;
/* ECONFLICT for a replay (a seq at or below last; v->replayed set) or an
 * out-of-order batch, the reason naming TR103308-4.1 and the seqs, never
 * the VM. */
int ev_seq_check(uint64_t last, const ev_batch *b, ev_seq_verdict *v, lisec_err *err);

#endif
