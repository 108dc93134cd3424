/* Token calls counted outside lisec: bench/vault/p11delay (its path in
 * LISEC_P11DELAY, set by CMake) stands between lisec and the real module,
 * here with no delay, and counts every call that would cross the network
 * to an HSM, 3.0's message-based decryption included. A test names it as
 * its module and reads p11_calls() around what it does; the module stays
 * loaded for the process (one real module a process). */
#ifndef LISEC_TEST_P11_CALLS_H
#define LISEC_TEST_P11_CALLS_H

#include <dlfcn.h>
#include <stdlib.h>

static unsigned long (*p11_calls)(void);

/* The module path to give lisec, or NULL when the counter cannot load. */
static const char *p11_counting(const char *real) {
  setenv("LISEC_BENCH_P11_REAL", real, 1);
  setenv("LISEC_BENCH_P11_DELAY_US", "0", 1);
  void *h = dlopen(LISEC_P11DELAY, RTLD_NOW | RTLD_NODELETE);
  if (h) *(void **)&p11_calls = dlsym(h, "lisec_bench_p11_calls");
  return p11_calls ? LISEC_P11DELAY : NULL;
}

#endif
