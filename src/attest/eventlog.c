/* The TCG crypto-agile event log (PC Client Platform Firmware Profile): a
 * TCG_PCR_EVENT header carrying the "Spec ID Event03" that declares the
 * digest algorithms and their sizes, then TCG_PCR_EVENT2 records, all
 * little-endian. Every length is checked against what is left before it is
 * used, counts are bounded before anything is allocated, and only the
 * SHA-256 bank is kept. Replay extends the SHA-256 digests into 24 PCRs
 * from their reset values. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"

#define SPEC_ID_SIGNATURE "Spec ID Event03"
#define STARTUP_LOCALITY_SIGNATURE "StartupLocality"
#define MAX_ALGS 16

typedef struct reader {
  const uint8_t *p;
  size_t left;
  size_t off; /* for reasons: where in the log */
} reader;

static bool take(reader *r, size_t n, const uint8_t **out) {
  if (n > r->left) return false;
  *out = r->p;
  r->p += n, r->left -= n, r->off += n;
  return true;
}
static bool u32(reader *r, uint32_t *v) {
  const uint8_t *b;
  if (!take(r, 4, &b)) return false;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return true;
}
static bool u16(reader *r, uint16_t *v) {
  const uint8_t *b;
  if (!take(r, 2, &b)) return false;
  *v = (uint16_t)(b[0] | b[1] << 8);
  return true;
}

typedef struct alg_size {
  uint16_t alg, size;
} alg_size;

/* Sizes the TCG registry fixes; a log that disagrees is malformed. */
static int known_size(uint16_t alg) {
  switch (alg) {
  case 0x0004: return 20; /* SHA-1 */
  case 0x000b: return 32; /* SHA-256 */
  case 0x000c: return 48; /* SHA-384 */
  case 0x000d: return 64; /* SHA-512 */
  case 0x0012: return 32; /* SM3-256 */
  default: return -1;
  }
}

static int parse_spec_id(reader *r, alg_size *algs, uint32_t *nalgs, lisec_err *err) {
  uint32_t pcr, type, size;
  const uint8_t *digest, *ev;
  if (!u32(r, &pcr) || !u32(r, &type) || !take(r, 20, &digest) || !u32(r, &size))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated header");
  if (pcr != 0 || type != ATTEST_EV_NO_ACTION)
    return lisec_err_set(err, LISEC_EINVAL,
                         "event log: first event is not the EV_NO_ACTION Spec ID event "
                         "(a SHA-1-only log is not appraised)");
  if (size > r->left || !take(r, size, &ev))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated Spec ID event");
  reader s = {ev, size, r->off - size};
  const uint8_t *sig, *misc;
  uint32_t platform_class, n;
  if (!take(&s, 16, &sig) || memcmp(sig, SPEC_ID_SIGNATURE, 16) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "event log: no \"Spec ID Event03\" signature");
  if (!u32(&s, &platform_class) || !take(&s, 4, &misc) || !u32(&s, &n))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated Spec ID event");
  if (misc[1] != 2)
    return lisec_err_set(err, LISEC_EINVAL, "event log: spec version %u.%u, not 2.x", misc[1],
                         misc[0]);
  if (n == 0 || n > MAX_ALGS)
    return lisec_err_set(err, LISEC_EINVAL, "event log: %u digest algorithms", n);
  bool sha256 = false;
  for (uint32_t i = 0; i < n; i++) {
    if (!u16(&s, &algs[i].alg) || !u16(&s, &algs[i].size))
      return lisec_err_set(err, LISEC_EINVAL, "event log: truncated algorithm list");
    int k = known_size(algs[i].alg);
    if ((k >= 0 && k != algs[i].size) || algs[i].size == 0 || algs[i].size > 64)
      return lisec_err_set(err, LISEC_EINVAL, "event log: algorithm 0x%04x with %u-byte digests",
                           algs[i].alg, algs[i].size);
    for (uint32_t j = 0; j < i; j++)
      if (algs[j].alg == algs[i].alg)
        return lisec_err_set(err, LISEC_EINVAL, "event log: algorithm 0x%04x declared twice",
                             algs[i].alg);
    if (algs[i].alg == 0x000b) sha256 = true;
  }
  const uint8_t *vsize, *vendor;
  if (!take(&s, 1, &vsize) || !take(&s, vsize[0], &vendor) || s.left != 0)
    return lisec_err_set(err, LISEC_EINVAL, "event log: Spec ID event has a wrong size");
  if (!sha256)
    return lisec_err_set(err, LISEC_EINVAL,
                         "event log: no SHA-256 bank; lisec appraises the SHA-256 bank only");
  *nalgs = n;
  return 0;
}

static int parse_event(reader *r, const alg_size *algs, uint32_t nalgs, attest_event *ev,
                       lisec_err *err) {
  size_t at = r->off;
  uint32_t count;
  if (!u32(r, &ev->pcr) || !u32(r, &ev->type) || !u32(r, &count))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated event at byte %zu", at);
  if (ev->pcr >= ATTEST_PCR_COUNT)
    return lisec_err_set(err, LISEC_EINVAL, "event log: event at byte %zu is for PCR %u", at,
                         ev->pcr);
  if (count == 0 || count > nalgs)
    return lisec_err_set(err, LISEC_EINVAL, "event log: event at byte %zu has %u digests", at,
                         count);
  bool sha256 = false;
  for (uint32_t i = 0; i < count; i++) {
    uint16_t alg;
    const uint8_t *d;
    if (!u16(r, &alg))
      return lisec_err_set(err, LISEC_EINVAL, "event log: truncated event at byte %zu", at);
    uint32_t j = 0;
    while (j < nalgs && algs[j].alg != alg) j++;
    if (j == nalgs)
      return lisec_err_set(err, LISEC_EINVAL,
                           "event log: event at byte %zu uses undeclared algorithm 0x%04x", at,
                           alg);
    if (!take(r, algs[j].size, &d))
      return lisec_err_set(err, LISEC_EINVAL, "event log: truncated event at byte %zu", at);
    if (alg == 0x000b) {
      if (sha256)
        return lisec_err_set(err, LISEC_EINVAL, "event log: two SHA-256 digests at byte %zu", at);
      memcpy(ev->digest, d, ATTEST_DIGEST_LEN);
      sha256 = true;
    }
  }
  if (!sha256)
    return lisec_err_set(err, LISEC_EINVAL, "event log: event at byte %zu has no SHA-256 digest",
                         at);
  uint32_t size;
  if (!u32(r, &size))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated event at byte %zu", at);
  if (size > ATTEST_EVENT_DATA_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "event log: event at byte %zu carries %u bytes", at,
                         size);
  if (!take(r, size, &ev->data))
    return lisec_err_set(err, LISEC_EINVAL, "event log: truncated event data at byte %zu", at);
  ev->data_len = size;
  return 0;
}

int attest_eventlog_parse(const uint8_t *buf, size_t len, attest_eventlog *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!buf || len == 0) return lisec_err_set(err, LISEC_EINVAL, "event log: empty");
  if (len > ATTEST_EVENTLOG_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "event log: %zu bytes, more than %u", len,
                         ATTEST_EVENTLOG_MAX);
  reader r = {buf, len, 0};
  alg_size algs[MAX_ALGS];
  uint32_t nalgs = 0;
  int rc = parse_spec_id(&r, algs, &nalgs, err);
  if (rc) return rc;
  size_t cap = 0;
  while (r.left > 0) {
    if (out->count == ATTEST_EVENTS_MAX) {
      rc = lisec_err_set(err, LISEC_ETOOBIG, "event log: more than %d events", ATTEST_EVENTS_MAX);
      goto fail;
    }
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      if (ncap > ATTEST_EVENTS_MAX) ncap = ATTEST_EVENTS_MAX;
      attest_event *n = realloc(out->events, ncap * sizeof *n);
      if (!n) {
        rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
        goto fail;
      }
      out->events = n, cap = ncap;
    }
    attest_event *ev = &out->events[out->count];
    memset(ev, 0, sizeof *ev);
    rc = parse_event(&r, algs, nalgs, ev, err);
    if (rc) goto fail;
    out->count++;
    /* The locality the platform started from sets PCR 0's reset value. */
    if (ev->type == ATTEST_EV_NO_ACTION && ev->pcr == 0 && ev->data_len == 17 &&
        memcmp(ev->data, STARTUP_LOCALITY_SIGNATURE, 16) == 0)
      out->startup_locality = ev->data[16];
  }
  return 0;
fail:
  attest_eventlog_free(out);
  return rc;
}

void attest_eventlog_free(attest_eventlog *log) {
  if (!log) return;
  free(log->events);
  memset(log, 0, sizeof *log);
}

void attest_eventlog_replay(const attest_eventlog *log, attest_pcrs *out) {
  memset(out, 0, sizeof *out);
  out->mask = 0xffffff;
  /* PCRs 17-22 (dynamic root of trust) reset to all ones. */
  for (unsigned i = 17; i <= 22; i++) memset(out->value[i], 0xff, ATTEST_DIGEST_LEN);
  out->value[0][ATTEST_DIGEST_LEN - 1] = log->startup_locality;
  const EVP_MD *md = attest_md(TPM2_ALG_SHA256);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool failed = !md || !ctx;
  for (size_t i = 0; i < log->count && !failed; i++) {
    const attest_event *ev = &log->events[i];
    if (ev->type == ATTEST_EV_NO_ACTION) continue;
    uint8_t *pcr = out->value[ev->pcr];
    unsigned int n = 0;
    failed = EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
             EVP_DigestUpdate(ctx, pcr, ATTEST_DIGEST_LEN) != 1 ||
             EVP_DigestUpdate(ctx, ev->digest, ATTEST_DIGEST_LEN) != 1 ||
             EVP_DigestFinal_ex(ctx, pcr, &n) != 1;
  }
  EVP_MD_CTX_free(ctx);
  /* A replay that could not run reproduces nothing: mark no PCR as known. */
  if (failed) out->mask = 0;
}

static void le32_put(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

int attest_eventlog_write_header(lisec_buf *out, lisec_err *err) {
  uint8_t h[32 + 33] = {0};
  /* TCG_PCR_EVENT: PCR 0, EV_NO_ACTION, zero SHA-1, size of the Spec ID. */
  le32_put(h + 4, ATTEST_EV_NO_ACTION);
  le32_put(h + 28, 33);
  uint8_t *s = h + 32;
  memcpy(s, SPEC_ID_SIGNATURE, 16);
  /* platformClass 0 (client), version 2.0 errata 0, UINTN of 8 bytes. */
  s[21] = 2, s[23] = 2;
  le32_put(s + 24, 1);
  s[28] = 0x0b, s[29] = 0, s[30] = 32, s[31] = 0; /* SHA-256, 32 bytes */
  s[32] = 0;                                      /* no vendor info */
  return lisec_buf_append(out, h, sizeof h) ? lisec_err_set(err, LISEC_ETOOBIG, "event log full")
                                            : 0;
}

int attest_eventlog_write_event(lisec_buf *out, uint32_t pcr, uint32_t type,
                                const uint8_t digest[ATTEST_DIGEST_LEN], const void *data,
                                uint32_t data_len, lisec_err *err) {
  if (pcr >= ATTEST_PCR_COUNT || data_len > ATTEST_EVENT_DATA_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "event log: bad event");
  uint8_t h[12 + 2 + ATTEST_DIGEST_LEN + 4];
  le32_put(h, pcr);
  le32_put(h + 4, type);
  le32_put(h + 8, 1);
  h[12] = 0x0b, h[13] = 0;
  memcpy(h + 14, digest, ATTEST_DIGEST_LEN);
  le32_put(h + 14 + ATTEST_DIGEST_LEN, data_len);
  if (lisec_buf_append(out, h, sizeof h) || (data_len && lisec_buf_append(out, data, data_len)))
    return lisec_err_set(err, LISEC_ETOOBIG, "event log full");
  return 0;
}

void attest_location_event_data(const uint8_t cert_digest[ATTEST_DIGEST_LEN], uint8_t out[40]) {
  le32_put(out, ATTEST_LOCATION_TAG);
  le32_put(out + 4, ATTEST_DIGEST_LEN);
  memcpy(out + 8, cert_digest, ATTEST_DIGEST_LEN);
}

static const struct {
  uint32_t type;
  const char *name;
} event_types[] = {
    {0x0, "EV_PREBOOT_CERT"},
    {0x1, "EV_POST_CODE"},
    {0x2, "EV_UNUSED"},
    {0x3, "EV_NO_ACTION"},
    {0x4, "EV_SEPARATOR"},
    {0x5, "EV_ACTION"},
    {0x6, "EV_EVENT_TAG"},
    {0x7, "EV_S_CRTM_CONTENTS"},
    {0x8, "EV_S_CRTM_VERSION"},
    {0x9, "EV_CPU_MICROCODE"},
    {0xa, "EV_PLATFORM_CONFIG_FLAGS"},
    {0xb, "EV_TABLE_OF_DEVICES"},
    {0xc, "EV_COMPACT_HASH"},
    {0xd, "EV_IPL"},
    {0xe, "EV_IPL_PARTITION_DATA"},
    {0xf, "EV_NONHOST_CODE"},
    {0x10, "EV_NONHOST_CONFIG"},
    {0x11, "EV_NONHOST_INFO"},
    {0x12, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {0x80000002, "EV_EFI_VARIABLE_BOOT"},
    {0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {0x80000006, "EV_EFI_GPT_EVENT"},
    {0x80000007, "EV_EFI_ACTION"},
    {0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {0x80000009, "EV_EFI_HANDOFF_TABLES"},
    {0x8000000a, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {0x8000000b, "EV_EFI_HANDOFF_TABLES2"},
    {0x8000000c, "EV_EFI_VARIABLE_BOOT2"},
    {0x80000010, "EV_EFI_HCRTM_EVENT"},
    {0x800000e0, "EV_EFI_VARIABLE_AUTHORITY"},
    {0x800000e1, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {0x800000e2, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

const char *attest_event_type_name(uint32_t type) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(event_types); i++)
    if (event_types[i].type == type) return event_types[i].name;
  return NULL;
}

int64_t attest_event_type_parse(const char *s) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(event_types); i++)
    if (strcmp(event_types[i].name, s) == 0) return event_types[i].type;
  if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2] || strlen(s) > 10) return -1;
  int64_t v = 0;
  for (const char *c = s + 2; *c; c++) {
    if (!isxdigit((unsigned char)*c)) return -1;
    v = v * 16 + (isdigit((unsigned char)*c) ? *c - '0' : (tolower((unsigned char)*c) - 'a' + 10));
  }
  return v;
}
