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
 * Path field, and a non-ASCII name must be flagged UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

#define EOCD_LEN 22u
#define EOCD_COMMENT_MAX 65535u
#define LOC64_LEN 20u
#define EOCD64_LEN 56u
#define CDH_LEN 46u
#define EF_UNICODE_PATH 0x7075u
#define GPBF_UTF8 0x0800u

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

int pkg_zip_cd_check(pkg_read_at rd, void *ctx, uint64_t size, const pkg_entry *entries, size_t n,
                     lisec_err *err) {
  uint64_t off = 0, len = 0, count = 0;
  int rc = find_cd(rd, ctx, size, &off, &len, &count, err);
  if (rc) return rc;
  if (count != n) return refuse(err, "the last end record lists another number of members");
  uint8_t h[CDH_LEN];
  uint8_t *var = malloc(3u * 65535u);
  if (!var) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
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
    p += CDH_LEN + nl + xl + cl;
  }
  if (!rc && p != end) rc = refuse(err, "the central directory has bytes after its members");
  free(var);
  return rc;
}
