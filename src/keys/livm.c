/* The LI VMs' key pairs (livm.h): one logged-in session on [li] token,
 * serialised by a mutex, shared through keys/p11.h with the vault's KEK and
 * the checkpoint signer. */
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
  int rc = keys_p11_open(module, "[li]", &st->module, err);
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

int keys_livm_generate(keys_livm *st, const char *vm, uint8_t point[KEYS_LIVM_POINT_MAX],
                       size_t *point_len, uint64_t h[2], lisec_err *err) {
  static const CK_BYTE p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  size_t n = strlen(vm);
  if (n == 0 || n > KEYS_LIVM_ID_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "[li] a VM id is 1 to %d bytes", KEYS_LIVM_ID_MAX);
  char label[sizeof KEYS_LIVM_LABEL_PREFIX + KEYS_LIVM_ID_MAX];
  snprintf(label, sizeof label, KEYS_LIVM_LABEL_PREFIX "%s", vm);
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_ATTRIBUTE pub_t[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
                          {CKA_TOKEN, &yes, sizeof yes},
                          {CKA_VERIFY, &yes, sizeof yes},
                          {CKA_LABEL, label, strlen(label)},
                          {CKA_ID, (void *)vm, n}};
  /* Sensitive and never extractable: the VM's private key cannot leave the token. */
  CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
                           {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_EXTRACTABLE, &no, sizeof no},
                           {CKA_SIGN, &yes, sizeof yes},      {CKA_LABEL, label, strlen(label)},
                           {CKA_ID, (void *)vm, n}};
  CK_OBJECT_HANDLE oh[2] = {0, 0};
  CK_ATTRIBUTE get = {CKA_EC_POINT, point, KEYS_LIVM_POINT_MAX};
  pthread_mutex_lock(&st->lock);
  CK_RV rv = st->p11->C_GenerateKeyPair(st->session, &mech, pub_t, LISEC_ARRAY_LEN(pub_t), priv_t,
                                        LISEC_ARRAY_LEN(priv_t), &oh[0], &oh[1]);
  if (rv == CKR_OK) rv = st->p11->C_GetAttributeValue(st->session, oh[0], &get, 1);
  if (rv != CKR_OK)
    for (int i = 0; i < 2; i++)
      if (oh[i]) st->p11->C_DestroyObject(st->session, oh[i]);
  pthread_mutex_unlock(&st->lock);
  if (rv != CKR_OK) return p11_fail(err, "C_GenerateKeyPair", rv);
  h[0] = oh[0];
  h[1] = oh[1];
  *point_len = get.ulValueLen;
  return 0;
}

int keys_livm_destroy(keys_livm *st, const uint64_t h[2], lisec_err *err) {
  int rc = 0;
  pthread_mutex_lock(&st->lock);
  for (int i = 0; i < 2 && !rc; i++) {
    if (!h[i]) continue;
    char label[sizeof KEYS_LIVM_LABEL_PREFIX + KEYS_LIVM_ID_MAX];
    CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label};
    CK_RV rv = st->p11->C_GetAttributeValue(st->session, (CK_OBJECT_HANDLE)h[i], &a, 1);
    size_t pl = strlen(KEYS_LIVM_LABEL_PREFIX);
    if (rv != CKR_OK || a.ulValueLen < pl || a.ulValueLen > sizeof label ||
        memcmp(label, KEYS_LIVM_LABEL_PREFIX, pl) != 0)
      rc = lisec_err_set(err, LISEC_EDENIED, "[li] object %llu is not an LI VM's key; not destroyed",
                         (unsigned long long)h[i]);
    else if ((rv = st->p11->C_DestroyObject(st->session, (CK_OBJECT_HANDLE)h[i])) != CKR_OK)
      rc = p11_fail(err, "C_DestroyObject", rv);
  }
  pthread_mutex_unlock(&st->lock);
  return rc;
}

int keys_livm_destroy_vm(keys_livm *st, const char *vm, uint64_t *count, lisec_err *err) {
  size_t n = strlen(vm);
  *count = 0;
  if (n == 0 || n > KEYS_LIVM_ID_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "[li] a VM id is 1 to %d bytes", KEYS_LIVM_ID_MAX);
  char label[sizeof KEYS_LIVM_LABEL_PREFIX + KEYS_LIVM_ID_MAX];
  snprintf(label, sizeof label, KEYS_LIVM_LABEL_PREFIX "%s", vm);
  /* The VM's objects by label and id, as keys_livm_generate made them;
   * found and destroyed until none is left, then looked for once more. */
  CK_ATTRIBUTE find[] = {{CKA_LABEL, label, strlen(label)}, {CKA_ID, (void *)vm, n}};
  CK_OBJECT_HANDLE oh[8];
  CK_ULONG got = 0;
  CK_RV rv = CKR_OK;
  const char *what = "C_FindObjects";
  pthread_mutex_lock(&st->lock);
  for (int round = 0; round < 64 && rv == CKR_OK; round++) {
    rv = st->p11->C_FindObjectsInit(st->session, find, LISEC_ARRAY_LEN(find));
    if (rv != CKR_OK) break;
    rv = st->p11->C_FindObjects(st->session, oh, LISEC_ARRAY_LEN(oh), &got);
    st->p11->C_FindObjectsFinal(st->session);
    if (rv != CKR_OK || got == 0) break;
    for (CK_ULONG i = 0; i < got && rv == CKR_OK; i++)
      if ((rv = st->p11->C_DestroyObject(st->session, oh[i])) == CKR_OK) (*count)++;
      else what = "C_DestroyObject";
  }
  pthread_mutex_unlock(&st->lock);
  if (rv != CKR_OK) return p11_fail(err, what, rv);
  if (got) return lisec_err_set(err, LISEC_ECRYPTO, "[li] VM %s's key objects are still in the token", vm);
  return 0;
}
