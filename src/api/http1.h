/* HTTP/1.1 request framing for lisecd's front (RFC 9112): where a request's
 * head ends, what it says about its body and its connection, and the body
 * when it comes in chunks. It reads bytes the network sent, so every step
 * is bounded by the caller's limits, nothing is allocated, and a request it
 * cannot frame without doubt is refused with a status and a reason naming
 * the rule (a smuggled second request must never be read from the first's
 * bytes). Pure: no I/O; the server (server.c) feeds it what it received. */
#ifndef LISEC_API_HTTP1_H
#define LISEC_API_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_METHOD_MAX 16 /* longest method + 1 (as API_METHOD_MAX) */
#define HTTP1_FIELDS_MAX 100 /* header fields in one request; more is 431 */

typedef enum {
  HTTP1_MORE = 0, /* not complete yet: read more and call again */
  HTTP1_OK = 1,   /* complete */
  HTTP1_BAD = -1, /* refused: status and why say why; the connection must close */
} http1_result;

/* A slice of the caller's buffer (not terminated). */
typedef struct http1_str {
  const char *p;
  size_t n;
} http1_str;

typedef struct http1_request {
  char method[HTTP1_METHOD_MAX]; /* the token as sent, terminated */
  http1_str target;              /* origin-form: starts with '/' */
  int minor;                     /* HTTP/1.<minor>: 0 or 1 */
  bool keep_alive;               /* by version and Connection */
  bool expect_continue;          /* Expect: 100-continue */
  bool chunked;                  /* Transfer-Encoding: chunked (body framed by http1_chunked_scan) */
  bool has_length;               /* Content-Length was sent (once) */
  uint64_t content_length;
  http1_str request_id;          /* the first X-Request-Id's value (OWS trimmed) */
  int n_request_id;              /* how many X-Request-Id fields */
  http1_str if_match;            /* the first If-Match's value */
  bool has_if_match;
  bool has_origin;               /* Origin was sent (a browser's request; browser.h) */
  http1_str fetch_site;          /* the first Sec-Fetch-Site's value */
  bool has_fetch_site;
  http1_str fetch_mode;          /* the first Sec-Fetch-Mode's value */
  bool has_fetch_mode;
  size_t head_len;               /* bytes of the head, leading empty lines included */
} http1_request;

/* Frames the head at the start of buf[0..len). HTTP1_MORE while no end of
 * head is in sight within max_head bytes; HTTP1_OK with *req filled (its
 * slices point into buf); HTTP1_BAD with *status (400, 414, 417, 431, 501,
 * 505) and *why, a static sentence naming the rule broken (never the
 * client's bytes). Stateless: each call reads from buf[0]; *req is zeroed
 * first, and is meaningful only on HTTP1_OK. A request-target over
 * API_URI_MAX is 414, a method over 15 bytes 501, a head not ended within
 * max_head bytes (leading empty lines included) or with more than
 * HTTP1_FIELDS_MAX fields 431. */
http1_result http1_parse_head(const char *buf, size_t len, size_t max_head, http1_request *req,
                              int *status, const char **why);

/* A chunked body's progress, kept between calls as more arrives. */
typedef struct http1_chunked {
  size_t pos;        /* bytes of the wire form scanned so far (complete chunks) */
  uint64_t body_len; /* data bytes in those chunks */
  size_t wire_len;   /* HTTP1_OK: the whole chunked body with its trailer section */
} http1_chunked;

/* Scans the chunked body at the start of buf[0..len) (buf starts where the
 * head ended, at every call), from where the last call stopped. HTTP1_OK
 * once the last chunk and the trailer section are in (st->wire_len,
 * st->body_len); HTTP1_BAD with 413 when the data pass max_body (as soon as
 * a chunk-size announces it, before its data), 400 on a malformed chunk
 * (size line, missing CRLF, trailer) or a chunk-size line longer than
 * max_line (without its CRLF), or a trailer section whose field lines with
 * their CRLFs pass max_line in all. Trailer fields are checked as header
 * lines and ignored. Extensions are checked and ignored. A chunk's data are
 * not copied: the caller keeps all st->pos bytes and more; the last-chunk
 * and trailers are re-read on each call until complete (at most ~2x
 * max_line). The wire form may exceed body_len by up to max_line+4 bytes a
 * chunk: bound the buffer too. */
http1_result http1_chunked_scan(http1_chunked *st, const char *buf, size_t len, uint64_t max_body,
                                size_t max_line, int *status, const char **why);

/* Decodes in place a chunked body that http1_chunked_scan found complete
 * (wire_len bytes at buf): the data of its chunks move to the start of buf.
 * Returns the body's length. */
size_t http1_chunked_decode(char *buf, size_t wire_len);

/* The reason phrase of a status code ("OK", "Not Found", ...; "Unknown"
 * for one not in the table). */
const char *http1_reason(int status);

#endif
