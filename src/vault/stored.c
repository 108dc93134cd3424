/* Reading a sealed target back from the store quickly. The store holds the
 * JSON that vault_sealed_to_json makes, written canonically (keys sorted, no
 * spaces). Most reads meet exactly that text, so it is read here in one pass
 * with a strict base64 decoder, straight into the struct; anything else
 * (another key order, spaces, escapes, a store that rewrote the JSON) goes
 * through the general JSON reader. Both accept the same records; nothing
 * read here is trusted beyond what the AEAD then checks, and the id the
 * record is stored under, which the AEAD cannot see (vault_sealed_parse_as). */
#include <stdlib.h>
#include <string.h>

#include "vault/vault.h"

/* A string value without escapes: [p, *end) between quotes. */
static const char *str_value(const char *p, const char *lim, const char *key, size_t max,
                             const char **start, size_t *len) {
  size_t kl = strlen(key);
  if ((size_t)(lim - p) < kl + 4 || p[0] != '"' || memcmp(p + 1, key, kl) != 0 ||
      p[kl + 1] != '"' || p[kl + 2] != ':' || p[kl + 3] != '"')
    return NULL;
  p += kl + 4;
  const char *s = p;
  while (p < lim && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c > 0x7e || c == '\\') return NULL; /* escapes: the general reader */
    p++;
  }
  if (p >= lim || (size_t)(p - s) > max) return NULL;
  *start = s;
  *len = (size_t)(p - s);
  return p + 1;
}

/* The standard alphabet's values plus one; 0 for every other byte. */
static const uint8_t B64[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* Strict standard base64 with padding into out (cap bytes): canonical only
 * (padding at the end, unused bits zero). -1 when it is not. */
static long b64_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
  if (n % 4) return -1;
  size_t pad = (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
  size_t dlen = n / 4 * 3 - pad;
  if (dlen > cap) return -1;
  const unsigned char *p = (const unsigned char *)in;
  size_t full = pad ? n - 4 : n, o = 0;
  for (size_t i = 0; i < full; i += 4) {
    int a = B64[p[i]] - 1, b = B64[p[i + 1]] - 1, c = B64[p[i + 2]] - 1, d = B64[p[i + 3]] - 1;
    if ((a | b | c | d) < 0) return -1;
    uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (uint8_t)(w >> 16);
    out[o++] = (uint8_t)(w >> 8);
    out[o++] = (uint8_t)w;
  }
  if (pad) {
    const unsigned char *q = p + n - 4;
    int a = B64[q[0]] - 1, b = B64[q[1]] - 1, c = pad == 1 ? B64[q[2]] - 1 : 0;
    if ((a | b | c) < 0) return -1;
    uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
    /* canonical: the bits the padding leaves over are zero */
    if (pad == 2 && (w & 0xffff)) return -1;
    if (pad == 1 && (w & 0xff)) return -1;
    out[o++] = (uint8_t)(w >> 16);
    if (pad == 1) out[o++] = (uint8_t)(w >> 8);
  }
  return (long)o;
}

/* The canonical text, or false (the caller falls back). */
static bool fast_parse(const char *body, size_t len, vault_sealed *out) {
  const char *p = body, *lim = body + len, *v;
  size_t vl;
  if (len < 2 || *p++ != '{' || lim[-1] != '}') return false;
  lim--;
  if (!(p = str_value(p, lim, "authorisation", VAULT_ID_MAX, &v, &vl)) || vl == 0) return false;
  memcpy(out->authorisation, v, vl);
  if (p >= lim || *p++ != ',') return false;
  const char *ct;
  size_t ctl;
  if (!(p = str_value(p, lim, "ciphertext", 8u << 20, &ct, &ctl)) || p >= lim || *p++ != ',') return false;
  if (!(p = str_value(p, lim, "id", VAULT_ID_MAX, &v, &vl)) || vl == 0) return false;
  memcpy(out->id, v, vl);
  if (p >= lim || *p++ != ',') return false;
  if (!(p = str_value(p, lim, "kek", VAULT_ID_MAX, &v, &vl))) return false;
  memcpy(out->kek_label, v, vl);
  static const char vkey[] = ",\"version\":";
  if ((size_t)(lim - p) < sizeof vkey || memcmp(p, vkey, sizeof vkey - 1) != 0) return false;
  p += sizeof vkey - 1;
  int64_t version = 0;
  const char *d = p;
  while (p < lim && *p >= '0' && *p <= '9' && p - d < 18) version = version * 10 + (*p++ - '0');
  if (p == d || *d == '0' || version < 1 || p >= lim || *p++ != ',') return false;
  out->version = version;
  const char *wk;
  size_t wkl;
  if (!(p = str_value(p, lim, "wrapped_key", 2 * VAULT_WRAPPED_MAX, &wk, &wkl)) || p != lim) return false;
  long n = b64_decode(wk, wkl, out->wrapped_key, sizeof out->wrapped_key);
  if (n < 0) return false;
  out->wrapped_key_len = (size_t)n;
  if (ctl / 4 * 3 > 6u << 20 || !(out->ciphertext = malloc(ctl / 4 * 3 + 1))) return false;
  n = b64_decode(ct, ctl, out->ciphertext, ctl / 4 * 3);
  if (n < 0) return false;
  out->ciphertext_len = (size_t)n;
  return true;
}

int vault_sealed_parse(const char *body, size_t len, vault_sealed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (fast_parse(body, len, out)) return 0;
  vault_sealed_free(out);
  memset(out, 0, sizeof *out);
  json_t *j = NULL;
  int rc = lisec_json_parse(body, len, &j, err);
  if (!rc) rc = vault_sealed_from_json(j, out, err);
  json_decref(j);
  return rc;
}

int vault_sealed_parse_as(const char *id, const char *body, size_t len, vault_sealed *out, lisec_err *err) {
  int rc = vault_sealed_parse(body, len, out, err);
  if (rc || strcmp(out->id, id) == 0) return rc;
  vault_sealed_free(out);
  return lisec_err_set(err, LISEC_ECRYPTO,
                       "TR103308-5.2: stored target %s holds the record of another target (its id is not %s): "
                       "moved or altered",
                       id, id);
}
