/* The durable audit appender (TR 103 308 §5.5, O.1.4): every use case hands
 * its audit record here and waits until it is on disk. Records are batched
 * by one writer thread with its own store handle (group commit: one durable
 * transaction per batch), LI records are sealed to the LI administration's
 * X25519 key first, the in-memory Merkle tree follows what is durable, and a
 * signed C2SP checkpoint is published every N entries or S seconds. A record
 * that cannot be made durable fails its caller, who must refuse the action.
 * A record may carry the documents its use case writes; they are stored in
 * the same transaction (ctl_auditlog_append_docs).
 * The checkpoint key is the keys process's (keys/keys.h: Ed25519 in a
 * PKCS#11 token or, for development only, in a file): the log gets its
 * public key and a function that asks for a signature, never the key. */
#ifndef LISEC_CTL_AUDITLOG_H
#define LISEC_CTL_AUDITLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "ctl/audit_tsa.h"
#include "store/store.h"

typedef struct ctl_auditlog ctl_auditlog;

typedef struct ctl_auditlog_config {
  const char *store_url; /* the writer thread opens its own handle with it */
  const char *origin;    /* checkpoint origin line and key name, e.g. "lisec.example.net/audit" */
  const uint8_t *li_pk;  /* the LI administration's X25519 public key (32 bytes); NULL: LI records refused */
  const uint8_t *rd_pk;  /* the RD administration's (issue 20); NULL: RD records refused */
  audit_sign_fn sign;          /* signs a checkpoint with the key (keys_audit_sign) */
  void *sign_ctx;
  const uint8_t *pk;           /* its Ed25519 public key (32 bytes) */
  /* optional, with ctx = sign_ctx: the key's rollover (keys_audit_next,
   * keys_audit_sign_next, keys_audit_promote); without them
   * ctl_auditlog_rollover is refused */
  int (*next_key)(void *ctx, bool fresh, uint8_t pk[32], lisec_err *err);
  audit_sign_fn sign_next;
  int (*promote)(void *ctx, const uint8_t pk[32], lisec_err *err);
  /* optional, with ctx = sign_ctx: the keys process as the log's witness
   * (keys_audit_witness, keys_audit_sign_proven; keys/witness.h): each
   * checkpoint goes with the consistency proof from the last one it signed,
   * and sign and sign_next are not used. A refusal publishes nothing, is
   * logged as an error, counted (ctl_auditlog_witness_refusals) and
   * recorded ("audit.witness", once until a checkpoint is signed again). */
  int (*witness)(void *ctx, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err);
  int (*sign_proven)(void *ctx, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                     const audit_proof *proof, uint8_t sig[64], lisec_err *err);
  bool development;            /* the key is a development file */
  const char *vkey_file;       /* optional: where to write the verifier key at open */
  uint64_t checkpoint_entries; /* publish after this many new entries; 0 = 1000 */
  uint32_t checkpoint_ms;      /* or this long after the first unsigned entry; 0 = 10000 */
  uint32_t max_batch;          /* entries per durable transaction; 0 = 4096 */
  /* how long a caller about to lead a commit waits for records other
   * callers are preparing, and for the callers its last commit served to
   * come back (only while a commit takes less than this), so they share
   * the commit; 0 = 200 us, negative = no wait */
  int32_t gather_us;
  unsigned low_level;          /* the tree keeps subtrees of 2^low_level leaves and up; 0 = 4 */
  bool keep_all_leaves;        /* low_level 0: every leaf hash in memory (fastest, 32 B/entry) */
  /* optional ([audit] tsa_url): every checkpoint gets an RFC 3161 timestamp
   * from this TSA, stored beside it (ctl/audit_tsa.h); the log owns it from
   * ctl_auditlog_open on, even when the open fails */
  ctl_tsa *tsa;
  /* ([audit] open_full_check_below) a log whose newest checkpoint, signed
   * by this key, is at this size or more opens from it: the entries below
   * are loaded by their stored leaf hashes (the checkpoint's root binds
   * them) and their data is checked by a thread after the open; smaller
   * logs are checked in full at open. 0 = CTL_AUDITLOG_OPEN_FULL_BELOW;
   * UINT64_MAX: always in full. */
  uint64_t open_full_below;
} ctl_auditlog_config;

#define CTL_AUDITLOG_OPEN_FULL_BELOW 100000u

/* Loads and checks the existing log from s (the caller's handle, used only
 * during this call): every entry's leaf hash is recomputed and every stored
 * checkpoint verified; a log that does not match its own signed checkpoints
 * is refused (EDENIED), because extending it would sign over the tampering.
 * Then starts the writer thread on its own store handle. A large log opens
 * from its newest checkpoint (open_full_below): the entries below it are
 * checked by their leaf hashes at open and by their data right after, in
 * a thread; a finding there stops the log (every append refused, naming
 * TR103308-5.5). */
int ctl_auditlog_open(lisec_store *s, const ctl_auditlog_config *cfg, ctl_auditlog **out,
                      lisec_err *err);
/* Drains pending appends, publishes a final checkpoint and stops. */
void ctl_auditlog_close(ctl_auditlog *log);

/* True when the checkpoint key is a development file: lisecd must say so
 * loudly at start. */
bool ctl_auditlog_development(const ctl_auditlog *log);
/* The check after an open from a checkpoint: the entries below *below
 * (0: the open checked everything), how many of them it has checked, done
 * when it ended, intact false when it found tampering (the log is then
 * stopped) or could not finish. */
void ctl_auditlog_recheck(ctl_auditlog *log, uint64_t *below, uint64_t *checked, bool *done, bool *intact);
/* The verifier key "<origin>+<id>+<base64>" auditors pin (*out malloc'd). */
int ctl_auditlog_vkey(ctl_auditlog *log, char **out, lisec_err *err);

/* Appends rec (its seq and, when 0, time_ms are filled in here) and returns
 * once it is durable, with its index. li_sealed: seal it to the LI
 * administration (EDENIED when no LI key is configured). On ESTORE the record
 * is not in the log and the reason says "audit record could not be made
 * durable; action refused (TR103308-5.5)": the caller refuses the action. */
int ctl_auditlog_append(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                        uint64_t *index, lisec_err *err);

/* A document a use case writes with its audit record: in the same durable
 * transaction as the record's batch (one fsync for both), so the record and
 * the documents land together or not at all. expected_version is
 * store_doc_put's (-1 any, 0 new, n at version n). rc is set by the append
 * when it returns 0: 0 when the document was written, ECONFLICT when it or
 * another document of the same record was not at its expected version (a
 * record's documents are written all or none). A conflict does not stop
 * the record (it is the write-ahead record of an act that then failed, as
 * with a separate write): the caller decides again from the store and
 * records the failure. */
typedef struct ctl_auditlog_doc {
  const char *kind, *id, *body;
  int64_t expected_version;
  int rc;
} ctl_auditlog_doc;
/* As a document's body: the document is deleted, after its version is
 * checked when expected_version is not -1 (issue 17: a model delete is
 * compare-and-set like a put). */
extern const char ctl_auditlog_remove[];
#define CTL_AUDITLOG_DOCS_MAX 8

/* ctl_auditlog_append with documents (at most CTL_AUDITLOG_DOCS_MAX; 0 is a
 * plain append): returns once the record and the documents that do not
 * conflict are durable together; on any other failure neither is stored.
 * EINVAL, before anything is reserved, for a document without a kind, id
 * or body or beyond the store's bounds (STORE_KIND_MAX, STORE_ID_MAX,
 * STORE_BODY_MAX). docs must stay valid until the call returns. */
int ctl_auditlog_append_docs(ctl_auditlog *log, const audit_record *rec, bool li_sealed,
                             ctl_auditlog_doc *docs, size_t n_docs, uint64_t *index,
                             lisec_err *err);

/* The same, sealed to the RD administration's key instead ([audit]
 * rd_seal_key, issue 20): EDENIED when none is configured. */
int ctl_auditlog_append_rd(ctl_auditlog *log, const audit_record *rec, ctl_auditlog_doc *docs,
                           size_t n_docs, uint64_t *index, lisec_err *err);

/* The number of durable entries. */
/* The calling thread runs at a lower CPU priority than the request threads
 * (a bulk thread at [server] bulk_nice, the KEK rotation): its appends do
 * not lead a group commit while a caller at the normal priority has a
 * record waiting, which leads instead (auditlog.c, "Who leads"), and its
 * store transactions let waiting normal-priority ones go first (the
 * store's write turn, store_thread_set_lowered). Per thread, for every log
 * and store. */
void ctl_auditlog_thread_lowered(bool lowered);
/* How many group commits the calling thread has led (test_auditlog). */
uint64_t ctl_auditlog_thread_led(void);
/* How many times the calling thread took the log's lock inside appends
 * (test_auditlog: a caller another one made durable takes it once). */
uint64_t ctl_auditlog_thread_locks(void);
/* Records taken in and not yet durable (their callers wait). */
uint64_t ctl_auditlog_queued(ctl_auditlog *log);

/* Checkpoints the keys process refused as not extending the last one it
 * signed (an attack signal; metrics). */
uint64_t ctl_auditlog_witness_refusals(ctl_auditlog *log);

uint64_t ctl_auditlog_size(ctl_auditlog *log);
/* Durable transactions made since open, and the log's size (the mean batch
 * is what group commit achieved). */
void ctl_auditlog_stats(ctl_auditlog *log, uint64_t *batches, uint64_t *entries);
/* Begins a checkpoint key rollover (issue 21 item 5): a fresh next key is
 * made, and the next checkpoint (which needs a new entry: the caller's
 * record of the rollover) is signed by the old and the new key with the
 * rollover line, after which the new key is promoted and the old retired.
 * *new_vkey (malloc'd) is the new key's verifier form. At open, a log whose
 * checkpoints rolled over to the next key the keys process holds (a
 * rollover cut short before its promotion) completes it. */
int ctl_auditlog_rollover_begin(ctl_auditlog *log, char **new_vkey, lisec_err *err);
/* Drops a rollover begun whose checkpoint is not signed yet (its record
 * could not be made durable). */
void ctl_auditlog_rollover_cancel(ctl_auditlog *log);
/* After a restore from a backup (issue 21 item 4): appends rec, the record
 * of it, and signs the checkpoint over it with the line that names from,
 * the backup's newest checkpoint; returns once that checkpoint is stored. */
int ctl_auditlog_record_restore(ctl_auditlog *log, const audit_checkpoint *from, const audit_record *rec,
                                lisec_err *err);
/* Signs and stores a checkpoint of the current size now (if it grew). */
int ctl_auditlog_checkpoint_now(ctl_auditlog *log, lisec_err *err);
/* The newest published checkpoint note (*note malloc'd); ENOTFOUND before
 * the first. */
int ctl_auditlog_latest_checkpoint(ctl_auditlog *log, char **note, uint64_t *size,
                                   lisec_err *err);
/* For metrics: entries not yet under a signed checkpoint, how long they
 * have waited since the last checkpoint was published (0 when none wait),
 * and how many checkpoints failed since open. */
void ctl_auditlog_lag(ctl_auditlog *log, uint64_t *unsigned_entries, int64_t *lag_ms,
                      uint64_t *failures);
/* For metrics: checkpoints stored without a timestamp since open although a
 * TSA is configured, and those timestamped. */
void ctl_auditlog_tsa_stats(ctl_auditlog *log, uint64_t *untimestamped, uint64_t *timestamped);
/* The last error of checkpoint publishing (empty when the last one worked). */
void ctl_auditlog_checkpoint_error(ctl_auditlog *log, lisec_err *out);

/* Proofs for a tree of `size` entries (0 = the current size). reader is the
 * caller's own store handle: the tree asks it for at most a few groups of
 * leaves. root (may be NULL) gets the root at that size. */
int ctl_auditlog_prove_inclusion(ctl_auditlog *log, lisec_store *reader, uint64_t index,
                                 uint64_t size, audit_proof *proof, uint8_t leaf_hash[32],
                                 uint8_t root[32], uint64_t *size_out, lisec_err *err);
int ctl_auditlog_prove_consistency(ctl_auditlog *log, lisec_store *reader, uint64_t old_size,
                                   uint64_t new_size, audit_proof *proof, uint8_t old_root[32],
                                   uint8_t new_root[32], uint64_t *new_size_out, lisec_err *err);
/* The index of the entry with this leaf hash below size (0 = current). */
int ctl_auditlog_find_leaf(ctl_auditlog *log, lisec_store *reader, const uint8_t leaf_hash[32],
                           uint64_t size, uint64_t *index, lisec_err *err);

/* ---- JSON shapes shared by the API and `lisec audit` -------------------- */

/* {"from":F,"entries":[{"index":i,"time_ms":t,"sealed":b,"data":base64,
 * "leaf_hash":hex}, ...]} for from <= index < to (at most 10000 entries). */
int ctl_auditlog_entries_json(lisec_store *reader, uint64_t from, uint64_t to, json_t **out,
                              lisec_err *err);
/* {"checkpoints":[{"tree_size":n,"note":text[,"timestamp":{"token":base64,
 * "gen_time":t} or {"error":why}]}, ...][,"next":size]} oldest first, of
 * tree size from on, at most count (1..CTL_AUDITLOG_CP_PAGE_MAX), only
 * those of at most max_size entries (the entries served: a verifier never
 * gets a checkpoint ahead of them); "next", when more follow, is the tree
 * size of the first of them (the next page's from). */
#define CTL_AUDITLOG_CP_PAGE_MAX 1000u
int ctl_auditlog_checkpoints_json(lisec_store *reader, uint64_t max_size, uint64_t from, uint64_t count,
                                  json_t **out, lisec_err *err);
/* The stored timestamp of the checkpoint at size as a JSON object (see
 * above); ENOTFOUND when it has none (no TSA then, or a crash between). */
int ctl_auditlog_timestamp_json(lisec_store *reader, uint64_t size, json_t **out, lisec_err *err);
/* Proofs as JSON: audit_inclusion_json, audit_consistency_json (audit/json.h). */

#endif
