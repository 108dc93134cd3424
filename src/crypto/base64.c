/* Standard padded base64 (RFC 4648 §4), used by signed notes and JSON
 * transports of binary values. Decoding rejects anything non-canonical.
 * What it decodes may be a secret key (the LI administration's X25519 key),
 * so every buffer it frees on the way, the bytes of a refused value and the
 * re-encoding that checks the canonical form, is wiped first. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

int crypto_base64_encode(const void *in, size_t len, char **out) {
  if (len > (SIZE_MAX / 4) * 3 - 3 || len > INT32_MAX / 2) return LISEC_ETOOBIG;
  size_t n = 4 * ((len + 2) / 3);
  char *s = malloc(n + 1);
  if (!s) return LISEC_ENOMEM;
  EVP_EncodeBlock((unsigned char *)s, in, (int)len);
  s[n] = '\0';
  *out = s;
  return 0;
}

int crypto_base64_decode(const char *in, size_t max, uint8_t **out, size_t *len,
                         lisec_err *err) {
  size_t n = strlen(in);
  if (n % 4 != 0 || n > INT32_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "base64 length is not a multiple of 4");
  size_t pad = (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
  size_t dlen = n / 4 * 3 - pad;
  if (dlen > max) return lisec_err_set(err, LISEC_ETOOBIG, "base64 value larger than %zu", max);
  uint8_t *buf = malloc(n / 4 * 3 + 1);
  if (!buf) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t cap = n / 4 * 3 + 1;
  if (EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n) < 0) {
    crypto_wipe(buf, cap);
    free(buf);
    return lisec_err_set(err, LISEC_EINVAL, "invalid base64");
  }
  /* EVP_DecodeBlock is lenient about stray '=' inside the text; re-encode to
   * insist on the canonical form. */
  char *again = NULL;
  bool canonical = crypto_base64_encode(buf, dlen, &again) == 0 && strcmp(again, in) == 0;
  if (again) crypto_wipe(again, strlen(again));
  free(again);
  if (!canonical) {
    crypto_wipe(buf, cap);
    free(buf);
    return lisec_err_set(err, LISEC_EINVAL, "invalid base64 (not canonical)");
  }
  *out = buf;
  *len = dlen;
  return 0;
}
