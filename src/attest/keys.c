/* TPM keys as the controller sees them: a TPM2B_PUBLIC turned into an
 * OpenSSL key and a TPM Name, the checks that make a key an attestation key
 * (restricted, signing, never left its TPM), the host id derived from the
 * EK (O.1.6), and the check of an EK certificate against the TPM
 * manufacturers' CAs. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "attest/internal.h"
#include "crypto/crypto.h"

struct attest_ak {
  EVP_PKEY *pkey;
  bool rsa;
  uint8_t name[2 + EVP_MAX_MD_SIZE];
  size_t name_len;
  /* An ECDSA verification context set up once: creating one costs about
   * as much as the rest of an appraisal apart from the signature. Used by
   * one thread at a time (trylock); others make their own. */
  pthread_mutex_t lock;
  EVP_PKEY_CTX *vctx;
};

static attest_ak *ak_new(EVP_PKEY *k, bool rsa) {
  attest_ak *ak = calloc(1, sizeof *ak);
  if (!ak) return NULL;
  ak->pkey = k;
  ak->rsa = rsa;
  pthread_mutex_init(&ak->lock, NULL);
  if (!rsa) {
    ak->vctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    if (ak->vctx && EVP_PKEY_verify_init(ak->vctx) != 1) {
      EVP_PKEY_CTX_free(ak->vctx);
      ak->vctx = NULL;
    }
    ERR_clear_error();
  }
  return ak;
}

EVP_PKEY_CTX *attest_ak_verify_ctx(const attest_ak *ak) {
  /* The lock and the context are the AK's internal, mutable state. */
  attest_ak *m = (attest_ak *)ak;
  if (m->vctx && pthread_mutex_trylock(&m->lock) == 0) return m->vctx;
  return NULL;
}

void attest_ak_verify_ctx_release(const attest_ak *ak) {
  pthread_mutex_unlock(&((attest_ak *)ak)->lock);
}

int attest_tpm_public_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!buf || len == 0) return lisec_err_set(err, LISEC_EINVAL, "TPM public key: empty");
  if (len > ATTEST_TPM_PUBLIC_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "TPM public key: %zu bytes", len);
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, out);
  if (rc != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EINVAL, "TPM public key: not a TPM2B_PUBLIC (tss2 0x%x)", rc);
  if (off != len)
    return lisec_err_set(err, LISEC_EINVAL, "TPM public key: %zu bytes after the TPM2B_PUBLIC",
                         len - off);
  return 0;
}

static int pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out, lisec_err *err) {
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  int rc = 0;
  *out = NULL;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
    rc = lisec_err_set(err, LISEC_EINVAL, "TPM public key: OpenSSL refuses it (%s)",
                       ERR_reason_error_string(ERR_peek_last_error()));
  ERR_clear_error();
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return rc;
}

int attest_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out, lisec_err *err) {
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  BIGNUM *n = NULL, *e = NULL;
  int rc = 0;
  if (!bld) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (pub->type == TPM2_ALG_RSA) {
    uint32_t exp = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;
    n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
    e = BN_new();
    if (!n || !e || !BN_set_word(e, exp) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else
      rc = pkey_fromdata("RSA", bld, out, err);
  } else if (pub->type == TPM2_ALG_ECC) {
    const char *group = NULL;
    size_t field = 0;
    switch (pub->parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256: group = "prime256v1", field = 32; break;
    case TPM2_ECC_NIST_P384: group = "secp384r1", field = 48; break;
    default:
      rc = lisec_err_set(err, LISEC_EINVAL, "TPM public key: ECC curve 0x%04x not supported",
                         pub->parameters.eccDetail.curveID);
    }
    const TPMS_ECC_POINT *p = &pub->unique.ecc;
    if (!rc && (p->x.size > field || p->y.size > field || p->x.size == 0 || p->y.size == 0))
      rc = lisec_err_set(err, LISEC_EINVAL, "TPM public key: ECC point does not fit the curve");
    if (!rc) {
      /* Uncompressed SEC1 point; TPM coordinates may omit leading zeros. */
      uint8_t pt[1 + 2 * 48] = {0x04};
      memcpy(pt + 1 + field - p->x.size, p->x.buffer, p->x.size);
      memcpy(pt + 1 + 2 * field - p->y.size, p->y.buffer, p->y.size);
      if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
          !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * field))
        rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      else
        rc = pkey_fromdata("EC", bld, out, err);
    }
  } else {
    rc = lisec_err_set(err, LISEC_EINVAL, "TPM public key: type 0x%04x is neither RSA nor ECC",
                       pub->type);
  }
  BN_free(n);
  BN_free(e);
  OSSL_PARAM_BLD_free(bld);
  return rc;
}

int attest_tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *out, size_t *out_len,
                           lisec_err *err) {
  const EVP_MD *md = attest_md(pub->nameAlg);
  if (!md) return lisec_err_set(err, LISEC_EINVAL, "TPM public key: nameAlg 0x%04x", pub->nameAlg);
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t off = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EINVAL, "TPM public key: cannot be marshalled");
  unsigned int n = 0;
  out[0] = (uint8_t)(pub->nameAlg >> 8);
  out[1] = (uint8_t)pub->nameAlg;
  if (EVP_Digest(buf, off, out + 2, &n, md, NULL) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "TPM public key: digest failed");
  *out_len = 2 + n;
  return 0;
}

/* Why a key is not usable as an AK, or NULL. An AK must be a restricted
 * signing key (it signs only TPM-made structures, so a quote cannot be
 * forged by asking it to sign arbitrary bytes) that never leaves its TPM
 * (fixedTPM, fixedParent) and whose secret the TPM made. */
static const char *ak_refusal(const TPMT_PUBLIC *p) {
  TPMA_OBJECT a = p->objectAttributes;
  if (!(a & TPMA_OBJECT_RESTRICTED)) return "not restricted";
  if (!(a & TPMA_OBJECT_SIGN_ENCRYPT)) return "not a signing key";
  if (a & TPMA_OBJECT_DECRYPT) return "also a decryption key";
  if (!(a & TPMA_OBJECT_FIXEDTPM)) return "not fixedTPM (it could be duplicated out of its TPM)";
  if (!(a & TPMA_OBJECT_FIXEDPARENT)) return "not fixedParent";
  if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN)) return "its secret was not made by the TPM";
  if (p->type == TPM2_ALG_ECC) {
    if (p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256) return "ECC but not P-256";
    if (p->parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA) return "ECC but not ECDSA";
  } else if (p->type == TPM2_ALG_RSA) {
    if (p->parameters.rsaDetail.keyBits < 2048) return "RSA shorter than 2048 bits";
    TPM2_ALG_ID s = p->parameters.rsaDetail.scheme.scheme;
    if (s != TPM2_ALG_RSASSA && s != TPM2_ALG_RSAPSS) return "RSA but neither RSASSA nor RSAPSS";
  } else {
    return "neither RSA nor ECC";
  }
  return NULL;
}

int attest_ak_from_tpm_public(const uint8_t *pub, size_t len, attest_ak **out, lisec_err *err) {
  TPM2B_PUBLIC p;
  int rc = attest_tpm_public_parse(pub, len, &p, err);
  if (rc) return ATTEST_WRAP(rc, err, "AK");
  const char *why = ak_refusal(&p.publicArea);
  if (why) return lisec_err_set(err, LISEC_EDENIED, "TR103308-O.1.6: key is not an AK: %s", why);
  EVP_PKEY *k = NULL;
  rc = attest_tpm_public_to_pkey(&p.publicArea, &k, err);
  if (rc) return ATTEST_WRAP(rc, err, "AK");
  attest_ak *ak = ak_new(k, p.publicArea.type == TPM2_ALG_RSA);
  if (!ak) {
    EVP_PKEY_free(k);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  rc = attest_tpm_public_name(&p.publicArea, ak->name, &ak->name_len, err);
  if (rc) {
    attest_ak_free(ak);
    return ATTEST_WRAP(rc, err, "AK");
  }
  *out = ak;
  return 0;
}

int attest_ak_from_file_bytes(const uint8_t *buf, size_t len, attest_ak **out, lisec_err *err) {
  static const char armour[] = "-----BEGIN";
  if (len < sizeof armour - 1 || !memmem(buf, len < 64 ? len : 64, armour, sizeof armour - 1))
    return attest_ak_from_tpm_public(buf, len, out, err);
  if (len > 16384) return lisec_err_set(err, LISEC_ETOOBIG, "AK: PEM larger than 16 KiB");
  EVP_PKEY *k = NULL;
  int rc = crypto_pkey_from_pem(buf, len, false, &k, err);
  if (rc) return ATTEST_WRAP(rc, err, "AK");
  bool rsa = EVP_PKEY_is_a(k, "RSA");
  char group[32] = "";
  size_t glen = 0;
  if (rsa ? EVP_PKEY_get_bits(k) < 2048
          : !EVP_PKEY_is_a(k, "EC") ||
                !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                sizeof group, &glen) ||
                strcmp(group, "prime256v1") != 0) {
    EVP_PKEY_free(k);
    return lisec_err_set(err, LISEC_EINVAL, "AK: neither an ECDSA P-256 nor an RSA >= 2048 key");
  }
  attest_ak *ak = ak_new(k, rsa);
  if (!ak) {
    EVP_PKEY_free(k);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *out = ak;
  return 0;
}

void attest_ak_free(attest_ak *ak) {
  if (!ak) return;
  EVP_PKEY_CTX_free(ak->vctx);
  pthread_mutex_destroy(&ak->lock);
  EVP_PKEY_free(ak->pkey);
  free(ak);
}

const uint8_t *attest_ak_name(const attest_ak *ak, size_t *len) {
  *len = ak->name_len;
  return ak->name;
}

int attest_ak_qualified_name(const uint8_t *ek_pub, size_t ek_len, const attest_ak *ak,
                             uint8_t out[ATTEST_NAME_MAX], size_t *out_len, lisec_err *err) {
  *out_len = 0;
  if (ak->name_len < 2)
    return lisec_err_set(err, LISEC_EINVAL, "AK: no TPM Name (given as PEM, not TPM2B_PUBLIC)");
  TPM2B_PUBLIC ek;
  uint8_t ek_name[2 + EVP_MAX_MD_SIZE], buf[4 + 2 + 2 * EVP_MAX_MD_SIZE];
  size_t ek_name_len = 0;
  int rc = attest_tpm_public_parse(ek_pub, ek_len, &ek, err);
  if (!rc) rc = attest_tpm_public_name(&ek.publicArea, ek_name, &ek_name_len, err);
  if (rc) return ATTEST_WRAP(rc, err, "EK");
  /* QN(EK): the hierarchy's handle stands for its parent's qualified name */
  const uint32_t hierarchy = TPM2_RH_ENDORSEMENT;
  for (int i = 0; i < 4; i++) buf[i] = (uint8_t)(hierarchy >> (24 - 8 * i));
  memcpy(buf + 4, ek_name, ek_name_len);
  uint8_t qn_ek[2 + EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const EVP_MD *md = attest_md(ek.publicArea.nameAlg);
  qn_ek[0] = (uint8_t)(ek.publicArea.nameAlg >> 8), qn_ek[1] = (uint8_t)ek.publicArea.nameAlg;
  if (!md || EVP_Digest(buf, 4 + ek_name_len, qn_ek + 2, &n, md, NULL) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "EK: qualified name digest failed");
  size_t qn_ek_len = 2 + n;
  /* QN(AK), with the AK's nameAlg (the first two bytes of its Name) */
  TPM2_ALG_ID ak_alg = (TPM2_ALG_ID)(ak->name[0] << 8 | ak->name[1]);
  md = attest_md(ak_alg);
  if (!md || (size_t)EVP_MD_get_size(md) + 2 > ATTEST_NAME_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "AK: nameAlg 0x%04x", ak_alg);
  memcpy(buf, qn_ek, qn_ek_len);
  memcpy(buf + qn_ek_len, ak->name, ak->name_len);
  out[0] = ak->name[0], out[1] = ak->name[1];
  if (EVP_Digest(buf, qn_ek_len + ak->name_len, out + 2, &n, md, NULL) != 1)
    return lisec_err_set(err, LISEC_ECRYPTO, "AK: qualified name digest failed");
  *out_len = 2 + n;
  return 0;
}

int attest_ak_public_pem(const attest_ak *ak, char **out, lisec_err *err) {
  return crypto_pkey_public_pem(ak->pkey, out, err);
}

EVP_PKEY *attest_ak_pkey(const attest_ak *ak, bool *rsa) {
  *rsa = ak->rsa;
  return ak->pkey;
}

static int ek_pkey(const uint8_t *ek_pub, size_t len, EVP_PKEY **out, lisec_err *err) {
  TPM2B_PUBLIC p;
  int rc = attest_tpm_public_parse(ek_pub, len, &p, err);
  if (!rc) rc = attest_tpm_public_to_pkey(&p.publicArea, out, err);
  return rc ? ATTEST_WRAP(rc, err, "EK") : 0;
}

int attest_host_id(const uint8_t *ek_pub, size_t len, char out[ATTEST_HOST_ID_LEN + 1],
                   lisec_err *err) {
  EVP_PKEY *k = NULL;
  int rc = ek_pkey(ek_pub, len, &k, err);
  if (rc) return rc;
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(k, &der);
  EVP_PKEY_free(k);
  uint8_t d[ATTEST_DIGEST_LEN];
  if (n <= 0 || attest_sha256(der, (size_t)n, d) != 0) {
    OPENSSL_free(der);
    return lisec_err_set(err, LISEC_ECRYPTO, "EK: cannot encode its public key");
  }
  OPENSSL_free(der);
  lisec_hex_encode(d, sizeof d, out);
  return 0;
}

/* Adds every certificate of the PEM bundle ca_pem to store; how many. */
static int ek_ca_load(X509_STORE *store, const uint8_t *ca_pem, size_t ca_len) {
  if (ca_len > INT_MAX) return 0;
  BIO *bio = BIO_new_mem_buf(ca_pem, (int)ca_len);
  STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
  int ncas = 0;
  for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *xi = sk_X509_INFO_value(infos, i);
    if (xi->x509 && X509_STORE_add_cert(store, xi->x509) == 1) ncas++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  BIO_free(bio);
  ERR_clear_error();
  return ncas;
}

int attest_ek_ca_check(const uint8_t *ca_pem, size_t ca_len, lisec_err *err) {
  X509_STORE *store = X509_STORE_new();
  if (!store) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int ncas = ek_ca_load(store, ca_pem, ca_len);
  X509_STORE_free(store);
  if (ncas == 0)
    return lisec_err_set(err, LISEC_EINVAL, "no PEM certificate in it: every EK certificate would be refused");
  return 0;
}

int attest_ek_cert_check(const uint8_t *ek_pub, size_t ek_len, const uint8_t *cert_der,
                         size_t cert_len, const uint8_t *ca_pem, size_t ca_len, int64_t at,
                         lisec_err *err) {
  if (cert_len == 0 || cert_len > 16384)
    return lisec_err_set(err, LISEC_EINVAL, "EK certificate: %zu bytes", cert_len);
  EVP_PKEY *ek = NULL;
  int rc = ek_pkey(ek_pub, ek_len, &ek, err);
  if (rc) return rc;
  const unsigned char *p = cert_der;
  X509 *cert = d2i_X509(NULL, &p, (long)cert_len);
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  if (!cert || p != cert_der + cert_len) {
    rc = lisec_err_set(err, LISEC_EINVAL, "EK certificate: not one DER X.509 certificate");
    goto out;
  }
  if (!store || !ctx) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if (ek_ca_load(store, ca_pem, ca_len) == 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "EK certificate: no manufacturer CA configured");
    goto out;
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), ek) != 1) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-O.1.6: the EK certificate is for another key than the EK");
    goto out;
  }
  X509_STORE_CTX_init(ctx, store, cert, NULL);
  if (at) X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
  if (X509_verify_cert(ctx) != 1)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-O.1.6: EK certificate does not chain to a TPM manufacturer CA: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(cert);
  EVP_PKEY_free(ek);
  return rc;
}
