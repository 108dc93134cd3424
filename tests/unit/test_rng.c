/* Unit tests of the pure rng/ module: the DRBGs against the NIST CAVP
 * vectors in tests/data/drbg/, the SP 800-90B health-test cutoffs against
 * the standard's Table 2 and an independent exact computation, stuck, biased
 * and good sources, conditioning that refuses to outrun its credit, the seed
 * message codec with malformed, truncated and oversized input, replay
 * refusal and the rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "rng/rng.h"

#ifndef LISEC_SRC_DIR
#define LISEC_SRC_DIR "."
#endif

/* ---- NIST CAVP vectors ----------------------------------------------------- */

static size_t hex_field(const json_t *v, const char *key, uint8_t *out, size_t cap) {
  const char *s = json_string_value(json_object_get(v, key));
  if (!s) return 0;
  size_t n = strlen(s) / 2;
  assert_true(n <= cap);
  assert_int_equal(lisec_hex_decode(s, out, n), 0);
  return n;
}

static int run_vector_file(const char *name, rng_drbg_kind kind, bool pr) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/drbg/%s", LISEC_SRC_DIR, name);
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err err = {0};
  assert_int_equal(lisec_file_read(path, 1 << 20, &buf, &len, &err), 0);
  json_t *doc = NULL;
  assert_int_equal(lisec_json_parse((const char *)buf, len, &doc, &err), 0);
  free(buf);
  json_t *vecs = json_object_get(doc, "vectors");
  assert_true(json_array_size(vecs) > 0);
  size_t i;
  json_t *v;
  int n = 0;
  json_array_foreach(vecs, i, v) {
    uint8_t ent[64], non[32], pers[64], aa[64], ab[64], pa[64], pb[64], out[256];
    rng_kat k = {.kind = kind, .pr = pr};
    k.entropy_len = hex_field(v, "entropy", ent, sizeof ent);
    k.nonce_len = hex_field(v, "nonce", non, sizeof non);
    k.pers_len = hex_field(v, "pers", pers, sizeof pers);
    k.add_a_len = hex_field(v, "addA", aa, sizeof aa);
    k.add_b_len = hex_field(v, "addB", ab, sizeof ab);
    k.entropy_pr_a_len = hex_field(v, "prA", pa, sizeof pa);
    k.entropy_pr_b_len = hex_field(v, "prB", pb, sizeof pb);
    k.out_len = hex_field(v, "out", out, sizeof out);
    k.entropy = ent, k.nonce = non, k.pers = pers, k.add_a = aa, k.add_b = ab;
    k.entropy_pr_a = pa, k.entropy_pr_b = pb, k.out = out;
    int rc = rng_kat_run(&k, &err);
    if (rc) fail_msg("vector %zu of %s: %s", i, name, err.msg);
    /* The same vector with one output bit flipped must be refused. */
    out[0] ^= 1;
    assert_int_equal(rng_kat_run(&k, &err), LISEC_ECRYPTO);
    n++;
  }
  json_decref(doc);
  return n;
}

static void test_kat_ctr_drbg_aes256(void **state) {
  (void)state;
  assert_int_equal(run_vector_file("ctr-drbg-aes256-df.json", RNG_DRBG_CTR_AES256, false), 8);
}

static void test_kat_hmac_drbg_sha384_pr(void **state) {
  (void)state;
  assert_int_equal(run_vector_file("hmac-drbg-sha384-pr.json", RNG_DRBG_HMAC_SHA384, true), 2);
}

static void test_kat_selftest_builtin(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_int_equal(rng_kat_selftest(&err), 0);
}

/* ---- SP 800-90B cutoffs ---------------------------------------------------- */

static void test_rct_cutoff_formula(void **state) {
  (void)state;
  /* C = 1 + ceil(-log2(alpha) / H), SP 800-90B §4.4.1. */
  assert_int_equal(rng_rct_cutoff(1.0, 20), 21); /* the standard's own example */
  assert_int_equal(rng_rct_cutoff(0.5, 30), 61);
  assert_int_equal(rng_rct_cutoff(8.0, 30), 5);
  assert_int_equal(rng_rct_cutoff(7.5, 30), 5);
  assert_int_equal(rng_rct_cutoff(3.0, 30), 11);
  assert_int_equal(rng_rct_cutoff(0.3, 30), 101);
}

static void test_apt_cutoff_table2(void **state) {
  (void)state;
  /* SP 800-90B Table 2, alpha = 2^-20, non-binary W = 512. */
  assert_int_equal(rng_apt_cutoff(0.5, 20, 512), 410);
  assert_int_equal(rng_apt_cutoff(1, 20, 512), 311);
  assert_int_equal(rng_apt_cutoff(2, 20, 512), 177);
  assert_int_equal(rng_apt_cutoff(4, 20, 512), 62);
  assert_int_equal(rng_apt_cutoff(8, 20, 512), 13);
}

static void test_apt_cutoff_exact(void **state) {
  (void)state;
  /* Computed independently with exact binomial sums at 80-digit precision:
   *   c = smallest c with sum_{k>=c} C(W,k) p^k (1-p)^(W-k) <= 2^-a, p = 2^-H
   * (python3: math.comb and decimal, prec 80). */
  static const struct {
    double h;
    unsigned a, w, c;
  } cases[] = {
      {7, 20, 512, 18},     {0.2, 20, 1024, 941}, {0.4, 20, 1024, 840}, {0.5, 20, 1024, 793},
      {0.6, 20, 1024, 748}, {0.8, 20, 1024, 664}, {1.0, 20, 1024, 589}, {0.5, 30, 512, 422},
      {1, 30, 512, 325},    {2, 30, 512, 190},    {4, 30, 512, 71},     {7, 30, 512, 22},
      {8, 30, 512, 16},     {0.2, 30, 1024, 952}, {0.4, 30, 1024, 856}, {0.5, 30, 1024, 810},
      {0.6, 30, 1024, 766}, {0.8, 30, 1024, 683}, {1.0, 30, 1024, 609},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(cases); i++)
    assert_int_equal(rng_apt_cutoff(cases[i].h, cases[i].a, cases[i].w), cases[i].c);
}

static void test_health_init_bounds(void **state) {
  (void)state;
  rng_health t;
  lisec_err err = {0};
  assert_int_equal(rng_health_init(&t, 0.0, 30, false, &err), LISEC_EINVAL);
  assert_int_equal(rng_health_init(&t, 8.5, 30, false, &err), LISEC_EINVAL);
  assert_int_equal(rng_health_init(&t, 1.5, 30, true, &err), LISEC_EINVAL);
  assert_int_equal(rng_health_init(&t, 4, 19, false, &err), LISEC_EINVAL);
  assert_int_equal(rng_health_init(&t, 4, 30, false, &err), 0);
  assert_int_equal(t.apt_window, 512);
  assert_int_equal(rng_health_init(&t, 0.5, 30, true, &err), 0);
  assert_int_equal(t.apt_window, 1024);
  /* A claim so small that the RCT cutoff 1 + ceil(alpha_log2 / H) is past
   * 32 bits is refused ([source.X] min_entropy), not computed by a
   * conversion out of range: before, H = 6.9849193e-9 got a cutoff of 7
   * (the formula gives over 4.29e9) and H = 1e-20 a cutoff of 1. */
  assert_int_equal(rng_health_init(&t, 6.9849193e-9, 30, false, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "SP800-90B-4.4"));
  assert_int_equal(rng_health_init(&t, 1e-20, 30, false, &err), LISEC_EINVAL);
  assert_int_equal(rng_health_init(&t, 1e-20, 40, true, &err), LISEC_EINVAL);
  /* The smallest claims that fit keep the formula's cutoff. */
  assert_int_equal(rng_health_init(&t, 1e-8, 30, false, &err), 0);
  assert_int_equal(t.rct_cutoff, 3000000001u);
}

/* ---- stuck, biased and good sources ---------------------------------------- */

static void test_stuck_source_trips_rct(void **state) {
  (void)state;
  rng_health t;
  lisec_err err = {0};
  assert_int_equal(rng_health_init(&t, 4.0, 30, false, &err), 0);
  assert_int_equal(t.rct_cutoff, 9); /* 1 + ceil(30 / 4) */
  uint8_t stuck[64];
  memset(stuck, 0x5a, sizeof stuck);
  /* C-1 identical samples pass; the C-th fails. */
  assert_int_equal(rng_health_feed(&t, stuck, t.rct_cutoff - 1, &err), 0);
  assert_int_equal(rng_health_feed(&t, stuck, 1, &err), LISEC_EDENIED);
  assert_int_equal(t.state, RNG_HEALTH_RCT_FAIL);
  assert_non_null(strstr(err.msg, "SP800-90B-4.4.1"));
  /* Sticky: even good samples do not bring the source back. */
  uint8_t good[32];
  assert_int_equal(RAND_bytes(good, sizeof good), 1);
  assert_int_equal(rng_health_feed(&t, good, sizeof good, &err), LISEC_EDENIED);
}

static void test_biased_source_trips_apt(void **state) {
  (void)state;
  /* A source claiming H = 4 bits/byte that repeats one value in half of its
   * samples (never C times in a row, so the RCT stays quiet): the APT
   * cutoff at alpha 2^-30 is 71 of 512, and this source gives ~256. */
  rng_health t;
  lisec_err err = {0};
  assert_int_equal(rng_health_init(&t, 4.0, 30, false, &err), 0);
  assert_int_equal(t.apt_cutoff, 71);
  uint8_t s[512];
  uint8_t r[512];
  assert_int_equal(RAND_bytes(r, sizeof r), 1);
  for (size_t i = 0; i < sizeof s; i++) s[i] = (i % 2 == 0) ? 0x42 : (uint8_t)(r[i] | 0x80);
  assert_int_equal(rng_health_feed(&t, s, sizeof s, &err), LISEC_EDENIED);
  assert_int_equal(t.state, RNG_HEALTH_APT_FAIL);
  assert_non_null(strstr(err.msg, "SP800-90B-4.4.2"));
  assert_true(t.rct_max_run < t.rct_cutoff);
}

static void test_biased_binary_source_trips_apt(void **state) {
  (void)state;
  /* A binary source claiming H = 1 that emits ones 3/4 of the time. */
  rng_health t;
  lisec_err err = {0};
  assert_int_equal(rng_health_init(&t, 1.0, 30, true, &err), 0);
  assert_int_equal(t.apt_cutoff, 609);
  uint8_t s[4096];
  for (size_t i = 0; i < sizeof s; i++) s[i] = (i % 4 == 3) ? 0 : 1;
  assert_int_equal(rng_health_feed(&t, s, sizeof s, &err), LISEC_EDENIED);
  assert_int_equal(t.state, RNG_HEALTH_APT_FAIL);
}

static void test_good_source_passes(void **state) {
  (void)state;
  /* Full-entropy bytes (OpenSSL's RAND_bytes) against a claim of 7 bits:
   * four million samples. RCT cutoff 6: a run of 6 equal bytes has
   * probability 2^-40 per position, ~4e-6 over the test; the APT's false
   * alarms are rarer still. */
  rng_health t;
  lisec_err err = {0};
  assert_int_equal(rng_health_init(&t, 7.0, 30, false, &err), 0);
  assert_int_equal(t.rct_cutoff, 6);
  uint8_t *buf = malloc(1 << 20);
  assert_non_null(buf);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(RAND_bytes(buf, 1 << 20), 1);
    assert_int_equal(rng_health_feed(&t, buf, 1 << 20, &err), 0);
  }
  free(buf);
  assert_int_equal(t.state, RNG_HEALTH_OK);
  assert_int_equal(t.samples, 4u << 20);
}

/* ---- conditioning ---------------------------------------------------------- */

static void test_pool_fails_closed_without_credit(void **state) {
  (void)state;
  rng_pool p;
  lisec_err err = {0};
  uint8_t raw[64], seed[48], seed2[48];
  assert_int_equal(rng_pool_init(&p, "test", 4, &err), 0);
  assert_int_equal(RAND_bytes(raw, sizeof raw), 1);
  /* 48 bytes need 48*8 + 64 = 448 credited bits. */
  assert_int_equal(rng_pool_absorb(&p, "a", raw, sizeof raw, 400, &err), 0);
  assert_int_equal(rng_pool_extract(&p, "s", 1, seed, sizeof seed, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "SP800-90C"));
  /* Crediting more than 8 bits per byte is refused. */
  assert_int_equal(rng_pool_absorb(&p, "a", raw, 4, 33, &err), LISEC_EINVAL);
  assert_int_equal(rng_pool_absorb(&p, "b", raw, sizeof raw, 48, &err), 0);
  assert_int_equal(rng_pool_extract(&p, "s", 1, seed, sizeof seed, &err), 0);
  /* The credit is spent: a second seed needs new input. */
  assert_int_equal(rng_pool_extract(&p, "s", 1, seed2, sizeof seed2, &err), LISEC_EUNAVAIL);
  assert_int_equal(rng_pool_absorb(&p, "a", raw, sizeof raw, 512, &err), 0);
  assert_int_equal(rng_pool_extract(&p, "s", 1, seed2, sizeof seed2, &err), 0);
  /* Same raw input, but the chain moved on: a different seed. */
  assert_memory_not_equal(seed, seed2, sizeof seed);
  assert_int_equal(rng_pool_extract(&p, "s", 1, seed2, 8, &err), LISEC_EINVAL);
  rng_pool_free(&p);
}

static void test_hkdf_rfc5869_case1(void **state) {
  (void)state;
  /* RFC 5869 Appendix A.1, SHA-256. */
  uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
  memset(ikm, 0x0b, sizeof ikm);
  assert_int_equal(lisec_hex_decode("000102030405060708090a0b0c", salt, sizeof salt), 0);
  assert_int_equal(lisec_hex_decode("f0f1f2f3f4f5f6f7f8f9", info, sizeof info), 0);
  assert_int_equal(lisec_hex_decode("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                    "34007208d5b887185865",
                                    want, sizeof want),
                   0);
  lisec_err err = {0};
  assert_int_equal(rng_hkdf(salt, sizeof salt, ikm, sizeof ikm, info, sizeof info, okm, sizeof okm,
                            &err),
                   0);
  assert_memory_equal(okm, want, sizeof okm);
}

/* ---- the seed protocol ----------------------------------------------------- */

static rng_msg sample_request(void) {
  rng_msg m = {.type = RNG_MSG_REQUEST, .counter = 12345, .want = 48};
  for (int i = 0; i < RNG_NONCE_LEN; i++) m.nonce[i] = (uint8_t)i;
  for (int i = 0; i < RNG_ID_LEN; i++)
    m.genid[i] = (uint8_t)(0xa0 + i), m.bootid[i] = (uint8_t)i, m.instance[i] = (uint8_t)(0x50 + i);
  return m;
}

static void test_seedmsg_roundtrip(void **state) {
  (void)state;
  uint8_t buf[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX];
  size_t len = 0;
  lisec_err err = {0};
  rng_msg m = sample_request(), d;
  assert_int_equal(rng_msg_encode(&m, buf, sizeof buf, &len, &err), 0);
  assert_int_equal(len, 8 + 90);
  assert_memory_equal(buf, "LSEE\x01\x01\x00\x5a", 8);
  assert_int_equal(rng_msg_decode(buf, len, &d, &err), 0);
  assert_int_equal(d.type, RNG_MSG_REQUEST);
  assert_memory_equal(d.nonce, m.nonce, RNG_NONCE_LEN);
  assert_memory_equal(d.genid, m.genid, RNG_ID_LEN);
  assert_memory_equal(d.bootid, m.bootid, RNG_ID_LEN);
  assert_memory_equal(d.instance, m.instance, RNG_ID_LEN);
  assert_int_equal(d.counter, 12345);
  assert_int_equal(d.want, 48);

  rng_msg s = {.type = RNG_MSG_SEED, .counter = 7, .seed_len = 32};
  memset(s.seed, 0x77, 32);
  assert_int_equal(rng_msg_encode(&s, buf, sizeof buf, &len, &err), 0);
  assert_int_equal(rng_msg_decode(buf, len, &d, &err), 0);
  assert_int_equal(d.seed_len, 32);
  assert_memory_equal(d.seed, s.seed, 32);

  rng_msg e = {.type = RNG_MSG_ERROR, .code = RNG_ERR_REPLAY};
  strcpy(e.reason, "replayed");
  assert_int_equal(rng_msg_encode(&e, buf, sizeof buf, &len, &err), 0);
  assert_int_equal(rng_msg_decode(buf, len, &d, &err), 0);
  assert_int_equal(d.code, RNG_ERR_REPLAY);
  assert_string_equal(d.reason, "replayed");
}

static void test_seedmsg_bad_cases(void **state) {
  (void)state;
  uint8_t buf[RNG_MSG_HDR_LEN + RNG_MSG_BODY_MAX + 16];
  size_t len = 0, total = 0;
  lisec_err err = {0};
  rng_msg m = sample_request(), d;
  assert_int_equal(rng_msg_encode(&m, buf, sizeof buf, &len, &err), 0);
  /* truncated: header and body */
  assert_int_equal(rng_msg_frame_len(buf, 7, &total, &err), LISEC_EINVAL);
  for (size_t cut = 0; cut < len; cut++)
    assert_int_not_equal(rng_msg_decode(buf, cut, &d, &err), 0);
  /* trailing garbage */
  buf[len] = 0;
  assert_int_equal(rng_msg_decode(buf, len + 1, &d, &err), LISEC_EINVAL);
  uint8_t bad[sizeof buf];
  /* bad magic, version, type */
  memcpy(bad, buf, len);
  bad[0] = 'X';
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  memcpy(bad, buf, len);
  bad[4] = 2;
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  memcpy(bad, buf, len);
  bad[5] = 9;
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  /* oversized body announced */
  memcpy(bad, buf, len);
  bad[6] = 0xff, bad[7] = 0xff;
  assert_int_equal(rng_msg_frame_len(bad, 8, &total, &err), LISEC_ETOOBIG);
  /* request body of the wrong length (consistent header) */
  memcpy(bad, buf, len);
  bad[7] = 89;
  assert_int_equal(rng_msg_decode(bad, len - 1, &d, &err), LISEC_EINVAL);
  /* want outside 16..256, counter zero */
  memcpy(bad, buf, len);
  bad[len - 2] = 0x01, bad[len - 1] = 0x01; /* 257 */
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  memcpy(bad, buf, len);
  bad[len - 1] = 15, bad[len - 2] = 0;
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  memcpy(bad, buf, len);
  memset(bad + 8 + 80, 0, 8); /* the counter, after nonce and three ids */
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  /* a seed reply whose inner length disagrees with the frame */
  rng_msg s = {.type = RNG_MSG_SEED, .counter = 1, .seed_len = 32};
  assert_int_equal(rng_msg_encode(&s, bad, sizeof bad, &len, &err), 0);
  bad[8 + 40 + 1] = 33;
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  /* an error reason with a control character */
  rng_msg e = {.type = RNG_MSG_ERROR, .code = 1};
  strcpy(e.reason, "abc");
  assert_int_equal(rng_msg_encode(&e, bad, sizeof bad, &len, &err), 0);
  bad[len - 1] = '\n';
  assert_int_equal(rng_msg_decode(bad, len, &d, &err), LISEC_EINVAL);
  /* encoding refuses a buffer too small and out-of-range fields */
  assert_int_equal(rng_msg_encode(&m, buf, 20, &len, &err), LISEC_ETOOBIG);
  m.want = 300;
  assert_int_equal(rng_msg_encode(&m, buf, sizeof buf, &len, &err), LISEC_EINVAL);
}

/* ---- replay and rate ------------------------------------------------------- */

static void test_replay_refused(void **state) {
  (void)state;
  rng_replay *r = rng_replay_new();
  lisec_err err = {0};
  rng_msg m = sample_request();
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), 0);
  /* the very same request again */
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "nonce"));
  /* a new nonce but an old counter on the same stream */
  m.nonce[0] ^= 0xff;
  m.counter = 12345;
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "counter"));
  m.counter = 12346;
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), 0);
  /* another client's nonces are its own */
  assert_int_equal(rng_replay_check(r, "vnf-b", &m, &err), 0);
  /* another process of the same VM (its own instance) has its own stream */
  m.nonce[2] ^= 0xff;
  m.instance[0] ^= 1;
  m.counter = 100;
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), 0);
  /* a clone (new generation id) starts its own stream */
  m.nonce[1] ^= 0xff;
  m.genid[0] ^= 1;
  m.counter = 5;
  assert_int_equal(rng_replay_check(r, "vnf-a", &m, &err), 0);
  rng_replay_free(r);
}

static void test_replay_bounded_streams_keep_floor(void **state) {
  (void)state;
  rng_replay *r = rng_replay_new();
  lisec_err err = {0};
  rng_msg m = sample_request();
  /* Fill every stream slot and then some; the first stream is evicted. */
  for (unsigned i = 0; i < RNG_REPLAY_STREAMS + 4; i++) {
    m.genid[0] = (uint8_t)i;
    m.nonce[0] = (uint8_t)i;
    m.counter = 1000 + i;
    assert_int_equal(rng_replay_check(r, "c", &m, &err), 0);
  }
  /* An old request from the evicted stream (fresh nonce) is still refused
   * by the floor the eviction left. */
  m.genid[0] = 0;
  m.nonce[0] = 0xee;
  m.counter = 1000;
  assert_int_equal(rng_replay_check(r, "c", &m, &err), LISEC_ECONFLICT);
  m.counter = 5000;
  assert_int_equal(rng_replay_check(r, "c", &m, &err), 0);
  rng_replay_free(r);
}

/* A counter far ahead (a VM clock ahead, an NTP step) is refused at the
 * ceiling and leaves nothing behind: before, it was accepted, became the
 * client's floor once its stream was forgotten after RNG_REPLAY_STREAMS
 * newer ones, and every later stream with a right clock was refused. */
static void test_replay_ceiling_keeps_no_floor(void **state) {
  (void)state;
  rng_replay *r = rng_replay_new();
  lisec_err err = {0};
  rng_msg m = sample_request();
  const uint64_t now = 1000000, ceiling = now + 300;
  m.counter = now + 86400;
  assert_int_equal(rng_replay_check_max(r, "c", &m, ceiling, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-5.12"));
  assert_non_null(strstr(err.msg, "ahead"));
  /* nothing kept: the same nonce at a right counter is served */
  m.counter = now;
  assert_int_equal(rng_replay_check_max(r, "c", &m, ceiling, &err), 0);
  m.counter = ceiling; /* the ceiling itself is accepted */
  m.nonce[1] ^= 0xff;
  assert_int_equal(rng_replay_check_max(r, "c", &m, ceiling, &err), 0);
  for (unsigned i = 0; i < RNG_REPLAY_STREAMS + 1; i++) {
    m.genid[0] = (uint8_t)(i + 1);
    m.genid[1] = (uint8_t)((i + 1) >> 8);
    m.nonce[0] = (uint8_t)i;
    m.nonce[2] = (uint8_t)(i >> 8);
    m.counter = ceiling + 1 + i; /* the clock went on */
    assert_int_equal(rng_replay_check_max(r, "c", &m, ceiling + 1000, &err), 0);
  }
  /* the first streams are forgotten: a new stream with a right clock is
   * served (the refused counter did not become the floor) */
  m.genid[0] = 0xfe, m.genid[1] = 0xfe, m.nonce[0] = 0xfd, m.nonce[2] = 0xfd;
  m.counter = ceiling + 500;
  assert_int_equal(rng_replay_check_max(r, "c", &m, ceiling + 1000, &err), 0);
  rng_replay_free(r);
}

static void test_rate_limit(void **state) {
  (void)state;
  rng_bucket b = {0};
  uint64_t t = 1000000000ull;
  int ok = 0;
  for (int i = 0; i < 20; i++) ok += rng_bucket_take(&b, t, 5, 10);
  assert_int_equal(ok, 10); /* the burst */
  assert_false(rng_bucket_take(&b, t + 100000000ull, 5, 10)); /* 0.5 token after 100 ms */
  assert_true(rng_bucket_take(&b, t + 200000000ull, 5, 10));  /* 1 token after 200 ms */
  assert_false(rng_bucket_take(&b, t + 200000000ull, 5, 10));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kat_ctr_drbg_aes256),
      cmocka_unit_test(test_kat_hmac_drbg_sha384_pr),
      cmocka_unit_test(test_kat_selftest_builtin),
      cmocka_unit_test(test_rct_cutoff_formula),
      cmocka_unit_test(test_apt_cutoff_table2),
      cmocka_unit_test(test_apt_cutoff_exact),
      cmocka_unit_test(test_health_init_bounds),
      cmocka_unit_test(test_stuck_source_trips_rct),
      cmocka_unit_test(test_biased_source_trips_apt),
      cmocka_unit_test(test_biased_binary_source_trips_apt),
      cmocka_unit_test(test_good_source_passes),
      cmocka_unit_test(test_pool_fails_closed_without_credit),
      cmocka_unit_test(test_hkdf_rfc5869_case1),
      cmocka_unit_test(test_seedmsg_roundtrip),
      cmocka_unit_test(test_seedmsg_bad_cases),
      cmocka_unit_test(test_replay_refused),
      cmocka_unit_test(test_replay_bounded_streams_keep_floor),
      cmocka_unit_test(test_replay_ceiling_keeps_no_floor),
      cmocka_unit_test(test_rate_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
