/* The framing and field coding of src/ipc/ipc.h. The reader never reads
 * past its payload and keeps the first problem it met, so a decoder reads
 * its fields in order and checks once at the end; the socket side reads
 * exactly one message and refuses a length over the channel's bound before
 * it allocates anything. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc.h"

/* ---- header ------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

int ipc_header_decode(const uint8_t in[IPC_HEADER_LEN], uint32_t max, ipc_header *h, lisec_err *err) {
  h->type = (uint16_t)(in[0] << 8 | in[1]);
  h->flags = (uint16_t)(in[2] << 8 | in[3]);
  h->id = be32(in + 4);
  h->len = be32(in + 8);
  if (h->type == 0) return lisec_err_set(err, LISEC_EINVAL, "message type 0 is not a message");
  if (h->len > max || h->len > IPC_PAYLOAD_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "message of %u bytes over the channel's bound of %u",
                         h->len, max < IPC_PAYLOAD_MAX ? max : IPC_PAYLOAD_MAX);
  return 0;
}

void ipc_header_encode(const ipc_header *h, uint8_t out[IPC_HEADER_LEN]) {
  out[0] = (uint8_t)(h->type >> 8), out[1] = (uint8_t)h->type;
  out[2] = (uint8_t)(h->flags >> 8), out[3] = (uint8_t)h->flags;
  put_be32(out + 4, h->id);
  put_be32(out + 8, h->len);
}

/* ---- writer ------------------------------------------------------------- */

void ipc_writer_init(ipc_writer *w, size_t max) {
  lisec_buf_init(&w->buf, max < IPC_PAYLOAD_MAX ? max : IPC_PAYLOAD_MAX);
  w->failed = false;
}

static void put(ipc_writer *w, const void *p, size_t n) {
  if (!w->failed && lisec_buf_append(&w->buf, p, n) != 0) w->failed = true;
}

void ipc_put_u8(ipc_writer *w, uint8_t v) { put(w, &v, 1); }

void ipc_put_u32(ipc_writer *w, uint32_t v) {
  uint8_t b[4];
  put_be32(b, v);
  put(w, b, 4);
}

void ipc_put_u64(ipc_writer *w, uint64_t v) {
  ipc_put_u32(w, (uint32_t)(v >> 32));
  ipc_put_u32(w, (uint32_t)v);
}

void ipc_put_bytes(ipc_writer *w, const void *p, size_t n) {
  if (n > UINT32_MAX) {
    w->failed = true;
    return;
  }
  ipc_put_u32(w, (uint32_t)n);
  put(w, p, n);
}

void ipc_put_str(ipc_writer *w, const char *s) {
  ipc_put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

void ipc_put_raw(ipc_writer *w, const void *p, size_t n) {
  if (n) put(w, p, n);
}

void ipc_writer_free(ipc_writer *w) { lisec_buf_free(&w->buf); }

/* ---- reader ------------------------------------------------------------- */

void ipc_reader_init(ipc_reader *r, const void *payload, size_t len) {
  *r = (ipc_reader){.p = payload, .left = payload ? len : 0};
}

/* The next n bytes, or NULL (and the reader bad) when fewer are left. */
static const uint8_t *take(ipc_reader *r, size_t n) {
  if (r->bad) return NULL;
  r->field++;
  if (n > r->left) {
    r->bad = "truncated";
    return NULL;
  }
  const uint8_t *p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

uint8_t ipc_get_u8(ipc_reader *r) {
  const uint8_t *p = take(r, 1);
  return p ? p[0] : 0;
}

uint32_t ipc_get_u32(ipc_reader *r) {
  const uint8_t *p = take(r, 4);
  return p ? be32(p) : 0;
}

uint64_t ipc_get_u64(ipc_reader *r) {
  const uint8_t *p = take(r, 8);
  return p ? (uint64_t)be32(p) << 32 | be32(p + 4) : 0;
}

void ipc_get_bytes(ipc_reader *r, size_t max, const uint8_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  const uint8_t *lp = take(r, 4);
  if (!lp) return;
  uint32_t len = be32(lp);
  r->field--; /* the length and its bytes are one field */
  if (len > max) {
    r->bad = "over its bound";
    r->field++;
    return;
  }
  const uint8_t *p = take(r, len);
  if (!p) return;
  *out = p;
  *n = len;
}

/* A string field: its bytes, checked for NUL. */
static const uint8_t *get_text(ipc_reader *r, size_t max, size_t *n) {
  const uint8_t *p;
  ipc_get_bytes(r, max, &p, n);
  if (p && memchr(p, 0, *n)) {
    r->bad = "NUL inside a string";
    return NULL;
  }
  return p;
}

void ipc_get_str(ipc_reader *r, char *out, size_t cap) {
  size_t n = 0;
  if (cap) out[0] = '\0';
  const uint8_t *p = cap ? get_text(r, cap - 1, &n) : NULL;
  if (!p) return;
  memcpy(out, p, n);
  out[n] = '\0';
}

char *ipc_get_strdup(ipc_reader *r, size_t max) {
  size_t n = 0;
  const uint8_t *p = get_text(r, max, &n);
  if (!p) return NULL;
  char *s = malloc(n + 1);
  if (!s) {
    r->bad = "out of memory";
    return NULL;
  }
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

int ipc_reader_done(const ipc_reader *r, const char *what, lisec_err *err) {
  if (r->bad) return lisec_err_set(err, LISEC_EINVAL, "%s message: field %u %s", what, r->field, r->bad);
  if (r->left)
    return lisec_err_set(err, LISEC_EINVAL, "%s message: %zu bytes after its last field", what, r->left);
  return 0;
}

/* ---- sockets ------------------------------------------------------------ */

int ipc_send(int fd, uint16_t type, uint16_t flags, uint32_t id, const ipc_writer *payload,
             lisec_err *err) {
  size_t len = payload ? payload->buf.len : 0;
  if (payload && payload->failed)
    return lisec_err_set(err, LISEC_ETOOBIG, "message over the channel's bound of %zu bytes",
                         payload->buf.max);
  ipc_header h = {type, flags, id, (uint32_t)len};
  uint8_t hb[IPC_HEADER_LEN];
  ipc_header_encode(&h, hb);
  struct iovec iov[2] = {{hb, sizeof hb}, {len ? payload->buf.data : NULL, len}};
  int n_iov = len ? 2 : 1, at = 0;
  while (at < n_iov) {
    /* MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE. */
    struct msghdr m = {.msg_iov = iov + at, .msg_iovlen = (size_t)(n_iov - at)};
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return lisec_err_set(err, LISEC_EIO, "sending to the peer process: %s", strerror(errno));
    size_t done = (size_t)w;
    while (at < n_iov && done >= iov[at].iov_len) done -= iov[at++].iov_len;
    if (at < n_iov) {
      iov[at].iov_base = (uint8_t *)iov[at].iov_base + done;
      iov[at].iov_len -= done;
    }
  }
  return 0;
}

/* Reads exactly n bytes: 1 when the peer closed before the first byte. */
static int read_full(int fd, uint8_t *p, size_t n, lisec_err *err) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return lisec_err_set(err, LISEC_EIO, "reading from the peer process: %s", strerror(errno));
    if (r == 0) return got == 0 ? 1 : lisec_err_set(err, LISEC_EIO, "message truncated: the peer closed inside it");
    got += (size_t)r;
  }
  return 0;
}

int ipc_recv(int fd, uint32_t max, ipc_header *h, uint8_t **payload, lisec_err *err) {
  *payload = NULL;
  uint8_t hb[IPC_HEADER_LEN];
  int rc = read_full(fd, hb, sizeof hb, err);
  if (rc == 1) return lisec_err_set(err, LISEC_EIO, "peer closed");
  if (rc || (rc = ipc_header_decode(hb, max, h, err))) return rc;
  if (!h->len) return 0;
  uint8_t *p = malloc(h->len);
  if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory for a %u-byte message", h->len);
  rc = read_full(fd, p, h->len, err);
  if (rc == 1) rc = lisec_err_set(err, LISEC_EIO, "message truncated: the peer closed inside it");
  if (rc) {
    ipc_payload_free(p, h->len);
    return rc;
  }
  *payload = p;
  return 0;
}

void ipc_payload_free(uint8_t *payload, size_t len) {
  if (!payload) return;
  OPENSSL_cleanse(payload, len);
  free(payload);
}

void ipc_spin_readable(int fd, unsigned spin_us) {
  if (!spin_us) return;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return; /* bytes, EOF or error */
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 >= (long)spin_us) return;
  }
}

/* ---- one message at a time ---------------------------------------------- */

static long elapsed_us(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* The first bytes of a message into iov: polled without blocking for up to
 * spin_us, then blocking. 0 with *got > 0; EIO "peer closed" at end of file. */
static int first_read(int fd, unsigned spin_us, struct iovec *iov, size_t n_iov, size_t *got, lisec_err *err) {
  struct timespec t0;
  bool spinning = spin_us > 0;
  if (spinning) clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n_iov};
    ssize_t r = recvmsg(fd, &m, spinning ? MSG_DONTWAIT : 0);
    if (r > 0) {
      *got = (size_t)r;
      return 0;
    }
    if (r == 0) return lisec_err_set(err, LISEC_EIO, "peer closed");
    if (errno == EINTR) continue;
    if (spinning && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      spinning = elapsed_us(&t0) < (long)spin_us;
      continue;
    }
    return lisec_err_set(err, LISEC_EIO, "reading from the peer process: %s", strerror(errno));
  }
}

int ipc_recv_one(int fd, uint32_t max, unsigned spin_us, ipc_header *h, uint8_t **payload, lisec_err *err) {
  *payload = NULL;
  uint8_t hb[IPC_HEADER_LEN], inline_buf[IPC_INLINE_MAX];
  struct iovec iov[2] = {{hb, sizeof hb}, {inline_buf, sizeof inline_buf}};
  size_t got = 0;
  int rc = first_read(fd, spin_us, iov, 2, &got, err);
  if (rc) return rc;
  if (got < IPC_HEADER_LEN) { /* the rest of the header, rarely */
    rc = read_full(fd, hb + got, IPC_HEADER_LEN - got, err);
    if (rc == 1) rc = lisec_err_set(err, LISEC_EIO, "message truncated: the peer closed inside it");
    if (rc) return rc;
    got = IPC_HEADER_LEN;
  }
  size_t have = got - IPC_HEADER_LEN; /* payload bytes in inline_buf */
  if ((rc = ipc_header_decode(hb, max, h, err))) goto out;
  if (have > h->len) {
    rc = lisec_err_set(err, LISEC_EINVAL, "out of order: %zu bytes after a message of %u", have - h->len, h->len);
    goto out;
  }
  if (!h->len) goto out;
  uint8_t *p = malloc(h->len);
  if (!p) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory for a %u-byte message", h->len);
    goto out;
  }
  memcpy(p, inline_buf, have);
  if (have < h->len) {
    rc = read_full(fd, p + have, h->len - have, err);
    if (rc == 1) rc = lisec_err_set(err, LISEC_EIO, "message truncated: the peer closed inside it");
  }
  if (rc) ipc_payload_free(p, h->len);
  else *payload = p;
out:
  OPENSSL_cleanse(inline_buf, have);
  return rc;
}
