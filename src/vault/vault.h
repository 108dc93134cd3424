/* vault/ keeps LI target selectors unreadable at rest (TR 103 308 §5.2,
 * §5.7): it validates each identifier by its kind (the kinds of ETSI TS 103
 * 221-1), seals a target's identifiers under a fresh per-record data key with
 * AES-256-GCM bound to the record id, authorisation id and version, and asks
 * a key-encryption key that stays outside the process (a PKCS#11 token) to
 * wrap that data key. Pure: the KEK is reached through callbacks. */
#ifndef LISEC_VAULT_H
#define LISEC_VAULT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define VAULT_DATA_KEY_LEN 32
#define VAULT_ID_MAX 128
#define VAULT_MAX_IDENTIFIERS 64
#define VAULT_IDENTIFIER_MAX 256

/* The identifier kinds of ETSI TS 103 221-1 that lisec accepts. */
typedef enum {
  VAULT_E164,
  VAULT_IMSI,
  VAULT_IMEI,
  VAULT_SUPI,
  VAULT_GPSI,
  VAULT_IPV4,
  VAULT_IPV6,
  VAULT_IPV4_PREFIX,
  VAULT_IPV6_PREFIX,
  VAULT_MAC,
  VAULT_EMAIL,
  VAULT_SIP_URI,
  VAULT_TEL_URI,
  VAULT_PORT_RANGE,
  VAULT_KIND_COUNT
} vault_kind;

const char *vault_kind_name(vault_kind k);
int vault_kind_parse(const char *name, vault_kind *out);
/* Checks one identifier against its kind; the reason names field and rule. */
int vault_identifier_check(vault_kind kind, const char *value, const char *field, lisec_err *err);

/* Validates a target's identifier list: [{"kind": "imsi", "value": "..."}],
 * 1..VAULT_MAX_IDENTIFIERS entries, each checked. */
int vault_identifiers_check(const json_t *identifiers, lisec_err *err);

/* The key-encryption key, outside the process: wrap and unwrap a data key.
 * wrapped holds at most VAULT_WRAPPED_MAX bytes. */
#define VAULT_WRAPPED_MAX 256
typedef struct vault_kek {
  int (*wrap)(void *ctx, const uint8_t key[VAULT_DATA_KEY_LEN], uint8_t *wrapped,
              size_t *wrapped_len, lisec_err *err);
  int (*unwrap)(void *ctx, const uint8_t *wrapped, size_t wrapped_len,
                uint8_t key[VAULT_DATA_KEY_LEN], lisec_err *err);
  const char *label; /* which KEK, stored with the record */
  void *ctx;
} vault_kek;

/* A sealed target as stored: everything here is safe to write to a database. */
typedef struct vault_sealed {
  char id[VAULT_ID_MAX + 1];
  char authorisation[VAULT_ID_MAX + 1];
  int64_t version;
  char kek_label[VAULT_ID_MAX + 1];
  uint8_t wrapped_key[VAULT_WRAPPED_MAX];
  size_t wrapped_key_len;
  uint8_t *ciphertext; /* malloc'd: nonce || AES-256-GCM(identifiers JSON) || tag */
  size_t ciphertext_len;
} vault_sealed;

/* Seals the identifiers (validated first) of target id under authorisation
 * at version: a fresh data key, wrapped by kek, wiped before return. */
int vault_seal(const char *id, const char *authorisation, int64_t version,
               const json_t *identifiers, const vault_kek *kek, vault_sealed *out, lisec_err *err);
/* Opens a sealed target; fails (ECRYPTO) when the ciphertext was moved to
 * another record, authorisation or version, or altered. *identifiers is the
 * caller's to json_decref; the plaintext buffer is wiped. */
int vault_open(const vault_sealed *s, const vault_kek *kek, json_t **identifiers, lisec_err *err);
/* Re-wraps the data key under a new KEK without touching the ciphertext. */
int vault_rewrap(vault_sealed *s, const vault_kek *old_kek, const vault_kek *new_kek,
                 lisec_err *err);
void vault_sealed_free(vault_sealed *s);

/* A KEK that caches unwrapped data keys can open records itself, keeping
 * each key's cipher context ready and never handing the key out: open
 * decrypts nonce || AES-256-GCM ciphertext || tag (in_len bytes) into pt
 * (in_len - 28 bytes) with the data key that wrapped wraps; ECRYPTO when the
 * tag or aad does not match. vault_open_with is vault_open through it. */
typedef struct vault_opener {
  int (*open)(void *ctx, const uint8_t *wrapped, size_t wrapped_len, const void *aad,
              size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *pt, lisec_err *err);
  void *ctx;
} vault_opener;
int vault_open_with(const vault_sealed *s, const vault_opener *op, json_t **identifiers,
                    lisec_err *err);

/* Storage form: JSON with base64 fields and no identifier in clear. */
int vault_sealed_to_json(const vault_sealed *s, json_t **out, lisec_err *err);
int vault_sealed_from_json(const json_t *j, vault_sealed *out, lisec_err *err);
/* The stored text (len bytes) back into a struct: the canonical form that
 * vault_sealed_to_json + lisec_json_dump_canonical write is read in one pass,
 * any other JSON through vault_sealed_from_json. */
int vault_sealed_parse(const char *body, size_t len, vault_sealed *out, lisec_err *err);
/* vault_sealed_parse for the record stored under id: one whose own id is
 * another (a record copied or moved whole, whose associated data still
 * matches its own fields) is refused, ECRYPTO naming TR103308-5.2 and id. */
int vault_sealed_parse_as(const char *id, const char *body, size_t len, vault_sealed *out, lisec_err *err);

#endif
