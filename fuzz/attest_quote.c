/* Fuzzes what a host sends with a quote (attest/quote.c, sig.c, keys.c,
 * credential.c): TPMS_ATTEST, tpm2_quote's PCR values file, TPMT_SIGNATURE,
 * TPM2B_PUBLIC (as an AK, and as the EK of the AK's qualified name) and the
 * credential file, each parsed from the same bytes, and
 * a whole appraisal with the input cut into quote, signature and PCR values.
 * Everything must stay within bounds; what parses must be self-consistent
 * (a PCR values file written back parses to the same values). The AK is
 * the fixture AK of tests/data/attest (public key only). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

static const uint8_t fixture_ak[] = {
    0x00, 0x58, 0x00, 0x23, 0x00, 0x0b, 0x00, 0x05, 0x00, 0x72, 0x00, 0x00,
    0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10, 0x00, 0x20,
    0xef, 0xbf, 0x09, 0x34, 0x0a, 0x71, 0x07, 0xbf, 0x88, 0x37, 0xc6, 0x34,
    0x3f, 0x92, 0x20, 0x71, 0x43, 0x8e, 0xcf, 0x80, 0x80, 0x86, 0x40, 0x84,
    0x3e, 0xd9, 0xdf, 0x0d, 0x9c, 0x5b, 0x93, 0xa9, 0x00, 0x20, 0x20, 0xec,
    0x9d, 0x0f, 0x95, 0xa9, 0xbc, 0x87, 0x30, 0x9a, 0xab, 0xe1, 0x8a, 0x33,
    0xb2, 0x3a, 0x5a, 0xc3, 0x41, 0x7d, 0xd8, 0xd6, 0x10, 0x98, 0x5e, 0x4e,
    0xd5, 0xf9, 0xad, 0x6a, 0xa6, 0xdb,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static attest_ak *ak;
  lisec_err err = {0};
  if (!ak && attest_ak_from_tpm_public(fixture_ak, sizeof fixture_ak, &ak, &err) != 0) abort();

  attest_quote q;
  if (attest_quote_parse(data, size, &q, &err) == 0) {
    if (q.extra_len > ATTEST_NONCE_MAX || (q.pcr_mask & ~0xffffffu)) abort();
  }
  attest_pcrs p, again;
  if (attest_pcrs_parse(data, size, 0, &p, &err) == 0) {
    lisec_buf b;
    lisec_buf_init(&b, 1 << 16);
    if (attest_pcrs_write(&p, &b, &err) != 0 || attest_pcrs_parse(b.data, b.len, p.mask, &again, &err) != 0 ||
        memcmp(&p, &again, sizeof p) != 0)
      abort();
    lisec_buf_free(&b);
  }
  attest_pcrs_parse(data, size, 0x81ff, &p, &err);
  attest_signature_verify(ak, (const uint8_t *)"m", 1, data, size, &err);
  attest_ak *other = NULL;
  if (attest_ak_from_tpm_public(data, size, &other, &err) == 0) {
    size_t n = 0;
    attest_ak_name(other, &n);
    if (n < 3) abort();
    attest_ak_free(other);
  }
  char host[ATTEST_HOST_ID_LEN + 1];
  attest_host_id(data, size, host, &err);
  /* the same bytes as the EK whose child the fixture AK would be */
  uint8_t qn[ATTEST_NAME_MAX];
  size_t qn_len = 0;
  if (attest_ak_qualified_name(data, size, ak, qn, &qn_len, &err) == 0 &&
      (qn_len < 3 || qn_len > ATTEST_NAME_MAX))
    abort();
  const uint8_t *id, *enc;
  size_t id_len, enc_len;
  if (attest_credential_split(data, size, &id, &id_len, &enc, &enc_len, &err) == 0) {
    if (id < data || enc + enc_len > data + size) abort();
  }

  /* A whole appraisal: two length bytes each for quote and signature. */
  if (size > 4) {
    size_t a = (size_t)data[0] << 8 | data[1], s = (size_t)data[2] << 8 | data[3];
    const uint8_t *rest = data + 4;
    size_t left = size - 4;
    if (a > left) a = left;
    if (s > left - a) s = left - a;
    static const uint8_t nonce[32] = {1};
    attest_context ctx = {.ak = ak, .nonce = nonce, .nonce_len = sizeof nonce, .quote_only = true};
    attest_evidence ev = {rest, a, rest + a, s, rest + a + s, left - a - s, NULL, 0, NULL, 0};
    attest_verdict *v = malloc(sizeof *v);
    if (attest_verify(&ctx, &ev, v, &err) != 0) abort();
    if (v->ok && (!v->signature_ok || !v->nonce_ok || !v->pcr_digest_ok)) abort();
    json_decref(attest_verdict_json(v));
    json_decref(attest_ear(v, NULL, nonce, sizeof nonce, 0));
    free(v);
  }
  return 0;
}
