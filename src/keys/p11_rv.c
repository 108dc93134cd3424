/* PKCS#11 return codes in words, in one table: each code lisec may meet
 * with its CKR_ name and what an operator checks when a token call fails
 * with it. keys_p11_fail (p11.c) puts both in every PKCS#11 error lisec
 * reports, so "C_Initialize failed (CKR 0x5)" reads as CKR_GENERAL_ERROR and
 * says where SoftHSM looks: its configuration file (SOFTHSM2_CONF) and its
 * token directory, which a confined service (systemd ProtectSystem=strict,
 * User=lisec) must be allowed to read and write (docs/deploy.md). A code not
 * in the table is given by number and called vendor-defined or unknown. */
#include "keys/p11.h"

typedef struct rv_word {
  CK_RV rv;
  const char *name;
  const char *check; /* what to check; NULL: nothing more to say */
} rv_word;

static const rv_word WORDS[] = {
    {CKR_OK, "CKR_OK", NULL},
    {CKR_CANCEL, "CKR_CANCEL", NULL},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "the module ran out of memory: the service's memory limits"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", "the slot went away: is the token still present"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR",
     "the module could not start: for SoftHSM, is SOFTHSM2_CONF set and its file readable by this "
     "user, and is its tokendir there, readable and writable by this user (systemd: "
     "Environment=SOFTHSM2_CONF=, ReadWritePaths= for the tokendir, the token's group)"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED",
     "the token failed the operation: its files (SoftHSM tokendir) must be writable by this user"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", "a bug: report it with the module's name and version"},
    {CKR_NO_EVENT, "CKR_NO_EVENT", NULL},
    {CKR_NEED_TO_CREATE_THREADS, "CKR_NEED_TO_CREATE_THREADS",
     "the module cannot create its own threads"},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK", "the module cannot lock for several threads (lisec needs CKF_OS_LOCKING_OK)"},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", NULL},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", NULL},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", "the key is not of the type lisec made: check its label"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", "the token does not support the key lisec asks for"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", NULL},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", NULL},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "the token device failed: its connection and its logs"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", "the token is full: remove objects it no longer needs"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the token was removed: put it back and restart lisecd"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID",
     "the wrapped key is not the token's: is this the right token and key label"},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE", NULL},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", NULL},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", "the module does not offer this operation"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", "the key went away: was it deleted from the token"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", "the token does not support this key size"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", "the object under the label is another kind of key"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
     "the key under the label may not be used this way (its CKA_ENCRYPT/CKA_SIGN attributes)"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID",
     "the token does not offer the mechanism (Ed25519 needs SoftHSM 2.6 or a token with CKM_EDDSA)"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", NULL},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", NULL},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", NULL},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", NULL},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", "the PIN in pin_file is not the token's user PIN"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", "the PIN in pin_file has characters the token refuses"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", "the PIN in pin_file is too short or too long for the token"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", "set a new user PIN on the token"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", "too many wrong PINs: the security officer must unlock the token"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", NULL},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", "the token has no session left: other programs using it"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", "the session ended: restart lisecd"},
    {CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED", NULL},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY",
     "the token is read-only to this user: its files (SoftHSM tokendir) must be writable"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", NULL},
    {CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS", NULL},
    {CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS",
     "the security officer is logged in elsewhere: log them out"},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", NULL},
    {CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE", NULL},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", NULL},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", "the token does not accept the key lisec asks for"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", "insert the token, or initialise it (softhsm2-util --init-token)"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", NULL},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED",
     "the token is write-protected: for SoftHSM, its tokendir must be writable by this user"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", NULL},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "the login did not hold: check the PIN and restart lisecd"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED",
     "the token has no user PIN yet: initialise it (softhsm2-util --init-token --pin)"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", NULL},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", NULL},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", NULL},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", NULL},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", "a bug: report it"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", NULL},
};

const char *keys_p11_rv_name(CK_RV rv) {
  for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
    if (WORDS[i].rv == rv) return WORDS[i].name;
  return rv >= CKR_VENDOR_DEFINED ? "vendor-defined" : "unknown";
}

const char *keys_p11_rv_check(CK_RV rv) {
  for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
    if (WORDS[i].rv == rv) return WORDS[i].check;
  return NULL;
}
