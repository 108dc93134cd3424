/* A throw-away SoftHSM2 token for a unit test that needs a real PKCS#11
 * token: a configuration and token directory under /tmp, one token labelled
 * lisec-test with user PIN 1234 (as scripts/test/softhsm-start makes it),
 * exported as SOFTHSM2_CONF and LISEC_P11_MODULE. When LISEC_P11_MODULE is
 * set already (an integration script made the token) that one is used. */
#ifndef LISEC_TEST_SOFTHSM_TOKEN_H
#define LISEC_TEST_SOFTHSM_TOKEN_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char softhsm_dir[64];

/* 0, or -1 with a reason on stderr. */
static int softhsm_token_make(void) {
  if (getenv("LISEC_P11_MODULE")) return 0;
  static const char *const modules[] = {"/usr/lib/softhsm/libsofthsm2.so",
                                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                                        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"};
  const char *module = NULL;
  for (size_t i = 0; i < sizeof modules / sizeof *modules && !module; i++)
    if (access(modules[i], R_OK) == 0) module = modules[i];
  snprintf(softhsm_dir, sizeof softhsm_dir, "/tmp/lisec-test-hsm-XXXXXX");
  if (!module || !mkdtemp(softhsm_dir)) {
    fprintf(stderr, "no libsofthsm2.so (run scripts/bootstrap) or no temporary directory\n");
    softhsm_dir[0] = '\0';
    return -1;
  }
  char path[128];
  snprintf(path, sizeof path, "%s/tokens", softhsm_dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/softhsm2.conf", softhsm_dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
          softhsm_dir);
  fclose(f);
  setenv("SOFTHSM2_CONF", path, 1);
  setenv("LISEC_P11_MODULE", module, 1);
  if (system("softhsm2-util --init-token --free --label lisec-test --pin 1234 --so-pin so-1234 "
             ">/dev/null") != 0) {
    fprintf(stderr, "softhsm2-util could not make a token\n");
    return -1;
  }
  return 0;
}

static void softhsm_token_remove(void) {
  if (!softhsm_dir[0]) return;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", softhsm_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", softhsm_dir);
  softhsm_dir[0] = '\0';
}

#endif
