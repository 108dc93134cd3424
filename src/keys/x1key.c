/* The X1 client's TLS private keys in the keys process (x1key.h). A key is
 * read when first asked for and kept by path with the file's identity
 * (device, inode, size, change time): a file replaced at the same path (a
 * renewed certificate's key) is read again, an unchanged one is not. Only a
 * regular file this process can read, of at most KEY_FILE_MAX bytes, that
 * holds an unencrypted PEM EC private key is used; the file's bytes are
 * wiped once parsed. A few keys are kept; the oldest makes room. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "keys/wire.h"
#include "keys/x1key.h"

#define KEY_FILE_MAX (64u << 10)
#define KEYS_KEPT 16 /* NE registrations share a few ADMF keys */

typedef struct kept {
  char path[KEYS_PATH_MAX + 1];
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec ctime;
  EVP_PKEY *key;
  uint64_t used; /* for the oldest to go first */
} kept;

struct keys_x1keys {
  kept keys[KEYS_KEPT];
  uint64_t clock;
};

int keys_x1keys_open(keys_x1keys **out, lisec_err *err) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

static void kept_clear(kept *e) {
  EVP_PKEY_free(e->key);
  memset(e, 0, sizeof *e);
}

void keys_x1keys_close(keys_x1keys *k) {
  if (!k) return;
  for (size_t i = 0; i < KEYS_KEPT; i++) kept_clear(&k->keys[i]);
  free(k);
}

/* An encrypted key would ask for a passphrase on the terminal: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

/* Reads the key at path from the open fd (a regular file, st). */
static int load(int fd, const char *path, const struct stat *st, EVP_PKEY **out, lisec_err *err) {
  if (st->st_size <= 0 || (size_t)st->st_size > KEY_FILE_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: not a key file of 1 to %u bytes", path,
                         KEY_FILE_MAX);
  size_t n = (size_t)st->st_size, got = 0;
  char *text = malloc(n);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  while (got < n) {
    ssize_t r = read(fd, text + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  int rc = 0;
  EVP_PKEY *key = NULL;
  BIO *b = got == n ? BIO_new_mem_buf(text, (int)n) : NULL;
  if (got != n) rc = lisec_err_set(err, LISEC_EIO, "X1 client key %.200s: cannot read it", path);
  else if (!b) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else if (!(key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)))
    rc = lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: not an unencrypted PEM private key", path);
  else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "X1 client key %.200s: an X1 client key must be an EC key (ECDSA, e.g. P-256), not %s",
                       path, OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
  ERR_clear_error();
  BIO_free(b);
  crypto_wipe(text, n);
  free(text);
  if (rc) EVP_PKEY_free(key);
  else *out = key;
  return rc;
}

/* The key kept for path, read (again) when absent or its file changed. */
static int key_for(keys_x1keys *k, const char *path, EVP_PKEY **out, lisec_err *err) {
  if (path[0] != '/') return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: not an absolute path", path);
  /* O_NONBLOCK: a FIFO at the path must not hang the keys process */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: the keys process cannot read it: %s", path,
                         strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: not a regular file", path);
  }
  kept *slot = &k->keys[0];
  for (size_t i = 0; i < KEYS_KEPT; i++) {
    kept *e = &k->keys[i];
    if (e->key && strcmp(e->path, path) == 0) {
      slot = e;
      break;
    }
    if (e->used < slot->used) slot = e; /* (an empty one has used 0) */
  }
  if (!(slot->key && strcmp(slot->path, path) == 0 && slot->dev == st.st_dev && slot->ino == st.st_ino &&
        slot->size == st.st_size && slot->ctime.tv_sec == st.st_ctim.tv_sec &&
        slot->ctime.tv_nsec == st.st_ctim.tv_nsec)) {
    EVP_PKEY *key = NULL;
    if ((rc = load(fd, path, &st, &key, err))) {
      close(fd);
      return rc;
    }
    kept_clear(slot);
    snprintf(slot->path, sizeof slot->path, "%s", path);
    slot->dev = st.st_dev, slot->ino = st.st_ino, slot->size = st.st_size, slot->ctime = st.st_ctim;
    slot->key = key;
  }
  close(fd);
  slot->used = ++k->clock;
  *out = slot->key;
  return 0;
}

int keys_x1keys_sign(keys_x1keys *k, const char *path, unsigned alg, const uint8_t *digest, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len, lisec_err *err) {
  if (alg != KEYS_X1_ECDSA) return lisec_err_set(err, LISEC_EINVAL, "X1 client key: unknown algorithm %u", alg);
  if (len == 0 || len > KEYS_X1_DIGEST_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: a digest is 1 to %d bytes", KEYS_X1_DIGEST_MAX);
  EVP_PKEY *key = NULL;
  int rc = key_for(k, path, &key, err);
  if (rc) return rc;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  size_t n = cap;
  if (!c || EVP_PKEY_sign_init(c) != 1 || EVP_PKEY_sign(c, sig, &n, digest, len) != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "X1 client key %.200s: signing failed", path);
  else *sig_len = n;
  ERR_clear_error();
  EVP_PKEY_CTX_free(c);
  return rc;
}
