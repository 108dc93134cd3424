/* The quote's signature: a marshalled TPMT_SIGNATURE (tpm2_quote's default
 * "tss" output) read with tpm2-tss and checked with OpenSSL. ECDSA r and s
 * become a DER ECDSA-Sig-Value; RSASSA and RSA-PSS signatures are used as
 * they are, PSS with the salt length read from the signature (TPMs differ
 * in the salt length they choose). */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "attest/internal.h"

static int ecdsa_der(const TPMS_SIGNATURE_ECDSA *s, unsigned char **der, int *der_len) {
  ECDSA_SIG *es = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(s->signatureR.buffer, s->signatureR.size, NULL);
  BIGNUM *ss = BN_bin2bn(s->signatureS.buffer, s->signatureS.size, NULL);
  if (!es || !r || !ss || ECDSA_SIG_set0(es, r, ss) != 1) {
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(es);
    return LISEC_ENOMEM;
  }
  *der = NULL;
  *der_len = i2d_ECDSA_SIG(es, der);
  ECDSA_SIG_free(es);
  return *der_len > 0 ? 0 : LISEC_ENOMEM;
}

int attest_signature_verify(const attest_ak *ak, const uint8_t *msg, size_t msg_len,
                            const uint8_t *sig, size_t sig_len, lisec_err *err) {
  if (!sig || sig_len == 0) return lisec_err_set(err, LISEC_EINVAL, "signature: empty");
  if (sig_len > ATTEST_SIG_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "signature: %zu bytes", sig_len);
  TPMT_SIGNATURE ts;
  size_t off = 0;
  memset(&ts, 0, sizeof ts);
  TSS2_RC trc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &ts);
  if (trc != TSS2_RC_SUCCESS || off != sig_len)
    return lisec_err_set(err, LISEC_EINVAL, "signature: not a TPMT_SIGNATURE");
  bool rsa_key = false;
  EVP_PKEY *pkey = attest_ak_pkey(ak, &rsa_key);
  TPM2_ALG_ID hash;
  const unsigned char *s = NULL;
  size_t slen = 0;
  unsigned char *der = NULL;
  int padding = 0;
  switch (ts.sigAlg) {
  case TPM2_ALG_ECDSA: {
    if (rsa_key) return lisec_err_set(err, LISEC_ECRYPTO, "signature: ECDSA, but the AK is RSA");
    hash = ts.signature.ecdsa.hash;
    int n = 0;
    if (ecdsa_der(&ts.signature.ecdsa, &der, &n))
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    s = der, slen = (size_t)n;
    break;
  }
  case TPM2_ALG_RSASSA:
  case TPM2_ALG_RSAPSS:
    if (!rsa_key) return lisec_err_set(err, LISEC_ECRYPTO, "signature: RSA, but the AK is ECC");
    hash = ts.signature.rsassa.hash;
    s = ts.signature.rsassa.sig.buffer, slen = ts.signature.rsassa.sig.size;
    padding = ts.sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING;
    break;
  default:
    return lisec_err_set(err, LISEC_EINVAL, "signature: algorithm 0x%04x not supported",
                         ts.sigAlg);
  }
  const EVP_MD *md = attest_md(hash);
  int rc = 0;
  if (!md) {
    OPENSSL_free(der);
    return lisec_err_set(err, LISEC_EINVAL, "signature: hash 0x%04x not supported", hash);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  if (EVP_Digest(msg, msg_len, digest, &dlen, md, NULL) != 1) {
    OPENSSL_free(der);
    return lisec_err_set(err, LISEC_ECRYPTO, "signature: digest failed");
  }
  /* ECDSA takes the digest as it is; the AK's context is ready for it. */
  EVP_PKEY_CTX *ctx = NULL, *shared = padding ? NULL : attest_ak_verify_ctx(ak);
  if (shared) {
    if (EVP_PKEY_verify(shared, s, slen, digest, dlen) != 1)
      rc = lisec_err_set(err, LISEC_ECRYPTO, "signature does not verify with the AK");
    attest_ak_verify_ctx_release(ak);
    ERR_clear_error();
    OPENSSL_free(der);
    return rc;
  }
  ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  if (!ctx || EVP_PKEY_verify_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
      (padding && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) != 1) ||
      (padding == RSA_PKCS1_PSS_PADDING &&
       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) != 1)) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "signature: OpenSSL cannot set up the check");
  } else if (EVP_PKEY_verify(ctx, s, slen, digest, dlen) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "signature does not verify with the AK");
  }
  ERR_clear_error();
  EVP_PKEY_CTX_free(ctx);
  OPENSSL_free(der);
  return rc;
}
