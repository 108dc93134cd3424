/* audit/ is the tamper-evident audit log's pure logic (TR 103 308 §4.1, §5.5,
 * O.1.4): RFC 9162 Merkle tree hashing, a compact in-memory tree that serves
 * roots and inclusion/consistency proofs for any size up to its own, the RFC
 * 9162 proof verification algorithms, the binary entry format, sealing LI
 * entries to the LI administration's X25519 key (libsodium sealed boxes), and
 * C2SP signed-note checkpoints signed with Ed25519. It does no I/O: leaf
 * hashes it does not keep come from a caller's callback, and signatures from a
 * caller's signing callback (a PKCS#11 token or a development file). */
#ifndef LISEC_AUDIT_H
#define LISEC_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define AUDIT_HASH_LEN 32
/* Tree sizes stay below 2^62, so every proof fits in AUDIT_PROOF_MAX hashes. */
#define AUDIT_SIZE_MAX (UINT64_C(1) << 62)
#define AUDIT_PROOF_MAX 66

/* ---- RFC 9162 §2.1.1 hashing -------------------------------------------- */

/* SHA-256(0x00 || data) */
void audit_hash_leaf(const void *data, size_t len, uint8_t out[AUDIT_HASH_LEN]);
/* SHA-256(0x01 || left || right) */
void audit_hash_node(const uint8_t left[AUDIT_HASH_LEN], const uint8_t right[AUDIT_HASH_LEN],
                     uint8_t out[AUDIT_HASH_LEN]);
/* MTH over n leaf hashes; the empty tree's root is SHA-256(""). */
void audit_root_of_leaves(const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t n,
                          uint8_t out[AUDIT_HASH_LEN]);

/* ---- proofs and their verification (RFC 9162 §2.1.3, §2.1.4) ------------ */

typedef struct audit_proof {
  size_t len;
  uint8_t hash[AUDIT_PROOF_MAX][AUDIT_HASH_LEN];
} audit_proof;

/* §2.1.3.2: 0 when leaf_hash is at index in the tree of `size` leaves whose
 * root is root; ECRYPTO (with what failed) otherwise. */
int audit_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                           const audit_proof *proof, const uint8_t root[AUDIT_HASH_LEN],
                           lisec_err *err);
/* §2.1.4.2: 0 when the tree of new_size leaves (new_root) extends the tree of
 * old_size leaves (old_root). old_size == new_size needs an empty proof and
 * equal roots; old_size == 0 needs an empty proof. */
int audit_verify_consistency(uint64_t old_size, uint64_t new_size,
                             const uint8_t old_root[AUDIT_HASH_LEN],
                             const uint8_t new_root[AUDIT_HASH_LEN], const audit_proof *proof,
                             lisec_err *err);

/* ---- the compact tree --------------------------------------------------- */

/* Supplies count consecutive leaf hashes starting at from (count is at most
 * 2^low_level, and the leaves are below the tree's size). */
typedef int (*audit_leaf_fetch)(void *ctx, uint64_t from, uint64_t count,
                                uint8_t (*out)[AUDIT_HASH_LEN], lisec_err *err);

/* The tree keeps the hash of every complete subtree of height >= low_level
 * (2 * size / 2^low_level hashes) and the leaf hashes of the last incomplete
 * group; anything lower is recomputed from at most 2^low_level leaf hashes
 * asked of the fetch callback. low_level 0 keeps every leaf hash in memory
 * (no callback needed); 4 costs 4 bytes per entry and one fetch of 16 leaf
 * hashes per proof. */
#define AUDIT_LOW_LEVEL_MAX 12
typedef struct audit_tree audit_tree;

int audit_tree_new(unsigned low_level, audit_tree **out, lisec_err *err);
void audit_tree_free(audit_tree *t);
uint64_t audit_tree_size(const audit_tree *t);
unsigned audit_tree_low_level(const audit_tree *t);
/* Bytes of hashes the tree holds (for sizing and the figures). */
size_t audit_tree_memory(const audit_tree *t);
int audit_tree_append(audit_tree *t, const uint8_t leaf_hash[AUDIT_HASH_LEN], lisec_err *err);
/* The leaves' roots and proofs of every size up to the tree's own. fetch may
 * be NULL when low_level is 0. */
int audit_tree_root(const audit_tree *t, uint64_t size, audit_leaf_fetch fetch, void *ctx,
                    uint8_t out[AUDIT_HASH_LEN], lisec_err *err);
int audit_tree_prove_inclusion(const audit_tree *t, uint64_t index, uint64_t size,
                               audit_leaf_fetch fetch, void *ctx, audit_proof *out,
                               lisec_err *err);
int audit_tree_prove_consistency(const audit_tree *t, uint64_t old_size, uint64_t new_size,
                                 audit_leaf_fetch fetch, void *ctx, audit_proof *out,
                                 lisec_err *err);
/* The right edge of the tree of `size` leaves (size <= the tree's): what is
 * stored beside a checkpoint. Leaves below low_level are fetched (one group
 * at most). */
struct audit_frontier;
int audit_tree_frontier(const audit_tree *t, uint64_t size, audit_leaf_fetch fetch, void *ctx,
                        struct audit_frontier *out, lisec_err *err);

/* ---- finding an entry by its leaf hash (leafindex.c) -------------------- */

/* Entry indexes by leaf hash, in memory (4 bytes of each hash and a hash
 * table of 32-bit indexes: 9-15 bytes per entry), for a proof asked by hash
 * without a scan of the log. Entries are added in index order. */
typedef struct audit_leaf_index audit_leaf_index;

int audit_leaf_index_new(audit_leaf_index **out, lisec_err *err);
void audit_leaf_index_free(audit_leaf_index *x);
/* Adds the next entry (index = the size before the call). */
int audit_leaf_index_add(audit_leaf_index *x, const uint8_t leaf_hash[AUDIT_HASH_LEN], lisec_err *err);
uint64_t audit_leaf_index_size(const audit_leaf_index *x);
size_t audit_leaf_index_memory(const audit_leaf_index *x);
/* The candidates for leaf_hash below `below`, in increasing index order, at
 * most max of them (max returned: there may be more; ask again with more
 * room). The index keeps 4 bytes of each hash: the caller confirms each
 * candidate against the entry's full hash. */
size_t audit_leaf_index_find(const audit_leaf_index *x, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                             uint64_t below, uint64_t *out, size_t max);

/* A tree's right edge only: the roots of the perfect subtrees that make up a
 * tree of `size` leaves, O(log n) memory. Enough to compute the root at every
 * size while streaming leaves (the verifier's view). */
typedef struct audit_frontier {
  uint64_t size;
  uint8_t node[64][AUDIT_HASH_LEN]; /* node[h]: the subtree of 2^h leaves when bit h of size is set */
} audit_frontier;

void audit_frontier_init(audit_frontier *f);
int audit_frontier_append(audit_frontier *f, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                          lisec_err *err);
void audit_frontier_root(const audit_frontier *f, uint8_t out[AUDIT_HASH_LEN]);
/* The consistency proof (RFC 9162 §2.1.4.1) from the tree whose right edge
 * is old to the tree with count more leaves, leaves (old->size onwards),
 * without the rest of the tree (extend.c): as audit_tree_prove_consistency
 * would give it. */
int audit_prove_extension(const audit_frontier *old, const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t count,
                          audit_proof *out, lisec_err *err);
/* The frontier stored beside each checkpoint (frontier.c): lisecd opens a
 * large log from it without reading what the checkpoint covers; the
 * checkpoint's signed root must be its root (audit_frontier_root). Kept as
 * a document of this kind, id the tree size in decimal. */
#define AUDIT_FRONTIER_DOC_KIND "audit.frontier"
#define AUDIT_FRONTIER_TEXT_MAX 8192
int audit_frontier_format(const audit_frontier *f, char **out, lisec_err *err);
/* Strict: exactly the form audit_frontier_format writes (EINVAL naming
 * TR103308-5.5 otherwise). */
int audit_frontier_parse(const char *text, size_t len, audit_frontier *out, lisec_err *err);

/* ---- entries ------------------------------------------------------------ */

/* One audit record. Strings are UTF-8 without NUL or other control
 * characters, each bounded (see docs/audit.md). */
#define AUDIT_LIST_MAX 16
#define AUDIT_STR_MAX 1024
#define AUDIT_ENTRY_MAX (64 * 1024)

typedef struct audit_record {
  uint64_t seq;    /* the entry's index in the log */
  int64_t time_ms; /* when it was made (ms since the epoch, UTC) */
  bool li;         /* about LI: stored only sealed to the LI administration */
  const char *actor, *role, *action, *outcome;
  const char *subjects[AUDIT_LIST_MAX];
  size_t n_subjects;
  const char *reasons[AUDIT_LIST_MAX];
  size_t n_reasons;
  void *owned; /* set by audit_entry_decode: the strings live there (wiped on clear) */
  size_t owned_len;
} audit_record;

/* The first byte of every entry says what it is. */
enum { AUDIT_ENTRY_PLAIN = 0x01, AUDIT_ENTRY_SEALED = 0x02 };

/* Encodes r in the canonical binary form (*out malloc'd). A record with li
 * set is encoded plain here; audit_entry_seal makes the stored form. */
int audit_entry_encode(const audit_record *r, uint8_t **out, size_t *len, lisec_err *err);
/* Decodes a plain entry, refusing anything but the canonical form; the
 * strings live until audit_record_clear. */
int audit_entry_decode(const uint8_t *data, size_t len, audit_record *out, lisec_err *err);
void audit_record_clear(audit_record *r);
/* The sequence number of a plain entry, without decoding the rest. */
int audit_entry_peek_seq(const uint8_t *data, size_t len, uint64_t *seq, lisec_err *err);

#define AUDIT_X25519_LEN 32
/* Inside a sealed box, the plain entry follows this byte and is padded
 * (ISO/IEC 7816-4: 0x80, then zeros) to the next multiple of
 * AUDIT_SEAL_BUCKET bytes, so a sealed entry's length, which every reader of
 * the log sees, tells only its bucket (TR 103 308 §4.1). Never a first byte
 * outside a box. */
#define AUDIT_SEAL_PADDED 0x03
#define AUDIT_SEAL_BUCKET 1024
/* The longest plain entry that is sealed: its padded form fills at most
 * AUDIT_ENTRY_MAX (the encoder makes at most ~37 KiB). */
#define AUDIT_SEAL_PLAIN_MAX (AUDIT_ENTRY_MAX - 2)
/* AUDIT_ENTRY_SEALED || crypto_box_seal(AUDIT_SEAL_PADDED || plain ||
 * padding, li_pk): only the holder of the LI administration's secret key can
 * read it; 49 + a multiple of AUDIT_SEAL_BUCKET bytes. *out malloc'd. */
int audit_entry_seal(const uint8_t *plain, size_t len, const uint8_t li_pk[AUDIT_X25519_LEN],
                     uint8_t **out, size_t *out_len, lisec_err *err);
/* Opens a sealed entry with the LI administration's secret key (the public
 * key is derived from it); ECRYPTO with any other key, EINVAL when what the
 * box holds is not as audit_entry_unpad takes it. *plain malloc'd: the plain
 * entry alone. */
int audit_entry_open(const uint8_t *sealed, size_t len, const uint8_t li_sk[AUDIT_X25519_LEN],
                     uint8_t **plain, size_t *plain_len, lisec_err *err);
/* The plain entry inside an opened box of len bytes (audit_entry_open's
 * second step, on its own for tests and the fuzzer): at *off, *plain_len
 * bytes. Takes exactly what audit_entry_seal pads (whole buckets, the marker,
 * a plain entry, the padding within the last bucket) and, as entries sealed
 * before the padding hold, a plain entry alone; EINVAL naming TR103308-4.1
 * otherwise. Reads nothing outside box[0..len). */
int audit_entry_unpad(const uint8_t *box, size_t len, size_t *off, size_t *plain_len,
                      lisec_err *err);
/* A fresh X25519 key pair for the LI administration. */
int audit_li_keygen(uint8_t pk[AUDIT_X25519_LEN], uint8_t sk[AUDIT_X25519_LEN], lisec_err *err);

/* ---- checkpoints: C2SP signed notes, Ed25519 ---------------------------- */

#define AUDIT_ORIGIN_MAX 255
#define AUDIT_NOTE_MAX (16 * 1024)
#define AUDIT_ED25519_PK_LEN 32
#define AUDIT_ED25519_SIG_LEN 64

typedef struct audit_checkpoint {
  char origin[AUDIT_ORIGIN_MAX + 1];
  uint64_t size;
  uint8_t root[AUDIT_HASH_LEN];
} audit_checkpoint;

/* Signs msg with the checkpoint key wherever it lives. */
typedef int (*audit_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
                             uint8_t sig[AUDIT_ED25519_SIG_LEN], lisec_err *err);

/* A verifier key: the key name and the Ed25519 public key, and the note key
 * id derived from them (first 4 bytes of SHA-256(name || 0x0A || 0x01 || pk)). */
typedef struct audit_vkey {
  char name[AUDIT_ORIGIN_MAX + 1];
  uint8_t pk[AUDIT_ED25519_PK_LEN];
  uint32_t id;
} audit_vkey;

int audit_vkey_make(const char *name, const uint8_t pk[AUDIT_ED25519_PK_LEN], audit_vkey *out,
                    lisec_err *err);
/* The text form "<name>+<8 hex id>+<base64(0x01 || pk)>" (*out malloc'd). */
int audit_vkey_format(const audit_vkey *k, char **out, lisec_err *err);
int audit_vkey_parse(const char *text, audit_vkey *out, lisec_err *err);
/* The verifier key, named name, of an Ed25519 private key in PKCS#8 PEM
 * (a development checkpoint key file's contents; no file is read here). */
int audit_vkey_from_pem(const char *name, const void *pem, size_t len, audit_vkey *out,
                        lisec_err *err);

/* The checkpoint body "<origin>\n<size>\n<base64 root>\n", signed with
 * key's name, as a complete signed note (*note malloc'd, NUL-terminated). */
int audit_note_sign(const audit_checkpoint *cp, const audit_vkey *key, audit_sign_fn sign,
                    void *sign_ctx, char **note, lisec_err *err);
/* Parses a signed note of at most AUDIT_NOTE_MAX bytes and verifies it: one
 * signature line must be key's (name and id) and verify. Other signatures
 * are ignored. ECRYPTO when none verifies, EINVAL when malformed. */
int audit_note_open(const char *note, size_t len, const audit_vkey *key, audit_checkpoint *out,
                    lisec_err *err);
/* The generic signed-note operations underneath: sign any note text (lines
 * ending in newlines), and verify a note, returning the length of its text. */
int audit_note_sign_text(const char *text, size_t len, const audit_vkey *key, audit_sign_fn sign,
                         void *sign_ctx, char **note, lisec_err *err);
int audit_note_verify(const char *note, size_t len, const audit_vkey *key, size_t *text_len,
                      lisec_err *err);
/* The signers of a signed note, "<name>+<8 hex id>" each, comma separated,
 * into buf (cut at size, never mid-signer); how many. Nothing is verified:
 * this names the keys a note claims, to say which one a verifier lacks. */
size_t audit_note_signers(const char *note, size_t len, char *buf, size_t size);
/* ---- checkpoint key rollover (extension.c) ------------------------------- */

/* A rollover checkpoint names the key it retires and the key it introduces
 * in the extension line "lisec-key-rollover <old vkey> <new vkey>", and is
 * signed by both. */
typedef struct audit_rollover {
  audit_vkey old_key, new_key;
} audit_rollover;

bool audit_vkey_equal(const audit_vkey *a, const audit_vkey *b);
/* The checkpoint at cp signed by both keys, with the rollover line. */
int audit_note_sign_rollover(const audit_checkpoint *cp, const audit_vkey *old_key, audit_sign_fn old_sign,
                             void *old_ctx, const audit_vkey *new_key, audit_sign_fn new_sign, void *new_ctx,
                             char **note, lisec_err *err);
/* The rollover line of a note's text, if it has one (*found); EINVAL when
 * the line is malformed or there are two. No signature is checked here. */
int audit_rollover_find(const char *note, size_t len, audit_rollover *out, bool *found, lisec_err *err);

/* ---- restore (extension.c) ------------------------------------------------ */

/* The first checkpoint after a restore from a backup says so: "lisec-
 * restored-from <size> <root>", the backup's newest checkpoint (from's
 * origin is not written). */
int audit_note_sign_restore(const audit_checkpoint *cp, const audit_checkpoint *from, const audit_vkey *key,
                            audit_sign_fn sign, void *ctx, char **note, lisec_err *err);
/* `lisec restore` leaves this document in the store it restored (JSON
 * {"from_size", "root" (hex)}: the backup's newest checkpoint); lisecd
 * records the restore at its next start and removes it. */
#define AUDIT_RESTORE_DOC_KIND "audit.restore"
#define AUDIT_RESTORE_DOC_ID "pending"
/* RFC 3161 timestamps of checkpoints (issue 19 item 1) are documents of this
 * kind beside them, id the tree size in decimal: JSON {"tree_size", "token"
 * (base64 DER TimeStampToken over SHA-256 of the whole signed note),
 * "gen_time"} or, when the TSA gave none, {"tree_size", "error"}. */
#define AUDIT_TIMESTAMP_DOC_KIND "audit.timestamp"
/* The restore line of a note's text, if any (*found); EINVAL when malformed. */
int audit_restore_find(const char *note, size_t len, audit_checkpoint *from, bool *found, lisec_err *err);

/* Parses the checkpoint body only, without any signature check (for
 * diagnostics and the fuzzer). */
int audit_checkpoint_parse(const char *text, size_t len, audit_checkpoint *out, lisec_err *err);

/* ---- whole-log verification (the auditor's view) ------------------------ */

/* Fed the checkpoints and then every entry in order, it recomputes the tree
 * and names each discrepancy: a changed, deleted or reordered entry, a
 * truncated log, a rollback below what this auditor saw, a checkpoint whose
 * signature does not verify. The source (a database file or lisecd's API)
 * does not matter. */
typedef struct audit_verifier audit_verifier;

typedef struct audit_verify_summary {
  uint64_t entries;        /* entries read */
  uint64_t sealed;         /* of which sealed */
  uint64_t checkpoints_ok; /* checkpoints whose signature verified */
  uint64_t findings;       /* discrepancies found (0 = intact) */
  audit_checkpoint newest; /* the newest verified checkpoint matching the tree */
  bool have_newest;
  uint64_t unsigned_tail; /* entries after the newest checkpoint */
  uint64_t restores;      /* signed restores from a backup the log records */
  uint64_t restored_from; /* the lowest size a restore went back to */
  bool seen_replaced;     /* the checkpoint this auditor saw was replaced by a restore (not a finding) */
} audit_verify_summary;

/* key: the checkpoint key this auditor pinned, the log's first or any key
 * that a rollover in the log introduced (the rollovers it signed vouch for
 * the keys before it). seen (may be NULL): the last checkpoint this auditor
 * verified before. */
int audit_verifier_new(const audit_vkey *key, const audit_checkpoint *seen,
                       audit_verifier **out, lisec_err *err);
void audit_verifier_free(audit_verifier *v);
/* stored_size is the size the store filed the note under. */
int audit_verifier_add_checkpoint(audit_verifier *v, uint64_t stored_size, const char *note,
                                  size_t len);
/* A log that has never had a checkpoint (a new log, or one that stopped
 * before its first) is not a finding when this is set. */
void audit_verifier_allow_unsigned(audit_verifier *v);
/* stored_leaf_hash may be NULL when the source has none; leaf_hash_out (may
 * be NULL) receives the recomputed leaf hash. */
int audit_verifier_add_entry(audit_verifier *v, uint64_t index, const uint8_t *data, size_t len,
                             const uint8_t *stored_leaf_hash, uint8_t *leaf_hash_out);
/* An entry known only by its stored leaf hash: its position and the tree
 * (so every checkpoint root) are checked, its data is not (not hashed, not
 * decoded). lisecd's open uses it below a checkpoint it verified (issue 22
 * item 7), and checks that data in the background (ctl/auditlog.c). */
int audit_verifier_add_leaf(audit_verifier *v, uint64_t index, const uint8_t leaf_hash[AUDIT_HASH_LEN]);
/* The store's (or lisecd's) "sealed" flag of the entry at index, beside
 * its data: the flag is not hashed, so a flag that says otherwise than the
 * data's first byte (a sealed entry listed as plain, a plain one as sealed)
 * is a finding of its own. */
void audit_verifier_sealed_flag(audit_verifier *v, uint64_t index, bool sealed, const uint8_t *data, size_t len);
/* Starts the verifier at the tree of f->size leaves whose right edge is f,
 * as if the entries below had been added (lisecd's open from a checkpoint's
 * stored frontier: the checkpoint at f->size must give its root); entries
 * then continue at f->size, and checkpoints below it are not compared.
 * Before any entry only (EINVAL after). */
int audit_verifier_start_at(audit_verifier *v, const audit_frontier *f);
void audit_verifier_finish(audit_verifier *v, audit_verify_summary *out);
/* A checkpoint carrying a restore line (its size and root) that this
 * auditor verified before, from its state: that restore is part of the
 * history it saw, so it cannot explain a departure from the checkpoint it
 * saw (only a restore it has not seen can). Before the first entry. */
int audit_verifier_add_known_restore(audit_verifier *v, const audit_checkpoint *cp);
/* The i-th checkpoint of the log that carries a verified restore line, in
 * size order (false past the last): what an auditor keeps in its state. */
bool audit_verifier_restore(const audit_verifier *v, size_t i, audit_checkpoint *out);
/* The key the log's newest checkpoints are signed with, after following
 * every rollover the checkpoints carry (the pinned key when none); valid
 * once the first entry was added or the verifier finished. An auditor
 * keeps it in place of the key it pinned. */
void audit_verifier_current_key(const audit_verifier *v, audit_vkey *out);
/* The findings, one line each ("entry 41: ..."), up to a bound; iterate with
 * i from 0 until NULL. */
const char *audit_verifier_finding(const audit_verifier *v, size_t i);

#endif
