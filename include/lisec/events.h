/* liblisec-events: what an LI VM needs to have its LI-related events
 * recorded by lisecd (TR 103 308 §4.1 "any events on the LI VMs are logged,
 * and only the LI administration can read those logs"; issue 20 item 3).
 * The VM makes its own key pair (software: ECDSA P-256 in a 0600 PEM
 * file; or in its vTPM, lisec_event_key_create_tpm); MANO registers the public key with lisecd and the LI
 * administration pairs it. Each event (activation, target change received
 * over X1, delivery to the LEA, error...) gets the VM's next sequence
 * number, kept in a state file that is written durably before the number
 * is used, so a restart never reuses one; it is signed over its canonical
 * bytes and sent, alone or in a batch, to lisecd's POST /v1/li/events over
 * mutual TLS (libcurl). The signature authenticates the record; the TLS
 * client certificate (role vm) only admits the VM to the route.
 * docs/events.md has the formats. Every function returns 0 or -1 with a
 * reason in err (LISEC_EVENT_ERR_MAX bytes, never a key). */
#ifndef LISEC_PUBLIC_EVENTS_H
#define LISEC_PUBLIC_EVENTS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LISEC_EVENT_ERR_MAX 256

typedef struct lisec_event_key lisec_event_key;
typedef struct lisec_event_client lisec_event_client;

/* Makes a P-256 key pair: the private key in key_path (PEM, mode 0600,
 * refused when the file exists), the public key in pub_path (PEM), the
 * form POST /v1/li/vms takes as "pubkey". */
int lisec_event_key_create(const char *key_path, const char *pub_path, char err[LISEC_EVENT_ERR_MAX]);
/* Loads a key made by lisec_event_key_create (or any P-256 or Ed25519
 * private key in PEM). */
int lisec_event_key_load(const char *key_path, lisec_event_key **out, char err[LISEC_EVENT_ERR_MAX]);
void lisec_event_key_free(lisec_event_key *k);

/* The next sequence number of this VM: the state file (0600; "seq N"
 * after the last number handed out; absent = none yet) is rewritten
 * durably (temporary file, fsync, rename) under an exclusive lock on
 * state_path.lock, before *seq is returned. A number handed out and never
 * sent is a gap lisecd records as a finding. */
int lisec_event_seq_next(const char *state_path, unsigned long long *seq, char err[LISEC_EVENT_ERR_MAX]);

/* The signed event (*out malloc'd, canonical JSON text): type one of
 * activation, deactivation, target-change, delivery, error, start, stop;
 * time seconds since the epoch (0: now); details "key=value" strings, at
 * most 8, NULL-ended (may be NULL). */
int lisec_event_sign(const lisec_event_key *k, const char *vm, unsigned long long seq, long long time,
                     const char *type, const char *const *details, char **out,
                     char err[LISEC_EVENT_ERR_MAX]);

/* A client of lisecd at url (https://host:port) with the CA that signs
 * lisecd's certificate and the VM's client certificate and key (PEM). */
int lisec_event_client_new(const char *url, const char *ca, const char *cert, const char *key,
                           lisec_event_client **out, char err[LISEC_EVENT_ERR_MAX]);
void lisec_event_client_free(lisec_event_client *c);
/* Sends n signed events (1 alone, more as one batch, all of this VM, seqs
 * rising) and returns 0 once lisecd answered 201 (recorded durably). -1
 * otherwise: err has lisecd's reason (it names the requirement, e.g.
 * TR103308-4.1: replayed event) or the transfer's; *status (may be NULL)
 * the HTTP status, 0 without an answer. */
int lisec_event_send(lisec_event_client *c, const char *const *signed_events, size_t n, long *status,
                     char err[LISEC_EVENT_ERR_MAX]);

/* The key in the VM's TPM (tpm2-tss), for a VM with a (v)TPM: tcti is
 * tpm2-tss's TCTI ("device:/dev/tpmrm0" when NULL; "swtpm:host=H,port=P"
 * for a software TPM). The TPM makes a P-256 ECDSA signing key under its
 * storage root key that it will not let out (fixedTPM, fixedParent);
 * key_path (0600, refused when it exists) gets the key's public area and
 * its private area wrapped by that TPM, which only that TPM can load (no
 * private key in the clear on disk); pub_path the public key (PEM) as
 * lisec_event_key_create writes it. Events it signs verify at lisecd as a
 * software key's do. */
int lisec_event_key_create_tpm(const char *tcti, const char *key_path, const char *pub_path,
                               char err[LISEC_EVENT_ERR_MAX]);
/* Loads such a key into the TPM behind tcti and keeps it there until
 * lisec_event_key_free. Fails naming why: the file is not such a key
 * (truncated, oversized, another kind of key), no TPM answers, or the TPM
 * does not take it (another TPM, or its storage hierarchy was cleared). */
int lisec_event_key_load_tpm(const char *tcti, const char *key_path, lisec_event_key **out,
                             char err[LISEC_EVENT_ERR_MAX]);

/* ---- signed batches (docs/events.md "A signed batch") ----
 * One signature over a batch: the VM makes each event unsigned when it
 * happens and signs the batch when it sends it; lisecd verifies one
 * signature per batch and keeps each event's digest in the record. */

/* An unsigned event (*out malloc'd, {"event": {...}}, canonical); the
 * arguments as lisec_event_sign's. */
int lisec_event_make(const char *vm, unsigned long long seq, long long time, const char *type,
                     const char *const *details, char **out, char err[LISEC_EVENT_ERR_MAX]);
/* Signs n (1 to 16) events made by lisec_event_make, all of one VM, as one
 * batch: *body (malloc'd) is the request lisec_event_send_body posts. */
int lisec_event_sign_batch(const lisec_event_key *k, const char *const *events, size_t n, char **body,
                           char err[LISEC_EVENT_ERR_MAX]);
/* Posts a request body (a signed batch, or one signed event) to lisecd;
 * returns as lisec_event_send. */
int lisec_event_send_body(lisec_event_client *c, const char *body, long *status, char err[LISEC_EVENT_ERR_MAX]);

/* ---- the spool (docs/events.md "The spool") ----
 * Events kept on disk until lisecd took them, so neither a restart of the
 * VM's program nor a lisecd out of reach for a while loses one. One file
 * (0600) of independent records, each with its own checksum; FILE.lock
 * guards it (programs sharing the spool and the state file may run side
 * by side), FILE.send.lock lets one sender at a time talk to lisecd. What
 * the spool cannot keep is set aside, never sent: bytes that are no whole
 * record in FILE.corrupt, events lisecd refuses for good in FILE.rejected
 * (each at most max_bytes, then renamed FILE.corrupt.1 / FILE.rejected.1,
 * replacing the one before, and begun again: the newest kept).
 * A spool may be used from several threads. Added in LISEC_EVENTS_1.1. */
typedef struct lisec_event_spool lisec_event_spool;
/* Called with each thing the spool reports that is not the caller's
 * answer: a torn or corrupted record set aside, events lisecd had taken
 * already, an event lisecd refused for good. NULL: written to stderr. */
typedef void (*lisec_event_spool_report_fn)(void *ctx, const char *msg);

/* Opens the spool at path (made 0600 when absent, its directory then
 * fsynced; refused when it is a symbolic link, owned by another user or
 * writable by others, made 0600 when only readable by them;
 * TR103308-4.1) holding at most
 * max_events events (0: 4096; 1 to 1000000) and max_bytes bytes of file
 * (0: 4 MiB; 16 KiB to 256 MiB). A torn last record (a writer killed
 * mid-write) is cut off and corrupted records are set aside here, each
 * reported; temporary files a rewrite stopped by a crash left
 * (path.tmp.XXXXXX, regular, this user's) are removed. No more than
 * max_bytes and one record of the file is read at once: a larger file is
 * reported, sent in parts and refuses new events until below max_bytes. */
int lisec_event_spool_open(const char *path, size_t max_events, size_t max_bytes,
                           lisec_event_spool_report_fn report, void *ctx, lisec_event_spool **out,
                           char err[LISEC_EVENT_ERR_MAX]);
void lisec_event_spool_free(lisec_event_spool *s);
/* Makes the VM's next event (its seq from state_path, as
 * lisec_event_seq_next; the other arguments as lisec_event_make's) and
 * writes it to the spool durably (appended, fdatasync) before it returns
 * 0: the event is queued. -1 otherwise; when the spool is full (err says
 * TR103308-4.1: the event spool is full), or the event is larger than
 * lisecd takes (1024 bytes as a signed batch records it; TR103308-4.1:
 * the event cannot be sent), the event is not queued and its
 * seq, taken already, is in *seq: lisecd will show it as a gap
 * (TR103308-4.1-EVENTS-GAP). *seq is 0 when no seq was taken, as when
 * vm is not the VM whose events the spool holds (a spool is one VM's:
 * refused, TR103308-4.1), or the type or a detail is bad (the event is
 * checked before its seq is taken). */
int lisec_event_spool_note(lisec_event_spool *s, const char *state_path, const char *vm, long long time,
                           const char *type, const char *const *details, unsigned long long *seq,
                           char err[LISEC_EVENT_ERR_MAX]);
/* Sends what the spool holds, in seq order, as signed batches of at most
 * max_batch events (1 to 16; halved when lisecd answers 413), signed by k
 * when sent, through c. A batch leaves the spool once lisecd answered 201;
 * events lisecd answers are replayed (their seq at or below its last
 * accepted: a batch it took before the spool could remove it, or events
 * made at seqs it had, the state file reset or restored) and an event
 * lisecd refuses alone as malformed or oversized (400, 413), or that no
 * signed batch can carry ("seq S cannot be sent ..."), leave it, set
 * aside in FILE.rejected, reported ("seq A to B refused by lisecd ...",
 * "seq S refused by lisecd ..."), not counted as taken. Returns 0
 * when the spool is empty; -1 when events are left (err: lisecd's answer
 * or why, as another flush under way, which this one does not wait for; *status, may be NULL, lisecd's last HTTP status, 0 without an
 * answer). *sent (may be NULL): the events that left the spool as taken. */
int lisec_event_spool_flush(lisec_event_spool *s, const lisec_event_key *k, lisec_event_client *c,
                            size_t max_batch, size_t *sent, long *status, char err[LISEC_EVENT_ERR_MAX]);
/* As lisec_event_spool_flush, with the VM's state file (state_path, as
 * given to lisec_event_spool_note; NULL: as lisec_event_spool_flush). When
 * lisecd answers a replay and the spool's events are not the ones it has
 * at those seqs (the VM's counter went back: the state file reset, or the
 * VM restored from a snapshot), the spool's events are made again, in
 * order, at seqs above lisecd's last and the state's (taken from the state
 * file), signed by k when sent and sent, and reported ("the VM's event
 * counter went back ... seq A to B made again at seq C to D"); lisecd
 * records that the counter went back. Events lisecd took before (a stop
 * between its 201 and their removal) leave the spool as before. Added in
 * LISEC_EVENTS_1.2. */
int lisec_event_spool_flush_state(lisec_event_spool *s, const char *state_path, const lisec_event_key *k,
                                  lisec_event_client *c, size_t max_batch, size_t *sent, long *status,
                                  char err[LISEC_EVENT_ERR_MAX]);
/* The events the spool holds (within what is read at once, above) and
 * the bytes of its file. */
int lisec_event_spool_count(lisec_event_spool *s, size_t *events, size_t *bytes, char err[LISEC_EVENT_ERR_MAX]);

#ifdef __cplusplus
}
#endif

#endif
