/* The keys process as a witness of the audit log (TR 103 308 §5.5): it
 * signs a checkpoint only when it is a well-formed checkpoint note whose
 * tree extends the last tree it signed, shown by an RFC 9162 consistency
 * proof the controller sends with it (audit/audit.h verifies it), so a
 * controller taken over through its parsers cannot have a rewritten or
 * forked log signed. The last signed (size, root) and the log's origin
 * line live where the key lives and a restart cannot reset them: a
 * note of another origin (another log under the same key) is refused. The
 * state is a private token object (CKO_DATA,
 * labelled "<key label>-witness") or, for development only, a file beside
 * the development key ("<key file>.witness"). No state yet (a fresh log,
 * an upgrade, an operator's reset after `lisec restore`): the first
 * checkpoint is trusted and recorded (trust on first use). The state is
 * read again at each signature, and moved so that keys processes sharing
 * one token (the nodes of [ha]) witness one history even when they sign at
 * once (witness_state.h). */
#ifndef LISEC_KEYS_WITNESS_H
#define LISEC_KEYS_WITNESS_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"

#define KEYS_WITNESS_SUFFIX "-witness"        /* token object: the key label and this */
#define KEYS_WITNESS_FILE_SUFFIX ".witness"   /* development: the key file and this */
#define KEYS_WITNESS_REQ "TR103308-5.5"

typedef struct keys_witness keys_witness;

/* In the token of session s (which the caller serialises), the object
 * labelled label. */
int keys_witness_open_pkcs11(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, keys_witness **out,
                             lisec_err *err);
/* Development only: the file at path. */
int keys_witness_open_file(const char *path, keys_witness **out, lisec_err *err);
void keys_witness_close(keys_witness *w);

/* The last signed tree: *have false when there is none yet. */
int keys_witness_state(keys_witness *w, bool *have, uint64_t *size, uint8_t root[AUDIT_HASH_LEN], lisec_err *err);
/* The origin of the log it witnesses: "" when there is no state or the
 * state is of the first form (kept before the origin was). */
int keys_witness_origin(keys_witness *w, char origin[AUDIT_ORIGIN_MAX + 1], lisec_err *err);

/* Whether msg (the note text to sign) may be signed, given the proof from
 * the tree of old_size leaves to the tree msg names (proof_len hashes of
 * AUDIT_HASH_LEN bytes); then it is recorded as the last signed, before
 * the caller signs. Refused: ECONFLICT when old_size is not the last
 * signed size (the caller asks the state and proves again), EDENIED naming
 * TR103308-5.5 for anything else (not a checkpoint, a smaller tree,
 * another root at the same size, a proof that does not verify). */
int keys_witness_admit(keys_witness *w, const uint8_t *msg, size_t len, uint64_t old_size, const uint8_t *proof,
                       size_t proof_len, lisec_err *err);

/* The operator's reset (lisec audit witness-reset, keys_witness_config):
 * every state object under the label, or the file, removed, so that the
 * next checkpoint is trusted on first use. No message of the controller's
 * reaches it: only a program given the configuration and the PIN. */
int keys_witness_reset(keys_witness *w, lisec_err *err);

#endif
