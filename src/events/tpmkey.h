/* The VM's event key in its (v)TPM (issue 20 item 3: "in its vTPM when it
 * has one (tpm2-tss)"), private to liblisec-events. Two halves:
 *
 * - tpmblob.c, pure: the key file. It holds what TPM2_Create returned, the
 *   key's public area and its private area wrapped by the TPM's storage
 *   root key (so it only loads into the TPM that made it, under the same
 *   owner seed), never a private key in the clear:
 *       "LSEVTPM1" | TPM2B_PUBLIC | TPM2B_PRIVATE     (TPM marshalling)
 *   bounded (EVTPM_BLOB_MAX), consumed exactly, and the public area must
 *   be the key lisec-event makes: ECC NIST P-256, ECDSA with SHA-256,
 *   a signing key that is not restricted, fixedTPM and fixedParent (the
 *   TPM refuses to duplicate it), generated inside the TPM. Also the
 *   conversions the signer needs: the public area to an OpenSSL key (its
 *   PEM is what POST /v1/li/vms registers) and a TPMT_SIGNATURE (r, s) to
 *   the DER ECDSA-Sig-Value the software signer makes, so lisecd verifies
 *   both alike.
 * - libtpm.c, the TPM itself through tpm2-tss ESAPI and a TCTI chosen at
 *   run time: the TCG storage root key (ECC P-256 template of the TCG
 *   Provisioning Guidance, re-created with TPM2_CreatePrimary, it is the
 *   same each time), TPM2_Create/TPM2_Load of the signing key, TPM2_Sign
 *   of a SHA-256 digest.
 *
 * docs/events.md "The key in the vTPM" says what this protects against. */
#ifndef LISEC_EVENTS_TPMKEY_H
#define LISEC_EVENTS_TPMKEY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "base/base.h"

#define EVTPM_MAGIC "LSEVTPM1"
#define EVTPM_MAGIC_LEN 8
/* the magic and both areas at their largest */
#define EVTPM_BLOB_MAX (EVTPM_MAGIC_LEN + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE))
#define EVTPM_TCTI_DEFAULT "device:/dev/tpmrm0"

/* ---- the key file (tpmblob.c) ------------------------------------------- */

/* *out malloc'd. */
int evtpm_blob_encode(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, uint8_t **out, size_t *len,
                      lisec_err *err);
/* EINVAL naming what is wrong (not a key file, truncated, trailing bytes,
 * not the key lisec-event makes), ETOOBIG over EVTPM_BLOB_MAX. */
int evtpm_blob_decode(const uint8_t *data, size_t len, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv,
                      lisec_err *err);
/* 0 when pub is the key lisec-event makes (above), EINVAL naming the
 * property it lacks. */
int evtpm_public_check(const TPM2B_PUBLIC *pub, lisec_err *err);
/* The public key as OpenSSL's (P-256). */
int evtpm_public_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **out, lisec_err *err);
/* An ECDSA/SHA-256 TPMT_SIGNATURE as DER ECDSA-Sig-Value (*der malloc'd). */
int evtpm_sig_der(const TPMT_SIGNATURE *sig, uint8_t **der, size_t *len, lisec_err *err);

/* ---- the TPM (libtpm.c) ------------------------------------------------- */

typedef struct evtpm evtpm;

/* Opens the TPM through tcti (NULL: EVTPM_TCTI_DEFAULT) and makes the
 * storage root key. */
int evtpm_open(const char *tcti, evtpm **out, lisec_err *err);
/* Creates a signing key under the storage root key and loads it. */
int evtpm_create(evtpm *t, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, lisec_err *err);
/* Loads a key made by evtpm_create in this TPM; EDENIED when the TPM
 * refuses the blob (another TPM, or its storage hierarchy changed). */
int evtpm_load(evtpm *t, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, lisec_err *err);
/* Signs a SHA-256 digest with the loaded key: DER ECDSA-Sig-Value. */
int evtpm_sign(evtpm *t, const uint8_t digest[32], uint8_t **der, size_t *len, lisec_err *err);
/* Flushes the key and the storage root key and closes the TPM. */
void evtpm_close(evtpm *t);

#endif
