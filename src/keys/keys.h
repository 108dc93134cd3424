/* keys/ is lisecd's keys process: the only part of lisecd that logs into a
 * PKCS#11 token or holds key material (TR 103 308 §5.5, §5.7; issue 16). It
 * keeps the vault's key-encryption keys and the short-lived cache of
 * unwrapped data keys, the audit log's checkpoint signing key and the LI
 * VMs' key pairs, and answers the controller over a socketpair with the
 * typed messages of keys/wire.h. Vault records are sealed, opened and
 * re-wrapped whole in here, so no data key ever leaves the process; the
 * controller gets sealed records, identifiers it asked to open, signatures
 * and public keys. This header is both sides: the client the controller
 * uses (thread-safe; a keys process that is gone is EUNAVAIL, never a hang)
 * and the service the keys process runs. */
#ifndef LISEC_KEYS_H
#define LISEC_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "vault/vault.h"

#define KEYS_KEK_NAME_MAX 64 /* a token key's CKA_LABEL */

typedef struct keys_client keys_client;
typedef struct keys_service keys_service;

/* What the keys process holds, as it said when the client connected. */
typedef struct keys_info {
  bool vault;             /* [vault]: a KEK is open */
  bool vault_development; /* ... and it is the development file key */
  bool audit;             /* [audit]: a checkpoint signing key is open */
  bool audit_development; /* ... and it is the development file key */
  uint8_t audit_pk[32];   /* its Ed25519 public key */
  bool li;                /* [li]: a token session for LI VM keys */
} keys_info;

/* ---- the client (the controller's side) -------------------------------- */

/* Takes fd (closed by keys_client_close, also on failure) and asks the keys
 * process what it holds. */
int keys_client_open(int fd, keys_client **out, lisec_err *err);
/* [keys]: the channel between the controller and the keys process, parsed
 * once at start (keys_settings_parse) and used by both ends.
 *   spin_us (0-1000, default KEYS_SPIN_US_DEFAULT): how long each side
 *     waits awake for the other's next message before it blocks. A round
 *     trip between two processes otherwise pays two wake-ups of a sleeping
 *     thread, which on a virtual machine whose idle vCPUs halt is most of
 *     its ~50 us (bench/vault); 0 always blocks at once. Each side spins
 *     only while the other's messages have come within spin_us: after a
 *     wait that blocked, the next waits block at once, but every
 *     KEYS_SPIN_PROBE-th spins anyway (a blocked wait includes its own
 *     wake-up, so it cannot tell that messages come fast again). The keys
 *     process does not spin while a KEK rotation sends it REWRAPs.
 *   max_message (bytes, KEYS_MESSAGE_MIN..KEYS_MESSAGE_LIMIT, default
 *     KEYS_PAYLOAD_MAX): the largest payload either side sends or accepts.
 *   max_batch (1..KEYS_BATCH_LIMIT, default KEYS_BATCH_DEFAULT): records
 *     in one OPEN_BATCH or REWRAP_BATCH; the client splits larger batches,
 *     the keys process refuses them. */
/* [vault] token_sessions: the token sessions that wrap and unwrap data
 * keys in the keys process, which answers that many misses at once. A KEK
 * rotation keeps KEYS_ROTATION_LANES of them busy with re-wraps (threads
 * of the keys process at [vault] rotation_nice that share each
 * REWRAP_BATCH's records out among them; the controller keeps that many
 * batches in flight), one fewer than all when there are several, so cold
 * target reads during a rotation still find a session. */
#define KEYS_VAULT_SESSIONS_DEFAULT 4u
#define KEYS_VAULT_SESSIONS_MAX 64u
#define KEYS_ROTATION_LANES(sessions) ((sessions) > 1 ? (sessions) - 1 : 1)
#define KEYS_SPIN_US_DEFAULT 50
#define KEYS_SPIN_PROBE 4
typedef struct keys_settings {
  unsigned spin_us;
  uint32_t max_message;
  uint32_t max_batch;
} keys_settings;
int keys_settings_parse(const lisec_config *cfg, keys_settings *out, lisec_err *err);
/* The client's half of [keys]; a client starts with the defaults. */
void keys_client_configure(keys_client *k, const keys_settings *s);
/* Closes the socket (the keys process then ends its serve); for a client
 * from keys_local_start also stops and closes the service. NULL ignored. */
void keys_client_close(keys_client *k);
const keys_info *keys_client_info(const keys_client *k);

/* The vault. Seal validates and seals identifiers for target id under
 * authorisation at version with a fresh data key wrapped by the current
 * KEK; *out is the caller's (vault_sealed_free). */
int keys_vault_seal(keys_client *k, const char *id, const char *authorisation, int64_t version,
                    const json_t *identifiers, vault_sealed *out, lisec_err *err);
/* Opens a sealed record with the KEK its label names (older KEKs stay
 * usable after a rotation); *identifiers is the caller's (json_decref). */
int keys_vault_open(keys_client *k, const vault_sealed *s, json_t **identifiers, lisec_err *err);
/* Opens n records in as few round trips as [keys] max_batch and
 * max_message allow (one for a batch within both). fn is called once per
 * record, in order, with i its index and either rc 0 and the identifiers
 * (the callee's, json_decref) or the record's own error (rc, msg; ids
 * NULL). Returns 0 when every record was answered, whatever each answer
 * was; an error only for the channel (the keys process then is gone). */
typedef void (*keys_opened_fn)(void *ctx, size_t i, int rc, const char *msg, json_t *identifiers);
int keys_vault_open_many(keys_client *k, const vault_sealed *s, size_t n, keys_opened_fn fn, void *ctx,
                         lisec_err *err);
/* Re-wraps s's data key under the current KEK when another one wraps it
 * (the ciphertext is untouched); *changed (may be NULL) says whether.
 * kek_label is the current KEK's record label as the caller knows it (a
 * KEK rotation's): an answer under another label is refused (ECONFLICT,
 * naming TR103308-5.7; s untouched), since the record would be stored
 * naming a KEK that does not wrap it. NULL takes whichever it is. */
int keys_vault_rewrap(keys_client *k, vault_sealed *s, const char *kek_label, bool *changed, lisec_err *err);
/* Re-wraps n records as keys_vault_rewrap re-wraps one, in as few round
 * trips (REWRAP_BATCH) as [keys] max_batch and max_message allow: the keys
 * process re-wraps a batch's records in parallel on the KEK rotation's
 * lanes (below), so a network HSM's round trips overlap without a message
 * and a thread wake-up per record. fn is called once per record, in order,
 * with i its index and either rc 0 (s[i] then names the KEK that wraps it
 * and holds its new wrapped key; changed: it was under another KEK) or
 * the record's own error (rc, msg; s[i] untouched; a record without an id
 * is refused so, unsent, since no answer could name it; so is one answered
 * under another label than kek_label, as keys_vault_rewrap refuses it). Returns 0 when every
 * record was answered, whatever each answer was; an error for the channel
 * (the keys process then is gone) or a batch refused whole (over [keys]
 * max_batch or max_message, ETOOBIG), when fn was not called for the
 * records from that batch on. */
typedef void (*keys_rewrapped_fn)(void *ctx, size_t i, int rc, const char *msg, bool changed);
int keys_vault_rewrap_many(keys_client *k, vault_sealed *s, size_t n, const char *kek_label, keys_rewrapped_fn fn,
                           void *ctx, lisec_err *err);
/* Makes the token key called name current, generating it (sensitive, not
 * extractable) when absent and create is set. */
int keys_vault_use_kek(keys_client *k, const char *name, bool create, lisec_err *err);
/* The current KEK's name and record label; either may be NULL. */
int keys_vault_current_kek(keys_client *k, char name[KEYS_KEK_NAME_MAX + 1],
                           char label[VAULT_ID_MAX + 1], lisec_err *err);
/* Unloads every KEK but the current one (after a rotation moved every
 * record to it); *unloaded (may be NULL) gets how many. */
int keys_vault_unload_keks(keys_client *k, size_t *unloaded, lisec_err *err);
/* Wipes the cached data key of record s (its id and wrapped key are all
 * that is sent) in the keys process: called once the record is gone or has
 * another wrapped key (a target removed or updated, its authorisation
 * ended), so the key does not stay in memory until [vault] cache_ttl_s
 * (TR 103 308 §5.7). *evicted (may be NULL): one was cached. Evicting what
 * is not cached is no error; the next read of the record asks the token. */
int keys_vault_evict(keys_client *k, const vault_sealed *s, bool *evicted, lisec_err *err);
/* How many data keys the keys process's cache holds now (expired ones not
 * yet wiped included): lisec_vault_cache_keys. */
int keys_vault_cache_held(keys_client *k, uint64_t *held, lisec_err *err);
/* A token key name: 1 to 64 of A-Z a-z 0-9 . _ - */
bool keys_kek_name_valid(const char *name);

/* The audit log's checkpoint key (ctx = the client; the public key is
 * keys_client_info()->audit_pk), by the keys process as a witness
 * (keys/witness.h): msg, a checkpoint note's text, is signed (by the next
 * key when next, a rollover's) only when proof (NULL: empty) shows that
 * its tree extends the one of old_size leaves, which must be the last one
 * the keys process signed (keys_audit_witness; ECONFLICT when it is not).
 * EDENIED naming TR103308-5.5: refused as a fork, a rollback or no
 * checkpoint. */
int keys_audit_sign_proven(void *ctx, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                           const audit_proof *proof, uint8_t sig[64], lisec_err *err);
/* The last checkpoint the keys process signed: *have false when none. */
int keys_audit_witness(void *ctx, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err);
/* A checkpoint key rollover (issue 21 item 5): the next key (made afresh,
 * or the one there), an audit_sign_fn with it, and its promotion to the
 * checkpoint key, which retires the old one in the token. */
int keys_audit_next(void *k, bool fresh, uint8_t pk[32], lisec_err *err);
int keys_audit_promote(void *k, const uint8_t pk[32], lisec_err *err);

/* 0 when the [li] session is open and logged in as the user. */
int keys_li_check(keys_client *k, lisec_err *err);

/* The X1 client's TLS handshake signature (ECDSA, DER) over digest, with
 * the EC private key in the PEM file at key_path, which only the keys
 * process reads (the controller keeps the certificate). cap is sig's size. */
int keys_x1_sign(keys_client *k, const char *key_path, const uint8_t *digest, size_t len, uint8_t *sig,
                 size_t cap, size_t *sig_len, lisec_err *err);
/* The same with any of keys/wire.h's X1_SIGN algorithms (KEYS_X1_*): an
 * RSA key signs a DigestInfo (PKCS#1 v1.5) or a PSS block. */
int keys_x1_sign_alg(keys_client *k, const char *key_path, unsigned alg, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len, lisec_err *err);

/* Retained Data (issue 20; keys/rdkey.h): the data key of an RD store for
 * one retention period, from the [rd] token (generated there first when
 * create is set; ENOTFOUND otherwise), wrapped in the token to recipient,
 * the RD VM's P-256 point (0x04 || X || Y): eph gets the token's ephemeral
 * point, wrapped the data key under AES key wrap (RFC 3394) with the ECDH
 * x-coordinate of eph and recipient. No clear key on either side. And its
 * destruction at the end of retention (*count: objects destroyed; 0 when
 * it was gone already). */
/* vm is the RD VM the key is for and reg (reg_len bytes) the RD
 * administration's signed registration of recipient for vm
 * (model/rd_register.h): the keys process verifies it against its own
 * [rd] admin_pubkey and wraps nothing without it (EDENIED naming
 * TR103308-5.7-RD-RECIPIENT). */
int keys_rd_key(keys_client *k, const char *store, uint64_t period, bool create, const uint8_t recipient[65],
                const char *vm, const uint8_t *reg, size_t reg_len, uint8_t eph[65], uint8_t wrapped[40],
                lisec_err *err);
int keys_rd_destroy(keys_client *k, const char *store, uint64_t period, uint64_t *count, lisec_err *err);

/* ---- the service (the keys process's body) ----------------------------- */

/* Opens what cfg's [vault], [audit] and [li] name: the PKCS#11 modules and
 * sessions (PINs from their pin_file), or the development key files when
 * asked for by name with allow_development_key = true (logged loudly). */
int keys_service_open(const lisec_config *cfg, keys_service **out, lisec_err *err);
/* Answers requests on fd until the peer closes it (0) or the channel
 * breaks (EIO). Does not close fd. Requests are read in turn; an OPEN
 * whose data key is not cached and an OPEN_BATCH are answered on one of
 * [vault] token_sessions threads (when more than one), and a REWRAP or
 * REWRAP_BATCH on one of the KEK rotation's threads (KEYS_ROTATION_LANES,
 * at [vault] rotation_nice), so misses of several callers wait on the
 * token together and replies may come back out of order (the client
 * matches them by id). */
int keys_service_serve(keys_service *s, int fd, lisec_err *err);
void keys_service_close(keys_service *s);

/* The service on a thread of this process over a socketpair (unit tests,
 * lisecd --check-config): *out is a client like any other;
 * keys_client_close stops the thread and closes the service. */
int keys_local_start(const lisec_config *cfg, keys_client **out, lisec_err *err);

/* lisecd --check-config (check.c): checks [audit], [vault] and [li]'s keys
 * without making or changing any (module, token, PIN, key present); each
 * finding goes to report (problem true: a problem; false: a note) and the
 * number of problems is returned. */
typedef void (*keys_check_report)(void *ctx, bool problem, const char *msg);
int keys_check(const lisec_config *cfg, keys_check_report report, void *ctx);

/* The audit log's witness state (keys/witness.h) where lisecd's
 * configuration puts it ([audit]: the token's "<key_label>-witness" with
 * pkcs11_module, token and pin_file; else "<development_key_file>.witness"),
 * for lisecd --check-config and the operator's reset (witness_admin.c).
 * where says which; have, size, root and origin the last checkpoint
 * signed (origin "" in a state of the first form, kept before it was);
 * damaged (have false) when one is there but cannot be read, why in
 * damaged_why. With reset, the state is read first, then removed (a
 * damaged one too), so that the next checkpoint is trusted on first use.
 * EAUTH: the PIN is refused; ENOTFOUND: no checkpoint key configured. */
typedef struct keys_witness_info {
  char where[320];
  bool have, damaged;
  uint64_t size;
  uint8_t root[32];
  char origin[256];
  char damaged_why[LISEC_ERR_MSG_MAX];
} keys_witness_info;
int keys_witness_config(const lisec_config *cfg, bool reset, keys_witness_info *info, lisec_err *err);

#endif
