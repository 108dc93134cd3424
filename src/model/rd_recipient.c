/* The RD data key's recipient (rd_recipient.h): a P-256 public key in PEM
 * read with bounds and its type checked before any of it reaches the keys
 * process, and the ephemeral point of a wrap written back as PEM. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "model/rd_recipient.h"

static int refuse(lisec_err *err, const char *why) {
  ERR_clear_error();
  return lisec_err_set(err, LISEC_EINVAL,
                       MODEL_REQ_RD_WRAP ": public_key must be the RD VM's P-256 public key in PEM (the data "
                       "key is wrapped to it): %s",
                       why);
}

int model_rd_recipient_parse(const char *pem, size_t len, uint8_t point[MODEL_RD_POINT_LEN], lisec_err *err) {
  if (!pem || len == 0) return refuse(err, "none given");
  if (len > MODEL_RD_RECIPIENT_PEM_MAX) return refuse(err, "longer than 512 bytes");
  if (memchr(pem, '\0', len)) return refuse(err, "it holds a NUL byte");
  EVP_PKEY *k = NULL;
  lisec_err perr = {0};
  if (crypto_pkey_from_pem(pem, len, false, &k, &perr)) return refuse(err, "not a PEM public key");
  char group[32] = "";
  size_t glen = 0, plen = 0;
  int rc = 0;
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) rc = refuse(err, "not an EC key");
  else if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) ||
           strcmp(group, SN_X9_62_prime256v1) != 0)
    rc = refuse(err, "not on the curve P-256");
  else if (!EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) ||
           !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, MODEL_RD_POINT_LEN,
                                            &plen) ||
           plen != MODEL_RD_POINT_LEN || point[0] != 0x04)
    rc = refuse(err, "its point does not encode");
  EVP_PKEY_free(k);
  return rc;
}

int model_rd_point_pem(const uint8_t point[MODEL_RD_POINT_LEN], char **out, lisec_err *err) {
  *out = NULL;
  OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY *k = NULL;
  int ok = b && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) &&
           OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point, MODEL_RD_POINT_LEN) &&
           (params = OSSL_PARAM_BLD_to_param(b)) && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) &&
           EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
  int rc = ok ? crypto_pkey_public_pem(k, out, err)
              : lisec_err_set(err, LISEC_ECRYPTO, MODEL_REQ_RD_WRAP ": the token's ephemeral key is not a P-256 point");
  ERR_clear_error();
  EVP_PKEY_free(k);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(b);
  return rc;
}
