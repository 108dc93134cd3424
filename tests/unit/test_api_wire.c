/* Unit tests of the front <-> controller messages (api/wire.c) and of the
 * front's admission (api_admit): a request and a reply round-trip; a
 * payload cut at any byte, a field over its bound (body over max_body, URI,
 * subject, role) and bytes after the last field are refused; fields no
 * well-behaved peer sends (a role whose bit disagrees, an unknown role, a
 * method in lower case, a URI that is no path or holds a control byte, a
 * status outside 100-599, a header value with CR LF, a body without a
 * content type) are refused naming the field; framing on a libevent buffer
 * waits for a whole message and refuses type 0 and a length over the
 * channel's bound; a reply for an id never given, already answered or from
 * a slot's earlier use finds nothing; and the front answers 413, 400 (URI,
 * JSON), 404 and 405 itself, sends a refused role on without its body, and
 * re-serialises an admitted body compactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/wire.h"

#define MAX_BODY 4096

static api_wire_request sample_request(void) {
  api_wire_request r;
  memset(&r, 0, sizeof r);
  r.route = 3;
  snprintf(r.who.subject, sizeof r.who.subject, "mano-1");
  snprintf(r.who.role, sizeof r.who.role, "mano");
  r.who.role_bit = api_role_bit("mano");
  snprintf(r.method, sizeof r.method, "POST");
  snprintf(r.uri, sizeof r.uri, "/v1/decisions/migration?x=1");
  snprintf(r.request_id, sizeof r.request_id, "req-42.a:b_c");
  r.body = (const uint8_t *)"{\"vm\":\"v\"}";
  r.body_len = strlen((const char *)r.body);
  return r;
}

static void test_request_round_trip(void **state) {
  (void)state;
  api_wire_request in = sample_request(), out;
  ipc_writer w;
  lisec_err err = {0};
  assert_int_equal(api_wire_request_encode(&w, &in, MAX_BODY, &err), 0);
  assert_int_equal(api_wire_request_decode(w.buf.data, w.buf.len, MAX_BODY, &out, &err), 0);
  assert_int_equal(out.route, 3);
  assert_string_equal(out.who.subject, "mano-1");
  assert_string_equal(out.who.role, "mano");
  assert_int_equal(out.who.role_bit, API_ROLE_MANO);
  assert_string_equal(out.method, "POST");
  assert_string_equal(out.uri, "/v1/decisions/migration?x=1");
  assert_string_equal(out.request_id, "req-42.a:b_c");
  assert_int_equal(out.body_len, in.body_len);
  assert_memory_equal(out.body, in.body, in.body_len);
  /* Every cut is refused, none read past the payload. */
  for (size_t cut = 0; cut < w.buf.len; cut++) {
    uint8_t *p = malloc(cut ? cut : 1);
    memcpy(p, w.buf.data, cut);
    assert_int_equal(api_wire_request_decode(p, cut, MAX_BODY, &out, &err), LISEC_EINVAL);
    free(p);
  }
  /* A byte after the last field. */
  uint8_t *longer = malloc(w.buf.len + 1);
  memcpy(longer, w.buf.data, w.buf.len);
  longer[w.buf.len] = 0;
  assert_int_equal(api_wire_request_decode(longer, w.buf.len + 1, MAX_BODY, &out, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after its last field"));
  free(longer);
  ipc_writer_free(&w);
}

/* A request payload written field by field, so any field can be wrong. */
static const char *raw_request_id = "0123abcd";
static const char *raw_if_match = "";
static const char *raw_cert_sha256 = ""; /* the client certificate's identity */
static size_t raw_request(ipc_writer *w, uint32_t route, const char *subject, const char *role,
                          uint32_t bit, const char *method, const char *uri, size_t body_len) {
  ipc_writer_init(w, IPC_PAYLOAD_MAX);
  ipc_put_u32(w, route);
  ipc_put_str(w, subject);
  ipc_put_str(w, role);
  ipc_put_u32(w, bit);
  ipc_put_str(w, raw_cert_sha256);
  ipc_put_str(w, "");
  ipc_put_str(w, "");
  ipc_put_str(w, method);
  ipc_put_str(w, uri);
  ipc_put_str(w, raw_request_id);
  ipc_put_str(w, raw_if_match);
  char *body = calloc(1, body_len + 1);
  memset(body, '1', body_len);
  ipc_put_bytes(w, body, body_len);
  free(body);
  return w->buf.len;
}

static int decode_raw(uint32_t route, const char *subject, const char *role, uint32_t bit,
                      const char *method, const char *uri, size_t body_len, lisec_err *err) {
  ipc_writer w;
  raw_request(&w, route, subject, role, bit, method, uri, body_len);
  api_wire_request out;
  int rc = api_wire_request_decode(w.buf.data, w.buf.len, MAX_BODY, &out, err);
  ipc_writer_free(&w);
  return rc;
}

static void test_request_oversized_and_malformed(void **state) {
  (void)state;
  lisec_err err = {0};
  unsigned op = API_ROLE_OPERATOR;
  assert_int_equal(decode_raw(0, "s", "operator", op, "GET", "/v1/status", 0, &err), 0);
  /* the certificate's hash: 64 lower-case hex digits or nothing */
  raw_cert_sha256 = "9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
  assert_int_equal(decode_raw(0, "s", "host", API_ROLE_HOST, "GET", "/v1/status", 0, &err), 0);
  raw_cert_sha256 = "9A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B";
  assert_int_equal(decode_raw(0, "s", "host", API_ROLE_HOST, "GET", "/v1/status", 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "certificate hash"));
  raw_cert_sha256 = "";
  /* over a bound */
  assert_int_equal(decode_raw(0, "s", "operator", op, "POST", "/v1/x", MAX_BODY + 1, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "over its bound"));
  char *uri = malloc(API_URI_MAX + 2);
  uri[0] = '/';
  memset(uri + 1, 'a', API_URI_MAX);
  uri[API_URI_MAX + 1] = '\0';
  assert_int_equal(decode_raw(0, "s", "operator", op, "GET", uri, 0, &err), LISEC_EINVAL);
  free(uri);
  char subject[API_SUBJECT_MAX + 1];
  memset(subject, 's', API_SUBJECT_MAX);
  subject[API_SUBJECT_MAX] = '\0';
  assert_int_equal(decode_raw(0, subject, "operator", op, "GET", "/", 0, &err), LISEC_EINVAL);
  char role[API_ROLE_NAME_MAX + 8] = "tenant:";
  memset(role + 7, 't', API_ROLE_NAME_MAX);
  role[API_ROLE_NAME_MAX + 7] = '\0';
  assert_int_equal(decode_raw(0, "s", role, API_ROLE_TENANT, "GET", "/", 0, &err), LISEC_EINVAL);
  assert_int_equal(decode_raw(API_ROUTES_MAX, "s", "operator", op, "GET", "/", 0, &err), LISEC_EINVAL);
  /* malformed */
  assert_int_equal(decode_raw(0, "s", "operator", API_ROLE_LI_ADMIN, "GET", "/", 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "role and role bit disagree"));
  assert_int_equal(decode_raw(0, "s", "root", 0, "GET", "/", 0, &err), LISEC_EINVAL);
  assert_int_equal(decode_raw(0, "s", "operator", op, "get", "/", 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "method"));
  assert_int_equal(decode_raw(0, "s", "operator", op, "", "/", 0, &err), LISEC_EINVAL);
  assert_int_equal(decode_raw(0, "s", "operator", op, "GET", "v1/status", 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "URI"));
  assert_int_equal(decode_raw(0, "s", "operator", op, "GET", "/v1\r\nX: y", 0, &err), LISEC_EINVAL);
  /* The request id: empty, over 64 characters, or outside its alphabet. */
  static const char *const bad_ids[] = {
      "", "a b", "id\r\nX-Injected: 1", "{\"x\":1}", "\xc3\xa9",
      "12345678901234567890123456789012345678901234567890123456789012345"};
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    raw_request_id = bad_ids[i];
    assert_int_equal(decode_raw(0, "s", "operator", op, "GET", "/", 0, &err), LISEC_EINVAL);
  }
  raw_request_id = "1234567890123456789012345678901234567890123456789012345678901234"; /* 64 */
  assert_int_equal(decode_raw(0, "s", "operator", op, "GET", "/", 0, &err), 0);
  raw_request_id = "0123abcd";
  /* If-Match: printable ASCII or nothing (the route judges its form) */
  raw_if_match = "\"3\"";
  assert_int_equal(decode_raw(0, "s", "operator", op, "PUT", "/", 0, &err), 0);
  raw_if_match = "\"3\"\r\nX-Injected: 1";
  assert_int_equal(decode_raw(0, "s", "operator", op, "PUT", "/", 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "If-Match"));
  raw_if_match = "";
  /* The encoder refuses what the decoder would. */
  api_wire_request r = sample_request();
  r.body_len = MAX_BODY + 1;
  ipc_writer w;
  assert_int_equal(api_wire_request_encode(&w, &r, MAX_BODY, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  r = sample_request();
  snprintf(r.request_id, sizeof r.request_id, "x\ny");
  assert_int_equal(api_wire_request_encode(&w, &r, MAX_BODY, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
}

static void test_reply(void **state) {
  (void)state;
  lisec_err err = {0};
  api_wire_reply in = {.status = 429, .content_type = "application/json", .retry_after = "3",
                       .etag = "\"12\"", .body = (const uint8_t *)"{}\n", .body_len = 3};
  api_wire_reply out;
  ipc_writer w;
  assert_int_equal(api_wire_reply_encode(&w, &in, &err), 0);
  assert_int_equal(api_wire_reply_decode(w.buf.data, w.buf.len, &out, &err), 0);
  assert_int_equal(out.status, 429);
  assert_string_equal(out.content_type, "application/json");
  assert_string_equal(out.retry_after, "3");
  assert_string_equal(out.etag, "\"12\"");
  assert_int_equal(out.body_len, 3);
  for (size_t cut = 0; cut < w.buf.len; cut++)
    assert_int_equal(api_wire_reply_decode(w.buf.data, cut, &out, &err), LISEC_EINVAL);
  ipc_writer_free(&w);

  struct {
    uint32_t status;
    const char *ct, *allow, *retry, *etag, *body;
    const char *says;
  } bad[] = {
      {99, "text/plain", "", "", "", "x", "status 99"},
      {600, "text/plain", "", "", "", "x", "status 600"},
      {200, "text/plain\r\nSet-Cookie: a=b", "", "", "", "x", "header value"},
      {405, "", "GET\r\nX: y", "", "", "", "header value"},
      {429, "", "", "3s", "", "", "header value"},
      {200, "", "", "", "", "x", "without a content type"},
      {200, "", "", "", "\"3\"\r\nX: y", "", "header value"},
      {200, "", "", "", "W/\"3\"", "", "header value"},
      {200, "", "", "", "\"\"", "", "header value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ipc_writer_init(&w, 4096);
    ipc_put_u32(&w, bad[i].status);
    ipc_put_str(&w, bad[i].ct);
    ipc_put_str(&w, bad[i].allow);
    ipc_put_str(&w, bad[i].retry);
    ipc_put_str(&w, bad[i].etag);
    ipc_put_bytes(&w, bad[i].body, strlen(bad[i].body));
    assert_int_equal(api_wire_reply_decode(w.buf.data, w.buf.len, &out, &err), LISEC_EINVAL);
    if (!strstr(err.msg, bad[i].says)) fail_msg("case %zu: %s", i, err.msg);
    ipc_writer_free(&w);
  }
}

static void test_render(void **state) {
  (void)state;
  api_response resp = {0};
  api_wire_reply r;
  char *owned = NULL;
  api_error(&resp, 405, "method_not_allowed", "no");
  snprintf(resp.allow, sizeof resp.allow, "GET, POST");
  assert_int_equal(api_wire_reply_render(&resp, &r, &owned), 0);
  assert_int_equal(r.status, 405);
  assert_string_equal(r.allow, "GET, POST");
  assert_string_equal(r.content_type, "application/json");
  assert_int_equal(r.body[r.body_len - 1], '\n');
  free(owned);
  api_response_free(&resp);
}

static void test_framing(void **state) {
  (void)state;
  struct evbuffer *b = evbuffer_new();
  lisec_err err = {0};
  ipc_header h;
  uint8_t *payload = NULL;
  api_wire_request r = sample_request();
  ipc_writer w;
  assert_int_equal(api_wire_request_encode(&w, &r, MAX_BODY, &err), 0);
  assert_int_equal(api_wire_queue(b, API_MSG_REQUEST, 77, &w, &err), 0);
  assert_int_equal(api_wire_queue(b, API_MSG_STOP, 0, NULL, &err), 0);
  /* Byte by byte into a second buffer: nothing is taken before a message is whole. */
  struct evbuffer *in = evbuffer_new();
  size_t total = evbuffer_get_length(b), first = IPC_HEADER_LEN + w.buf.len;
  for (size_t i = 0; i < total; i++) {
    uint8_t byte;
    evbuffer_remove(b, &byte, 1);
    evbuffer_add(in, &byte, 1);
    int rc = api_wire_take(in, api_wire_channel_max(MAX_BODY), &h, &payload, &err);
    if (i + 1 == first) {
      assert_int_equal(rc, 1);
      assert_int_equal(h.type, API_MSG_REQUEST);
      assert_int_equal(h.id, 77);
      assert_int_equal(h.len, w.buf.len);
      assert_memory_equal(payload, w.buf.data, w.buf.len);
      ipc_payload_free(payload, h.len);
    } else if (i + 1 == total) {
      assert_int_equal(rc, 1);
      assert_int_equal(h.type, API_MSG_STOP);
      assert_null(payload);
    } else {
      assert_int_equal(rc, 0);
    }
  }
  ipc_writer_free(&w);
  /* type 0, and a length over the channel's bound */
  uint8_t hdr[IPC_HEADER_LEN];
  ipc_header bad = {.type = 0, .id = 1, .len = 0};
  ipc_header_encode(&bad, hdr);
  evbuffer_add(in, hdr, sizeof hdr);
  assert_int_equal(api_wire_take(in, 1024, &h, &payload, &err), LISEC_EINVAL);
  evbuffer_drain(in, evbuffer_get_length(in));
  bad = (ipc_header){.type = API_MSG_REQUEST, .id = 1, .len = 1025};
  ipc_header_encode(&bad, hdr);
  evbuffer_add(in, hdr, sizeof hdr);
  assert_int_equal(api_wire_take(in, 1024, &h, &payload, &err), LISEC_ETOOBIG);
  evbuffer_free(in);
  evbuffer_free(b);
}

static void test_pending_ids(void **state) {
  (void)state;
  api_wire_pending t;
  lisec_err err = {0};
  int a = 1, b = 2, c = 3;
  uint32_t ia, ib, ic;
  api_wire_pending_init(&t);
  assert_int_equal(api_wire_pending_add(&t, &a, &ia, &err), 0);
  assert_int_equal(api_wire_pending_add(&t, &b, &ib, &err), 0);
  assert_int_not_equal(ia, 0);
  assert_int_not_equal(ia, ib);
  /* unknown ids: never given, 0 */
  assert_null(api_wire_pending_take(&t, ia + ib + 12345, &err));
  assert_int_equal(err.code, LISEC_ENOTFOUND);
  assert_non_null(strstr(err.msg, "not in flight"));
  assert_null(api_wire_pending_take(&t, 0, &err));
  assert_ptr_equal(api_wire_pending_take(&t, ia, &err), &a);
  /* answered already */
  assert_null(api_wire_pending_take(&t, ia, &err));
  /* the slot used again: the old id still finds nothing */
  assert_int_equal(api_wire_pending_add(&t, &c, &ic, &err), 0);
  assert_int_not_equal(ic, ia);
  assert_null(api_wire_pending_get(&t, ia));
  assert_ptr_equal(api_wire_pending_get(&t, ic), &c);
  assert_ptr_equal(api_wire_pending_take(&t, ib, &err), &b);
  assert_ptr_equal(api_wire_pending_take(&t, ic, &err), &c);
  assert_int_equal(t.n_used, 0);
  /* many at once: the table grows and every id stays distinct */
  uint32_t ids[1000];
  for (int i = 0; i < 1000; i++) assert_int_equal(api_wire_pending_add(&t, &ids[i], &ids[i], &err), 0);
  for (int i = 0; i < 1000; i++) assert_ptr_equal(api_wire_pending_take(&t, ids[i], &err), &ids[i]);
  api_wire_pending_free(&t);
}

/* ---- the front's admission ------------------------------------------------- */

static int h_ok(lisec_ctl *ctl, const ctl_actor *a, const api_request *req, api_response *resp) {
  (void)ctl, (void)a, (void)req, (void)resp;
  return 0;
}

static const api_route routes[] = {
    {"GET", "/v1/things/{id}", API_ROLE_OPERATOR, false, h_ok, NULL},
    {"POST", "/v1/things", API_ROLE_OPERATOR, true, h_ok, NULL},
    {"POST", "/v1/li/things", API_ROLE_LI_ADMIN, true, h_ok, "li.things"},
};

static int admit(const char *role, const char *method, const char *uri, const char *body,
                 api_response *resp, char **out, size_t *out_len) {
  api_principal p = {0};
  snprintf(p.subject, sizeof p.subject, "t");
  snprintf(p.role, sizeof p.role, "%s", role);
  p.role_bit = api_role_bit(role);
  api_raw_request raw = {.method = method, .uri = uri, .body = body,
                         .body_len = body ? strlen(body) : 0, .max_body = 64};
  int route = -1;
  return api_admit_routes(routes, 3, &p, &raw, resp, &route, out, out_len);
}

/* The front's verdict on body (up to 4 KiB): 1 admitted, 0 refused (400). */
static int admit_body(const char *body, size_t len) {
  api_principal p = {0};
  snprintf(p.subject, sizeof p.subject, "t");
  snprintf(p.role, sizeof p.role, "operator");
  p.role_bit = api_role_bit("operator");
  api_raw_request raw = {.method = "POST", .uri = "/v1/things", .body = body, .body_len = len,
                         .max_body = 4096};
  api_response r;
  char *out = NULL;
  size_t n = 0;
  int route = -1;
  int ok = api_admit_routes(routes, 3, &p, &raw, &r, &route, &out, &n);
  if (ok) {
    assert_int_equal(n, len);
    assert_memory_equal(out, body, len);
  } else {
    assert_int_equal(r.status, 400);
    assert_null(out);
  }
  free(out);
  api_response_free(&r);
  return ok;
}

/* The front admits a body without building it when it is in the plain
 * form, and leaves every other form to lisec_json_parse: both ways, what
 * JSON and lisec's bounds accept is admitted and nothing else. */
static void test_admission_plain_and_not(void **state) {
  (void)state;
  const char *yes[] = {
      "{}", "[]", " {\"a\" : [1, -2, 0, -0, true, false, null, {\"b\": \"x\\n\\\"y\\/\"}]} \n",
      "{\"n\":123456789012345678}",
      "{\"n\":1234567890123456789}", /* 19 digits: jansson's, still an integer */
      "{\"r\":1.5e3}", "{\"s\":\"\\u00e9\"}", "{\"s\":\"\xc3\xa9\"}", "{\"\\u0061\":1,\"b\":2}",
  };
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
    if (!admit_body(yes[i], strlen(yes[i]))) fail_msg("refused: %s", yes[i]);
  const char *no[] = {
      "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{}x", "{\"a\":01}", "{\"a\":1,}", "{\"a\" 1}",
      "{\"n\":123456789012345678901}", "{\"s\":\"\\x\"}", "{\"s\":\"\x01\"}", "{\"s\":\"\\u0000\"}",
      "\"top\"", "17", "{\"a\":tru}", "{\"a\":[1 2]}", "{\"s\":\"\xff\"}", "[",
  };
  for (size_t i = 0; i < sizeof no / sizeof *no; i++)
    if (admit_body(no[i], strlen(no[i]))) fail_msg("admitted: %s", no[i]);
  assert_int_equal(admit_body("{\"a\":\"x\0y\"}", 11), 0); /* a raw NUL */
  /* LISEC_JSON_MAX_DEPTH levels are admitted, one more is not. */
  char deep[2 * LISEC_JSON_MAX_DEPTH + 3];
  for (int extra = 0; extra <= 1; extra++) {
    int d = LISEC_JSON_MAX_DEPTH + extra;
    memset(deep, '[', (size_t)d);
    memset(deep + d, ']', (size_t)d);
    assert_int_equal(admit_body(deep, 2 * (size_t)d), !extra);
  }
}

static void test_admission(void **state) {
  (void)state;
  api_response r;
  char *body = NULL;
  size_t n = 0;
  assert_int_equal(admit("operator", "GET", "/v1/nothing", NULL, &r, &body, &n), 0);
  assert_int_equal(r.status, 404);
  api_response_free(&r);
  assert_int_equal(admit("operator", "DELETE", "/v1/things", NULL, &r, &body, &n), 0);
  assert_int_equal(r.status, 405);
  assert_string_equal(r.allow, "POST");
  api_response_free(&r);
  assert_int_equal(admit("operator", "GET", "/v1/things/a%2Fb", NULL, &r, &body, &n), 0);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  assert_int_equal(admit("operator", "GET", "/v1/things/a?q=\xc3\xa9", NULL, &r, &body, &n), 0);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  char big[80];
  memset(big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(admit("operator", "POST", "/v1/things", big, &r, &body, &n), 0);
  assert_int_equal(r.status, 413);
  api_response_free(&r);
  assert_int_equal(admit("operator", "POST", "/v1/things", "{\"a\":", &r, &body, &n), 0);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  assert_int_equal(admit("operator", "POST", "/v1/things", NULL, &r, &body, &n), 0);
  assert_int_equal(r.status, 400);
  api_response_free(&r);
  /* admitted: the bytes the front's parser accepted go on as received (the
   * controller parses them with the same function), not a re-rendering */
  const char *sent = "{ \"a\" : [1, 2], \"s\": \"\\u00e9\\/\" }";
  assert_int_equal(admit("operator", "POST", "/v1/things", sent, &r, &body, &n), 1);
  assert_int_equal(n, strlen(sent));
  assert_memory_equal(body, sent, n);
  free(body);
  api_response_free(&r);
  /* a duplicate key is refused by the front, not passed on */
  assert_int_equal(admit("operator", "POST", "/v1/things", "{\"a\":1,\"a\":2}", &r, &body, &n), 0);
  assert_int_equal(r.status, 400);
  assert_null(body);
  api_response_free(&r);
  /* a refused role goes on, without its (even malformed) body: the
   * controller records the refusal */
  assert_int_equal(admit("auditor", "POST", "/v1/li/things", "{bad", &r, &body, &n), 1);
  assert_null(body);
  assert_int_equal(r.status, 0);
  api_response_free(&r);
  assert_int_equal(admit("operator", "GET", "/v1/things/t-1", NULL, &r, &body, &n), 1);
  assert_null(body);
  api_response_free(&r);
}

static void test_metrics_answered_by_front(void **state) {
  (void)state;
  size_t n = 0;
  const api_route *all = api_route_table(&n);
  int front = 0;
  for (size_t i = 0; i < n; i++)
    if (api_route_is_front(&all[i])) {
      front++;
      assert_string_equal(all[i].pattern, "/metrics");
    }
  assert_int_equal(front, 1);
}

/* The routing rule for bulk work (api/bulk.c): the heavy reports and
 * on-boardings are bulk, every one of them a route of the table (a route
 * renamed would otherwise silently fall back to the decisions' threads);
 * no decision, nonce or read is, nor the same path with another method. */
static void test_bulk_routes(void **state) {
  (void)state;
  static const char *const want[][2] = {
      {"POST", "/v1/attest/evidence"}, {"POST", "/v1/attest/enrol"}, {"POST", "/v1/attest/enrol/finish"},
      {"POST", "/v1/packages"},        {"PUT", "/v1/packages/{id}"}, {"POST", "/v1/packages/{id}/image-reports"},
  };
  size_t n = 0;
  const api_route *all = api_route_table(&n);
  int bulk = 0;
  for (size_t i = 0; i < n; i++) {
    if (!api_route_is_bulk(all[i].method, all[i].pattern)) continue;
    bulk++;
    assert_null(strstr(all[i].pattern, "/v1/decisions/"));
  }
  assert_int_equal(bulk, (int)(sizeof want / sizeof want[0]));
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    bool in_table = false;
    for (size_t i = 0; i < n; i++)
      in_table = in_table || (strcmp(all[i].method, want[k][0]) == 0 && strcmp(all[i].pattern, want[k][1]) == 0);
    assert_true(in_table);
    assert_true(api_route_is_bulk(want[k][0], want[k][1]));
  }
  assert_false(api_route_is_bulk("POST", "/v1/decisions/migration"));
  assert_false(api_route_is_bulk("POST", "/v1/decisions/placement"));
  assert_false(api_route_is_bulk("POST", "/v1/attest/nonce"));
  assert_false(api_route_is_bulk("GET", "/v1/attest/evidence"));
  assert_false(api_route_is_bulk("GET", "/v1/packages/{id}"));
  assert_false(api_route_is_bulk("POST", "/v1/attest/evidence/"));
  assert_false(api_route_is_bulk(NULL, "/v1/attest/evidence"));
  assert_false(api_route_is_bulk("POST", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_round_trip),
      cmocka_unit_test(test_request_oversized_and_malformed),
      cmocka_unit_test(test_reply),
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_framing),
      cmocka_unit_test(test_pending_ids),
      cmocka_unit_test(test_admission),
      cmocka_unit_test(test_admission_plain_and_not),
      cmocka_unit_test(test_metrics_answered_by_front),
      cmocka_unit_test(test_bulk_routes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
