/* The [li] token's session (livm.h): one logged-in session, serialised by a
 * mutex, shared through keys/p11.h with the vault's KEK and the checkpoint
 * signer. It makes no VM keys: LI VMs make their own (issue 20 item 3). */
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/livm.h"
#include "keys/p11.h"

struct keys_livm {
  pthread_mutex_t lock; /* the one session */
  keys_p11 *module;
  CK_FUNCTION_LIST_PTR p11;
  CK_SESSION_HANDLE session;
  bool session_open;
};

static int p11_fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[li]", what, rv); }

int keys_livm_open(const char *module, const char *token, const char *pin, keys_livm **out,
                   lisec_err *err) {
  keys_livm *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->lock, NULL);
  int rc = keys_p11_open(module, NULL, "[li]", &st->module, err);
  if (!rc) {
    st->p11 = keys_p11_functions(st->module);
    rc = keys_p11_session_open(st->module, "[li]", token, pin, &st->session, err);
  }
  if (rc) {
    keys_livm_close(st);
    return rc;
  }
  st->session_open = true;
  *out = st;
  return 0;
}

void keys_livm_close(keys_livm *st) {
  if (!st) return;
  /* No C_Logout: the login is shared with the token's other users here. */
  if (st->session_open) keys_p11_session_close(st->module, st->session);
  keys_p11_close(st->module); /* the module's last user finalises it */
  pthread_mutex_destroy(&st->lock);
  free(st);
}

int keys_livm_check(keys_livm *st, lisec_err *err) {
  CK_SESSION_INFO info;
  pthread_mutex_lock(&st->lock);
  CK_RV rv = st->p11->C_GetSessionInfo(st->session, &info);
  pthread_mutex_unlock(&st->lock);
  if (rv != CKR_OK) return p11_fail(err, "C_GetSessionInfo", rv);
  if (info.state != CKS_RW_USER_FUNCTIONS)
    return lisec_err_set(err, LISEC_EUNAVAIL, "[li] the PKCS#11 session is not logged in (state %lu)",
                         (unsigned long)info.state);
  return 0;
}
