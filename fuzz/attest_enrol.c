/* Fuzzes what lisec-agent posts to enrol (POST /v1/attest/enrol): the EK
 * as TPM2B_PUBLIC, its DER certificate from the TPM manufacturer, and the
 * AK's name, which lisecd reads through attest_ek_cert_check and
 * attest_credential_make (attest/keys.c, attest/credential.c); the AK
 * itself is fuzzed in attest_quote. The input is EK length (2 bytes, big
 * endian), EK, certificate length (2), certificate, then the AK name. The
 * CA is a test CA made at start (test_ca.h) whose key signed nothing, so
 * the one certificate that can pass the check is the CA's own (with its
 * key posing as the EK);
 * every refusal says why; a credential that is made splits into its two
 * halves inside itself. */
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "test_ca.h"

#define AT 1798761600 /* 2027-01-01T00:00:00Z */

static test_ca manufacturer; /* the TPM manufacturer's CA */

/* The next field with a 2-byte length, or NULL when the input is short. */
static const uint8_t *field(const uint8_t **p, size_t *left, size_t *n) {
  if (*left < 2) return NULL;
  *n = (size_t)(*p)[0] << 8 | (*p)[1];
  if (*n > *left - 2) *n = *left - 2;
  const uint8_t *f = *p + 2;
  *p += 2 + *n;
  *left -= 2 + *n;
  return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!manufacturer.pem) test_ca_make(&manufacturer, "lisec fuzz TPM manufacturer");
  const uint8_t *p = data, *ek, *cert;
  size_t left = size, ek_len = 0, cert_len = 0;
  if (!(ek = field(&p, &left, &ek_len)) || !(cert = field(&p, &left, &cert_len))) return 0;
  lisec_err err = {0};
  char host[ATTEST_HOST_ID_LEN + 1];
  if (attest_host_id(ek, ek_len, host, &err) == 0 && strlen(host) != ATTEST_HOST_ID_LEN) abort();
  if (attest_ek_cert_check(ek, ek_len, cert, cert_len, (const uint8_t *)manufacturer.pem, strlen(manufacturer.pem), AT,
                          &err) == 0) {
    if (cert_len != (size_t)manufacturer.der_len || memcmp(cert, manufacturer.der, cert_len) != 0) abort();
  } else if (!err.msg[0]) {
    abort(); /* every refusal says why */
  }
  static const uint8_t secret[32] = {0x5e, 0xc7, 0xe7};
  lisec_buf cred;
  lisec_buf_init(&cred, 1 << 16);
  if (attest_credential_make(ek, ek_len, p, left, secret, sizeof secret, &cred, &err) == 0) {
    const uint8_t *id, *enc;
    size_t id_len, enc_len;
    if (attest_credential_split(cred.data, cred.len, &id, &id_len, &enc, &enc_len, &err) != 0 ||
        id < cred.data || id + id_len > cred.data + cred.len || enc < cred.data ||
        enc + enc_len > cred.data + cred.len)
      abort();
  }
  lisec_buf_free(&cred);
  return 0;
}
