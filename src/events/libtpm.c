/* The event key in the VM's TPM (tpmkey.h), through tpm2-tss ESAPI and a
 * TCTI chosen at run time (device:/dev/tpmrm0 by default; swtpm's socket
 * in the tests). The key is a child of the TCG storage root key: the SRK is
 * made with TPM2_CreatePrimary from the ECC P-256 template of the TCG TPM
 * 2.0 Provisioning Guidance (the same seed and template give the same key,
 * so nothing is made persistent and no NV handle is taken); the signing
 * key with TPM2_Create (its private area leaves the TPM only wrapped by
 * the SRK) and TPM2_Load. TPM2_Sign signs a SHA-256 digest the caller
 * computed, with a null ticket, which the TPM accepts for a key that is
 * not restricted. Every object is flushed on close: a TPM without a
 * resource manager keeps them otherwise. The owner hierarchy's and the
 * key's authorisation are empty (the key's use is bound to the VM's TPM,
 * not to a secret the VM would have to keep on disk beside it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "events/tpmkey.h"

struct evtpm {
  TSS2_TCTI_CONTEXT *tcti;
  ESYS_CONTEXT *esys;
  ESYS_TR srk, key;
};

static int tss_fail(lisec_err *err, int code, const char *what, TSS2_RC rc) {
  return lisec_err_set(err, code, "TPM: %s: %s", what, Tss2_RC_Decode(rc));
}

/* TCG TPM 2.0 Provisioning Guidance, the ECC NIST P-256 SRK template. */
static void srk_template(TPM2B_PUBLIC *t) {
  memset(t, 0, sizeof *t);
  TPMT_PUBLIC *p = &t->publicArea;
  p->type = TPM2_ALG_ECC;
  p->nameAlg = TPM2_ALG_SHA256;
  p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                        TPMA_OBJECT_DECRYPT;
  p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  p->parameters.eccDetail.symmetric.keyBits.aes = 128;
  p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  p->unique.ecc.x.size = 32; /* zeros, as the guidance says */
  p->unique.ecc.y.size = 32;
}

/* The event signing key: P-256, ECDSA with SHA-256 only, not restricted,
 * not duplicable (fixedTPM, fixedParent), generated inside the TPM. */
static void sign_template(TPM2B_PUBLIC *t) {
  memset(t, 0, sizeof *t);
  TPMT_PUBLIC *p = &t->publicArea;
  p->type = TPM2_ALG_ECC;
  p->nameAlg = TPM2_ALG_SHA256;
  p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT;
  p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

int evtpm_open(const char *tcti, evtpm **out, lisec_err *err) {
  *out = NULL;
  if (!tcti || !*tcti) tcti = EVTPM_TCTI_DEFAULT;
  evtpm *t = calloc(1, sizeof *t);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  t->srk = t->key = ESYS_TR_NONE;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
  if (rc != TSS2_RC_SUCCESS) {
    free(t);
    return lisec_err_set(err, LISEC_EUNAVAIL, "TPM: cannot open TCTI \"%.100s\": %s", tcti, Tss2_RC_Decode(rc));
  }
  rc = Esys_Initialize(&t->esys, t->tcti, NULL);
  if (rc != TSS2_RC_SUCCESS) {
    evtpm_close(t);
    return tss_fail(err, LISEC_EUNAVAIL, "initialise ESAPI", rc);
  }
  TPM2B_PUBLIC tmpl;
  srk_template(&tmpl);
  TPM2B_SENSITIVE_CREATE sens = {0};
  TPM2B_DATA outside = {0};
  TPML_PCR_SELECTION pcrs = {0};
  rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                          &outside, &pcrs, &t->srk, NULL, NULL, NULL, NULL);
  if (rc != TSS2_RC_SUCCESS) {
    evtpm_close(t);
    return tss_fail(err, LISEC_EUNAVAIL, "make the storage root key (owner hierarchy, empty authorisation)", rc);
  }
  *out = t;
  return 0;
}

int evtpm_create(evtpm *t, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, lisec_err *err) {
  TPM2B_PUBLIC tmpl;
  sign_template(&tmpl);
  TPM2B_SENSITIVE_CREATE sens = {0};
  TPM2B_DATA outside = {0};
  TPML_PCR_SELECTION pcrs = {0};
  TPM2B_PRIVATE *opriv = NULL;
  TPM2B_PUBLIC *opub = NULL;
  TSS2_RC rc = Esys_Create(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                           &pcrs, &opriv, &opub, NULL, NULL, NULL);
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, LISEC_EIO, "create the event signing key", rc);
  *pub = *opub;
  *priv = *opriv;
  Esys_Free(opub);
  Esys_Free(opriv);
  int r = evtpm_public_check(pub, err);
  return r ? r : evtpm_load(t, pub, priv, err);
}

int evtpm_load(evtpm *t, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, lisec_err *err) {
  if (t->key != ESYS_TR_NONE) return lisec_err_set(err, LISEC_EINVAL, "TPM: a key is loaded already");
  TSS2_RC rc = Esys_Load(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &t->key);
  if (rc == TSS2_RC_SUCCESS) return 0;
  t->key = ESYS_TR_NONE;
  /* integrity or parent errors: the blob was wrapped by another SRK */
  return tss_fail(err, LISEC_EDENIED,
                  "this TPM does not take the event key (made by another TPM, or its storage hierarchy "
                  "was cleared)",
                  rc);
}

int evtpm_sign(evtpm *t, const uint8_t digest[32], uint8_t **der, size_t *len, lisec_err *err) {
  *der = NULL;
  if (t->key == ESYS_TR_NONE) return lisec_err_set(err, LISEC_EINVAL, "TPM: no key loaded");
  TPM2B_DIGEST d = {.size = 32};
  memcpy(d.buffer, digest, 32);
  TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_ECDSA};
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
  TPMT_SIGNATURE *sig = NULL;
  TSS2_RC rc = Esys_Sign(t->esys, t->key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &ticket, &sig);
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, LISEC_EIO, "sign with the event key", rc);
  int r = evtpm_sig_der(sig, der, len, err);
  Esys_Free(sig);
  return r;
}

void evtpm_close(evtpm *t) {
  if (!t) return;
  if (t->esys) {
    if (t->key != ESYS_TR_NONE) Esys_FlushContext(t->esys, t->key);
    if (t->srk != ESYS_TR_NONE) Esys_FlushContext(t->esys, t->srk);
    Esys_Finalize(&t->esys);
  }
  if (t->tcti) Tss2_TctiLdr_Finalize(&t->tcti);
  free(t);
}
