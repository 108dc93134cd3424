/* Whole-file reads with a size ceiling and atomic writes (temporary file,
 * fsync, rename, fsync of the directory) so a crash never leaves a half file.
 * A file read may be a key or a PIN: what passed through the read leaves no
 * copy behind but the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/base.h"

int lisec_file_read(const char *path, size_t max, uint8_t **out, size_t *len, lisec_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lisec_err_set(err, LISEC_EIO, "cannot open %s: %s", path, strerror(errno));
  lisec_buf b;
  lisec_buf_init(&b, max);
  uint8_t chunk[65536];
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = lisec_err_set(err, LISEC_EIO, "cannot read %s: %s", path, strerror(errno));
      break;
    }
    if (n == 0) break;
    if (lisec_buf_append(&b, chunk, (size_t)n) != 0) {
      rc = lisec_err_set(err, LISEC_ETOOBIG, "%s is larger than %zu bytes", path, max);
      break;
    }
  }
  close(fd);
  /* the file may be a key or a PIN: no copy stays on the stack */
  OPENSSL_cleanse(chunk, sizeof chunk);
  if (!rc && !b.data && lisec_buf_append(&b, "", 0) != 0)
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc) {
    lisec_buf_free(&b);
    return rc;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

int lisec_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                            lisec_err *err) {
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 16), *dir = strdup(path);
  if (!tmp || !dir) {
    free(tmp);
    free(dir);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
  int rc = 0, fd = mkstemp(tmp);
  if (fd < 0) {
    rc = lisec_err_set(err, LISEC_EIO, "cannot create %s: %s", tmp, strerror(errno));
    goto out;
  }
  const uint8_t *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = lisec_err_set(err, LISEC_EIO, "cannot write %s: %s", tmp, strerror(errno));
      break;
    }
    p += n;
    left -= (size_t)n;
  }
  if (!rc && fchmod(fd, (mode_t)mode) != 0)
    rc = lisec_err_set(err, LISEC_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
  if (!rc && fsync(fd) != 0)
    rc = lisec_err_set(err, LISEC_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
  close(fd);
  if (!rc && rename(tmp, path) != 0)
    rc = lisec_err_set(err, LISEC_EIO, "cannot rename to %s: %s", path, strerror(errno));
  if (rc) {
    unlink(tmp);
  } else {
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
out:
  free(tmp);
  free(dir);
  return rc;
}
