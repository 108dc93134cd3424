/* The key file of an event key held in the VM's TPM, and the conversions
 * around it (tpmkey.h): the bounded, exact parse of "LSEVTPM1" |
 * TPM2B_PUBLIC | TPM2B_PRIVATE, the check that the public area is the
 * non-duplicable P-256 ECDSA signing key lisec-event makes, the public key
 * as OpenSSL's, and a TPM signature as the DER form lisecd verifies. No
 * TPM here: the fuzz harness and the unit test run it alone. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "events/tpmkey.h"

int evtpm_blob_encode(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, uint8_t **out, size_t *len,
                      lisec_err *err) {
  *out = NULL;
  uint8_t *b = malloc(EVTPM_BLOB_MAX);
  size_t off = EVTPM_MAGIC_LEN;
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  memcpy(b, EVTPM_MAGIC, EVTPM_MAGIC_LEN);
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, b, EVTPM_BLOB_MAX, &off) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Marshal(priv, b, EVTPM_BLOB_MAX, &off) != TSS2_RC_SUCCESS) {
    free(b);
    return lisec_err_set(err, LISEC_EINVAL, "TPM key: cannot marshal the key's areas");
  }
  *out = b;
  *len = off;
  return 0;
}

int evtpm_blob_decode(const uint8_t *data, size_t len, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv,
                      lisec_err *err) {
  memset(pub, 0, sizeof *pub);
  memset(priv, 0, sizeof *priv);
  if (len > EVTPM_BLOB_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "TPM key file of %zu bytes: at most %zu", len,
                         (size_t)EVTPM_BLOB_MAX);
  if (len < EVTPM_MAGIC_LEN || memcmp(data, EVTPM_MAGIC, EVTPM_MAGIC_LEN) != 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "not a TPM key file of lisec-event (it starts with " EVTPM_MAGIC ")");
  size_t off = EVTPM_MAGIC_LEN;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(data, len, &off, pub) != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EINVAL, "TPM key file: the public area is truncated or malformed");
  if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(data, len, &off, priv) != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EINVAL, "TPM key file: the private area is truncated or malformed");
  if (off != len)
    return lisec_err_set(err, LISEC_EINVAL, "TPM key file: %zu bytes after the key's areas", len - off);
  if (priv->size == 0) return lisec_err_set(err, LISEC_EINVAL, "TPM key file: the private area is empty");
  int rc = evtpm_public_check(pub, err);
  if (rc) lisec_err_wrap(err, "TPM key file");
  return rc;
}

int evtpm_public_check(const TPM2B_PUBLIC *pub, lisec_err *err) {
  const TPMT_PUBLIC *p = &pub->publicArea;
  const TPMS_ECC_PARMS *e = &p->parameters.eccDetail;
  const TPMA_OBJECT need = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                           TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
  if (p->type != TPM2_ALG_ECC || p->nameAlg != TPM2_ALG_SHA256)
    return lisec_err_set(err, LISEC_EINVAL, "not an ECC key named with SHA-256");
  if ((p->objectAttributes & need) != need)
    return lisec_err_set(err, LISEC_EINVAL,
                         "not a signing key that is fixedTPM, fixedParent and made inside the TPM");
  if (p->objectAttributes & (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT))
    return lisec_err_set(err, LISEC_EINVAL, "a restricted or decrypting key, not an event signing key");
  if (e->curveID != TPM2_ECC_NIST_P256 || e->scheme.scheme != TPM2_ALG_ECDSA ||
      e->scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256 || e->symmetric.algorithm != TPM2_ALG_NULL ||
      e->kdf.scheme != TPM2_ALG_NULL)
    return lisec_err_set(err, LISEC_EINVAL, "not a NIST P-256 key for ECDSA with SHA-256");
  if (p->unique.ecc.x.size != 32 || p->unique.ecc.y.size != 32)
    return lisec_err_set(err, LISEC_EINVAL, "the public point is not two 32-byte coordinates");
  return 0;
}

int evtpm_public_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **out, lisec_err *err) {
  *out = NULL;
  int rc = evtpm_public_check(pub, err);
  if (rc) return rc;
  uint8_t point[65];
  point[0] = 0x04; /* uncompressed */
  memcpy(point + 1, pub->publicArea.unique.ecc.x.buffer, 32);
  memcpy(point + 33, pub->publicArea.unique.ecc.y.buffer, 32);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
    params = OSSL_PARAM_BLD_to_param(bld);
  if (params) ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_free(*out);
    *out = NULL;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  /* a point off the curve does not import */
  return *out ? 0 : lisec_err_set(err, LISEC_EINVAL, "the TPM key's public point is not on P-256");
}

int evtpm_sig_der(const TPMT_SIGNATURE *sig, uint8_t **der, size_t *len, lisec_err *err) {
  *der = NULL;
  const TPMS_SIGNATURE_ECC *e = &sig->signature.ecdsa;
  if (sig->sigAlg != TPM2_ALG_ECDSA || e->hash != TPM2_ALG_SHA256 || e->signatureR.size == 0 ||
      e->signatureR.size > 32 || e->signatureS.size == 0 || e->signatureS.size > 32)
    return lisec_err_set(err, LISEC_EINVAL, "the TPM's signature is not ECDSA/SHA-256 on P-256");
  BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
  BIGNUM *s = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
  ECDSA_SIG *es = ECDSA_SIG_new();
  if (!r || !s || !es || ECDSA_SIG_set0(es, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  unsigned char *p = NULL;
  int n = i2d_ECDSA_SIG(es, &p); /* es owns r and s now */
  ECDSA_SIG_free(es);
  if (n <= 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *der = malloc((size_t)n);
  if (*der) memcpy(*der, p, (size_t)n);
  OPENSSL_free(p);
  *len = (size_t)n;
  return *der ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
