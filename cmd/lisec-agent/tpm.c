/* The agent's TPM, through tpm2-tss's ESAPI and a TCTI chosen at run time:
 * the EK from the TCG EK Credential Profile templates, an AK created under
 * it, TPM2_ActivateCredential and TPM2_Quote. The EK's use is authorised by
 * PolicySecret(TPM_RH_ENDORSEMENT), which is what its template's policy
 * demands; every session and transient object is flushed, because a TPM
 * without a resource manager (swtpm, or /dev/tpm0) keeps them otherwise. An
 * agent killed between its load and its flush leaves them there all the
 * same, and three such leftovers fill swtpm's object slots ("out of memory
 * for object contexts"): so opening the TPM first flushes what no live
 * client holds. Behind a resource manager the TPM lists only this
 * connection's handles, none at open; without one, the chip serves one
 * connection at a time and the agent is its only user, so whatever is
 * loaded when the agent connects belongs to a client that is gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "agent.h"
#include "crypto/crypto.h"

struct agent_tpm {
  TSS2_TCTI_CONTEXT *tcti;
  ESYS_CONTEXT *esys;
  ESYS_TR ek, ak;
  bool ek_transient;
};

static int tss_fail(lisec_err *err, const char *what, TSS2_RC rc) {
  return lisec_err_set(err, LISEC_EIO, "TPM: %s: %s", what, Tss2_RC_Decode(rc));
}

/* Flushes the transient objects and loaded sessions of the handle range
 * starting at first; returns how many were flushed. */
static unsigned flush_range(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE first) {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA cap;
  unsigned n = 0;
  if (Tss2_Sys_GetCapability(sys, NULL, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more,
                             &cap, NULL) != TSS2_RC_SUCCESS)
    return 0;
  for (uint32_t i = 0; i < cap.data.handles.count; i++)
    if (Tss2_Sys_FlushContext(sys, cap.data.handles.handle[i]) == TSS2_RC_SUCCESS) n++;
  return n;
}

static void flush_stale(TSS2_TCTI_CONTEXT *tcti) {
  size_t size = Tss2_Sys_GetContextSize(0);
  TSS2_SYS_CONTEXT *sys = calloc(1, size);
  TSS2_ABI_VERSION abi = TSS2_ABI_VERSION_CURRENT;
  if (!sys) return;
  if (Tss2_Sys_Initialize(sys, size, tcti, &abi) == TSS2_RC_SUCCESS) {
    /* the handle ranges' first handles, shifted as uint32: tss2's
     * TPM2_TRANSIENT_FIRST shifts 0x80 as an int (undefined; UBSan stops) */
    unsigned n = flush_range(sys, (TPM2_HANDLE)TPM2_HT_TRANSIENT << TPM2_HR_SHIFT) +
                 flush_range(sys, (TPM2_HANDLE)TPM2_HT_LOADED_SESSION << TPM2_HR_SHIFT);
    if (n)
      fprintf(stderr, "lisec-agent: flushed %u object(s) or session(s) an earlier client left loaded in the TPM\n", n);
    Tss2_Sys_Finalize(sys);
  }
  free(sys);
}

int agent_tpm_open(const char *tcti, agent_tpm **out, lisec_err *err) {
  agent_tpm *t = calloc(1, sizeof *t);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  t->ek = t->ak = ESYS_TR_NONE;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
  if (rc != TSS2_RC_SUCCESS) {
    free(t);
    return lisec_err_set(err, LISEC_EUNAVAIL, "TPM: cannot open TCTI \"%s\": %s",
                         tcti ? tcti : "(default)", Tss2_RC_Decode(rc));
  }
  flush_stale(t->tcti);
  rc = Esys_Initialize(&t->esys, t->tcti, NULL);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&t->tcti);
    free(t);
    return tss_fail(err, "Esys_Initialize", rc);
  }
  *out = t;
  return 0;
}

void agent_tpm_close(agent_tpm *t) {
  if (!t) return;
  if (t->ak != ESYS_TR_NONE) Esys_FlushContext(t->esys, t->ak);
  if (t->ek != ESYS_TR_NONE) {
    if (t->ek_transient) Esys_FlushContext(t->esys, t->ek);
    else Esys_TR_Close(t->esys, &t->ek);
  }
  Esys_Finalize(&t->esys);
  Tss2_TctiLdr_Finalize(&t->tcti);
  free(t);
}

/* PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef: the authPolicy
 * of the TCG default EK templates (EK Credential Profile, B.3.2). */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

static void ek_template(agent_key_type type, TPM2B_PUBLIC *p) {
  memset(p, 0, sizeof *p);
  TPMT_PUBLIC *a = &p->publicArea;
  a->nameAlg = TPM2_ALG_SHA256;
  a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                        TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  a->authPolicy.size = sizeof ek_policy;
  memcpy(a->authPolicy.buffer, ek_policy, sizeof ek_policy);
  if (type == AGENT_KEY_RSA) {
    a->type = TPM2_ALG_RSA;
    a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    a->parameters.rsaDetail.symmetric.keyBits.aes = 128;
    a->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    a->parameters.rsaDetail.keyBits = 2048;
    a->unique.rsa.size = 256; /* zeros */
  } else {
    a->type = TPM2_ALG_ECC;
    a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    a->parameters.eccDetail.symmetric.keyBits.aes = 128;
    a->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    a->unique.ecc.x.size = 32;
    a->unique.ecc.y.size = 32;
  }
}

static int marshal_public(const TPM2B_PUBLIC *p, lisec_buf *out, lisec_err *err) {
  uint8_t b[sizeof(TPM2B_PUBLIC)];
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(p, b, sizeof b, &off);
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "marshal TPM2B_PUBLIC", rc);
  return lisec_buf_append(out, b, off) ? lisec_err_set(err, LISEC_ETOOBIG, "buffer full") : 0;
}

int agent_tpm_ek(agent_tpm *t, agent_key_type type, uint32_t ek_handle, lisec_buf *pub,
                 lisec_err *err) {
  TPM2B_PUBLIC *out = NULL;
  TSS2_RC rc;
  if (ek_handle) {
    rc = Esys_TR_FromTPMPublic(t->esys, ek_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               &t->ek);
    if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "no EK at the configured handle", rc);
    rc = Esys_ReadPublic(t->esys, t->ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out, NULL,
                         NULL);
  } else {
    TPM2B_PUBLIC tmpl;
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION creation = {0};
    ek_template(type, &tmpl);
    rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, &sens, &tmpl, &outside, &creation, &t->ek, &out, NULL,
                            NULL, NULL);
    t->ek_transient = rc == TSS2_RC_SUCCESS;
  }
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "EK", rc);
  int r = marshal_public(out, pub, err);
  Esys_Free(out);
  return r;
}

int agent_tpm_ek_cert(agent_tpm *t, agent_key_type type, lisec_buf *der, bool *found,
                      lisec_err *err) {
  TPM2_HANDLE index = type == AGENT_KEY_RSA ? 0x01c00002 : 0x01c0000a;
  ESYS_TR nv = ESYS_TR_NONE;
  TPM2B_NV_PUBLIC *nvp = NULL;
  *found = false;
  if (Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) !=
      TSS2_RC_SUCCESS)
    return 0; /* no certificate provisioned */
  TSS2_RC rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvp,
                                  NULL);
  int r = 0;
  if (rc != TSS2_RC_SUCCESS) {
    r = tss_fail(err, "EK certificate NV index", rc);
    goto out;
  }
  uint16_t size = nvp->nvPublic.dataSize, off = 0;
  while (off < size) {
    uint16_t chunk = size - off > 512 ? 512 : (uint16_t)(size - off);
    TPM2B_MAX_NV_BUFFER *data = NULL;
    rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, off,
                      &data);
    if (rc != TSS2_RC_SUCCESS) {
      r = tss_fail(err, "reading the EK certificate", rc);
      goto out;
    }
    if (lisec_buf_append(der, data->buffer, data->size)) r = lisec_err_set(err, LISEC_ETOOBIG, "EK certificate too big");
    off += data->size ? data->size : chunk;
    Esys_Free(data);
    if (r) goto out;
  }
  /* The NV index may be larger than the DER it holds; the controller reads
   * one certificate and ignores what follows. */
  *found = true;
out:
  Esys_Free(nvp);
  Esys_TR_Close(t->esys, &nv);
  return r;
}

/* A policy session satisfying the EK's PolicySecret(endorsement). */
static int ek_session(agent_tpm *t, ESYS_TR *session, lisec_err *err) {
  TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
  TSS2_RC rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
                                     TPM2_ALG_SHA256, session);
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "policy session", rc);
  rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(t->esys, *session);
    *session = ESYS_TR_NONE;
    return tss_fail(err, "PolicySecret(endorsement)", rc);
  }
  return 0;
}

static void end_session(agent_tpm *t, ESYS_TR s) {
  /* A policy session used by a command with continueSession clear is gone
   * already; flushing again fails harmlessly. */
  if (s != ESYS_TR_NONE && Esys_FlushContext(t->esys, s) != TSS2_RC_SUCCESS)
    Esys_TR_Close(t->esys, &s);
}

static void ak_template(agent_key_type type, TPM2B_PUBLIC *p) {
  memset(p, 0, sizeof *p);
  TPMT_PUBLIC *a = &p->publicArea;
  a->nameAlg = TPM2_ALG_SHA256;
  a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                        TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  if (type == AGENT_KEY_RSA) {
    a->type = TPM2_ALG_RSA;
    a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    a->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    a->parameters.rsaDetail.keyBits = 2048;
  } else {
    a->type = TPM2_ALG_ECC;
    a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  }
}

int agent_tpm_ak_create(agent_tpm *t, agent_key_type type, lisec_buf *pub, lisec_buf *priv,
                        lisec_err *err) {
  if (t->ek == ESYS_TR_NONE) return lisec_err_set(err, LISEC_EINTERNAL, "TPM: no EK loaded");
  TPM2B_PUBLIC tmpl;
  TPM2B_SENSITIVE_CREATE sens = {0};
  TPM2B_DATA outside = {0};
  TPML_PCR_SELECTION creation = {0};
  TPM2B_PUBLIC *out_pub = NULL;
  TPM2B_PRIVATE *out_priv = NULL;
  ESYS_TR s = ESYS_TR_NONE;
  ak_template(type, &tmpl);
  int r = ek_session(t, &s, err);
  if (r) return r;
  TSS2_RC rc = Esys_Create(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                           &creation, &out_priv, &out_pub, NULL, NULL, NULL);
  end_session(t, s);
  if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "creating the AK", rc);
  uint8_t b[sizeof(TPM2B_PRIVATE)];
  size_t off = 0;
  r = marshal_public(out_pub, pub, err);
  if (!r && (rc = Tss2_MU_TPM2B_PRIVATE_Marshal(out_priv, b, sizeof b, &off)) != TSS2_RC_SUCCESS)
    r = tss_fail(err, "marshal TPM2B_PRIVATE", rc);
  if (!r && lisec_buf_append(priv, b, off)) r = lisec_err_set(err, LISEC_ETOOBIG, "buffer full");
  Esys_Free(out_pub);
  Esys_Free(out_priv);
  return r;
}

int agent_tpm_ak_load(agent_tpm *t, const uint8_t *pub, size_t pub_len, const uint8_t *priv,
                      size_t priv_len, lisec_err *err) {
  if (t->ek == ESYS_TR_NONE) return lisec_err_set(err, LISEC_EINTERNAL, "TPM: no EK loaded");
  TPM2B_PUBLIC p;
  TPM2B_PRIVATE k;
  size_t o1 = 0, o2 = 0;
  memset(&p, 0, sizeof p);
  memset(&k, 0, sizeof k);
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub, pub_len, &o1, &p) != TSS2_RC_SUCCESS || o1 != pub_len ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(priv, priv_len, &o2, &k) != TSS2_RC_SUCCESS ||
      o2 != priv_len)
    return lisec_err_set(err, LISEC_EINVAL, "the kept AK is not a TPM2B_PUBLIC/TPM2B_PRIVATE");
  ESYS_TR s = ESYS_TR_NONE;
  int r = ek_session(t, &s, err);
  if (r) return r;
  TSS2_RC rc = Esys_Load(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &k, &p, &t->ak);
  end_session(t, s);
  if (rc != TSS2_RC_SUCCESS) {
    t->ak = ESYS_TR_NONE;
    return tss_fail(err, "loading the AK under the EK (was it made by this TPM?)", rc);
  }
  return 0;
}

int agent_tpm_activate(agent_tpm *t, const uint8_t *cred, size_t len, uint8_t *secret,
                       size_t *secret_len, lisec_err *err) {
  const uint8_t *id, *enc;
  size_t id_len, enc_len, o1 = 0, o2 = 0;
  int r = attest_credential_split(cred, len, &id, &id_len, &enc, &enc_len, err);
  if (r) return r;
  TPM2B_ID_OBJECT blob;
  TPM2B_ENCRYPTED_SECRET sec;
  memset(&blob, 0, sizeof blob);
  memset(&sec, 0, sizeof sec);
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id, id_len, &o1, &blob) != TSS2_RC_SUCCESS ||
      o1 != id_len ||
      Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc, enc_len, &o2, &sec) != TSS2_RC_SUCCESS ||
      o2 != enc_len)
    return lisec_err_set(err, LISEC_EINVAL, "credential: malformed halves");
  ESYS_TR s = ESYS_TR_NONE;
  if ((r = ek_session(t, &s, err))) return r;
  TPM2B_DIGEST *info = NULL;
  TSS2_RC rc = Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, s, ESYS_TR_NONE,
                                       &blob, &sec, &info);
  end_session(t, s);
  if (rc != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TPM refused to activate the credential (%s): it was not made for this "
                         "TPM's EK and this AK",
                         Tss2_RC_Decode(rc));
  if (info->size > *secret_len) {
    crypto_wipe(info, sizeof *info);
    Esys_Free(info);
    return lisec_err_set(err, LISEC_ETOOBIG, "credential secret too long");
  }
  memcpy(secret, info->buffer, info->size);
  *secret_len = info->size;
  crypto_wipe(info, sizeof *info);
  Esys_Free(info);
  return 0;
}

static void selection(uint32_t mask, TPML_PCR_SELECTION *sel) {
  memset(sel, 0, sizeof *sel);
  sel->count = 1;
  sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel->pcrSelections[0].sizeofSelect = 3;
  for (unsigned i = 0; i < 3; i++) sel->pcrSelections[0].pcrSelect[i] = (uint8_t)(mask >> (8 * i));
}

static int read_pcrs(agent_tpm *t, uint32_t mask, attest_pcrs *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  uint32_t left = mask;
  /* PCR_Read answers at most 8 digests at a time, in PCR order. */
  for (int round = 0; left && round < ATTEST_PCR_COUNT; round++) {
    TPML_PCR_SELECTION sel, *got = NULL;
    TPML_DIGEST *values = NULL;
    selection(left, &sel);
    TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, &got,
                               &values);
    if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "PCR_Read", rc);
    uint32_t k = 0, gotmask = 0;
    if (got->count == 1)
      for (unsigned i = 0; i < 3; i++) gotmask |= (uint32_t)got->pcrSelections[0].pcrSelect[i] << (8 * i);
    for (unsigned pcr = 0; pcr < ATTEST_PCR_COUNT && k < values->count; pcr++) {
      if (!(gotmask & (1u << pcr))) continue;
      if (values->digests[k].size != ATTEST_DIGEST_LEN) break;
      memcpy(out->value[pcr], values->digests[k].buffer, ATTEST_DIGEST_LEN);
      out->mask |= 1u << pcr;
      k++;
    }
    Esys_Free(got);
    Esys_Free(values);
    if (!(gotmask & left)) break;
    left &= ~gotmask;
  }
  if (out->mask != mask)
    return lisec_err_set(err, LISEC_EIO, "TPM: the SHA-256 bank lacks PCRs 0x%06x",
                         mask & ~out->mask);
  return 0;
}

int agent_tpm_quote(agent_tpm *t, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
                    lisec_buf *msg, lisec_buf *sig, attest_pcrs *pcrs, lisec_err *err) {
  if (t->ak == ESYS_TR_NONE) return lisec_err_set(err, LISEC_EINTERNAL, "TPM: no AK loaded");
  if (nonce_len > sizeof(((TPM2B_DATA *)0)->buffer))
    return lisec_err_set(err, LISEC_EINVAL, "nonce too long");
  TPM2B_DATA q = {.size = (UINT16)nonce_len};
  memcpy(q.buffer, nonce, nonce_len);
  TPMT_SIG_SCHEME scheme;
  memset(&scheme, 0, sizeof scheme);
  scheme.scheme = TPM2_ALG_NULL; /* the AK's own scheme */
  TPML_PCR_SELECTION sel;
  selection(mask, &sel);
  /* A PCR extended between the quote and the read would make the values
   * disagree with the quote: quote again. */
  for (int attempt = 0; attempt < 3; attempt++) {
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *signature = NULL;
    TSS2_RC rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q,
                            &scheme, &sel, &quoted, &signature);
    if (rc != TSS2_RC_SUCCESS) return tss_fail(err, "Quote", rc);
    attest_quote parsed;
    uint8_t d[ATTEST_DIGEST_LEN] = {0};
    int r = read_pcrs(t, mask, pcrs, err);
    if (!r) r = attest_quote_parse(quoted->attestationData, quoted->size, &parsed, err);
    if (!r) r = attest_pcrs_digest(pcrs, d);
    bool same = !r && memcmp(d, parsed.pcr_digest, sizeof d) == 0;
    if (same) {
      uint8_t b[sizeof(TPMT_SIGNATURE)];
      size_t off = 0;
      msg->len = sig->len = 0;
      if (Tss2_MU_TPMT_SIGNATURE_Marshal(signature, b, sizeof b, &off) != TSS2_RC_SUCCESS ||
          lisec_buf_append(msg, quoted->attestationData, quoted->size) ||
          lisec_buf_append(sig, b, off))
        r = lisec_err_set(err, LISEC_EINTERNAL, "TPM: cannot keep the quote");
    }
    Esys_Free(quoted);
    Esys_Free(signature);
    if (r) return r;
    if (same) return 0;
  }
  return lisec_err_set(err, LISEC_EIO, "TPM: PCRs kept changing while quoting");
}

int agent_tpm_extend(agent_tpm *t, unsigned pcr, const uint8_t digest[32], lisec_err *err) {
  if (pcr >= ATTEST_PCR_COUNT) return lisec_err_set(err, LISEC_EINVAL, "no PCR %u", pcr);
  TPML_DIGEST_VALUES v = {.count = 1};
  v.digests[0].hashAlg = TPM2_ALG_SHA256;
  memcpy(v.digests[0].digest.sha256, digest, 32);
  TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &v);
  return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(err, "PCR_Extend", rc);
}

int agent_tpm_pcrs(agent_tpm *t, uint32_t mask, attest_pcrs *out, lisec_err *err) {
  return read_pcrs(t, mask, out, err);
}
