/* Unit tests of the API pipeline without a socket: route matching (404,
 * 405), role admission (403 naming the admitted roles), malformed and
 * missing bodies (400 naming the position), and the role a certificate
 * carries (SAN URI or OU; none, unknown or two roles refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "api/api.h"

static char tmpdir[64];
static lisec_ctl *ctl;
static ctl_shared *shared;

static int setup(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/lisec-test-api-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  char url[128];
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", tmpdir);
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "store", "url", url);
  lisec_err err = {0};
  int rc = ctl_shared_open(cfg, &shared, &err) || ctl_open(shared, &ctl, &err);
  lisec_config_free(cfg);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  ctl_close(ctl);
  ctl_shared_close(shared);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd);
}

static api_principal as(const char *role) {
  api_principal p = {0};
  snprintf(p.subject, sizeof p.subject, "%s-test", role);
  snprintf(p.role, sizeof p.role, "%s", role);
  p.role_bit = api_role_bit(role);
  return p;
}

static const char *error_message(const api_response *r) {
  return json_string_value(json_object_get(json_object_get(r->body, "error"), "message"));
}

static void test_status_any_role(void **state) {
  (void)state;
  static const char *const roles[] = {"operator", "li-admin", "hypervisor-admin", "host",
                                      "mano", "auditor", "tenant:acme"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(roles); i++) {
    api_principal p = as(roles[i]);
    api_response r;
    int route;
    api_dispatch(ctl, &p, "GET", "/v1/status", "", 0, &r, &route);
    assert_int_equal(r.status, 200);
    assert_true(route >= 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "you"), "role")),
                        roles[i]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "store"), "backend")),
                        "sqlite");
    api_response_free(&r);
  }
}

static void test_wrong_role_403_names_roles(void **state) {
  (void)state;
  api_principal p = as("mano");
  api_response r;
  int route;
  api_dispatch(ctl, &p, "GET", "/metrics", "", 0, &r, &route);
  assert_int_equal(r.status, 403);
  assert_non_null(strstr(error_message(&r), "admitted roles: operator, auditor"));
  api_response_free(&r);
  p = as("auditor");
  api_dispatch(ctl, &p, "GET", "/metrics", "", 0, &r, &route);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.text, "lisec_http_request_duration_seconds_bucket"));
  api_response_free(&r);
}

static void test_unknown_route_and_method(void **state) {
  (void)state;
  api_principal p = as("operator");
  api_response r;
  int route;
  api_dispatch(ctl, &p, "GET", "/v1/nothing", "", 0, &r, &route);
  assert_int_equal(r.status, 404);
  assert_int_equal(route, -1);
  api_response_free(&r);
  api_dispatch(ctl, &p, "DELETE", "/v1/status", "", 0, &r, &route);
  assert_int_equal(r.status, 405);
  api_response_free(&r);
  api_dispatch(ctl, &p, "GET", "/v1/status/extra", "", 0, &r, &route);
  assert_int_equal(r.status, 404);
  api_response_free(&r);
  api_dispatch(ctl, &p, "GET", "/v1/status?x=1", "", 0, &r, &route);
  assert_int_equal(r.status, 200);
  api_response_free(&r);
}

static void test_healthz_and_metrics_format(void **state) {
  (void)state;
  api_principal p = as("host");
  api_response r;
  int route;
  api_dispatch(ctl, &p, "GET", "/healthz", "", 0, &r, &route);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.text, "ok\n");
  api_response_free(&r);
  api_metrics_record(route, 200, 1500000);
  p = as("operator");
  api_dispatch(ctl, &p, "GET", "/metrics", "", 0, &r, &route);
  assert_non_null(strstr(r.text, "lisec_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"2xx\"}"));
  assert_non_null(strstr(r.text, "# TYPE lisec_uptime_seconds gauge"));
  api_response_free(&r);
}

static void test_error_mapping(void **state) {
  (void)state;
  struct { int rc; int status; } cases[] = {
      {LISEC_EINVAL, 400}, {LISEC_ENOTFOUND, 404}, {LISEC_EDENIED, 403}, {LISEC_EAUTH, 403},
      {LISEC_ETOOBIG, 413}, {LISEC_ECONFLICT, 409}, {LISEC_ESTORE, 503}, {LISEC_EUNAVAIL, 503},
      {LISEC_EINTERNAL, 500}};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(cases); i++) {
    api_response r = {0};
    lisec_err err = {0};
    lisec_err_set(&err, cases[i].rc, "TR103308-6.2-R8: host lon-3 is not trusted");
    api_error_from(&r, cases[i].rc, &err);
    assert_int_equal(r.status, cases[i].status);
    json_t *e = json_object_get(r.body, "error");
    assert_string_equal(json_string_value(json_object_get(e, "requirement")), "TR103308-6.2-R8");
    api_response_free(&r);
  }
}

/* ---- roles from certificates ------------------------------------------- */

static X509 *make_cert(const char *const *uris, size_t n_uris, const char *const *ous, size_t n_ous) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *c = X509_new();
  X509_set_version(c, 2);
  X509_set_pubkey(c, k);
  X509_NAME *name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"node-7", -1, -1, 0);
  for (size_t i = 0; i < n_ous; i++)
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)ous[i], -1, -1, 0);
  if (n_uris) {
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    for (size_t i = 0; i < n_uris; i++) {
      GENERAL_NAME *gn = GENERAL_NAME_new();
      ASN1_IA5STRING *s = ASN1_IA5STRING_new();
      ASN1_STRING_set(s, uris[i], -1);
      GENERAL_NAME_set0_value(gn, GEN_URI, s);
      sk_GENERAL_NAME_push(gens, gn);
    }
    X509_add1_ext_i2d(c, NID_subject_alt_name, gens, 0, 0);
    GENERAL_NAMES_free(gens);
  }
  X509_sign(c, k, EVP_sha256());
  EVP_PKEY_free(k);
  return c;
}

static void test_role_from_san_uri(void **state) {
  (void)state;
  const char *one[] = {"https://example.net", "urn:lisec:role:li-admin"};
  X509 *c = make_cert(one, 2, NULL, 0);
  api_principal p;
  lisec_err err = {0};
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), 0);
  assert_string_equal(p.role, "li-admin");
  assert_string_equal(p.subject, "node-7");
  assert_int_equal(p.role_bit, API_ROLE_LI_ADMIN);
  /* the OU source ignores the SAN: no role there */
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_OU, &p, &err), LISEC_EAUTH);
  X509_free(c);

  const char *two[] = {"urn:lisec:role:operator", "urn:lisec:role:li-admin"};
  c = make_cert(two, 2, NULL, 0);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "two roles"));
  X509_free(c);

  const char *bad[] = {"urn:lisec:role:root"};
  c = make_cert(bad, 1, NULL, 0);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "unknown"));
  X509_free(c);

  const char *tenant[] = {"urn:lisec:role:tenant:acme-1"};
  c = make_cert(tenant, 1, NULL, 0);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), 0);
  assert_int_equal(p.role_bit, API_ROLE_TENANT);
  X509_free(c);
  const char *badtenant[] = {"urn:lisec:role:tenant:ACME/../x"};
  c = make_cert(badtenant, 1, NULL, 0);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  X509_free(c);
}

static void test_role_from_ou(void **state) {
  (void)state;
  const char *ou[] = {"auditor"};
  X509 *c = make_cert(NULL, 0, ou, 1);
  api_principal p;
  lisec_err err = {0};
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_OU, &p, &err), 0);
  assert_string_equal(p.role, "auditor");
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "carries no lisec role"));
  X509_free(c);
  assert_int_equal(api_principal_from_cert(NULL, API_ROLE_FROM_OU, &p, &err), LISEC_EAUTH);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_any_role),        cmocka_unit_test(test_wrong_role_403_names_roles),
      cmocka_unit_test(test_unknown_route_and_method), cmocka_unit_test(test_healthz_and_metrics_format),
      cmocka_unit_test(test_error_mapping),          cmocka_unit_test(test_role_from_san_uri),
      cmocka_unit_test(test_role_from_ou),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
