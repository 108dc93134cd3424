/* Unit tests of the front's HTTP/1.1 request framing (api/http1.c): a
 * complete head gives its method, target, version, connection, body
 * framing, request id and If-Match; every refusal comes with its status and
 * a reason naming the rule (bare CR/LF, obs-fold, space before a colon,
 * control bytes, request-line form, method and target length, version,
 * Host, Expect, Connection, head and field-count limits); the smuggling
 * shapes (two Content-Lengths, Content-Length with Transfer-Encoding, a
 * coding other than chunked, Transfer-Encoding in HTTP/1.0) are refused; a
 * head fed a byte at a time is MORE until its last byte and then the same
 * as whole. A chunked body split at every offset frames the same, with
 * extensions and trailers; a size over the body limit is 413 before its
 * data arrive; malformed chunks are 400; decoding gives the data by hand.
 * Every input is copied to a buffer of its exact length, so a read past it
 * fails under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http1.h"

#define MAX_HEAD 8192
#define MAX_BODY 1000
#define MAX_LINE 64

/* Parses the first len bytes of s from an exact-length copy. */
static http1_result parse_n(const char *s, size_t len, size_t max_head, http1_request *req, int *status,
                            const char **why) {
  char *p = malloc(len ? len : 1);
  memcpy(p, s, len);
  *status = 0;
  *why = NULL;
  http1_result r = http1_parse_head(p, len, max_head, req, status, why);
  /* A reason is a short static sentence, never the client's bytes. */
  if (r == HTTP1_BAD) {
    assert_non_null(*why);
    assert_true(*why < p || *why >= p + len);
    assert_true(strlen(*why) < 100);
  }
  /* Slices point into p: move them to s so they outlive the copy. */
  if (r == HTTP1_OK) {
    if (req->target.p) req->target.p = s + (req->target.p - p);
    if (req->request_id.p) req->request_id.p = s + (req->request_id.p - p);
    if (req->if_match.p) req->if_match.p = s + (req->if_match.p - p);
  }
  free(p);
  return r;
}

static http1_result parse(const char *s, http1_request *req, int *status, const char **why) {
  return parse_n(s, strlen(s), MAX_HEAD, req, status, why);
}

static void assert_str(http1_str got, const char *want) {
  assert_int_equal(got.n, strlen(want));
  assert_memory_equal(got.p, want, got.n);
}

/* A refusal with its status and a reason holding `rule`. */
static void refused(const char *s, int want_status, const char *rule) {
  http1_request req;
  int status;
  const char *why;
  http1_result r = parse(s, &req, &status, &why);
  if (r != HTTP1_BAD || status != want_status || !why || !strstr(why, rule))
    fail_msg("input %s: result %d status %d why \"%s\", want %d \"%s\"", s, r, status, why ? why : "",
             want_status, rule);
}

static void test_get(void **state) {
  (void)state;
  const char *s = "\r\n\r\nGET /v1/hosts?limit=5 HTTP/1.1\r\nHost: lisec.example\r\nAccept: */*\r\n"
                  "X-Request-Id:  abc-1 \t\r\n\r\nNEXT";
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse(s, &req, &status, &why), HTTP1_OK);
  assert_string_equal(req.method, "GET");
  assert_str(req.target, "/v1/hosts?limit=5");
  assert_int_equal(req.minor, 1);
  assert_true(req.keep_alive);
  assert_false(req.chunked);
  assert_false(req.has_length);
  assert_false(req.expect_continue);
  assert_int_equal(req.n_request_id, 1);
  assert_str(req.request_id, "abc-1");
  assert_false(req.has_if_match);
  /* 4 leading + 32 + 21 + 13 + 24 + 2: the pipelined "NEXT" is not ours. */
  assert_int_equal(req.head_len, 96);
  assert_int_equal(req.head_len, strlen(s) - 4);
}

static void test_fields(void **state) {
  (void)state;
  http1_request req;
  int status;
  const char *why;
  const char *s = "PATCH /v1/vms/a HTTP/1.1\r\nhOsT: x\r\nCONTENT-LENGTH: 0042\r\n"
                  "x-request-id: first\r\nX-Request-ID: second\r\nIf-Match: \"7\"\r\nif-match: \"8\"\r\n"
                  "X-Note: caf\xc3\xa9 \"ok\"\r\n\r\n";
  assert_int_equal(parse(s, &req, &status, &why), HTTP1_OK);
  assert_string_equal(req.method, "PATCH");
  assert_true(req.has_length);
  assert_int_equal(req.content_length, 42);
  assert_int_equal(req.n_request_id, 2);
  assert_str(req.request_id, "first");
  assert_true(req.has_if_match);
  assert_str(req.if_match, "\"7\"");
  /* The largest Content-Length there is. */
  assert_int_equal(parse("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", &req,
                         &status, &why),
                   HTTP1_OK);
  assert_true(req.content_length == UINT64_MAX);
  /* An empty value, a value of only OWS. */
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost:\r\nX-Request-Id: \t \r\n\r\n", &req, &status, &why), HTTP1_OK);
  assert_int_equal(req.n_request_id, 1);
  assert_int_equal(req.request_id.n, 0);
  /* A 15-byte method and a 2048-byte target are the longest taken. */
  char big[2200];
  memset(big, 'a', sizeof big);
  memcpy(big, "ABCDEFGHIJKLMNO /", 17);
  memcpy(big + 16 + 2048, " HTTP/1.0\r\n\r\n", 14);
  assert_int_equal(parse(big, &req, &status, &why), HTTP1_OK);
  assert_string_equal(req.method, "ABCDEFGHIJKLMNO");
  assert_int_equal(req.target.n, 2048);
  assert_int_equal(req.minor, 0);
  assert_false(req.keep_alive);
}

static void test_connection(void **state) {
  (void)state;
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", &req, &status, &why), HTTP1_OK);
  assert_false(req.keep_alive);
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, ,CLOSE \r\n\r\n", &req, &status, &why),
                   HTTP1_OK);
  assert_false(req.keep_alive);
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", &req, &status, &why),
                   HTTP1_OK);
  assert_true(req.keep_alive);
  assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req, &status, &why), HTTP1_OK);
  assert_false(req.keep_alive);
  assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req, &status, &why), HTTP1_OK);
  assert_true(req.keep_alive);
  /* close wins over keep-alive, in any field. */
  assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", &req, &status,
                         &why),
                   HTTP1_OK);
  assert_false(req.keep_alive);
  /* "closed" is not "close". */
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", &req, &status, &why), HTTP1_OK);
  assert_true(req.keep_alive);
  refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: close keep-alive\r\n\r\n", 400, "RFC 9110 7.6.1");
  refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: \"close\"\r\n\r\n", 400, "Connection");
}

static void test_expect(void **state) {
  (void)state;
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", &req,
                         &status, &why),
                   HTTP1_OK);
  assert_true(req.expect_continue);
  /* An HTTP/1.0 client cannot mean it (RFC 9110 10.1.1). */
  assert_int_equal(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &req, &status, &why),
                   HTTP1_OK);
  assert_false(req.expect_continue);
  refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417, "100-continue");
  refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", 417, "RFC 9110 10.1.1");
}

static void test_refusals(void **state) {
  (void)state;
  /* Line ends. */
  refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF");
  refused("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF");
  refused("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF");
  refused("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare LF");
  refused("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, "bare CR");
  refused("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400, "bare CR");
  refused("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR");
  refused("\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR");
  /* Field lines. */
  refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold (RFC 9112 5.2)");
  refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400, "obs-fold");
  refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "obs-fold");
  refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "whitespace between a field name and its colon (RFC 9112 5.1)");
  refused("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400, "RFC 9112 5.1");
  refused("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", 400, "not a token (RFC 9110 5.1)");
  refused("GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400, "not a token");
  refused("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "not a token");
  refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400, "control character (RFC 9110 5.5)");
  refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400, "control character");
  static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n";
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse_n(nul, sizeof nul - 1, MAX_HEAD, &req, &status, &why), HTTP1_BAD);
  assert_int_equal(status, 400);
  assert_non_null(strstr(why, "control character"));
  /* The request-line. */
  refused("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "RFC 9112 3)");
  refused("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400, "method SP request-target SP HTTP-version");
  refused(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "RFC 9112 3)");
  refused("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "RFC 9112 3)");
  refused("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "HTTP-version");
  refused("GET /\r\nHost: h\r\n\r\n", 400, "RFC 9112 3)");
  refused("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "RFC 9112 3)");
  refused("ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: h\r\n\r\n", 501, "method longer than 15");
  refused("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "origin-form (RFC 9112 3.2.1)");
  refused("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "origin-form");
  refused("GET /a\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "VCHAR (RFC 9112 3.2)");
  refused("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "VCHAR");
  char big[2200];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET /", 5);
  memcpy(big + 4 + 2049, " HTTP/1.1\r\nHost: h\r\n\r\n", 23);
  refused(big, 414, "longer than 2048 bytes");
  refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "other than 1.0 and 1.1");
  refused("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, "RFC 9110 15.6.6");
  refused("GET / HTTP/0.9\r\n\r\n", 505, "RFC 9110 15.6.6");
  refused("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP-version (RFC 9112 2.3)");
  refused("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "HTTP-version");
  refused("GET / HTTP/11\r\nHost: h\r\n\r\n", 400, "HTTP-version");
  refused("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400, "HTTP-version");
  /* Host. */
  refused("GET / HTTP/1.1\r\n\r\n", 400, "without Host (RFC 9112 3.2)");
  refused("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, "more than one Host");
  refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "RFC 9112 3.2");
  /* Content-Length. */
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400, "1*DIGIT (RFC 9110 8.6)");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, "1*DIGIT");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", 400, "1*DIGIT");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 1\r\n\r\n", 400, "1*DIGIT");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400, "1*DIGIT");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400, "1*DIGIT");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", 400, "over 2^64-1");
  refused("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "RFC 9110 8.6");
}

static void test_smuggling(void **state) {
  (void)state;
  const char *cl_twice = "more than one Content-Length header (RFC 9112 6.3)";
  refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, cl_twice);
  refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400, cl_twice);
  refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n", 400, cl_twice);
  refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
          "both Transfer-Encoding and Content-Length (RFC 9112 6.3)");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
          "RFC 9112 6.3");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
          "transfer coding other than chunked alone (RFC 9112 6.1)");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "RFC 9112 6.1");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501, "RFC 9112 6.1");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
          "chunked alone");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
          "chunked alone");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 501, "chunked alone");
  refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 501, "chunked alone");
  refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0 request (RFC 9112 6.1)");
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  ChunKed \r\n\r\n", &req, &status, &why),
                   HTTP1_OK);
  assert_true(req.chunked);
  assert_false(req.has_length);
}

/* A head over the limit is 431; one that ends on the limit is taken. */
static void test_limits(void **state) {
  (void)state;
  const char *s = "GET /limit HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t n = strlen(s);
  http1_request req;
  int status;
  const char *why;
  assert_int_equal(parse_n(s, n, n, &req, &status, &why), HTTP1_OK);
  assert_int_equal(req.head_len, n);
  assert_int_equal(parse_n(s, n, n - 1, &req, &status, &why), HTTP1_BAD);
  assert_int_equal(status, 431);
  assert_non_null(strstr(why, "RFC 6585 5"));
  /* Short of the limit it is MORE, on it 431. */
  assert_int_equal(parse_n(s, n - 1, n, &req, &status, &why), HTTP1_MORE);
  assert_int_equal(parse_n(s, n, n - 1, &req, &status, &why), HTTP1_BAD);
  /* Leading empty lines count. */
  assert_int_equal(parse_n("\r\n\r\n\r\n\r\n", 8, 8, &req, &status, &why), HTTP1_BAD);
  assert_int_equal(status, 431);
  assert_int_equal(parse_n("\r\n\r\n\r\n\r\n", 8, 9, &req, &status, &why), HTTP1_MORE);
  /* 100 fields are taken, 101 are 431. */
  char many[4096];
  size_t at = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < HTTP1_FIELDS_MAX; i++) at += (size_t)snprintf(many + at, sizeof many - at, "Host%d: h\r\n", i);
  memcpy(many + at, "Host: h\r\n\r\n", 12);
  /* 100 fields Host0..Host99, then Host: 101. */
  refused(many, 431, "more header fields");
  at = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 1; i < HTTP1_FIELDS_MAX; i++) at += (size_t)snprintf(many + at, sizeof many - at, "F%d: v\r\n", i);
  memcpy(many + at, "\r\n", 3);
  assert_int_equal(parse(many, &req, &status, &why), HTTP1_OK);
  assert_int_equal(req.head_len, at + 2);
}

/* Fed a byte at a time, a head is MORE until its last byte. */
static void test_byte_at_a_time(void **state) {
  (void)state;
  static const char *heads[] = {
      "GET /v1/hosts HTTP/1.1\r\nHost: h\r\nX-Request-Id: r1\r\nIf-Match: \"3\"\r\n\r\n",
      "\r\nPOST /v1/vms HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
      "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
  };
  for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
    const char *s = heads[h];
    size_t n = strlen(s);
    http1_request whole, part;
    int status;
    const char *why;
    assert_int_equal(parse_n(s, n, MAX_HEAD, &whole, &status, &why), HTTP1_OK);
    assert_int_equal(whole.head_len, n);
    for (size_t cut = 0; cut < n; cut++)
      if (parse_n(s, cut, MAX_HEAD, &part, &status, &why) != HTTP1_MORE) fail_msg("head %zu cut at %zu", h, cut);
    assert_int_equal(parse_n(s, n, MAX_HEAD, &part, &status, &why), HTTP1_OK);
    assert_memory_equal(&part, &whole, sizeof part);
  }
  http1_request req;
  int status;
  const char *why;
  /* What each head says, by hand. */
  assert_int_equal(parse(heads[1], &req, &status, &why), HTTP1_OK);
  assert_true(req.has_length);
  assert_int_equal(req.content_length, 12);
  assert_false(req.keep_alive);
  assert_int_equal(parse(heads[2], &req, &status, &why), HTTP1_OK);
  assert_true(req.chunked);
  assert_true(req.expect_continue);
  assert_int_equal(parse(heads[3], &req, &status, &why), HTTP1_OK);
  assert_int_equal(req.minor, 0);
  assert_int_equal(req.head_len, 18);
}

/* Scans wire[0..len) from a fresh state. */
static http1_result scan_n(const char *wire, size_t len, http1_chunked *st, int *status, const char **why) {
  char *p = malloc(len ? len : 1);
  memcpy(p, wire, len);
  http1_result r = http1_chunked_scan(st, p, len, MAX_BODY, MAX_LINE, status, why);
  free(p);
  return r;
}

static void chunk_refused(const char *wire, int want_status, const char *rule) {
  http1_chunked st = {0};
  int status = 0;
  const char *why = NULL;
  http1_result r = scan_n(wire, strlen(wire), &st, &status, &why);
  if (r != HTTP1_BAD || status != want_status || !why || !strstr(why, rule))
    fail_msg("chunked %s: result %d status %d why \"%s\", want %d \"%s\"", wire, r, status, why ? why : "",
             want_status, rule);
}

static const char chunked_wire[] = "4;name=\"a \\\" b\"\r\nWiki\r\n"
                                   "0B ; x ;y=z\r\npedia in\r\n\r\r\n"
                                   "6\r\nchunks\r\n"
                                   "0;last\r\nX-Sum: 1\r\nY:\r\n\r\n";
#define CHUNKED_DATA "Wikipedia in\r\n\rchunks"

static void test_chunked_split(void **state) {
  (void)state;
  size_t n = sizeof chunked_wire - 1;
  int status;
  const char *why;
  /* Whole, with a pipelined request after it. */
  char more[sizeof chunked_wire + 5];
  memcpy(more, chunked_wire, n);
  memcpy(more + n, "GET /", 5);
  http1_chunked st = {0};
  assert_int_equal(scan_n(more, n + 5, &st, &status, &why), HTTP1_OK);
  assert_int_equal(st.wire_len, n);
  assert_int_equal(st.body_len, 4 + 11 + 6);
  /* Two calls, split at every offset: MORE, then OK with the same. */
  for (size_t cut = 0; cut < n; cut++) {
    http1_chunked s2 = {0};
    if (scan_n(chunked_wire, cut, &s2, &status, &why) != HTTP1_MORE) fail_msg("cut at %zu", cut);
    assert_int_equal(scan_n(chunked_wire, n, &s2, &status, &why), HTTP1_OK);
    assert_int_equal(s2.wire_len, n);
    assert_int_equal(s2.body_len, 21);
  }
  /* A byte at a time, the state carried. */
  http1_chunked s3 = {0};
  for (size_t len = 0; len < n; len++)
    if (scan_n(chunked_wire, len, &s3, &status, &why) != HTTP1_MORE) fail_msg("byte feed at %zu", len);
  assert_int_equal(scan_n(chunked_wire, n, &s3, &status, &why), HTTP1_OK);
  assert_int_equal(s3.wire_len, n);
  assert_int_equal(s3.body_len, 21);
  /* Decoded in place. */
  char buf[sizeof chunked_wire];
  memcpy(buf, chunked_wire, sizeof chunked_wire);
  assert_int_equal(http1_chunked_decode(buf, n), 21);
  assert_memory_equal(buf, CHUNKED_DATA, 21);
  /* An empty body: the last chunk alone. */
  http1_chunked s4 = {0};
  assert_int_equal(scan_n("0\r\n\r\n", 5, &s4, &status, &why), HTTP1_OK);
  assert_int_equal(s4.wire_len, 5);
  assert_int_equal(s4.body_len, 0);
  char empty[] = "0\r\n\r\n";
  assert_int_equal(http1_chunked_decode(empty, 5), 0);
  /* Upper-case hex, 16 digits with leading zeros. */
  const char *w = "000000000000000A\r\n0123456789\r\n0\r\n\r\n";
  http1_chunked s5 = {0};
  assert_int_equal(scan_n(w, strlen(w), &s5, &status, &why), HTTP1_OK);
  assert_int_equal(s5.body_len, 10);
  char wb[64];
  memcpy(wb, w, strlen(w));
  assert_int_equal(http1_chunked_decode(wb, strlen(w)), 10);
  assert_memory_equal(wb, "0123456789", 10);
}

static void test_chunked_refusals(void **state) {
  (void)state;
  chunk_refused("x\r\n", 400, "1*HEXDIG [chunk-ext] CRLF (RFC 9112 7.1)");
  chunk_refused("\r\n", 400, "RFC 9112 7.1");
  chunk_refused("-1\r\n", 400, "1*HEXDIG");
  chunk_refused("4x\r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("4 \r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("4;\r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("4;a=\r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("4;a=\"b\r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("4;a\x01\r\nWiki\r\n0\r\n\r\n", 400, "1*HEXDIG");
  chunk_refused("00000000000000000", 400, "more than 16 hex digits");
  chunk_refused("00000000000000001\r\nx\r\n", 400, "more than 16 hex digits");
  chunk_refused("4\nWiki\r\n0\r\n\r\n", 400, "bare LF");
  chunk_refused("4\r\nWiki\n0\r\n\r\n", 400, "not followed by CRLF");
  chunk_refused("4\r\nWikiXY0\r\n\r\n", 400, "not followed by CRLF");
  chunk_refused("4\r\nWikip\r\n", 400, "not followed by CRLF");
  chunk_refused("4\r\nWiki\rX0\r\n\r\n", 400, "not followed by CRLF");
  chunk_refused("4\r\nWiki\r\n0\r\n\n", 400, "bare LF");
  chunk_refused("4\r\nWiki\r\n0\r\n X: 1\r\n\r\n", 400, "obs-fold");
  chunk_refused("4\r\nWiki\r\n0\r\nX : 1\r\n\r\n", 400, "RFC 9112 5.1");
  chunk_refused("4\r\nWiki\r\n0\r\nX: \x01\r\n\r\n", 400, "control character");
  chunk_refused("4\r\nWiki\r\n0\r\nX: a\rb\r\n\r\n", 400, "bare CR");
  /* A size line longer than max_line (64), with its CRLF yet to come. */
  char line[100];
  memset(line, ' ', sizeof line);
  memcpy(line, "4;a=", 4);
  memset(line + 4, 'b', 70);
  line[74] = '\0';
  chunk_refused(line, 400, "chunk-size line longer");
  /* 64 bytes of size line are taken. */
  memset(line + 4, 'b', 60);
  memcpy(line + 64, "\r\nWiki\r\n0\r\n\r\n", 14);
  http1_chunked st = {0};
  int status;
  const char *why;
  assert_int_equal(scan_n(line, 77, &st, &status, &why), HTTP1_OK);
  assert_int_equal(st.body_len, 4);
  /* Trailer lines over 64 bytes in all, each short. */
  chunk_refused("0\r\nA: 0123456789\r\nB: 0123456789\r\nC: 0123456789\r\nD: 0123456789\r\nE: 0123456789\r\n", 400,
                "trailer section longer");
  /* 64 bytes of trailer lines with their CRLFs are taken, 66 not. */
  const char *t64 = "0\r\nA: 0123456789\r\nA: 0123456789\r\nA: 0123456789\r\nA: 0123456789\r\nB:\r\n\r\n";
  http1_chunked s64 = {0};
  assert_int_equal(scan_n(t64, strlen(t64), &s64, &status, &why), HTTP1_OK);
  assert_int_equal(s64.wire_len, strlen(t64));
  chunk_refused("0\r\nA: 0123456789\r\nA: 0123456789\r\nA: 0123456789\r\nA: 0123456789\r\nB: 1\r\n\r\n", 400,
                "trailer section longer");
  /* One trailer line over 64 bytes, no end in sight. */
  chunk_refused("0\r\nA: 01234567890123456789012345678901234567890123456789012345678901234567890", 400,
                "RFC 9112 7.1.2");
}

/* 413 as soon as the sizes announce more than max_body (1000): before the
 * data arrive, and before the size line ends. */
static void test_chunked_413(void **state) {
  (void)state;
  chunk_refused("3E9\r\n", 413, "body limit");
  chunk_refused("3E9", 413, "body limit");
  chunk_refused("fffffffffffffff", 413, "body limit");
  /* Across chunks: 1000 is taken, 1001 not. */
  char wire[1200];
  size_t at = (size_t)snprintf(wire, sizeof wire, "3E7\r\n");
  memset(wire + at, 'a', 999);
  at += 999;
  at += (size_t)snprintf(wire + at, sizeof wire - at, "\r\n1\r\nb\r\n");
  size_t before_last = at;
  at += (size_t)snprintf(wire + at, sizeof wire - at, "0\r\n\r\n");
  http1_chunked st = {0};
  int status;
  const char *why;
  assert_int_equal(scan_n(wire, at, &st, &status, &why), HTTP1_OK);
  assert_int_equal(st.body_len, 1000);
  snprintf(wire + before_last, sizeof wire - before_last, "1\r\n");
  http1_chunked s2 = {0};
  assert_int_equal(scan_n(wire, before_last + 1, &s2, &status, &why), HTTP1_BAD);
  assert_int_equal(status, 413);
  assert_int_equal(s2.body_len, 1000);
}

static void test_reason(void **state) {
  (void)state;
  assert_string_equal(http1_reason(200), "OK");
  assert_string_equal(http1_reason(100), "Continue");
  assert_string_equal(http1_reason(404), "Not Found");
  assert_string_equal(http1_reason(413), "Content Too Large");
  assert_string_equal(http1_reason(414), "URI Too Long");
  assert_string_equal(http1_reason(417), "Expectation Failed");
  assert_string_equal(http1_reason(431), "Request Header Fields Too Large");
  assert_string_equal(http1_reason(505), "HTTP Version Not Supported");
  assert_string_equal(http1_reason(418), "Unknown");
  assert_string_equal(http1_reason(0), "Unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get),          cmocka_unit_test(test_fields),
      cmocka_unit_test(test_connection),   cmocka_unit_test(test_expect),
      cmocka_unit_test(test_refusals),     cmocka_unit_test(test_smuggling),
      cmocka_unit_test(test_limits),       cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_chunked_split), cmocka_unit_test(test_chunked_refusals),
      cmocka_unit_test(test_chunked_413),  cmocka_unit_test(test_reason),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
