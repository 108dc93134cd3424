/* Unit tests of the CSAR container (csar_zip.c). ZIP files are written
 * byte by byte here (APPNOTE.TXT layout, zlib for deflate and CRC-32) so
 * that the hostile ones libzip would never write can be made: path
 * traversal, absolute names, drive letters, symlinks and device files,
 * duplicate names, encrypted or bzip2 members, a deflated member that
 * expands far beyond its stored size (a zip bomb), a header that declares
 * fewer bytes than its data expands to, local and central headers that
 * disagree, truncation. A good archive is verified end to end with a test
 * PKI, and a byte changed in a stored member is caught by its digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "pkg/pkg.h"
#include "test_pkg_pki.h"

/* ---- a minimal ZIP writer ----------------------------------------------- */

typedef struct zmember {
  const char *name;
  const char *local_name; /* NULL: same as name */
  const uint8_t *data;    /* uncompressed content */
  size_t len;
  int method;             /* 0 stored, 8 deflate, other: written as is */
  uint32_t ext_attr;      /* UNIX mode << 16 (made by UNIX) */
  uint16_t flags;
  int64_t declared_usize; /* -1: the real size */
  int64_t declared_csize; /* -1: the real size */
  const uint8_t *extra;   /* an extra field, in both headers */
  size_t extra_len;
  const uint8_t *trail;   /* bytes after a deflated member's stream, in its size */
  size_t trail_len;
} zmember;

typedef struct zbuf {
  uint8_t *p;
  size_t len, cap;
} zbuf;

static void zb_put(zbuf *b, const void *p, size_t n) {
  if (n == 0) return;
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 1024;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}
static void zb_u16(zbuf *b, uint32_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  zb_put(b, x, 2);
}
static void zb_u32(zbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  zb_put(b, x, 4);
}

static uint8_t *raw_deflate(const uint8_t *in, size_t len, size_t *out_len) {
  z_stream s = {0};
  assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&s, len) + 16;
  uint8_t *out = malloc(cap);
  s.next_in = (Bytef *)in;
  s.avail_in = (uInt)len;
  s.next_out = out;
  s.avail_out = (uInt)cap;
  assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
  *out_len = s.total_out;
  deflateEnd(&s);
  return out;
}

static uint8_t *zip_build(const zmember *m, size_t n, size_t *out_len) {
  zbuf b = {0}, cd = {0};
  for (size_t i = 0; i < n; i++) {
    size_t clen = m[i].len;
    uint8_t *comp = NULL;
    const uint8_t *data = m[i].data;
    if (m[i].method == 8) {
      comp = raw_deflate(m[i].data, m[i].len, &clen);
      if (m[i].trail_len) {
        comp = realloc(comp, clen + m[i].trail_len);
        memcpy(comp + clen, m[i].trail, m[i].trail_len);
        clen += m[i].trail_len;
      }
      data = comp;
    }
    uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
    uint32_t usize = (uint32_t)(m[i].declared_usize >= 0 ? m[i].declared_usize : (int64_t)m[i].len);
    uint32_t csize = (uint32_t)(m[i].declared_csize >= 0 ? m[i].declared_csize : (int64_t)clen);
    const char *lname = m[i].local_name ? m[i].local_name : m[i].name;
    uint32_t offset = (uint32_t)b.len;
    zb_u32(&b, 0x04034b50);
    zb_u16(&b, 20);
    zb_u16(&b, m[i].flags);
    zb_u16(&b, (uint32_t)m[i].method);
    zb_u16(&b, 0);
    zb_u16(&b, 0x5821);
    zb_u32(&b, crc);
    zb_u32(&b, csize);
    zb_u32(&b, usize);
    zb_u16(&b, (uint32_t)strlen(lname));
    zb_u16(&b, (uint32_t)m[i].extra_len);
    zb_put(&b, lname, strlen(lname));
    if (m[i].extra_len) zb_put(&b, m[i].extra, m[i].extra_len);
    zb_put(&b, data, clen);
    if (m[i].flags & 8) { /* a data descriptor, with its signature */
      zb_u32(&b, 0x08074b50);
      zb_u32(&b, crc);
      zb_u32(&b, csize);
      zb_u32(&b, usize);
    }
    zb_u32(&cd, 0x02014b50);
    zb_u16(&cd, (3u << 8) | 20); /* made by UNIX */
    zb_u16(&cd, 20);
    zb_u16(&cd, m[i].flags);
    zb_u16(&cd, (uint32_t)m[i].method);
    zb_u16(&cd, 0);
    zb_u16(&cd, 0x5821);
    zb_u32(&cd, crc);
    zb_u32(&cd, csize);
    zb_u32(&cd, usize);
    zb_u16(&cd, (uint32_t)strlen(m[i].name));
    zb_u16(&cd, (uint32_t)m[i].extra_len);
    zb_u16(&cd, 0);
    zb_u16(&cd, 0);
    zb_u16(&cd, 0);
    zb_u32(&cd, m[i].ext_attr ? m[i].ext_attr : (uint32_t)(S_IFREG | 0644) << 16);
    zb_u32(&cd, offset);
    zb_put(&cd, m[i].name, strlen(m[i].name));
    if (m[i].extra_len) zb_put(&cd, m[i].extra, m[i].extra_len);
    free(comp);
  }
  uint32_t cd_off = (uint32_t)b.len;
  zb_put(&b, cd.p, cd.len);
  zb_u32(&b, 0x06054b50);
  zb_u16(&b, 0);
  zb_u16(&b, 0);
  zb_u16(&b, (uint32_t)n);
  zb_u16(&b, (uint32_t)n);
  zb_u32(&b, (uint32_t)cd.len);
  zb_u32(&b, cd_off);
  zb_u16(&b, 0);
  free(cd.p);
  *out_len = b.len;
  return b.p;
}

#define M(name_, text_) \
  { name_, NULL, (const uint8_t *)(text_), sizeof(text_) - 1, 0, 0, 0, -1, -1, NULL, 0, NULL, 0 }

static int open_zip(const zmember *m, size_t n, const pkg_limits *lim, pkg_zip **z, uint8_t **buf,
                    lisec_err *err) {
  size_t len;
  *buf = zip_build(m, n, &len);
  pkg_limits def;
  pkg_limits_default(&def);
  *z = NULL;
  return pkg_zip_open_mem(*buf, len, lim ? lim : &def, z, err);
}

#define ASSERT_OPEN_REFUSED(members, lim, code, text)                                  \
  do {                                                                                 \
    pkg_zip *z_ = NULL;                                                                \
    uint8_t *b_ = NULL;                                                                \
    lisec_err e_ = {0};                                                                \
    int rc_ = open_zip(members, sizeof(members) / sizeof(*(members)), lim, &z_, &b_, &e_); \
    if (rc_ != (code) || !strstr(e_.msg, text))                                       \
      fail_msg("expected %d '%s', got %d '%s'", code, text, rc_, e_.msg);              \
    assert_null(z_);                                                                   \
    free(b_);                                                                          \
  } while (0)

/* ---- hostile archives --------------------------------------------------- */

static void test_names(void **state) {
  (void)state;
  zmember dotdot[] = {M("a.txt", "x"), M("../../etc/cron.d/evil", "x")};
  ASSERT_OPEN_REFUSED(dotdot, NULL, LISEC_EINVAL, "path traversal");
  zmember inner[] = {M("Artifacts/../../x", "x")};
  ASSERT_OPEN_REFUSED(inner, NULL, LISEC_EINVAL, "path traversal");
  zmember absolute[] = {M("/etc/passwd", "x")};
  ASSERT_OPEN_REFUSED(absolute, NULL, LISEC_EINVAL, "absolute");
  zmember drive[] = {M("C:/Windows/x", "x")};
  ASSERT_OPEN_REFUSED(drive, NULL, LISEC_EINVAL, "drive letter");
  zmember backslash[] = {M("..\\..\\x", "x")};
  ASSERT_OPEN_REFUSED(backslash, NULL, LISEC_EINVAL, "backslash");
  zmember dup[] = {M("a.txt", "x"), M("a.txt", "y")};
  ASSERT_OPEN_REFUSED(dup, NULL, LISEC_EINVAL, "duplicate");
  zmember dupcase[] = {M("Definitions/A.yaml", "x"), M("definitions/a.yaml", "y")};
  ASSERT_OPEN_REFUSED(dupcase, NULL, LISEC_EINVAL, "duplicate");
}

static void test_types(void **state) {
  (void)state;
  zmember link[] = {M("Files/link", "/etc/shadow")};
  link[0].ext_attr = (uint32_t)(S_IFLNK | 0777) << 16;
  ASSERT_OPEN_REFUSED(link, NULL, LISEC_EINVAL, "symbolic link");
  zmember fifo[] = {M("Files/fifo", "")};
  fifo[0].ext_attr = (uint32_t)(S_IFIFO | 0644) << 16;
  ASSERT_OPEN_REFUSED(fifo, NULL, LISEC_EINVAL, "not a regular file");
  zmember dirfile[] = {M("Files/notadir", "")};
  dirfile[0].ext_attr = (uint32_t)(S_IFDIR | 0755) << 16;
  ASSERT_OPEN_REFUSED(dirfile, NULL, LISEC_EINVAL, "disagree");
  zmember enc[] = {M("a", "x")};
  enc[0].flags = 1;
  ASSERT_OPEN_REFUSED(enc, NULL, LISEC_EINVAL, "encrypted");
  zmember bz[] = {M("a", "x")};
  bz[0].method = 12;
  ASSERT_OPEN_REFUSED(bz, NULL, LISEC_EINVAL, "compression method 12");
  zmember twosizes[] = {M("a", "xyz")};
  twosizes[0].declared_usize = 2;
  ASSERT_OPEN_REFUSED(twosizes, NULL, LISEC_EINVAL, "two sizes");
}

static void test_bombs(void **state) {
  (void)state;
  size_t big = 8u << 20;
  uint8_t *zeros = calloc(1, big);
  /* 8 MiB of zeros deflate to a few KiB: a ratio near 1000. */
  zmember bomb[] = {{"Artifacts/Images/zero.img", NULL, zeros, big, 8, 0, 0, -1, -1, NULL, 0, NULL, 0}};
  ASSERT_OPEN_REFUSED(bomb, NULL, LISEC_ETOOBIG, "zip bomb");
  /* A header that claims 4 GB from a tiny stream is refused unread. */
  zmember claim[] = {{"x.img", NULL, zeros, 1024, 8, 0, 0, 0xfffffff0, -1, NULL, 0, NULL, 0}};
  ASSERT_OPEN_REFUSED(claim, NULL, LISEC_ETOOBIG, "zip bomb");
  pkg_limits lim;
  pkg_limits_default(&lim);
  lim.max_file_size = 1u << 20;
  zmember sized[] = {{"x.img", NULL, zeros, 2u << 20, 0, 0, 0, -1, -1, NULL, 0, NULL, 0}};
  ASSERT_OPEN_REFUSED(sized, &lim, LISEC_ETOOBIG, "expands to");
  pkg_limits_default(&lim);
  lim.max_entries = 2;
  zmember three[] = {M("a", "1"), M("b", "2"), M("c", "3")};
  ASSERT_OPEN_REFUSED(three, &lim, LISEC_ETOOBIG, "members");
  /* A header declaring fewer bytes than the stream expands to: open
   * succeeds (ratio 1 KiB / small), the read stops at the declared size. */
  zmember liar[] = {{"liar.bin", NULL, zeros, 1u << 20, 8, 0, 0, 1000, -1, NULL, 0, NULL, 0}};
  pkg_zip *z = NULL;
  uint8_t *buf = NULL;
  lisec_err err = {0};
  assert_int_equal(open_zip(liar, 1, NULL, &z, &buf, &err), 0);
  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_not_equal(pkg_source_read_all(pkg_zip_source(z), 0, 1u << 21, &out, &out_len, &err), 0);
  assert_null(out);
  pkg_zip_close(z);
  free(buf);
  free(zeros);
}

static void test_damaged(void **state) {
  (void)state;
  zmember confused[] = {M("Definitions/vnfd.yaml", "x")};
  confused[0].local_name = "Definitions/evil.yaml";
  ASSERT_OPEN_REFUSED(confused, NULL, LISEC_EINVAL, "not a readable CSAR");
  lisec_err err = {0};
  pkg_zip *z = NULL;
  pkg_limits lim;
  pkg_limits_default(&lim);
  assert_int_equal(pkg_zip_open_mem("not a zip", 9, &lim, &z, &err), LISEC_EINVAL);
  zmember ok[] = {M("a", "hello")};
  size_t len;
  uint8_t *buf = zip_build(ok, 1, &len);
  for (size_t cut = 1; cut < len; cut += 7) {
    int rc = pkg_zip_open_mem(buf, len - cut, &lim, &z, &err);
    if (rc == 0) fail_msg("truncated by %zu bytes and still opened", cut);
  }
  free(buf);
}

/* ---- what other ZIP readers see ----------------------------------------- */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void eocd_put(zbuf *b, uint32_t n, uint32_t cd_len, uint32_t cd_off, uint32_t comment_len) {
  zb_u32(b, 0x06054b50);
  zb_u16(b, 0);
  zb_u16(b, 0);
  zb_u16(b, n);
  zb_u16(b, n);
  zb_u32(b, cd_len);
  zb_u32(b, cd_off);
  zb_u16(b, comment_len);
}

/* Two archives in one file, as a signature-bypass would build it: A's end
 * record has B's central directory and end record as its comment. libzip
 * takes the end record whose members span most (A, the signed package);
 * Python's zipfile, Info-ZIP unzip and every reader that looks from the
 * end take the last one (B, anything at all). */
static uint8_t *zip_polyglot(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                             size_t *out_len) {
  uint32_t a_n = a[alen - 12] | (uint32_t)a[alen - 11] << 8, a_cdl = rd32(a + alen - 10),
           a_cdo = rd32(a + alen - 6);
  uint32_t b_n = b[blen - 12] | (uint32_t)b[blen - 11] << 8, b_cdl = rd32(b + blen - 10),
           b_cdo = rd32(b + blen - 6);
  zbuf o = {0};
  zb_put(&o, b, b_cdo);
  zb_put(&o, a, a_cdo);
  size_t cd_at = o.len;
  zb_put(&o, a + a_cdo, a_cdl);
  /* A's members now start after B's: shift each central header's offset. */
  for (size_t p = cd_at; p < cd_at + a_cdl;) {
    uint8_t *h = o.p + p;
    uint32_t off = rd32(h + 42) + b_cdo;
    for (int i = 0; i < 4; i++) h[42 + i] = (uint8_t)(off >> (8 * i));
    p += 46 + (h[28] | h[29] << 8) + (h[30] | h[31] << 8) + (h[32] | h[33] << 8);
  }
  eocd_put(&o, a_n, a_cdl, (uint32_t)cd_at, b_cdl + 22);
  uint32_t b_cd_at = (uint32_t)o.len;
  zb_put(&o, b + b_cdo, b_cdl);
  eocd_put(&o, b_n, b_cdl, b_cd_at, 0);
  *out_len = o.len;
  return o.p;
}

/* Info-ZIP Unicode Path extra field: libzip shows this name instead of the
 * header's when the CRC-32 of the header's name matches; Python's zipfile
 * and most other readers ignore it. */
static size_t upath_extra(uint8_t *out, const char *header_name, const char *shown) {
  size_t n = strlen(shown);
  uint32_t crc = (uint32_t)crc32(0, (const Bytef *)header_name, (uInt)strlen(header_name));
  uint8_t h[9] = {0x75, 0x70, (uint8_t)(n + 5), (uint8_t)((n + 5) >> 8), 1,
                  (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
  memcpy(out, h, 9);
  memcpy(out + 9, shown, n);
  return 9 + n;
}

static void test_readers_agree(void **state) {
  (void)state;
  lisec_err err = {0};
  pkg_limits lim;
  pkg_limits_default(&lim);
  pkg_zip *z = NULL;
  /* A: the signed package (a larger image); B: what the attacker wants
   * deployed. libzip without the check shows A's members. */
  static uint8_t img[64 * 1024];
  for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 7);
  zmember am[] = {M("Definitions/vnfd.yaml", "signed: true\n"),
                  {"Artifacts/Images/vm.img", NULL, img, sizeof img, 0, 0, 0, -1, -1, NULL, 0, NULL, 0}};
  zmember bm[] = {M("Definitions/vnfd.yaml", "evil: true\n")};
  size_t alen, blen, plen;
  uint8_t *a = zip_build(am, 2, &alen), *b = zip_build(bm, 1, &blen);
  uint8_t *poly = zip_polyglot(a, alen, b, blen, &plen);
  int rc = pkg_zip_open_mem(poly, plen, &lim, &z, &err);
  if (rc != LISEC_EINVAL || !strstr(err.msg, "end record"))
    fail_msg("two archives in one file: got %d '%s'", rc, err.msg);
  assert_null(z);
  free(poly);
  /* An ordinary comment is no second archive. */
  zbuf c = {0};
  zb_put(&c, a, alen);
  static const char note[] = "built by Acme";
  c.p[c.len - 2] = (uint8_t)(sizeof note - 1);
  zb_put(&c, note, sizeof note - 1);
  rc = pkg_zip_open_mem(c.p, c.len, &lim, &z, &err);
  if (rc) fail_msg("a commented archive: %s", err.msg);
  assert_int_equal(pkg_zip_source(z)->n_entries, 2);
  pkg_zip_close(z);
  z = NULL;
  free(c.p);
  free(a);
  free(b);

  /* Two members' header names swapped, the Unicode Path fields keeping
   * the names libzip shows: each digest checks out under libzip's names
   * while Python reads one member's bytes under the other's name. */
  uint8_t x1[64], x2[64];
  zmember swap[] = {M("Definitions/vnfd.yaml", "notes\n"), M("Files/notes.txt", "vnfd\n")};
  swap[0].extra = x1;
  swap[0].extra_len = upath_extra(x1, "Definitions/vnfd.yaml", "Files/notes.txt");
  swap[1].extra = x2;
  swap[1].extra_len = upath_extra(x2, "Files/notes.txt", "Definitions/vnfd.yaml");
  ASSERT_OPEN_REFUSED(swap, NULL, LISEC_EINVAL, "Unicode Path");
  /* The header name is what most readers extract to: it must pass the
   * name rules, not only the name libzip shows. */
  zmember climb[] = {M("../../etc/cron.d/evil", "x")};
  climb[0].extra = x1;
  climb[0].extra_len = upath_extra(x1, "../../etc/cron.d/evil", "Files/harmless");
  ASSERT_OPEN_REFUSED(climb, NULL, LISEC_EINVAL, "Unicode Path");
  /* A name in UTF-8 without the UTF-8 flag: libzip guesses UTF-8, Python
   * (and APPNOTE) read CP437, so the two see different names. */
  zmember cp437[] = {M("Files/caf\xc3\xa9.txt", "x")};
  ASSERT_OPEN_REFUSED(cp437, NULL, LISEC_EINVAL, "UTF-8");
  zmember utf8[] = {M("Files/caf\xc3\xa9.txt", "x")};
  utf8[0].flags = 0x800;
  uint8_t *buf = NULL;
  rc = open_zip(utf8, 1, NULL, &z, &buf, &err);
  if (rc) fail_msg("a UTF-8 flagged name: %s", err.msg);
  pkg_zip_close(z);
  free(buf);
}

/* A local entry (header and stored data) that no central header points
 * to, put at byte `at` of a built archive, the central offsets and the end
 * record moved to match: libzip, Python's zipfile and unzip list only the
 * central directory, a streaming reader (Java's ZipInputStream, `jar x <
 * FILE`) extracts every local entry it meets. */
static uint8_t *zip_hide(const uint8_t *z, size_t len, size_t at, const uint8_t *ins,
                         size_t ins_len, size_t *out_len) {
  uint32_t n = z[len - 12] | (uint32_t)z[len - 11] << 8, cd_len = rd32(z + len - 10),
           cd_off = rd32(z + len - 6);
  zbuf o = {0};
  zb_put(&o, z, at);
  zb_put(&o, ins, ins_len);
  zb_put(&o, z + at, len - at);
  uint32_t new_cd = cd_off + (uint32_t)ins_len;
  for (size_t p = new_cd; p < new_cd + cd_len;) {
    uint8_t *h = o.p + p;
    uint32_t off = rd32(h + 42);
    if (off >= at) off += (uint32_t)ins_len;
    for (int i = 0; i < 4; i++) h[42 + i] = (uint8_t)(off >> (8 * i));
    p += 46 + (h[28] | h[29] << 8) + (h[30] | h[31] << 8) + (h[32] | h[33] << 8);
  }
  for (int i = 0; i < 4; i++) o.p[o.len - 6 + i] = (uint8_t)(new_cd >> (8 * i));
  (void)n;
  *out_len = o.len;
  return o.p;
}

static size_t local_entry(uint8_t *out, const char *name, const char *data) {
  zbuf b = {0};
  size_t nl = strlen(name), dl = strlen(data);
  zb_u32(&b, 0x04034b50);
  zb_u16(&b, 20);
  zb_u16(&b, 0);
  zb_u16(&b, 0);
  zb_u16(&b, 0);
  zb_u16(&b, 0x5821);
  zb_u32(&b, (uint32_t)crc32(0, (const Bytef *)data, (uInt)dl));
  zb_u32(&b, (uint32_t)dl);
  zb_u32(&b, (uint32_t)dl);
  zb_u16(&b, (uint32_t)nl);
  zb_u16(&b, 0);
  zb_put(&b, name, nl);
  zb_put(&b, data, dl);
  memcpy(out, b.p, b.len);
  free(b.p);
  return b.len;
}

static void test_hidden_local_entries(void **state) {
  (void)state;
  lisec_err err = {0};
  pkg_limits lim;
  pkg_limits_default(&lim);
  pkg_zip *z = NULL;
  zmember m[] = {M("Definitions/vnfd.yaml", "signed: true\n"), M("Files/notes.txt", "notes\n")};
  size_t len, hlen;
  uint8_t *a = zip_build(m, 2, &len);
  uint32_t cd_off = rd32(a + len - 6);
  size_t second = 30 + strlen(m[0].name) + m[0].len; /* where the second member starts */
  uint8_t ev[256];
  size_t evl = local_entry(ev, "Scripts/evil.sh", "#!/bin/sh\necho pwned\n");
  const size_t where[] = {0, second, cd_off};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(where); i++) {
    uint8_t *h = zip_hide(a, len, where[i], ev, evl, &hlen);
    int rc = pkg_zip_open_mem(h, hlen, &lim, &z, &err);
    if (rc != LISEC_EINVAL || !strstr(err.msg, "no member accounts for"))
      fail_msg("a hidden local entry at byte %zu: got %d '%s'", where[i], rc, err.msg);
    assert_null(z);
    free(h);
  }
  /* Bytes that are no entry at all, between two members. */
  uint8_t *h = zip_hide(a, len, second, (const uint8_t *)"padding", 7, &hlen);
  int rc = pkg_zip_open_mem(h, hlen, &lim, &z, &err);
  if (rc != LISEC_EINVAL || !strstr(err.msg, "no member accounts for"))
    fail_msg("junk between members: got %d '%s'", rc, err.msg);
  free(h);
  free(a);
  /* Data descriptors after the members' data are part of them. */
  zmember dd[] = {M("Definitions/vnfd.yaml", "signed: true\n"), M("Files/notes.txt", "notes\n")};
  dd[0].flags = dd[1].flags = 8;
  dd[1].method = 8;
  a = zip_build(dd, 2, &len);
  rc = pkg_zip_open_mem(a, len, &lim, &z, &err);
  if (rc) fail_msg("an archive with data descriptors: %s", err.msg);
  assert_int_equal(pkg_zip_source(z)->n_entries, 2);
  pkg_zip_close(z);
  z = NULL;
  free(a);
}

/* A deflated member whose compressed bytes go on after its deflate
 * stream's end: a data descriptor there, then a local entry, all inside
 * the compressed size the headers give. libzip stops at the stream's end
 * and ignores the rest; a streaming reader reads that descriptor as the
 * member's and then extracts the local entry after it. */
static void test_deflate_trailing(void **state) {
  (void)state;
  lisec_err err = {0};
  pkg_limits lim;
  pkg_limits_default(&lim);
  static const char text[] = "vnfd: signed\n";
  size_t clen;
  uint8_t *comp = raw_deflate((const uint8_t *)text, sizeof text - 1, &clen);
  free(comp);
  uint8_t trail[256];
  zbuf t = {0};
  zb_u32(&t, 0x08074b50);
  zb_u32(&t, (uint32_t)crc32(0, (const Bytef *)text, sizeof text - 1));
  zb_u32(&t, (uint32_t)clen);
  zb_u32(&t, sizeof text - 1);
  size_t tl = t.len;
  memcpy(trail, t.p, tl);
  free(t.p);
  tl += local_entry(trail + tl, "Scripts/hidden.sh", "#!/bin/sh\necho hidden\n");
  zmember m[] = {M("Files/notes.txt", "notes\n"), M("Definitions/vnfd.yaml", text)};
  m[1].method = 8;
  m[1].flags = 8;
  m[1].trail = trail;
  m[1].trail_len = tl;
  size_t len;
  uint8_t *a = zip_build(m, 2, &len);
  pkg_zip *z = NULL;
  int rc = pkg_zip_open_mem(a, len, &lim, &z, &err);
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (!rc) rc = pkg_source_read_all(pkg_zip_source(z), 1, 1u << 20, &out, &out_len, &err);
  if (rc != LISEC_EINVAL || !strstr(err.msg, "after the end of its deflate stream"))
    fail_msg("bytes after a deflate stream: got %d '%s'", rc, err.msg);
  assert_null(out);
  pkg_zip_close(z);
  free(a);
  /* A stream cut short (its end missing) is damaged, not shorter. */
  zmember cut[] = {M("Definitions/vnfd.yaml", text)};
  cut[0].method = 8;
  a = zip_build(cut, 1, &len);
  z = NULL;
  /* the deflate stream is the bytes before the central directory */
  uint32_t cd_off = rd32(a + len - 6);
  a[cd_off - 1] ^= 0xff;
  rc = pkg_zip_open_mem(a, len, &lim, &z, &err);
  if (!rc) rc = pkg_source_read_all(pkg_zip_source(z), 0, 1u << 20, &out, &out_len, &err);
  if (rc == 0) fail_msg("a damaged deflate stream was read");
  pkg_zip_close(z);
  free(a);
  /* A good deflated member still reads. */
  z = NULL;
  cut[0].method = 8;
  a = zip_build(cut, 1, &len);
  assert_int_equal(pkg_zip_open_mem(a, len, &lim, &z, &err), 0);
  assert_int_equal(pkg_source_read_all(pkg_zip_source(z), 0, 1u << 20, &out, &out_len, &err), 0);
  assert_int_equal(out_len, sizeof text - 1);
  assert_memory_equal(out, text, out_len);
  free(out);
  pkg_zip_close(z);
  free(a);
}

/* ---- a good archive, verified end to end -------------------------------- */

static void test_verified_archive(void **state) {
  (void)state;
  tp_id vca = tp_make_ca("Vendor"), oca = tp_make_ca("Operator");
  tp_id vendor = tp_make_leaf(&vca, "Vendor", "vendor signing", -60, 86400, "codeSigning");
  tp_id op = tp_make_leaf(&oca, "Operator", "operator", -60, 86400, "codeSigning");
  static const char meta[] = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\n"
                             "Entry-Definitions: Definitions/vnfd.yaml\nETSI-Entry-Manifest: vnfd.mf\n";
  static const char yaml[] = "tosca_definitions_version: tosca_simple_yaml_1_3\n";
  size_t img_len = 3u << 20;
  uint8_t *img = malloc(img_len);
  for (size_t i = 0; i < img_len; i++) img[i] = (uint8_t)(i * 2654435761u >> 13);
  const struct {
    const char *name;
    const uint8_t *data;
    size_t len;
  } files[] = {{"TOSCA-Metadata/TOSCA.meta", (const uint8_t *)meta, sizeof meta - 1},
               {"Definitions/vnfd.yaml", (const uint8_t *)yaml, sizeof yaml - 1},
               {"Artifacts/Images/vm.img", img, img_len}};
  char body[4096];
  int n = snprintf(body, sizeof body,
                   "metadata:\nvnf_provider_id: Acme\nvnf_product_name: vZip\n"
                   "vnf_release_date_time: 2026-01-01T00:00:00Z\nvnf_package_version: 2.0\n\n");
  for (size_t i = 0; i < 3; i++) {
    uint8_t d[32];
    char hex[65];
    EVP_Digest(files[i].data, files[i].len, d, NULL, EVP_sha256(), NULL);
    lisec_hex_encode(d, 32, hex);
    n += snprintf(body + n, sizeof body - (size_t)n, "Source: %s\nAlgorithm: SHA-256\nHash: %s\n\n",
                  files[i].name, hex);
  }
  size_t sl, cl;
  char *sig = tp_cms_sign(&vendor, body, (size_t)n, &sl);
  char *manifest = malloc((size_t)n + sl + 1);
  memcpy(manifest, body, (size_t)n);
  memcpy(manifest + n, sig, sl + 1);
  char *csig = tp_cms_sign(&op, manifest, (size_t)n + sl, &cl);
  zmember m[] = {
      {files[0].name, NULL, files[0].data, files[0].len, 8, 0, 0, -1, -1, NULL, 0, NULL, 0},
      {files[1].name, NULL, files[1].data, files[1].len, 8, 0, 0, -1, -1, NULL, 0, NULL, 0},
      {files[2].name, NULL, files[2].data, files[2].len, 0, 0, 0, -1, -1, NULL, 0, NULL, 0},
      {"vnfd.mf", NULL, (const uint8_t *)manifest, (size_t)n + sl, 8, 0, 0, -1, -1, NULL, 0, NULL, 0},
      {"Countersignatures/operator.cms", NULL, (const uint8_t *)csig, cl, 0, 0, 0, -1, -1, NULL, 0, NULL, 0},
      {"Definitions/", NULL, (const uint8_t *)"", 0, 0, (uint32_t)(S_IFDIR | 0755) << 16, 0, -1, -1, NULL, 0, NULL, 0},
  };
  pkg_trust *t = NULL;
  lisec_err err = {0};
  assert_int_equal(pkg_trust_new(&t, &err), 0);
  char *pem = tp_cert_pem(vca.cert, &cl);
  assert_int_equal(pkg_trust_add_anchors_pem(t, PKG_ROLE_VENDOR, pem, cl, &err), 0);
  free(pem);
  pem = tp_cert_pem(oca.cert, &cl);
  assert_int_equal(pkg_trust_add_anchors_pem(t, PKG_ROLE_OPERATOR, pem, cl, &err), 0);
  free(pem);
  pkg_policy pol;
  pkg_policy_default(&pol);
  size_t zlen;
  uint8_t *zip = zip_build(m, 6, &zlen);
  pkg_zip *z = NULL;
  assert_int_equal(pkg_zip_open_mem(zip, zlen, &pol.limits, &z, &err), 0);
  pkg_result *r = NULL;
  int rc = pkg_verify(pkg_zip_source(z), t, &pol, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(r->bytes_hashed, img_len + sizeof meta - 1 + sizeof yaml - 1);
  pkg_result_free(r);
  r = NULL;
  pkg_zip_close(z);
  /* One byte changed inside the stored image: refused, naming the member
   * (libzip's CRC-32 check or the SHA-256, whichever reads it first). */
  size_t off = 0;
  for (size_t i = 0; i + 8 < zlen; i++)
    if (memcmp(zip + i, img + 1000, 8) == 0) off = i;
  assert_true(off > 0);
  zip[off] ^= 0x01;
  assert_int_equal(pkg_zip_open_mem(zip, zlen, &pol.limits, &z, &err), 0);
  rc = pkg_verify(pkg_zip_source(z), t, &pol, &r, &err);
  assert_int_not_equal(rc, 0);
  assert_null(r);
  assert_non_null(strstr(err.msg, "'Artifacts/Images/vm.img'"));
  pkg_zip_close(z);
  free(zip);
  pkg_trust_free(t);
  free(sig);
  free(csig);
  free(manifest);
  free(img);
  tp_free(&vca);
  tp_free(&oca);
  tp_free(&vendor);
  tp_free(&op);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),   cmocka_unit_test(test_types),
      cmocka_unit_test(test_bombs),   cmocka_unit_test(test_damaged),
      cmocka_unit_test(test_verified_archive), cmocka_unit_test(test_readers_agree),
      cmocka_unit_test(test_hidden_local_entries), cmocka_unit_test(test_deflate_trailing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
