/* Unit tests of crypto/tsa.c against a real RFC 3161 TSA: `openssl ts
 * -reply` answers the requests this module builds, with a TSA certificate
 * (extendedKeyUsage critical timeStamping) made in the test by
 * tests/integration/lib/tsa.sh. Good: the response checks, the token it
 * yields verifies again on its own (the auditor's path), genTime is now and
 * the imprint is the digest. Bad: another digest (wrong imprint), another
 * nonce, another TSA's CA both ways, a TSA that refused (status rejection),
 * truncated, oversized, altered and garbage bytes, a CA file without a
 * certificate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/tsa.h"

static char dir[64];
static uint8_t *ca, *other_ca;
static size_t ca_len, other_ca_len;

static uint8_t *slurp(const char *name, size_t *len) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  uint8_t *buf = NULL;
  lisec_err err = {0};
  if (lisec_file_read(path, 1 << 20, &buf, len, &err) != 0) return NULL;
  return buf;
}

static int spit(const char *name, const uint8_t *data, size_t len) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = fwrite(data, 1, len, f);
  fclose(f);
  return n == len ? 0 : -1;
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/lisec-test-tsa-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "bash -c '. %s/tests/integration/lib/tsa.sh && make_tsa %s'", LISEC_SOURCE_DIR, dir);
  if (system(cmd) != 0) return -1;
  ca = slurp("ca.pem", &ca_len);
  other_ca = slurp("other-ca.pem", &other_ca_len);
  return ca && other_ca ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  free(ca);
  free(other_ca);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

/* Asks the TSA of cnf ("tsa" or "other") for a time-stamp over digest with
 * nonce; *resp malloc'd. */
static void ask(const char *cnf, const uint8_t digest[32], const uint8_t nonce[16], uint8_t **resp, size_t *len) {
  uint8_t *req = NULL;
  size_t req_len = 0;
  lisec_err err = {0};
  assert_int_equal(crypto_tsa_request(digest, nonce, &req, &req_len, &err), 0);
  assert_int_equal(spit("req.der", req, req_len), 0);
  free(req);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "openssl ts -reply -config %s/%s.cnf -queryfile %s/req.der -out %s/resp.der 2>/dev/null",
           dir, cnf, dir, dir);
  assert_int_equal(system(cmd), 0);
  *resp = slurp("resp.der", len);
  assert_non_null(*resp);
}

static void digest_of(const char *text, uint8_t d[32]) { crypto_sha256(text, strlen(text), d); }

static void test_good_token(void **state) {
  (void)state;
  uint8_t d[32], nonce[16], *resp = NULL, *tok = NULL;
  size_t len = 0, tok_len = 0;
  digest_of("lisec/audit\n12\nroot\n", d);
  memset(nonce, 0xa5, sizeof nonce);
  ask("tsa", d, nonce, &resp, &len);
  crypto_tsa_info info;
  lisec_err err = {0};
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err), 0);
  int64_t now = (int64_t)time(NULL);
  assert_true(info.gen_time_s > now - 600 && info.gen_time_s < now + 600);
  assert_int_equal(strlen(info.gen_time), 20);
  assert_string_equal(info.policy, "1.3.6.1.4.1.99999.1");
  assert_non_null(strstr(info.signer, "lisec test tsa"));
  assert_true(info.serial[0] != '\0');
  /* the stored token alone, as an auditor verifies it later */
  crypto_tsa_info again;
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len, d, ca, ca_len, &again, &err), 0);
  assert_int_equal(again.gen_time_s, info.gen_time_s);
  uint8_t imp[32];
  assert_int_equal(crypto_tsa_token_parse(tok, tok_len, &again, imp, &err), 0);
  assert_memory_equal(imp, d, 32);
  free(resp);
  free(tok);
}

static void test_wrong_imprint(void **state) {
  (void)state;
  uint8_t d[32], other[32], nonce[16], *resp = NULL, *tok = NULL;
  size_t len = 0, tok_len = 0;
  digest_of("checkpoint A", d);
  digest_of("checkpoint B", other);
  memset(nonce, 0x11, sizeof nonce);
  ask("tsa", d, nonce, &resp, &len);
  lisec_err err = {0};
  crypto_tsa_info info;
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, other, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "imprint"));
  assert_non_null(strstr(err.msg, "TR103308-4.2"));
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err), 0);
  /* a token moved to another checkpoint */
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len, other, ca, ca_len, &info, &err), LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "imprint"));
  free(resp);
  free(tok);
}

static void test_wrong_nonce(void **state) {
  (void)state;
  uint8_t d[32], nonce[16], other[16], *resp = NULL, *tok = NULL;
  size_t len = 0, tok_len = 0;
  digest_of("checkpoint", d);
  memset(nonce, 0x22, sizeof nonce);
  memset(other, 0x23, sizeof other);
  ask("tsa", d, nonce, &resp, &len);
  lisec_err err = {0};
  crypto_tsa_info info;
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, other, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "nonce"));
  assert_null(tok);
  free(resp);
}

static void test_wrong_ca(void **state) {
  (void)state;
  uint8_t d[32], nonce[16], *resp = NULL, *tok = NULL;
  size_t len = 0, tok_len = 0;
  digest_of("checkpoint", d);
  memset(nonce, 0x33, sizeof nonce);
  lisec_err err = {0};
  crypto_tsa_info info;
  /* another TSA's answer, checked against our CA */
  ask("other", d, nonce, &resp, &len);
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "signature"));
  free(resp);
  /* our TSA's token, checked against the other CA */
  ask("tsa", d, nonce, &resp, &len);
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err), 0);
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len, d, other_ca, other_ca_len, &info, &err), LISEC_ECRYPTO);
  /* a CA file without a certificate */
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len, d, "junk\n", 5, &info, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "CA"));
  free(resp);
  free(tok);
}

static void test_refused(void **state) {
  (void)state;
  /* The TSA takes SHA-256 only: a SHA-1 request is answered "rejection". */
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "cd %s && printf x >data && openssl ts -query -data data -sha1 -cert -out req1.der 2>/dev/null && "
           "openssl ts -reply -config tsa.cnf -queryfile req1.der -out resp1.der 2>/dev/null",
           dir);
  assert_int_equal(system(cmd), 0);
  size_t len = 0, tok_len = 0;
  uint8_t *resp = slurp("resp1.der", &len), d[32] = {0}, nonce[16] = {0}, *tok = NULL;
  assert_non_null(resp);
  lisec_err err = {0};
  crypto_tsa_info info;
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "refused"));
  free(resp);
}

static void test_malformed(void **state) {
  (void)state;
  uint8_t d[32], nonce[16], *resp = NULL, *tok = NULL;
  size_t len = 0, tok_len = 0;
  digest_of("checkpoint", d);
  memset(nonce, 0x44, sizeof nonce);
  ask("tsa", d, nonce, &resp, &len);
  lisec_err err = {0};
  crypto_tsa_info info;
  /* truncated, by one byte and by half */
  assert_int_equal(crypto_tsa_response_check(resp, len - 1, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_EINVAL);
  assert_int_equal(crypto_tsa_response_check(resp, len / 2, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_EINVAL);
  /* over the caller's bound and over the module's */
  assert_int_equal(crypto_tsa_response_check(resp, len, len - 1, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_ETOOBIG);
  assert_int_equal(
      crypto_tsa_response_check(resp, CRYPTO_TSA_MAX + 1, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
      LISEC_ETOOBIG);
  /* garbage and nothing */
  uint8_t junk[512];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 5);
  assert_int_equal(crypto_tsa_response_check(junk, sizeof junk, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_EINVAL);
  assert_int_equal(crypto_tsa_response_check(junk, 0, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err),
                   LISEC_EINVAL);
  assert_int_equal(crypto_tsa_token_verify(junk, sizeof junk, d, ca, ca_len, &info, &err), LISEC_EINVAL);
  uint8_t imp[32];
  assert_int_equal(crypto_tsa_token_parse(junk, sizeof junk, &info, imp, &err), LISEC_EINVAL);
  /* the good token, then truncated, with a byte after it, and altered */
  assert_int_equal(crypto_tsa_response_check(resp, len, 0, d, nonce, ca, ca_len, &tok, &tok_len, &info, &err), 0);
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len - 1, d, ca, ca_len, &info, &err), LISEC_EINVAL);
  uint8_t *longer = malloc(tok_len + 1);
  assert_non_null(longer);
  memcpy(longer, tok, tok_len);
  longer[tok_len] = 0;
  assert_int_equal(crypto_tsa_token_verify(longer, tok_len + 1, d, ca, ca_len, &info, &err), LISEC_EINVAL);
  free(longer);
  /* every byte of the signature value (the token's last bytes) matters */
  for (size_t k = 1; k <= 8; k++) {
    tok[tok_len - k] ^= 0x01;
    assert_int_not_equal(crypto_tsa_token_verify(tok, tok_len, d, ca, ca_len, &info, &err), 0);
    tok[tok_len - k] ^= 0x01;
  }
  assert_int_equal(crypto_tsa_token_verify(tok, tok_len, d, ca, ca_len, &info, &err), 0);
  free(resp);
  free(tok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_token), cmocka_unit_test(test_wrong_imprint), cmocka_unit_test(test_wrong_nonce),
      cmocka_unit_test(test_wrong_ca),   cmocka_unit_test(test_refused),       cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
