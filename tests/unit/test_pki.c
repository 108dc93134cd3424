/* Unit tests of the development PKI: every certificate chains to the CA,
 * carries its role in the SAN URI and the OU with the right key usage, keys
 * match and are private files, and a non-empty directory is not overwritten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "crypto/pki.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/lisec-test-pki-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  lisec_err err = {0};
  return pki_init(dir, false, 30, &err);
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

static X509 *load(const char *stem) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s.crt", dir, stem);
  X509 *c = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_x509_load_pem(path, &c, &err), 0);
  return c;
}

static bool has_uri(X509 *c, const char *want) {
  GENERAL_NAMES *names = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
  bool found = false;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_URI &&
        strcmp((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), want) == 0)
      found = true;
  }
  GENERAL_NAMES_free(names);
  return found;
}

static void test_every_role_chains_and_carries_role(void **state) {
  (void)state;
  char ca[256];
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  for (size_t i = 0; i < pki_dev_roles_len; i++) {
    X509 *c = load(pki_dev_roles[i].stem);
    lisec_err err = {0};
    assert_int_equal(crypto_x509_verify(c, ca, 0, &err), 0);
    char uri[128], ou[128];
    snprintf(uri, sizeof uri, "urn:lisec:role:%s", pki_dev_roles[i].role);
    assert_true(has_uri(c, uri));
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_organizationalUnitName, ou,
                                          sizeof ou) > 0);
    assert_string_equal(ou, pki_dev_roles[i].role);
    assert_true(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
    assert_false(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(c), 0);
    /* the key file matches the certificate and is private */
    char kp[256];
    snprintf(kp, sizeof kp, "%s/%s.key", dir, pki_dev_roles[i].stem);
    EVP_PKEY *k = NULL;
    assert_int_equal(crypto_pkey_load_pem(kp, true, &k, &err), 0);
    assert_int_equal(X509_check_private_key(c, k), 1);
    struct stat st;
    assert_int_equal(stat(kp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    EVP_PKEY_free(k);
    X509_free(c);
  }
}

static void test_server_cert(void **state) {
  (void)state;
  X509 *c = load("server");
  assert_int_equal(X509_check_host(c, "localhost", 0, 0, NULL), 1);
  assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
  assert_int_equal(X509_check_ip_asc(c, "::1", 0), 1);
  assert_int_not_equal(X509_check_host(c, "example.net", 0, 0, NULL), 1);
  assert_true(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
  X509_free(c);
  X509 *ca = load("ca");
  assert_int_equal(X509_check_ca(ca), 1);
  X509_free(ca);
}

static void test_refuses_non_empty_dir(void **state) {
  (void)state;
  lisec_err err = {0};
  X509 *before = load("ca");
  assert_int_equal(pki_init(dir, false, 30, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "not empty"));
  X509 *after = load("ca");
  assert_int_equal(X509_cmp(before, after), 0);
  X509_free(before);
  X509_free(after);
}

static void test_issue_extra_and_other_ca_rejected(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_int_equal(pki_issue(dir, "node-9", "host", "node-9.example", 5, &err), 0);
  X509 *c = load("node-9");
  assert_true(has_uri(c, "urn:lisec:role:host"));
  assert_int_equal(pki_issue(dir, "../evil", "host", "x", 5, &err), LISEC_EINVAL);
  /* a certificate from another CA does not chain to this one */
  char other[80], ca[256];
  snprintf(other, sizeof other, "%s/other", dir);
  assert_int_equal(pki_init(other, false, 5, &err), 0);
  snprintf(ca, sizeof ca, "%s/ca.crt", other);
  assert_int_equal(crypto_x509_verify(c, ca, 0, &err), LISEC_ECRYPTO);
  /* and expired at a time past its validity */
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  assert_int_equal(crypto_x509_verify(c, ca, lisec_time_now() + 30 * 86400, &err), LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "expired"));
  X509_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_role_chains_and_carries_role), cmocka_unit_test(test_server_cert),
      cmocka_unit_test(test_refuses_non_empty_dir), cmocka_unit_test(test_issue_extra_and_other_ca_rejected),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
