/* The X1 client's TLS key stays out of the controller (src/ctl/x1_admf.c,
 * issue 16): a client opens with the ADMF's EC or RSA certificate and a
 * keys service to sign with its key; a certificate whose key is neither
 * (Ed25519) is refused naming the requirement, and so is a key without a keys process
 * to sign with it, or a certificate without its key. (The handshake itself,
 * signed by the keys process, is x1_admf's and lisecd_memory's.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ctl/x1_admf.h"

static char dir[] = "/tmp/test_x1_client_XXXXXX";

static void make_pair(const char *name, const char *newkey) {
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -new -newkey %s -nodes -days 1 -subj /CN=%s -keyout %s/%s.key -out %s/%s.crt "
           ">/dev/null 2>&1",
           newkey, name, dir, name, dir, name);
  assert_int_equal(system(cmd), 0);
}

static void test_client_key_types(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_non_null(mkdtemp(dir));
  make_pair("ec", "ec -pkeyopt ec_paramgen_curve:P-256");
  make_pair("rsa", "rsa:2048");
  make_pair("ed", "ed25519");
  char ec_crt[128], ec_key[128], rsa_crt[128], rsa_key[128], ed_crt[128], ed_key[128];
  snprintf(ed_crt, sizeof ed_crt, "%s/ed.crt", dir);
  snprintf(ed_key, sizeof ed_key, "%s/ed.key", dir);
  snprintf(ec_crt, sizeof ec_crt, "%s/ec.crt", dir);
  snprintf(ec_key, sizeof ec_key, "%s/ec.key", dir);
  snprintf(rsa_crt, sizeof rsa_crt, "%s/rsa.crt", dir);
  snprintf(rsa_key, sizeof rsa_key, "%s/rsa.key", dir);
  lisec_config *cfg = lisec_config_new();
  keys_client *keys = NULL;
  assert_int_equal(keys_local_start(cfg, &keys, &err), 0);

  ctl_x1_client *c = NULL;
  ctl_x1_peer ec = {"https://127.0.0.1:1/X1/NE", ec_crt, ec_key, ec_crt, keys, 0, 0};
  assert_int_equal(ctl_x1_client_open(&ec, &c, &err), 0);
  ctl_x1_client_close(c);

  c = NULL;
  ctl_x1_peer rsa = {"https://127.0.0.1:1/X1/NE", rsa_crt, rsa_key, ec_crt, keys, 0, 0};
  assert_int_equal(ctl_x1_client_open(&rsa, &c, &err), 0);
  ctl_x1_client_close(c);

  c = NULL;
  ctl_x1_peer ed = {"https://127.0.0.1:1/X1/NE", ed_crt, ed_key, ec_crt, keys, 0, 0};
  assert_int_equal(ctl_x1_client_open(&ed, &c, &err), LISEC_EINVAL);
  assert_null(c);
  assert_non_null(strstr(err.msg, "must be an EC key (ECDSA, e.g. P-256) or an RSA key"));

  ctl_x1_peer no_keys = {"https://127.0.0.1:1/X1/NE", ec_crt, ec_key, ec_crt, NULL, 0, 0};
  assert_int_equal(ctl_x1_client_open(&no_keys, &c, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "keys process"));

  ctl_x1_peer half = {"https://127.0.0.1:1/X1/NE", ec_crt, NULL, ec_crt, keys, 0, 0};
  assert_int_equal(ctl_x1_client_open(&half, &c, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "needs its key"));

  char missing[160];
  snprintf(missing, sizeof missing, "%s/none.crt", dir);
  ctl_x1_peer gone = {"https://127.0.0.1:1/X1/NE", missing, ec_key, ec_crt, keys, 0, 0};
  assert_int_equal(ctl_x1_client_open(&gone, &c, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "cannot read it"));

  keys_client_close(keys);
  lisec_config_free(cfg);
  const char *names[] = {"ec.crt", "ec.key", "rsa.crt", "rsa.key", "ed.crt", "ed.key"};
  for (int i = 0; i < 6; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_client_key_types)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
