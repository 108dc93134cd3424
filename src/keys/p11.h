/* The one PKCS#11 client of a lisecd process. The audit log's checkpoint
 * signer, the vault's KEK and the LI VMs' keys may all live in the same
 * module and token; each opens the module through here, so it is loaded
 * once, initialised once (always with CKF_OS_LOCKING_OK: these users call
 * it from several threads) and finalised when the last user closes it, and
 * every user reads its PIN and logs in the same way. */
#ifndef LISEC_KEYS_P11_H
#define LISEC_KEYS_P11_H

#include <p11-kit/pkcs11.h>

#include "base/base.h"

typedef struct keys_p11 keys_p11;

#define KEYS_P11_PIN_MAX 256

/* The module at path, loaded and initialised on first use, shared after:
 * every successful open needs one keys_p11_close. who ("[vault]", ...)
 * prefixes the errors. */
int keys_p11_open(const char *path, const char *who, keys_p11 **out, lisec_err *err);
/* The last close finalises the module (unless something outside lisec had
 * initialised it) and unloads it. NULL is ignored. */
void keys_p11_close(keys_p11 *m);
CK_FUNCTION_LIST_PTR keys_p11_functions(const keys_p11 *m);
/* A read-write session on the token labelled token, logged in as the user.
 * EUNAVAIL when no such token, EAUTH for a wrong PIN. The session is closed
 * with keys_p11_session_close; nobody logs out (the login is shared by every
 * session of the process on that token; the last close ends it). */
int keys_p11_session_open(keys_p11 *m, const char *who, const char *token, const char *pin,
                         CK_SESSION_HANDLE *s, lisec_err *err);
void keys_p11_session_close(keys_p11 *m, CK_SESSION_HANDLE s);
/* The user PIN of [section] from its pin_file (at most KEYS_P11_PIN_MAX
 * bytes; trailing CR, LF, spaces and tabs are not part of it) into pin,
 * NUL-terminated. Wipe it with crypto_wipe when done. */
int keys_p11_read_pin(const lisec_config *cfg, const char *section, char pin[KEYS_P11_PIN_MAX + 1],
                     lisec_err *err);
/* ECRYPTO: "<who> PKCS#11 <what> failed: CKR_NAME (0x..): what to check". */
int keys_p11_fail(lisec_err *err, const char *who, const char *what, CK_RV rv);
/* From p11_rv.c's table: a code's CKR_ name ("vendor-defined" or "unknown"
 * when not listed) and what an operator checks (NULL: nothing to add). */
const char *keys_p11_rv_name(CK_RV rv);
const char *keys_p11_rv_check(CK_RV rv);

#endif
