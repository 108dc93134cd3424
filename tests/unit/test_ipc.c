/* Unit tests of ipc/: every field type round-trips; a payload cut at any
 * byte, a string over its bound or holding a NUL, and bytes left after the
 * last field are each refused with the field named; over a real socketpair
 * a whole message arrives whole, a peer that closes before or inside a
 * message and a length over the channel's bound are errors (the latter
 * before any allocation), and a message larger than the socket buffer
 * crosses intact. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc/ipc.h"

/* A payload with one field of each kind. */
static void sample(ipc_writer *w) {
  ipc_writer_init(w, 1024);
  ipc_put_u8(w, 7);
  ipc_put_u32(w, 0xdeadbeef);
  ipc_put_u64(w, 0x0102030405060708ull);
  ipc_put_bytes(w, "\x00\x01\x02", 3);
  ipc_put_str(w, "route");
  ipc_put_str(w, NULL);
}

/* Reads sample's fields from p, n bytes; returns ipc_reader_done's result. */
static int read_sample(const uint8_t *p, size_t n, lisec_err *err) {
  ipc_reader r;
  ipc_reader_init(&r, p, n);
  uint8_t a = ipc_get_u8(&r);
  uint32_t b = ipc_get_u32(&r);
  uint64_t c = ipc_get_u64(&r);
  const uint8_t *bytes;
  size_t blen;
  ipc_get_bytes(&r, 16, &bytes, &blen);
  char s[16], e[4];
  ipc_get_str(&r, s, sizeof s);
  ipc_get_str(&r, e, sizeof e);
  int rc = ipc_reader_done(&r, "sample", err);
  if (rc == 0) {
    assert_int_equal(a, 7);
    assert_int_equal(b, 0xdeadbeef);
    assert_true(c == 0x0102030405060708ull);
    assert_int_equal(blen, 3);
    assert_memory_equal(bytes, "\x00\x01\x02", 3);
    assert_string_equal(s, "route");
    assert_string_equal(e, "");
  }
  return rc;
}

static void test_round_trip(void **state) {
  (void)state;
  ipc_writer w;
  sample(&w);
  assert_false(w.failed);
  /* 1 + 4 + 8 + (4+3) + (4+5) + 4 bytes, big-endian as documented. */
  assert_int_equal(w.buf.len, 33);
  assert_memory_equal(w.buf.data + 1, "\xde\xad\xbe\xef", 4);
  lisec_err err = {0};
  assert_int_equal(read_sample(w.buf.data, w.buf.len, &err), 0);
  ipc_writer_free(&w);
}

static void test_truncated_everywhere(void **state) {
  (void)state;
  ipc_writer w;
  sample(&w);
  for (size_t cut = 0; cut < w.buf.len; cut++) {
    /* A copy of exactly cut bytes, so ASan sees any read past it. */
    uint8_t *p = malloc(cut ? cut : 1);
    memcpy(p, w.buf.data, cut);
    lisec_err err = {0};
    assert_int_equal(read_sample(p, cut, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "truncated"));
    free(p);
  }
  ipc_writer_free(&w);
}

static void test_trailing_bytes(void **state) {
  (void)state;
  ipc_writer w;
  sample(&w);
  ipc_put_u8(&w, 0);
  lisec_err err = {0};
  assert_int_equal(read_sample(w.buf.data, w.buf.len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "1 bytes after its last field"));
  ipc_writer_free(&w);
}

static void test_string_bounds(void **state) {
  (void)state;
  ipc_writer w;
  ipc_writer_init(&w, 1024);
  ipc_put_str(&w, "0123456789");  /* 10 bytes: over a 9-byte bound */
  ipc_put_bytes(&w, "a\0b", 3);   /* a NUL inside a string */
  ipc_reader r;
  char out[10];
  ipc_reader_init(&r, w.buf.data, w.buf.len);
  ipc_get_str(&r, out, sizeof out); /* holds 9 */
  assert_string_equal(out, "");
  lisec_err err = {0};
  assert_int_equal(ipc_reader_done(&r, "test", &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "field 1 over its bound"));

  ipc_reader_init(&r, w.buf.data, w.buf.len);
  char big[16];
  ipc_get_str(&r, big, sizeof big);
  assert_string_equal(big, "0123456789");
  char *dup = ipc_get_strdup(&r, 8);
  assert_null(dup);
  assert_int_equal(ipc_reader_done(&r, "test", &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "field 2 NUL inside a string"));
  /* Reads after the first problem return nothing and keep that problem. */
  assert_int_equal(ipc_get_u32(&r), 0);
  assert_non_null(strstr(r.bad, "NUL"));
  ipc_writer_free(&w);
}

static void test_writer_bound(void **state) {
  (void)state;
  ipc_writer w;
  ipc_writer_init(&w, 8);
  ipc_put_u64(&w, 1);
  assert_false(w.failed);
  ipc_put_u8(&w, 1);
  assert_true(w.failed);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  lisec_err err = {0};
  /* An overflowed payload is never sent, not even cut. */
  assert_int_equal(ipc_send(sv[0], 1, 0, 1, &w, &err), LISEC_ETOOBIG);
  close(sv[0]);
  ipc_header h;
  uint8_t *p;
  assert_int_equal(ipc_recv(sv[1], 1024, &h, &p, &err), LISEC_EIO);
  assert_string_equal(err.msg, "peer closed");
  close(sv[1]);
  ipc_writer_free(&w);
}

static void test_header(void **state) {
  (void)state;
  uint8_t b[IPC_HEADER_LEN];
  ipc_header h = {0x0102, 0x0304, 0x05060708, 16}, back;
  ipc_header_encode(&h, b);
  assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x10", IPC_HEADER_LEN);
  lisec_err err = {0};
  assert_int_equal(ipc_header_decode(b, 16, &back, &err), 0);
  assert_memory_equal(&h, &back, sizeof h);
  assert_int_equal(ipc_header_decode(b, 15, &back, &err), LISEC_ETOOBIG);
  b[0] = b[1] = 0;
  assert_int_equal(ipc_header_decode(b, 16, &back, &err), LISEC_EINVAL);
}

static void test_socket_whole_and_cut(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ipc_writer w;
  sample(&w);
  lisec_err err = {0};
  assert_int_equal(ipc_send(sv[0], 9, 1, 42, &w, &err), 0);
  ipc_header h;
  uint8_t *p = NULL;
  assert_int_equal(ipc_recv(sv[1], 1024, &h, &p, &err), 0);
  assert_int_equal(h.type, 9);
  assert_int_equal(h.flags, 1);
  assert_int_equal(h.id, 42);
  assert_int_equal(read_sample(p, h.len, &err), 0);
  ipc_payload_free(p, h.len);

  /* Over the receiver's bound: refused from the header alone. */
  assert_int_equal(ipc_send(sv[0], 9, 0, 43, &w, &err), 0);
  assert_int_equal(ipc_recv(sv[1], 10, &h, &p, &err), LISEC_ETOOBIG);
  assert_null(p);
  uint8_t drain[64];
  assert_int_equal(read(sv[1], drain, w.buf.len), (ssize_t)w.buf.len);

  /* The peer closes inside a message. */
  uint8_t hb[IPC_HEADER_LEN];
  ipc_header cut = {9, 0, 44, 100};
  ipc_header_encode(&cut, hb);
  assert_int_equal(write(sv[0], hb, sizeof hb), (ssize_t)sizeof hb);
  assert_int_equal(write(sv[0], "abc", 3), 3);
  close(sv[0]);
  assert_int_equal(ipc_recv(sv[1], 1024, &h, &p, &err), LISEC_EIO);
  assert_non_null(strstr(err.msg, "truncated"));
  assert_null(p);
  close(sv[1]);

  /* A closed peer is an error to the sender, not a SIGPIPE. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[1]);
  assert_int_equal(ipc_send(sv[0], 9, 0, 45, &w, &err), LISEC_EIO);
  close(sv[0]);
  ipc_writer_free(&w);
}

/* A 4 MiB message: the sender writes it in pieces while the reader reads. */
static void *send_big(void *arg) {
  int fd = *(int *)arg;
  ipc_writer w;
  ipc_writer_init(&w, 8u << 20);
  uint8_t *blob = malloc(4u << 20);
  for (size_t i = 0; i < (4u << 20); i++) blob[i] = (uint8_t)(i * 31);
  ipc_put_bytes(&w, blob, 4u << 20);
  free(blob);
  lisec_err err = {0};
  intptr_t rc = ipc_send(fd, 3, 0, 7, &w, &err);
  ipc_writer_free(&w);
  return (void *)rc;
}

static void test_socket_large(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, send_big, &sv[0]), 0);
  ipc_header h;
  uint8_t *p = NULL;
  lisec_err err = {0};
  assert_int_equal(ipc_recv(sv[1], 8u << 20, &h, &p, &err), 0);
  void *rc;
  pthread_join(t, &rc);
  assert_int_equal((intptr_t)rc, 0);
  ipc_reader r;
  ipc_reader_init(&r, p, h.len);
  const uint8_t *blob;
  size_t n;
  ipc_get_bytes(&r, 8u << 20, &blob, &n);
  assert_int_equal(ipc_reader_done(&r, "big", &err), 0);
  assert_int_equal(n, 4u << 20);
  for (size_t i = 0; i < n; i += 4093) assert_int_equal(blob[i], (uint8_t)(i * 31));
  ipc_payload_free(p, h.len);
  close(sv[0]);
  close(sv[1]);
}

/* The spin before a blocking read leaves the bytes where they are, and ends
 * on data, on a closed peer, or when its time is up (no data ever comes). */
static void test_spin_readable(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ipc_spin_readable(sv[1], 200); /* nothing to read: returns after its bound */
  ipc_writer w;
  sample(&w);
  lisec_err err = {0};
  assert_int_equal(ipc_send(sv[0], 9, 0, 46, &w, &err), 0);
  ipc_spin_readable(sv[1], 1000000); /* bytes waiting: returns at once, takes none */
  ipc_header h;
  uint8_t *p = NULL;
  assert_int_equal(ipc_recv(sv[1], 1024, &h, &p, &err), 0);
  assert_int_equal(h.id, 46);
  assert_int_equal(read_sample(p, h.len, &err), 0);
  ipc_payload_free(p, h.len);
  close(sv[0]);
  ipc_spin_readable(sv[1], 1000000); /* closed peer: returns at once */
  assert_int_equal(ipc_recv(sv[1], 1024, &h, &p, &err), LISEC_EIO);
  close(sv[1]);
  ipc_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_trailing_bytes), cmocka_unit_test(test_string_bounds),
      cmocka_unit_test(test_writer_bound),  cmocka_unit_test(test_header),
      cmocka_unit_test(test_socket_whole_and_cut), cmocka_unit_test(test_socket_large),
      cmocka_unit_test(test_spin_readable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
