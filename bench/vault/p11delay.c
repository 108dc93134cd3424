/* bench/vault/p11delay: a PKCS#11 module for benchmarks only that stands
 * for a network HSM. It loads the real module named by
 * LISEC_BENCH_P11_REAL (SoftHSM2 in the benches), hands out that module's
 * function list with every call that would cross the network to an HSM
 * (sessions, login, object search, key generation, attributes, encrypt,
 * decrypt, sign, wrap) replaced by one that first waits
 * LISEC_BENCH_P11_DELAY_US microseconds (default 1000; read on every call,
 * so a bench can change it between phases) and then forwards. Module
 * set-up calls (C_Initialize, slot and token listing) are not delayed.
 * When the real module offers PKCS#11 3.0 (C_GetInterface), so does this
 * one, with the message-based decryption lisec uses delayed too.
 * lisec_bench_p11_calls() counts the delayed calls, for a bench that loads
 * this module in its own process. Never part of lisec: it lives in bench/
 * and is built only as a bench helper. */
#include <dlfcn.h>
#include <errno.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/p11.h"

static CK_FUNCTION_LIST real_list, ours;
static CK_FUNCTION_LIST_PTR real;
static atomic_ulong calls;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static CK_RV load_rv = CKR_GENERAL_ERROR;

unsigned long lisec_bench_p11_calls(void) { return atomic_load(&calls); }

/* Waits the configured delay, to an absolute deadline so a wake-up that is
 * early (a signal) still waits the whole time; a late one (a loaded
 * machine) is a late network reply. */
static void network(void) {
  atomic_fetch_add(&calls, 1);
  const char *e = getenv("LISEC_BENCH_P11_DELAY_US");
  long us = e ? atol(e) : 1000;
  if (us <= 0) return;
  if (us > 1000000) us = 1000000;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_nsec += us * 1000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
  }
}

#define P(...) __VA_ARGS__
#define DELAYED(name, params, args)        \
  static CK_RV d_##name params {           \
    network();                             \
    return real->C_##name args;            \
  }
DELAYED(OpenSession, (P(CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e)), (a, b, c, d, e))
DELAYED(CloseSession, (CK_SESSION_HANDLE a), (a))
DELAYED(GetSessionInfo, (P(CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b)), (a, b))
DELAYED(Login, (P(CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d)), (a, b, c, d))
DELAYED(Logout, (CK_SESSION_HANDLE a), (a))
DELAYED(DestroyObject, (P(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b)), (a, b))
DELAYED(GetAttributeValue, (P(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d)),
        (a, b, c, d))
DELAYED(SetAttributeValue, (P(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d)),
        (a, b, c, d))
DELAYED(FindObjectsInit, (P(CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c)), (a, b, c))
DELAYED(FindObjects, (P(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d)), (a, b, c, d))
DELAYED(FindObjectsFinal, (CK_SESSION_HANDLE a), (a))
DELAYED(EncryptInit, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)), (a, b, c))
DELAYED(Encrypt, (P(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)),
        (a, b, c, d, e))
DELAYED(DecryptInit, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)), (a, b, c))
DELAYED(Decrypt, (P(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)),
        (a, b, c, d, e))
DELAYED(SignInit, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)), (a, b, c))
DELAYED(Sign, (P(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)), (a, b, c, d, e))
DELAYED(GenerateKey, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                        CK_OBJECT_HANDLE_PTR e)),
        (a, b, c, d, e))
DELAYED(GenerateKeyPair, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                            CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h)),
        (a, b, c, d, e, f, g, h))
DELAYED(WrapKey, (P(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d,
                    CK_BYTE_PTR e, CK_ULONG_PTR f)),
        (a, b, c, d, e, f))

static keys_p11_v3 real3, ours3;
static keys_p11_interface iface3 = {(CK_UTF8CHAR_PTR) "PKCS 11", &ours3, 0};

static CK_RV d_MessageDecryptInit(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c) {
  network();
  return real3.C_MessageDecryptInit(a, b, c);
}
static CK_RV d_DecryptMessage(CK_SESSION_HANDLE a, void *b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e, CK_BYTE_PTR f,
                              CK_ULONG g, CK_BYTE_PTR h, CK_ULONG_PTR i) {
  network();
  return real3.C_DecryptMessage(a, b, c, d, e, f, g, h, i);
}
static CK_RV d_MessageDecryptFinal(CK_SESSION_HANDLE a) {
  network();
  return real3.C_MessageDecryptFinal(a);
}

/* The real module's 3.0 list, when it has one, behind ours. */
static void load3(void *h) {
  CK_RV (*get)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, void *, CK_FLAGS) = NULL;
  *(void **)&get = dlsym(h, "C_GetInterface");
  keys_p11_interface *i = NULL;
  CK_VERSION v3 = {3, 0};
  if (!get || get((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &i, 0) != CKR_OK || !i || !i->functions) return;
  real3 = *(const keys_p11_v3 *)i->functions;
  ours3 = real3;
  ours3.v2 = ours;
  ours3.v2.version = real3.v2.version;
  ours3.C_MessageDecryptInit = d_MessageDecryptInit;
  ours3.C_DecryptMessage = d_DecryptMessage;
  ours3.C_MessageDecryptFinal = d_MessageDecryptFinal;
  iface3.flags = i->flags;
}

static void load(void) {
  const char *path = getenv("LISEC_BENCH_P11_REAL");
  void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  CK_C_GetFunctionList get = NULL;
  if (h) *(void **)&get = dlsym(h, "C_GetFunctionList");
  CK_FUNCTION_LIST_PTR l = NULL;
  if (!get || get(&l) != CKR_OK || !l) return;
  real_list = *l;
  real = &real_list;
  ours = real_list;
#define USE(name) ours.C_##name = d_##name
  USE(OpenSession), USE(CloseSession), USE(GetSessionInfo), USE(Login), USE(Logout);
  USE(DestroyObject), USE(GetAttributeValue), USE(SetAttributeValue);
  USE(FindObjectsInit), USE(FindObjects), USE(FindObjectsFinal);
  USE(EncryptInit), USE(Encrypt), USE(DecryptInit), USE(Decrypt), USE(SignInit), USE(Sign);
  USE(GenerateKey), USE(GenerateKeyPair), USE(WrapKey);
  load3(h);
  load_rv = CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  pthread_once(&once, load);
  if (load_rv != CKR_OK || !out) return load_rv != CKR_OK ? load_rv : CKR_ARGUMENTS_BAD;
  *out = &ours;
  return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, void **out, CK_FLAGS flags) {
  (void)flags;
  pthread_once(&once, load);
  if (load_rv != CKR_OK || !out) return load_rv != CKR_OK ? load_rv : CKR_ARGUMENTS_BAD;
  if (!ours3.C_DecryptMessage || (name && strcmp((const char *)name, "PKCS 11") != 0) ||
      (version && version->major != 3))
    return CKR_ARGUMENTS_BAD;
  *out = &iface3;
  return CKR_OK;
}
