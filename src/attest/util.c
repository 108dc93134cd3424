/* The small shared pieces of attest/: hash algorithms fetched once (an
 * implicit fetch on every digest costs more than the digest of a PCR
 * extension), PCR extension, and how reasons and warnings accumulate in a
 * verdict. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "attest/internal.h"

static EVP_MD *md_sha256, *md_sha384, *md_sha512;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void) {
  md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
  md_sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
}

const EVP_MD *attest_md(TPM2_ALG_ID alg) {
  pthread_once(&md_once, md_fetch);
  switch (alg) {
  case TPM2_ALG_SHA256: return md_sha256;
  case TPM2_ALG_SHA384: return md_sha384;
  case TPM2_ALG_SHA512: return md_sha512;
  default: return NULL;
  }
}

int attest_sha256(const void *data, size_t len, uint8_t out[ATTEST_DIGEST_LEN]) {
  const EVP_MD *md = attest_md(TPM2_ALG_SHA256);
  unsigned int n = 0;
  if (!md || EVP_Digest(data, len, out, &n, md, NULL) != 1 || n != ATTEST_DIGEST_LEN)
    return LISEC_ECRYPTO;
  return 0;
}

int attest_extend(uint8_t pcr[ATTEST_DIGEST_LEN], const uint8_t digest[ATTEST_DIGEST_LEN]) {
  uint8_t both[2 * ATTEST_DIGEST_LEN];
  memcpy(both, pcr, ATTEST_DIGEST_LEN);
  memcpy(both + ATTEST_DIGEST_LEN, digest, ATTEST_DIGEST_LEN);
  return attest_sha256(both, sizeof both, pcr);
}

static void add(char (*list)[ATTEST_REASON_LEN], size_t max, size_t *n, size_t *more,
                const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void add(char (*list)[ATTEST_REASON_LEN], size_t max, size_t *n, size_t *more,
                const char *fmt, va_list ap) {
  if (*n < max) {
    vsnprintf(list[*n], ATTEST_REASON_LEN, fmt, ap);
    (*n)++;
  } else if (more) {
    (*more)++;
  }
}

void attest_reason(attest_verdict *v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add(v->reasons, ATTEST_REASONS_MAX, &v->nreasons, &v->more_reasons, fmt, ap);
  va_end(ap);
  v->ok = false;
}

void attest_warning(attest_verdict *v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add(v->warnings, LISEC_ARRAY_LEN(v->warnings), &v->nwarnings, NULL, fmt, ap);
  va_end(ap);
}

void attest_hex_short(const uint8_t *d, size_t n, char out[20]) {
  size_t k = n < 8 ? n : 8;
  lisec_hex_encode(d, k, out);
  if (n > 8) memcpy(out + 16, "..", 3);
}
