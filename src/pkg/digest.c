/* Streaming digests over package members. crypto/ offers one-shot SHA-256
 * only; a software image of several gigabytes must be hashed as it is read,
 * and SOL 004 also allows SHA-384 and SHA-512, so this wraps OpenSSL's
 * EVP_MD_CTX for those three and nothing else. */
#include <openssl/evp.h>
#include <stdlib.h>

#include "pkg/pkg.h"

struct pkg_digest {
  EVP_MD_CTX *ctx;
};

const EVP_MD *pkg_alg_md(pkg_alg a) {
  switch (a) {
    case PKG_ALG_SHA256: return EVP_sha256();
    case PKG_ALG_SHA384: return EVP_sha384();
    case PKG_ALG_SHA512: return EVP_sha512();
  }
  return NULL;
}

int pkg_digest_new(const EVP_MD *md, pkg_digest **out, lisec_err *err) {
  pkg_digest *d = calloc(1, sizeof *d);
  if (!d) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  d->ctx = EVP_MD_CTX_new();
  if (!d->ctx || !md || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
    pkg_digest_free(d);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot start a digest");
  }
  *out = d;
  return 0;
}

int pkg_digest_update(pkg_digest *d, const void *data, size_t len, lisec_err *err) {
  if (EVP_DigestUpdate(d->ctx, data, len) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "digest update failed");
  return 0;
}

int pkg_digest_final(pkg_digest *d, uint8_t *out, size_t *len, lisec_err *err) {
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(d->ctx, out, &n) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "digest final failed");
  *len = n;
  return 0;
}

void pkg_digest_free(pkg_digest *d) {
  if (!d) return;
  EVP_MD_CTX_free(d->ctx);
  free(d);
}
