/* chrony's command protocol, the part lisecd reads (base/chrony.h): the
 * request for tracking and for one source's authdata, their replies read
 * field by field at fixed offsets with every length checked first, and the
 * judgement of a reading against the [time] bounds. Multi-byte fields are
 * in network order. A request is padded to the length of its reply:
 * chronyd refuses a shorter one so that it never answers with more bytes
 * than it was sent. */
#include "base/chrony.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PROTO_VERSION 6
#define PKT_REQUEST 1
#define PKT_REPLY 2
#define REQ_HEADER 20 /* version, type, 2 reserved, command, attempt, sequence, 2 pads */
#define RPY_HEADER 28 /* version, type, 2 reserved, command, reply, status, 3 pads, sequence, 2 pads */
#define IPADDR_LEN 20 /* 16 address bytes, family, pad */

#define RPY_TRACKING 5
#define RPY_AUTH_DATA 20
#define TRACKING_LEN 76 /* ref_id, address, stratum, leap, ref_time, 9 floats */
#define AUTH_LEN 24

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}
static unsigned get16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

size_t lisec_chrony_request(uint8_t out[LISEC_CHRONY_REQ_MAX], unsigned cmd, uint32_t seq,
                            const lisec_chrony_addr *addr) {
  size_t len;
  if (cmd == LISEC_CHRONY_TRACKING) len = RPY_HEADER + TRACKING_LEN;
  else if (cmd == LISEC_CHRONY_AUTH_DATA && addr) len = RPY_HEADER + AUTH_LEN;
  else return 0;
  memset(out, 0, LISEC_CHRONY_REQ_MAX);
  out[0] = PROTO_VERSION;
  out[1] = PKT_REQUEST;
  put16(out + 4, cmd);
  put32(out + 8, seq);
  if (cmd == LISEC_CHRONY_AUTH_DATA) {
    memcpy(out + REQ_HEADER, addr->addr, 16);
    put16(out + REQ_HEADER + 16, addr->family);
  }
  return len;
}

static const char *status_words(unsigned s) {
  switch (s) {
  case 1: return "the command failed";
  case 2: return "not authorised (authdata is answered only on chronyd's Unix command socket)";
  case 3: return "invalid command";
  case 4: return "no such source";
  case 6: return "not enabled";
  case 15: return "inactive";
  case 18: return "unsupported protocol version";
  case 19: return "bad packet length";
  }
  return "an unknown status";
}

/* The header every reply shares; data_len is what the reply code needs. */
static int header(const uint8_t *p, size_t n, unsigned cmd, unsigned reply, uint32_t seq,
                  size_t data_len, lisec_err *err) {
  if (n > LISEC_CHRONY_REPLY_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: %zu bytes is oversized (at most %d)", n,
                         LISEC_CHRONY_REPLY_MAX);
  if (n < RPY_HEADER)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: truncated header (%zu of %d bytes)", n,
                         RPY_HEADER);
  if (p[0] != PROTO_VERSION)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: protocol version %u, expected %d", p[0],
                         PROTO_VERSION);
  if (p[1] != PKT_REPLY)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: packet type %u is not a reply", p[1]);
  if (get16(p + 4) != cmd)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: answers command %u, asked %u",
                         get16(p + 4), cmd);
  if (get32(p + 16) != seq)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: sequence %u, asked %u", get32(p + 16), seq);
  unsigned status = get16(p + 8);
  if (status != 0)
    return lisec_err_set(err, LISEC_EDENIED, "chronyd refused command %u: %s (status %u)", cmd,
                         status_words(status), status);
  if (get16(p + 6) != reply)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: format %u, expected %u", get16(p + 6),
                         reply);
  if (n < RPY_HEADER + data_len)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: truncated (%zu of %zu bytes)", n,
                         RPY_HEADER + data_len);
  return 0;
}

double lisec_chrony_float(uint32_t x) {
  int32_t e = (int32_t)(x >> 25);
  if (e >= 64) e -= 128;
  int32_t c = (int32_t)(x & 0x1ffffffu);
  if (c >= (1 << 24)) c -= (1 << 25);
  return ldexp((double)c, e - 25);
}

static int get_addr(const uint8_t *p, lisec_chrony_addr *a, lisec_err *err) {
  memcpy(a->addr, p, 16);
  a->family = get16(p + 16);
  if (a->family > 3)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: address family %u unknown", a->family);
  return 0;
}

int lisec_chrony_parse_tracking(const uint8_t *p, size_t n, uint32_t seq,
                                lisec_chrony_tracking *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  int rc = header(p, n, LISEC_CHRONY_TRACKING, RPY_TRACKING, seq, TRACKING_LEN, err);
  if (rc) return rc;
  const uint8_t *d = p + RPY_HEADER;
  out->ref_id = get32(d);
  if ((rc = get_addr(d + 4, &out->addr, err))) return rc;
  out->stratum = get16(d + 24);
  out->leap = get16(d + 26);
  if (out->leap > 3)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: leap status %u out of range", out->leap);
  uint32_t hi = get32(d + 28), lo = get32(d + 32), ns = get32(d + 36);
  if (ns >= 1000000000u)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: reference time nanoseconds %u out of range", ns);
  /* 0x7fffffff in the high word: a 32-bit time. A time past year 9999 is
   * refused rather than overflowed. */
  uint64_t sec = hi == 0x7fffffffu ? lo : ((uint64_t)hi << 32 | lo);
  if (sec > 253402300799ull)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: reference time out of range");
  out->ref_time_ms = (int64_t)sec * 1000 + ns / 1000000;
  double *f[] = {&out->offset_s,       &out->last_offset_s, &out->rms_offset_s,
                 &out->freq_ppm,       &out->resid_freq_ppm, &out->skew_ppm,
                 &out->root_delay_s,   &out->root_dispersion_s, &out->update_interval_s};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) *f[i] = lisec_chrony_float(get32(d + 40 + 4 * i));
  return 0;
}

int lisec_chrony_parse_auth(const uint8_t *p, size_t n, uint32_t seq, lisec_chrony_auth *out,
                            lisec_err *err) {
  memset(out, 0, sizeof *out);
  int rc = header(p, n, LISEC_CHRONY_AUTH_DATA, RPY_AUTH_DATA, seq, AUTH_LEN, err);
  if (rc) return rc;
  const uint8_t *d = p + RPY_HEADER;
  out->mode = get16(d);
  if (out->mode > 2)
    return lisec_err_set(err, LISEC_EINVAL, "chrony reply: authentication mode %u unknown", out->mode);
  out->key_type = get16(d + 2);
  out->key_id = get32(d + 4);
  out->key_length = get16(d + 8);
  out->ke_attempts = get16(d + 10);
  out->last_ke_ago = get32(d + 12);
  out->cookies = get16(d + 16);
  out->cookie_length = get16(d + 18);
  out->nak = get16(d + 20);
  return 0;
}

void lisec_chrony_addr_text(const lisec_chrony_addr *a, char out[48]) {
  const uint8_t *b = a->addr;
  if (a->family == 1) {
    snprintf(out, 48, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  } else if (a->family == 2) {
    int k = 0;
    for (int i = 0; i < 16; i += 2) k += snprintf(out + k, 48 - (size_t)k, "%s%x", i ? ":" : "", get16(b + i));
  } else if (a->family == 3) {
    snprintf(out, 48, "ID#%08x", get32(b));
  } else {
    snprintf(out, 48, "none");
  }
}

static const char *leap_words(unsigned leap) {
  switch (leap) {
  case 0: return "normal";
  case 1: return "leap second to insert";
  case 2: return "leap second to delete";
  }
  return "not synchronised";
}

bool lisec_clock_judge(const lisec_chrony_tracking *t, const lisec_chrony_auth *auth,
                       const lisec_clock_bounds *b, int64_t now_ms, char *why, size_t why_len) {
  if (t->leap == 3 || t->ref_id == 0 || t->addr.family == 0) {
    snprintf(why, why_len, "chrony: the clock is not synchronised (leap status: %s, stratum %u)",
             leap_words(t->leap), t->stratum);
    return false;
  }
  double off_ms = fabs(t->offset_s) * 1000.0;
  if (!(off_ms <= (double)b->max_offset_ms)) {
    snprintf(why, why_len, "chrony: |offset| %.3f ms exceeds [time] max_offset_ms = %lld", off_ms,
             (long long)b->max_offset_ms);
    return false;
  }
  double age_s = now_ms > t->ref_time_ms ? (double)(now_ms - t->ref_time_ms) / 1000.0 : 0.0;
  double disp_ms = (t->root_dispersion_s + age_s * 15e-6) * 1000.0;
  if (!(disp_ms <= (double)b->max_root_dispersion_ms)) {
    snprintf(why, why_len,
             "chrony: root dispersion %.3f ms (%.0f s after its last update) exceeds [time] "
             "max_root_dispersion_ms = %lld",
             disp_ms, age_s, (long long)b->max_root_dispersion_ms);
    return false;
  }
  if (b->require_nts && (!auth || auth->mode != 2)) {
    char a[48];
    lisec_chrony_addr_text(&t->addr, a);
    snprintf(why, why_len,
             "chrony: the selected source %s is not authenticated with NTS (%s) and [time] "
             "require_nts = true",
             a, !auth ? "its authdata could not be read" : auth->mode == 1 ? "symmetric key" : "none");
    return false;
  }
  if (why_len) why[0] = '\0';
  return true;
}
