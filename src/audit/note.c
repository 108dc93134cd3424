/* Signed checkpoints in the C2SP signed-note and checkpoint formats: the body
 * "<origin>\n<tree size>\n<base64 root>\n" (optionally followed by extension
 * lines), a blank line, and signature lines "— <key name> <base64(key id ||
 * Ed25519 signature)>\n". The key id is the first four bytes of
 * SHA-256(name || 0x0A || 0x01 || public key), big-endian. The parser is
 * bounded (note size, line count, field sizes) because notes come from the
 * database and the network, both of which an attacker may control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "crypto/crypto.h"

#define EM_DASH "\xe2\x80\x94"
#define SIG_PREFIX EM_DASH " "
#define SIG_LINES_MAX 16
#define SIG_B64_MAX 128

/* A key name: non-empty printable ASCII or UTF-8 without spaces or '+'
 * (the vkey form separates its fields with '+'). */
static bool name_ok(const char *s, size_t n) {
  if (n == 0 || n > AUDIT_ORIGIN_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c == 0x7f || c == '+') return false;
  }
  return true;
}

/* A line of note text: no control characters (the note spec allows only
 * newline, which ends the line). */
static bool line_ok(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

static uint32_t key_id(const char *name, const uint8_t pk[AUDIT_ED25519_PK_LEN]) {
  static const uint8_t sep[2] = {0x0a, 0x01};
  const void *parts[3] = {name, sep, pk};
  size_t lens[3] = {strlen(name), sizeof sep, AUDIT_ED25519_PK_LEN};
  uint8_t h[CRYPTO_SHA256_LEN];
  crypto_sha256_parts(parts, lens, 3, h);
  return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

int audit_vkey_make(const char *name, const uint8_t pk[AUDIT_ED25519_PK_LEN], audit_vkey *out,
                    lisec_err *err) {
  if (!name || !name_ok(name, strlen(name)))
    return lisec_err_set(err, LISEC_EINVAL,
                         "checkpoint key name must be 1..%d printable characters without spaces or '+'",
                         AUDIT_ORIGIN_MAX);
  memset(out, 0, sizeof *out);
  memcpy(out->name, name, strlen(name));
  memcpy(out->pk, pk, AUDIT_ED25519_PK_LEN);
  out->id = key_id(out->name, pk);
  return 0;
}

int audit_vkey_from_pem(const char *name, const void *pem, size_t len, audit_vkey *out,
                        lisec_err *err) {
  EVP_PKEY *key = NULL;
  uint8_t pk[AUDIT_ED25519_PK_LEN];
  size_t pk_len = sizeof pk;
  int rc = crypto_pkey_from_pem(pem, len, true, &key, err);
  if (!rc && (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
              EVP_PKEY_get_raw_public_key(key, pk, &pk_len) != 1 || pk_len != sizeof pk))
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "not an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)");
  EVP_PKEY_free(key);
  return rc ? rc : audit_vkey_make(name, pk, out, err);
}

int audit_vkey_format(const audit_vkey *k, char **out, lisec_err *err) {
  uint8_t raw[1 + AUDIT_ED25519_PK_LEN];
  raw[0] = 0x01; /* the note spec's algorithm byte for Ed25519 */
  memcpy(raw + 1, k->pk, AUDIT_ED25519_PK_LEN);
  char *b64 = NULL;
  if (crypto_base64_encode(raw, sizeof raw, &b64) != 0)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t n = strlen(k->name) + 1 + 8 + 1 + strlen(b64) + 1;
  char *s = malloc(n);
  if (!s) {
    free(b64);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  snprintf(s, n, "%s+%08x+%s", k->name, (unsigned)k->id, b64);
  free(b64);
  *out = s;
  return 0;
}

int audit_vkey_parse(const char *text, audit_vkey *out, lisec_err *err) {
  size_t n = strnlen(text, 1024);
  while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) n--;
  const char *p1 = memchr(text, '+', n);
  const char *p2 = p1 ? memchr(p1 + 1, '+', n - (size_t)(p1 + 1 - text)) : NULL;
  if (!p1 || !p2 || p2 - p1 != 9)
    return lisec_err_set(err, LISEC_EINVAL, "verifier key is not <name>+<hex id>+<base64 key>");
  size_t name_len = (size_t)(p1 - text);
  if (!name_ok(text, name_len))
    return lisec_err_set(err, LISEC_EINVAL, "verifier key: bad key name");
  uint8_t idb[4];
  char hex[9];
  memcpy(hex, p1 + 1, 8);
  hex[8] = '\0';
  if (lisec_hex_decode(hex, idb, 4) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "verifier key: the key id is not 8 hex digits");
  size_t b64_len = n - (size_t)(p2 + 1 - text);
  if (b64_len == 0 || b64_len > SIG_B64_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "verifier key: bad key length");
  char b64[SIG_B64_MAX + 1];
  memcpy(b64, p2 + 1, b64_len);
  b64[b64_len] = '\0';
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  int rc = crypto_base64_decode(b64, 64, &raw, &raw_len, err);
  if (rc) return lisec_err_wrap(err, "verifier key");
  if (raw_len != 1 + AUDIT_ED25519_PK_LEN || raw[0] != 0x01) {
    free(raw);
    return lisec_err_set(err, LISEC_EINVAL, "verifier key is not an Ed25519 key (0x01 || 32 bytes)");
  }
  char name[AUDIT_ORIGIN_MAX + 1];
  memcpy(name, text, name_len);
  name[name_len] = '\0';
  rc = audit_vkey_make(name, raw + 1, out, err);
  free(raw);
  if (rc) return rc;
  uint32_t id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 | (uint32_t)idb[2] << 8 | idb[3];
  if (id != out->id)
    return lisec_err_set(err, LISEC_EINVAL, "verifier key: id %08x does not match the key (%08x)",
                         (unsigned)id, (unsigned)out->id);
  return 0;
}

int audit_checkpoint_parse(const char *text, size_t len, audit_checkpoint *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (len > AUDIT_NOTE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "checkpoint over %d bytes", AUDIT_NOTE_MAX);
  if (len == 0 || text[len - 1] != '\n')
    return lisec_err_set(err, LISEC_EINVAL, "checkpoint does not end with a newline");
  const char *line[3];
  size_t line_len[3];
  const char *p = text, *end = text + len;
  for (int i = 0; i < 3; i++) {
    const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (!nl) return lisec_err_set(err, LISEC_EINVAL, "checkpoint has fewer than 3 lines");
    line[i] = p;
    line_len[i] = (size_t)(nl - p);
    p = nl + 1;
  }
  /* Extension lines may follow; each must be a non-empty line. */
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!line_ok(p, (size_t)(nl - p)))
      return lisec_err_set(err, LISEC_EINVAL, "checkpoint: empty or malformed extension line");
    p = nl + 1;
  }
  if (!line_ok(line[0], line_len[0]) || line_len[0] > AUDIT_ORIGIN_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "checkpoint: bad origin line");
  memcpy(out->origin, line[0], line_len[0]);
  out->origin[line_len[0]] = '\0';
  /* Tree size: decimal, no sign, no leading zero. */
  if (line_len[1] == 0 || line_len[1] > 19 || (line[1][0] == '0' && line_len[1] > 1))
    return lisec_err_set(err, LISEC_EINVAL, "checkpoint: bad tree size");
  uint64_t size = 0;
  for (size_t i = 0; i < line_len[1]; i++) {
    if (line[1][i] < '0' || line[1][i] > '9')
      return lisec_err_set(err, LISEC_EINVAL, "checkpoint: tree size is not a decimal number");
    size = size * 10 + (uint64_t)(line[1][i] - '0');
  }
  if (size > AUDIT_SIZE_MAX) return lisec_err_set(err, LISEC_EINVAL, "checkpoint: tree size too large");
  out->size = size;
  if (line_len[2] != 44) return lisec_err_set(err, LISEC_EINVAL, "checkpoint: root is not 32 bytes in base64");
  char b64[45];
  memcpy(b64, line[2], 44);
  b64[44] = '\0';
  uint8_t *root = NULL;
  size_t root_len = 0;
  int rc = crypto_base64_decode(b64, AUDIT_HASH_LEN, &root, &root_len, err);
  if (rc) return lisec_err_wrap(err, "checkpoint root");
  if (root_len != AUDIT_HASH_LEN) {
    free(root);
    return lisec_err_set(err, LISEC_EINVAL, "checkpoint: root is not 32 bytes");
  }
  memcpy(out->root, root, AUDIT_HASH_LEN);
  free(root);
  return 0;
}

/* Note text: lines of text each ending in a newline, no control characters
 * otherwise, and no blank line (which would end the text early). */
static bool note_text_ok(const char *t, size_t n) {
  if (n == 0 || t[n - 1] != '\n') return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c == '\n') {
      if (i == 0 || t[i - 1] == '\n') return false;
    } else if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

int audit_note_sign_text(const char *text, size_t len, const audit_vkey *key, audit_sign_fn sign,
                         void *sign_ctx, char **note, lisec_err *err) {
  if (len > AUDIT_NOTE_MAX / 2 || !note_text_ok(text, len))
    return lisec_err_set(err, LISEC_EINVAL, "note text must be non-empty lines of text");
  uint8_t sig[4 + AUDIT_ED25519_SIG_LEN];
  sig[0] = (uint8_t)(key->id >> 24);
  sig[1] = (uint8_t)(key->id >> 16);
  sig[2] = (uint8_t)(key->id >> 8);
  sig[3] = (uint8_t)key->id;
  int rc = sign(sign_ctx, (const uint8_t *)text, len, sig + 4, err);
  if (rc) return lisec_err_wrap(err, "signing the note");
  /* A signer that returns a signature the key does not verify (a wrong key
   * label, a token fault) must not publish a note nobody can check. */
  if (!audit_ed25519_ok(sig + 4, (const uint8_t *)text, len, key->pk))
    return lisec_err_set(err, LISEC_ECRYPTO,
                         "the note signature does not verify with the checkpoint public key");
  char *b64 = NULL;
  if (crypto_base64_encode(sig, sizeof sig, &b64) != 0)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t n = len + 1 + strlen(SIG_PREFIX) + strlen(key->name) + 1 + strlen(b64) + 2;
  char *s = malloc(n);
  if (!s) {
    free(b64);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  snprintf(s, n, "%.*s\n" SIG_PREFIX "%s %s\n", (int)len, text, key->name, b64);
  free(b64);
  *note = s;
  return 0;
}

int audit_note_sign(const audit_checkpoint *cp, const audit_vkey *key, audit_sign_fn sign,
                    void *sign_ctx, char **note, lisec_err *err) {
  size_t olen = strnlen(cp->origin, sizeof cp->origin);
  if (!line_ok(cp->origin, olen) || olen > AUDIT_ORIGIN_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "checkpoint origin must be one line of text");
  char *root = NULL;
  if (crypto_base64_encode(cp->root, AUDIT_HASH_LEN, &root) != 0)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char body[AUDIT_ORIGIN_MAX + 80];
  int blen = snprintf(body, sizeof body, "%s\n%llu\n%s\n", cp->origin,
                      (unsigned long long)cp->size, root);
  free(root);
  return audit_note_sign_text(body, (size_t)blen, key, sign, sign_ctx, note, err);
}

int audit_note_verify(const char *note, size_t len, const audit_vkey *key, size_t *text_len,
                      lisec_err *err) {
  if (len > AUDIT_NOTE_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "signed note over %d bytes", AUDIT_NOTE_MAX);
  if (memchr(note, '\0', len)) return lisec_err_set(err, LISEC_EINVAL, "signed note contains NUL");
  /* The text ends at the last blank line; signatures follow it. */
  size_t split = 0;
  bool found = false;
  for (size_t i = len; i >= 2; i--)
    if (note[i - 2] == '\n' && note[i - 1] == '\n') {
      split = i - 1; /* text is note[0 .. split) including its final newline */
      found = true;
      break;
    }
  if (!found) return lisec_err_set(err, LISEC_EINVAL, "signed note has no signature block");
  const char *sigs = note + split + 1, *end = note + len;
  if (sigs == end || end[-1] != '\n')
    return lisec_err_set(err, LISEC_EINVAL, "signed note: signature block is empty or unterminated");
  if (!note_text_ok(note, split))
    return lisec_err_set(err, LISEC_EINVAL, "signed note: the text has control characters or blank lines");
  size_t nlines = 0;
  bool matched = false;
  for (const char *p = sigs; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = (size_t)(nl - p);
    if (++nlines > SIG_LINES_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "signed note: more than %d signatures", SIG_LINES_MAX);
    size_t pre = strlen(SIG_PREFIX);
    if (l < pre || memcmp(p, SIG_PREFIX, pre) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "signed note: signature line does not start with an em dash");
    const char *name = p + pre, *sp = memchr(name, ' ', (size_t)(nl - name));
    if (!sp || !name_ok(name, (size_t)(sp - name)))
      return lisec_err_set(err, LISEC_EINVAL, "signed note: bad key name in a signature line");
    size_t b64_len = (size_t)(nl - sp - 1);
    if (b64_len == 0 || b64_len > SIG_B64_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "signed note: bad signature length");
    char b64[SIG_B64_MAX + 1];
    memcpy(b64, sp + 1, b64_len);
    b64[b64_len] = '\0';
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (crypto_base64_decode(b64, SIG_B64_MAX, &raw, &raw_len, err) != 0)
      return lisec_err_wrap(err, "signed note signature");
    if (raw_len < 5) {
      free(raw);
      return lisec_err_set(err, LISEC_EINVAL, "signed note: signature too short");
    }
    uint32_t id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
    size_t name_len = (size_t)(sp - name);
    /* Only the line with our key's name and id counts; signatures by other
     * witnesses or keys are left alone, as the note spec says. */
    if (id == key->id && name_len == strlen(key->name) && memcmp(name, key->name, name_len) == 0) {
      bool good = raw_len == 4 + AUDIT_ED25519_SIG_LEN &&
                  audit_ed25519_ok(raw + 4, (const uint8_t *)note, split, key->pk);
      if (!good) {
        free(raw);
        return lisec_err_set(err, LISEC_ECRYPTO,
                             "signature by %s does not verify (forged or altered note)", key->name);
      }
      matched = true;
    }
    free(raw);
    p = nl + 1;
  }
  if (!matched) {
    /* Say who did sign it: a node given another key than the log's is told
     * which key it lacks, not only that its own is absent. */
    char others[256];
    if (audit_note_signers(note, len, others, sizeof others) > 0)
      return lisec_err_set(err, LISEC_ECRYPTO, "note is not signed by %s+%08x; it is signed by %s",
                           key->name, (unsigned)key->id, others);
    return lisec_err_set(err, LISEC_ECRYPTO, "note is not signed by %s+%08x", key->name,
                         (unsigned)key->id);
  }
  *text_len = split;
  return 0;
}

size_t audit_note_signers(const char *note, size_t len, char *buf, size_t size) {
  size_t n = 0, used = 0;
  if (size) buf[0] = '\0';
  if (len > AUDIT_NOTE_MAX || memchr(note, '\0', len)) return 0;
  size_t split = 0;
  for (size_t i = len; i >= 2 && !split; i--)
    if (note[i - 2] == '\n' && note[i - 1] == '\n') split = i - 1;
  if (!split) return 0;
  const char *end = note + len, *p = note + split + 1;
  size_t pre = strlen(SIG_PREFIX);
  for (int lines = 0; p < end && lines < SIG_LINES_MAX; lines++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    const char *name = p + pre, *sp = (size_t)(nl - p) > pre && memcmp(p, SIG_PREFIX, pre) == 0
                                           ? memchr(name, ' ', (size_t)(nl - name))
                                           : NULL;
    uint8_t *raw = NULL;
    size_t raw_len = 0, b64_len = sp ? (size_t)(nl - sp - 1) : 0;
    char b64[SIG_B64_MAX + 1];
    lisec_err ignore = {0};
    if (sp && name_ok(name, (size_t)(sp - name)) && b64_len > 0 && b64_len <= SIG_B64_MAX) {
      memcpy(b64, sp + 1, b64_len);
      b64[b64_len] = '\0';
      if (crypto_base64_decode(b64, SIG_B64_MAX, &raw, &raw_len, &ignore) == 0 && raw_len >= 4) {
        uint32_t id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        int w = snprintf(buf + used, size - used, "%s%.*s+%08x", n ? ", " : "", (int)(sp - name), name,
                         (unsigned)id);
        if (w > 0 && (size_t)w < size - used) used += (size_t)w, n++;
      }
      free(raw);
    }
    p = nl + 1;
  }
  return n;
}

int audit_note_open(const char *note, size_t len, const audit_vkey *key, audit_checkpoint *out,
                    lisec_err *err) {
  memset(out, 0, sizeof *out);
  size_t text_len = 0;
  int rc = audit_note_verify(note, len, key, &text_len, err);
  return rc ? rc : audit_checkpoint_parse(note, text_len, out, err);
}
