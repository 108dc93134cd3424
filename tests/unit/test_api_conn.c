/* Unit tests of a front connection's bytes (api/conn.c) over a real
 * socketpair, in the clear (the TLS path is driven end to end by api_http):
 * a reply's head is the status line, Date, Content-Length and the fields
 * asked for, in one write; a HEAD reply keeps its Content-Length and drops
 * the body; a reply larger than the socket takes goes out whole over
 * several flushes, and the BIO that held it is replaced by a small one once
 * it is sent; input read in one recv keeps a pipelined request after the
 * one consumed, and a buffer grown for a large body is freed once emptied;
 * input stops at its bound; the peer's end of file is seen. A lingering
 * close sends the reply queued, then shuts the write side (the peer reads
 * the reply, then its end), drops what the peer sends without keeping it
 * as input, and ends at the peer's end of file or once its byte budget is
 * spent. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/conn.h"

/* A connection in the clear on one end of a socketpair; *peer is the other. */
static void conn_open(api_conn *c, int *peer, size_t in_max) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  memset(c, 0, sizeof *c);
  assert_int_equal(api_conn_init(c, sv[0], NULL, in_max), 0);
  *peer = sv[1];
}

/* Everything the peer can read now (it waits for nothing). */
static size_t peer_drain(int peer, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    ssize_t k = recv(peer, out + n, cap - n, MSG_DONTWAIT);
    if (k <= 0) return n;
    n += (size_t)k;
  }
}

static void test_reply_head(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 4096);
  api_wire_reply r = {.status = 405, .body = (const uint8_t *)"{}\n", .body_len = 3};
  strcpy(r.content_type, "application/json");
  strcpy(r.allow, "GET, POST");
  api_conn_reply_head h = {.request_id = "rid-1", .close = true};
  assert_int_equal(api_conn_reply(&c, &r, &h), 0);
  assert_true(api_conn_flush(&c));
  char got[4096];
  size_t n = peer_drain(peer, got, sizeof got - 1);
  got[n] = '\0';
  const char *date = strstr(got, "\r\nDate: ");
  assert_non_null(date);
  const char *after_date = strstr(date + 2, "\r\n");
  assert_non_null(after_date);
  /* Date: "Sun, 06 Dec 2026 01:51:35 GMT" is 29 characters */
  assert_int_equal(after_date - (date + 8), 29);
  assert_memory_equal(after_date - 4, " GMT", 4);
  char expect_start[] = "HTTP/1.1 405 Method Not Allowed";
  assert_memory_equal(got, expect_start, sizeof expect_start - 1);
  assert_string_equal(after_date,
                      "\r\nContent-Length: 3\r\nContent-Type: application/json\r\n"
                      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                      "X-Request-Id: rid-1\r\nAllow: GET, POST\r\nConnection: close\r\n\r\n{}\n");
  /* HEAD: the same length said, no body sent */
  api_conn_reply_head head = {.request_id = "rid-2", .head = true};
  assert_int_equal(api_conn_reply(&c, &r, &head), 0);
  assert_true(api_conn_flush(&c));
  n = peer_drain(peer, got, sizeof got - 1);
  got[n] = '\0';
  assert_non_null(strstr(got, "\r\nContent-Length: 3\r\n"));
  assert_null(strstr(got, "Connection:"));
  assert_int_equal(strcmp(got + n - 4, "\r\n\r\n"), 0);
  api_conn_release(&c);
  close(peer);
}

static void test_large_reply_sent_whole_and_bio_renewed(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 4096);
  size_t big = 600 * 1024; /* more than a socketpair holds, more than KEEP_MAX */
  uint8_t *body = malloc(big);
  for (size_t i = 0; i < big; i++) body[i] = (uint8_t)('a' + i % 26);
  api_wire_reply r = {.status = 200, .body = body, .body_len = big};
  strcpy(r.content_type, "text/plain");
  api_conn_reply_head h = {.request_id = "r"};
  assert_int_equal(api_conn_reply(&c, &r, &h), 0);
  BIO *before = c.wbio;
  char *got = malloc(big + 4096);
  size_t n = 0;
  int rounds = 0;
  while (!api_conn_flush(&c)) {
    assert_false(c.failed);
    assert_true(api_conn_pending(&c) > 0);
    n += peer_drain(peer, got + n, big + 4096 - n);
    assert_true(++rounds < 100000);
  }
  n += peer_drain(peer, got + n, big + 4096 - n);
  assert_true(rounds > 0); /* the socket did fill: the partial path ran */
  assert_int_equal(api_conn_pending(&c), 0);
  assert_true(c.wbio != before); /* the grown BIO went back */
  char *blank = strstr(got, "\r\n\r\n");
  assert_non_null(blank);
  assert_int_equal(n - (size_t)(blank + 4 - got), big);
  assert_memory_equal(blank + 4, body, big);
  /* the new BIO works */
  assert_int_equal(api_conn_write(&c, "x", 1), 0);
  assert_true(api_conn_flush(&c));
  assert_int_equal(peer_drain(peer, got, 16), 1);
  free(got);
  free(body);
  api_conn_release(&c);
  close(peer);
}

static void test_input_pipelined_and_trimmed(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 1 << 20);
  const char two[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  assert_int_equal(send(peer, two, sizeof two - 1, 0), (ssize_t)(sizeof two - 1));
  c.readable = true;
  api_conn_fill(&c);
  assert_int_equal(c.in.len, sizeof two - 1);
  assert_false(c.readable); /* a short read: the socket is empty */
  api_conn_consume(&c, 19);
  assert_int_equal(c.in.len, 19);
  assert_memory_equal(c.in.data, "GET /b HTTP/1.1\r\n\r\n", 19);
  api_conn_consume(&c, 19);
  assert_int_equal(c.in.len, 0);
  assert_non_null(c.in.data); /* small: kept for the next request */
  /* a 200 KB body grows the buffer; emptied, it is freed */
  size_t big = 200 * 1024;
  char *body = calloc(1, big);
  size_t sent = 0;
  while (sent < big) {
    ssize_t k = send(peer, body + sent, big - sent, MSG_DONTWAIT);
    if (k > 0) sent += (size_t)k;
    c.readable = true;
    api_conn_fill(&c);
    assert_false(c.failed);
  }
  while (c.in.len < big) {
    c.readable = true;
    api_conn_fill(&c);
  }
  assert_true(c.in.cap >= big);
  api_conn_consume(&c, big);
  assert_null(c.in.data);
  assert_int_equal(c.in.cap, 0);
  free(body);
  api_conn_release(&c);
  close(peer);
}

static void test_input_bound_and_eof(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 64);
  char junk[200];
  memset(junk, 'j', sizeof junk);
  assert_int_equal(send(peer, junk, sizeof junk, 0), (ssize_t)sizeof junk);
  for (int i = 0; i < 4; i++) {
    c.readable = true;
    api_conn_fill(&c);
  }
  assert_int_equal(c.in.len, 64); /* never past in_max */
  assert_false(c.readable);       /* full: it stopped reading */
  api_conn_consume(&c, 64);
  close(peer);
  for (int i = 0; i < 8 && !c.eof; i++) {
    c.readable = true;
    api_conn_fill(&c);
    api_conn_consume(&c, c.in.len);
  }
  assert_true(c.eof);
  assert_false(c.failed);
  api_conn_release(&c);
}

/* The peer writes n bytes (it never blocks: a socketpair takes them). */
static void peer_send(int peer, size_t n) {
  char junk[4096];
  memset(junk, 'b', sizeof junk);
  while (n) {
    size_t k = n < sizeof junk ? n : sizeof junk;
    assert_int_equal(send(peer, junk, k, 0), (ssize_t)k);
    n -= k;
  }
}

static void test_linger_reply_then_drop_until_eof(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 1024);
  /* a request whose body was refused unread: its head is in the input */
  static const char head[] = "POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n";
  assert_int_equal(send(peer, head, sizeof head - 1, 0), (ssize_t)(sizeof head - 1));
  c.readable = true;
  api_conn_fill(&c);
  assert_int_equal(c.in.len, sizeof head - 1);
  static const char reply[] = "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n";
  assert_int_equal(api_conn_write(&c, reply, sizeof reply - 1), 0);
  api_conn_linger_begin(&c);
  assert_int_equal(c.in.len, 0); /* never parsed */
  size_t budget = 100000;
  c.readable = true;
  assert_true(api_conn_linger(&c, &budget));
  assert_true(c.wr_shut);
  /* the peer reads the whole reply, then the end of lisecd's side */
  char got[256];
  assert_int_equal(peer_drain(peer, got, sizeof got), sizeof reply - 1);
  assert_memory_equal(got, reply, sizeof reply - 1);
  assert_int_equal(recv(peer, got, sizeof got, MSG_DONTWAIT), 0);
  /* the rest of the body: dropped, not kept as input */
  peer_send(peer, 50000);
  c.readable = true;
  assert_true(api_conn_linger(&c, &budget));
  assert_int_equal(budget, 100000 - 50000);
  assert_int_equal(c.in.len, 0);
  assert_false(c.readable); /* read until the socket was empty */
  /* the peer ends its side: nothing is left unread, the connection closes */
  shutdown(peer, SHUT_WR);
  c.readable = true;
  assert_false(api_conn_linger(&c, &budget));
  assert_true(c.eof);
  assert_false(c.failed);
  api_conn_release(&c);
  close(peer);
}

static void test_linger_budget_spent(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 1024);
  api_conn_linger_begin(&c);
  size_t budget = 10000;
  peer_send(peer, 9000);
  c.readable = true;
  assert_true(api_conn_linger(&c, &budget)); /* within it */
  assert_int_equal(budget, 1000);
  /* a peer that keeps sending: closed once the budget is spent, however
   * much more it has sent */
  peer_send(peer, 30000);
  c.readable = true;
  assert_false(api_conn_linger(&c, &budget));
  assert_int_equal(budget, 0);
  assert_false(c.eof);
  api_conn_release(&c);
  close(peer);
}

/* A fast sender gets a turn's share read, not its whole budget at once: the
 * worker's other connections have their turn between (server.c gives the
 * lingering one the next). */
static void test_linger_turn_share(void **state) {
  (void)state;
  api_conn c;
  int peer;
  conn_open(&c, &peer, 1024);
  int sndbuf = 4 * API_CONN_LINGER_TURN;
  assert_int_equal(setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  assert_int_equal(fcntl(peer, F_SETFL, O_NONBLOCK), 0);
  char junk[4096];
  memset(junk, 'b', sizeof junk);
  size_t sent = 0;
  for (ssize_t k; (k = send(peer, junk, sizeof junk, 0)) > 0;) sent += (size_t)k;
  assert_true(sent > API_CONN_LINGER_TURN); /* the socket holds more than a turn's share */
  api_conn_linger_begin(&c);
  size_t budget = 64 * API_CONN_LINGER_TURN;
  c.readable = true;
  assert_true(api_conn_linger(&c, &budget));
  assert_int_equal(budget, 63 * API_CONN_LINGER_TURN); /* a share, no more */
  assert_true(c.readable);                             /* more is there for the next turn */
  while (c.readable) assert_true(api_conn_linger(&c, &budget));
  assert_int_equal(budget, 64 * API_CONN_LINGER_TURN - sent); /* the rest, over the turns */
  api_conn_release(&c);
  close(peer);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reply_head),
      cmocka_unit_test(test_large_reply_sent_whole_and_bio_renewed),
      cmocka_unit_test(test_input_pipelined_and_trimmed),
      cmocka_unit_test(test_input_bound_and_eof),
      cmocka_unit_test(test_linger_reply_then_drop_until_eof),
      cmocka_unit_test(test_linger_budget_spent),
      cmocka_unit_test(test_linger_turn_share),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
