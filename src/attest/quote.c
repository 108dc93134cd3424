/* The quote and its PCR values: TPMS_ATTEST read with tpm2-tss's bounded
 * unmarshaller, and the PCR values file in the two forms tpm2_quote writes.
 * The "serialized" form is tpm2-tools' in-memory TPML_PCR_SELECTION and
 * TPML_DIGEST structures written little-endian, padding included (132 +
 * 4 + 532 per TPML_DIGEST bytes); lisec reads it field by field at fixed
 * offsets instead of casting, so the host's layout never matters. */
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "attest/internal.h"

int attest_quote_parse(const uint8_t *msg, size_t len, attest_quote *out, lisec_err *err) {
  if (!msg || len == 0) return lisec_err_set(err, LISEC_EINVAL, "quote: empty");
  if (len > ATTEST_QUOTE_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "quote: %zu bytes, more than %d", len,
                         ATTEST_QUOTE_MAX);
  TPMS_ATTEST a;
  size_t off = 0;
  memset(&a, 0, sizeof a);
  TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(msg, len, &off, &a);
  if (rc != TSS2_RC_SUCCESS)
    return lisec_err_set(err, LISEC_EINVAL, "quote: not a TPMS_ATTEST (tss2 0x%x)", rc);
  if (off != len)
    return lisec_err_set(err, LISEC_EINVAL, "quote: %zu bytes after the TPMS_ATTEST", len - off);
  memset(out, 0, sizeof *out);
  out->magic = a.magic;
  out->type = a.type;
  if (a.extraData.size > ATTEST_NONCE_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "quote: extraData of %u bytes", a.extraData.size);
  memcpy(out->extra, a.extraData.buffer, a.extraData.size);
  out->extra_len = a.extraData.size;
  if (a.qualifiedSigner.size > ATTEST_NAME_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "quote: qualifiedSigner of %u bytes",
                         a.qualifiedSigner.size);
  memcpy(out->signer, a.qualifiedSigner.name, a.qualifiedSigner.size);
  out->signer_len = a.qualifiedSigner.size;
  out->clock = a.clockInfo.clock;
  out->reset_count = a.clockInfo.resetCount;
  out->restart_count = a.clockInfo.restartCount;
  out->safe = a.clockInfo.safe != 0;
  out->firmware_version = a.firmwareVersion;
  if (a.type != TPM2_ST_ATTEST_QUOTE) return 0; /* attest_verify names it */
  const TPML_PCR_SELECTION *sel = &a.attested.quote.pcrSelect;
  if (sel->count != 1 || sel->pcrSelections[0].hash != TPM2_ALG_SHA256)
    return lisec_err_set(err, LISEC_EINVAL,
                         "quote: selects %u PCR banks; lisec appraises exactly one, SHA-256",
                         sel->count);
  const TPMS_PCR_SELECTION *s = &sel->pcrSelections[0];
  if (s->sizeofSelect > TPM2_PCR_SELECT_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "quote: PCR selection of %u bytes", s->sizeofSelect);
  for (unsigned i = 0; i < s->sizeofSelect; i++) {
    for (unsigned b = 0; b < 8; b++) {
      if (!(s->pcrSelect[i] & (1u << b))) continue;
      unsigned pcr = i * 8 + b;
      if (pcr >= ATTEST_PCR_COUNT)
        return lisec_err_set(err, LISEC_EINVAL, "quote: selects PCR %u", pcr);
      out->pcr_mask |= 1u << pcr;
    }
  }
  if (out->pcr_mask == 0) return lisec_err_set(err, LISEC_EINVAL, "quote: selects no PCR");
  if (a.attested.quote.pcrDigest.size != ATTEST_DIGEST_LEN)
    return lisec_err_set(err, LISEC_EINVAL, "quote: PCR digest of %u bytes, not SHA-256",
                         a.attested.quote.pcrDigest.size);
  memcpy(out->pcr_digest, a.attested.quote.pcrDigest.buffer, ATTEST_DIGEST_LEN);
  return 0;
}

/* Layout of tpm2-tools' serialized file (x86-64 and every ABI tpm2-tools
 * ships on: TPMS_PCR_SELECTION is 2+1+4 bytes padded to 8). */
#define SER_SEL_SIZE 8
#define SER_SELECTION_SIZE (4 + TPM2_NUM_PCR_BANKS * SER_SEL_SIZE) /* 132 */
#define SER_DIGEST_SIZE (2 + 64)                                   /* TPM2B_DIGEST */
#define SER_TPML_DIGEST_SIZE (4 + 8 * SER_DIGEST_SIZE)             /* 532 */
#define SER_TPML_MAX 16

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }

static unsigned popcount24(uint32_t m) { return (unsigned)__builtin_popcount(m & 0xffffffu); }

static int parse_serialized(const uint8_t *buf, size_t len, attest_pcrs *out, lisec_err *err) {
  uint32_t nsel = le32(buf);
  if (nsel != 1)
    return lisec_err_set(err, LISEC_EINVAL,
                         "PCR values: %u banks selected; lisec appraises exactly one, SHA-256",
                         nsel);
  const uint8_t *s = buf + 4;
  if (le16(s) != TPM2_ALG_SHA256)
    return lisec_err_set(err, LISEC_EINVAL, "PCR values: bank 0x%04x, not SHA-256", le16(s));
  unsigned size = s[2];
  if (size > 4) return lisec_err_set(err, LISEC_EINVAL, "PCR values: selection of %u bytes", size);
  uint32_t mask = 0;
  for (unsigned i = 0; i < size; i++)
    for (unsigned b = 0; b < 8; b++)
      if (s[3 + i] & (1u << b)) {
        if (i * 8 + b >= ATTEST_PCR_COUNT)
          return lisec_err_set(err, LISEC_EINVAL, "PCR values: selects PCR %u", i * 8 + b);
        mask |= 1u << (i * 8 + b);
      }
  if (!mask) return lisec_err_set(err, LISEC_EINVAL, "PCR values: no PCR selected");
  uint32_t nlists = le32(buf + SER_SELECTION_SIZE);
  if (nlists == 0 || nlists > SER_TPML_MAX ||
      len != SER_SELECTION_SIZE + 4 + (size_t)nlists * SER_TPML_DIGEST_SIZE)
    return lisec_err_set(err, LISEC_EINVAL,
                         "PCR values: %zu bytes do not hold %u digest lists", len, nlists);
  const uint8_t *lists = buf + SER_SELECTION_SIZE + 4;
  /* Every digest in the file must be used: extra ones mean the file does
   * not describe the selection it claims. */
  uint32_t total = 0;
  for (uint32_t i = 0; i < nlists; i++) {
    uint32_t c = le32(lists + (size_t)i * SER_TPML_DIGEST_SIZE);
    if (c > 8) return lisec_err_set(err, LISEC_EINVAL, "PCR values: a list of %u digests", c);
    total += c;
  }
  if (total != popcount24(mask))
    return lisec_err_set(err, LISEC_EINVAL, "PCR values: %u values for %u selected PCRs", total,
                         popcount24(mask));
  /* Walk the selected PCRs in order, taking digests list by list, as
   * tpm2_pcrread hands them out (at most 8 per list). */
  uint32_t li = 0, di = 0;
  for (unsigned pcr = 0; pcr < ATTEST_PCR_COUNT; pcr++) {
    if (!(mask & (1u << pcr))) continue;
    while (li < nlists && di >= le32(lists + (size_t)li * SER_TPML_DIGEST_SIZE)) li++, di = 0;
    if (li >= nlists)
      return lisec_err_set(err, LISEC_EINVAL, "PCR values: no value for PCR %u", pcr);
    const uint8_t *list = lists + (size_t)li * SER_TPML_DIGEST_SIZE;
    const uint8_t *d = list + 4 + (size_t)di * SER_DIGEST_SIZE;
    if (le16(d) != ATTEST_DIGEST_LEN)
      return lisec_err_set(err, LISEC_EINVAL, "PCR values: PCR %u has a %u-byte value", pcr,
                           le16(d));
    memcpy(out->value[pcr], d + 2, ATTEST_DIGEST_LEN);
    di++;
  }
  out->mask = mask;
  return 0;
}

int attest_pcrs_parse(const uint8_t *buf, size_t len, uint32_t expect_mask, attest_pcrs *out,
                      lisec_err *err) {
  if (!buf || len == 0) return lisec_err_set(err, LISEC_EINVAL, "PCR values: empty");
  if (len > ATTEST_PCRS_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "PCR values: %zu bytes, more than %d", len,
                         ATTEST_PCRS_MAX);
  memset(out, 0, sizeof *out);
  if (expect_mask & ~0xffffffu)
    return lisec_err_set(err, LISEC_EINVAL, "PCR values: mask beyond PCR 23");
  if (expect_mask && len == (size_t)popcount24(expect_mask) * ATTEST_DIGEST_LEN) {
    size_t k = 0;
    for (unsigned pcr = 0; pcr < ATTEST_PCR_COUNT; pcr++)
      if (expect_mask & (1u << pcr)) memcpy(out->value[pcr], buf + ATTEST_DIGEST_LEN * k++, 32);
    out->mask = expect_mask;
    return 0;
  }
  if (len < SER_SELECTION_SIZE + 4)
    return lisec_err_set(err, LISEC_EINVAL,
                         "PCR values: %zu bytes is neither tpm2_quote's serialized form nor "
                         "the selected values back to back",
                         len);
  int rc = parse_serialized(buf, len, out, err);
  if (rc) return rc;
  if (expect_mask && out->mask != expect_mask)
    return lisec_err_set(err, LISEC_EINVAL,
                         "PCR values: file selects PCRs 0x%06x, the quote 0x%06x", out->mask,
                         expect_mask);
  return 0;
}

int attest_pcrs_write(const attest_pcrs *pcrs, lisec_buf *out, lisec_err *err) {
  unsigned n = popcount24(pcrs->mask);
  if (n == 0 || (pcrs->mask & ~0xffffffu))
    return lisec_err_set(err, LISEC_EINVAL, "PCR values: nothing selected");
  unsigned nlists = (n + 7) / 8;
  size_t len = SER_SELECTION_SIZE + 4 + (size_t)nlists * SER_TPML_DIGEST_SIZE;
  uint8_t *b = calloc(1, len);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  put_le32(b, 1);
  put_le16(b + 4, TPM2_ALG_SHA256);
  b[6] = 3;
  for (unsigned i = 0; i < 3; i++) b[7 + i] = (uint8_t)(pcrs->mask >> (8 * i));
  put_le32(b + SER_SELECTION_SIZE, nlists);
  unsigned k = 0;
  for (unsigned pcr = 0; pcr < ATTEST_PCR_COUNT; pcr++) {
    if (!(pcrs->mask & (1u << pcr))) continue;
    uint8_t *list = b + SER_SELECTION_SIZE + 4 + (size_t)(k / 8) * SER_TPML_DIGEST_SIZE;
    put_le32(list, le32(list) + 1);
    uint8_t *d = list + 4 + (size_t)(k % 8) * SER_DIGEST_SIZE;
    put_le16(d, ATTEST_DIGEST_LEN);
    memcpy(d + 2, pcrs->value[pcr], ATTEST_DIGEST_LEN);
    k++;
  }
  int rc = lisec_buf_append(out, b, len);
  free(b);
  return rc ? lisec_err_set(err, rc, "PCR values: output buffer full") : 0;
}

int attest_pcrs_digest(const attest_pcrs *pcrs, uint8_t out[ATTEST_DIGEST_LEN]) {
  uint8_t all[ATTEST_PCR_COUNT * ATTEST_DIGEST_LEN];
  size_t n = 0;
  for (unsigned pcr = 0; pcr < ATTEST_PCR_COUNT; pcr++)
    if (pcrs->mask & (1u << pcr)) {
      memcpy(all + n, pcrs->value[pcr], ATTEST_DIGEST_LEN);
      n += ATTEST_DIGEST_LEN;
    }
  return attest_sha256(all, n, out);
}
