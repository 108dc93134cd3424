/* Member names and sizes of a package: a CSAR is unpacked and read by
 * people and tools that trust its names, so a name that climbs out of the
 * package (../, an absolute path, a drive letter, a backslash), hides
 * (control bytes), or collides with another (exactly or by case) is refused
 * before any content is read, as is a member that expands past its bounds
 * (a zip bomb). Also the small helpers every reader of a pkg_source uses. */
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

void pkg_limits_default(pkg_limits *l) {
  l->max_entries = 10000;
  l->max_file_size = 8ull << 30;
  l->max_total_size = 16ull << 30;
  l->max_ratio = 200;
  l->ratio_floor = 1ull << 20;
}

int pkg_path_check(const char *name, bool is_dir, lisec_err *err) {
  size_t n = strnlen(name, PKG_PATH_MAX + 1);
  if (n == 0) return lisec_err_set(err, LISEC_EINVAL, "NFV-SEC025-onboarding-1: empty member name");
  if (n > PKG_PATH_MAX)
    return lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: member name longer than %d bytes", PKG_PATH_MAX);
  if (name[0] == '/')
    return lisec_err_set(err, LISEC_EINVAL, "NFV-SEC025-onboarding-1: absolute member name '%.128s'",
                         name);
  if (n >= 2 && name[1] == ':')
    return lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: member name with a drive letter '%.128s'", name);
  size_t end = n;
  if (is_dir && name[n - 1] == '/') end = n - 1;
  if (end == 0) return lisec_err_set(err, LISEC_EINVAL, "NFV-SEC025-onboarding-1: empty member name");
  size_t start = 0;
  for (size_t i = 0; i <= end; i++) {
    unsigned char c = i < end ? (unsigned char)name[i] : '/';
    if (i < end && (c < 0x20 || c == 0x7f))
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: control byte 0x%02x in a member name", c);
    if (c == '\\')
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: backslash in member name '%.128s'", name);
    if (c != '/') continue;
    size_t len = i - start;
    if (len == 0)
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: empty path component in '%.128s'", name);
    if ((len == 1 && name[start] == '.') ||
        (len == 2 && name[start] == '.' && name[start + 1] == '.'))
      return lisec_err_set(err, LISEC_EINVAL,
                           "NFV-SEC025-onboarding-1: path traversal ('.' or '..') in '%.128s'", name);
    start = i + 1;
  }
  return 0;
}

/* Names compared without a directory's trailing '/' and ignoring ASCII
 * case, so "a", "a/" and "A" collide as they would on some file system. */
static int name_cmp(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  size_t lx = strlen(x), ly = strlen(y);
  if (lx && x[lx - 1] == '/') lx--;
  if (ly && y[ly - 1] == '/') ly--;
  size_t m = lx < ly ? lx : ly;
  int c = strncasecmp(x, y, m);
  if (c) return c;
  return lx < ly ? -1 : lx > ly;
}

static int byte_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether a name of sorted (n names in strcmp order) starts with the l
 * bytes of dir and then '/': a binary search for the first name not below
 * "<dir>/", which is such a name if there is one. */
static bool has_child(const char *const *sorted, size_t n, const char *dir, size_t l) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *x = sorted[mid];
    int c = strncmp(x, dir, l);
    if (c == 0) c = (int)(unsigned char)x[l] - '/';
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && strncmp(sorted[lo], dir, l) == 0 && sorted[lo][l] == '/';
}

int pkg_entries_check(const pkg_entry *entries, size_t n, const pkg_limits *limits,
                      lisec_err *err) {
  if (n > limits->max_entries)
    return lisec_err_set(err, LISEC_ETOOBIG, "NFV-SEC025-onboarding-1: %zu members (at most %zu)", n,
                         limits->max_entries);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const pkg_entry *e = &entries[i];
    int rc = pkg_path_check(e->name, e->is_dir, err);
    if (rc) return rc;
    if (e->is_dir) continue;
    if (e->size > limits->max_file_size)
      return lisec_err_set(err, LISEC_ETOOBIG,
                           "NFV-SEC025-onboarding-1: member '%.128s' expands to %llu bytes "
                           "(at most %llu)",
                           e->name, (unsigned long long)e->size,
                           (unsigned long long)limits->max_file_size);
    total += e->size;
    if (total > limits->max_total_size)
      return lisec_err_set(err, LISEC_ETOOBIG,
                           "NFV-SEC025-onboarding-1: package expands past %llu bytes",
                           (unsigned long long)limits->max_total_size);
    if (e->size > limits->ratio_floor &&
        (e->comp_size == 0 || e->size / e->comp_size >= limits->max_ratio))
      return lisec_err_set(err, LISEC_ETOOBIG,
                           "NFV-SEC025-onboarding-1: member '%.128s' expands %llu bytes from %llu "
                           "(ratio at most %llu): a zip bomb",
                           e->name, (unsigned long long)e->size, (unsigned long long)e->comp_size,
                           (unsigned long long)limits->max_ratio);
  }
  if (n < 2) return 0;
  const char **names = malloc(n * sizeof *names);
  if (!names) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) names[i] = entries[i].name;
  qsort(names, n, sizeof *names, name_cmp);
  int rc = 0;
  for (size_t i = 1; i < n && !rc; i++)
    if (name_cmp(&names[i - 1], &names[i]) == 0)
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: duplicate member name '%.128s' / '%.128s'",
                         names[i - 1], names[i]);
  if (rc) {
    free(names);
    return rc;
  }
  /* A regular member used as a directory by another ("a" and "a/b"): the
   * names in byte order, where those under "a/" follow one another, and a
   * binary search for each regular member's "<name>/" (the first member
   * refused is the first in the package's order, as a scan would find). */
  qsort(names, n, sizeof *names, byte_cmp);
  for (size_t i = 0; i < n && !rc; i++)
    if (!entries[i].is_dir && has_child(names, n, entries[i].name, strlen(entries[i].name)))
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "NFV-SEC025-onboarding-1: '%.128s' is both a file and a directory",
                         entries[i].name);
  free(names);
  return rc;
}

long pkg_source_find(const pkg_source *src, const char *name) {
  for (size_t i = 0; i < src->n_entries; i++)
    if (!src->entries[i].is_dir && strcmp(src->entries[i].name, name) == 0) return (long)i;
  return -1;
}

static int sink_buf(void *sctx, const uint8_t *data, size_t len, lisec_err *err) {
  if (lisec_buf_append(sctx, data, len))
    return lisec_err_set(err, LISEC_ETOOBIG, "member larger than its bound");
  return 0;
}

int pkg_source_read_all(const pkg_source *src, size_t index, size_t max, uint8_t **out,
                        size_t *len, lisec_err *err) {
  if (index >= src->n_entries) return lisec_err_set(err, LISEC_EINVAL, "no such member");
  const pkg_entry *e = &src->entries[index];
  if (e->size > max)
    return lisec_err_set(err, LISEC_ETOOBIG, "member '%.128s' is %llu bytes (at most %zu)", e->name,
                         (unsigned long long)e->size, max);
  lisec_buf b;
  lisec_buf_init(&b, max);
  int rc = src->read(src->ctx, index, sink_buf, &b, err);
  if (rc) {
    lisec_buf_free(&b);
    lisec_err_wrap(err, "reading '%.128s'", e->name);
    return rc;
  }
  if (!b.data && lisec_buf_append(&b, "", 0)) {
    lisec_buf_free(&b);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  *out = b.data;
  *len = b.len;
  return 0;
}
