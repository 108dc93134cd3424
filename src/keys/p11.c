/* The one PKCS#11 client of a lisecd process (see p11.h): a list of the
 * modules loaded, each with a count of its users, so that the checkpoint
 * signer, the KEK and the LI keys share one load and one C_Initialize of a
 * module whatever order they open in, and C_Finalize runs only after the
 * last of them closed; the token lookup, the login and the PIN file are
 * read here once for all three. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "keys/p11.h"

struct keys_p11 {
  char *path;
  char *init_args; /* NULL: none */
  void *handle;
  CK_FUNCTION_LIST_PTR fn;
  const keys_p11_v3 *fn3; /* NULL: no PKCS#11 3.0 */
  bool initialised; /* by us: ours to finalise */
  unsigned users;
  struct keys_p11 *next;
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static keys_p11 *modules;

int keys_p11_fail(lisec_err *err, const char *who, const char *what, CK_RV rv) {
  const char *check = keys_p11_rv_check(rv);
  return lisec_err_set(err, LISEC_ECRYPTO, "%s%sPKCS#11 %s failed: %s (0x%lx)%s%s", who ? who : "",
                       who && *who ? " " : "", what, keys_p11_rv_name(rv), (unsigned long)rv,
                       check ? ": " : "", check ? check : "");
}

/* The 3.0 list, when the module has C_GetInterface and its 3.0 interface
 * has the three functions lisec uses. */
static const keys_p11_v3 *v3_of(void *handle) {
  keys_p11_interface *iface = NULL;
  CK_RV (*get)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, void *, CK_FLAGS) = NULL;
  *(void **)&get = dlsym(handle, "C_GetInterface");
  CK_VERSION v3 = {3, 0};
  if (!get || get((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &iface, 0) != CKR_OK || !iface || !iface->functions) return NULL;
  const keys_p11_v3 *f = iface->functions;
  if (f->v2.version.major < 3 || !f->C_MessageDecryptInit || !f->C_DecryptMessage || !f->C_MessageDecryptFinal)
    return NULL;
  return f;
}

static int load(const char *path, const char *init_args, const char *who, keys_p11 **out, lisec_err *err) {
  keys_p11 *m = calloc(1, sizeof *m);
  if (!m || !(m->path = strdup(path)) || (init_args && !(m->init_args = strdup(init_args)))) {
    if (m) free(m->path);
    free(m);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  int rc = 0;
  CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR) = NULL;
  if (!(m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s cannot load PKCS#11 module %s: %s", who, path, dlerror());
    goto fail;
  }
  *(void **)&get_list = dlsym(m->handle, "C_GetFunctionList");
  if (!get_list || get_list(&m->fn) != CKR_OK || !m->fn) {
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s %s is not a PKCS#11 module", who, path);
    goto fail;
  }
  /* Several threads call the module (request workers, the checkpoint
   * timer, the ADMF loop): it must do its own locking. */
  CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK, .pReserved = m->init_args};
  CK_RV rv = m->fn->C_Initialize(&args);
  if (rv == CKR_OK) {
    m->initialised = true;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    /* (already initialised: by something outside lisec, e.g. the same
     * library under another path; it is theirs to finalise) */
    rc = keys_p11_fail(err, who, "C_Initialize", rv);
    goto fail;
  }
  m->fn3 = v3_of(m->handle);
  *out = m;
  return 0;
fail:
  if (m->handle) dlclose(m->handle);
  free(m->init_args);
  free(m->path);
  free(m);
  return rc;
}

int keys_p11_open(const char *path, const char *init_args, const char *who, keys_p11 **out, lisec_err *err) {
  if (!path || !*path) return lisec_err_set(err, LISEC_EINVAL, "%s no PKCS#11 module given", who);
  if (init_args && !*init_args) init_args = NULL; /* "pkcs11_init_args =" set to nothing: none */
  pthread_mutex_lock(&modules_lock);
  keys_p11 *m = modules;
  while (m && strcmp(m->path, path) != 0) m = m->next;
  int rc = 0;
  if (m && init_args && (!m->init_args || strcmp(m->init_args, init_args) != 0))
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "%s pkcs11_init_args: %s is already initialised with other parameters by another section",
                       who, path);
  else if (!m && !(rc = load(path, init_args, who, &m, err))) {
    m->next = modules;
    modules = m;
  }
  if (!rc) {
    m->users++;
    *out = m;
  }
  pthread_mutex_unlock(&modules_lock);
  return rc;
}

void keys_p11_close(keys_p11 *m) {
  if (!m) return;
  pthread_mutex_lock(&modules_lock);
  if (--m->users == 0) {
    for (keys_p11 **p = &modules; *p; p = &(*p)->next)
      if (*p == m) {
        *p = m->next;
        break;
      }
    /* ends every session and the login with them */
    if (m->initialised) m->fn->C_Finalize(NULL);
    dlclose(m->handle);
    free(m->init_args);
    free(m->path);
    free(m);
  }
  pthread_mutex_unlock(&modules_lock);
}

CK_FUNCTION_LIST_PTR keys_p11_functions(const keys_p11 *m) { return m->fn; }

const keys_p11_v3 *keys_p11_v3_functions(const keys_p11 *m) { return m->fn3; }

static int find_slot(keys_p11 *m, const char *who, const char *token, CK_SLOT_ID *slot,
                     lisec_err *err) {
  CK_SLOT_ID slots[64];
  CK_ULONG n = LISEC_ARRAY_LEN(slots);
  CK_RV rv = m->fn->C_GetSlotList(CK_TRUE, slots, &n);
  if (rv == CKR_BUFFER_TOO_SMALL) n = LISEC_ARRAY_LEN(slots), rv = CKR_OK; /* the first 64 */
  if (rv != CKR_OK) return keys_p11_fail(err, who, "C_GetSlotList", rv);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO info;
    if (m->fn->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
    char label[33];
    memcpy(label, info.label, 32);
    label[32] = '\0';
    for (int j = 31; j >= 0 && label[j] == ' '; j--) label[j] = '\0';
    if (strcmp(label, token) == 0) {
      *slot = slots[i];
      return 0;
    }
  }
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "%s PKCS#11 token \"%s\" not found among %lu tokens: is token the label given at "
                       "its initialisation, and (SoftHSM) does SOFTHSM2_CONF name the tokendir holding it, "
                       "readable by this user (systemd: ReadWritePaths=, the token's group)",
                       who, token, (unsigned long)n);
}

int keys_p11_session_open(keys_p11 *m, const char *who, const char *token, const char *pin,
                         CK_SESSION_HANDLE *s, lisec_err *err) {
  if (!token || !pin) return lisec_err_set(err, LISEC_EINVAL, "%s PKCS#11 needs a token and a PIN", who);
  CK_SLOT_ID slot = 0;
  int rc = find_slot(m, who, token, &slot, err);
  if (rc) return rc;
  CK_RV rv = m->fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
  if (rv != CKR_OK) return keys_p11_fail(err, who, "C_OpenSession", rv);
  /* Already logged in: another user of the token in this process was. */
  rv = m->fn->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return 0;
  m->fn->C_CloseSession(*s);
  if (rv == CKR_PIN_INCORRECT)
    return lisec_err_set(err, LISEC_EAUTH, "%s PKCS#11 login refused: wrong PIN", who);
  return keys_p11_fail(err, who, "C_Login", rv);
}

void keys_p11_session_close(keys_p11 *m, CK_SESSION_HANDLE s) {
  if (m) m->fn->C_CloseSession(s);
}

int keys_p11_read_pin(const lisec_config *cfg, const char *section, char pin[KEYS_P11_PIN_MAX + 1],
                     lisec_err *err) {
  const char *path = lisec_config_str(cfg, section, "pin_file", NULL);
  if (!path)
    return lisec_err_set(err, LISEC_EINVAL, "[%s] pin_file is required with pkcs11_module", section);
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, KEYS_P11_PIN_MAX + 2, &data, &len, err); /* room for a CR LF */
  if (rc) return lisec_err_wrap(err, "[%s] pin_file", section), rc;
  size_t read = len;
  while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
                 data[len - 1] == '\t'))
    len--;
  if (len == 0 || len > KEYS_P11_PIN_MAX || memchr(data, '\0', len))
    rc = lisec_err_set(err, LISEC_EINVAL, "[%s] pin_file %s: a PIN of 1 to %d bytes, no NUL", section,
                       path, KEYS_P11_PIN_MAX);
  else
    memcpy(pin, data, len), pin[len] = '\0';
  crypto_wipe(data, read);
  free(data);
  return rc;
}
