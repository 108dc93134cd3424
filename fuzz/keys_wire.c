/* libFuzzer harness: a message between the controller and the keys process
 * as either side could receive it from a peer a bug took over. The first
 * two bytes choose the message type, the third whether it is read as a
 * request (by the keys process) or a reply (by the controller's client);
 * the rest is the payload, copied to exactly its length so ASan sees any
 * read past it (an RD_KEY request's signed registration is checked by the
 * rd_register harness). A message that decodes is written again and must decode to
 * the same fields: nothing a decoder accepts may be lost or invented; the
 * records or answers of an OPEN_BATCH or REWRAP_BATCH that decodes are
 * each walked, every one the count announces must be there, and a
 * REWRAP_BATCH answer is either an error with no key or a key with no
 * error, each written again as the bytes it was read from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/wire.h"

static void same_sealed(const vault_sealed *a, const vault_sealed *b) {
  if (strcmp(a->id, b->id) || strcmp(a->authorisation, b->authorisation) || a->version != b->version ||
      strcmp(a->kek_label, b->kek_label) || a->wrapped_key_len != b->wrapped_key_len ||
      memcmp(a->wrapped_key, b->wrapped_key, a->wrapped_key_len) || a->ciphertext_len != b->ciphertext_len ||
      (a->ciphertext_len && memcmp(a->ciphertext, b->ciphertext, a->ciphertext_len)))
    abort();
}

/* A REWRAP_BATCH answer as decoded: one outcome, and the same bytes when
 * written again (at the reader's position before it, *at, moved past it). */
static void same_rewrapped(const keys_rewrapped *a, const uint8_t **at) {
  if (a->rc ? a->changed || a->kek_label[0] || a->wrapped_key_len || !a->msg[0]
            : a->msg[0] || !a->kek_label[0] || !a->wrapped_key_len)
    abort();
  ipc_writer w;
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  keys_wire_put_rewrapped(&w, a);
  if (w.failed || w.buf.len != keys_wire_rewrapped_size(a) || memcmp(w.buf.data, *at, w.buf.len)) abort();
  *at += w.buf.len;
  ipc_writer_free(&w);
}

/* A decoded batch: its count of items, each readable. */
typedef enum { WALK_SEALED, WALK_OPENED, WALK_REWRAPPED } walk_kind;
static void walk_batch(walk_kind kind, const uint8_t *p, size_t n, uint32_t count) {
  keys_batch_iter it;
  keys_wire_batch_begin(&it, p, n, count);
  uint32_t seen = 0;
  vault_sealed s;
  keys_opened o;
  keys_rewrapped a;
  const uint8_t *at = p;
  for (;; seen++) {
    if (kind == WALK_OPENED) {
      if (!keys_wire_batch_opened(&it, &o)) break;
    } else if (kind == WALK_REWRAPPED) {
      if (!keys_wire_batch_rewrapped(&it, &a)) break;
      same_rewrapped(&a, &at);
    } else {
      if (!keys_wire_batch_sealed(&it, &s)) break;
      if (keys_wire_sealed_size(&s) != (size_t)(it.r.p - at)) abort();
      at = it.r.p;
    }
  }
  if (seen != count || it.r.left) abort();
}

static void request(uint16_t type, const uint8_t *p, size_t n) {
  lisec_err err;
  keys_request q, back;
  if (keys_wire_get_request(type, p, n, &q, &err)) return;
  ipc_writer w;
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  keys_wire_put_request(&w, &q);
  if (w.failed || w.buf.len != n || (n && memcmp(w.buf.data, p, n))) abort(); /* one encoding */
  if (keys_wire_get_request(type, w.buf.data, w.buf.len, &back, &err)) abort();
  if (strcmp(q.id, back.id) || strcmp(q.authorisation, back.authorisation) || strcmp(q.name, back.name) ||
      q.version != back.version || q.period != back.period || q.create != back.create ||
      q.data_len != back.data_len || strcmp(q.path, back.path) || q.alg != back.alg ||
      (q.data_len && memcmp(q.data, back.data, q.data_len)) || strcmp(q.vm, back.vm) ||
      q.rd_reg_len != back.rd_reg_len || (q.rd_reg_len && memcmp(q.rd_reg, back.rd_reg, q.rd_reg_len)))
    abort();
  same_sealed(&q.sealed, &back.sealed);
  if (q.batch_count != back.batch_count || q.batch_len != back.batch_len ||
      (q.batch_len && memcmp(q.batch, back.batch, q.batch_len)))
    abort();
  if (q.batch_count) walk_batch(WALK_SEALED, q.batch, q.batch_len, q.batch_count);
  ipc_writer_free(&w);
}

static void reply(uint16_t type, const uint8_t *p, size_t n) {
  lisec_err err;
  keys_reply r, back;
  if (keys_wire_get_reply(type, p, n, &r, &err)) return;
  ipc_writer w;
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  keys_wire_put_reply(&w, &r);
  if (w.failed || keys_wire_get_reply(type, w.buf.data, w.buf.len, &back, &err)) abort();
  if (r.rc != back.rc || strcmp(r.msg, back.msg) || strcmp(r.name, back.name) || strcmp(r.label, back.label) ||
      r.changed != back.changed || r.count != back.count || r.data_len != back.data_len ||
      (r.data_len && memcmp(r.data, back.data, r.data_len)) || memcmp(&r.info, &back.info, sizeof r.info) ||
      r.rd_eph_len != back.rd_eph_len || (r.rd_eph_len && memcmp(r.rd_eph, back.rd_eph, r.rd_eph_len)))
    abort();
  /* an RD key answer is a point and a wrap, never a clear 32-byte key */
  if (type == KEYS_MSG_RD_KEY && !r.rc && (r.rd_eph_len != KEYS_RD_POINT_LEN || r.data_len != KEYS_RD_WRAPPED_LEN))
    abort();
  same_sealed(&r.sealed, &back.sealed);
  if (r.batch_count != back.batch_count || r.batch_len != back.batch_len ||
      (r.batch_len && memcmp(r.batch, back.batch, r.batch_len)))
    abort();
  if (r.batch_count)
    walk_batch(type == KEYS_MSG_REWRAP_BATCH ? WALK_REWRAPPED : WALK_OPENED, r.batch, r.batch_len, r.batch_count);
  ipc_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  uint16_t type = (uint16_t)(data[0] << 8 | data[1]) % (KEYS_MSG_END + 2);
  bool as_reply = data[2] & 1;
  size_t n = size - 3;
  uint8_t *p = malloc(n ? n : 1);
  memcpy(p, data + 3, n);
  if (as_reply) reply(type, p, n);
  else request(type, p, n);
  free(p);
  return 0;
}
