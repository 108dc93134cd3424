/* The compliance view's routes (src/api/routes_ui.c) through the real route
 * table: each embedded file is served whole with its content type to the
 * roles the view admits, other roles get 403 naming them, unknown names and
 * what is not an id get 404 or 400, and every file of src/api/ui/ was
 * embedded byte for byte; and a browser's request (Origin, Sec-Fetch-*)
 * that would change state, or of another site but a visit of /ui/, is
 * refused (api/browser.h), whatever the header's case or order. A reply
 * with the Content-Security-Policy carries Referrer-Policy,
 * Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy with it
 * (api/conn.c, over a real socketpair), one without none of them; HEAD of
 * the view's paths, and of no other, is answered as GET
 * (api_ui_head_as_get), its reply keeping the GET's length without the
 * body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/browser.h"
#include "api/conn.h"
#include "api/http1.h"
#include "api/ui.h"

static api_principal as(const char *role) {
  api_principal p = {0};
  snprintf(p.subject, sizeof p.subject, "%s-test", role);
  snprintf(p.role, sizeof p.role, "%s", role);
  p.role_bit = api_role_bit(role);
  return p;
}

/* No use case runs on these routes: the controller is not needed. */
static void get(const char *role, const char *uri, api_response *r) {
  api_principal p = as(role);
  api_raw_request in = {"GET", uri, NULL, 0, 1 << 20, NULL};
  int route = -1;
  api_dispatch(NULL, &p, &in, r, &route);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static void test_files_served_with_types(void **state) {
  (void)state;
  static const struct {
    const char *uri, *file, *type;
  } cases[] = {
      {"/ui", "index.html", "text/html; charset=utf-8"},
      {"/ui/", "index.html", "text/html; charset=utf-8"},
      {"/ui/index.html", "index.html", "text/html; charset=utf-8"},
      {"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},
      {"/ui/app.css", "app.css", "text/css; charset=utf-8"},
      {"/ui/outlines.json", "outlines.json", "application/json"},
  };
  const char *roles[] = {"operator", "auditor", "li-admin"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (size_t j = 0; j < 3; j++) {
      api_response r;
      get(roles[j], cases[i].uri, &r);
      assert_int_equal(r.status, 200);
      assert_non_null(r.text);
      assert_string_equal(r.content_type, cases[i].type);
      char path[512];
      snprintf(path, sizeof path, "%s/src/api/ui/%s", LISEC_SRC_DIR, cases[i].file);
      size_t len = 0;
      const char *want = slurp(path, &len);
      assert_int_equal(strlen(r.text), len);
      assert_memory_equal(r.text, want, len);
      api_response_free(&r);
    }
}

static void test_other_roles_refused(void **state) {
  (void)state;
  const char *roles[] = {"mano", "host", "hypervisor-admin", "tenant:acme"};
  for (size_t j = 0; j < 4; j++) {
    api_response r;
    get(roles[j], "/ui/app.js", &r);
    assert_int_equal(r.status, 403);
    const char *msg =
        json_string_value(json_object_get(json_object_get(r.body, "error"), "message"));
    assert_non_null(strstr(msg, "admitted roles: operator, li-admin, auditor"));
    api_response_free(&r);
  }
}

static void test_unknown_and_bad_names(void **state) {
  (void)state;
  api_response r;
  const char *missing[] = {"/ui/nothing.js", "/ui/index.htm", "/ui/ui_embed.cmake", "/ui/app.js.map"};
  for (size_t i = 0; i < 4; i++) {
    get("operator", missing[i], &r);
    assert_int_equal(r.status, 404);
    api_response_free(&r);
  }
  /* Not an id: no path of the file system can be asked for. */
  const char *bad[] = {"/ui/..%2f..%2fetc%2fpasswd", "/ui/%2e%2e", "/ui/.hidden"};
  for (size_t i = 0; i < 3; i++) {
    get("operator", bad[i], &r);
    assert_true(r.status == 400 || r.status == 404);
    assert_null(r.text);
    api_response_free(&r);
  }
  get("operator", "/ui/a/b", &r);
  assert_int_equal(r.status, 404);
  api_response_free(&r);
}

static void test_assets_table(void **state) {
  (void)state;
  size_t n = 0;
  for (const api_ui_asset *a = api_ui_assets; a->name; a++, n++) {
    assert_non_null(api_ui_content_type(a->name));
    assert_int_equal(strlen((const char *)a->data), a->len);
  }
  assert_int_equal(n, 4);
  assert_null(api_ui_find("missing.js"));
  assert_null(api_ui_content_type("x.py"));
  assert_null(api_ui_content_type("noext"));
}

/* The refusal of the request whose head is `head` (NULL: admitted). */
static const char *browser(const char *head) {
  http1_request req;
  int status = 0;
  const char *why = NULL;
  assert_int_equal(http1_parse_head(head, strlen(head), 8192, &req, &status, &why), HTTP1_OK);
  char uri[256];
  snprintf(uri, sizeof uri, "%.*s", (int)req.target.n, req.target.p);
  return api_browser_refusal(&req, uri);
}

static void test_browser_requests(void **state) {
  (void)state;
  static const struct {
    const char *head;
    bool refused;
  } cases[] = {
      /* the CLI, MANO, agents: no browser marks */
      {"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n\r\n", false},
      {"DELETE /v1/model/vm/x HTTP/1.1\r\nHost: l\r\n\r\n", false},
      /* Node's fetch (undici) sends Sec-Fetch-Mode: cors on every request, and
       * no Origin or Sec-Fetch-Site: a program, not a browser (a browser
       * sends Sec-Fetch-Site with Sec-Fetch-Mode, and Origin on a POST) */
      {"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\naccept: */*\r\naccept-language: *\r\n"
       "sec-fetch-mode: cors\r\nuser-agent: node\r\ncontent-length: 0\r\n\r\n",
       false},
      {"DELETE /v1/model/vm/x HTTP/1.1\r\nHost: l\r\nsec-fetch-mode: cors\r\n\r\n", false},
      {"GET /v1/compliance HTTP/1.1\r\nHost: l\r\n\r\n", false},
      /* a browser that would change state, of any site */
      {"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nOrigin: https://evil.test\r\n\r\n", true},
      {"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\norigin: null\r\n\r\n", true},
      {"PUT /v1/model/vm/x HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: same-origin\r\n\r\n", true},
      {"POST /v1/li/vms HTTP/1.1\r\nHost: l\r\nSEC-FETCH-SITE: CROSS-SITE\r\nSEC-FETCH-MODE: no-cors\r\n\r\n",
       true},
      {"OPTIONS /v1/model/vm HTTP/1.1\r\nHost: l\r\nOrigin: https://evil.test\r\n\r\n", true},
      /* the view's own reads */
      {"GET /v1/compliance HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n\r\n",
       false},
      {"GET /ui/app.js HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\n\r\n",
       false},
      {"GET /v1/status HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\n\r\n", false},
      /* another site: a visit of the view's page only */
      {"GET /ui/ HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n\r\n", false},
      {"GET /ui?x=1 HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: Same-Site\r\nSec-Fetch-Mode: Navigate\r\n\r\n", false},
      {"GET /ui/app.js HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n\r\n", true},
      {"GET /v1/targets HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n\r\n",
       true},
      {"GET /v1/compliance HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: same-site\r\nSec-Fetch-Mode: cors\r\n\r\n", true},
      {"GET /ui/ HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\n\r\n", true},
      {"GET /ui/ HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: whatever\r\nSec-Fetch-Mode: navigate\r\n\r\n", false},
      {"HEAD /v1/status HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n\r\n",
       true},
      /* the first Sec-Fetch-Site counts */
      {"GET /v1/status HTTP/1.1\r\nHost: l\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Site: same-origin\r\n\r\n",
       true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *why = browser(cases[i].head);
    if ((why != NULL) != cases[i].refused) fail_msg("case %zu (%s): %s", i, cases[i].head, why ? why : "admitted");
    if (why) assert_non_null(strstr(why, "cross-site request forgery"));
  }
}

/* The bytes api_conn_reply sends for r with head h, into out. */
static void reply_bytes(const api_wire_reply *r, const api_conn_reply_head *h, char *out, size_t cap) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  api_conn c;
  memset(&c, 0, sizeof c);
  assert_int_equal(api_conn_init(&c, sv[0], NULL, 4096), 0);
  assert_int_equal(api_conn_reply(&c, r, h), 0);
  assert_true(api_conn_flush(&c));
  size_t n = 0;
  for (ssize_t k; n < cap - 1 && (k = recv(sv[1], out + n, cap - 1 - n, MSG_DONTWAIT)) > 0;) n += (size_t)k;
  out[n] = '\0';
  api_conn_release(&c);
  close(sv[1]);
}

static void test_browser_isolation_headers(void **state) {
  (void)state;
  static const char *with[] = {"\r\nContent-Security-Policy: " API_UI_CSP "\r\n",
                               "\r\nReferrer-Policy: no-referrer\r\n",
                               "\r\nCross-Origin-Opener-Policy: same-origin\r\n",
                               "\r\nCross-Origin-Resource-Policy: same-origin\r\n",
                               "\r\nX-Content-Type-Options: nosniff\r\n"};
  api_wire_reply r = {.status = 200, .body = (const uint8_t *)"<html></html>\n", .body_len = 14};
  strcpy(r.content_type, "text/html; charset=utf-8");
  char got[4096];
  /* a TLS reply (server.c sets the policy on each): all of them, a 4xx too */
  static const int statuses[] = {200, 403};
  for (size_t k = 0; k < 2; k++) {
    int status = statuses[k];
    r.status = status;
    api_conn_reply_head h = {.request_id = "rid", .csp = API_UI_CSP};
    reply_bytes(&r, &h, got, sizeof got);
    for (size_t i = 0; i < sizeof with / sizeof *with; i++)
      if (!strstr(got, with[i])) fail_msg("status %d: no %s in: %s", status, with[i] + 2, got);
    /* each once */
    assert_null(strstr(strstr(got, "Referrer-Policy:") + 1, "Referrer-Policy:"));
  }
  /* without the policy (the plain probe listener): none of the three */
  api_conn_reply_head plain = {.request_id = "rid"};
  reply_bytes(&r, &plain, got, sizeof got);
  assert_null(strstr(got, "Content-Security-Policy:"));
  assert_null(strstr(got, "Referrer-Policy:"));
  assert_null(strstr(got, "Cross-Origin-"));
  /* HEAD: the headers, the GET's length, no body */
  api_conn_reply_head head = {.request_id = "rid", .csp = API_UI_CSP, .head = true};
  r.status = 200;
  reply_bytes(&r, &head, got, sizeof got);
  assert_non_null(strstr(got, "\r\nContent-Length: 14\r\n"));
  assert_non_null(strstr(got, "\r\nCross-Origin-Resource-Policy: same-origin\r\n"));
  assert_int_equal(strcmp(got + strlen(got) - 4, "\r\n\r\n"), 0);
}

static void test_head_of_view_as_get(void **state) {
  (void)state;
  static const struct {
    const char *method, *uri;
    bool as_get;
  } cases[] = {
      {"HEAD", "/ui", true},
      {"HEAD", "/ui/", true},
      {"HEAD", "/ui/app.js", true},
      {"HEAD", "/ui/outlines.json?x=1", true},
      {"HEAD", "/ui?x=1", true},
      {"HEAD", "/ui/nothing.js", true}, /* routed as GET: 404 as a GET gets */
      /* the API's reads may record them: HEAD stays 405 there */
      {"HEAD", "/v1/status", false},
      {"HEAD", "/v1/audit/entries", false},
      {"HEAD", "/uix", false},
      {"HEAD", "/u", false},
      {"HEAD", "/", false},
      {"HEAD", "/v1/ui/", false},
      {"GET", "/ui/", false},
      {"POST", "/ui/", false},
      {"head", "/ui/", false}, /* methods are case-sensitive (RFC 9110) */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    if (api_ui_head_as_get(cases[i].method, cases[i].uri) != cases[i].as_get)
      fail_msg("%s %s: want %s", cases[i].method, cases[i].uri, cases[i].as_get ? "as GET" : "not");
  assert_false(api_ui_head_as_get("HEAD", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_files_served_with_types),
      cmocka_unit_test(test_other_roles_refused),
      cmocka_unit_test(test_unknown_and_bad_names),
      cmocka_unit_test(test_assets_table),
      cmocka_unit_test(test_browser_requests),
      cmocka_unit_test(test_browser_isolation_headers),
      cmocka_unit_test(test_head_of_view_as_get),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
