/* HTTP/1.1 request framing for lisecd's front (RFC 9112, RFC 9110): finds
 * where a request's head ends and what it says about the body and the
 * connection, and walks a chunked body. It reads what a client sent, so it
 * is strict where leniency would let two parsers disagree about where a
 * request ends (bare CR or LF, obs-fold, a space before a colon, two
 * Content-Lengths, Content-Length beside Transfer-Encoding, a coding other
 * than chunked): those are refused, never guessed. One pass over the head
 * with a byte-class table and memchr for line ends, nothing allocated, every
 * step bounded by the caller's limits; the reasons are static sentences that
 * name the rule and never echo the client's bytes. */
#include "api/http1.h"

#include <string.h>

#include "api/api.h"

/* Byte classes, computed at compile time from the RFC 9110 5.6.2 and 5.5
 * rules, so the loops below are one table load and a mask per byte. */
enum { C_TCHAR = 1, C_VCHAR = 2, C_FVAL = 4, C_HEX = 8 };
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_TSYM(c)                                                                                   \
  ((c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' || \
   (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' ||  \
   (c) == '~')
#define IS_VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define CLS(c)                                                                     \
  ((IS_DIGIT(c) || IS_ALPHA(c) || IS_TSYM(c) ? C_TCHAR : 0) |                      \
   (IS_VCHAR(c) ? C_VCHAR : 0) |                                                   \
   (IS_VCHAR(c) || (c) >= 0x80 || (c) == ' ' || (c) == '\t' ? C_FVAL : 0) |       \
   (IS_HEX(c) ? C_HEX : 0))
#define R4(b) CLS(b), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define R16(b) R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b) R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)
static const unsigned char cls[256] = {R64(0), R64(64), R64(128), R64(192)};
#define IS(c, k) (cls[(unsigned char)(c)] & (k))

/* The reasons, one per rule. */
#define WHY_BARE_CR "a bare CR in the request (RFC 9112 2.2)"
#define WHY_BARE_LF "a line ending in a bare LF (RFC 9112 2.2)"
#define WHY_HEAD_LONG "no end of the head within the front's limit (RFC 6585 5)"
#define WHY_FIELDS_MANY "more header fields than the front's limit (RFC 6585 5)"
#define WHY_REQ_LINE "a request-line that is not method SP request-target SP HTTP-version (RFC 9112 3)"
#define WHY_METHOD_LONG "a method longer than 15 bytes (RFC 9110 15.6.2)"
#define WHY_TARGET_FORM "a request-target not in origin-form (RFC 9112 3.2.1)"
#define WHY_TARGET_BYTE "a request-target with a byte that is no VCHAR (RFC 9112 3.2)"
#define WHY_TARGET_LONG "a request-target longer than 2048 bytes (RFC 9112 3)"
#define WHY_VERSION "a malformed HTTP-version (RFC 9112 2.3)"
#define WHY_VERSION_NOT "an HTTP version other than 1.0 and 1.1 (RFC 9110 15.6.6)"
#define WHY_OBS_FOLD "a field line with obs-fold (RFC 9112 5.2)"
#define WHY_WS_COLON "whitespace between a field name and its colon (RFC 9112 5.1)"
#define WHY_FIELD_NAME "a field name that is not a token (RFC 9110 5.1)"
#define WHY_FIELD_VALUE "a field value with a control character (RFC 9110 5.5)"
#define WHY_CL_TWICE "more than one Content-Length header (RFC 9112 6.3)"
#define WHY_CL_SYNTAX "a Content-Length that is not 1*DIGIT (RFC 9110 8.6)"
#define WHY_CL_BIG "a Content-Length over 2^64-1 (RFC 9110 8.6)"
#define WHY_TE_CL "both Transfer-Encoding and Content-Length (RFC 9112 6.3)"
#define WHY_TE_10 "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)"
#define WHY_TE_CODING "a transfer coding other than chunked alone (RFC 9112 6.1)"
#define WHY_CONNECTION "a Connection value that is not a list of tokens (RFC 9110 7.6.1)"
#define WHY_HOST_NONE "an HTTP/1.1 request without Host (RFC 9112 3.2)"
#define WHY_HOST_TWICE "more than one Host header (RFC 9112 3.2)"
#define WHY_EXPECT "an expectation other than 100-continue (RFC 9110 10.1.1)"
#define WHY_CHUNK_LINE "a chunk-size line that is not 1*HEXDIG [chunk-ext] CRLF (RFC 9112 7.1)"
#define WHY_CHUNK_DIGITS "a chunk-size of more than 16 hex digits (RFC 9112 7.1)"
#define WHY_CHUNK_LONG "a chunk-size line longer than the front's line limit (RFC 9112 7.1)"
#define WHY_CHUNK_CRLF "chunk data not followed by CRLF (RFC 9112 7.1)"
#define WHY_CHUNK_BIG "a chunked body over the front's body limit (RFC 9110 15.5.14)"
#define WHY_TRAILER_LONG "a trailer section longer than the front's line limit (RFC 9112 7.1.2)"
#define WHY_SHRUNK "the chunked body's buffer shorter than what was scanned before"

static http1_result refuse(int *status, const char **why, int st, const char *w) {
  *status = st;
  *why = w;
  return HTTP1_BAD;
}

/* A line that broke a rule: a bare CR inside it is the first thing wrong
 * (every rule below refuses a CR, but its own reason would hide the CR). */
static http1_result refuse_line(const char *line, size_t n, int *status, const char **why, int st,
                                const char *w) {
  if (memchr(line, '\r', n)) return refuse(status, why, 400, WHY_BARE_CR);
  return refuse(status, why, st, w);
}

/* name[0..n) equals lit (lower case letters and '-') ignoring case. For a
 * token, c | 0x20 is a lower-case letter only when c is that letter. */
static bool name_is(const char *name, size_t n, const char *lit, size_t lit_n) {
  if (n != lit_n) return false;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)name[i] | 0x20) != (unsigned char)lit[i]) return false;
  return true;
}

/* A value equal to lit (lower case) ignoring case; values may hold any
 * VCHAR, so this folds only letters. */
static bool value_is(const char *v, size_t n, const char *lit, size_t lit_n) {
  if (n != lit_n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c >= 'A' && c <= 'Z') c |= 0x20;
    if (c != (unsigned char)lit[i]) return false;
  }
  return true;
}
#define LIT(s) s, sizeof(s) - 1

/* A field line (head or trailer) split into name and OWS-trimmed value;
 * NULL when well-formed, else the reason. */
static const char *field_split(const char *line, size_t n, size_t *name_n, http1_str *value) {
  /* Also before the first field: a line to fold into nothing (RFC 9112 2.2). */
  if (line[0] == ' ' || line[0] == '\t') return WHY_OBS_FOLD;
  size_t i = 0;
  while (i < n && IS(line[i], C_TCHAR)) i++;
  if (i == n || line[i] != ':') return (i < n && (line[i] == ' ' || line[i] == '\t')) ? WHY_WS_COLON : WHY_FIELD_NAME;
  if (i == 0) return WHY_FIELD_NAME;
  *name_n = i;
  size_t a = i + 1;
  while (a < n && (line[a] == ' ' || line[a] == '\t')) a++;
  size_t k = a;
  while (k < n && IS(line[k], C_FVAL)) k++;
  if (k < n) return WHY_FIELD_VALUE;
  size_t b = n;
  while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t')) b--;
  value->p = line + a;
  value->n = b - a;
  return NULL;
}

/* method SP request-target SP HTTP-version, single SPs. */
static http1_result request_line(const char *line, size_t n, http1_request *req, int *status,
                                 const char **why) {
  size_t i = 0;
  while (i < n && IS(line[i], C_TCHAR)) i++;
  if (i == 0 || i == n || line[i] != ' ') return refuse_line(line, n, status, why, 400, WHY_REQ_LINE);
  if (i >= HTTP1_METHOD_MAX) return refuse_line(line, n, status, why, 501, WHY_METHOD_LONG);
  memcpy(req->method, line, i);
  req->method[i] = '\0';
  size_t t = ++i;
  if (t == n || line[t] == ' ') return refuse_line(line, n, status, why, 400, WHY_REQ_LINE);
  if (line[t] != '/') return refuse_line(line, n, status, why, 400, WHY_TARGET_FORM);
  while (i < n && IS(line[i], C_VCHAR)) i++;
  if (i == n) return refuse_line(line, n, status, why, 400, WHY_REQ_LINE);
  if (line[i] != ' ') return refuse_line(line, n, status, why, 400, WHY_TARGET_BYTE);
  if (i - t > API_URI_MAX) return refuse_line(line, n, status, why, 414, WHY_TARGET_LONG);
  req->target.p = line + t;
  req->target.n = i - t;
  const char *v = line + i + 1;
  size_t vn = n - i - 1;
  if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || !IS_DIGIT(v[5]) || v[6] != '.' || !IS_DIGIT(v[7]))
    return refuse_line(line, n, status, why, 400, vn && v[0] == ' ' ? WHY_REQ_LINE : WHY_VERSION);
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return refuse(status, why, 505, WHY_VERSION_NOT);
  req->minor = v[7] - '0';
  return HTTP1_OK;
}

/* Connection = #connection-option; empty elements allowed (RFC 9110 5.6.1). */
static bool connection_list(http1_str v, bool *close, bool *keep_alive) {
  size_t i = 0;
  while (i < v.n) {
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ',')) i++;
    size_t a = i;
    while (i < v.n && IS(v.p[i], C_TCHAR)) i++;
    if (name_is(v.p + a, i - a, LIT("close"))) *close = true;
    if (name_is(v.p + a, i - a, LIT("keep-alive"))) *keep_alive = true;
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t')) i++;
    if (i < v.n && v.p[i] != ',') return false;
  }
  return true;
}

static bool content_length(http1_str v, uint64_t *out) {
  if (v.n == 0) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (!IS_DIGIT(v.p[i])) return false;
    unsigned d = (unsigned)(v.p[i] - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *out = x;
  return true;
}

/* What the field lines said, settled once the head is complete. */
typedef struct head_facts {
  int n_host, n_te, n_cl;
  bool te_chunked, conn_close, conn_keep_alive, expect_continue;
} head_facts;

static http1_result field(const char *name, size_t nn, http1_str v, http1_request *req, head_facts *f,
                          int *status, const char **why) {
  switch (nn) {
    case 4:
      if (name_is(name, nn, LIT("host")) && ++f->n_host > 1) return refuse(status, why, 400, WHY_HOST_TWICE);
      break;
    case 6:
      if (name_is(name, nn, LIT("origin"))) req->has_origin = true;
      if (name_is(name, nn, LIT("expect"))) {
        if (!value_is(v.p, v.n, LIT("100-continue"))) return refuse(status, why, 417, WHY_EXPECT);
        f->expect_continue = true;
      }
      break;
    case 8:
      if (name_is(name, nn, LIT("if-match")) && !req->has_if_match) {
        req->has_if_match = true;
        req->if_match = v;
      }
      break;
    case 10:
      if (name_is(name, nn, LIT("connection")) && !connection_list(v, &f->conn_close, &f->conn_keep_alive))
        return refuse(status, why, 400, WHY_CONNECTION);
      break;
    case 12:
      if (name_is(name, nn, LIT("x-request-id")) && req->n_request_id++ == 0) req->request_id = v;
      break;
    case 14:
      if (name_is(name, nn, LIT("sec-fetch-site")) && !req->has_fetch_site) {
        req->has_fetch_site = true;
        req->fetch_site = v;
      }
      if (name_is(name, nn, LIT("sec-fetch-mode")) && !req->has_fetch_mode) {
        req->has_fetch_mode = true;
        req->fetch_mode = v;
      }
      if (name_is(name, nn, LIT("content-length"))) {
        if (++f->n_cl > 1) return refuse(status, why, 400, WHY_CL_TWICE);
        if (!content_length(v, &req->content_length)) {
          bool digits = v.n > 0;
          for (size_t i = 0; i < v.n && digits; i++) digits = IS_DIGIT(v.p[i]);
          return refuse(status, why, 400, digits ? WHY_CL_BIG : WHY_CL_SYNTAX);
        }
        req->has_length = true;
      }
      break;
    case 17:
      if (name_is(name, nn, LIT("transfer-encoding"))) {
        f->n_te++;
        f->te_chunked = value_is(v.p, v.n, LIT("chunked"));
      }
      break;
    default:
      break;
  }
  return HTTP1_OK;
}

static http1_result settle(http1_request *req, const head_facts *f, int *status, const char **why) {
  if (f->n_te) {
    if (f->n_cl) return refuse(status, why, 400, WHY_TE_CL);
    if (req->minor == 0) return refuse(status, why, 400, WHY_TE_10);
    if (f->n_te > 1 || !f->te_chunked) return refuse(status, why, 501, WHY_TE_CODING);
    req->chunked = true;
  }
  if (req->minor == 1 && f->n_host == 0) return refuse(status, why, 400, WHY_HOST_NONE);
  req->keep_alive = !f->conn_close && (req->minor == 1 || f->conn_keep_alive);
  /* An HTTP/1.0 client cannot have meant it (RFC 9110 10.1.1). */
  req->expect_continue = f->expect_continue && req->minor == 1;
  return HTTP1_OK;
}

static http1_result need_more(size_t len, size_t max_head, int *status, const char **why) {
  if (len >= max_head) return refuse(status, why, 431, WHY_HEAD_LONG);
  return HTTP1_MORE;
}

http1_result http1_parse_head(const char *buf, size_t len, size_t max_head, http1_request *req,
                              int *status, const char **why) {
  memset(req, 0, sizeof *req);
  size_t win = len < max_head ? len : max_head;
  size_t at = 0;
  while (at < win && buf[at] == '\r') { /* leading empty lines */
    if (at + 1 == win) return need_more(len, max_head, status, why);
    if (buf[at + 1] != '\n') return refuse(status, why, 400, WHY_BARE_CR);
    at += 2;
  }
  head_facts f = {0};
  int fields = 0;
  for (bool first = true;; first = false) {
    const char *line = buf + at;
    const char *lf = memchr(line, '\n', win - at);
    if (!lf) return need_more(len, max_head, status, why);
    if (lf == line || lf[-1] != '\r') return refuse(status, why, 400, WHY_BARE_LF);
    size_t n = (size_t)(lf - 1 - line);
    at = (size_t)(lf + 1 - buf);
    if (first) {
      if (request_line(line, n, req, status, why) != HTTP1_OK) return HTTP1_BAD;
      continue;
    }
    if (n == 0) break;
    if (++fields > HTTP1_FIELDS_MAX) return refuse(status, why, 431, WHY_FIELDS_MANY);
    size_t nn = 0;
    http1_str v;
    const char *bad = field_split(line, n, &nn, &v);
    if (bad) return refuse_line(line, n, status, why, 400, bad);
    if (field(line, nn, v, req, &f, status, why) != HTTP1_OK) return HTTP1_BAD;
  }
  if (settle(req, &f, status, why) != HTTP1_OK) return HTTP1_BAD;
  req->head_len = at;
  return HTTP1_OK;
}

/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val a
 * token or a quoted-string (RFC 9112 7.1.1, RFC 9110 5.6.4). */
static bool chunk_ext(const char *p, size_t n) {
  size_t i = 0;
#define BWS() while (i < n && (p[i] == ' ' || p[i] == '\t')) i++
  while (i < n) {
    BWS();
    if (i == n || p[i] != ';') return false;
    i++;
    BWS();
    size_t a = i;
    while (i < n && IS(p[i], C_TCHAR)) i++;
    if (i == a) return false;
    BWS();
    if (i == n || p[i] != '=') continue;
    i++;
    BWS();
    if (i < n && p[i] == '"') {
      for (i++; i < n && p[i] != '"'; i++) {
        if (p[i] == '\\' && ++i == n) return false;
        if (!IS(p[i], C_FVAL)) return false;
      }
      if (i == n) return false;
      i++;
    } else {
      a = i;
      while (i < n && IS(p[i], C_TCHAR)) i++;
      if (i == a) return false;
    }
  }
#undef BWS
  return true;
}

static unsigned hex_value(char c) {
  return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Where a line starting at p[0..avail) ends: its LF, if within max_line
 * bytes of content and its CRLF; NULL for "not yet" (*too_long when it can
 * no longer end within the bound). */
static const char *line_within(const char *p, size_t avail, size_t from, size_t max_line, bool *too_long) {
  size_t bound = max_line > SIZE_MAX - 2 ? SIZE_MAX : max_line + 2;
  size_t look = avail < bound ? avail : bound;
  *too_long = false;
  const char *lf = look > from ? memchr(p + from, '\n', look - from) : NULL;
  if (!lf) *too_long = avail >= bound;
  return lf;
}

/* The trailer section after the last chunk: field lines, then CRLF. */
static http1_result trailers(http1_chunked *st, const char *buf, size_t len, size_t at, size_t max_line,
                             int *status, const char **why) {
  size_t total = 0;
  for (;;) {
    bool too_long;
    const char *line = buf + at;
    const char *lf = line_within(line, len - at, 0, max_line - total, &too_long);
    if (!lf) return too_long ? refuse(status, why, 400, WHY_TRAILER_LONG) : HTTP1_MORE;
    if (lf == line || lf[-1] != '\r') return refuse(status, why, 400, WHY_BARE_LF);
    size_t n = (size_t)(lf - 1 - line);
    at = (size_t)(lf + 1 - buf);
    if (n == 0) {
      st->wire_len = at;
      return HTTP1_OK;
    }
    total += n + 2;
    if (total > max_line) return refuse(status, why, 400, WHY_TRAILER_LONG);
    size_t nn;
    http1_str v;
    const char *bad = field_split(line, n, &nn, &v);
    if (bad) return refuse_line(line, n, status, why, 400, bad);
  }
}

http1_result http1_chunked_scan(http1_chunked *st, const char *buf, size_t len, uint64_t max_body,
                                size_t max_line, int *status, const char **why) {
  if (st->pos > len) return refuse(status, why, 500, WHY_SHRUNK);
  for (;;) {
    size_t at = st->pos;
    const char *p = buf + at;
    size_t avail = len - at;
    if (avail == 0) return HTTP1_MORE;
    uint64_t size = 0;
    size_t k = 0;
    for (; k < avail && IS(p[k], C_HEX); k++) {
      if (k == 16) return refuse(status, why, 400, WHY_CHUNK_DIGITS);
      size = size << 4 | hex_value(p[k]);
    }
    if (k == 0) return refuse(status, why, 400, WHY_CHUNK_LINE);
    /* The digits so far are a lower bound of the size: refuse before the data. */
    if (size > max_body - st->body_len) return refuse(status, why, 413, WHY_CHUNK_BIG);
    bool too_long;
    const char *lf = line_within(p, avail, k, max_line, &too_long);
    if (!lf) return too_long ? refuse(status, why, 400, WHY_CHUNK_LONG) : HTTP1_MORE;
    if (lf[-1] != '\r') return refuse(status, why, 400, WHY_BARE_LF);
    size_t n = (size_t)(lf - 1 - p);
    if (!chunk_ext(p + k, n - k)) return refuse_line(p, n, status, why, 400, WHY_CHUNK_LINE);
    size_t data = (size_t)(lf + 1 - buf);
    if (size == 0) return trailers(st, buf, len, data, max_line, status, why);
    size_t left = len - data;
    if (left < 2 || left - 2 < size) return HTTP1_MORE;
    if (buf[data + size] != '\r' || buf[data + size + 1] != '\n')
      return refuse(status, why, 400, WHY_CHUNK_CRLF);
    st->pos = data + (size_t)size + 2;
    st->body_len += size;
  }
}

size_t http1_chunked_decode(char *buf, size_t wire_len) {
  size_t in = 0, out = 0;
  while (in < wire_len) {
    uint64_t size = 0;
    size_t k = in;
    for (; k < wire_len && k - in < 16 && IS(buf[k], C_HEX); k++) size = size << 4 | hex_value(buf[k]);
    const char *lf = memchr(buf + k, '\n', wire_len - k);
    if (!lf) break;
    in = (size_t)(lf + 1 - buf);
    if (size == 0 || size > wire_len - in) break;
    memmove(buf + out, buf + in, (size_t)size);
    out += (size_t)size;
    in += (size_t)size + 2;
  }
  return out;
}

const char *http1_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}
