/* Unit tests of the development PKI (src/crypto/pki.c): every certificate
 * chains to the CA under OpenSSL's own X509_verify_cert with the purpose it
 * is for, carries its role in the SAN URI and the OU, has an ECDSA P-256 key
 * that matches its private key file (mode 0600), a positive random serial of
 * at most 128 bits and the asked validity; the CA is CA:TRUE pathlen 0 with
 * keyCertSign. Bad cases: a non-empty directory, a file in place of one, a
 * role that would smuggle another name into the SAN, overwriting the CA,
 * a CA key that does not match its certificate, a certificate of another CA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "crypto/pki.h"

#define DAYS 30

static char dir[64];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/lisec-test-pki-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  lisec_err err = {0};
  return pki_init(dir, false, DAYS, &err);
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

static void path_of(char *out, size_t len, const char *stem, const char *ext) {
  snprintf(out, len, "%s/%s.%s", dir, stem, ext);
}

static X509 *load(const char *stem) {
  char path[256];
  path_of(path, sizeof path, stem, "crt");
  X509 *c = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_x509_load_pem(path, &c, &err), 0);
  return c;
}

static bool exists(const char *stem, const char *ext) {
  char path[256];
  path_of(path, sizeof path, stem, ext);
  return access(path, F_OK) == 0;
}

/* OpenSSL's own chain check against DIR/ca.crt, for the given purpose. */
static int verify_for(X509 *c, const char *ca_dir, int purpose) {
  char ca[256];
  snprintf(ca, sizeof ca, "%s/ca.crt", ca_dir);
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  assert_int_equal(X509_STORE_load_file(store, ca), 1);
  assert_int_equal(X509_STORE_CTX_init(ctx, store, c, NULL), 1);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int ok = X509_verify_cert(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
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

static int count_names(X509 *c) {
  GENERAL_NAMES *names = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
  int n = names ? sk_GENERAL_NAME_num(names) : 0;
  GENERAL_NAMES_free(names);
  return n;
}

/* The key file beside the certificate: P-256, matching, mode 0600. */
static void check_key(X509 *c, const char *stem) {
  char kp[256];
  path_of(kp, sizeof kp, stem, "key");
  EVP_PKEY *k = NULL;
  lisec_err err = {0};
  assert_int_equal(crypto_pkey_load_pem(kp, true, &k, &err), 0);
  assert_int_equal(X509_check_private_key(c, k), 1);
  char group[64] = "";
  assert_int_equal(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL), 1);
  assert_string_equal(group, "prime256v1");
  struct stat st;
  assert_int_equal(stat(kp, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  EVP_PKEY_free(k);
}

/* Serial positive and at most 128 bits; validity DAYS days (+ the 5 minutes
 * of clock skew allowance before now). */
static void check_serial_and_validity(X509 *c, BIGNUM **seen, size_t *n_seen) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), NULL);
  assert_non_null(bn);
  assert_false(BN_is_negative(bn));
  assert_false(BN_is_zero(bn));
  assert_true(BN_num_bits(bn) <= 128);
  for (size_t i = 0; i < *n_seen; i++) assert_int_not_equal(BN_cmp(bn, seen[i]), 0);
  seen[(*n_seen)++] = bn;
  int d = 0, s = 0;
  assert_int_equal(ASN1_TIME_diff(&d, &s, X509_get0_notBefore(c), X509_get0_notAfter(c)), 1);
  assert_int_equal(d, DAYS);
  assert_int_equal(s, 300);
}

static void test_every_role_chains_and_carries_role(void **state) {
  (void)state;
  BIGNUM *seen[16];
  size_t n_seen = 0;
  assert_int_equal(pki_dev_roles_len, 7);
  for (size_t i = 0; i < pki_dev_roles_len; i++) {
    X509 *c = load(pki_dev_roles[i].stem);
    assert_int_equal(verify_for(c, dir, X509_PURPOSE_SSL_CLIENT), 1);
    /* a client certificate is not a server's */
    assert_int_not_equal(verify_for(c, dir, X509_PURPOSE_SSL_SERVER), 1);
    char uri[128], ou[128], cn[128], want_cn[128];
    snprintf(uri, sizeof uri, "urn:lisec:role:%s", pki_dev_roles[i].role);
    assert_true(has_uri(c, uri));
    assert_int_equal(count_names(c), 1);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_organizationalUnitName, ou,
                                          sizeof ou) > 0);
    assert_string_equal(ou, pki_dev_roles[i].role);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof cn) > 0);
    snprintf(want_cn, sizeof want_cn, "%s-dev", pki_dev_roles[i].stem);
    assert_string_equal(cn, want_cn);
    assert_true(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
    assert_false(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(c), 0);
    check_key(c, pki_dev_roles[i].stem);
    check_serial_and_validity(c, seen, &n_seen);
    X509_free(c);
  }
  /* the stems and roles other helpers' tests rely on */
  X509 *t = load("tenant-example");
  assert_true(has_uri(t, "urn:lisec:role:tenant:example"));
  X509_free(t);
  const char *must[] = {"operator", "li-admin", "hypervisor-admin", "host", "mano", "auditor"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(must); i++) assert_true(exists(must[i], "crt"));
  X509 *s = load("server");
  check_serial_and_validity(s, seen, &n_seen);
  X509_free(s);
  for (size_t i = 0; i < n_seen; i++) BN_free(seen[i]);
  char readme[256];
  snprintf(readme, sizeof readme, "%s/README-DEVELOPMENT-ONLY.txt", dir);
  assert_int_equal(access(readme, R_OK), 0);
}

static void test_server_and_ca(void **state) {
  (void)state;
  X509 *c = load("server");
  assert_int_equal(verify_for(c, dir, X509_PURPOSE_SSL_SERVER), 1);
  assert_int_not_equal(verify_for(c, dir, X509_PURPOSE_SSL_CLIENT), 1);
  assert_int_equal(X509_check_host(c, "localhost", 0, 0, NULL), 1);
  assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
  assert_int_equal(X509_check_ip_asc(c, "::1", 0), 1);
  assert_int_not_equal(X509_check_host(c, "example.net", 0, 0, NULL), 1);
  assert_int_not_equal(X509_check_ip_asc(c, "127.0.0.2", 0), 1);
  check_key(c, "server");
  X509_free(c);
  X509 *ca = load("ca");
  assert_int_equal(X509_check_ca(ca), 1);
  assert_int_equal(X509_get_pathlen(ca), 0);
  assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
  assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
  check_key(ca, "ca");
  X509_free(ca);
}

static void test_refuses_non_empty_dir_and_files(void **state) {
  (void)state;
  lisec_err err = {0};
  X509 *before = load("ca");
  assert_int_equal(pki_init(dir, false, DAYS, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "not empty"));
  X509 *after = load("ca");
  assert_int_equal(X509_cmp(before, after), 0);
  X509_free(before);
  X509_free(after);
  char file[128];
  snprintf(file, sizeof file, "%s/ca.crt", dir);
  assert_int_equal(pki_init(file, true, DAYS, &err), LISEC_EINVAL);
  assert_int_equal(pki_init("/tmp/lisec-test-pki-never", false, 0, &err), LISEC_EINVAL);
  assert_int_equal(access("/tmp/lisec-test-pki-never", F_OK), -1);
}

static void test_issue_extra(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_int_equal(pki_issue(dir, "node-9", "host", "node-9.example", 5, &err), 0);
  X509 *c = load("node-9");
  assert_true(has_uri(c, "urn:lisec:role:host"));
  assert_int_equal(verify_for(c, dir, X509_PURPOSE_SSL_CLIENT), 1);
  char cn[64];
  assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof cn) > 0);
  assert_string_equal(cn, "node-9.example");
  check_key(c, "node-9");
  /* a certificate from another CA does not chain to this one */
  char other[80];
  snprintf(other, sizeof other, "%s/other", dir);
  assert_int_equal(pki_init(other, false, 5, &err), 0);
  assert_int_not_equal(verify_for(c, other, X509_PURPOSE_SSL_CLIENT), 1);
  char ca[256];
  snprintf(ca, sizeof ca, "%s/ca.crt", other);
  assert_int_equal(crypto_x509_verify(c, ca, 0, &err), LISEC_ECRYPTO);
  /* and it has expired at a time past its 5 days */
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  assert_int_equal(crypto_x509_verify(c, ca, lisec_time_now() + 6 * 86400, &err), LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "expired"));
  X509_free(c);
}

static void test_issue_refuses_bad_input(void **state) {
  (void)state;
  lisec_err err = {0};
  /* a comma would add a second SAN name through the extension string */
  assert_int_equal(pki_issue(dir, "evil", "host,DNS:evil.example", "x", 5, &err), LISEC_EINVAL);
  assert_false(exists("evil", "crt"));
  assert_false(exists("evil", "key"));
  assert_int_equal(pki_issue(dir, "../evil", "host", "x", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "", "host", "x", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "Evil", "host", "x", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "evil", "", "x", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "evil", "host", "", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "evil", "host", "a\nb", 5, &err), LISEC_EINVAL);
  char long_name[PKI_NAME_MAX + 2];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_int_equal(pki_issue(dir, "evil", "host", long_name, 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, long_name, "host", "x", 5, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "evil", "host", "x", 0, &err), LISEC_EINVAL);
  assert_int_equal(pki_issue(dir, "evil", "host", "x", PKI_DAYS_MAX + 1, &err), LISEC_EINVAL);
  assert_false(exists("evil", "crt"));
  /* never over the CA, lisecd's key or an earlier certificate */
  X509 *before = load("ca");
  assert_int_equal(pki_issue(dir, "ca", "host", "x", 5, &err), LISEC_ECONFLICT);
  assert_int_equal(pki_issue(dir, "server", "host", "x", 5, &err), LISEC_ECONFLICT);
  assert_int_equal(pki_issue(dir, "operator", "host", "x", 5, &err), LISEC_ECONFLICT);
  X509 *after = load("ca");
  assert_int_equal(X509_cmp(before, after), 0);
  X509_free(before);
  X509_free(after);
  /* no CA there */
  assert_int_not_equal(pki_issue("/tmp/lisec-test-pki-never", "x", "host", "x", 5, &err), 0);
}

static void test_issue_refuses_mismatched_ca_key(void **state) {
  (void)state;
  char mixed[80], cmd[512];
  snprintf(mixed, sizeof mixed, "%s/mixed", dir);
  lisec_err err = {0};
  assert_int_equal(pki_init(mixed, false, 5, &err), 0);
  /* the CA certificate of one PKI with the CA key of another */
  snprintf(cmd, sizeof cmd, "cp %s/ca.key %s/ca.key", dir, mixed);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(pki_issue(mixed, "x", "host", "x", 5, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "not the key"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_role_chains_and_carries_role),
      cmocka_unit_test(test_server_and_ca),
      cmocka_unit_test(test_refuses_non_empty_dir_and_files),
      cmocka_unit_test(test_issue_extra),
      cmocka_unit_test(test_issue_refuses_bad_input),
      cmocka_unit_test(test_issue_refuses_mismatched_ca_key),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
