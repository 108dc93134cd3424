/* Unit tests of the padding inside a sealed audit entry (audit/seal.c, TR
 * 103 308 §4.1): every reader of the log sees a sealed entry's length, so
 * the plain entry is padded to a bucket of AUDIT_SEAL_BUCKET bytes before it
 * is sealed. Records whose LI words differ in length (decisions naming LIs
 * of different id lengths and violation counts, the ADMF's compliance.read
 * with 9 and with 10 violations) seal to one length; the largest entry the
 * encoder makes still seals and opens within every bound; an entry sealed
 * before the padding still opens; a box whose padding is not exactly what
 * the sealer makes is refused, naming the requirement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/audit.h"

#define SEALED_OVERHEAD (1 + crypto_box_SEALBYTES)

static uint8_t pk[32], sk[32];

static int setup(void **state) {
  (void)state;
  lisec_err err = {0};
  return audit_li_keygen(pk, sk, &err);
}

/* r encoded and sealed: its plain length into *plain_len, the sealed entry
 * returned (malloc'd), its length into *len. */
static uint8_t *seal_record(const audit_record *r, size_t *plain_len, size_t *len) {
  lisec_err err = {0};
  uint8_t *plain = NULL, *sealed = NULL;
  size_t plen = 0;
  assert_int_equal(audit_entry_encode(r, &plain, &plen, &err), 0);
  assert_int_equal(audit_entry_seal(plain, plen, pk, &sealed, len, &err), 0);
  free(plain);
  if (plain_len) *plain_len = plen;
  return sealed;
}

/* 0x02 || crypto_box_seal(box): what a sealer of another format (or none:
 * the public key is public) could store; *len its length. */
static uint8_t *seal_raw(const uint8_t *box, size_t n, size_t *len) {
  uint8_t *s = malloc(SEALED_OVERHEAD + n);
  assert_non_null(s);
  s[0] = AUDIT_ENTRY_SEALED;
  assert_int_equal(crypto_box_seal(s + 1, box, n, pk), 0);
  *len = SEALED_OVERHEAD + n;
  return s;
}

/* A plain "entry" of n bytes: what the sealer checks of it is its first
 * byte; the opener does not decode. */
static uint8_t *fake_plain(size_t n) {
  uint8_t *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + 1);
  p[0] = AUDIT_ENTRY_PLAIN;
  return p;
}

static void opens_to(const uint8_t *sealed, size_t len, const uint8_t *plain, size_t plen) {
  lisec_err err = {0};
  uint8_t *opened = NULL;
  size_t olen = 0;
  assert_int_equal(audit_entry_open(sealed, len, sk, &opened, &olen, &err), 0);
  assert_int_equal(olen, plen);
  assert_memory_equal(opened, plain, plen);
  free(opened);
}

static void test_round_trip_to_a_bucket(void **state) {
  (void)state;
  lisec_err err = {0};
  /* the marker and at least one byte of padding: a plain entry of 1022
   * bytes fills the first bucket, one of 1023 starts the second */
  static const struct {
    size_t plain, sealed;
  } cases[] = {
      {1, SEALED_OVERHEAD + 1024},    {18, SEALED_OVERHEAD + 1024},   {1022, SEALED_OVERHEAD + 1024},
      {1023, SEALED_OVERHEAD + 2048}, {1024, SEALED_OVERHEAD + 2048}, {2046, SEALED_OVERHEAD + 2048},
      {2047, SEALED_OVERHEAD + 3072},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *plain = fake_plain(cases[i].plain), *sealed = NULL;
    size_t slen = 0;
    assert_int_equal(audit_entry_seal(plain, cases[i].plain, pk, &sealed, &slen, &err), 0);
    if (slen != cases[i].sealed)
      fail_msg("a plain entry of %zu bytes sealed to %zu bytes, not %zu", cases[i].plain, slen,
               cases[i].sealed);
    assert_int_equal(sealed[0], AUDIT_ENTRY_SEALED);
    opens_to(sealed, slen, plain, cases[i].plain);
    free(sealed), free(plain);
  }
  /* a real record: decodes as it was */
  audit_record r = {.seq = 42, .time_ms = 1700000000000, .li = true, .actor = "admf", .role = "li-admin",
                    .action = "target.add", .outcome = "ok", .subjects = {"target t-1"}, .n_subjects = 1};
  size_t plen = 0, slen = 0;
  uint8_t *sealed = seal_record(&r, &plen, &slen), *opened = NULL;
  assert_int_equal(slen, SEALED_OVERHEAD + AUDIT_SEAL_BUCKET);
  size_t olen = 0;
  assert_int_equal(audit_entry_open(sealed, slen, sk, &opened, &olen, &err), 0);
  assert_int_equal(olen, plen);
  audit_record d;
  assert_int_equal(audit_entry_decode(opened, olen, &d, &err), 0);
  assert_int_equal(d.seq, 42);
  assert_string_equal(d.action, "target.add");
  assert_string_equal(d.subjects[0], "target t-1");
  audit_record_clear(&d);
  free(opened), free(sealed);
}

/* A decision sealed for failed LI rules: one reason, every violation's
 * requirement and sentence naming the LI (as src/ctl/model.c's
 * reasons_line makes it). */
static void decision(audit_record *r, uint64_t seq, const char *vm, const char *reason) {
  *r = (audit_record){.seq = seq,
                      .time_ms = 1765000000000 + (int64_t)seq,
                      .li = true,
                      .actor = "mano-1",
                      .role = "mano",
                      .action = "decision.migration",
                      .outcome = "denied",
                      .subjects = {vm},
                      .n_subjects = 1,
                      .reasons = {reason},
                      .n_reasons = 1};
}

static void test_li_words_do_not_show_in_the_length(void **state) {
  (void)state;
  audit_record r[4];
  decision(&r[0], 10, "vm vm-li to hypervisor hv-se",
           "TR103308-6.2-R1: LI li-1 is issued in fi; VM vm-li would run on host se-1, located in SE");
  decision(&r[1], 11, "vm vm-li-helsinki-2 to hypervisor hv-se",
           "TR103308-6.2-R1: LI li-fi-helsinki-metropolitan-2026-0001 is issued in fi; VM "
           "vm-li-helsinki-2 would run on host se-1, located in SE; TR103308-6.2-R2: LI "
           "li-fi-helsinki-metropolitan-2026-0001 stores its data in storage st-li-helsinki-2 "
           "through VM vm-li-helsinki-2, which would leave fi; TR103308-6.2-R8: LI "
           "li-fi-helsinki-metropolitan-2026-0002 is hosted by VM vm-li-helsinki-2, whose host "
           "se-1 has no attested location");
  /* the ADMF's reading on its schedule: one byte longer from 10 on */
  static const audit_record read = {.li = true, .actor = "admf", .role = "li-admin",
                                    .action = "compliance.read", .outcome = "ok",
                                    .subjects = {"platform"}, .n_subjects = 1, .n_reasons = 1};
  r[2] = read, r[3] = read;
  r[2].seq = 12, r[2].reasons[0] = "9 violations";
  r[3].seq = 13, r[3].reasons[0] = "10 violations";
  size_t plen[4], slen[4];
  for (size_t i = 0; i < 4; i++) free(seal_record(&r[i], &plen[i], &slen[i]));
  /* the records differ, as their LI words do ... */
  assert_true(plen[1] > plen[0] + 200);
  assert_int_equal(plen[3], plen[2] + 1);
  /* ... and every reader of the log sees one length */
  for (size_t i = 0; i < 4; i++)
    if (slen[i] != SEALED_OVERHEAD + AUDIT_SEAL_BUCKET)
      fail_msg("record %zu (%s, %zu bytes plain) sealed to %zu bytes, not %d", i, r[i].action, plen[i],
               slen[i], SEALED_OVERHEAD + AUDIT_SEAL_BUCKET);
}

/* The largest entry the encoder makes (every string and list full) seals
 * within the opener's bound, which the store (1 MiB an entry) and the
 * entries page carry; a plain entry whose padded form would pass
 * AUDIT_ENTRY_MAX is refused by the sealer, not stored unopenable. */
static void test_largest_entry(void **state) {
  (void)state;
  lisec_err err = {0};
  char *full = malloc(AUDIT_STR_MAX + 1);
  assert_non_null(full);
  memset(full, 'x', AUDIT_STR_MAX);
  full[AUDIT_STR_MAX] = '\0';
  audit_record r = {.li = true, .actor = full, .role = full, .action = full, .outcome = full,
                    .n_subjects = AUDIT_LIST_MAX, .n_reasons = AUDIT_LIST_MAX};
  for (size_t i = 0; i < AUDIT_LIST_MAX; i++) r.subjects[i] = r.reasons[i] = full;
  size_t plen = 0, slen = 0;
  uint8_t *sealed = seal_record(&r, &plen, &slen), *opened = NULL;
  assert_int_equal((slen - SEALED_OVERHEAD) % AUDIT_SEAL_BUCKET, 0);
  assert_true(slen - SEALED_OVERHEAD - plen <= AUDIT_SEAL_BUCKET + 1);
  assert_true(slen <= SEALED_OVERHEAD + AUDIT_ENTRY_MAX);
  size_t olen = 0;
  assert_int_equal(audit_entry_open(sealed, slen, sk, &opened, &olen, &err), 0);
  audit_record d;
  assert_int_equal(audit_entry_decode(opened, olen, &d, &err), 0);
  assert_int_equal(d.n_reasons, AUDIT_LIST_MAX);
  audit_record_clear(&d);
  free(opened), free(sealed), free(full);

  /* the sealer's own bound: the padded form fills AUDIT_ENTRY_MAX exactly */
  uint8_t *plain = fake_plain(AUDIT_SEAL_PLAIN_MAX + 1);
  assert_int_equal(audit_entry_seal(plain, AUDIT_SEAL_PLAIN_MAX, pk, &sealed, &slen, &err), 0);
  assert_int_equal(slen, SEALED_OVERHEAD + AUDIT_ENTRY_MAX);
  opens_to(sealed, slen, plain, AUDIT_SEAL_PLAIN_MAX);
  free(sealed);
  sealed = NULL;
  assert_int_equal(audit_entry_seal(plain, AUDIT_SEAL_PLAIN_MAX + 1, pk, &sealed, &slen, &err), LISEC_EINVAL);
  assert_null(sealed);
  free(plain);
}

/* Logs in the field hold entries sealed before the padding: the plain
 * entry alone in the box. They open as they did. */
static void test_unpadded_entry_still_opens(void **state) {
  (void)state;
  lisec_err err = {0};
  audit_record r;
  decision(&r, 7, "vm vm-li to hypervisor hv-se", "TR103308-6.2-R1: LI li-1 is issued in fi");
  uint8_t *plain = NULL, *opened = NULL;
  size_t plen = 0, slen = 0, olen = 0;
  assert_int_equal(audit_entry_encode(&r, &plain, &plen, &err), 0);
  uint8_t *old = seal_raw(plain, plen, &slen);
  assert_int_equal(slen, plen + SEALED_OVERHEAD);
  opens_to(old, slen, plain, plen);
  assert_int_equal(audit_entry_open(old, slen, sk, &opened, &olen, &err), 0);
  audit_record d;
  assert_int_equal(audit_entry_decode(opened, olen, &d, &err), 0);
  assert_string_equal(d.reasons[0], "TR103308-6.2-R1: LI li-1 is issued in fi");
  audit_record_clear(&d);
  free(opened), free(old);
  /* one of exactly a bucket's length too (the opener tells them apart by
   * the first byte inside, not by the length) */
  uint8_t *bucket = fake_plain(AUDIT_SEAL_BUCKET);
  old = seal_raw(bucket, AUDIT_SEAL_BUCKET, &slen);
  opens_to(old, slen, bucket, AUDIT_SEAL_BUCKET);
  free(old), free(bucket), free(plain);
}

/* box of n bytes: AUDIT_SEAL_PADDED, a plain entry of plain bytes, 0x80,
 * zeros; the caller then spoils it. */
static uint8_t *padded_box(size_t n, size_t plain) {
  uint8_t *b = calloc(1, n);
  assert_non_null(b);
  b[0] = AUDIT_SEAL_PADDED;
  b[1] = AUDIT_ENTRY_PLAIN;
  memset(b + 2, 'p', plain - 1);
  b[1 + plain] = 0x80;
  return b;
}

static void refused(uint8_t *box, size_t n, const char *what) {
  lisec_err err = {0};
  size_t slen = 0, olen = 0, off = 0;
  uint8_t *sealed = seal_raw(box, n, &slen), *opened = NULL;
  int rc = audit_entry_open(sealed, slen, sk, &opened, &olen, &err);
  if (rc != LISEC_EINVAL) fail_msg("%s: opened (%d), not refused", what, rc);
  assert_null(opened);
  if (!strstr(err.msg, "TR103308-4.1")) fail_msg("%s: the refusal names no requirement: %s", what, err.msg);
  assert_int_equal(audit_entry_unpad(box, n, &off, &olen, &err), LISEC_EINVAL);
  free(sealed), free(box);
}

static void test_bad_padding_refused(void **state) {
  (void)state;
  lisec_err err = {0};
  /* the form itself is taken */
  uint8_t *good = padded_box(1024, 100), *opened = NULL;
  size_t slen = 0, olen = 0, off = 0, plen = 0;
  uint8_t *sealed = seal_raw(good, 1024, &slen);
  assert_int_equal(audit_entry_open(sealed, slen, sk, &opened, &olen, &err), 0);
  assert_int_equal(olen, 100);
  assert_memory_equal(opened, good + 1, 100);
  free(opened), free(good);

  uint8_t *b = padded_box(1023, 100); /* not whole buckets */
  refused(b, 1023, "a box one byte short of a bucket");
  b = padded_box(1025, 100);
  refused(b, 1025, "a box one byte over a bucket");
  b = padded_box(1024, 100);
  b[101] = 0; /* no 0x80 at all */
  refused(b, 1024, "padding without its 0x80");
  b = padded_box(1024, 100);
  b[500] = 0x01; /* a byte that is not zero after the 0x80 */
  refused(b, 1024, "padding with a non-zero byte after its 0x80");
  b = padded_box(1024, 100);
  b[1023] = 0x80, b[101] = 0; /* padding of one byte, but the entry then ends in zeros */
  size_t n = 0;
  assert_int_equal(audit_entry_unpad(b, 1024, &off, &n, &err), 0); /* canonical, if odd: taken */
  assert_int_equal(n, 1022);
  free(b);
  b = padded_box(2048, 100); /* padding longer than a bucket */
  refused(b, 2048, "more than a bucket of padding");
  b = padded_box(1024, 100);
  b[1] = AUDIT_ENTRY_SEALED; /* the marker, then no plain entry */
  refused(b, 1024, "a padded box that holds no plain entry");
  b = calloc(1, 1024);
  b[0] = AUDIT_SEAL_PADDED, b[1] = 0x80; /* the marker and padding alone */
  refused(b, 1024, "a padded box with an empty entry");
  b = padded_box(1024, 100);
  b[0] = 0x04; /* neither the marker nor a plain entry */
  refused(b, 1024, "an unknown first byte inside the box");
  b = padded_box(1024, 100);
  b[0] = AUDIT_ENTRY_SEALED;
  refused(b, 1024, "a sealed entry's type inside the box");

  /* the sealed entry itself: truncated does not open (the tag), too long
   * or too short is refused before anything is read */
  assert_int_equal(audit_entry_open(sealed, slen - 1, sk, &opened, &olen, &err), LISEC_ECRYPTO);
  assert_int_equal(audit_entry_open(sealed, SEALED_OVERHEAD, sk, &opened, &olen, &err), LISEC_EINVAL);
  uint8_t *big = calloc(1, SEALED_OVERHEAD + AUDIT_ENTRY_MAX + 1);
  big[0] = AUDIT_ENTRY_SEALED;
  assert_int_equal(audit_entry_open(big, SEALED_OVERHEAD + AUDIT_ENTRY_MAX + 1, sk, &opened, &olen, &err),
                   LISEC_EINVAL);
  free(big), free(sealed);
  /* the unpadder alone: nothing, and more than an entry may be */
  assert_int_equal(audit_entry_unpad((const uint8_t *)"", 0, &off, &plen, &err), LISEC_EINVAL);
  b = padded_box(AUDIT_ENTRY_MAX + AUDIT_SEAL_BUCKET, 100);
  b[1 + 100] = 0, b[AUDIT_ENTRY_MAX + 10] = 0x80;
  assert_int_equal(audit_entry_unpad(b, AUDIT_ENTRY_MAX + AUDIT_SEAL_BUCKET, &off, &plen, &err), LISEC_EINVAL);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_to_a_bucket),
      cmocka_unit_test(test_li_words_do_not_show_in_the_length),
      cmocka_unit_test(test_largest_entry),
      cmocka_unit_test(test_unpadded_entry_still_opens),
      cmocka_unit_test(test_bad_padding_refused),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
