/* X.509 certificates: PEM loading and path validation against a CA bundle at
 * a chosen time, with OpenSSL's own verification error as the reason. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>

#include "crypto/crypto.h"

#define CERT_MAX (256 * 1024)

int crypto_x509_from_pem(const void *pem, size_t len, X509 **out, lisec_err *err) {
  if (len > CERT_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "certificate larger than 256 KiB");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  ERR_clear_error();
  if (!c) return lisec_err_set(err, LISEC_EINVAL, "not a PEM X.509 certificate");
  *out = c;
  return 0;
}

int crypto_x509_load_pem(const char *path, X509 **out, lisec_err *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, CERT_MAX, &buf, &len, err);
  if (rc) return rc;
  rc = crypto_x509_from_pem(buf, len, out, err);
  free(buf);
  if (rc) lisec_err_wrap(err, "%s", path);
  return rc;
}

int crypto_x509_verify(X509 *cert, const char *ca_path, int64_t at, lisec_err *err) {
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int rc = 0;
  if (!store || !ctx) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if (X509_STORE_load_file(store, ca_path) != 1) {
    rc = lisec_err_set(err, LISEC_EIO, "cannot load CA bundle %s", ca_path);
    goto out;
  }
  if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "cannot initialise certificate verification");
    goto out;
  }
  if (at) X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
  if (X509_verify_cert(ctx) != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "certificate not trusted: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return rc;
}
