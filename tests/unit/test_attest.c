/* Unit tests of attest/ against fixtures made by swtpm, tpm2-tools, the
 * Python event-log generator and the openssl command
 * (tests/data/attest/make-fixtures.sh): expected values come from those
 * tools (tpm2_print's view of the quote, tpm2_createak's Name, openssl's
 * SHA-256 of the EK) or from the standards, never from attest/ itself. Bad
 * cases: truncation at every length, trailing bytes, oversized inputs,
 * wrong keys, replayed and expired nonces, policies that would accept too
 * much, location certificates from the wrong CA or for the wrong host. */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest/attest.h"
#include "crypto/crypto.h"

#ifndef ATTEST_DATA_DIR
#error "ATTEST_DATA_DIR must name tests/data/attest"
#endif

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;

static blob fixture(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", ATTEST_DATA_DIR, name);
  blob b = {0};
  lisec_err err = {0};
  if (lisec_file_read(path, 16u << 20, &b.p, &b.n, &err) != 0) fail_msg("%s: %s", path, err.msg);
  return b;
}

static void text_line(const char *name, char *out, size_t len) {
  blob b = fixture(name);
  size_t n = b.n;
  while (n && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r')) n--;
  assert_true(n < len);
  memcpy(out, b.p, n);
  out[n] = '\0';
  free(b.p);
}

static size_t fixture_nonce(uint8_t out[ATTEST_NONCE_MAX]) {
  char hex[160];
  text_line("nonce.hex", hex, sizeof hex);
  size_t n = strlen(hex) / 2;
  assert_int_equal(lisec_hex_decode(hex, out, n), 0);
  return n;
}

/* A value from tpm2_print's YAML view of the quote ("  key: value"). */
static unsigned long long yaml_value(const char *key) {
  blob b = fixture("quote.yaml");
  char *s = strndup((char *)b.p, b.n);
  char pat[64];
  snprintf(pat, sizeof pat, "%s: ", key);
  char *at = strstr(s, pat);
  assert_non_null(at);
  /* tpm2_print writes magic and type in hex, the counters in decimal. */
  int base = strcmp(key, "magic") == 0 || strcmp(key, "type") == 0 ? 16 : 10;
  unsigned long long v = strtoull(at + strlen(pat), NULL, base);
  free(s);
  free(b.p);
  return v;
}

/* ---- the quote ---------------------------------------------------------- */

static void test_quote_parse_matches_tpm2_print(void **state) {
  (void)state;
  blob q = fixture("quote.msg");
  attest_quote quote;
  lisec_err err = {0};
  assert_int_equal(attest_quote_parse(q.p, q.n, &quote, &err), 0);
  assert_int_equal(quote.magic, yaml_value("magic"));
  assert_int_equal(quote.type, yaml_value("type"));
  assert_int_equal(quote.clock, yaml_value("clock"));
  assert_int_equal(quote.reset_count, yaml_value("resetCount"));
  assert_int_equal(quote.restart_count, yaml_value("restartCount"));
  assert_int_equal(quote.safe, yaml_value("safe"));
  uint8_t nonce[ATTEST_NONCE_MAX];
  size_t nlen = fixture_nonce(nonce);
  assert_int_equal(quote.extra_len, nlen);
  assert_memory_equal(quote.extra, nonce, nlen);
  /* sha256:0,1,2,3,4,5,6,7,8,15 as selected on tpm2_quote's command line */
  assert_int_equal(quote.pcr_mask, 0x81ffu);
  free(q.p);
}

static void test_quote_parse_rejects_malformed(void **state) {
  (void)state;
  blob q = fixture("quote.msg");
  attest_quote quote;
  lisec_err err = {0};
  for (size_t n = 0; n < q.n; n++)
    assert_int_not_equal(attest_quote_parse(q.p, n, &quote, &err), 0);
  uint8_t *longer = malloc(q.n + 1);
  memcpy(longer, q.p, q.n);
  longer[q.n] = 0;
  assert_int_equal(attest_quote_parse(longer, q.n + 1, &quote, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after the TPMS_ATTEST"));
  uint8_t *big = calloc(1, ATTEST_QUOTE_MAX + 1);
  assert_int_equal(attest_quote_parse(big, ATTEST_QUOTE_MAX + 1, &quote, &err), LISEC_ETOOBIG);
  free(big);
  free(longer);
  free(q.p);
}

static void test_signature_ecdsa_and_rsa(void **state) {
  (void)state;
  const char *keys[] = {"ecc.ak.pub", "ecc.ak.pem", "rsa.ak.pub", "rsa.ak.pem"};
  const char *msgs[] = {"quote.msg", "quote.msg", "rsa.msg", "rsa.msg"};
  const char *sigs[] = {"quote.sig", "quote.sig", "rsa.sig", "rsa.sig"};
  for (size_t i = 0; i < 4; i++) {
    blob k = fixture(keys[i]), m = fixture(msgs[i]), s = fixture(sigs[i]);
    attest_ak *ak = NULL;
    lisec_err err = {0};
    assert_int_equal(attest_ak_from_file_bytes(k.p, k.n, &ak, &err), 0);
    assert_int_equal(attest_signature_verify(ak, m.p, m.n, s.p, s.n, &err), 0);
    /* One bit of the quote changed: no longer the TPM's statement. */
    m.p[m.n / 2] ^= 1;
    assert_int_equal(attest_signature_verify(ak, m.p, m.n, s.p, s.n, &err), LISEC_ECRYPTO);
    m.p[m.n / 2] ^= 1;
    /* One bit of the signature value (its last byte) changed. */
    s.p[s.n - 1] ^= 0x80;
    assert_int_equal(attest_signature_verify(ak, m.p, m.n, s.p, s.n, &err), LISEC_ECRYPTO);
    s.p[s.n - 1] ^= 0x80;
    /* A truncated TPMT_SIGNATURE is malformed, not a bad signature. */
    assert_int_equal(attest_signature_verify(ak, m.p, m.n, s.p, s.n - 1, &err), LISEC_EINVAL);
    attest_ak_free(ak);
    free(k.p), free(m.p), free(s.p);
  }
  /* The RSA quote under the ECDSA AK, and the other way round. */
  blob ek = fixture("ecc.ak.pub"), rm = fixture("rsa.msg"), rs = fixture("rsa.sig");
  attest_ak *ak = NULL;
  lisec_err err = {0};
  assert_int_equal(attest_ak_from_file_bytes(ek.p, ek.n, &ak, &err), 0);
  assert_int_equal(attest_signature_verify(ak, rm.p, rm.n, rs.p, rs.n, &err), LISEC_ECRYPTO);
  attest_ak_free(ak);
  free(ek.p), free(rm.p), free(rs.p);
}

static void test_ak_name_and_attributes(void **state) {
  (void)state;
  blob k = fixture("ecc.ak.pub"), name = fixture("ecc.ak.name"), ek = fixture("ek.pub");
  attest_ak *ak = NULL;
  lisec_err err = {0};
  assert_int_equal(attest_ak_from_tpm_public(k.p, k.n, &ak, &err), 0);
  size_t n = 0;
  const uint8_t *nm = attest_ak_name(ak, &n);
  /* The Name tpm2_createak -n wrote. */
  assert_int_equal(n, name.n);
  assert_memory_equal(nm, name.p, n);
  attest_ak_free(ak);
  /* An EK is a decryption key: never an AK. */
  assert_int_equal(attest_ak_from_tpm_public(ek.p, ek.n, &ak, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-O.1.6"));
  /* Clear "restricted" (objectAttributes bit 16, at offset 2+2+2+2): the
   * key could sign anything, including a forged TPMS_ATTEST. */
  k.p[6 + 1] &= (uint8_t)~0x01;
  assert_int_equal(attest_ak_from_tpm_public(k.p, k.n, &ak, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "not restricted"));
  free(k.p), free(name.p), free(ek.p);
}

static void test_host_id_matches_openssl(void **state) {
  (void)state;
  blob ek = fixture("ek.pub");
  char want[80], got[ATTEST_HOST_ID_LEN + 1];
  lisec_err err = {0};
  text_line("host_id.txt", want, sizeof want);
  assert_int_equal(attest_host_id(ek.p, ek.n, got, &err), 0);
  assert_string_equal(got, want);
  assert_int_not_equal(attest_host_id(ek.p, ek.n - 1, got, &err), 0);
  free(ek.p);
}

/* ---- PCR values ---------------------------------------------------------- */

static void test_pcrs_both_forms_and_digest(void **state) {
  (void)state;
  blob q = fixture("quote.msg"), ser = fixture("quote.pcrs"), val = fixture("quote.values");
  attest_quote quote;
  attest_pcrs a, b;
  lisec_err err = {0};
  assert_int_equal(attest_quote_parse(q.p, q.n, &quote, &err), 0);
  assert_int_equal(attest_pcrs_parse(ser.p, ser.n, quote.pcr_mask, &a, &err), 0);
  assert_int_equal(attest_pcrs_parse(val.p, val.n, quote.pcr_mask, &b, &err), 0);
  assert_int_equal(a.mask, quote.pcr_mask);
  assert_memory_equal(&a, &b, sizeof a);
  uint8_t d[ATTEST_DIGEST_LEN];
  assert_int_equal(attest_pcrs_digest(&a, d), 0);
  assert_memory_equal(d, quote.pcr_digest, ATTEST_DIGEST_LEN);
  /* lisec writes what tpm2-tools writes, byte for byte. */
  lisec_buf out;
  lisec_buf_init(&out, 1 << 16);
  assert_int_equal(attest_pcrs_write(&a, &out, &err), 0);
  assert_int_equal(out.len, ser.n);
  assert_memory_equal(out.data, ser.p, ser.n);
  lisec_buf_free(&out);
  /* Another selection than the quote's, truncations, a list count beyond 8. */
  assert_int_equal(attest_pcrs_parse(ser.p, ser.n, 0x1, &a, &err), LISEC_EINVAL);
  for (size_t n = 1; n < ser.n; n += 7)
    assert_int_not_equal(attest_pcrs_parse(ser.p, n, quote.pcr_mask, &a, &err), 0);
  ser.p[136] = 9;
  assert_int_equal(attest_pcrs_parse(ser.p, ser.n, quote.pcr_mask, &a, &err), LISEC_EINVAL);
  free(q.p), free(ser.p), free(val.p);
}

/* ---- event log ---------------------------------------------------------- */

static void test_eventlog_replays_to_quoted_pcrs(void **state) {
  (void)state;
  blob log = fixture("eventlog.bin"), ser = fixture("quote.pcrs");
  attest_eventlog el;
  attest_pcrs quoted, replay;
  lisec_err err = {0};
  assert_int_equal(attest_eventlog_parse(log.p, log.n, &el, &err), 0);
  /* 40 boot events and the location measurement. */
  assert_int_equal(el.count, 41);
  assert_int_equal(attest_pcrs_parse(ser.p, ser.n, 0, &quoted, &err), 0);
  attest_eventlog_replay(&el, &replay);
  for (unsigned i = 0; i < ATTEST_PCR_COUNT; i++)
    if (quoted.mask & (1u << i)) assert_memory_equal(replay.value[i], quoted.value[i], 32);
  assert_string_equal(attest_event_type_name(el.events[0].type), "EV_S_CRTM_VERSION");
  attest_eventlog_free(&el);
  free(log.p), free(ser.p);
}

static void test_eventlog_every_truncation_refused(void **state) {
  (void)state;
  blob log = fixture("eventlog.bin");
  attest_eventlog el;
  lisec_err err = {0};
  size_t accepted = 0;
  for (size_t n = 0; n < log.n; n++) {
    if (attest_eventlog_parse(log.p, n, &el, &err) == 0) {
      /* Only a cut exactly between two records parses, with fewer events. */
      assert_true(el.count < 41);
      accepted++;
      attest_eventlog_free(&el);
    }
  }
  assert_true(accepted <= 42);
  free(log.p);
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void test_eventlog_malformed(void **state) {
  (void)state;
  lisec_buf b;
  attest_eventlog el;
  lisec_err err = {0};
  uint8_t d[32] = {1};
  lisec_buf_init(&b, 64u << 20);
  assert_int_equal(attest_eventlog_write_header(&b, &err), 0);
  size_t hdr = b.len;
  assert_int_equal(attest_eventlog_write_event(&b, 4, 0x80000003, d, "x", 1, &err), 0);
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), 0);
  assert_int_equal(el.count, 1);
  attest_eventlog_free(&el);
  /* PCR 24 does not exist. */
  put32(b.data + hdr, 24);
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_EINVAL);
  put32(b.data + hdr, 4);
  /* A digest count beyond the declared algorithms. */
  put32(b.data + hdr + 8, 2);
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_EINVAL);
  put32(b.data + hdr + 8, 1);
  /* An algorithm the Spec ID event did not declare (SHA-384). */
  b.data[hdr + 12] = 0x0c;
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_EINVAL);
  b.data[hdr + 12] = 0x0b;
  /* An event size far beyond what is left, and beyond the bound. */
  put32(b.data + hdr + 46, 0x7fffffff);
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_ETOOBIG);
  put32(b.data + hdr + 46, 1000);
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_EINVAL);
  put32(b.data + hdr + 46, 1);
  /* The Spec ID signature altered: not a crypto-agile log. */
  b.data[32] = 'X';
  assert_int_equal(attest_eventlog_parse(b.data, b.len, &el, &err), LISEC_EINVAL);
  b.data[32] = 'S';
  /* A Spec ID event declaring SHA-1 only: nothing to appraise. */
  b.data[60] = 0x04, b.data[62] = 20;
  assert_int_equal(attest_eventlog_parse(b.data, hdr, &el, &err), LISEC_EINVAL);
  b.data[60] = 0x0b, b.data[62] = 32;
  /* More events than the bound. */
  lisec_buf many;
  lisec_buf_init(&many, 64u << 20);
  assert_int_equal(attest_eventlog_write_header(&many, &err), 0);
  for (int i = 0; i <= ATTEST_EVENTS_MAX; i++)
    assert_int_equal(attest_eventlog_write_event(&many, 8, 0xd, d, NULL, 0, &err), 0);
  assert_int_equal(attest_eventlog_parse(many.data, many.len, &el, &err), LISEC_ETOOBIG);
  lisec_buf_free(&many);
  lisec_buf_free(&b);
}

static void test_eventlog_startup_locality(void **state) {
  (void)state;
  /* PCR 0 starts at 00..03 (PC Client PFP, StartupLocality event), so its
   * value is SHA-256 chained from there over the logged digests. */
  blob log = fixture("eventlog-loc3.bin");
  attest_eventlog el;
  attest_pcrs replay;
  lisec_err err = {0};
  assert_int_equal(attest_eventlog_parse(log.p, log.n, &el, &err), 0);
  assert_int_equal(el.startup_locality, 3);
  attest_eventlog_replay(&el, &replay);
  uint8_t pcr0[32] = {0};
  pcr0[31] = 3;
  for (size_t i = 0; i < el.count; i++) {
    if (el.events[i].pcr != 0 || el.events[i].type == 3) continue;
    uint8_t both[64];
    memcpy(both, pcr0, 32);
    memcpy(both + 32, el.events[i].digest, 32);
    assert_int_equal(EVP_Digest(both, 64, pcr0, NULL, EVP_sha256(), NULL), 1);
  }
  assert_memory_equal(replay.value[0], pcr0, 32);
  attest_eventlog_free(&el);
  free(log.p);
}

/* ---- reference values ---------------------------------------------------- */

static int policy_from(const char *json, attest_policy **p, lisec_err *err) {
  return attest_policy_parse(json, strlen(json), p, err);
}

static void test_policy_parse(void **state) {
  (void)state;
  blob ref = fixture("reference.json");
  attest_policy *p = NULL;
  lisec_err err = {0};
  assert_int_equal(attest_policy_parse((char *)ref.p, ref.n, &p, &err), 0);
  assert_string_equal(attest_policy_id(p), "test-boot-1");
  assert_int_equal(attest_policy_pcrs(p), 0x81ffu);
  attest_policy_free(p);
  free(ref.p);
  /* The example shipped to operators must load. */
  lisec_err e2 = {0};
  uint8_t *ex = NULL;
  size_t exn = 0;
  assert_int_equal(lisec_file_read(ATTEST_EXAMPLE_POLICY, 1 << 20, &ex, &exn, &e2), 0);
  assert_int_equal(attest_policy_parse((char *)ex, exn, &p, &e2), 0);
  assert_int_equal(attest_policy_pcrs(p) & (1u << ATTEST_LOCATION_PCR), 1u << ATTEST_LOCATION_PCR);
  attest_policy_free(p);
  free(ex);
  /* A PCR the events describe must be quoted even when "pcrs" leaves it out. */
  assert_int_equal(policy_from("{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":4,"
                               "\"type\":\"EV_SEPARATOR\",\"any_digest\":true}]}",
                               &p, &e2),
                   0);
  assert_int_equal(attest_policy_pcrs(p), 0x11u);
  attest_policy_free(p);
  const char *d = "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"";
  char buf[1024];
  struct {
    const char *json, *why;
  } bad[] = {
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[]}", "no reference values"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0]}", "no reference values"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_NOPE\",\"digests\":[@]}]}",
       "neither a TCG name"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"0x8000000g\",\"digests\":[@]}]}",
       "neither a TCG name"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digest\":[@]}]}",
       "unknown key"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":[]}]}",
       "non-empty"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":[\"ab\"]}]}",
       "64 hex"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":[@]},"
       "{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":[@]}]}",
       "listed twice"},
      {"{\"policy_id\":\"x\",\"pcrs\":[24],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"digests\":[@]}]}",
       "PCR number"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_NO_ACTION\",\"digests\":[@]}]}",
       "never extended"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\",\"any_digest\":true,"
       "\"digests\":[@]}]}",
       "any_digest and digests"},
      {"{\"policy_id\":\"x\",\"pcrs\":[0],\"defaults\":\"accept\",\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\","
       "\"digests\":[@]}]}",
       "unknown key"},
      {"[]", "not a JSON object"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    /* "@" stands for a well-formed digest. */
    size_t o = 0;
    for (const char *c = bad[i].json; *c && o + 70 < sizeof buf; c++) {
      if (*c == '@') o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", d);
      else buf[o++] = *c;
    }
    buf[o] = '\0';
    p = NULL;
    assert_int_not_equal(policy_from(buf, &p, &err), 0);
    assert_null(p);
    if (!strstr(err.msg, bad[i].why)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].why);
  }
}

/* ---- location certificates, with a PKI made here by OpenSSL's API ------ */

typedef struct pki {
  EVP_PKEY *ca_key, *key;
  X509 *ca, *cert;
} pki;

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn, bool ca) {
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_subject_name(c, n);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
  X509_NAME_free(n);
  X509_set_pubkey(c, key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                          ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(c, e, -1);
  X509_EXTENSION_free(e);
  X509_sign(c, signer, EVP_sha256());
  return c;
}

static pki make_pki(void) {
  pki p;
  p.ca_key = EVP_EC_gen("P-256");
  p.key = EVP_EC_gen("P-256");
  p.ca = make_cert(p.ca_key, p.ca_key, NULL, "Asset Management CA", true);
  p.cert = make_cert(p.key, p.ca_key, p.ca, "asset-management", false);
  return p;
}

static void free_pki(pki *p) {
  EVP_PKEY_free(p->ca_key), EVP_PKEY_free(p->key), X509_free(p->ca), X509_free(p->cert);
}

static attest_location_ca *ca_of(const pki *p) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, p->ca);
  char *pem = NULL;
  long n = BIO_get_mem_data(b, &pem);
  attest_location_ca *ca = NULL;
  lisec_err err = {0};
  assert_int_equal(attest_location_ca_parse((uint8_t *)pem, (size_t)n, &ca, &err), 0);
  BIO_free(b);
  return ca;
}

/* CMS_sign over content, DER: what `openssl cms -sign -nodetach` makes. */
static blob sign_content(const pki *p, const char *content, int flags) {
  BIO *in = BIO_new_mem_buf(content, -1), *out = BIO_new(BIO_s_mem());
  CMS_ContentInfo *cms = CMS_sign(p->cert, p->key, NULL, in, CMS_BINARY | flags);
  assert_non_null(cms);
  i2d_CMS_bio(out, cms);
  char *der = NULL;
  long n = BIO_get_mem_data(out, &der);
  blob b = {malloc((size_t)n), (size_t)n};
  memcpy(b.p, der, (size_t)n);
  CMS_ContentInfo_free(cms);
  BIO_free(in), BIO_free(out);
  return b;
}

static const char good_location[] =
    "{\"type\":\"lisec-location/1\",\"host_id\":\"%s\",\"country\":\"%s\",\"subdivision\":\"%s\","
    "\"latitude\":%s,\"longitude\":24.94,\"site\":\"HEL1\",\"tpm_reset_count\":7,"
    "\"issued_at\":\"%s\"%s}";

static int location_with(const pki *signer, const attest_location_ca *ca, const char *country,
                         const char *sub, const char *lat, const char *issued, const char *extra,
                         attest_location *out, lisec_err *err) {
  char json[1024];
  snprintf(json, sizeof json, good_location,
           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", country, sub, lat,
           issued, extra);
  blob b = sign_content(signer, json, 0);
  int rc = attest_location_parse(b.p, b.n, ca, 0, out, err);
  free(b.p);
  return rc;
}

static void test_location_parse(void **state) {
  (void)state;
  pki p = make_pki(), other = make_pki();
  attest_location_ca *ca = ca_of(&p);
  attest_location loc;
  lisec_err err = {0};
  char now[32];
  lisec_time_format(lisec_time_now() - 60, now);
  assert_int_equal(location_with(&p, ca, "FI", "FI-18", "60.17", now, "", &loc, &err), 0);
  assert_string_equal(loc.country, "FI");
  assert_string_equal(loc.subdivision, "FI-18");
  assert_int_equal(loc.reset_count, 7);
  assert_true(loc.latitude > 60.16 && loc.latitude < 60.18);
  /* What attest_location_content writes for the issuing side parses back. */
  attest_location want = loc;
  char *content = attest_location_content(&want);
  assert_non_null(content);
  blob signed_content = sign_content(&p, content, 0);
  attest_location back;
  assert_int_equal(attest_location_parse(signed_content.p, signed_content.n, ca, 0, &back, &err), 0);
  assert_string_equal(back.host_id, want.host_id);
  assert_string_equal(back.site, want.site);
  assert_int_equal(back.reset_count, want.reset_count);
  assert_int_equal(back.issued_at, want.issued_at);
  free(signed_content.p);
  free(content);
  /* The restartCount is optional (0), and kept when given (a TPM Restart
   * keeps resetCount: attest_verify compares both). */
  assert_int_equal(loc.restart_count, 0);
  assert_int_equal(location_with(&p, ca, "FI", "FI-18", "60.17", now, ",\"tpm_restart_count\":3",
                                 &loc, &err),
                   0);
  assert_int_equal(loc.restart_count, 3);
  content = attest_location_content(&loc);
  assert_non_null(strstr(content, "\"tpm_restart_count\":3"));
  signed_content = sign_content(&p, content, 0);
  assert_int_equal(attest_location_parse(signed_content.p, signed_content.n, ca, 0, &back, &err), 0);
  assert_int_equal(back.restart_count, 3);
  free(signed_content.p);
  free(content);
  /* Another asset-management CA signed it. */
  assert_int_equal(location_with(&other, ca, "FI", "FI-18", "60.17", now, "", &loc, &err),
                   LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-6.2-R8"));
  /* Content that is not a location. */
  char future[32];
  lisec_time_format(lisec_time_now() + 86400, future);
  struct {
    const char *country, *sub, *lat, *issued, *extra, *why;
  } bad[] = {
      {"fi", "FI-18", "60.17", now, "", "ISO 3166-1"},
      {"FI", "SE-AB", "60.17", now, "", "ISO 3166-2"},
      {"FI", "FI-18", "91", now, "", "out of range"},
      {"FI", "FI-18", "60.17", future, "", "in the future"},
      {"FI", "FI-18", "60.17", now, ",\"trusted\":true", "unknown key"},
      {"FI", "FI-18", "60.17", "yesterday", "", "RFC 3339"},
      {"FI", "FI-18", "60.17", now, ",\"tpm_restart_count\":-1", "tpm_restart_count"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    assert_int_not_equal(location_with(&p, ca, bad[i].country, bad[i].sub, bad[i].lat,
                                       bad[i].issued, bad[i].extra, &loc, &err),
                         0);
    if (!strstr(err.msg, bad[i].why)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].why);
  }
  /* A detached signature carries no content; a tampered one does not verify. */
  blob det = sign_content(&p, "{}", CMS_DETACHED);
  assert_int_not_equal(attest_location_parse(det.p, det.n, ca, 0, &loc, &err), 0);
  free(det.p);
  char json[600];
  snprintf(json, sizeof json, good_location,
           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "FI", "FI-18",
           "60.17", now, "");
  blob good = sign_content(&p, json, 0);
  uint8_t *hit = memmem(good.p, good.n, "HEL1", 4);
  assert_non_null(hit);
  hit[0] = 'X';
  assert_int_equal(attest_location_parse(good.p, good.n, ca, 0, &loc, &err), LISEC_EDENIED);
  assert_int_equal(attest_location_parse(good.p, ATTEST_LOCATION_MAX + 1, ca, 0, &loc, &err),
                   LISEC_ETOOBIG);
  free(good.p);
  attest_location_ca_free(ca);
  free_pki(&p), free_pki(&other);
}

static blob pem_of(X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  blob out = {malloc((size_t)n), (size_t)n};
  memcpy(out.p, p, (size_t)n);
  BIO_free(b);
  return out;
}

static blob der_of(X509 *c) {
  unsigned char *d = NULL;
  int n = i2d_X509(c, &d);
  blob out = {malloc((size_t)n), (size_t)n};
  memcpy(out.p, d, (size_t)n);
  OPENSSL_free(d);
  return out;
}

static void test_ek_certificate(void **state) {
  (void)state;
  blob ek = fixture("ek.pub"), ekpem = fixture("ek.pem");
  BIO *b = BIO_new_mem_buf(ekpem.p, (int)ekpem.n);
  EVP_PKEY *ekkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
  BIO_free(b);
  assert_non_null(ekkey);
  pki mfr = make_pki(), rogue = make_pki();
  X509 *cert = make_cert(ekkey, mfr.ca_key, mfr.ca, "EK", false);
  X509 *other = make_cert(mfr.key, mfr.ca_key, mfr.ca, "not the EK", false);
  blob der = der_of(cert), oder = der_of(other), ca = pem_of(mfr.ca), rca = pem_of(rogue.ca);
  lisec_err err = {0};
  assert_int_equal(attest_ek_cert_check(ek.p, ek.n, der.p, der.n, ca.p, ca.n, 0, &err), 0);
  assert_int_equal(attest_ek_cert_check(ek.p, ek.n, der.p, der.n, rca.p, rca.n, 0, &err),
                   LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "does not chain"));
  assert_int_equal(attest_ek_cert_check(ek.p, ek.n, oder.p, oder.n, ca.p, ca.n, 0, &err),
                   LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "another key"));
  assert_int_equal(attest_ek_cert_check(ek.p, ek.n, der.p, der.n - 1, ca.p, ca.n, 0, &err),
                   LISEC_EINVAL);
  /* Valid now, but not a year from now. */
  assert_int_equal(attest_ek_cert_check(ek.p, ek.n, der.p, der.n, ca.p, ca.n,
                                        lisec_time_now() + 366 * 86400, &err),
                   LISEC_EDENIED);
  X509_free(cert), X509_free(other), EVP_PKEY_free(ekkey);
  free(der.p), free(oder.p), free(ca.p), free(rca.p), free(ek.p), free(ekpem.p);
  free_pki(&mfr), free_pki(&rogue);
}

/* ---- the whole appraisal on the fixtures -------------------------------- */

typedef struct world {
  blob ak, msg, sig, pcrs, log, ref, loc, loc_next, ca;
  attest_ak *akey;
  attest_policy *policy;
  attest_location_ca *lca;
  uint8_t nonce[ATTEST_NONCE_MAX];
  size_t nonce_len;
  char host[80];
  int64_t made_at;
} world;

static int setup_world(void **state) {
  world *w = calloc(1, sizeof *w);
  lisec_err err = {0};
  w->ak = fixture("ecc.ak.pub"), w->msg = fixture("quote.msg"), w->sig = fixture("quote.sig");
  w->pcrs = fixture("quote.pcrs"), w->log = fixture("eventlog.bin");
  w->ref = fixture("reference.json"), w->loc = fixture("location.cms");
  w->loc_next = fixture("location-next-reset.cms"), w->ca = fixture("am-ca.crt");
  assert_int_equal(attest_ak_from_tpm_public(w->ak.p, w->ak.n, &w->akey, &err), 0);
  assert_int_equal(attest_policy_parse((char *)w->ref.p, w->ref.n, &w->policy, &err), 0);
  assert_int_equal(attest_location_ca_parse(w->ca.p, w->ca.n, &w->lca, &err), 0);
  w->nonce_len = fixture_nonce(w->nonce);
  text_line("host_id.txt", w->host, sizeof w->host);
  char t[32];
  text_line("made_at.txt", t, sizeof t);
  w->made_at = strtoll(t, NULL, 10);
  *state = w;
  return 0;
}

static int teardown_world(void **state) {
  world *w = *state;
  blob *all[] = {&w->ak, &w->msg, &w->sig, &w->pcrs, &w->log, &w->ref, &w->loc, &w->loc_next, &w->ca};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(all); i++) free(all[i]->p);
  attest_ak_free(w->akey);
  attest_policy_free(w->policy);
  attest_location_ca_free(w->lca);
  free(w);
  return 0;
}

static attest_context ctx_of(const world *w) {
  /* Certificates are checked at the time the fixtures were made, so the
   * test does not expire with them. */
  attest_context c = {.ak = w->akey, .nonce = w->nonce, .nonce_len = w->nonce_len,
                      .policy = w->policy, .location_ca = w->lca, .host_id = w->host,
                      .now = w->made_at + 60};
  return c;
}

static attest_evidence ev_of(const world *w) {
  attest_evidence e = {w->msg.p, w->msg.n, w->sig.p, w->sig.n, w->pcrs.p, w->pcrs.n,
                       w->log.p, w->log.n, w->loc.p, w->loc.n};
  return e;
}

static bool has_reason(const attest_verdict *v, const char *needle) {
  for (size_t i = 0; i < v->nreasons; i++)
    if (strstr(v->reasons[i], needle)) return true;
  return false;
}

static void test_verify_good(void **state) {
  world *w = *state;
  attest_context c = ctx_of(w);
  attest_evidence e = ev_of(w);
  attest_verdict v;
  lisec_err err = {0};
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  if (!v.ok) fail_msg("rejected: %s", v.reasons[0]);
  assert_true(v.signature_ok && v.nonce_ok && v.pcr_digest_ok && v.replay_ok && v.reference_ok &&
              v.location_ok);
  assert_int_equal(v.nevents, 41);
  assert_string_equal(v.location.country, "FI");
  assert_int_equal(v.tv.executables, 3);
  assert_int_equal(v.tv.sourced_data, 2);
  json_t *ear = attest_ear(&v, w->host, w->nonce, w->nonce_len, 1700000000);
  json_t *sub = json_object_get(json_object_get(ear, "submods"), "lisec-host");
  assert_string_equal(json_string_value(json_object_get(sub, "ear.status")), "affirming");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(sub, "ear.trustworthiness-vector"), "instance-identity")),
                   2);
  const char *n = json_string_value(json_object_get(ear, "eat_nonce"));
  assert_non_null(n);
  assert_null(strchr(n, '='));
  json_decref(ear);
  json_t *j = attest_verdict_json(&v);
  assert_true(json_is_true(json_object_get(j, "verified")));
  json_decref(j);
}

static void test_verify_fails_closed(void **state) {
  world *w = *state;
  attest_evidence e = ev_of(w);
  attest_verdict v;
  lisec_err err = {0};
  /* No policy, no flag saying "quote only": rejected. */
  attest_context c = ctx_of(w);
  c.policy = NULL;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "TR103308-5.4: no reference values loaded"));
  /* A policy but no event log: the boot cannot be appraised. */
  c = ctx_of(w);
  e.eventlog = NULL, e.eventlog_len = 0;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "no event log"));
  /* A location CA configured, but no certificate presented. */
  e = ev_of(w);
  e.location = NULL, e.location_len = 0;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "TR103308-6.2-R8: no location certificate"));
  /* Caller mistakes are errors, not verdicts. */
  c.ak = NULL;
  assert_int_equal(attest_verify(&c, &e, &v, &err), LISEC_EINVAL);
  c = ctx_of(w);
  c.nonce_len = 8;
  assert_int_equal(attest_verify(&c, &e, &v, &err), LISEC_EINVAL);
}

static void test_verify_rejections(void **state) {
  world *w = *state;
  attest_verdict v;
  lisec_err err = {0};
  attest_context c = ctx_of(w);
  attest_evidence e = ev_of(w);
  /* Wrong nonce. */
  uint8_t other[ATTEST_NONCE_MAX];
  memcpy(other, w->nonce, w->nonce_len);
  other[0] ^= 1;
  c.nonce = other;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "does not carry this attestation's nonce"));
  assert_int_equal(v.tv.instance_identity, 96);
  /* A bootloader the policy does not know: drop the grub digest. */
  c = ctx_of(w);
  attest_policy *p = NULL;
  char *ref = strndup((char *)w->ref.p, w->ref.n);
  char *grub = NULL;
  {
    /* The approved EV_EFI_BOOT_SERVICES_APPLICATION digests are shim, grub
     * and the kernel; replace grub's (as tpm2-tools-independent SHA-256 of
     * "grub 2.12 image") by another value. */
    uint8_t d[32];
    char hex[65];
    assert_int_equal(EVP_Digest("grub 2.12 image", 15, d, NULL, EVP_sha256(), NULL), 1);
    lisec_hex_encode(d, 32, hex);
    grub = strstr(ref, hex);
    assert_non_null(grub);
    memset(grub, '0', 64);
  }
  assert_int_equal(attest_policy_parse(ref, strlen(ref), &p, &err), 0);
  c.policy = p;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "TR103308-5.4: PCR 4 event EV_EFI_BOOT_SERVICES_APPLICATION digest"));
  assert_true(has_reason(&v, "not in reference values"));
  assert_int_equal(v.tv.executables, 33);
  attest_policy_free(p);
  free(ref);
  /* A policy that does not describe PCR 8's EV_IPL events at all. */
  const char *narrow =
      "{\"policy_id\":\"narrow\",\"pcrs\":[0],\"events\":[{\"pcr\":0,\"type\":\"EV_SEPARATOR\","
      "\"digests\":[\"df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119\"]}]}";
  assert_int_equal(policy_from(narrow, &p, &err), 0);
  c.policy = p;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_true(has_reason(&v, "PCR 0 event EV_S_CRTM_VERSION has no reference values"));
  /* Every one of the 40 events is refused; the verdict keeps the first
   * ATTEST_REASONS_MAX and counts the rest. */
  assert_int_equal(v.nreasons, ATTEST_REASONS_MAX);
  assert_true(v.more_reasons > 0);
  attest_policy_free(p);
  /* The location certificate for the next resetCount: not the measured
   * one, and its resetCount is not the quote's. */
  c = ctx_of(w);
  e.location = w->loc_next.p, e.location_len = w->loc_next.n;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_true(has_reason(&v, "TR103308-6.2-R10: location confirmed at TPM resetCount"));
  assert_true(has_reason(&v, "not the one last measured"));
  assert_int_equal(v.tv.sourced_data, 32);
  /* Another host's id. */
  e = ev_of(w);
  c.host_id = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_true(has_reason(&v, "TR103308-6.2-R12"));
  /* A quote whose magic is not TPM_GENERATED (and so not signed either). */
  c = ctx_of(w);
  uint8_t *msg = malloc(w->msg.n);
  memcpy(msg, w->msg.p, w->msg.n);
  msg[0] = 0x00;
  e.quote = msg;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_true(has_reason(&v, "not TPM_GENERATED"));
  assert_true(has_reason(&v, "quote signature"));
  free(msg);
  /* A truncated quote is malformed. */
  e = ev_of(w);
  e.quote_len -= 1;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_true(v.malformed && !v.ok);
}

/* ---- nonces, trust over time, credentials ------------------------------ */

/* The AK's qualified name as the EK's child is the qualifiedSigner
 * tpm2_print shows in a quote by an AK tpm2_createak made under that EK;
 * attest_verify given the EK refuses a quote whose signer is not that
 * (an AK elsewhere, whose counters the TPM obfuscates), and one whose AK
 * has no Name. */
static void test_ak_qualified_name(void **state) {
  world *w = *state;
  blob ek = fixture("ek.pub"), other = fixture("rsa.ak.pub"), yaml = fixture("quote.yaml"),
       pem = fixture("ecc.ak.pem");
  uint8_t qn[ATTEST_NAME_MAX], want[ATTEST_NAME_MAX];
  size_t qn_len = 0;
  lisec_err err = {0};
  char *y = strndup((char *)yaml.p, yaml.n), *at = strstr(y, "qualifiedSigner: ");
  assert_non_null(at);
  at += strlen("qualifiedSigner: ");
  at[strcspn(at, "\n")] = '\0';
  assert_int_equal(strlen(at), 2 * 34);
  assert_int_equal(lisec_hex_decode(at, want, 34), 0);
  assert_int_equal(attest_ak_qualified_name(ek.p, ek.n, w->akey, qn, &qn_len, &err), 0);
  assert_int_equal(qn_len, 34);
  assert_memory_equal(qn, want, 34);
  attest_quote q;
  assert_int_equal(attest_quote_parse(w->msg.p, w->msg.n, &q, &err), 0);
  assert_int_equal(q.signer_len, 34);
  assert_memory_equal(q.signer, want, 34);

  attest_context c = ctx_of(w);
  attest_evidence e = ev_of(w);
  attest_verdict v;
  c.ek_pub = ek.p, c.ek_pub_len = ek.n;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  if (!v.ok) fail_msg("rejected: %s", v.reasons[0]);
  /* another key as the EK: the signer is not its child */
  c.ek_pub = other.p, c.ek_pub_len = other.n;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_false(v.signature_ok);
  assert_int_equal(v.tv.instance_identity, 96);
  assert_true(has_reason(&v, "TR103308-5.1: the quote's signer is not an AK under this host's "
                             "EK in the endorsement hierarchy"));
  /* a malformed EK, and an AK from PEM (no Name): refused, saying why */
  c.ek_pub = ek.p, c.ek_pub_len = ek.n - 1;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok || v.signature_ok);
  assert_true(has_reason(&v, "TR103308-5.1: the AK's qualified name under this host's EK "
                             "cannot be computed"));
  attest_ak *pak = NULL;
  assert_int_equal(attest_ak_from_file_bytes(pem.p, pem.n, &pak, &err), 0);
  assert_int_equal(attest_ak_qualified_name(ek.p, ek.n, pak, qn, &qn_len, &err), LISEC_EINVAL);
  attest_ak_free(pak);
  free(y);
  free(ek.p), free(other.p), free(yaml.p), free(pem.p);
}

static void test_nonces(void **state) {
  (void)state;
  attest_nonces *t = attest_nonces_new(2);
  uint8_t a[ATTEST_NONCE_LEN], b[ATTEST_NONCE_LEN], c[ATTEST_NONCE_LEN];
  lisec_err err = {0};
  assert_int_equal(attest_nonce_issue(t, 1000, 60000, a, &err), 0);
  assert_int_equal(attest_nonce_issue(t, 1000, 60000, b, &err), 0);
  assert_memory_not_equal(a, b, ATTEST_NONCE_LEN);
  assert_int_equal(attest_nonce_consume(t, a, sizeof a, 2000, &err), 0);
  assert_int_equal(attest_nonce_consume(t, a, sizeof a, 2000, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "replayed"));
  assert_int_equal(attest_nonce_consume(t, b, sizeof b, 61001, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "expired"));
  assert_int_equal(attest_nonce_consume(t, b, 16, 2000, &err), LISEC_EDENIED);
  /* A third nonce in a table of two pushes out the one nearest expiry. */
  assert_int_equal(attest_nonce_issue(t, 1000, 120000, c, &err), 0);
  json_t *j = attest_nonces_to_json(t);
  attest_nonces *u = NULL;
  assert_int_equal(attest_nonces_from_json(j, 2, &u, &err), 0);
  assert_int_equal(attest_nonce_consume(u, c, sizeof c, 2000, &err), 0);
  uint8_t never[ATTEST_NONCE_LEN] = {0};
  assert_int_equal(attest_nonce_consume(u, never, sizeof never, 2000, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "unknown"));
  json_decref(j);
  attest_nonces_free(u);
  attest_nonces_free(t);
}

static void test_trust_over_time(void **state) {
  (void)state;
  assert_int_equal(attest_trust_at(0, true, 600, 1000), ATTEST_TRUST_NEVER);
  assert_int_equal(attest_trust_at(900, false, 600, 1000), ATTEST_TRUST_FAILED);
  assert_int_equal(attest_trust_at(900, true, 600, 1000), ATTEST_TRUST_OK);
  assert_int_equal(attest_trust_at(300, true, 600, 1000), ATTEST_TRUST_OVERDUE);
  /* The LI freshness rule: 60 s. */
  assert_int_equal(attest_trust_at(939, true, ATTEST_FRESH_LI_S, 1000), ATTEST_TRUST_OVERDUE);
  assert_int_equal(attest_trust_at(2000, true, 600, 1000), ATTEST_TRUST_OVERDUE);
  assert_string_equal(attest_trust_name(ATTEST_TRUST_OK), "trusted");
}

static void test_credential_inputs(void **state) {
  (void)state;
  blob ek = fixture("ek.pub"), ak = fixture("ecc.ak.pub"), name = fixture("ecc.ak.name");
  lisec_buf out;
  lisec_err err = {0};
  uint8_t secret[32] = {1, 2, 3};
  lisec_buf_init(&out, 8192);
  assert_int_equal(attest_credential_make(ek.p, ek.n, name.p, name.n, secret, 32, &out, &err), 0);
  /* tpm2-tools' file: magic, version, then the two halves. */
  assert_memory_equal(out.data, "\xba\xdc\xc0\xde\0\0\0\1", 8);
  const uint8_t *id, *enc;
  size_t id_len, enc_len;
  assert_int_equal(attest_credential_split(out.data, out.len, &id, &id_len, &enc, &enc_len, &err), 0);
  /* RSA 2048 EK: the encrypted seed is 256 bytes. */
  assert_int_equal(enc_len, 2 + 256);
  assert_int_equal(id_len, 2 + (2 + 32) + (2 + 32));
  assert_int_not_equal(attest_credential_split(out.data, out.len - 1, &id, &id_len, &enc, &enc_len, &err), 0);
  out.data[0] = 0;
  assert_int_not_equal(attest_credential_split(out.data, out.len, &id, &id_len, &enc, &enc_len, &err), 0);
  /* The AK is not an EK; a Name must be nameAlg || digest; secrets bounded. */
  out.len = 0;
  assert_int_equal(attest_credential_make(ak.p, ak.n, name.p, name.n, secret, 32, &out, &err), LISEC_EINVAL);
  assert_int_equal(attest_credential_make(ek.p, ek.n, name.p, name.n - 1, secret, 32, &out, &err), LISEC_EINVAL);
  assert_int_equal(attest_credential_make(ek.p, ek.n, name.p, name.n, secret, 0, &out, &err), LISEC_EINVAL);
  assert_int_equal(attest_credential_make(ek.p, ek.n, name.p, name.n, secret, 65, &out, &err), LISEC_EINVAL);
  lisec_buf_free(&out);
  free(ek.p), free(ak.p), free(name.p);
}


/* ---- the host inventory (issue 15) --------------------------------------- */

#define INV_HOST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define INV_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define INV_DOM(uuid, vm) \
  "{\"uuid\":\"" uuid "\",\"vm\":" vm ",\"package\":\"p\",\"state\":\"running\",\"images\":[{\"disk\":\"vda\"," \
  "\"sha256\":\"" INV_SHA "\"}],\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"type\":\"network\"," \
  "\"source\":\"default\",\"target\":\"vnet0\"}]}"
#define INV_U1 "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define INV_U2 "6695eb01-f6a4-8304-79aa-97f2502e1940"

static int inv_parse(const char *s, size_t max_bytes, size_t max_domains, attest_inventory *inv,
                     lisec_err *err) {
  memset(err, 0, sizeof *err);
  return attest_inventory_parse(s, strlen(s), max_bytes, max_domains, inv, err);
}

/* An inventory with domains d (already JSON) around the version-1 envelope. */
static char *inv_doc(const char *domains) {
  char *s = NULL;
  assert_true(asprintf(&s, "{\"version\":1,\"host\":\"" INV_HOST "\",\"taken_at\":1764800000,"
                           "\"domains\":[%s]}", domains) > 0);
  return s;
}

static void test_inventory_parse(void **state) {
  (void)state;
  attest_inventory inv;
  lisec_err err;
  char *good = inv_doc(INV_DOM(INV_U1, "\"vm-1\"") "," INV_DOM(INV_U2, "null"));
  assert_int_equal(inv_parse(good, 0, 0, &inv, &err), 0);
  assert_string_equal(inv.host, INV_HOST);
  assert_int_equal(inv.taken_at, 1764800000);
  assert_int_equal(inv.n, 2);
  assert_string_equal(inv.domains[0].uuid, INV_U1);
  assert_string_equal(inv.domains[0].vm, "vm-1");
  assert_string_equal(inv.domains[1].vm, ""); /* null: no lisec VM id */
  assert_string_equal(inv.domains[0].package, "p");
  assert_int_equal(inv.domains[0].state, ATTEST_DOM_RUNNING);
  assert_int_equal(inv.domains[0].n_images, 1);
  assert_string_equal(inv.domains[0].images[0].disk, "vda");
  /* SHA-256 of nothing (FIPS 180-4 test vector) begins e3 b0 c4 42. */
  static const uint8_t empty_sha[4] = {0xe3, 0xb0, 0xc4, 0x42};
  assert_memory_equal(inv.domains[0].images[0].sha256, empty_sha, 4);
  assert_int_equal(inv.domains[0].n_ifaces, 1);
  assert_string_equal(inv.domains[0].ifaces[0].mac, "52:54:00:00:00:01");
  assert_int_equal(inv.domains[0].ifaces[0].type, ATTEST_IF_NETWORK);
  assert_string_equal(inv.domains[0].ifaces[0].source, "default");
  assert_string_equal(inv.domains[0].ifaces[0].target, "vnet0");
  attest_inventory_free(&inv);
  assert_null(inv.domains);

  /* Truncated at every length: refused, nothing left allocated. */
  size_t len = strlen(good);
  for (size_t cut = 0; cut < len; cut++) {
    memset(&err, 0, sizeof err);
    assert_int_not_equal(attest_inventory_parse(good, cut, 0, 0, &inv, &err), 0);
    assert_int_equal(inv.n, 0);
    assert_null(inv.domains);
  }
  /* Over the byte bound and over the domain bound. */
  assert_int_equal(inv_parse(good, len - 1, 0, &inv, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "more than"));
  assert_int_equal(inv_parse(good, 0, 1, &inv, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "more than 1 domains"));
  free(good);

  struct {
    const char *domains, *why;
  } bad[] = {
      {INV_DOM(INV_U1, "\"vm-1\"") "," INV_DOM(INV_U1, "\"vm-2\""), "reported twice"},
      {INV_DOM(INV_U1, "\"-vm\""), "lisec VM id"},
      {INV_DOM(INV_U1, "\"\""), "lisec VM id"},
      {INV_DOM(INV_U1, "\"vm 1\""), "lisec VM id"},
      {INV_DOM(INV_U1, "17"), "must be a string or null"},
      {INV_DOM("6695EB01-F6A4-8304-79AA-97F2502E193F", "null"), "not a lower-case"},
      {INV_DOM("6695eb01f6a4830479aa97f2502e193f", "null"), "not a lower-case"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[{\"disk\":"
       "\"vda\",\"sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}],"
       "\"interfaces\":[]}", "64 lower-case hex"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[{\"disk\":"
       "\"vda\",\"sha256\":\"e3b0\"}],\"interfaces\":[]}", "64 lower-case hex"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[{\"disk\":"
       "\"vda\",\"sha256\":\"" INV_SHA "x\"}],\"interfaces\":[]}", "longer than 64"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"asleep\",\"images\":[],"
       "\"interfaces\":[]}", "\"state\" is not"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":{},"
       "\"interfaces\":[]}", "must be an array"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[],"
       "\"interfaces\":[{\"mac\":\"52:54:00:00:00\",\"type\":\"network\",\"source\":null,\"target\":null}]}",
       "\"mac\" is not"},
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[],"
       "\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"type\":\"wifi\",\"source\":null,\"target\":null}]}",
       "\"type\" is not"},
      /* Extra fields are refused by name (a newer format is a new version). */
      {"{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\",\"images\":[],"
       "\"interfaces\":[],\"name\":\"x\"}", "name"},
      {"{\"uuid\":\"" INV_U1 "\",\"package\":null,\"state\":\"running\",\"images\":[],\"interfaces\":[]}",
       "has no \"vm\""},
      {"17", "must be an object"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    char *s = inv_doc(bad[i].domains);
    int rc = inv_parse(s, 0, 0, &inv, &err);
    if (rc == 0 || !strstr(err.msg, bad[i].why))
      fail_msg("case %zu: rc %d, \"%s\" (wanted \"%s\")", i, rc, err.msg, bad[i].why);
    assert_null(inv.domains);
    free(s);
  }
  /* The reason for a bad id never echoes the id. */
  char *s = inv_doc(INV_DOM(INV_U1, "\"li-target-vm secret\""));
  assert_int_equal(inv_parse(s, 0, 0, &inv, &err), LISEC_EINVAL);
  assert_null(strstr(err.msg, "secret"));
  free(s);
  /* The envelope: version, wrong types, extra fields, more than 64 disks. */
  const char *env_bad[][2] = {
      {"{\"version\":2,\"host\":\"h\",\"taken_at\":0,\"domains\":[]}", "version"},
      {"{\"version\":1,\"host\":7,\"taken_at\":0,\"domains\":[]}", "must be a string"},
      {"{\"version\":1,\"host\":\"\",\"taken_at\":0,\"domains\":[]}", "empty"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":\"now\",\"domains\":[]}", "taken_at"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":0,\"domains\":{}}", "must be an array"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":0,\"domains\":[],\"x\":1}", "x"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":0}", "domains"},
      {"[]", "must be an object"},
      {"{\"version\":1,\"version\":1,\"host\":\"h\",\"taken_at\":0,\"domains\":[]}", "JSON"},
      {"{\"version\":1,\"host\":\"h\\u0000x\",\"taken_at\":0,\"domains\":[]}", "NUL"},
      /* 19 digits: past int64 as 19 nines, refused without overflowing
       * (make fuzz found the overflow; the sanitizer build aborts on it) */
      {"{\"version\":9999999999999999999,\"host\":\"h\",\"taken_at\":0,\"domains\":[]}", "JSON"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":9999999999999999999,\"domains\":[]}", "JSON"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(env_bad); i++) {
    int rc = inv_parse(env_bad[i][0], 0, 0, &inv, &err);
    if (rc == 0 || !strstr(err.msg, env_bad[i][1]))
      fail_msg("envelope %zu: rc %d, \"%s\" (wanted \"%s\")", i, rc, err.msg, env_bad[i][1]);
  }
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  const char *head = "{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":null,\"state\":\"running\","
                     "\"interfaces\":[],\"images\":[";
  assert_int_equal(lisec_buf_append(&b, head, strlen(head)), 0);
  for (int i = 0; i <= ATTEST_INV_DISKS_MAX; i++) {
    char one[128];
    int n = snprintf(one, sizeof one, "%s{\"disk\":\"vd%d\",\"sha256\":\"" INV_SHA "\"}", i ? "," : "", i);
    assert_int_equal(lisec_buf_append(&b, one, (size_t)n), 0);
  }
  assert_int_equal(lisec_buf_append(&b, "]}", 3), 0); /* with the NUL */
  s = inv_doc((char *)b.data);
  assert_int_equal(inv_parse(s, 0, 0, &inv, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "more than 64 images"));
  free(s);
  lisec_buf_free(&b);
}

static void inv_assert_same(const attest_inventory *a, const attest_inventory *b) {
  assert_string_equal(a->host, b->host);
  assert_int_equal(a->taken_at, b->taken_at);
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    const attest_inv_domain *x = &a->domains[i], *y = &b->domains[i];
    assert_memory_equal(x->uuid, y->uuid, sizeof x->uuid);
    assert_memory_equal(x->vm, y->vm, sizeof x->vm);
    assert_memory_equal(x->package, y->package, sizeof x->package);
    assert_int_equal(x->state, y->state);
    assert_int_equal(x->n_images, y->n_images);
    assert_int_equal(x->n_ifaces, y->n_ifaces);
    if (x->n_images) assert_memory_equal(x->images, y->images, x->n_images * sizeof *x->images);
    if (x->n_ifaces) assert_memory_equal(x->ifaces, y->ifaces, x->n_ifaces * sizeof *x->ifaces);
  }
}

/* doc with the host's first digit written "\u0030" (a new string). */
static char *inv_escaped(const char *doc) {
  const char *h = strstr(doc, INV_HOST);
  assert_non_null(h);
  size_t at = (size_t)(h - doc);
  char *esc = NULL;
  assert_true(asprintf(&esc, "%.*s\\u0030%s", (int)at, doc, doc + at + 1) > 0);
  return esc;
}

/* attest_inventory_parse reads the common form directly and leaves every
 * other form to jansson: the same document with one "\u0030" escape (the
 * host's first digit) goes the jansson way, so both must give the same
 * inventory, field by field. The expected values are the test's own. */
static void test_inventory_direct_read(void **state) {
  (void)state;
  const char *docs[] = {
      INV_DOM(INV_U1, "\"vm-1\"") "," INV_DOM(INV_U2, "null"),
      "",
      " { \"interfaces\" : [ ] , \"images\" : [ ] , \"state\" : \"paused\" , \"package\" : null ,"
      " \"vm\" : \"a.b_c:d-1\" , \"uuid\" : \"" INV_U1 "\" } ",
      "{\"uuid\":\"" INV_U1 "\",\"vm\":null,\"package\":\"pkg\",\"state\":\"other\",\"images\":[{\"sha256\":\""
      INV_SHA "\",\"disk\":\"vd\\/a\"},{\"disk\":\"vdb\",\"sha256\":\"" INV_SHA "\"}],\"interfaces\":["
      "{\"mac\":\"52:54:00:00:00:01\",\"type\":\"bridge\",\"source\":\"br \\\"0\\\\\",\"target\":null},"
      "{\"target\":\"\",\"source\":null,\"type\":\"direct\",\"mac\":\"52:54:00:ab:cd:ef\"}]}",
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(docs); i++) {
    char *plain = inv_doc(docs[i]), *esc = inv_escaped(plain);
    attest_inventory a, b;
    lisec_err err;
    assert_int_equal(inv_parse(plain, 0, 0, &a, &err), 0);
    assert_int_equal(inv_parse(esc, 0, 0, &b, &err), 0);
    assert_string_equal(a.host, INV_HOST);
    inv_assert_same(&a, &b);
    if (i == 2) {
      assert_string_equal(a.domains[0].vm, "a.b_c:d-1");
      assert_int_equal(a.domains[0].state, ATTEST_DOM_PAUSED);
    }
    if (i == 3) {
      assert_string_equal(a.domains[0].images[0].disk, "vd/a");
      assert_string_equal(a.domains[0].ifaces[0].source, "br \"0\\");
      assert_string_equal(a.domains[0].ifaces[0].target, "");
      assert_int_equal(a.domains[0].ifaces[1].type, ATTEST_IF_DIRECT);
    }
    attest_inventory_free(&a);
    attest_inventory_free(&b);
    free(plain);
    free(esc);
  }
  /* Many domains (the array grows past its first allocation), spaced out. */
  lisec_buf buf;
  lisec_buf_init(&buf, 1 << 20);
  for (int i = 0; i < 100; i++) {
    char one[1024];
    int n = snprintf(one, sizeof one, "%s\n\t" INV_DOM("6695eb01-f6a4-8304-79aa-97f2502e%04x", "\"vm-%d\""),
                     i ? "," : "", i, i);
    assert_int_equal(lisec_buf_append(&buf, one, (size_t)n), 0);
  }
  assert_int_equal(lisec_buf_append(&buf, "", 1), 0);
  char *plain = inv_doc((char *)buf.data), *esc = inv_escaped(plain);
  attest_inventory a, b;
  lisec_err err;
  assert_int_equal(inv_parse(plain, 0, 0, &a, &err), 0);
  assert_int_equal(inv_parse(esc, 0, 0, &b, &err), 0);
  assert_int_equal(a.n, 100);
  assert_string_equal(a.domains[99].vm, "vm-99");
  inv_assert_same(&a, &b);
  attest_inventory_free(&a);
  attest_inventory_free(&b);
  /* The domain bound holds on both paths. */
  assert_int_equal(inv_parse(plain, 0, 99, &a, &err), LISEC_ETOOBIG);
  assert_int_equal(inv_parse(esc, 0, 99, &b, &err), LISEC_ETOOBIG);
  assert_int_equal(inv_parse(plain, 0, 100, &a, &err), 0);
  attest_inventory_free(&a);
  free(plain);
  free(esc);
  lisec_buf_free(&buf);
  /* A trailing byte after the document, a fraction, a leading zero and a
   * repeated field are refused (by jansson's reasons). */
  const char *bad[][2] = {
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":0,\"domains\":[]}x", "JSON"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":1.5,\"domains\":[]}", "taken_at"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":01,\"domains\":[]}", "JSON"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":0,\"domains\":[],\"host\":\"h\"}", "JSON"},
      {"{\"version\":1,\"host\":\"h\",\"taken_at\":-1,\"domains\":[]}", "taken_at"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    int rc = inv_parse(bad[i][0], 0, 0, &a, &err);
    if (rc == 0 || !strstr(err.msg, bad[i][1]))
      fail_msg("bad %zu: rc %d, \"%s\" (wanted \"%s\")", i, rc, err.msg, bad[i][1]);
    assert_null(a.domains);
  }
}

static void test_inventory_binding(void **state) {
  (void)state;
  /* Expected value from coreutils: SHA-256 of the inventory bytes, then
   * SHA-256("lisec-inventory-v1" || nonce 00..1f || that digest):
   *   printf '%s' "$INV" | sha256sum; (printf lisec-inventory-v1;
   *   echo -n "$NONCE$D" | xxd -r -p) | sha256sum */
  const char *inv = "{\"version\":1,\"host\":\"h1\",\"taken_at\":0,\"domains\":[]}";
  uint8_t nonce[32], d[32], out[32], want[32];
  for (int i = 0; i < 32; i++) nonce[i] = (uint8_t)i;
  assert_int_equal(EVP_Digest(inv, strlen(inv), d, NULL, EVP_sha256(), NULL), 1);
  assert_int_equal(lisec_hex_decode("f4a4873c1fc2a4d137525e160f2cdd77f6fa6a9374433cb6768b76b2c0643e35", want, 32), 0);
  assert_memory_equal(d, want, 32);
  attest_inventory_binding(nonce, sizeof nonce, d, out);
  assert_int_equal(lisec_hex_decode("29a8adb3537d90809dc74f25e33e1ba2de804fef6d35795dd008254ac6ed6572", want, 32), 0);
  assert_memory_equal(out, want, 32);
  /* Another nonce or another inventory gives another binding. */
  nonce[0] ^= 1;
  attest_inventory_binding(nonce, sizeof nonce, d, out);
  assert_memory_not_equal(out, want, 32);
}

/* A quote over the bare nonce does not carry an inventory: with one, the
 * verdict names the binding and the nonce check fails. */
static void test_verify_inventory_binding(void **state) {
  world *w = *state;
  attest_context c = ctx_of(w);
  attest_evidence e = ev_of(w);
  attest_verdict v;
  lisec_err err = {0};
  uint8_t inv_sha[32] = {0};
  c.inventory_sha256 = inv_sha;
  assert_int_equal(attest_verify(&c, &e, &v, &err), 0);
  assert_false(v.ok);
  assert_false(v.nonce_ok);
  assert_true(v.signature_ok);
  assert_true(has_reason(&v, "TR103308-T.1.4: the quote's qualifying data is not the binding"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote_parse_matches_tpm2_print),
      cmocka_unit_test(test_quote_parse_rejects_malformed),
      cmocka_unit_test(test_signature_ecdsa_and_rsa),
      cmocka_unit_test(test_ak_name_and_attributes),
      cmocka_unit_test(test_host_id_matches_openssl),
      cmocka_unit_test(test_pcrs_both_forms_and_digest),
      cmocka_unit_test(test_eventlog_replays_to_quoted_pcrs),
      cmocka_unit_test(test_eventlog_every_truncation_refused),
      cmocka_unit_test(test_eventlog_malformed),
      cmocka_unit_test(test_eventlog_startup_locality),
      cmocka_unit_test(test_policy_parse),
      cmocka_unit_test(test_location_parse),
      cmocka_unit_test(test_ek_certificate),
      cmocka_unit_test_setup_teardown(test_verify_good, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_verify_fails_closed, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_verify_rejections, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_ak_qualified_name, setup_world, teardown_world),
      cmocka_unit_test(test_nonces),
      cmocka_unit_test(test_trust_over_time),
      cmocka_unit_test(test_credential_inputs),
      cmocka_unit_test(test_inventory_parse),
      cmocka_unit_test(test_inventory_direct_read),
      cmocka_unit_test(test_inventory_binding),
      cmocka_unit_test_setup_teardown(test_verify_inventory_binding, setup_world, teardown_world),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
