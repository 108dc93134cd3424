/* The messages between the controller and the keys process (issue 16), on
 * the framing of ipc/ipc.h: one request type per operation, answered by one
 * reply with the same type and id and the flag KEYS_FLAG_REPLY, whose
 * payload is {rc, error message} and, when rc is 0, the operation's result.
 * The fields of each type are fixed and bounded; a decoder reads all of
 * them and refuses a message with a field too long, a value out of range,
 * bytes left over or an unknown type. Byte fields of a decoded message
 * point into the payload it was decoded from (valid while that lives).
 *
 *   type            request                                 reply (rc 0)
 *   HELLO           -                                       features, audit pk, KEK name, label
 *   SEAL            id, authorisation, version, ids JSON    sealed record
 *   OPEN            sealed record                           identifiers JSON
 *   REWRAP          sealed record                           sealed record, changed
 *   KEK_USE         name, create                            KEK name, label
 *   KEK_CURRENT     -                                       KEK name, label
 *   KEK_UNLOAD      -                                       count
 *   AUDIT_SIGN      message, old size, proof                signature (64 bytes)
 *   LI_CHECK        -                                       -
 *   X1_SIGN         key path, algorithm, digest             signature (DER)
 *   AUDIT_NEXT      create                                  next checkpoint key's pk (32)
 *   AUDIT_SIGN_NEXT message, old size, proof                signature by the next key (64)
 *   AUDIT_PROMOTE   pk (32)                                 -
 *   OPEN_BATCH      count, count x sealed record            count, count x {id, rc, reason, identifiers JSON}
 *   RD_KEY          store id, period, create, recipient,    ephemeral point (65), wrapped key (40)
 *                   VM id, registration
 *   RD_DESTROY      store id, period                        count destroyed
 *   REWRAP_BATCH    count, count x sealed record            count, count x {id, version, rc, reason,
 *                                                             changed, KEK label, wrapped key}
 *   AUDIT_WITNESS   -                                       have, size, root (32): the last signed
 *   EVICT           record id, wrapped key                  count wiped (0 or 1)
 *   CACHE_HELD      -                                       data keys the cache holds
 *
 * AUDIT_SIGN(_NEXT)'s message is a checkpoint note's text, and the proof
 * (at most AUDIT_PROOF_MAX hashes of 32 bytes) the RFC 9162 consistency
 * proof from the tree of old size leaves (the last one the keys process
 * signed, as AUDIT_WITNESS tells it) to the tree the message names: the
 * keys process signs only a tree that extends the last one it signed
 * (keys/witness.h).
 *
 * RD_KEY's recipient is the RD VM's P-256 point (0x04 || X || Y) and its
 * answer the token's ephemeral point and the data key wrapped to the
 * recipient (keys/rdkey.h): the data key never crosses this wire in clear,
 * and a decoder refuses an answer of any other size. The request also
 * carries the VM the key is for and the RD administration's signed
 * registration of the recipient for that VM (model/rd_register.h, at most
 * KEYS_RD_REG_MAX bytes), which the keys process verifies itself against
 * [rd] admin_pubkey before it wraps: the controller cannot pick the
 * recipient.
 *
 * A sealed record is id, authorisation, version, KEK label, wrapped key,
 * ciphertext: the fields of vault_sealed, nothing in clear.
 *
 * OPEN_BATCH opens many records in one round trip (the ADMF's
 * reconciliation): 1 to [keys] max_batch records in, and as many answers,
 * in the request's order, as fit the reply's bound ([keys] max_message; at
 * least one), each echoing its record's id so an answer out of order is
 * caught; the client asks again for the rest.
 *
 * REWRAP_BATCH is REWRAP for many records in one round trip (a KEK
 * rotation's, issue 22 item 6), bounded and answered as OPEN_BATCH is:
 * 1 to [keys] max_batch records, answers in the request's order as fit
 * [keys] max_message (at least one), each echoing its record's id and
 * version. An answer carries only what a re-wrap changes, the KEK label
 * and the wrapped key (the ciphertext is the controller's already), or
 * the record's own error; one record's failure is its answer's, not the
 * batch's.
 *
 * EVICT wipes the cached data key of a record that is gone (a target
 * removed or updated, an authorisation ended): the cache is keyed by the
 * wrapped key, so the request carries the record's id (1 to VAULT_ID_MAX
 * characters; never logged) and its wrapped key (1 to VAULT_WRAPPED_MAX
 * bytes), nothing else of it. Evicting what is not cached is no error
 * (count 0), so a repeat is harmless, and the most a peer can do with it
 * is make the next read of that record ask the token (TR 103 308 §5.7:
 * keys no longer needed are destroyed). CACHE_HELD says how many data
 * keys the cache holds now (expired ones not wiped yet included): what
 * lisecd's metrics show, a count only, naming no record. */
#ifndef LISEC_KEYS_WIRE_H
#define LISEC_KEYS_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc/ipc.h"
#include "keys/keys.h"
#include "keys/rdkey.h"

/* [keys] max_message (the payload bound of one message, both ways) and
 * max_batch (records in one OPEN_BATCH): defaults and the limits a
 * setting must keep. The smallest max_message still carries one record of
 * KEYS_DATA_MAX bytes; KEYS_BATCH_LIMIT is every decoder's own bound. */
#define KEYS_PAYLOAD_MAX (1u << 20)
#define KEYS_MESSAGE_MIN (KEYS_DATA_MAX + 8192u)
#define KEYS_MESSAGE_LIMIT (64u << 20)
#define KEYS_BATCH_DEFAULT 256u
#define KEYS_BATCH_LIMIT 4096u
/* identifiers JSON, a record's ciphertext, a message to sign */
#define KEYS_DATA_MAX (256u << 10)
#define KEYS_NAME_MAX 128 /* a KEK name (64) or an LI VM id (128) */
#define KEYS_FLAG_REPLY 1u
/* CACHE_HELD's answer is at most the largest cache ([vault] cache_keys) */
#define KEYS_CACHE_HELD_MAX (1u << 20)
/* X1_SIGN: an absolute path (tasks.c's PATH_MAX_LEN), the data to sign
 * (by algorithm, below), a signature of at most KEYS_X1_SIG_MAX (RSA-4096) */
#define KEYS_PATH_MAX 1024
#define KEYS_X1_DIGEST_MAX 64
#define KEYS_X1_SIG_MAX 512
/* X1_SIGN's algorithms, each for its key type:
 *   ECDSA      an EC key; data: the digest the TLS library computed
 *   RSA_PKCS1  an RSA key; data: a DER DigestInfo (RSASSA-PKCS1-v1_5),
 *              at most KEYS_X1_DIGESTINFO_MAX bytes
 *   RSA_PSS    an RSA key; data: an EMSA-PSS block of the key's size that
 *              the keys process checks is one (salt as long as the hash,
 *              SHA-256/384/512) before its private operation, so it never
 *              serves as a raw RSA oracle */
#define KEYS_X1_ECDSA 1u
#define KEYS_X1_RSA_PKCS1 2u
#define KEYS_X1_RSA_PSS 3u
#define KEYS_X1_DIGESTINFO_MAX (19 + KEYS_X1_DIGEST_MAX)
#define KEYS_X1_PSS_MIN 128 /* RSA-1024's block; libssl refuses smaller keys anyway */

enum {
  KEYS_MSG_HELLO = 1,
  KEYS_MSG_SEAL,
  KEYS_MSG_OPEN,
  KEYS_MSG_REWRAP,
  KEYS_MSG_KEK_USE,
  KEYS_MSG_KEK_CURRENT,
  KEYS_MSG_KEK_UNLOAD,
  KEYS_MSG_AUDIT_SIGN,
  KEYS_MSG_LI_CHECK,
  KEYS_MSG_X1_SIGN,
  KEYS_MSG_AUDIT_NEXT,
  KEYS_MSG_AUDIT_SIGN_NEXT,
  KEYS_MSG_AUDIT_PROMOTE,
  KEYS_MSG_OPEN_BATCH,
  KEYS_MSG_RD_KEY,     /* issue 20: Retained Data keys (keys/rdkey.h) */
  KEYS_MSG_RD_DESTROY,
  KEYS_MSG_REWRAP_BATCH, /* issue 22 item 6: a KEK rotation's re-wraps, many a round trip */
  KEYS_MSG_AUDIT_WITNESS, /* the last checkpoint signed (keys/witness.h) */
  KEYS_MSG_EVICT,         /* a gone record's cached data key, wiped */
  KEYS_MSG_CACHE_HELD,    /* how many data keys the cache holds */
  KEYS_MSG_END
};

/* HELLO's features */
#define KEYS_HAS_VAULT 0x01u
#define KEYS_VAULT_DEV 0x02u
#define KEYS_HAS_AUDIT 0x04u
#define KEYS_AUDIT_DEV 0x08u
#define KEYS_HAS_LI 0x10u

typedef struct keys_request {
  uint16_t type;
  char id[VAULT_ID_MAX + 1];            /* SEAL */
  char authorisation[VAULT_ID_MAX + 1]; /* SEAL */
  int64_t version;                      /* SEAL */
  const uint8_t *data;                  /* SEAL: identifiers JSON; AUDIT_SIGN(_NEXT): the message;
                                           X1_SIGN: the digest; AUDIT_PROMOTE: the pk;
                                           RD_KEY: the recipient's point (65) */
  size_t data_len;
  vault_sealed sealed;                  /* OPEN, REWRAP (ciphertext borrowed, never freed);
                                           EVICT: its id and wrapped key only */
  char name[KEYS_NAME_MAX + 1];         /* KEK_USE: the key; RD_KEY, RD_DESTROY: the store */
  uint64_t period;                      /* RD_KEY, RD_DESTROY */
  bool create;                          /* KEK_USE, AUDIT_NEXT */
  char path[KEYS_PATH_MAX + 1];         /* X1_SIGN: the key file */
  uint8_t alg;                          /* X1_SIGN: KEYS_X1_ECDSA, _RSA_PKCS1, _RSA_PSS */
  uint32_t batch_count;                 /* OPEN_BATCH, REWRAP_BATCH: records, 1..KEYS_BATCH_LIMIT */
  const uint8_t *batch;                 /* OPEN_BATCH, REWRAP_BATCH: the records' fields, each checked */
  size_t batch_len;
  char vm[KEYS_NAME_MAX + 1];           /* RD_KEY: the RD VM the key is wrapped for */
  const uint8_t *rd_reg;                /* RD_KEY: the signed registration of the recipient */
  size_t rd_reg_len;
  uint64_t old_size;                    /* AUDIT_SIGN(_NEXT): where the consistency proof starts */
  const uint8_t *proof;                 /* AUDIT_SIGN(_NEXT): its hashes, 32 bytes each */
  size_t proof_len;                     /* (in bytes, a multiple of 32) */
} keys_request;

typedef struct keys_reply {
  uint16_t type;
  int rc;                     /* 0 or a negative LISEC_E* */
  char msg[LISEC_ERR_MSG_MAX]; /* the reason when rc != 0 */
  /* with rc 0 only: */
  keys_info info;                                              /* HELLO */
  char name[KEYS_KEK_NAME_MAX + 1], label[VAULT_ID_MAX + 1];   /* HELLO, KEK_USE, KEK_CURRENT */
  vault_sealed sealed;                                         /* SEAL, REWRAP (ciphertext borrowed) */
  bool changed;                                                /* REWRAP */
  const uint8_t *data; /* OPEN: identifiers JSON; AUDIT_SIGN(_NEXT), X1_SIGN: signature;
                          AUDIT_NEXT: the pk; RD_KEY: the wrapped data key (40) */
  size_t data_len;
  const uint8_t *rd_eph; /* RD_KEY: the token's ephemeral point (65) */
  size_t rd_eph_len;
  uint64_t count;      /* KEK_UNLOAD; RD_DESTROY: objects destroyed; EVICT: keys wiped (0, 1);
                          CACHE_HELD: keys held */
  uint32_t batch_count; /* OPEN_BATCH, REWRAP_BATCH: answers, 1..KEYS_BATCH_LIMIT */
  const uint8_t *batch; /* OPEN_BATCH, REWRAP_BATCH: the answers' fields, each checked */
  size_t batch_len;
  bool witness_have;    /* AUDIT_WITNESS: a checkpoint was signed, */
  uint64_t witness_size; /* ... at this size */
  uint8_t witness_root[32]; /* ... with this root */
} keys_reply;

/* One answer of an OPEN_BATCH reply. */
typedef struct keys_opened {
  char id[VAULT_ID_MAX + 1];   /* the record's id, echoed */
  int rc;                      /* 0 or a negative LISEC_E* */
  char msg[LISEC_ERR_MSG_MAX]; /* the reason when rc != 0 */
  const uint8_t *data;         /* rc 0: the identifiers JSON */
  size_t data_len;
} keys_opened;

/* One answer of a REWRAP_BATCH reply. */
typedef struct keys_rewrapped {
  char id[VAULT_ID_MAX + 1];       /* the record's id and version, echoed */
  int64_t version;
  int rc;                          /* 0 or a negative LISEC_E* */
  char msg[LISEC_ERR_MSG_MAX];     /* the reason when rc != 0 */
  bool changed;                    /* rc 0: it was under another KEK */
  char kek_label[VAULT_ID_MAX + 1]; /* rc 0: the KEK that wraps it now */
  const uint8_t *wrapped_key;      /* rc 0: its data key wrapped by that KEK */
  size_t wrapped_key_len;
} keys_rewrapped;

/* Walks the records of a decoded OPEN_BATCH or REWRAP_BATCH request or
 * the answers of its reply (already checked whole by the decoder, so each
 * next succeeds while any is left; false at the end). */
typedef struct keys_batch_iter {
  ipc_reader r;
  uint32_t left;
} keys_batch_iter;
void keys_wire_batch_begin(keys_batch_iter *it, const uint8_t *p, size_t n, uint32_t count);
bool keys_wire_batch_sealed(keys_batch_iter *it, vault_sealed *s);
bool keys_wire_batch_opened(keys_batch_iter *it, keys_opened *o);
bool keys_wire_batch_rewrapped(keys_batch_iter *it, keys_rewrapped *a);
/* The writers of one record and one answer, for building a batch. */
void keys_wire_put_sealed(ipc_writer *w, const vault_sealed *s);
void keys_wire_put_opened(ipc_writer *w, const keys_opened *o);
void keys_wire_put_rewrapped(ipc_writer *w, const keys_rewrapped *a);
/* The bytes a record takes in a request, and an answer in a reply. */
size_t keys_wire_sealed_size(const vault_sealed *s);
size_t keys_wire_opened_size(const keys_opened *o);
size_t keys_wire_rewrapped_size(const keys_rewrapped *a);

/* "SEAL", ...; "unknown" for anything else. */
const char *keys_wire_type_name(uint16_t type);
/* Writes q's fields for q->type (w->failed when they pass w's bound). */
void keys_wire_put_request(ipc_writer *w, const keys_request *q);
/* Decodes a request of type from its payload; EINVAL naming the problem. */
int keys_wire_get_request(uint16_t type, const uint8_t *p, size_t n, keys_request *q, lisec_err *err);
void keys_wire_put_reply(ipc_writer *w, const keys_reply *r);
int keys_wire_get_reply(uint16_t type, const uint8_t *p, size_t n, keys_reply *r, lisec_err *err);

#endif
