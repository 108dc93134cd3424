/* Unit tests of pkg/'s parsers and pure policies: member names (traversal,
 * absolute, drive letters, backslashes, control bytes, duplicates also by
 * case, file-and-directory), sizes and ratios; TOSCA.meta (good, missing
 * keys, duplicates, continuation lines, traversal, versions, oversize);
 * the manifest (good with CRLF and non_mano_artifact_sets, each malformed
 * block, an external source, text after the signature, a writer round
 * trip); the name checks of a package of 10,000 members with long shared
 * names in a bounded CPU time (they were quadratic), refusing as before;
 * tenant visibility and replacement; the image digest check
 * against the FIPS 180-2 "abc" vector; and the libvirt domain XML reader
 * (which disk, which file of a backing chain, ids, bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pkg/pkg.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
static const char abc_sha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_path_check(void **state) {
  (void)state;
  static const char *const good[] = {"a", "Definitions/vnfd.yaml", "Artifacts/Images/x.qcow2",
                                     "a..b/c", ".hidden", "x/.y"};
  static const char *const bad[] = {"", "/etc/passwd", "../x", "a/../b", "a/..", "./a", "a/./b",
                                    "a//b", "a/", "C:/x", "c:x", "a\\..\\b", "a\tb", "a\x7f"};
  lisec_err err = {0};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_int_equal(pkg_path_check(good[i], false, &err), 0);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(pkg_path_check(bad[i], false, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "NFV-SEC025-onboarding-1"));
  }
  assert_int_equal(pkg_path_check("dir/", true, &err), 0);
  char longname[PKG_PATH_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(pkg_path_check(longname, false, &err), LISEC_EINVAL);
}

static void test_entries_check(void **state) {
  (void)state;
  pkg_limits lim;
  pkg_limits_default(&lim);
  lisec_err err = {0};
  pkg_entry ok[] = {{"a", 1, 1, false}, {"b/", 0, 0, true}, {"b/c", 5, 5, false}};
  assert_int_equal(pkg_entries_check(ok, 3, &lim, &err), 0);
  pkg_entry dup[] = {{"a/x", 1, 1, false}, {"a/x", 2, 2, false}};
  assert_int_equal(pkg_entries_check(dup, 2, &lim, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "duplicate"));
  pkg_entry dupcase[] = {{"Readme", 1, 1, false}, {"README", 2, 2, false}};
  assert_int_equal(pkg_entries_check(dupcase, 2, &lim, &err), LISEC_EINVAL);
  pkg_entry dirfile[] = {{"a", 1, 1, false}, {"a/", 0, 0, true}};
  assert_int_equal(pkg_entries_check(dirfile, 2, &lim, &err), LISEC_EINVAL);
  pkg_entry filedir[] = {{"a", 1, 1, false}, {"a/b", 1, 1, false}};
  assert_int_equal(pkg_entries_check(filedir, 2, &lim, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "both a file and a directory"));
  /* the first such file in the package's order is the one named; names
   * that sort between "a" and "a/" ('-' and '.' are below '/') are not
   * under it */
  pkg_entry filedirs[] = {{"b", 1, 1, false}, {"a-x", 1, 1, false}, {"a.y/z", 1, 1, false},
                          {"a", 1, 1, false}, {"a/y", 1, 1, false}, {"b/x", 1, 1, false}};
  assert_int_equal(pkg_entries_check(filedirs, 6, &lim, &err), LISEC_EINVAL);
  assert_string_equal(err.msg, "NFV-SEC025-onboarding-1: 'b' is both a file and a directory");
  assert_int_equal(pkg_entries_check(filedirs, 5, &lim, &err), LISEC_EINVAL);
  assert_string_equal(err.msg, "NFV-SEC025-onboarding-1: 'a' is both a file and a directory");
  assert_int_equal(pkg_entries_check(filedirs, 4, &lim, &err), 0);
  /* by case it is not the same directory (as before) */
  pkg_entry filedircase[] = {{"a", 1, 1, false}, {"A/b", 1, 1, false}};
  assert_int_equal(pkg_entries_check(filedircase, 2, &lim, &err), 0);
  /* 10 GB declared from 10 MB stored: ratio 1000 (and past the size bound). */
  pkg_entry bomb[] = {{"big.img", 10000000000ull, 10000000ull, false}};
  assert_int_equal(pkg_entries_check(bomb, 1, &lim, &err), LISEC_ETOOBIG);
  lim.max_file_size = 16ull << 30;
  assert_int_equal(pkg_entries_check(bomb, 1, &lim, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "zip bomb"));
  /* Highly compressible but small: below the ratio floor. */
  pkg_entry small[] = {{"zeros", 1 << 20, 1024, false}};
  assert_int_equal(pkg_entries_check(small, 1, &lim, &err), 0);
  pkg_entry many[2] = {{"x", 9ull << 30, 9ull << 30, false}, {"y", 9ull << 30, 9ull << 30, false}};
  assert_int_equal(pkg_entries_check(many, 2, &lim, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "package expands"));
  lim.max_entries = 1;
  assert_int_equal(pkg_entries_check(ok, 3, &lim, &err), LISEC_ETOOBIG);
}

static int meta(const char *text, pkg_tosca_meta *m, lisec_err *err) {
  return pkg_tosca_meta_parse((const uint8_t *)text, strlen(text), m, err);
}

static void test_tosca_meta(void **state) {
  (void)state;
  pkg_tosca_meta m;
  lisec_err err = {0};
  assert_int_equal(meta("TOSCA-Meta-File-Version: 1.0\r\nCSAR-Version: 1.1\r\nCreated-By: Acme\r\n"
                        "Entry-Definitions: Definitions/MRF.yaml\r\nETSI-Entry-Manifest: MRF.mf\r\n"
                        "ETSI-Entry-Change-Log: Files/ChangeLog.txt\r\n"
                        "ETSI-Entry-Certificate: Files/Certificates/MRF.cert\r\n"
                        "Other-Definitions: Definitions/types.yaml\r\n\r\n"
                        "Name: Definitions/MRF.yaml\r\nContent-Type: application/vnd.oasis.tosca.definitions.yaml\r\n",
                        &m, &err),
                   0);
  assert_string_equal(m.entry_definitions, "Definitions/MRF.yaml");
  assert_string_equal(m.entry_manifest, "MRF.mf");
  assert_string_equal(m.entry_certificate, "Files/Certificates/MRF.cert");
  assert_string_equal(m.created_by, "Acme");
  pkg_tosca_meta_free(&m);
  /* TOSCA 2.0 spelling, no final newline. */
  assert_int_equal(meta("TOSCA-Meta-Version: 2.0\nCSAR-Version: 2.0\nEntry-Definitions: a.yaml\n"
                        "ETSI-Entry-Manifest: a.mf", &m, &err), 0);
  pkg_tosca_meta_free(&m);
  static const struct {
    const char *text, *reason;
  } bad[] = {
      {"CSAR-Version: 1.1\nEntry-Definitions: a.yaml\nETSI-Entry-Manifest: a.mf\n", "TOSCA-Meta-File-Version"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nETSI-Entry-Manifest: a.mf\n", "Entry-Definitions"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions: a.yaml\n", "ETSI-Entry-Manifest"},
      {"TOSCA-Meta-File-Version: 1.0\nTOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\n", "twice"},
      {"TOSCA-Meta-File-Version: 1.0\nTOSCA-Meta-Version: 2.0\n", "twice"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions: a.yaml\n b.yaml\n", "continuation"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions: ../a.yaml\nETSI-Entry-Manifest: a.mf\n", "traversal"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions: a.yaml\nETSI-Entry-Manifest: /a.mf\n", "absolute"},
      {"TOSCA-Meta-File-Version: 9.9\nCSAR-Version: 1.1\nEntry-Definitions: a.yaml\nETSI-Entry-Manifest: a.mf\n", "version"},
      {"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions:\nETSI-Entry-Manifest: a.mf\n", "empty"},
      {"TOSCA-Meta-File-Version 1.0\n", "Name: value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_not_equal(meta(bad[i].text, &m, &err), 0);
    if (!strstr(err.msg, bad[i].reason)) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].reason);
  }
  /* A NUL byte and an oversized file. */
  static const uint8_t nul[] = "TOSCA-Meta-File-Version: 1.0\0\n";
  assert_int_equal(pkg_tosca_meta_parse(nul, sizeof nul - 1, &m, &err), LISEC_EINVAL);
  uint8_t *big = calloc(1, PKG_TOSCA_META_MAX + 1);
  assert_int_equal(pkg_tosca_meta_parse(big, PKG_TOSCA_META_MAX + 1, &m, &err), LISEC_ETOOBIG);
  free(big);
}

static int mf(const char *text, pkg_manifest *m, lisec_err *err) {
  return pkg_manifest_parse((const uint8_t *)text, strlen(text), m, err);
}

static const char good_manifest[] =
    "metadata:\r\n"
    "vnf_provider_id: Acme\r\n"
    "vnf_product_name: vMRF\r\n"
    "vnf_release_date_time: 2017-01-01T10:00:00+03:00\r\n"
    "vnf_package_version: 1.0\r\n"
    "\r\n"
    "Source: MRF.yaml\r\n"
    "Algorithm: SHA-256\r\n"
    "Hash: BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\r\n"
    "\r\n"
    "Source: scripts/install.sh\r\n"
    "Algorithm: sha-256\r\n"
    "Hash: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\r\n"
    "Signature: scripts/install.sh.sig.cms\r\n"
    "Certificate: scripts/install.sh.cert\r\n"
    "\r\n"
    "non_mano_artifact_sets:\r\n"
    "  onap_ves_events:\r\n"
    "    Source: Files/Events/ves.yaml\r\n"
    "\r\n"
    "-----BEGIN CMS-----\r\n"
    "MIIB\r\n"
    "-----END CMS-----\r\n"
    "\r\n";

static void test_manifest_good(void **state) {
  (void)state;
  pkg_manifest m;
  lisec_err err = {0};
  assert_int_equal(mf(good_manifest, &m, &err), 0);
  assert_int_equal(m.n_metadata, 4);
  assert_string_equal(pkg_manifest_meta(&m, "vnf_product_name"), "vMRF");
  assert_string_equal(pkg_manifest_meta(&m, "vnf_release_date_time"), "2017-01-01T10:00:00+03:00");
  assert_int_equal(m.n_entries, 2);
  assert_string_equal(m.entries[1].source, "scripts/install.sh");
  assert_string_equal(m.entries[1].signature, "scripts/install.sh.sig.cms");
  assert_string_equal(m.entries[1].certificate, "scripts/install.sh.cert");
  uint8_t want[32];
  assert_int_equal(lisec_hex_decode(abc_sha256, want, 32), 0);
  assert_int_equal(m.entries[0].digest_len, 32);
  assert_memory_equal(m.entries[0].digest, want, 32);
  assert_memory_equal(m.entries[1].digest, want, 32);
  /* What the vendor signed ends where the CMS block starts. */
  const char *cms = strstr(good_manifest, "-----BEGIN CMS-----");
  assert_int_equal(m.body_len, (size_t)(cms - good_manifest));
  assert_non_null(m.cms_pem);
  assert_non_null(strstr(m.cms_pem, "MIIB"));
  pkg_manifest_free(&m);
  /* Unsigned manifests parse (the verifier refuses them). */
  assert_int_equal(mf("metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-512\nHash: "
                      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\n",
                      &m, &err),
                   0);
  assert_null(m.cms_pem);
  assert_int_equal(m.entries[0].alg, PKG_ALG_SHA512);
  pkg_manifest_free(&m);
}

static void test_manifest_bad(void **state) {
  (void)state;
  static const char *const h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  char text[2048];
  static const struct {
    const char *fmt, *reason;
  } bad[] = {
      {"vnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\n", "starts with 'metadata:'"},
      {"metadata:\nvnf_provider_id: A\nvnf_provider_id: B\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\n", "twice"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %.62s\n", "not a SHA-256"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: MD5\nHash: %s\n", "SHA-256, SHA-384"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nHash: %s\n", "no Algorithm"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\n%s\n", "expected"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\nColour: blue\n", "unknown name"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\n\nSource: a\nAlgorithm: SHA-256\nHash: 00\n", "twice"},
      {"metadata:\nvnf_provider_id: A\n\nSource: ../../etc/passwd\nAlgorithm: SHA-256\nHash: %s\n", "traversal"},
      {"metadata:\nvnf_provider_id: A\n\nSource: https://vendor.example/x.sh\nAlgorithm: SHA-256\nHash: %s\n", "external"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\n-----BEGIN CMS-----\nAA\n-----END CMS-----\nSource: b\n", "after the CMS"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\n-----BEGIN CMS-----\nAA\n", "not ended"},
      {"metadata:\nvnf_provider_id: A\n-----BEGIN CMS-----\n%s\n-----END CMS-----\n", "before any Source"},
      {"metadata:\nvnf_provider_id: A\n\n%.0s", "no artifact"},
      {"metadata:\nvnf_provider_id: A\n\nAlgorithm: SHA-256\nHash: %s\n", "outside a Source"},
      {"metadata:\nvnf_provider_id: A\n\nSource: a\nAlgorithm: SHA-256\nHash: %s\nSignature: /abs.cms\n", "absolute"},
      {"%.0s", "empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(text, sizeof text, bad[i].fmt, h);
#pragma GCC diagnostic pop
    pkg_manifest m;
    lisec_err err = {0};
    assert_int_not_equal(mf(text, &m, &err), 0);
    if (!strstr(err.msg, bad[i].reason)) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].reason);
  }
  /* A line past the bound and a NUL byte. */
  size_t n = PKG_MANIFEST_LINE_MAX + 64;
  char *longline = malloc(n + 1);
  memcpy(longline, "metadata:\nk: ", 13);
  memset(longline + 13, 'v', n - 13);
  longline[n] = '\0';
  pkg_manifest m;
  lisec_err err = {0};
  assert_int_equal(mf(longline, &m, &err), LISEC_ETOOBIG);
  free(longline);
  static const uint8_t nul[] = "metadata:\nk: a\0b\n";
  assert_int_equal(pkg_manifest_parse(nul, sizeof nul - 1, &m, &err), LISEC_EINVAL);
}

/* CPU seconds this process has used. */
static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A name of 1,000 shared bytes and a number: what makes a comparison of
 * every name with every other cost most (100 million comparisons of 1 KB
 * for 10,000 members, seconds of CPU, where sorting and a search take
 * milliseconds). */
#define MANY 10000
static char *many_name(size_t i, const char *tail) {
  char *s = malloc(1100);
  memset(s, 'd', 1000);
  snprintf(s + 1000, 100, "/m%05zu%s", i, tail);
  return s;
}

static void test_entries_check_many(void **state) {
  (void)state;
  pkg_limits lim;
  pkg_limits_default(&lim);
  pkg_entry *e = calloc(MANY, sizeof *e);
  for (size_t i = 0; i < MANY; i++) e[i] = (pkg_entry){many_name(i, ""), 1, 1, false};
  lisec_err err = {0};
  double t0 = cpu_s();
  assert_int_equal(pkg_entries_check(e, MANY, &lim, &err), 0);
  /* Refused as before: member 7,000 is also the directory of the last
   * one (the reason shows 128 bytes of a name: the shared ones). */
  free((char *)e[MANY - 1].name);
  e[MANY - 1].name = many_name(7000, "/under-a-file");
  assert_int_equal(pkg_entries_check(e, MANY, &lim, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "' is both a file and a directory"));
  free((char *)e[MANY - 2].name);
  e[MANY - 2].name = many_name(3000, "/under-another");
  assert_int_equal(pkg_entries_check(e, MANY, &lim, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "' is both a file and a directory"));
  /* and a duplicate by case among them */
  free((char *)e[MANY - 1].name);
  char *upper = many_name(5, "");
  upper[3] = 'D';
  e[MANY - 1].name = upper;
  assert_int_equal(pkg_entries_check(e, MANY, &lim, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "duplicate member name"));
  double used = cpu_s() - t0;
  /* four checks of 10,000 names: quadratic took 10+ s here */
  if (used > 2.0) fail_msg("pkg_entries_check of %d members took %.2f s of CPU", MANY, used);
  for (size_t i = 0; i < MANY; i++) free((char *)e[i].name);
  free(e);
}

/* The duplicate check of manifest sources is a keyed set now, no longer a
 * scan of the sources before (which took about 0.3 s here: the 4 MiB bound
 * keeps it small); this holds its refusal at the bound as it was. */
static void test_manifest_many(void **state) {
  (void)state;
  /* 10,000 sources (the bound) of 300 bytes sharing 280: 3.7 MB, within
   * the manifest's 4 MiB */
  size_t cap = PKG_MANIFEST_MAX, n = 0;
  char *text = malloc(cap);
  n += (size_t)snprintf(text + n, cap - n, "metadata:\nvnf_provider_id: A\n\n");
  char prefix[281];
  memset(prefix, 's', 280);
  prefix[280] = '\0';
  for (size_t i = 0; i < PKG_MANIFEST_ENTRIES_MAX; i++)
    n += (size_t)snprintf(text + n, cap - n, "Source: %s/f%05zu\nAlgorithm: SHA-256\nHash: %s\n\n",
                          prefix, i, abc_sha256);
  assert_true(n < cap);
  pkg_manifest m;
  lisec_err err = {0};
  double t0 = cpu_s();
  assert_int_equal(pkg_manifest_parse((const uint8_t *)text, n, &m, &err), 0);
  assert_int_equal(m.n_entries, PKG_MANIFEST_ENTRIES_MAX);
  pkg_manifest_free(&m);
  /* the last source names the 6,000th again: refused as before, at its line */
  char *last = strstr(text + n - 200, "/f09999");
  assert_non_null(last);
  memcpy(last, "/f05999", 7);
  assert_int_equal(pkg_manifest_parse((const uint8_t *)text, n, &m, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "' twice"));
  double used = cpu_s() - t0;
  if (used > 1.0) fail_msg("two manifests of %d sources took %.2f s of CPU", PKG_MANIFEST_ENTRIES_MAX, used);
  free(text);
}

static void test_manifest_build_roundtrip(void **state) {
  (void)state;
  pkg_kv meta[] = {{"vnf_provider_id", "Acme"}, {"vnf_product_name", "vX"}};
  pkg_manifest_entry e[2] = {{.source = "a/b.yaml", .alg = PKG_ALG_SHA256, .digest_len = 32},
                             {.source = "c.img", .alg = PKG_ALG_SHA256, .digest_len = 32,
                              .signature = "c.img.sig.cms"}};
  assert_int_equal(lisec_hex_decode(abc_sha256, e[0].digest, 32), 0);
  memcpy(e[1].digest, e[0].digest, 32);
  lisec_buf b;
  lisec_buf_init(&b, PKG_MANIFEST_MAX);
  lisec_err err = {0};
  assert_int_equal(pkg_manifest_build(meta, 2, e, 2, &b, &err), 0);
  assert_non_null(strstr((char *)b.data, "Source: a/b.yaml\nAlgorithm: SHA-256\nHash: ba7816bf"));
  pkg_manifest m;
  assert_int_equal(pkg_manifest_parse(b.data, b.len, &m, &err), 0);
  assert_int_equal(m.n_entries, 2);
  assert_string_equal(m.entries[1].signature, "c.img.sig.cms");
  assert_string_equal(pkg_manifest_meta(&m, "vnf_product_name"), "vX");
  assert_int_equal(m.body_len, b.len);
  pkg_manifest_free(&m);
  lisec_buf_free(&b);
  /* A value with a newline would smuggle a line into what is signed. */
  pkg_kv evil[] = {{"vnf_provider_id", "Acme\nSource: x"}};
  lisec_buf_init(&b, PKG_MANIFEST_MAX);
  assert_int_equal(pkg_manifest_build(evil, 1, e, 1, &b, &err), LISEC_EINVAL);
  lisec_buf_free(&b);
}

/* vnf_package_version order (issue 21 item 3: no downgrade) and the
 * replacement it decides. */
static void test_version_order(void **state) {
  (void)state;
  static const char *const ascending[] = {"0.9", "1", "1.0", "1.0.1", "1.2", "1.9", "1.10",
                                          "1.10.0-rc1", "1.10.0-rc2", "1.10.0-rc10", "2.0", "10.0", "10.0a", "10.0b"};
  size_t n = sizeof ascending / sizeof *ascending;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      int c = pkg_version_cmp(ascending[i], ascending[j]);
      int want = i < j ? -1 : i > j ? 1 : 0;
      if (c != want) fail_msg("'%s' vs '%s': %d, want %d", ascending[i], ascending[j], c, want);
    }
  assert_int_equal(pkg_version_cmp("01.2", "1.2"), 0); /* leading zeros */
  assert_int_equal(pkg_version_cmp("1.2", "1-2"), 0);  /* separators alike */
  assert_int_equal(pkg_version_cmp("1.999999999999999999999", "1.1000000000000000000000"), -1);
  assert_true(pkg_version_cmp("1.0", "1.0.0") < 0);
  assert_true(pkg_version_cmp("1.0.rc", "1.0.1") < 0); /* a name below a number */
  assert_int_equal(pkg_version_cmp(NULL, "1"), -1);
  assert_int_equal(pkg_version_cmp("", ""), 0);
  lisec_err err = {0};
  pkg_record cur = {"operator", "Acme", "vMRF", "2.0", "CN=signer,O=Acme", "aa11"};
  pkg_record older = cur, newer = cur, numeric = cur;
  older.package_version = "1.9";
  newer.package_version = "2.0.1";
  numeric.package_version = "10";
  assert_int_equal(pkg_policy_may_replace(&cur, &older, "operator", &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, PKG_REQ_ROLLBACK));
  assert_non_null(strstr(err.msg, "'1.9' is older than the on-boarded version '2.0'"));
  assert_int_equal(pkg_policy_may_replace(&cur, &newer, "operator", &err), 0);
  assert_int_equal(pkg_policy_may_replace(&cur, &numeric, "operator", &err), 0);
  /* the same version spelled otherwise is not a new one (a retired 2.0
   * would come back as "02.0") */
  static const char *const same_order[] = {"02.0", "2-0", "2.0.", "2_00"};
  for (size_t i = 0; i < sizeof same_order / sizeof *same_order; i++) {
    pkg_record again = cur;
    again.package_version = same_order[i];
    assert_int_equal(pkg_version_cmp(same_order[i], "2.0"), 0);
    if (pkg_policy_may_replace(&cur, &again, "operator", &err) != LISEC_ECONFLICT)
      fail_msg("'%s' replaced '2.0'", same_order[i]);
    assert_non_null(strstr(err.msg, "NFV-SEC025-onboarding-2"));
    assert_non_null(strstr(err.msg, "not newer than the on-boarded version '2.0'"));
  }
  older.package_version = NULL;
  assert_int_equal(pkg_policy_may_replace(&cur, &older, "operator", &err), LISEC_EDENIED);
}

static void test_policy_tenants(void **state) {
  (void)state;
  lisec_err err = {0};
  pkg_record a = {"tenant:alpha", "Acme", "vMRF", "1.0", "CN=signer,O=Acme", "aa11"};
  pkg_record next = a;
  next.owner = "tenant:alpha";
  next.package_version = "1.1";
  assert_int_equal(pkg_policy_may_onboard("operator", &err), 0);
  assert_int_equal(pkg_policy_may_onboard("tenant:alpha", &err), 0);
  assert_int_equal(pkg_policy_may_onboard("hypervisor-admin", &err), LISEC_EAUTH);
  assert_int_equal(pkg_policy_may_onboard("tenant:", &err), LISEC_EAUTH);
  assert_int_equal(pkg_policy_may_onboard("tenant:Bad Name", &err), LISEC_EAUTH);
  assert_int_equal(pkg_policy_may_onboard(NULL, &err), LISEC_EAUTH);
  assert_int_equal(pkg_policy_may_see(&a, "tenant:alpha", &err), 0);
  assert_int_equal(pkg_policy_may_see(&a, "operator", &err), 0);
  assert_int_equal(pkg_policy_may_see(&a, "tenant:beta", &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "NFV-SEC025-onboarding-3"));
  assert_int_equal(pkg_policy_may_see(&a, "tenant:alphabet", &err), LISEC_EAUTH);
  /* Replacement: the owner or the operator, same vendor identity. */
  assert_int_equal(pkg_policy_may_replace(&a, &next, "tenant:alpha", &err), 0);
  assert_int_equal(pkg_policy_may_replace(&a, &next, "operator", &err), 0);
  assert_int_equal(pkg_policy_may_replace(&a, &next, "tenant:beta", &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "another tenant"));
  pkg_record other_vendor = next;
  other_vendor.vendor_subject = "CN=mallory,O=Acme";
  assert_int_equal(pkg_policy_may_replace(&a, &other_vendor, "tenant:alpha", &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "NFV-SEC025-onboarding-2"));
  pkg_record other_ca = next;
  other_ca.vendor_anchor = "bb22";
  assert_int_equal(pkg_policy_may_replace(&a, &other_ca, "tenant:alpha", &err), LISEC_EDENIED);
  pkg_record other_product = next;
  other_product.product_name = "vOther";
  assert_int_equal(pkg_policy_may_replace(&a, &other_product, "tenant:alpha", &err), LISEC_EDENIED);
  pkg_record same_version = next;
  same_version.package_version = "1.0";
  assert_int_equal(pkg_policy_may_replace(&a, &same_version, "tenant:alpha", &err), LISEC_ECONFLICT);
}

static void test_image_check(void **state) {
  (void)state;
  uint8_t d[32], other[32];
  assert_int_equal(lisec_hex_decode(abc_sha256, d, 32), 0);
  memset(other, 0x11, sizeof other);
  pkg_image_ref imgs[] = {{"Artifacts/Images/a.qcow2", PKG_ALG_SHA256, other, 32},
                          {"Artifacts/Images/b.qcow2", PKG_ALG_SHA256, d, 32}};
  const char *matched = NULL;
  lisec_err err = {0};
  char reported[80];
  snprintf(reported, sizeof reported, "sha256:%s", abc_sha256);
  assert_int_equal(pkg_image_check(imgs, 2, reported, &matched, &err), 0);
  assert_string_equal(matched, "Artifacts/Images/b.qcow2");
  reported[10] = reported[10] == '0' ? '1' : '0';
  assert_int_equal(pkg_image_check(imgs, 2, reported, &matched, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.2"));
  assert_non_null(strstr(err.msg, "not compliant"));
  assert_int_equal(pkg_image_check(imgs, 2, "md5:900150983cd24fb0d6963f7d28e17f72", &matched, &err), LISEC_EINVAL);
  assert_int_equal(pkg_image_check(imgs, 2, "sha256:abc", &matched, &err), LISEC_EINVAL);
  assert_int_equal(pkg_image_check(imgs, 0, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &matched, &err), LISEC_EDENIED);
  assert_true(pkg_path_is_image("Artifacts/Images/vm.bin"));
  assert_true(pkg_path_is_image("sw/vm.QCOW2"));
  assert_false(pkg_path_is_image("Definitions/vnfd.yaml"));
  assert_false(pkg_path_is_image("NotImages/x.txt"));
}

static int read_domain(const char *xml, pkg_domain *d, lisec_err *err) {
  return pkg_domain_read(xml, strlen(xml), d, err);
}

static void test_domain_xml(void **state) {
  (void)state;
  pkg_domain d;
  lisec_err err = {0};
  /* the first file disk; a cdrom and a network disk before it do not count;
   * device defaults to disk; the deepest file of the chain is the image */
  const char *xml =
      "<domain><name>dom-1</name><metadata><x:vm xmlns:x='urn:other' id='no'/>"
      "<l:vm xmlns:l='urn:lisec:vm' id='vm-7' package='mrf-1.2'/></metadata><devices>"
      "<disk type='file' device='cdrom'><source file='/i/boot.iso'/></disk>"
      "<disk type='network' device='disk'><source protocol='rbd' name='pool/img'/></disk>"
      "<disk type='file'><source file='/i/top.qcow2'/>"
      "<backingStore type='file'><source file='/i/mid.qcow2'/>"
      "<backingStore type='file'><source file='/i/base.img'/><backingStore/></backingStore>"
      "</backingStore></disk>"
      "<disk type='file' device='disk'><source file='/i/second.img'/></disk></devices></domain>";
  assert_int_equal(read_domain(xml, &d, &err), 0);
  assert_string_equal(d.vm, "vm-7");
  assert_string_equal(d.package, "mrf-1.2");
  assert_string_equal(d.image, "/i/base.img");
  /* a chain that stops at a non-file store: the last file before it */
  assert_int_equal(read_domain("<domain><name>d</name><devices><disk type='file'><source file='/a'/>"
                               "<backingStore type='block'><source dev='/dev/x'/></backingStore>"
                               "</disk></devices></domain>", &d, &err), 0);
  assert_string_equal(d.image, "/a");
  assert_string_equal(d.vm, "d"); /* no lisec element: the domain name */
  assert_string_equal(d.package, "");
  /* no file disk at all */
  assert_int_equal(read_domain("<domain><name>d</name><devices><disk type='block'><source dev='/dev/x'/>"
                               "</disk></devices></domain>", &d, &err), 0);
  assert_string_equal(d.image, "");
  /* refusals, each naming what */
  assert_int_equal(read_domain("<domain><name>a b</name></domain>", &d, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "the domain name"));
  assert_int_equal(read_domain("<domain><name>d</name><metadata><l:vm xmlns:l='urn:lisec:vm' id='v' "
                               "package='../x'/></metadata></domain>", &d, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "package id"));
  assert_int_equal(read_domain("<domain><metadata/></domain>", &d, &err), LISEC_EINVAL);
  assert_int_equal(read_domain("<network><name>n</name></network>", &d, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "not a libvirt domain"));
  assert_int_equal(read_domain("<domain><name>d</name>", &d, &err), LISEC_EINVAL);
  assert_int_equal(read_domain("<!DOCTYPE domain><domain><name>d</name></domain>", &d, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "DTD"));
  /* bounds: a chain deeper than PKG_DOMAIN_CHAIN_MAX, a too long id, too large a text */
  char buf[8192] = "<domain><name>d</name><devices><disk type='file'><source file='/0'/>";
  for (int i = 0; i <= PKG_DOMAIN_CHAIN_MAX; i++) strcat(buf, "<backingStore type='file'><source file='/n'/>");
  for (int i = 0; i <= PKG_DOMAIN_CHAIN_MAX; i++) strcat(buf, "</backingStore>");
  strcat(buf, "</disk></devices></domain>");
  assert_int_equal(read_domain(buf, &d, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "backing chain"));
  char id[PKG_DOMAIN_ID_MAX + 2];
  memset(id, 'a', sizeof id - 1);
  id[sizeof id - 1] = '\0';
  snprintf(buf, sizeof buf, "<domain><name>%s</name></domain>", id);
  assert_int_equal(read_domain(buf, &d, &err), LISEC_ETOOBIG);
  assert_int_equal(pkg_domain_read(buf, PKG_DOMAIN_XML_MAX + 1, &d, &err), LISEC_ETOOBIG);
}


/* The inventory's reader (issue 15): every file disk of device "disk" with
 * its target and the deepest file of its chain, the interfaces, and the
 * lisec id only from the urn:lisec:vm element (no fallback to the name). */
static void test_domain_devices(void **state) {
  (void)state;
  pkg_domain_devices d;
  lisec_err err = {0};
  const char *xml =
      "<domain><name>not an id</name><metadata><l:vm xmlns:l='urn:lisec:vm' id='vm 7' package='p'/>"
      "</metadata><devices>"
      "<disk type='file' device='cdrom'><source file='/i/boot.iso'/><target dev='hdc'/></disk>"
      "<disk type='file'><source file='/i/top.qcow2'/><backingStore type='file'>"
      "<source file='/i/base.img'/></backingStore><target dev='vda'/></disk>"
      "<disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdb'/></disk>"
      "<disk type='file' device='disk'><source file='/i/second.img'/><target dev='vdc'/></disk>"
      "<interface type='network'><mac address='52:54:00:AB:CD:EF'/><source network='default'/>"
      "<target dev='vnet3'/></interface>"
      "<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/></interface>"
      "<interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0' mode='vepa'/></interface>"
      "<interface type='user'><mac address='52:54:00:00:00:04'/></interface>"
      "</devices></domain>";
  assert_int_equal(pkg_domain_read_devices(xml, strlen(xml), &d, &err), 0);
  /* reported as found; lisecd applies the id rule */
  assert_string_equal(d.vm, "vm 7");
  assert_string_equal(d.package, "p");
  assert_int_equal(d.n_disks, 2);
  assert_string_equal(d.disks[0].target, "vda");
  assert_string_equal(d.disks[0].image, "/i/base.img");
  assert_string_equal(d.disks[1].target, "vdc");
  assert_string_equal(d.disks[1].image, "/i/second.img");
  assert_int_equal(d.n_ifaces, 4);
  assert_string_equal(d.ifaces[0].mac, "52:54:00:ab:cd:ef");
  assert_string_equal(d.ifaces[0].type, "network");
  assert_string_equal(d.ifaces[0].source, "default");
  assert_string_equal(d.ifaces[0].target, "vnet3");
  assert_string_equal(d.ifaces[1].type, "bridge");
  assert_string_equal(d.ifaces[1].source, "br0");
  assert_string_equal(d.ifaces[1].target, "");
  assert_string_equal(d.ifaces[2].type, "direct");
  assert_string_equal(d.ifaces[2].source, "eth0");
  assert_string_equal(d.ifaces[3].type, "other");
  assert_string_equal(d.ifaces[3].source, "");
  pkg_domain_devices_free(&d);
  /* without the lisec element: no VM id, whatever the name */
  const char *plain = "<domain><name>dom-1</name><devices/></domain>";
  assert_int_equal(pkg_domain_read_devices(plain, strlen(plain), &d, &err), 0);
  assert_string_equal(d.vm, "");
  assert_int_equal(d.n_disks + d.n_ifaces, 0);
  /* over 64 file disks: refused, nothing left allocated */
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  const char *head = "<domain><devices>";
  assert_int_equal(lisec_buf_append(&b, head, strlen(head)), 0);
  for (int i = 0; i <= PKG_DOMAIN_DISKS_MAX; i++) {
    char one[128];
    int n = snprintf(one, sizeof one, "<disk type='file'><source file='/i/%d'/><target dev='vd%d'/></disk>", i, i);
    assert_int_equal(lisec_buf_append(&b, one, (size_t)n), 0);
  }
  assert_int_equal(lisec_buf_append(&b, "</devices></domain>", 19), 0);
  assert_int_equal(pkg_domain_read_devices((char *)b.data, b.len, &d, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "more than 64 file disks"));
  assert_null(d.disks);
  lisec_buf_free(&b);
  /* the same refusals as the image reader */
  const char *dtd = "<!DOCTYPE domain [<!ENTITY x 'y'>]><domain/>";
  assert_int_equal(pkg_domain_read_devices(dtd, strlen(dtd), &d, &err), LISEC_EINVAL);
  assert_int_equal(pkg_domain_read_devices("<network/>", 10, &d, &err), LISEC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_check),        cmocka_unit_test(test_entries_check),
      cmocka_unit_test(test_tosca_meta),        cmocka_unit_test(test_manifest_good),
      cmocka_unit_test(test_manifest_bad),      cmocka_unit_test(test_manifest_build_roundtrip),
      cmocka_unit_test(test_policy_tenants),    cmocka_unit_test(test_image_check),
      cmocka_unit_test(test_version_order),
      cmocka_unit_test(test_domain_xml),
      cmocka_unit_test(test_domain_devices),
      cmocka_unit_test(test_entries_check_many),
      cmocka_unit_test(test_manifest_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
