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

/* PKCS#11 3.0's message-based decryption, which p11-kit's header on Debian
 * 12 does not declare: the 3.0 function list is the 2.40 one followed by
 * these (in this order), and GCM takes its IV and tag per message. */
typedef struct keys_p11_v3 {
  CK_FUNCTION_LIST v2;
  void *get_interface_list, *get_interface, *login_user, *session_cancel;
  void *message_encrypt_init, *encrypt_message, *encrypt_message_begin, *encrypt_message_next,
      *message_encrypt_final;
  CK_RV (*C_MessageDecryptInit)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
  CK_RV (*C_DecryptMessage)(CK_SESSION_HANDLE, void *param, CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len,
                            CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
  void *decrypt_message_begin, *decrypt_message_next;
  CK_RV (*C_MessageDecryptFinal)(CK_SESSION_HANDLE);
} keys_p11_v3;

typedef struct keys_p11_interface { /* CK_INTERFACE */
  CK_UTF8CHAR_PTR name;
  void *functions;
  CK_FLAGS flags;
} keys_p11_interface;

typedef struct keys_p11_gcm_message {
  CK_BYTE_PTR iv;
  CK_ULONG iv_len, iv_fixed_bits, iv_generator; /* CKG_NO_GENERATE (0) to decrypt */
  CK_BYTE_PTR tag;
  CK_ULONG tag_bits;
} keys_p11_gcm_message;

#define KEYS_P11_PIN_MAX 256

/* The module at path, loaded and initialised on first use, shared after:
 * every successful open needs one keys_p11_close. who ("[vault]", ...)
 * prefixes the errors. init_args (NULL: none) is what C_Initialize passes
 * the module as its parameters (NSS's softoken needs its configdir there);
 * a second open naming other ones than the module was initialised with is
 * refused (EINVAL). */
int keys_p11_open(const char *path, const char *init_args, const char *who, keys_p11 **out, lisec_err *err);
/* The last close finalises the module (unless something outside lisec had
 * initialised it) and unloads it. NULL is ignored. */
void keys_p11_close(keys_p11 *m);
CK_FUNCTION_LIST_PTR keys_p11_functions(const keys_p11 *m);
/* The module's 3.0 function list when it offers message-based decryption
 * (C_GetInterface "PKCS 11" 3.0), else NULL. */
const keys_p11_v3 *keys_p11_v3_functions(const keys_p11 *m);
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
