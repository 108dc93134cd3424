/* One client connection's bytes (conn.h): the socket read once per edge into
 * a memory BIO, OpenSSL decrypting from it into the connection's input, and
 * replies written as one TLS record into the other BIO, sent with one call.
 * The socket is non-blocking and edge-triggered (server.c), so a read that
 * comes back short means the socket is empty until the next edge. A
 * lingering close reads the socket too, to drop what it reads. */
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/conn.h"
#include "api/http1.h"

/* One read takes up to two full TLS records (16 KiB of data each, with
 * their header and tag), or as much plaintext on a probe connection. */
#define READ_CHUNK (2 * (16384 + 256 + 5))
/* A reply up to this size goes out as one TLS record with its head. */
#define ONE_RECORD 16384
#define HEAD_MAX 2048
/* An input buffer or reply BIO grown past this goes back to the allocator
 * once emptied: a connection that once carried a large body or reply does
 * not keep that much memory for the rest of its life. */
#define KEEP_MAX (64 * 1024)

int api_conn_init(api_conn *c, int fd, SSL *ssl, size_t in_max) {
  c->fd = fd;
  c->ssl = ssl;
  lisec_buf_init(&c->in, in_max);
  c->wbio = BIO_new(BIO_s_mem());
  if (!c->wbio) return -1;
  if (!ssl) return 0;
  c->rbio = BIO_new(BIO_s_mem());
  if (!c->rbio) return -1;
  /* an empty memory BIO says "retry" rather than "end of file" */
  BIO_set_mem_eof_return(c->rbio, -1);
  BIO_up_ref(c->wbio);
  SSL_set_bio(ssl, c->rbio, c->wbio); /* the session owns one reference of each */
  return 0;
}

void api_conn_release(api_conn *c) {
  if (c->ssl) {
    SSL_free(c->ssl); /* frees rbio and its reference of wbio */
    c->ssl = NULL;
    c->rbio = NULL;
  }
  BIO_free(c->wbio);
  c->wbio = NULL;
  lisec_buf_free(&c->in);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* How many bytes the input takes now, grown if it must, within in.max;
 * 0 when it is full or cannot grow. */
static size_t in_room(api_conn *c) {
  lisec_buf *b = &c->in;
  if (b->len >= b->max || lisec_buf_reserve(b, 1) != 0) return 0;
  size_t room = b->cap - b->len - 1; /* lisec_buf keeps a terminator's byte */
  return room < b->max - b->len ? room : b->max - b->len;
}

void api_conn_fill(api_conn *c) {
  static _Thread_local char chunk[READ_CHUNK];
  char *to = chunk;
  size_t cap = sizeof chunk;
  if (!c->ssl) { /* in the clear: straight into the input */
    cap = in_room(c);
    if (!cap) {
      c->readable = false; /* full: the server refuses what it holds */
      return;
    }
    to = (char *)c->in.data + c->in.len;
  }
  ssize_t n;
  do n = recv(c->fd, to, cap, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (c->ssl) {
      if (BIO_write(c->rbio, chunk, (int)n) != (int)n) c->failed = true;
    } else {
      c->in.len += (size_t)n;
    }
    if ((size_t)n < cap && !c->hup) c->readable = false;
  } else if (n == 0) {
    c->eof = true;
    c->readable = false;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    c->readable = false;
  } else {
    c->failed = true;
    c->readable = false;
  }
}

bool api_conn_decrypt(api_conn *c) {
  if (!c->ssl) return !c->failed;
  for (;;) {
    size_t room = in_room(c);
    if (!room) return true; /* the input is full: the server decides */
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, c->in.data + c->in.len, room, &got);
    if (r == 1) {
      c->in.len += got;
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ) return true;
    if (e == SSL_ERROR_ZERO_RETURN) c->eof = true; /* close_notify */
    else c->failed = true;
    return false;
  }
}

size_t api_conn_buffered(const api_conn *c) {
  return c->in.len + (c->rbio ? (size_t)BIO_ctrl_pending(c->rbio) : 0);
}

size_t api_conn_pending(const api_conn *c) {
  return (size_t)BIO_ctrl_pending(c->wbio) - c->out_off;
}

/* A fresh, small reply BIO in place of an empty one that grew large. */
static void wbio_renew(api_conn *c) {
  BIO *fresh = BIO_new(BIO_s_mem());
  if (!fresh) return; /* the large one stays; nothing is lost */
  if (c->ssl) {
    BIO_up_ref(fresh);
    SSL_set0_wbio(c->ssl, fresh); /* drops the session's reference of the old one */
  }
  BIO_free(c->wbio);
  c->wbio = fresh;
}

bool api_conn_flush(api_conn *c) {
  char *p = NULL;
  long n = BIO_get_mem_data(c->wbio, &p);
  while (n > 0 && c->out_off < (size_t)n) {
    ssize_t k = send(c->fd, p + c->out_off, (size_t)n - c->out_off, MSG_NOSIGNAL);
    if (k > 0) {
      c->out_off += (size_t)k;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else {
      if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c->failed = true;
      return false;
    }
  }
  if (n > 0) {
    (void)BIO_reset(c->wbio);
    c->out_off = 0;
    if ((size_t)n > KEEP_MAX) wbio_renew(c);
  }
  return !c->failed;
}

/* close_notify into the reply BIO, once: RFC 8446 6.1, each side sends it
 * before closing its write side unless it sent an error alert; without it
 * a client cannot tell the end from a cut connection. Only after an orderly
 * end (not a failed session or socket, not in the handshake). */
static void say_bye(api_conn *c) {
  if (c->bye) return;
  c->bye = true;
  if (c->failed || !SSL_is_init_finished(c->ssl)) return;
  (void)SSL_shutdown(c->ssl);
  ERR_clear_error();
}

void api_conn_goodbye(api_conn *c) {
  if (!c->ssl || c->fd < 0) return;
  say_bye(c);
  /* With OpenSSL on the socket (evhttp's bufferevent) an alert left at
   * once; over memory BIOs it waits in wbio and would be freed unsent, so a
   * client saw a bare EOF instead of the reason (bad_record_mac, ...). */
  if (api_conn_pending(c)) (void)api_conn_flush(c);
}

void api_conn_linger_begin(api_conn *c) {
  api_conn_consume(c, c->in.len);
  if (c->rbio) (void)BIO_reset(c->rbio); /* records never decrypted */
  if (c->ssl) say_bye(c);
}

bool api_conn_linger(api_conn *c, size_t *budget) {
  /* dropped unread: no buffer of the connection's own is needed */
  static _Thread_local char sink[64 * 1024];
  if (c->failed) return false;
  if (api_conn_pending(c) && !api_conn_flush(c)) {
    if (c->failed) return false;
    /* the socket is full: its writable edge comes back; input is still
     * drained meanwhile, so a client blocked on its own write moves on */
  }
  if (!c->wr_shut && !api_conn_pending(c)) {
    if (shutdown(c->fd, SHUT_WR) != 0) return false;
    c->wr_shut = true;
  }
  /* edge-triggered: read until the socket is empty, or this turn's share
   * is read (c->readable stays set: the caller gives the connection another
   * turn after the worker's other connections had theirs) */
  for (size_t turn = 0; c->readable && turn < API_CONN_LINGER_TURN;) {
    if (*budget == 0) return false;
    size_t want = *budget < sizeof sink ? *budget : sizeof sink;
    if (want > API_CONN_LINGER_TURN - turn) want = API_CONN_LINGER_TURN - turn;
    ssize_t n = recv(c->fd, sink, want, 0);
    if (n > 0) {
      *budget -= (size_t)n;
      turn += (size_t)n;
    } else if (n == 0) {
      c->eof = true; /* nothing is left unread: the close resets nothing */
      return false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->readable = false;
    } else if (errno != EINTR) {
      c->failed = true;
      return false;
    }
  }
  return true;
}

int api_conn_write(api_conn *c, const void *p, size_t n) {
  size_t done = 0;
  int r = c->ssl ? SSL_write_ex(c->ssl, p, n, &done) : BIO_write_ex(c->wbio, p, n, &done);
  if (r != 1 || done != n) {
    ERR_clear_error();
    c->failed = true;
    return -1;
  }
  return 0;
}

void api_conn_consume(api_conn *c, size_t n) {
  lisec_buf *b = &c->in;
  if (n > b->len) n = b->len;
  size_t rest = b->len - n;
  if (rest) memmove(b->data, b->data + n, rest);
  if (b->data) explicit_bzero(b->data + rest, n);
  b->len = rest;
  if (rest == 0 && b->cap > KEEP_MAX) lisec_buf_free(b);
}

/* The Date header's value, made once a second per thread (RFC 9110 5.6.7,
 * no locale). */
static const char *http_date(void) {
  static _Thread_local time_t made;
  /* 29 bytes in practice; room for what the compiler cannot rule out of
   * int fields (the Debug build's -Wformat-truncation) */
  static _Thread_local char text[80];
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(NULL);
  if (now != made) {
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    made = now;
  }
  return text;
}

static void put_field(lisec_fbuf *b, const char *name_colon, size_t name_len, const char *value) {
  lisec_fbuf_put(b, name_colon, name_len);
  lisec_fbuf_str(b, value, HEAD_MAX);
  LISEC_FBUF_LIT(b, "\r\n");
}

#define PUT_FIELD(b, lit, value) put_field(b, lit, sizeof lit - 1, value)

/* The reply's head into out[0..cap): its length, 0 when it does not fit. */
static size_t reply_head(char *out, size_t cap, const api_wire_reply *r, const api_conn_reply_head *h) {
  lisec_fbuf b = {out, 0, cap, false};
  LISEC_FBUF_LIT(&b, "HTTP/1.1 ");
  lisec_fbuf_uint(&b, (uint64_t)r->status, 3);
  LISEC_FBUF_LIT(&b, " ");
  lisec_fbuf_str(&b, http1_reason(r->status), 64);
  LISEC_FBUF_LIT(&b, "\r\n");
  PUT_FIELD(&b, "Date: ", http_date());
  LISEC_FBUF_LIT(&b, "Content-Length: ");
  lisec_fbuf_uint(&b, r->content_type[0] ? r->body_len : 0, 1);
  LISEC_FBUF_LIT(&b, "\r\n");
  if (r->content_type[0]) PUT_FIELD(&b, "Content-Type: ", r->content_type);
  LISEC_FBUF_LIT(&b, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
  if (h->csp) {
    /* a browser's reply (docs/ui.md): besides the policy, no Referer to
     * any link the view follows, a window of its own whoever opened it,
     * and nothing of it loaded by a page of another site */
    PUT_FIELD(&b, "Content-Security-Policy: ", h->csp);
    LISEC_FBUF_LIT(&b, "Referrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n"
                       "Cross-Origin-Resource-Policy: same-origin\r\n");
  }
  if (h->request_id && h->request_id[0]) PUT_FIELD(&b, "X-Request-Id: ", h->request_id);
  if (r->allow[0]) PUT_FIELD(&b, "Allow: ", r->allow);
  if (r->retry_after[0]) PUT_FIELD(&b, "Retry-After: ", r->retry_after);
  if (r->etag[0]) PUT_FIELD(&b, "ETag: ", r->etag);
  if (h->close) LISEC_FBUF_LIT(&b, "Connection: close\r\n");
  else if (h->keep_alive_10) LISEC_FBUF_LIT(&b, "Connection: keep-alive\r\n");
  LISEC_FBUF_LIT(&b, "\r\n");
  return b.over ? 0 : b.n;
}

int api_conn_reply(api_conn *c, const api_wire_reply *r, const api_conn_reply_head *h) {
  char one[HEAD_MAX + ONE_RECORD];
  size_t n = reply_head(one, HEAD_MAX, r, h);
  if (n == 0) {
    c->failed = true;
    return -1;
  }
  size_t body = r->content_type[0] && !h->head ? r->body_len : 0;
  int rc;
  if (n + body <= sizeof one) { /* head and body in one record */
    if (body) memcpy(one + n, r->body, body);
    rc = api_conn_write(c, one, n + body);
    explicit_bzero(one + n, body);
  } else {
    rc = api_conn_write(c, one, n);
    if (rc == 0) rc = api_conn_write(c, r->body, body);
  }
  return rc;
}
