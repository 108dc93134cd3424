/* RFC 3161 time-stamp tokens for the audit log's checkpoints (TR 103 308
 * §4.2 trustworthy timestamps, §5.5): building a request over a SHA-256
 * digest with a nonce and certReq, checking a TSA's response to it, and
 * verifying a stored token later (the auditor's view) against the TSA's CA.
 * Pure: bytes in, verdicts out; the HTTP exchange and the files are the
 * caller's. OpenSSL's TS API does the ASN.1 and the CMS signature. */
#ifndef LISEC_CRYPTO_TSA_H
#define LISEC_CRYPTO_TSA_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CRYPTO_TSA_DIGEST_LEN 32
#define CRYPTO_TSA_NONCE_LEN 16
/* The largest token or response any of these functions parses, whatever
 * the caller's own (smaller, configurable) bound. */
#define CRYPTO_TSA_MAX (256 * 1024)

/* What a verified token says. */
typedef struct crypto_tsa_info {
  int64_t gen_time_s;  /* genTime, seconds since the epoch (UTC) */
  char gen_time[32];   /* the same as "YYYY-MM-DDTHH:MM:SSZ" (fractions dropped) */
  char serial[96];     /* the token's serial number, hex */
  char policy[96];     /* the TSA policy OID */
  char signer[256];    /* the signing certificate's subject, one line */
} crypto_tsa_info;

/* A DER TimeStampReq: version 1, messageImprint SHA-256 over digest, the
 * nonce (CRYPTO_TSA_NONCE_LEN bytes, the caller's fresh random), certReq
 * true. *der malloc'd. */
int crypto_tsa_request(const uint8_t digest[CRYPTO_TSA_DIGEST_LEN], const uint8_t nonce[CRYPTO_TSA_NONCE_LEN],
                       uint8_t **der, size_t *der_len, lisec_err *err);

/* Checks a DER TimeStampResp to that request: status granted, the token's
 * signature chains to a certificate of ca_pem (PEM, one or more) through a
 * signer whose certificate says extendedKeyUsage timeStamping, the imprint
 * is SHA-256 over digest, the nonce is the request's. On success *token
 * (malloc'd DER TimeStampToken, a CMS SignedData) and info. ECRYPTO when
 * any check fails, EINVAL when the bytes are not a response, ETOOBIG over
 * max (or CRYPTO_TSA_MAX). */
int crypto_tsa_response_check(const uint8_t *resp, size_t len, size_t max,
                              const uint8_t digest[CRYPTO_TSA_DIGEST_LEN],
                              const uint8_t nonce[CRYPTO_TSA_NONCE_LEN], const void *ca_pem, size_t ca_len,
                              uint8_t **token, size_t *token_len, crypto_tsa_info *info, lisec_err *err);

/* Verifies a stored DER token (what crypto_tsa_response_check returned):
 * signature to ca_pem, timeStamping signer, imprint SHA-256 over digest. */
int crypto_tsa_token_verify(const uint8_t *token, size_t len, const uint8_t digest[CRYPTO_TSA_DIGEST_LEN],
                            const void *ca_pem, size_t ca_len, crypto_tsa_info *info, lisec_err *err);

/* Parses a token without any signature check (diagnostics, the fuzzer):
 * its info and the imprint it carries (SHA-256 only). */
int crypto_tsa_token_parse(const uint8_t *token, size_t len, crypto_tsa_info *info,
                           uint8_t imprint[CRYPTO_TSA_DIGEST_LEN], lisec_err *err);

#endif
