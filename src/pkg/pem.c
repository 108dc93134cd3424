/* The files of a package that the signed manifest does not list (the
 * countersignatures, the artifact signatures and the certificates beside
 * them) are covered by no digest, so they may hold what they claim and
 * little else: PEM blocks of the expected kind, and in each block
 * canonical base64 of one whole ASN.1 object. OpenSSL's PEM reader skips
 * anything outside its blocks, blocks of other kinds, and d2i any bytes
 * after the object, which let anyone put unsigned bytes (a binary, a
 * private key) in a verified package. Outside the blocks a signature file
 * may hold whitespace only; a certificate file may also hold explanatory
 * text (RFC 7468 §2; `openssl ca` and `openssl pkcs12` write it), as lines
 * of printable characters that do not start with "-----". */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "pkg/internal.h"

static bool pem_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool at_line_start(const uint8_t *d, size_t p) { return p == 0 || d[p - 1] == '\n'; }

/* Whether d[p..len) starts with s. */
static bool starts(const uint8_t *d, size_t len, size_t p, const char *s) {
  size_t n = strlen(s);
  return len - p >= n && memcmp(d + p, s, n) == 0;
}

static int refuse(const char *file, const char *what, lisec_err *err) {
  return lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.2: '%.128s' is not in the signed manifest, so it may hold its "
                       "PEM only: %s",
                       file, what);
}

/* Decodes one block's body and checks it is one whole ASN.1 object. */
static int block_body(const uint8_t *b, size_t n, const char *file, lisec_err *err) {
  char *text = malloc(n + 1);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!pem_space(b[i])) text[k++] = (char)b[i];
  text[k] = '\0';
  uint8_t *der = NULL;
  size_t der_len = 0;
  lisec_err e = {0};
  int rc = crypto_base64_decode(text, PKG_SIG_FILE_MAX, &der, &der_len, &e);
  free(text);
  if (rc) return refuse(file, "a block is not canonical base64", err);
  const unsigned char *p = der;
  ASN1_TYPE *t = der_len <= INT32_MAX ? d2i_ASN1_TYPE(NULL, &p, (long)der_len) : NULL;
  bool whole = t && p == der + der_len;
  ASN1_TYPE_free(t);
  free(der);
  ERR_clear_error();
  return whole ? 0 : refuse(file, "a block is not one whole ASN.1 object", err);
}

/* Skips the rest of a line of explanatory text from p; false when it
 * holds a control byte. */
static bool text_line(const uint8_t *d, size_t len, size_t *p) {
  for (; *p < len && d[*p] != '\n'; (*p)++)
    if ((d[*p] < 0x20 && d[*p] != '\t' && d[*p] != '\r') || d[*p] == 0x7f) return false;
  return true;
}

int pkg_pem_only(const uint8_t *d, size_t len, const char *const *labels, size_t max_blocks,
                 bool text_ok, const char *file, lisec_err *err) {
  size_t p = 0, blocks = 0;
  for (;;) {
    while (p < len && pem_space(d[p])) p++;
    if (p == len) break;
    if (!at_line_start(d, p) || !starts(d, len, p, "-----BEGIN ")) {
      if (!text_ok) return refuse(file, "text outside its PEM blocks", err);
      if (starts(d, len, p, "-----")) return refuse(file, "a PEM line out of place", err);
      if (!text_line(d, len, &p)) return refuse(file, "control bytes outside its PEM blocks", err);
      continue;
    }
    const char *label = NULL;
    for (size_t i = 0; labels[i] && !label; i++) {
      size_t l = strlen(labels[i]);
      if (starts(d, len, p + 11, labels[i]) && starts(d, len, p + 11 + l, "-----")) label = labels[i];
    }
    if (!label) return refuse(file, "a PEM block of another kind", err);
    p += 11 + strlen(label) + 5;
    size_t body = p;
    while (p < len && d[p] != '-') p++;
    if (p == len || !at_line_start(d, p) || !starts(d, len, p, "-----END ") ||
        !starts(d, len, p + 9, label) || !starts(d, len, p + 9 + strlen(label), "-----"))
      return refuse(file, "a PEM block without its end line", err);
    if (++blocks > max_blocks) return refuse(file, "more PEM blocks than it may hold", err);
    int rc = block_body(d + body, p - body, file, err);
    if (rc) return rc;
    p += 9 + strlen(label) + 5;
    if (p < len && d[p] != '\r' && d[p] != '\n')
      return refuse(file, "text after a PEM end line", err);
  }
  return blocks ? 0 : refuse(file, "no PEM block", err);
}
