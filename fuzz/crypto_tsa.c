/* Fuzzes the RFC 3161 parsers (crypto/tsa.c) with whatever a TSA's answer
 * or a stored timestamp document could hold: a DER TimeStampResp checked
 * against a fixed digest and nonce, and a DER TimeStampToken parsed and
 * verified. Parsing must stay within bounds and leak nothing; a token that
 * parses must report a SHA-256 imprint and NUL-terminated fields. The CA
 * given holds no certificate, so nothing can verify: every input must be
 * refused, and a success is a bug. Seeds in fuzz/corpus/crypto_tsa/ are a
 * real response and token from `openssl ts -reply`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/tsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t digest[CRYPTO_TSA_DIGEST_LEN] = {1, 2, 3};
  static const uint8_t nonce[CRYPTO_TSA_NONCE_LEN] = {9, 8, 7};
  static const char ca[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  lisec_err err = {0};
  crypto_tsa_info info;
  uint8_t imprint[CRYPTO_TSA_DIGEST_LEN], *token = NULL;
  size_t token_len = 0;
  if (crypto_tsa_token_parse(data, size, &info, imprint, &err) == 0) {
    if (memchr(info.gen_time, 0, sizeof info.gen_time) == NULL || memchr(info.serial, 0, sizeof info.serial) == NULL ||
        memchr(info.policy, 0, sizeof info.policy) == NULL || memchr(info.signer, 0, sizeof info.signer) == NULL)
      abort();
  }
  if (crypto_tsa_token_verify(data, size, digest, ca, sizeof ca - 1, &info, &err) == 0) abort();
  if (crypto_tsa_response_check(data, size, 0, digest, nonce, ca, sizeof ca - 1, &token, &token_len, &info, &err) == 0)
    abort();
  free(token);
  return 0;
}
