/* Unit tests of the API pipeline without a socket: body limit (413), route
 * matching (404, 405, {id} segments), role admission (403 naming the
 * admitted roles), malformed and missing bodies (400 naming line and
 * column), store failures (503), the route table's own check, metrics, and
 * the role a certificate carries (SAN URI or OU; none, unknown or two roles
 * refused, also an OU and a SAN URI that disagree, and a certificate without
 * the clientAuth extended key usage), LI routes kept out of the metrics
 * other roles read, and the per-certificate limit on recorded refusals. */
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
#include "crypto/cert_role.h"
#include "keys/keys.h"
#include "store/store.h"

static char tmpdir[64];
static lisec_ctl *ctl;
static keys_client *keys;

static int setup(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/lisec-test-api-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  char url[128];
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", tmpdir);
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "store", "url", url);
  char key[128];
  snprintf(key, sizeof key, "%s/audit-dev.pem", tmpdir);
  lisec_config_set(cfg, "audit", "development_key_file", key);
  lisec_config_set(cfg, "audit", "allow_development_key", "true");
  lisec_err err = {0};
  int rc = keys_local_start(cfg, &keys, &err); /* the keys process, on a thread here */
  if (rc == 0) rc = ctl_open(cfg, keys, &ctl, &err);
  lisec_config_free(cfg);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  ctl_close(ctl);
  keys_client_close(keys);
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

static const char *error_code(const api_response *r) {
  return json_string_value(json_object_get(json_object_get(r->body, "error"), "code"));
}

/* One request through the real route table, max_body 1 MiB. */
static void call(const api_principal *p, const char *method, const char *uri, const char *body,
                 api_response *r, int *route) {
  api_raw_request in = {method, uri, body, body ? strlen(body) : 0, 1 << 20, NULL};
  api_dispatch(ctl, p, &in, r, route);
  /* GET /metrics as the front answers it: the controller's part, then the front's. */
  if (strcmp(uri, "/metrics") == 0 && r->status == 200 && r->text) {
    size_t n = 0;
    char *all = api_metrics_join(r->text, strlen(r->text), p->role_bit == API_ROLE_LI_ADMIN, &n);
    assert_non_null(all);
    free(r->text);
    r->text = all;
  }
}

static void test_status_any_role(void **state) {
  (void)state;
  static const char *const roles[] = {"operator", "li-admin", "hypervisor-admin", "host",
                                      "mano", "auditor", "tenant:acme"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(roles); i++) {
    api_principal p = as(roles[i]);
    api_response r;
    int route;
    call(&p, "GET", "/v1/status", NULL, &r, &route);
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
  call(&p, "GET", "/metrics", NULL, &r, &route);
  assert_int_equal(r.status, 403);
  assert_non_null(strstr(error_message(&r), "admitted roles: operator, li-admin, auditor"));
  api_response_free(&r);
  p = as("auditor");
  call(&p, "GET", "/metrics", NULL, &r, &route);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.text, "lisec_http_request_duration_seconds_bucket"));
  api_response_free(&r);
}

static void test_unknown_route_and_method(void **state) {
  (void)state;
  api_principal p = as("operator");
  api_response r;
  int route;
  call(&p, "GET", "/v1/nothing", NULL, &r, &route);
  assert_int_equal(r.status, 404);
  assert_int_equal(route, -1);
  api_response_free(&r);
  call(&p, "DELETE", "/v1/status", NULL, &r, &route);
  assert_int_equal(r.status, 405);
  api_response_free(&r);
  call(&p, "GET", "/v1/status/extra", NULL, &r, &route);
  assert_int_equal(r.status, 404);
  api_response_free(&r);
  call(&p, "GET", "/v1/status?x=1", NULL, &r, &route);
  assert_int_equal(r.status, 200);
  api_response_free(&r);
}

static void test_healthz_and_metrics_format(void **state) {
  (void)state;
  api_principal p = as("host");
  api_response r;
  int route;
  call(&p, "GET", "/healthz", NULL, &r, &route);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.text, "ok\n");
  api_response_free(&r);
  api_metrics_record(route, 200, 1500000);
  p = as("operator");
  call(&p, "GET", "/metrics", NULL, &r, &route);
  assert_non_null(strstr(r.text, "lisec_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"} 1\n"));
  assert_non_null(strstr(r.text, "# TYPE lisec_tls_handshakes_total counter"));
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

/* ---- controller contexts ------------------------------------------------ */

static void test_ctl_worker_context(void **state) {
  (void)state;
  lisec_ctl *w = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_open_worker(ctl, &w, &err), 0);
  assert_ptr_equal(w->shared, ctl->shared);
  assert_ptr_not_equal(w->store, ctl->store); /* its own connection */
  json_t *st = NULL;
  assert_int_equal(ctl_status(w, &st, &err), 0);
  assert_string_equal(json_string_value(json_object_get(st, "version")), LISEC_VERSION);
  assert_true(json_integer_value(json_object_get(json_object_get(st, "store"), "schema_version")) >= 1);
  assert_true(json_integer_value(json_object_get(st, "uptime_seconds")) >= 0);
  json_decref(st);
  ctl_close(w);
  assert_int_equal(ctl_health(ctl, &err), 0); /* the parent lives on */
}

static void test_ctl_open_unreachable_store(void **state) {
  (void)state;
  static const char *const urls[] = {"sqlite:/nonexistent-lisec-dir/sub/lisec.db",
                                     "postgresql://lisec@127.0.0.1:1/lisec?connect_timeout=2",
                                     "mysql://nope"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(urls); i++) {
    lisec_config *cfg = lisec_config_new();
    lisec_config_set(cfg, "store", "url", urls[i]);
    lisec_ctl *c = NULL;
    lisec_err err = {0};
    assert_int_not_equal(ctl_open(cfg, NULL, &c, &err), 0);
    assert_null(c);
    assert_non_null(strstr(err.msg, "cannot open the store ([store] url)"));
    lisec_config_free(cfg);
  }
}

/* Without a checkpoint key the log would not be tamper-evident: no start,
 * and the refusal names the requirement and the settings to set. A file key
 * not asked for by name is refused too. */
static void test_ctl_open_needs_audit_key(void **state) {
  (void)state;
  char url[128], key[128];
  snprintf(url, sizeof url, "sqlite:%s/nokey.db", tmpdir);
  snprintf(key, sizeof key, "%s/nokey.pem", tmpdir);
  for (int with_file = 0; with_file < 2; with_file++) {
    lisec_config *cfg = lisec_config_new();
    lisec_config_set(cfg, "store", "url", url);
    if (with_file) lisec_config_set(cfg, "audit", "development_key_file", key);
    lisec_ctl *c = NULL;
    lisec_err err = {0};
    /* the keys process refuses the file key; with no key at all it starts,
     * holding none, and the controller refuses an unsigned log */
    keys_client *k = NULL;
    int rc = keys_local_start(cfg, &k, &err);
    assert_int_equal(rc != 0, with_file);
    if (rc == 0) rc = ctl_open(cfg, k, &c, &err);
    assert_int_not_equal(rc, 0);
    keys_client_close(k);
    assert_null(c);
    assert_non_null(strstr(err.msg, with_file ? "allow_development_key = true" : "TR103308-5.5"));
    lisec_config_free(cfg);
  }
  assert_int_not_equal(access(key, F_OK), 0); /* nothing was created */
}

/* ---- the pipeline against a table of test routes ----------------------- */

static int echo_calls;

/* Echoes the parsed body, the {id} segment and the query. */
static int echo(lisec_ctl *c, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)c, (void)a;
  echo_calls++;
  resp->body = json_pack("{s:O?, s:s?, s:s?, s:s}", "body", req->body,
                         "id", req->n_params ? req->params[0] : NULL, "query", req->query, "path",
                         req->path);
  return 0;
}

/* Fails the way a use case does when the store goes away mid-request. */
static int store_down(lisec_ctl *c, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)c, (void)a, (void)req;
  lisec_err err = {0};
  lisec_err_set(&err, LISEC_ESTORE, "store: connection lost");
  api_error_from(resp, LISEC_ESTORE, &err);
  return LISEC_ESTORE;
}

static int bare_failure(lisec_ctl *c, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)c, (void)a, (void)req, (void)resp;
  return LISEC_EUNAVAIL;
}

static const api_route test_routes[] = {
    {"POST", "/v1/things", API_ROLE_OPERATOR | API_ROLE_MANO, true, echo, NULL},
    {"GET", "/v1/things/{id}", API_ROLE_ANY, false, echo, NULL},
    {"GET", "/v1/down", API_ROLE_OPERATOR, false, store_down, NULL},
    {"GET", "/v1/bare", API_ROLE_OPERATOR, false, bare_failure, NULL},
};

static void run(const api_principal *p, const char *method, const char *uri, const char *body,
                size_t max_body, api_response *r, int *route) {
  api_raw_request in = {method, uri, body, body ? strlen(body) : 0, max_body, NULL};
  api_dispatch_routes(test_routes, LISEC_ARRAY_LEN(test_routes), ctl, p, &in, r, route);
}

static void test_body_limit_413(void **state) {
  (void)state;
  api_principal p = as("operator");
  api_response r;
  int route;
  echo_calls = 0;
  const char *sixteen = "{\"a\":\"12345678\"}"; /* 16 bytes */
  assert_int_equal(strlen(sixteen), 16);
  run(&p, "POST", "/v1/things", sixteen, 16, &r, &route);
  assert_int_equal(r.status, 200);
  assert_int_equal(echo_calls, 1);
  api_response_free(&r);
  run(&p, "POST", "/v1/things", sixteen, 15, &r, &route);
  assert_int_equal(r.status, 413);
  assert_string_equal(error_code(&r), "too_large");
  assert_non_null(strstr(error_message(&r), "15 bytes"));
  assert_int_equal(echo_calls, 1); /* the handler never ran */
  api_response_free(&r);
  /* over the limit is refused even where the route takes no body */
  run(&p, "GET", "/v1/things/x", sixteen, 15, &r, &route);
  assert_int_equal(r.status, 413);
  api_response_free(&r);
}

/* The body the handler gets, for body (must be admitted). */
static json_t *echoed_body(const char *body) {
  api_principal p = as("operator");
  api_response r;
  int route;
  run(&p, "POST", "/v1/things", body, 4096, &r, &route);
  assert_int_equal(r.status, 200);
  json_t *b = json_incref(json_object_get(r.body, "body"));
  api_response_free(&r);
  return b;
}

/* A plain body's tree is built without jansson's parser, any other by it:
 * the handler gets the same values both ways (the second of each pair
 * differs only in a form the plain reader leaves to jansson: a \u escape,
 * a UTF-8 byte, a fraction). */
static void test_plain_body_same_tree(void **state) {
  (void)state;
  const char *pairs[][2] = {
      {"{\"s\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\",\"n\":-123456789012345678,\"z\":-0,\"t\":true,"
       "\"f\":false,\"u\":null,\"a\":[[],{},[1,[2]]],\"o\":{\"k\":\"\"}}",
       "{\"s\":\"a\\\"b\\\\c/d\\be\\ff\\ng\\rh\\t\\u0069\",\"n\":-123456789012345678,\"z\":0,\"t\":true,"
       "\"f\":false,\"u\":null,\"a\":[[],{},[1,[2]]],\"o\":{\"k\":\"\"}}"},
      {" [ 1 , \"x\" ] ", "[1,\"\\u0078\"]"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(pairs); i++) {
    json_t *a = echoed_body(pairs[i][0]), *b = echoed_body(pairs[i][1]);
    if (!json_equal(a, b)) fail_msg("pair %zu differs", i);
    json_decref(a), json_decref(b);
  }
  json_t *a = echoed_body(pairs[0][0]);
  assert_string_equal(json_string_value(json_object_get(a, "s")), "a\"b\\c/d\be\ff\ng\rh\ti");
  assert_int_equal(json_integer_value(json_object_get(a, "n")), -123456789012345678LL);
  assert_true(json_is_true(json_object_get(a, "t")));
  assert_true(json_is_null(json_object_get(a, "u")));
  assert_int_equal(json_array_size(json_object_get(a, "a")), 3);
  json_decref(a);
}

static void test_malformed_json_400_names_position(void **state) {
  (void)state;
  api_principal p = as("mano");
  api_response r;
  int route;
  echo_calls = 0;
  /* The '2' is the 5th character of line 2, where ':' belongs (Python's
   * json module reports the same: "line 2 column 5"). */
  run(&p, "POST", "/v1/things", "{\"a\": 1,\n\"b\" 2}", 1024, &r, &route);
  assert_int_equal(r.status, 400);
  assert_string_equal(error_code(&r), "invalid");
  assert_non_null(strstr(error_message(&r), "line 2, column 5"));
  api_response_free(&r);
  run(&p, "POST", "/v1/things", "{\"a\": [1, 2", 1024, &r, &route); /* truncated */
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  /* Bytes that are not UTF-8 inside a bad escape: the parser quotes them,
   * and the refusal must still be JSON (found by fuzz/api_dispatch). */
  run(&p, "POST", "/v1/things", "\"\\\xef\xa3\xa2\x01\\s\x82", 1024, &r, &route);
  assert_int_equal(r.status, 400);
  assert_string_equal(error_code(&r), "invalid");
  assert_non_null(error_message(&r));
  api_response_free(&r);
  run(&p, "POST", "/v1/things", NULL, 1024, &r, &route); /* missing */
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(error_message(&r), "body is required"));
  api_response_free(&r);
  assert_int_equal(echo_calls, 0);
  run(&p, "POST", "/v1/things", "{\"a\": [1, 2]}", 1024, &r, &route);
  assert_int_equal(r.status, 200);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(r.body, "body"), "a"), 1)), 2);
  api_response_free(&r);
}

static void test_roles_before_body(void **state) {
  (void)state;
  api_principal p = as("auditor");
  api_response r;
  int route;
  echo_calls = 0;
  /* A role the route does not admit learns nothing about the body parser. */
  run(&p, "POST", "/v1/things", "{not json", 1024, &r, &route);
  assert_int_equal(r.status, 403);
  assert_string_equal(error_code(&r), "forbidden");
  assert_non_null(strstr(error_message(&r), "role auditor may not POST /v1/things"));
  assert_non_null(strstr(error_message(&r), "admitted roles: operator, mano"));
  api_response_free(&r);
  /* A principal without a known role is admitted nowhere, not even on "any". */
  api_principal none = {.subject = "x"};
  run(&none, "GET", "/v1/things/1", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 403);
  api_response_free(&r);
  assert_int_equal(echo_calls, 0);
  api_principal t = as("tenant:acme");
  run(&t, "GET", "/v1/things/1", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 200);
  api_response_free(&r);
}

static void test_routes_404_405_and_params(void **state) {
  (void)state;
  api_principal p = as("operator");
  api_response r;
  int route;
  run(&p, "GET", "/v1/things/t-42?verbose=1", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 200);
  assert_int_equal(route, 1);
  assert_string_equal(json_string_value(json_object_get(r.body, "id")), "t-42");
  assert_string_equal(json_string_value(json_object_get(r.body, "query")), "verbose=1");
  assert_string_equal(json_string_value(json_object_get(r.body, "path")), "/v1/things/t-42");
  api_response_free(&r);
  static const char *const not_found[] = {"/v1/things/", "/v1/things/a/b", "/v1/thing", "/",
                                          "/v1/things/t-42/"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(not_found); i++) {
    run(&p, "GET", not_found[i], NULL, 1024, &r, &route);
    assert_int_equal(r.status, 404);
    assert_string_equal(error_code(&r), "not_found");
    assert_int_equal(route, -1);
    api_response_free(&r);
  }
  run(&p, "PUT", "/v1/things/t-42", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 405);
  assert_string_equal(error_code(&r), "method_not_allowed");
  assert_string_equal(r.allow, "GET"); /* RFC 9110 15.5.6: a 405 lists what the path takes */
  api_response_free(&r);
  run(&p, "GET", "/v1/things", NULL, 1024, &r, &route); /* only POST there */
  assert_int_equal(r.status, 405);
  api_response_free(&r);
  char longid[STORE_ID_MAX + 20];
  snprintf(longid, sizeof longid, "/v1/things/%0*d", STORE_ID_MAX + 1, 7);
  run(&p, "GET", longid, NULL, 1024, &r, &route);
  assert_int_equal(r.status, 400); /* an {id} longer than any id is refused naming the rule */
  assert_non_null(strstr(error_message(&r), LISEC_ID_RULE));
  api_response_free(&r);
  /* {..} segments are percent-decoded, and what they decode to is held to
   * the id rule: an escaped ':' names the same id, an escaped '/' or NUL,
   * a broken escape, a space, "." and ".." are refused with 400. */
  run(&p, "GET", "/v1/things/a%3Ab%2d%2E", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.body, "id")), "a:b-.");
  api_response_free(&r);
  static const struct {
    const char *path, *why;
  } bad[] = {{"/v1/things/a%2Fb", "'/' at byte 2"}, {"/v1/things/a%2fb", "'/' at byte 2"},
             {"/v1/things/a%00b", "%00"},          {"/v1/things/a%zz", "two hex digits"},
             {"/v1/things/a%4", "two hex digits"}, {"/v1/things/a%", "two hex digits"},
             {"/v1/things/a%20b", "0x20"},         {"/v1/things/a?b", NULL},
             {"/v1/things/.", "'.' at byte 1"},   {"/v1/things/..", "'.' at byte 1"},
             {"/v1/things/%2E%2E", "'.' at byte 1"}, {"/v1/things/a%23b", "'#'"},
             {"/v1/things/a%25b", "'%'"},         {"/v1/things/a%3Fb", "'?'"}};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    run(&p, "GET", bad[i].path, NULL, 1024, &r, &route);
    if (!bad[i].why) { /* "a?b" is the id "a" with a query */
      assert_int_equal(r.status, 200);
      api_response_free(&r);
      continue;
    }
    if (r.status != 400 || !strstr(error_message(&r), bad[i].why))
      fail_msg("%s: %d %s", bad[i].path, r.status, error_message(&r));
    api_response_free(&r);
  }
  run(&p, "GET", "v1/things/x", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  char *huge = malloc(API_URI_MAX + 2);
  memset(huge, 'a', API_URI_MAX + 1);
  huge[0] = '/';
  huge[API_URI_MAX + 1] = '\0';
  run(&p, "GET", huge, NULL, 1024, &r, &route);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  free(huge);
}

static void test_store_failure_503(void **state) {
  (void)state;
  api_principal p = as("operator");
  api_response r;
  int route;
  run(&p, "GET", "/v1/down", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 503);
  assert_string_equal(error_code(&r), "store_error");
  api_response_free(&r);
  run(&p, "GET", "/v1/bare", NULL, 1024, &r, &route);
  assert_int_equal(r.status, 503);
  assert_string_equal(error_code(&r), "unavailable");
  api_response_free(&r);
}

static int dummy(lisec_ctl *c, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)c, (void)a, (void)req, (void)resp;
  return 0;
}

static void test_route_table_check(void **state) {
  (void)state;
  lisec_err err = {0};
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  assert_true(n >= 3);
  assert_int_equal(api_routes_check(routes, n, &err), 0);
  assert_false(api_route_table_overflowed());
  /* the core group made it in */
  bool healthz = false, status = false;
  for (size_t i = 0; i < n; i++) {
    healthz |= strcmp(routes[i].pattern, "/healthz") == 0;
    status |= strcmp(routes[i].pattern, "/v1/status") == 0;
  }
  assert_true(healthz && status);
  api_route twice[] = {{"GET", "/a", API_ROLE_ANY, false, dummy, NULL},
                       {"GET", "/a", API_ROLE_OPERATOR, false, dummy, NULL}};
  assert_int_equal(api_routes_check(twice, 2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "GET /a is declared twice"));
  api_route no_roles[] = {{"GET", "/a", 0, false, dummy, NULL}};
  assert_int_equal(api_routes_check(no_roles, 1, &err), LISEC_EINVAL);
  api_route relative[] = {{"GET", "a", API_ROLE_ANY, false, dummy, NULL}};
  assert_int_equal(api_routes_check(relative, 1, &err), LISEC_EINVAL);
  api_route no_handler[] = {{"GET", "/a", API_ROLE_ANY, false, NULL, NULL}};
  assert_int_equal(api_routes_check(no_handler, 1, &err), LISEC_EINVAL);
}

/* docs/api.md lists every route with its method: a route added without
 * documentation fails here, naming it. */
static void test_routes_documented(void **state) {
  (void)state;
  FILE *f = fopen(LISEC_SRC_DIR "/docs/api.md", "r");
  assert_non_null(f);
  static char doc[256 * 1024];
  size_t len = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[len] = '\0';
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  for (size_t i = 0; i < n; i++) {
    char quoted[API_URI_MAX];
    snprintf(quoted, sizeof quoted, "`%s`", routes[i].pattern);
    bool found = false;
    /* a table row naming the path in backquotes and the method */
    for (const char *p = strstr(doc, quoted); p && !found; p = strstr(p + 1, quoted)) {
      const char *start = p, *end = strchr(p, '\n');
      while (start > doc && start[-1] != '\n') start--;
      if (*start != '|' || !end) continue;
      char line[1024];
      snprintf(line, sizeof line, "%.*s", (int)(end - start), start);
      found = strstr(line, routes[i].method) != NULL;
    }
    if (!found) fail_msg("docs/api.md does not list %s %s", routes[i].method, routes[i].pattern);
  }
}

static void test_metrics_by_status(void **state) {
  (void)state;
  size_t n = 0;
  api_route_table(&n);
  api_metrics_record(-1, 404, 2000);
  api_metrics_record(-1, 404, 3000);
  api_metrics_record(-1, 418, 3000);
  api_metrics_handshake(true);
  api_metrics_handshake(false);
  char *text = api_metrics_render(42, false);
  assert_non_null(strstr(text, "lisec_http_requests_total{method=\"\",route=\"unmatched\",code=\"404\"} 2\n"));
  assert_non_null(strstr(text, "route=\"unmatched\",code=\"other\"} 1\n"));
  assert_non_null(strstr(text, "lisec_tls_handshakes_total{result=\"ok\"} 1\n"));
  assert_non_null(strstr(text, "lisec_tls_handshakes_total{result=\"failed\"} 1\n"));
  assert_non_null(strstr(text, "lisec_uptime_seconds 42\n"));
  /* 2 µs and 3 µs fall in the first bucket (0.5 ms) */
  assert_non_null(strstr(text, "lisec_http_request_duration_seconds_bucket{le=\"0.0005\"} "));
  free(text);
}

/* ---- roles from certificates ------------------------------------------- */

/* A self-signed certificate with these SAN URIs and OUs and, unless eku is
 * NULL, that extended key usage (OpenSSL's config syntax: "clientAuth"). */
static X509 *make_cert_eku(const char *const *uris, size_t n_uris, const char *const *ous,
                           size_t n_ous, const char *eku) {
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
  if (eku) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku);
    assert_non_null(ext);
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(c, k, EVP_sha256());
  EVP_PKEY_free(k);
  return c;
}

static X509 *make_cert(const char *const *uris, size_t n_uris, const char *const *ous, size_t n_ous) {
  return make_cert_eku(uris, n_uris, ous, n_ous, "clientAuth");
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

/* docs/api.md: a certificate naming two different roles is refused. The OU
 * and the SAN URI are two places: whichever the configuration reads, the
 * other must not name another role (issue 14, item 12). */
static void test_role_ou_and_san_must_agree(void **state) {
  (void)state;
  static const api_role_source sources[] = {API_ROLE_FROM_OU, API_ROLE_FROM_SAN_URI};
  const char *san_auditor[] = {"urn:lisec:role:auditor"}, *ou_li[] = {"li-admin"},
             *ou_auditor[] = {"auditor"}, *ou_dept[] = {"Lawful Interception Dept"},
             *san_bogus[] = {"urn:lisec:role:root"}, *san_tenant_b[] = {"urn:lisec:role:tenant:b"},
             *ou_tenant_a[] = {"tenant:a"};
  api_principal p;
  lisec_err err = {0};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(sources); i++) {
    X509 *c = make_cert(san_auditor, 1, ou_li, 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(api_principal_from_cert(c, sources[i], &p, &err), LISEC_EAUTH);
    assert_non_null(strstr(err.msg, "must name the same role"));
    assert_int_equal(p.role_bit, 0);
    assert_string_equal(p.role, "");
    X509_free(c);
    c = make_cert(san_tenant_b, 1, ou_tenant_a, 1);
    assert_int_equal(api_principal_from_cert(c, sources[i], &p, &err), LISEC_EAUTH);
    assert_non_null(strstr(err.msg, "must name the same role"));
    X509_free(c);
    c = make_cert(san_auditor, 1, ou_auditor, 1);
    assert_int_equal(api_principal_from_cert(c, sources[i], &p, &err), 0);
    assert_string_equal(p.role, "auditor");
    X509_free(c);
  }
  /* An OU that names no lisec role is not a second role. */
  X509 *c = make_cert(san_auditor, 1, ou_dept, 1);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), 0);
  assert_string_equal(p.role, "auditor");
  X509_free(c);
  /* In ou mode a role URI that is not a lisec role is refused, not ignored. */
  c = make_cert(san_bogus, 1, ou_auditor, 1);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_OU, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "must name the same role"));
  X509_free(c);
}

/* lisec-entropyd serves vnf alone and counts an OU naming any lisec role
 * as a second role claim (crypto_role_lisec_name): every role lisecd reads
 * is one, so a role added here is not taken for a department there. */
static void test_lisec_role_names_cover_lisecd(void **state) {
  (void)state;
  char all[512];
  api_roles_describe(~0u, all, sizeof all);
  size_t n = 0;
  for (char *save = NULL, *name = strtok_r(all, ", ", &save); name; name = strtok_r(NULL, ", ", &save), n++) {
    const char *as_read = strcmp(name, "tenant:<name>") == 0 ? "tenant:acme-1" : name;
    assert_true(api_role_bit(as_read) != 0);
    if (!crypto_role_lisec_name(as_read)) fail_msg("lisecd's role %s is not a lisec role name", as_read);
  }
  assert_int_equal(n, 10);
  assert_true(crypto_role_lisec_name("vnf"));
  assert_false(crypto_role_lisec_name("Lawful Interception Dept"));
  assert_false(crypto_role_lisec_name("tenant:"));
}

/* mTLS clients need a certificate issued for client authentication (issue
 * 14, item 14): no EKU at all, or one without clientAuth, is refused. */
static void test_role_needs_client_auth_eku(void **state) {
  (void)state;
  const char *san[] = {"urn:lisec:role:operator"};
  api_principal p;
  lisec_err err = {0};
  X509 *c = make_cert_eku(san, 1, NULL, 0, NULL);
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "no extended key usage; clientAuth is required"));
  assert_int_equal(p.role_bit, 0);
  X509_free(c);
  c = make_cert_eku(san, 1, NULL, 0, "serverAuth,codeSigning");
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "lacks clientAuth"));
  X509_free(c);
  c = make_cert_eku(san, 1, NULL, 0, "serverAuth,clientAuth");
  assert_int_equal(api_principal_from_cert(c, API_ROLE_FROM_SAN_URI, &p, &err), 0);
  assert_string_equal(p.role, "operator");
  X509_free(c);
}

/* Per-route counts of LI routes are for the LI administration; other roles
 * read their sum without a label (issue 14, item 9). */
static void test_metrics_hide_li_routes(void **state) {
  (void)state;
  size_t n = 0;
  const api_route *routes = api_route_table(&n);
  size_t n_li = 0;
  for (size_t i = 0; i < n; i++) {
    /* What the issue names as LI, decided here without the code's list. */
    bool li = routes[i].roles == API_ROLE_LI_ADMIN || strncmp(routes[i].pattern, "/v1/li", 6) == 0 ||
              strncmp(routes[i].pattern, "/v1/targets", 11) == 0 ||
              strncmp(routes[i].pattern, "/v1/vault", 9) == 0 ||
              strncmp(routes[i].pattern, "/v1/x1", 6) == 0 || strncmp(routes[i].pattern, "/v1/tasks", 9) == 0;
    if (li) assert_true(api_route_is_li(&routes[i]));
    if (api_route_is_li(&routes[i])) {
      api_metrics_record((int)i, 201, 1000);
      n_li++;
    }
  }
  assert_true(n_li >= 10);
  api_principal op = as("operator");
  api_response r;
  int route;
  call(&op, "GET", "/metrics", NULL, &r, &route);
  assert_int_equal(r.status, 200);
  for (size_t i = 0; i < n; i++) {
    if (!api_route_is_li(&routes[i])) continue;
    char label[API_URI_MAX + 16];
    snprintf(label, sizeof label, "route=\"%s\"", routes[i].pattern);
    if (strstr(r.text, label)) fail_msg("operator's /metrics names %s", routes[i].pattern);
  }
  assert_null(strstr(r.text, "/v1/li"));
  assert_null(strstr(r.text, "/v1/targets"));
  assert_null(strstr(r.text, "/v1/vault"));
  assert_null(strstr(r.text, "/v1/x1"));
  assert_null(strstr(r.text, "/v1/tasks"));
  char sum[64];
  snprintf(sum, sizeof sum, "\nlisec_http_li_requests_total %zu\n", n_li);
  assert_non_null(strstr(r.text, sum));
  api_response_free(&r);
  api_principal li = as("li-admin");
  call(&li, "GET", "/metrics", NULL, &r, &route);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.text, "route=\"/v1/targets\",code=\"201\"} 1\n"));
  assert_non_null(strstr(r.text, "route=\"/v1/li/vms/{vm}/pair\",code=\"201\"} 1\n"));
  assert_null(strstr(r.text, "lisec_http_li_requests_total"));
  api_response_free(&r);
}

/* The token bucket per certificate behind 429 on recorded refusals (issue
 * 14, item 11): a burst, then the rate; each certificate its own bucket;
 * a full table forgets the certificate refused longest ago. */
static void test_refusal_rate_limit(void **state) {
  (void)state;
  api_principal a = as("tenant:a"), b = as("tenant:b"), c = as("tenant:c");
  unsigned wait_s = 0;
  api_ratelimit_configure(1, 3, 2);
  for (int i = 0; i < 3; i++) assert_true(api_ratelimit_take(&a, &wait_s));
  assert_false(api_ratelimit_take(&a, &wait_s));
  assert_true(wait_s >= 1 && wait_s <= 2);
  assert_true(api_ratelimit_take(&b, &wait_s)); /* another certificate: its own bucket */
  /* Same subject, other role: another bucket too. */
  api_principal a_op = a;
  snprintf(a_op.role, sizeof a_op.role, "operator");
  assert_true(api_ratelimit_take(&a_op, &wait_s)); /* takes the slot of a, refused longest ago */
  assert_true(api_ratelimit_take(&c, &wait_s));
  api_ratelimit_configure(0, 3, 2); /* off */
  for (int i = 0; i < 10; i++) assert_true(api_ratelimit_take(&a, &wait_s));
  api_ratelimit_configure(5, 20, 4096);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_any_role),        cmocka_unit_test(test_wrong_role_403_names_roles),
      cmocka_unit_test(test_unknown_route_and_method), cmocka_unit_test(test_healthz_and_metrics_format),
      cmocka_unit_test(test_error_mapping),          cmocka_unit_test(test_role_from_san_uri),
      cmocka_unit_test(test_role_from_ou),           cmocka_unit_test(test_body_limit_413),
      cmocka_unit_test(test_malformed_json_400_names_position),
      cmocka_unit_test(test_plain_body_same_tree),
      cmocka_unit_test(test_roles_before_body),      cmocka_unit_test(test_routes_404_405_and_params),
      cmocka_unit_test(test_store_failure_503),      cmocka_unit_test(test_route_table_check),
      cmocka_unit_test(test_routes_documented),
      cmocka_unit_test(test_metrics_by_status),      cmocka_unit_test(test_ctl_worker_context),
      cmocka_unit_test(test_ctl_open_unreachable_store),
      cmocka_unit_test(test_ctl_open_needs_audit_key),
      cmocka_unit_test(test_role_ou_and_san_must_agree), cmocka_unit_test(test_role_needs_client_auth_eku),
      cmocka_unit_test(test_lisec_role_names_cover_lisecd),
      cmocka_unit_test(test_metrics_hide_li_routes),  cmocka_unit_test(test_refusal_rate_limit),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
