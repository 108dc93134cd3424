/* The CSAR container: a ZIP archive read with libzip from a descriptor or
 * a buffer the caller opened (this module opens no path). Every member is
 * checked before any content is read: no encryption, only stored or
 * deflated data, no symlink or special file, local and central headers
 * consistent (ZIP_CHECKCONS), and names and sizes as pkg_entries_check
 * demands. Reads stream in 1 MiB chunks and stop the moment a member
 * produces more than it declared, so a lying header cannot expand past its
 * bound. Every member is read as libzip stores it (ZIP_FL_COMPRESSED):
 * stored data as is, its SHA-2 digest checked by the verifier; deflated
 * data inflated here with zlib, which must end its stream exactly at the
 * member's compressed size (bytes after the end may hold a data descriptor
 * and a local entry a streaming reader extracts, and libzip ignores them)
 * and yield the header's CRC-32.
 * Once libzip has read the archive, csar_cd.c reads its end and central
 * directory again byte by byte, so that what is verified is what other ZIP
 * readers will extract. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "pkg/internal.h"

#define CHUNK (1u << 20)
#define IN_CHUNK (256u << 10)

struct pkg_zip {
  zip_t *za;
  pkg_entry *entries;
  zip_uint64_t *zindex;
  bool *stored;
  uint32_t *crc;
  size_t n;
  uint8_t *buf, *in;
  pkg_source src;
};

static int too_big(const pkg_entry *e, lisec_err *err) {
  return lisec_err_set(err, LISEC_ETOOBIG,
                       "NFV-SEC025-onboarding-1: member '%.128s' expands past its declared %llu "
                       "bytes",
                       e->name, (unsigned long long)e->size);
}

static int damaged(const pkg_entry *e, const char *why, lisec_err *err) {
  return lisec_err_set(err, LISEC_EINVAL, "member '%.128s' is damaged: %s", e->name, why);
}

/* Bytes after a deflate stream's end, inside the member's compressed
 * size: libzip ignores them, a streaming reader takes them for a data
 * descriptor and more entries. */
static int trailing(const pkg_entry *e, lisec_err *err) {
  return lisec_err_set(err, LISEC_EINVAL,
                       "NFV-SEC025-onboarding-1: member '%.128s' has bytes after the end of its "
                       "deflate stream, which other ZIP readers read as more entries",
                       e->name);
}

/* Streams a stored member's bytes from f into sink. */
static int copy_member(pkg_zip *z, zip_file_t *f, const pkg_entry *e, pkg_sink sink, void *sctx,
                       uint64_t *total, lisec_err *err) {
  for (;;) {
    zip_int64_t n = zip_fread(f, z->buf, CHUNK);
    if (n < 0) return damaged(e, zip_file_strerror(f), err);
    if (n == 0) return 0;
    if ((uint64_t)n > e->size - *total) return too_big(e, err);
    *total += (uint64_t)n;
    int rc = sink(sctx, z->buf, (size_t)n, err);
    if (rc) return rc;
  }
}

/* Inflates a deflated member's compressed bytes from f into sink. */
static int inflate_member(pkg_zip *z, zip_file_t *f, const pkg_entry *e, uint32_t crc,
                          pkg_sink sink, void *sctx, uint64_t *total, lisec_err *err) {
  z_stream zs = {0};
  if (inflateInit2(&zs, -15) != Z_OK) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  uLong got_crc = crc32(0, Z_NULL, 0);
  bool end = false;
  int rc = 0;
  while (!rc) {
    zip_int64_t n = zip_fread(f, z->in, IN_CHUNK);
    if (n < 0) {
      rc = damaged(e, zip_file_strerror(f), err);
      break;
    }
    if (n == 0) break;
    if (end) {
      rc = trailing(e, err);
      break;
    }
    zs.next_in = z->in;
    zs.avail_in = (uInt)n;
    for (;;) {
      zs.next_out = z->buf;
      zs.avail_out = CHUNK;
      int zr = inflate(&zs, Z_NO_FLUSH);
      size_t out = CHUNK - zs.avail_out;
      if (zr == Z_BUF_ERROR && zs.avail_in == 0) break; /* needs more input */
      if (zr != Z_OK && zr != Z_STREAM_END) {
        rc = damaged(e, zs.msg ? zs.msg : "not a deflate stream", err);
        break;
      }
      if (out > e->size - *total) {
        rc = too_big(e, err);
        break;
      }
      *total += out;
      got_crc = crc32(got_crc, z->buf, (uInt)out);
      if (out && (rc = sink(sctx, z->buf, out, err))) break;
      if (zr == Z_STREAM_END) {
        end = true;
        if (zs.avail_in > 0) rc = trailing(e, err);
        break;
      }
      if (zs.avail_in == 0 && out < CHUNK) break; /* needs more input */
    }
  }
  inflateEnd(&zs);
  if (!rc && !end) rc = damaged(e, "its deflate stream ends early", err);
  if (!rc && got_crc != crc) rc = damaged(e, "CRC-32 error", err);
  return rc;
}

static int zip_read_member(void *ctx, size_t index, pkg_sink sink, void *sctx, lisec_err *err) {
  pkg_zip *z = ctx;
  if (index >= z->n || z->entries[index].is_dir)
    return lisec_err_set(err, LISEC_EINVAL, "no such member");
  const pkg_entry *e = &z->entries[index];
  zip_file_t *f = zip_fopen_index(z->za, z->zindex[index], ZIP_FL_COMPRESSED);
  if (!f)
    return lisec_err_set(err, LISEC_EIO, "cannot open member '%.128s': %s", e->name,
                         zip_strerror(z->za));
  uint64_t total = 0;
  int rc = z->stored[index] ? copy_member(z, f, e, sink, sctx, &total, err)
                            : inflate_member(z, f, e, z->crc[index], sink, sctx, &total, err);
  zip_fclose(f);
  if (!rc && total != e->size)
    rc = lisec_err_set(err, LISEC_EINVAL, "member '%.128s' is %llu bytes, declared %llu", e->name,
                       (unsigned long long)total, (unsigned long long)e->size);
  return rc;
}

void pkg_zip_close(pkg_zip *z) {
  if (!z) return;
  if (z->za) zip_discard(z->za);
  for (size_t i = 0; i < z->n; i++) free((char *)z->entries[i].name);
  free(z->entries);
  free(z->zindex);
  free(z->stored);
  free(z->crc);
  free(z->buf);
  free(z->in);
  free(z);
}

const pkg_source *pkg_zip_source(const pkg_zip *z) { return &z->src; }

static int check_member(pkg_zip *z, zip_uint64_t i, const pkg_limits *limits, lisec_err *err) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z->za, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
      !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE) ||
      !(st.valid & ZIP_STAT_COMP_METHOD) || !(st.valid & ZIP_STAT_CRC))
    return lisec_err_set(err, LISEC_EINVAL, "CSAR member %llu has no readable header",
                         (unsigned long long)i);
  const char *name = st.name;
  size_t nl = strnlen(name, PKG_PATH_MAX + 1);
  bool is_dir = nl > 0 && name[nl - 1] == '/';
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return lisec_err_set(err, LISEC_EINVAL, "CSAR member '%.128s' is encrypted", name);
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
    return lisec_err_set(err, LISEC_EINVAL,
                         "CSAR member '%.128s' uses compression method %d (stored or deflate only)",
                         name, (int)st.comp_method);
  zip_uint8_t opsys = 0;
  zip_uint32_t attr = 0;
  if (zip_file_get_external_attributes(z->za, i, 0, &opsys, &attr) == 0 &&
      opsys == ZIP_OPSYS_UNIX) {
    unsigned mode = attr >> 16, type = mode & S_IFMT;
    if (type == S_IFLNK)
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: CSAR member '%.128s' is a symbolic link", name);
    if (type && type != S_IFREG && type != S_IFDIR)
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: CSAR member '%.128s' is not a regular file",
                           name);
    if ((type == S_IFDIR) != is_dir && type)
      return lisec_err_set(err, LISEC_EINVAL,
                           "CSAR member '%.128s': its name and its type disagree on being a "
                           "directory",
                           name);
  }
  if (is_dir && st.size != 0)
    return lisec_err_set(err, LISEC_EINVAL, "CSAR directory '%.128s' has content", name);
  bool stored = st.comp_method == ZIP_CM_STORE;
  if (stored && st.comp_size != st.size)
    return lisec_err_set(err, LISEC_EINVAL, "stored CSAR member '%.128s' declares two sizes", name);
  int rc = pkg_path_check(name, is_dir, err);
  if (rc) return rc;
  (void)limits;
  pkg_entry *e = &z->entries[z->n];
  e->name = strdup(name);
  if (!e->name) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  e->size = st.size;
  e->comp_size = st.comp_size;
  e->is_dir = is_dir;
  z->zindex[z->n] = i;
  z->stored[z->n] = stored;
  z->crc[z->n] = st.crc;
  z->n++;
  return 0;
}

/* The raw bytes of the archive for csar_cd.c: a buffer or a descriptor. */
typedef struct raw_src {
  const uint8_t *data;
  int fd;
  uint64_t size;
} raw_src;

static int raw_read_at(void *ctx, uint64_t off, void *buf, size_t len, lisec_err *err) {
  const raw_src *r = ctx;
  if (off > r->size || r->size - off < len)
    return lisec_err_set(err, LISEC_EINVAL, "not a readable CSAR (ZIP) archive: offset past its end");
  if (r->data) {
    memcpy(buf, r->data + off, len);
    return 0;
  }
  for (size_t done = 0; done < len;) {
    ssize_t n = pread(r->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return lisec_err_set(err, LISEC_EIO, "cannot read the CSAR descriptor");
    done += (size_t)n;
  }
  return 0;
}

static int open_archive(zip_source_t *src, const raw_src *raw, const pkg_limits *limits,
                        pkg_zip **out, lisec_err *err) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!za) {
    int code = zip_error_code_zip(&ze);
    int rc = code == ZIP_ER_EXISTS
                 ? lisec_err_set(err, LISEC_EINVAL,
                                 "NFV-SEC025-onboarding-1: duplicate member name in the CSAR")
             : code == ZIP_ER_INCONS
                 ? lisec_err_set(err, LISEC_EINVAL,
                                 "not a readable CSAR (ZIP) archive: its headers disagree (%s)",
                                 zip_error_strerror(&ze))
                 : lisec_err_set(err, LISEC_EINVAL, "not a readable CSAR (ZIP) archive: %s",
                                 zip_error_strerror(&ze));
    zip_error_fini(&ze);
    zip_source_free(src);
    return rc;
  }
  zip_error_fini(&ze);
  pkg_zip *z = calloc(1, sizeof *z);
  if (!z) {
    zip_discard(za);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  z->za = za;
  zip_int64_t n = zip_get_num_entries(za, 0);
  int rc = 0;
  if (n < 0 || (uint64_t)n > limits->max_entries) {
    rc = lisec_err_set(err, LISEC_ETOOBIG, "NFV-SEC025-onboarding-1: %lld members (at most %zu)",
                       (long long)n, limits->max_entries);
    goto out;
  }
  size_t cnt = n ? (size_t)n : 1;
  z->entries = calloc(cnt, sizeof *z->entries);
  z->zindex = calloc(cnt, sizeof *z->zindex);
  z->stored = calloc(cnt, sizeof *z->stored);
  z->crc = calloc(cnt, sizeof *z->crc);
  z->buf = malloc(CHUNK);
  z->in = malloc(IN_CHUNK);
  if (!z->entries || !z->zindex || !z->stored || !z->crc || !z->buf || !z->in) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  for (zip_int64_t i = 0; i < n && !rc; i++) rc = check_member(z, (zip_uint64_t)i, limits, err);
  if (!rc) rc = pkg_entries_check(z->entries, z->n, limits, err);
  if (!rc) rc = pkg_zip_cd_check(raw_read_at, (void *)raw, raw->size, z->entries, z->n, err);
out:
  if (rc) {
    pkg_zip_close(z);
    return rc;
  }
  z->src.entries = z->entries;
  z->src.n_entries = z->n;
  z->src.read = zip_read_member;
  z->src.ctx = z;
  *out = z;
  return 0;
}

int pkg_zip_open_fd(int fd, const pkg_limits *limits, pkg_zip **out, lisec_err *err) {
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
    return lisec_err_set(err, LISEC_EIO, "the CSAR descriptor is not a regular file");
  raw_src raw = {.fd = fd, .size = (uint64_t)sb.st_size};
  int d = dup(fd);
  FILE *fp = d >= 0 ? fdopen(d, "rb") : NULL;
  if (!fp) {
    if (d >= 0) close(d);
    return lisec_err_set(err, LISEC_EIO, "cannot read the CSAR descriptor");
  }
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_filep_create(fp, 0, -1, &ze);
  zip_error_fini(&ze);
  if (!src) {
    fclose(fp);
    return lisec_err_set(err, LISEC_ENOMEM, "cannot read the CSAR descriptor");
  }
  return open_archive(src, &raw, limits, out, err);
}

int pkg_zip_open_mem(const void *data, size_t len, const pkg_limits *limits, pkg_zip **out,
                     lisec_err *err) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
  zip_error_fini(&ze);
  if (!src) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  raw_src raw = {.data = data, .fd = -1, .size = len};
  return open_archive(src, &raw, limits, out, err);
}
