/* Unit tests of lisecd's TLS material (api/tls.c) and its message from the
 * parent to the front (API_MSG_TLS in api/wire.c). Certificates, keys and
 * CRLs are made here with OpenSSL's own calls, not by the code under test.
 * A good set builds a context whose store refuses a revoked client and
 * admits another; each bad one is refused naming the [tls] key and why: a
 * key of another certificate, an encrypted key, an expired or not yet
 * valid certificate, a CRL of another CA, an expired CRL, a CA file with no
 * certificate, a malformed block after the first certificate. Reading
 * refuses a missing file, a directory, an empty file and one over the
 * bound. The message round-trips; cut at any byte, with a field over its
 * bound, an empty required field or bytes after the last, it is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "api/tls.h"
#include "api/wire.h"

#define DAY (24 * 3600L)

typedef struct pem {
  char *p;
  size_t n;
} pem;

static pem bio_take(BIO *b) {
  char *data = NULL;
  long n = BIO_get_mem_data(b, &data);
  pem out = {malloc((size_t)n + 1), (size_t)n};
  memcpy(out.p, data, (size_t)n);
  out.p[n] = 0;
  BIO_free(b);
  return out;
}

static EVP_PKEY *new_key(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); }

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v;
  X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, nid, value);
  assert_non_null(e);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

/* A certificate for key signed by issuer (NULL: self-signed), valid from
 * now + from to now + until (seconds). */
static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long serial, long from,
                      long until, bool ca) {
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), until);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x, key);
  add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return x;
}

static X509_CRL *new_crl(X509 *ca, EVP_PKEY *ca_key, long revoked_serial, long last, long next) {
  X509_CRL *c = X509_CRL_new();
  X509_CRL_set_version(c, 1);
  X509_CRL_set_issuer_name(c, X509_get_subject_name(ca));
  ASN1_TIME *t = X509_gmtime_adj(NULL, last);
  X509_CRL_set1_lastUpdate(c, t);
  X509_gmtime_adj(t, next);
  X509_CRL_set1_nextUpdate(c, t);
  if (revoked_serial) {
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, revoked_serial);
    X509_REVOKED_set_serialNumber(r, s);
    X509_gmtime_adj(t, last);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(c, r);
    ASN1_INTEGER_free(s);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(c);
  assert_true(X509_CRL_sign(c, ca_key, EVP_sha256()) > 0);
  return c;
}

static pem cert_pem(X509 *x) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  return bio_take(b);
}

static pem key_pem(EVP_PKEY *k, const char *pass) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, pass ? EVP_aes_256_cbc() : NULL, (unsigned char *)pass, pass ? (int)strlen(pass) : 0,
                           NULL, NULL);
  return bio_take(b);
}

static pem crl_pem(X509_CRL *c) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(b, c);
  return bio_take(b);
}

/* The fixture: a CA, a rogue CA, a server certificate, two clients (the
 * second revoked by the CA's CRL). */
typedef struct fx {
  EVP_PKEY *ca_key, *rogue_key, *srv_key, *other_key, *cli_key;
  X509 *ca, *rogue, *srv, *good_client, *revoked_client;
  pem ca_pem, srv_pem, srv_key_pem, crl_pem;
} fx;
static fx F;

static int setup(void **state) {
  (void)state;
  F.ca_key = new_key(), F.rogue_key = new_key(), F.srv_key = new_key(), F.other_key = new_key(), F.cli_key = new_key();
  F.ca = new_cert("test CA", F.ca_key, NULL, NULL, 1, -DAY, 10 * DAY, true);
  F.rogue = new_cert("test CA", F.rogue_key, NULL, NULL, 1, -DAY, 10 * DAY, true); /* same name, other key */
  F.srv = new_cert("localhost", F.srv_key, F.ca, F.ca_key, 0x5e12, -60, DAY, false);
  F.good_client = new_cert("operator", F.cli_key, F.ca, F.ca_key, 0x100, -60, DAY, false);
  F.revoked_client = new_cert("auditor", F.cli_key, F.ca, F.ca_key, 0x101, -60, DAY, false);
  X509_CRL *crl = new_crl(F.ca, F.ca_key, 0x101, -60, DAY);
  F.ca_pem = cert_pem(F.ca), F.srv_pem = cert_pem(F.srv), F.srv_key_pem = key_pem(F.srv_key, NULL);
  F.crl_pem = crl_pem(crl);
  X509_CRL_free(crl);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  EVP_PKEY *keys[] = {F.ca_key, F.rogue_key, F.srv_key, F.other_key, F.cli_key};
  X509 *certs[] = {F.ca, F.rogue, F.srv, F.good_client, F.revoked_client};
  for (size_t i = 0; i < 5; i++) EVP_PKEY_free(keys[i]), X509_free(certs[i]);
  free(F.ca_pem.p), free(F.srv_pem.p), free(F.srv_key_pem.p), free(F.crl_pem.p);
  return 0;
}

static api_tls_material material(pem cert, pem key, pem ca, pem crl) {
  return (api_tls_material){.cert = (const uint8_t *)cert.p, .cert_len = cert.n, .key = (const uint8_t *)key.p,
                            .key_len = key.n, .ca = (const uint8_t *)ca.p, .ca_len = ca.n,
                            .crl = (const uint8_t *)crl.p, .crl_len = crl.n};
}

static int verify_client(SSL_CTX *c, X509 *client) {
  X509_STORE_CTX *v = X509_STORE_CTX_new();
  assert_int_equal(X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(c), client, NULL), 1);
  int e = X509_verify_cert(v) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(v);
  X509_STORE_CTX_free(v);
  return e;
}

static void test_good_material(void **state) {
  (void)state;
  api_tls_material m = material(F.srv_pem, F.srv_key_pem, F.ca_pem, F.crl_pem);
  SSL_CTX *c = NULL;
  api_tls_info info;
  lisec_err err = {0};
  assert_int_equal(api_tls_ctx_new(&m, time(NULL), &c, &info, &err), 0);
  assert_string_equal(info.serial, "5E12");
  assert_int_equal(info.n_ca, 1);
  assert_int_equal(info.n_crl, 1);
  assert_int_equal(info.n_revoked, 1);
  assert_int_equal(verify_client(c, F.good_client), X509_V_OK);
  assert_int_equal(verify_client(c, F.revoked_client), X509_V_ERR_CERT_REVOKED);
  SSL_CTX_free(c);
  /* Without a CRL nothing is revoked. */
  m.crl = NULL, m.crl_len = 0;
  assert_int_equal(api_tls_ctx_new(&m, time(NULL), &c, &info, &err), 0);
  assert_int_equal(info.n_crl, 0);
  assert_int_equal(verify_client(c, F.revoked_client), X509_V_OK);
  SSL_CTX_free(c);
}

static void expect_refused(api_tls_material m, const char *needle) {
  SSL_CTX *c = (SSL_CTX *)1;
  lisec_err err = {0};
  assert_int_not_equal(api_tls_ctx_new(&m, time(NULL), &c, NULL, &err), 0);
  assert_null(c);
  if (!strstr(err.msg, needle)) fail_msg("refusal '%s' does not say '%s'", err.msg, needle);
}

static void test_bad_material(void **state) {
  (void)state;
  pem none = {NULL, 0};
  pem other_key = key_pem(F.other_key, NULL), enc_key = key_pem(F.srv_key, "secret");
  X509 *expired = new_cert("localhost", F.srv_key, F.ca, F.ca_key, 7, -3 * DAY, -DAY, false);
  X509 *future = new_cert("localhost", F.srv_key, F.ca, F.ca_key, 8, DAY, 3 * DAY, false);
  X509_CRL *rogue_crl = new_crl(F.rogue, F.rogue_key, 0x101, -60, DAY);
  X509_CRL *old_crl = new_crl(F.ca, F.ca_key, 0x101, -3 * DAY, -DAY);
  pem expired_pem = cert_pem(expired), future_pem = cert_pem(future);
  pem rogue_crl_pem = crl_pem(rogue_crl), old_crl_pem = crl_pem(old_crl);
  char junk[8192];
  snprintf(junk, sizeof junk, "%s-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", F.srv_pem.p);
  pem junk_pem = {junk, strlen(junk)};
  pem text = {"not a PEM file\n", 15};

  expect_refused(material(F.srv_pem, other_key, F.ca_pem, F.crl_pem), "[tls] key: the private key does not match");
  expect_refused(material(F.srv_pem, enc_key, F.ca_pem, F.crl_pem), "[tls] key: no unencrypted PEM private key");
  expect_refused(material(expired_pem, F.srv_key_pem, F.ca_pem, F.crl_pem), "[tls] cert: the server certificate has expired");
  expect_refused(material(future_pem, F.srv_key_pem, F.ca_pem, F.crl_pem), "[tls] cert: the server certificate is not valid yet");
  expect_refused(material(F.srv_pem, F.srv_key_pem, F.ca_pem, rogue_crl_pem), "[tls] crl: CRL 1 is not signed");
  expect_refused(material(F.srv_pem, F.srv_key_pem, F.ca_pem, old_crl_pem), "[tls] crl: CRL 1 has expired");
  expect_refused(material(F.srv_pem, F.srv_key_pem, F.ca_pem, text), "[tls] crl: no PEM CRL");
  expect_refused(material(F.srv_pem, F.srv_key_pem, text, F.crl_pem), "[tls] client_ca: no PEM certificate");
  expect_refused(material(text, F.srv_key_pem, F.ca_pem, F.crl_pem), "[tls] cert: no PEM certificate");
  expect_refused(material(junk_pem, F.srv_key_pem, F.ca_pem, F.crl_pem), "[tls] cert: a malformed PEM block");
  expect_refused(material(none, F.srv_key_pem, F.ca_pem, none), "required");

  free(other_key.p), free(enc_key.p), free(expired_pem.p), free(future_pem.p), free(rogue_crl_pem.p), free(old_crl_pem.p);
  X509_free(expired), X509_free(future), X509_CRL_free(rogue_crl), X509_CRL_free(old_crl);
}

static void test_read_files(void **state) {
  (void)state;
  char dir[] = "/tmp/test_api_tls-XXXXXX", path[4][128], big[128];
  assert_non_null(mkdtemp(dir));
  const pem *src[4] = {&F.srv_pem, &F.srv_key_pem, &F.ca_pem, &F.crl_pem};
  for (int i = 0; i < 4; i++) {
    snprintf(path[i], sizeof path[i], "%s/%d.pem", dir, i);
    FILE *f = fopen(path[i], "w");
    fwrite(src[i]->p, 1, src[i]->n, f);
    fclose(f);
  }
  api_tls_material m;
  lisec_err err = {0};
  assert_int_equal(api_tls_material_read(path[0], path[1], path[2], path[3], 1 << 20, &m, &err), 0);
  assert_true(m.owned);
  assert_int_equal(m.key_len, F.srv_key_pem.n);
  assert_memory_equal(m.crl, F.crl_pem.p, F.crl_pem.n);
  api_tls_material_free(&m);
  assert_null(m.key);
  /* No CRL configured. */
  assert_int_equal(api_tls_material_read(path[0], path[1], path[2], NULL, 1 << 20, &m, &err), 0);
  assert_int_equal(m.crl_len, 0);
  api_tls_material_free(&m);
  snprintf(big, sizeof big, "%s/missing.pem", dir);
  assert_int_equal(api_tls_material_read(path[0], big, path[2], NULL, 1 << 20, &m, &err), LISEC_EIO);
  assert_non_null(strstr(err.msg, "[tls] key"));
  assert_int_equal(api_tls_material_read(path[0], path[1], dir, NULL, 1 << 20, &m, &err), LISEC_EIO);
  assert_non_null(strstr(err.msg, "not a regular file"));
  assert_int_equal(api_tls_material_read(path[0], path[1], path[2], path[3], 64, &m, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "max_file_bytes"));
  FILE *f = fopen(big, "w");
  fclose(f);
  assert_int_equal(api_tls_material_read(path[0], path[1], path[2], big, 1 << 20, &m, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "empty"));
  unlink(big);
  for (int i = 0; i < 4; i++) unlink(path[i]);
  rmdir(dir);
}

static void test_wire(void **state) {
  (void)state;
  api_tls_material m = material(F.srv_pem, F.srv_key_pem, F.ca_pem, F.crl_pem), out;
  size_t max = 1 << 16;
  ipc_writer w;
  lisec_err err = {0};
  assert_int_equal(api_wire_tls_encode(&w, &m, max, &err), 0);
  const uint8_t *p = (const uint8_t *)w.buf.data;
  size_t len = w.buf.len;
  assert_int_equal(api_wire_tls_decode(p, len, max, &out, &err), 0);
  assert_false(out.owned);
  assert_int_equal(out.key_len, m.key_len);
  assert_memory_equal(out.key, m.key, m.key_len);
  assert_memory_equal(out.crl, m.crl, m.crl_len);
  for (size_t cut = 0; cut < len; cut++)
    if (api_wire_tls_decode(p, cut, max, &out, &err) == 0) fail_msg("a message cut at %zu bytes was accepted", cut);
  /* A field over the receiver's bound, and bytes after the last field. */
  assert_int_not_equal(api_wire_tls_decode(p, len, F.ca_pem.n - 1, &out, &err), 0);
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, p, len);
  longer[len] = 0;
  assert_int_not_equal(api_wire_tls_decode(longer, len + 1, max, &out, &err), 0);
  free(longer);
  ipc_writer_free(&w);
  /* An empty key is never sent, nor accepted. */
  api_tls_material nokey = m;
  nokey.key_len = 0;
  assert_int_equal(api_wire_tls_encode(&w, &nokey, max, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  ipc_writer_init(&w, max);
  ipc_put_bytes(&w, m.cert, m.cert_len);
  ipc_put_bytes(&w, NULL, 0);
  ipc_put_bytes(&w, m.ca, m.ca_len);
  ipc_put_bytes(&w, NULL, 0);
  assert_int_equal(api_wire_tls_decode((const uint8_t *)w.buf.data, w.buf.len, max, &out, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "empty"));
  ipc_writer_free(&w);
  /* The encoder refuses a file over the bound. */
  assert_int_equal(api_wire_tls_encode(&w, &m, 16, &err), LISEC_ETOOBIG);
  ipc_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_material),
      cmocka_unit_test(test_bad_material),
      cmocka_unit_test(test_read_files),
      cmocka_unit_test(test_wire),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
