/* ipc/ carries lisecd's messages between its processes (front, controller,
 * keys) over socketpairs: a fixed 12-byte header (type, flags, request id,
 * payload length, all big-endian) and a payload of typed fields, each read
 * back with a bound. A peer is another lisecd process, but it may be the
 * one a parser bug took over, so every read here is bounded and checked:
 * a short, oversized or malformed message is an error that names what was
 * wrong, never a partial read. Pure framing and field coding; what the
 * message types mean belongs to each pair of processes (api/, keys/). */
#ifndef LISEC_IPC_H
#define LISEC_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define IPC_HEADER_LEN 12
/* No channel carries more in one message (a VNF package upload is the
 * largest payload; [api] max_body bounds it further). */
#define IPC_PAYLOAD_MAX (80u << 20)

typedef struct ipc_header {
  uint16_t type;  /* the pair's message type; 0 is never valid */
  uint16_t flags; /* the pair's flags */
  uint32_t id;    /* matches a reply to its request */
  uint32_t len;   /* payload bytes that follow */
} ipc_header;

/* Decodes a header; EINVAL for type 0, ETOOBIG when len > max. */
int ipc_header_decode(const uint8_t in[IPC_HEADER_LEN], uint32_t max, ipc_header *h, lisec_err *err);
void ipc_header_encode(const ipc_header *h, uint8_t out[IPC_HEADER_LEN]);

/* ---- payload fields ------------------------------------------------------
 * A payload is a sequence of fields in a fixed order per message type:
 * u8, u32, u64 (big-endian), and byte strings (u32 length, then bytes). A
 * string field is a byte string without NUL inside. */

typedef struct ipc_writer {
  lisec_buf buf; /* max = the channel's payload bound */
  bool failed;   /* a put went past the bound: the message must not be sent */
} ipc_writer;

void ipc_writer_init(ipc_writer *w, size_t max);
void ipc_put_u8(ipc_writer *w, uint8_t v);
void ipc_put_u32(ipc_writer *w, uint32_t v);
void ipc_put_u64(ipc_writer *w, uint64_t v);
void ipc_put_bytes(ipc_writer *w, const void *p, size_t n);
void ipc_put_str(ipc_writer *w, const char *s); /* NULL is sent as "" */
/* Fields already coded (by another writer), appended as they are. */
void ipc_put_raw(ipc_writer *w, const void *p, size_t n);
/* Wipes and frees (payloads may hold target identifiers or plaintext). */
void ipc_writer_free(ipc_writer *w);

typedef struct ipc_reader {
  const uint8_t *p;
  size_t left;
  const char *bad; /* the first problem, e.g. "field 3: string over 128 bytes"; NULL while fine */
  unsigned field;  /* fields read so far, for the message */
} ipc_reader;

void ipc_reader_init(ipc_reader *r, const void *payload, size_t len);
/* Each get returns 0 (and leaves *out zeroed/empty) once the reader is bad;
 * the first failure is kept, so a decoder reads every field then checks
 * ipc_reader_done once. */
uint8_t ipc_get_u8(ipc_reader *r);
uint32_t ipc_get_u32(ipc_reader *r);
uint64_t ipc_get_u64(ipc_reader *r);
/* A byte string of at most max bytes, pointing into the payload. */
void ipc_get_bytes(ipc_reader *r, size_t max, const uint8_t **p, size_t *n);
/* A string of at most cap - 1 bytes without NUL, copied NUL-terminated. */
void ipc_get_str(ipc_reader *r, char *out, size_t cap);
/* A string of at most max bytes without NUL, malloc'd NUL-terminated
 * (NULL when the reader is or becomes bad, or out of memory). */
char *ipc_get_strdup(ipc_reader *r, size_t max);
/* 0 when every field was well-formed and nothing is left over; otherwise
 * EINVAL "<what> message: <problem>". */
int ipc_reader_done(const ipc_reader *r, const char *what, lisec_err *err);

/* ---- blocking I/O on a socket ------------------------------------------- */

/* Writes header and payload whole (retrying on EINTR and short writes).
 * EIO when the peer is gone. */
int ipc_send(int fd, uint16_t type, uint16_t flags, uint32_t id, const ipc_writer *payload,
             lisec_err *err);
/* Reads one whole message: EIO "peer closed" at end of file before a
 * header, EIO "truncated" at end of file inside one, ETOOBIG when its
 * length passes max. payload is malloc'd (h->len bytes, NULL when 0) and
 * the caller's to wipe and free (ipc_payload_free). */
int ipc_recv(int fd, uint32_t max, ipc_header *h, uint8_t **payload, lisec_err *err);
void ipc_payload_free(uint8_t *payload, size_t len);
/* Waits up to spin_us for fd to have bytes to read, without sleeping, so a
 * reply that comes within that time is read without the wake-up of a
 * blocked thread (tens of us on a virtual machine whose idle vCPU halts).
 * Returns either way; the caller then reads, blocking if need be. 0: no
 * wait. */
void ipc_spin_readable(int fd, unsigned spin_us);
/* ipc_recv for a channel that carries one message at a time each way (a
 * request, then its reply: the keys channel), in fewer system calls: it
 * polls with non-blocking reads for up to spin_us (the message is read by
 * the poll that finds it, not peeked and read again), then blocks; header
 * and a payload of up to IPC_INLINE_MAX bytes come in one read. Bytes after
 * the one message mean the peer sent two at once: EINVAL "out of order",
 * nothing returned. */
#define IPC_INLINE_MAX 4096
int ipc_recv_one(int fd, uint32_t max, unsigned spin_us, ipc_header *h, uint8_t **payload, lisec_err *err);

#endif
