/* A second, byte-level reading of a CSAR's end record and central
 * directory, so that lisec verifies the members every other ZIP reader
 * (MANO's, Python's zipfile, Info-ZIP unzip) will extract, not only the
 * ones libzip shows. libzip and those readers can disagree: libzip takes,
 * of several end records, the one whose members span most, where the
 * others take the last one in the file (two archives in one file, the
 * signed one and another); libzip shows the name of an Info-ZIP Unicode
 * Path extra field (0x7075) in place of the header's name, which the
 * others extract to; libzip guesses UTF-8 for a name not flagged UTF-8,
 * which the others read as CP437. So here: the end record must be the
 * last one, its central directory must list exactly libzip's members in
 * libzip's order with byte-identical names, no member may carry a Unicode
 * Path field, and a non-ASCII name must be flagged UTF-8. And the
 * members must fill the file from its first byte up to the central
 * directory, one after the other, each its local header, data and data
 * descriptor: bytes no member accounts for may hold a local entry that no
 * central header points to, which a streaming reader (Java's
 * ZipInputStream, `jar x < FILE`) extracts though no one verified it. */
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

#define EOCD_LEN 22u
#define EOCD_COMMENT_MAX 65535u
#define LOC64_LEN 20u
#define EOCD64_LEN 56u
#define CDH_LEN 46u
#define LFH_LEN 30u
#define EF_UNICODE_PATH 0x7075u
#define EF_ZIP64 0x0001u
#define GPBF_UTF8 0x0800u
#define GPBF_DESCRIPTOR 0x0008u

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int refuse(lisec_err *err, const char *what) {
  return lisec_err_set(err, LISEC_EINVAL,
                       "NFV-SEC025-onboarding-1: %s; other ZIP readers would see other members "
                       "than the ones verified",
                       what);
}

/* Where the central directory is and how many members it lists, from the
 * last end record of the file (and its ZIP64 record when a locator sits
 * right before it, as every reader does). */
static int find_cd(pkg_read_at rd, void *ctx, uint64_t size, uint64_t *cd_off, uint64_t *cd_len,
                   uint64_t *count, lisec_err *err) {
  if (size < EOCD_LEN) return refuse(err, "no end record");
  size_t tl = size < EOCD_LEN + EOCD_COMMENT_MAX ? (size_t)size : EOCD_LEN + EOCD_COMMENT_MAX;
  uint8_t *tail = malloc(tl);
  if (!tail) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  uint64_t base = size - tl;
  int rc = rd(ctx, base, tail, tl, err);
  /* The last signature in the file, as a reader searching from the end
   * finds it, even one inside the fields of another end record. */
  size_t at = tl;
  for (size_t i = tl - 3; !rc && i-- > 0;)
    if (memcmp(tail + i, "PK\x05\x06", 4) == 0) {
      at = i;
      break;
    }
  uint8_t *e = tail + at;
  if (rc) {
    /* the read failed */
  } else if (at == tl) {
    rc = refuse(err, "no end record");
  } else if (tl - at < EOCD_LEN || at + EOCD_LEN + le16(e + 20) != tl) {
    rc = refuse(err, "the last end record is not the one the archive's comment length points to "
                     "(a second archive in the comment)");
  } else if (le16(e + 4) || le16(e + 6) || le16(e + 8) != le16(e + 10)) {
    rc = refuse(err, "the last end record is of a multi-disk archive");
  } else {
    uint64_t eocd = base + at;
    *count = le16(e + 10);
    *cd_len = le32(e + 12);
    *cd_off = le32(e + 16);
    uint8_t loc[LOC64_LEN], e64[EOCD64_LEN];
    if (eocd >= LOC64_LEN && !(rc = rd(ctx, eocd - LOC64_LEN, loc, LOC64_LEN, err)) &&
        memcmp(loc, "PK\x06\x07", 4) == 0) {
      uint64_t off64 = le64(loc + 8);
      if (off64 > eocd - LOC64_LEN || eocd - LOC64_LEN - off64 < EOCD64_LEN)
        rc = refuse(err, "the ZIP64 end record is out of place");
      else if (!(rc = rd(ctx, off64, e64, EOCD64_LEN, err)) && memcmp(e64, "PK\x06\x06", 4) != 0)
        rc = refuse(err, "the ZIP64 locator points to no ZIP64 end record");
      else if (!rc) {
        *count = le64(e64 + 32);
        *cd_len = le64(e64 + 40);
        *cd_off = le64(e64 + 48);
        eocd = off64;
      }
    }
    /* As libzip (ZIP_CHECKCONS) demands: the directory ends where the end
     * record starts, so no reader shifts the offsets it reads. */
    if (!rc && (*cd_off > eocd || eocd - *cd_off != *cd_len))
      rc = refuse(err, "the central directory does not end where the last end record starts");
  }
  free(tail);
  return rc;
}

static bool has_unicode_path(const uint8_t *ef, size_t len) {
  for (size_t p = 0; p + 4 <= len;) {
    if (le16(ef + p) == EF_UNICODE_PATH) return true;
    p += 4u + le16(ef + p + 2);
  }
  return false;
}

/* Where a member's local header is: the central header's offset, or its
 * ZIP64 field's when that reads 0xffffffff (the field holds, in order, the
 * sizes that read 0xffffffff, then the offset). */
static int local_offset(const uint8_t *h, const uint8_t *ef, size_t len, uint64_t *off) {
  *off = le32(h + 42);
  if (*off != 0xffffffffu) return 0;
  for (size_t p = 0; p + 4 <= len;) {
    size_t fl = le16(ef + p + 2);
    if (p + 4 + fl > len) break;
    if (le16(ef + p) == EF_ZIP64) {
      size_t at = (le32(h + 24) == 0xffffffffu ? 8u : 0u) + (le32(h + 20) == 0xffffffffu ? 8u : 0u);
      if (at + 8 > fl) return -1;
      *off = le64(ef + p + 4 + at);
      return 0;
    }
    p += 4 + fl;
  }
  return -1;
}

/* A member's bytes in the file: its local header, data and descriptor. */
typedef struct span {
  uint64_t start, data_end;
  uint32_t crc;
  bool descriptor;
} span;

static int span_cmp(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* The members, sorted by offset, must follow one another from byte 0 to
 * the central directory. A data descriptor (12 or 16 bytes, 20 or 24 for
 * ZIP64, the longer with its signature) must carry the member's CRC-32. */
static int spans_fill(pkg_read_at rd, void *ctx, span *s, size_t n, uint64_t cd_off,
                      lisec_err *err) {
  qsort(s, n, sizeof *s, span_cmp);
  uint64_t pos = 0;
  size_t i = 0;
  for (; i < n && s[i].start == pos && s[i].data_end <= cd_off; i++) {
    pos = s[i].data_end;
    if (!s[i].descriptor) continue;
    uint64_t next = i + 1 < n ? s[i + 1].start : cd_off;
    uint8_t d[24];
    if (next < pos || next - pos < 12 || next - pos > 24) break;
    int rc = rd(ctx, pos, d, (size_t)(next - pos), err);
    if (rc) return rc;
    size_t gap = (size_t)(next - pos), crc_at = memcmp(d, "PK\x07\x08", 4) == 0 ? 4 : 0;
    if ((gap != crc_at + 12 && gap != crc_at + 20) || le32(d + crc_at) != s[i].crc) break;
    pos = next;
  }
  if (i < n || pos != cd_off)
    return refuse(err, "the archive has bytes no member accounts for (a local entry no central "
                       "header lists, or members that overlap)");
  return 0;
}

int pkg_zip_cd_check(pkg_read_at rd, void *ctx, uint64_t size, const pkg_entry *entries, size_t n,
                     lisec_err *err) {
  uint64_t off = 0, len = 0, count = 0;
  int rc = find_cd(rd, ctx, size, &off, &len, &count, err);
  if (rc) return rc;
  if (count != n) return refuse(err, "the last end record lists another number of members");
  uint8_t h[CDH_LEN];
  uint8_t *var = malloc(3u * 65535u);
  span *spans = calloc(n ? n : 1, sizeof *spans);
  if (!var || !spans) {
    free(var);
    free(spans);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  uint64_t p = off, end = off + len;
  for (size_t i = 0; i < n && !rc; i++) {
    if (end - p < CDH_LEN || (rc = rd(ctx, p, h, CDH_LEN, err))) {
      if (!rc) rc = refuse(err, "the central directory is shorter than its members");
      break;
    }
    size_t nl = le16(h + 28), xl = le16(h + 30), cl = le16(h + 32);
    if (memcmp(h, "PK\x01\x02", 4) != 0 || end - p - CDH_LEN < nl + xl + cl) {
      rc = refuse(err, "the central directory is damaged");
      break;
    }
    if ((rc = rd(ctx, p + CDH_LEN, var, nl + xl, err))) break;
    const char *name = entries[i].name;
    bool ascii = true;
    for (size_t k = 0; k < nl; k++) ascii &= var[k] < 0x80;
    if (has_unicode_path(var + nl, xl))
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: CSAR member '%.128s' carries an Info-ZIP "
                         "Unicode Path field (0x7075): readers that ignore it see another name",
                         name);
    else if (!ascii && !(le16(h + 8) & GPBF_UTF8))
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: CSAR member name '%.128s' is not ASCII and not "
                         "flagged UTF-8, so readers disagree on it (CP437 or UTF-8)",
                         name);
    else if (strlen(name) != nl || memcmp(name, var, nl) != 0)
      rc = refuse(err, "a member name in the last central directory differs from libzip's");
    uint8_t lh[LFH_LEN];
    span *sp = &spans[i];
    if (!rc && local_offset(h, var + nl, xl, &sp->start))
      rc = refuse(err, "a central header's ZIP64 field has no local header offset");
    if (!rc && (sp->start >= off || off - sp->start < LFH_LEN))
      rc = refuse(err, "a local header lies past the central directory");
    if (!rc && !(rc = rd(ctx, sp->start, lh, LFH_LEN, err)) && memcmp(lh, "PK\x03\x04", 4) != 0)
      rc = refuse(err, "a central header points to no local header");
    if (!rc) {
      /* the compressed size is libzip's, which ZIP_CHECKCONS held to both headers */
      uint64_t head = LFH_LEN + (uint64_t)le16(lh + 26) + le16(lh + 28), room = off - sp->start;
      sp->data_end = head > room || entries[i].comp_size > room - head
                         ? off + 1 /* past the directory: refused below */
                         : sp->start + head + entries[i].comp_size;
      sp->descriptor = le16(h + 8) & GPBF_DESCRIPTOR;
      sp->crc = le32(h + 16);
    }
    p += CDH_LEN + nl + xl + cl;
  }
  if (!rc && p != end) rc = refuse(err, "the central directory has bytes after its members");
  if (!rc) rc = spans_fill(rd, ctx, spans, n, off, err);
  free(spans);
  free(var);
  return rc;
}
