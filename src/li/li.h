/* li/ holds the LI function of a VM to TR 103 308 §4.1 and §4.2: each LI
 * VM gets its own key pair and is paired with the LI administration, which
 * signs that VM's public key; once paired, only a command signed by the LI
 * administration, for that VM, with a counter above every earlier one and
 * not yet expired, can switch it off again; and an LI VM talks only to
 * known (paired) LI VMs and registered peers. Pure: keys come in as
 * EVP_PKEYs, commands as bytes, and the last accepted counter is passed in
 * and out (the controller persists it). docs/li.md has the formats. */
#ifndef LISEC_LI_H
#define LISEC_LI_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "crypto/crypto.h"

#define LI_VM_ID_MAX 128
#define LI_MSG_MAX 4096                     /* a signed command or statement file */
#define LI_CMD_LIFETIME_MAX (7 * 24 * 3600) /* a command expires within a week */
#define LI_COUNTER_MAX ((uint64_t)1 << 53)  /* exact in JSON numbers */

/* off -> enabled (hypervisor-admin) -> paired (li-admin) -> off (a command
 * signed by the LI administration). Before pairing, the hypervisor
 * administration may switch it off again by itself. From any of the three,
 * a retire command signed by the LI administration ends the LI VM for good
 * (retired: its pairing ends and its key is destroyed; nothing leaves
 * retired, issue 21). */
typedef enum { LI_STATE_OFF, LI_STATE_ENABLED, LI_STATE_PAIRED, LI_STATE_RETIRED } li_state;
const char *li_state_name(li_state s); /* "off", "enabled", "paired", "retired" */
int li_state_parse(const char *s, li_state *out);

/* What the controller keeps per VM. last_counter survives disabling and
 * re-pairing: it is never reset, or an old command could be replayed. */
typedef struct li_vm {
  char id[LI_VM_ID_MAX + 1];
  li_state state;
  uint8_t key_sha256[CRYPTO_SHA256_LEN]; /* the paired VM key (SPKI DER) */
  bool has_key;
  uint64_t last_counter;
  /* After a restore of the store (`lisec restore` put an older state and
   * counter back; docs/li.md, "After a restore"): restored_at is the
   * latest restore's time (0: none), held says the LI administration has
   * not confirmed this VM's state since. A held VM is kept as if paired:
   * no role but the LI administration switches it off. And with
   * restored_at set, a signed message for any VM is accepted only when it
   * expires after restored_at + LI_CMD_LIFETIME_MAX, so none that
   * could have been signed before the restore (and was spent since, on
   * counters the restore put back) is accepted again. The controller sets
   * both from what it stores. */
  int64_t restored_at;
  bool held;
} li_vm;

/* The requirement a refusal after a restore names, and the store's
 * documents it keeps: `lisec restore` leaves {"restored_at":T} as
 * "pending"; lisecd records the hold at its next start and keeps the
 * latest restore's time as "last". */
#define LI_RESTORE_RULE "TR103308-4.1-RESTORE"
#define LI_RESTORE_DOC_KIND "li.restore"
#define LI_RESTORE_PENDING_ID "pending"
#define LI_RESTORE_LAST_ID "last"

/* A VM id: lisec's one id rule (LISEC_ID_RULE in base/base.h). */
int li_vm_id_check(const char *id, lisec_err *err);
int li_vm_init(li_vm *vm, const char *id, lisec_err *err);

/* SHA-256 of the key's SubjectPublicKeyInfo (DER): how a VM key is named. */
int li_key_sha256(EVP_PKEY *key, uint8_t out[CRYPTO_SHA256_LEN], lisec_err *err);

/* ---- transitions (actor is the caller's role: "hypervisor-admin",
 * "li-admin", "operator", ...). A refusal is EDENIED/EAUTH with the clause;
 * the controller audits every call, refused or not. ---------------------- */

/* off -> enabled, by the hypervisor administration only. */
int li_enable(li_vm *vm, const char *actor, lisec_err *err);
/* enabled -> paired, by the LI administration: pairing is the LI
 * administration's statement (li_pair_verify) naming this VM and the key
 * it was given at instantiation, for the VM's current last_counter, not
 * expired at now. */
int li_pair(li_vm *vm, const char *actor, EVP_PKEY *li_admin_key, EVP_PKEY *vm_key,
            const uint8_t *statement, size_t len, int64_t now, lisec_err *err);
/* A direct switch-off by a role: allowed for the hypervisor administration
 * while enabled and not yet paired; refused for a paired VM whoever asks
 * (TR 103 308 §4.1: only the LI administration system may authorise it).
 * A held VM (after a restore) that is enabled is switched off by the LI
 * administration only (li-admin), which ends the hold. */
int li_disable(li_vm *vm, const char *actor, lisec_err *err);
/* The LI administration confirms a held VM's state as it stands after a
 * restore (li-admin only; ECONFLICT when not held): the hold ends. Pairing
 * and the signed commands end it too. */
int li_confirm(li_vm *vm, const char *actor, lisec_err *err);
/* paired -> off by a signed command (li_command_verify): the VM's counter
 * advances to the command's. */
int li_disable_signed(li_vm *vm, EVP_PKEY *li_admin_key, const uint8_t *cmd, size_t len,
                      int64_t now, lisec_err *err);
/* off, enabled or paired -> retired by a signed retire command
 * (li_retire_verify): the VM's counter advances to the command's, the
 * pairing ends. ECONFLICT for a VM retired already. The caller destroys
 * the VM's key and stores the state. */
int li_retire_signed(li_vm *vm, EVP_PKEY *li_admin_key, const uint8_t *cmd, size_t len,
                     int64_t now, lisec_err *err);

/* ---- signed messages ---------------------------------------------------- */

/* The signed disable command: JSON
 *   {"command":{"counter":N,"expires":T,"type":"li-disable","v":1,"vm":"ID"},
 *    "signature":"<base64>"}
 * The signature (crypto_pkey_sign: ECDSA over SHA-256, or Ed25519) covers the
 * canonical bytes {"counter":N,"expires":T,"type":"li-disable","v":1,"vm":"ID"}
 * (keys sorted, no spaces, decimal integers), which the verifier rebuilds
 * from the parsed fields, so whitespace or key order in transit cannot
 * change what was signed. */
typedef struct li_command {
  char vm[LI_VM_ID_MAX + 1];
  uint64_t counter;
  int64_t expires;
} li_command;

/* The canonical bytes of a command (NUL-terminated in out). */
int li_command_canonical(const li_command *c, char *out, size_t out_len, lisec_err *err);
/* Signs c with key into a command file (malloc'd JSON, NUL-terminated). */
int li_command_sign(const li_command *c, EVP_PKEY *key, char **out, lisec_err *err);
/* Parses and verifies a command for vm_id: signature by li_admin_key, vm
 * matches, counter > last_counter (else ECONFLICT: a replay), now <
 * expires <= now + LI_CMD_LIFETIME_MAX. */
int li_command_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                      uint64_t last_counter, int64_t now, li_command *out, lisec_err *err);

/* The signed retire command: the same five fields and rules as the disable
 * command with "type":"li-retire", so neither can be taken for the other
 * (the type is in the signed bytes). It counts on the VM's one counter:
 * a retire command's counter must be above every disable command's too. */
int li_retire_canonical(const li_command *c, char *out, size_t out_len, lisec_err *err);
int li_retire_sign(const li_command *c, EVP_PKEY *key, char **out, lisec_err *err);
int li_retire_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                     uint64_t last_counter, int64_t now, li_command *out, lisec_err *err);

/* The pairing statement: JSON
 *   {"statement":{"expires":T,"key_sha256":"HEX","last_counter":N,"type":"li-pair",
 *                 "v":2,"vm":"ID"}, "signature":"<base64>"}
 * signed over its canonical bytes (keys sorted, no spaces), rebuilt from the
 * parsed fields. last_counter is the VM's last accepted disable counter
 * when the statement was signed: a disable command moves it on, so the
 * statement cannot pair the VM again after that (it is not fresh). */
int li_pair_sign(const char *vm_id, EVP_PKEY *vm_key, uint64_t last_counter, int64_t expires,
                 EVP_PKEY *li_admin_key, char **out, lisec_err *err);
/* Verifies that li_admin_key signed a pairing of vm_key to vm_id for the
 * VM's last_counter (a smaller one: ECONFLICT, replayed), and now <
 * expires <= now + LI_CMD_LIFETIME_MAX. */
int li_pair_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                   EVP_PKEY *vm_key, uint64_t last_counter, int64_t now, lisec_err *err);

/* The expiry of a signed message (statement or command) already verified,
 * for the check after a restore (li_vm.restored_at). */
int li_message_expires(const uint8_t *data, size_t len, int64_t *expires, lisec_err *err);
/* After a restore: refused (EDENIED, LI_RESTORE_RULE) when expires is
 * not after vm->restored_at + LI_CMD_LIFETIME_MAX; what ("pairing
 * statement", "disable command", ...) names the message. */
int li_restore_fresh(const li_vm *vm, int64_t expires, const char *what, lisec_err *err);

/* ---- known peers (TR 103 308 §4.2) -------------------------------------- */

typedef struct li_peer {
  const char *id;
  bool registered; /* known to the model at all */
  bool li;         /* carries an LI function (enabled or paired) */
  li_state state;
} li_peer;
/* A connection that involves an LI VM is allowed only between registered
 * VMs, and every LI end must be paired. */
int li_connection_check(const li_peer *a, const li_peer *b, lisec_err *err);

#endif
