/* The bytes of one client connection of lisecd's front: its socket, its TLS
 * session over memory BIOs (the front reads a socket once for whatever TLS
 * records came, and sends a reply's record in one call, where OpenSSL on the
 * socket itself reads each record in two), the plaintext received and not
 * yet consumed, and a reply written as one TLS record. Policy (which request
 * is read when, the connection lists and limits, the controller) is the
 * server's (server.c); nothing here parses HTTP beyond writing a reply's
 * head. A probe connection ([probe] listen) has no TLS session: the same
 * calls move its bytes in the clear. */
#ifndef LISEC_API_CONN_H
#define LISEC_API_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "api/http1.h"
#include "api/wire.h"

struct api_client;
struct api_worker;
struct conn_list;
struct event;

typedef struct api_conn {
  struct api_worker *w;
  struct api_worker *home; /* the worker that accepted it: it counts against that one's cap (server.c) */
  int fd;
  SSL *ssl;        /* NULL: a probe connection, in the clear */
  BIO *rbio, *wbio; /* TLS: ciphertext from / to the socket; probe: wbio holds the reply */
  size_t out_off;  /* bytes of wbio's data sent already */
  struct event *ev; /* the socket, edge-triggered, for reading and writing */
  struct event *deadline; /* the handshake's, while in it */
  struct api_conn *prev, *next; /* in the list its phase keeps it in (server.c) */
  struct conn_list *list;
  uint64_t active_ms;  /* when it was last seen doing its part (server.c's idle bound) */
  bool readable;       /* an edge said bytes came, and recv has not seen the socket empty since */
  bool hup;            /* the peer closed its side (EPOLLRDHUP): read to the end */
  bool eof;            /* the end of the peer's bytes was read */
  bool failed;         /* a socket or TLS error: the connection is done */
  bool shaking;        /* in the TLS handshake */
  bool busy;           /* a request is with the controller */
  bool last;           /* the request being answered is its last: it closes once the reply is sent */
  bool continued;      /* 100 Continue was sent for the request being read */
  bool unread;         /* a request was refused before its body was read: the client may still send it */
  bool bye;            /* close_notify is queued or sent: no more TLS records go out */
  bool lingering;      /* answered for the last time; what comes in is dropped (server.c, lingering close) */
  bool wr_shut;        /* the socket's write side is shut (FIN sent) */
  size_t linger_left;  /* bytes a lingering connection may still drop before it closes */
  /* its client certificate held [server] max_client_connections already at
   * the end of the handshake: its first request is refused (server.c) */
  bool over_client;
  struct api_client *client; /* its count in the per-client table, once through the handshake (clients.h) */
  size_t body_held;    /* bytes of [server] max_body_memory its unfinished request body holds (server.c) */
  http1_chunked chunked; /* how far the chunked body being read was scanned (server.c) */
  uint32_t inflight;   /* the id of its request at the controller, or 0 */
  lisec_buf in;        /* plaintext received and not yet consumed, at most in.max */
  struct sockaddr_storage peer;
} api_conn;

/* Sets up c's TLS session (ssl: taken; NULL for a probe connection) with
 * memory BIOs, its input bounded by in_max bytes. */
int api_conn_init(api_conn *c, int fd, SSL *ssl, size_t in_max);
/* Frees what api_conn_init and the I/O made (the input wiped) and closes
 * the socket; c itself is the caller's. */
void api_conn_release(api_conn *c);

/* Reads the socket once into the session (or, in the clear, the input):
 * c->readable turns false when it came back short, c->eof at the end,
 * c->failed on an error. */
void api_conn_fill(api_conn *c);
/* Moves the plaintext the session holds into c->in, up to in_max; false
 * when the session failed (c->failed) or ended (c->eof). The thread's
 * OpenSSL error queue must be empty before (SSL_get_error reads it): these
 * calls clear it after a failure, the other OpenSSL callers on a front
 * worker's thread do after theirs (server.c: the handshake, the
 * certificate's principal, a TLS reload), and each connection's turn clears
 * what any caller left nonetheless (server.c, conn_run). */
bool api_conn_decrypt(api_conn *c);
/* Sends what is to be sent: true when nothing is left, false when the
 * socket is full (wait for it to drain) or c->failed. */
bool api_conn_flush(api_conn *c);
/* Before the socket closes: close_notify after an orderly end, or the TLS
 * alert OpenSSL queued (a record that failed), goes out if the socket takes
 * it at once; nothing waits for it. */
void api_conn_goodbye(api_conn *c);
/* A lingering close: the last reply is sent, and what the client still sends
 * (the rest of a body refused unread, requests pipelined behind the last)
 * is read and dropped, so the socket does not close with bytes unread: the
 * kernel answers that with a reset, and a client still writing its body
 * then sees "connection reset" instead of the reply that says why. */
/* Begins it: the input held (plaintext and TLS records) is wiped and
 * dropped, never to be parsed, and close_notify is queued after the reply. */
void api_conn_linger_begin(api_conn *c);
/* One turn of it: sends what is queued (the reply's last bytes,
 * close_notify), then shuts the socket's write side (the client reads the
 * reply to its end); reads and drops what came, up to *budget bytes in all
 * (taken off it) and API_CONN_LINGER_TURN in this turn, so that a fast
 * sender cannot hold its worker for its whole budget: c->readable still set
 * on return means more is there for the next turn. False when the
 * connection is to close now: the client ended its side, the socket failed,
 * or the budget is spent. */
#define API_CONN_LINGER_TURN (256 * 1024)
bool api_conn_linger(api_conn *c, size_t *budget);

/* Bytes received and not consumed: plaintext, and TLS records not yet
 * decrypted. */
size_t api_conn_buffered(const api_conn *c);
/* Bytes waiting to be sent. */
size_t api_conn_pending(const api_conn *c);
/* Queues bytes to go out (in one TLS record each call); -1 on failure. */
int api_conn_write(api_conn *c, const void *p, size_t n);

/* Drops n bytes of consumed input (wiped), keeping what follows. */
void api_conn_consume(api_conn *c, size_t n);

/* The headers every reply carries besides its own. */
typedef struct api_conn_reply_head {
  const char *request_id;
  /* Content-Security-Policy, and with it Referrer-Policy: no-referrer,
   * Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy:
   * same-origin; NULL: none of them */
  const char *csp;
  bool head;         /* the request was HEAD: headers only */
  bool close;        /* Connection: close */
  bool keep_alive_10; /* an HTTP/1.0 client asked to keep the connection */
} api_conn_reply_head;

/* Queues the reply r: status line, Date, Content-Length, its headers and
 * its body, in one TLS record. -1 on failure (c->failed). */
int api_conn_reply(api_conn *c, const api_wire_reply *r, const api_conn_reply_head *h);

#endif
