/* The seed protocol between lisec-entropyd and liblisec-rng: a fixed 8-byte
 * header (magic, version, type, body length) and three fixed-layout bodies.
 * A VNF sends REQUEST (its nonce, VM generation id, boot id, the library
 * instance, a counter, the seed length it wants); the daemon answers SEED (nonce and counter echoed,
 * the seed) or ERROR (a code and a reason naming the rule). The parser reads
 * nothing it has not bounds-checked and refuses trailing bytes, so a frame
 * is either exactly one valid message or an error. */
#include <string.h>

#include "rng/rng.h"

#define REQ_BODY_LEN (RNG_NONCE_LEN + 3 * RNG_ID_LEN + 8 + 2)
#define SEED_BODY_FIXED (RNG_NONCE_LEN + 8 + 2)
#define ERR_BODY_FIXED 4

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

int rng_msg_frame_len(const uint8_t *hdr, size_t hdr_len, size_t *total, lisec_err *err) {
  if (hdr_len < RNG_MSG_HDR_LEN)
    return lisec_err_set(err, LISEC_EINVAL, "seed message: header truncated (%zu of %d bytes)",
                         hdr_len, RNG_MSG_HDR_LEN);
  if (memcmp(hdr, RNG_MSG_MAGIC, 4) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "seed message: bad magic");
  if (hdr[4] != RNG_MSG_VERSION)
    return lisec_err_set(err, LISEC_EINVAL, "seed message: unsupported version %u", hdr[4]);
  if (hdr[5] < RNG_MSG_REQUEST || hdr[5] > RNG_MSG_ERROR)
    return lisec_err_set(err, LISEC_EINVAL, "seed message: unknown type %u", hdr[5]);
  size_t body = get16(hdr + 6);
  if (body > RNG_MSG_BODY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "seed message: body of %zu bytes over %d", body,
                         RNG_MSG_BODY_MAX);
  *total = RNG_MSG_HDR_LEN + body;
  return 0;
}

int rng_msg_decode(const uint8_t *buf, size_t len, rng_msg *out, lisec_err *err) {
  size_t total = 0;
  int rc = rng_msg_frame_len(buf, len, &total, err);
  if (rc) return rc;
  if (len != total)
    return lisec_err_set(err, LISEC_EINVAL, "seed message: %zu bytes where the header says %zu",
                         len, total);
  memset(out, 0, sizeof *out);
  out->type = (rng_msg_type)buf[5];
  const uint8_t *b = buf + RNG_MSG_HDR_LEN;
  size_t bl = total - RNG_MSG_HDR_LEN;
  switch (out->type) {
  case RNG_MSG_REQUEST:
    if (bl != REQ_BODY_LEN)
      return lisec_err_set(err, LISEC_EINVAL, "seed request: body of %zu bytes, expected %d", bl,
                           REQ_BODY_LEN);
    memcpy(out->nonce, b, RNG_NONCE_LEN);
    memcpy(out->genid, b + RNG_NONCE_LEN, RNG_ID_LEN);
    memcpy(out->bootid, b + RNG_NONCE_LEN + RNG_ID_LEN, RNG_ID_LEN);
    memcpy(out->instance, b + RNG_NONCE_LEN + 2 * RNG_ID_LEN, RNG_ID_LEN);
    out->counter = get64(b + RNG_NONCE_LEN + 3 * RNG_ID_LEN);
    out->want = get16(b + RNG_NONCE_LEN + 3 * RNG_ID_LEN + 8);
    if (out->want < RNG_SEED_MIN || out->want > RNG_SEED_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "seed request: %u bytes wanted, outside %d..%d",
                           out->want, RNG_SEED_MIN, RNG_SEED_MAX);
    if (out->counter == 0)
      return lisec_err_set(err, LISEC_EINVAL, "seed request: counter must be positive");
    return 0;
  case RNG_MSG_SEED:
    if (bl < SEED_BODY_FIXED)
      return lisec_err_set(err, LISEC_EINVAL, "seed reply: body truncated");
    memcpy(out->nonce, b, RNG_NONCE_LEN);
    out->counter = get64(b + RNG_NONCE_LEN);
    out->seed_len = get16(b + RNG_NONCE_LEN + 8);
    if (out->seed_len < RNG_SEED_MIN || out->seed_len > RNG_SEED_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "seed reply: seed of %u bytes outside %d..%d",
                           out->seed_len, RNG_SEED_MIN, RNG_SEED_MAX);
    if (bl != SEED_BODY_FIXED + (size_t)out->seed_len)
      return lisec_err_set(err, LISEC_EINVAL, "seed reply: seed length %u disagrees with body",
                           out->seed_len);
    memcpy(out->seed, b + SEED_BODY_FIXED, out->seed_len);
    return 0;
  case RNG_MSG_ERROR: {
    if (bl < ERR_BODY_FIXED) return lisec_err_set(err, LISEC_EINVAL, "seed error: body truncated");
    out->code = get16(b);
    size_t rl = get16(b + 2);
    if (rl > RNG_REASON_MAX || bl != ERR_BODY_FIXED + rl)
      return lisec_err_set(err, LISEC_EINVAL, "seed error: reason length %zu invalid", rl);
    for (size_t i = 0; i < rl; i++) {
      uint8_t c = b[ERR_BODY_FIXED + i];
      if (c < 0x20 || c > 0x7e)
        return lisec_err_set(err, LISEC_EINVAL, "seed error: reason is not printable ASCII");
      out->reason[i] = (char)c;
    }
    out->reason[rl] = '\0';
    return 0;
  }
  }
  return lisec_err_set(err, LISEC_EINVAL, "seed message: unknown type");
}

int rng_msg_encode(const rng_msg *m, uint8_t *out, size_t cap, size_t *len, lisec_err *err) {
  size_t body;
  switch (m->type) {
  case RNG_MSG_REQUEST:
    if (m->want < RNG_SEED_MIN || m->want > RNG_SEED_MAX || m->counter == 0)
      return lisec_err_set(err, LISEC_EINVAL, "seed request: want or counter out of range");
    body = REQ_BODY_LEN;
    break;
  case RNG_MSG_SEED:
    if (m->seed_len < RNG_SEED_MIN || m->seed_len > RNG_SEED_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "seed reply: seed length out of range");
    body = SEED_BODY_FIXED + m->seed_len;
    break;
  case RNG_MSG_ERROR:
    body = ERR_BODY_FIXED + strnlen(m->reason, RNG_REASON_MAX);
    break;
  default: return lisec_err_set(err, LISEC_EINVAL, "seed message: unknown type");
  }
  if (cap < RNG_MSG_HDR_LEN + body)
    return lisec_err_set(err, LISEC_ETOOBIG, "seed message: %zu-byte buffer too small",
                         cap);
  memcpy(out, RNG_MSG_MAGIC, 4);
  out[4] = RNG_MSG_VERSION;
  out[5] = (uint8_t)m->type;
  put16(out + 6, (uint16_t)body);
  uint8_t *b = out + RNG_MSG_HDR_LEN;
  switch (m->type) {
  case RNG_MSG_REQUEST:
    memcpy(b, m->nonce, RNG_NONCE_LEN);
    memcpy(b + RNG_NONCE_LEN, m->genid, RNG_ID_LEN);
    memcpy(b + RNG_NONCE_LEN + RNG_ID_LEN, m->bootid, RNG_ID_LEN);
    memcpy(b + RNG_NONCE_LEN + 2 * RNG_ID_LEN, m->instance, RNG_ID_LEN);
    put64(b + RNG_NONCE_LEN + 3 * RNG_ID_LEN, m->counter);
    put16(b + RNG_NONCE_LEN + 3 * RNG_ID_LEN + 8, m->want);
    break;
  case RNG_MSG_SEED:
    memcpy(b, m->nonce, RNG_NONCE_LEN);
    put64(b + RNG_NONCE_LEN, m->counter);
    put16(b + RNG_NONCE_LEN + 8, m->seed_len);
    memcpy(b + SEED_BODY_FIXED, m->seed, m->seed_len);
    break;
  default: {
    size_t rl = body - ERR_BODY_FIXED;
    put16(b, m->code);
    put16(b + 2, (uint16_t)rl);
    for (size_t i = 0; i < rl; i++) {
      char c = m->reason[i];
      b[ERR_BODY_FIXED + i] = (uint8_t)((c < 0x20 || c > 0x7e) ? '?' : c);
    }
  }
  }
  *len = RNG_MSG_HDR_LEN + body;
  return 0;
}
