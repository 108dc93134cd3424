/* Helpers shared by the files of attest/ and by nothing else: the SHA-256
 * algorithm fetched once, hex for reasons, reason collection into a
 * verdict, and the TPM2B_PUBLIC to EVP_PKEY conversion that both the AK
 * and the EK need. */
#ifndef LISEC_ATTEST_INTERNAL_H
#define LISEC_ATTEST_INTERNAL_H

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "attest/attest.h"

/* EVP_MD for a TPM hash algorithm (SHA-256/384/512), fetched once and kept
 * for the life of the process; NULL for any other algorithm. */
const EVP_MD *attest_md(TPM2_ALG_ID alg);
/* SHA-256 with the cached algorithm (hot path of replay and verification). */
int attest_sha256(const void *data, size_t len, uint8_t out[ATTEST_DIGEST_LEN]);
/* SHA-256(a || b) for PCR extension: out may alias a. */
int attest_extend(uint8_t pcr[ATTEST_DIGEST_LEN], const uint8_t digest[ATTEST_DIGEST_LEN]);

/* Prefixes err's reason with context and returns rc (never 0 for a
 * failure, whatever err holds). */
#define ATTEST_WRAP(rc, err, ...) (lisec_err_wrap((err), __VA_ARGS__), (rc))

/* Adds a reason to the verdict (kept to ATTEST_REASONS_MAX, the rest
 * counted) and clears ok. */
void attest_reason(attest_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void attest_warning(attest_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* First 8 bytes as 16 hex digits followed by "..": enough to find a digest
 * in a policy file without flooding a reason. */
void attest_hex_short(const uint8_t *d, size_t n, char out[20]);

/* Unmarshals a TPM2B_PUBLIC (exactly len bytes). */
int attest_tpm_public_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *out, lisec_err *err);
/* The OpenSSL key of an RSA or ECC (P-256/P-384) TPMT_PUBLIC. */
int attest_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out, lisec_err *err);
/* The TPM Name: nameAlg (big-endian) || H_nameAlg(marshalled TPMT_PUBLIC). */
int attest_tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *out, size_t *out_len,
                           lisec_err *err);
/* The AK's OpenSSL key and whether it is RSA (for sig.c). */
EVP_PKEY *attest_ak_pkey(const attest_ak *ak, bool *rsa);
/* The AK's ready ECDSA verification context if no other thread holds it
 * (then release it after use), else NULL. */
EVP_PKEY_CTX *attest_ak_verify_ctx(const attest_ak *ak);
void attest_ak_verify_ctx_release(const attest_ak *ak);
/* Looks an event up in the reference values: 1 accepted (any set when the
 * entry accepts every digest), 0 digest not listed, -1 the (PCR, type) is
 * not described at all. */
int attest_policy_lookup(const attest_policy *p, uint32_t pcr, uint32_t type,
                         const uint8_t digest[ATTEST_DIGEST_LEN], bool *any);

#endif
