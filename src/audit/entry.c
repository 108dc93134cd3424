/* The audit entry format: a compact binary record with exactly one encoding
 * per record, so the bytes that are hashed into the tree are a function of
 * the record alone, and a decoder that reads nothing past its bounds. Layout
 * (integers big-endian, docs/audit.md has the table): 0x01, seq u64,
 * time_ms i64, flags u8 (bit 0: about LI), actor, role, action, outcome as
 * strings, then a u8 count of subject ids and the strings, then a u8 count of
 * reasons and the strings; a string is a u16 length and UTF-8 bytes with no
 * control characters. Binary rather than JSON because the auditor's check
 * must run at millions of entries per second. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "crypto/crypto.h"

#define HEADER_LEN (1 + 8 + 8 + 1)

/* Well-formed UTF-8 (no overlong forms, surrogates or values above
 * U+10FFFF) without C0 controls or DEL: the strings are shown to people. */
static bool text_ok(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      i++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07, min = 0x10000;
    else return false;
    if (n - i - 1 < need) return false;
    for (size_t j = 1; j <= need; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static int put_str(lisec_buf *b, const char *what, const char *s, lisec_err *err) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > AUDIT_STR_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry: %s must have 1..%d bytes", what,
                         AUDIT_STR_MAX);
  if (!text_ok((const uint8_t *)s, n))
    return lisec_err_set(err, LISEC_EINVAL,
                         "audit entry: %s is not UTF-8 text without control characters", what);
  uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  if (lisec_buf_append(b, len, 2) || lisec_buf_append(b, s, n))
    return lisec_err_set(err, LISEC_ETOOBIG, "audit entry over %d bytes", AUDIT_ENTRY_MAX);
  return 0;
}

int audit_entry_encode(const audit_record *r, uint8_t **out, size_t *len, lisec_err *err) {
  if (r->n_subjects > AUDIT_LIST_MAX || r->n_reasons > AUDIT_LIST_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry: at most %d subjects and %d reasons",
                         AUDIT_LIST_MAX, AUDIT_LIST_MAX);
  lisec_buf b;
  lisec_buf_init(&b, AUDIT_ENTRY_MAX);
  uint8_t head[HEADER_LEN];
  head[0] = AUDIT_ENTRY_PLAIN;
  put_u64(head + 1, r->seq);
  put_u64(head + 9, (uint64_t)r->time_ms);
  head[17] = r->li ? 1 : 0;
  int rc = lisec_buf_append(&b, head, sizeof head) ? lisec_err_set(err, LISEC_ENOMEM, "out of memory") : 0;
  if (!rc) rc = put_str(&b, "actor", r->actor, err);
  if (!rc) rc = put_str(&b, "role", r->role, err);
  if (!rc) rc = put_str(&b, "action", r->action, err);
  if (!rc) rc = put_str(&b, "outcome", r->outcome, err);
  uint8_t count = (uint8_t)r->n_subjects;
  if (!rc && lisec_buf_append(&b, &count, 1)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < r->n_subjects; i++) rc = put_str(&b, "subject id", r->subjects[i], err);
  count = (uint8_t)r->n_reasons;
  if (!rc && lisec_buf_append(&b, &count, 1)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < r->n_reasons; i++) rc = put_str(&b, "reason", r->reasons[i], err);
  if (rc) {
    lisec_buf_free(&b);
    return rc;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

/* A bounded reader over the entry. */
typedef struct reader {
  const uint8_t *p;
  size_t left;
  char *store; /* where decoded strings are copied, NUL-terminated */
} reader;

static int get_str(reader *r, const char *what, const char **out, lisec_err *err) {
  if (r->left < 2) return lisec_err_set(err, LISEC_EINVAL, "audit entry: truncated before %s", what);
  size_t n = (size_t)r->p[0] << 8 | r->p[1];
  r->p += 2;
  r->left -= 2;
  if (n == 0 || n > AUDIT_STR_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry: %s length %zu out of 1..%d", what, n,
                         AUDIT_STR_MAX);
  if (n > r->left) return lisec_err_set(err, LISEC_EINVAL, "audit entry: %s truncated", what);
  if (!text_ok(r->p, n))
    return lisec_err_set(err, LISEC_EINVAL, "audit entry: %s is not UTF-8 text", what);
  memcpy(r->store, r->p, n);
  r->store[n] = '\0';
  *out = r->store;
  r->store += n + 1;
  r->p += n;
  r->left -= n;
  return 0;
}

static int get_list(reader *r, const char *what, const char **items, size_t *n, lisec_err *err) {
  if (r->left < 1) return lisec_err_set(err, LISEC_EINVAL, "audit entry: truncated before %s", what);
  size_t count = r->p[0];
  r->p++;
  r->left--;
  if (count > AUDIT_LIST_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry: %zu %s, at most %d", count, what,
                         AUDIT_LIST_MAX);
  for (size_t i = 0; i < count; i++) {
    int rc = get_str(r, what, &items[i], err);
    if (rc) return rc;
  }
  *n = count;
  return 0;
}

int audit_entry_peek_seq(const uint8_t *data, size_t len, uint64_t *seq, lisec_err *err) {
  if (len < HEADER_LEN || data[0] != AUDIT_ENTRY_PLAIN)
    return lisec_err_set(err, LISEC_EINVAL, "not a plain audit entry");
  *seq = get_u64(data + 1);
  return 0;
}

int audit_entry_decode(const uint8_t *data, size_t len, audit_record *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (len > AUDIT_ENTRY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "audit entry of %zu bytes, at most %d", len,
                         AUDIT_ENTRY_MAX);
  if (len < HEADER_LEN)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry of %zu bytes is truncated", len);
  if (data[0] == AUDIT_ENTRY_SEALED)
    return lisec_err_set(err, LISEC_EDENIED, "audit entry is sealed to the LI administration");
  if (data[0] != AUDIT_ENTRY_PLAIN)
    return lisec_err_set(err, LISEC_EINVAL, "audit entry of unknown type 0x%02x", data[0]);
  if (data[17] > 1) return lisec_err_set(err, LISEC_EINVAL, "audit entry: unknown flags 0x%02x", data[17]);
  /* Every string is shorter than its length prefix plus a NUL, so len bytes
   * hold all of them. */
  char *mem = malloc(len);
  if (!mem) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  out->owned = mem;
  out->owned_len = len;
  out->seq = get_u64(data + 1);
  out->time_ms = (int64_t)get_u64(data + 9);
  out->li = data[17] == 1;
  reader r = {.p = data + HEADER_LEN, .left = len - HEADER_LEN, .store = mem};
  int rc = get_str(&r, "actor", &out->actor, err);
  if (!rc) rc = get_str(&r, "role", &out->role, err);
  if (!rc) rc = get_str(&r, "action", &out->action, err);
  if (!rc) rc = get_str(&r, "outcome", &out->outcome, err);
  if (!rc) rc = get_list(&r, "subject ids", out->subjects, &out->n_subjects, err);
  if (!rc) rc = get_list(&r, "reasons", out->reasons, &out->n_reasons, err);
  if (!rc && r.left != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "audit entry: %zu bytes after the record", r.left);
  if (rc) audit_record_clear(out);
  return rc;
}

void audit_record_clear(audit_record *r) {
  if (!r) return;
  if (r->owned) crypto_wipe(r->owned, r->owned_len);
  free(r->owned);
  memset(r, 0, sizeof *r);
}
