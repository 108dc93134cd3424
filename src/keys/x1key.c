/* The X1 client's TLS private keys in the keys process (x1key.h). A key is
 * read when first asked for and kept by path with the file's identity
 * (device, inode, size, change time): a file replaced at the same path (a
 * renewed certificate's key) is read again, an unchanged one is not. Only a
 * regular file this process can read, of at most KEY_FILE_MAX bytes, that
 * holds an unencrypted PEM EC or RSA private key is used; the file's bytes
 * are wiped once parsed. A few keys are kept; the oldest makes room. An EC
 * key signs a digest (ECDSA); an RSA key signs a DigestInfo (PKCS#1 v1.5)
 * or a PSS block that is checked to be one first (wire.h's X1_SIGN). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
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
  char dir[PATH_MAX]; /* [keys] x1_key_dir, resolved; "" when unset: no key signs */
};

int keys_x1keys_open(const char *dir, keys_x1keys **out, lisec_err *err) {
  keys_x1keys *k = calloc(1, sizeof *k);
  if (!k) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (dir && !realpath(dir, k->dir)) {
    int e = errno;
    free(k);
    return lisec_err_set(err, LISEC_EINVAL, "[keys] x1_key_dir %.200s: %s", dir, strerror(e));
  }
  *out = k;
  return 0;
}

/* Whether path, resolved (symlinks too), lies in the key directory; with
 * none set, no path does. */
static int in_key_dir(const keys_x1keys *k, const char *path, char real[PATH_MAX], lisec_err *err) {
  if (!k->dir[0])
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.7: [keys] x1_key_dir is not set: the keys process signs no X1 handshake "
                         "until it names the directory of the ADMF's X1 client keys");
  if (!realpath(path, real))
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: the keys process cannot read it: %s", path,
                         strerror(errno));
  size_t n = strlen(k->dir);
  if (!(strncmp(real, k->dir, n) == 0 && (real[n] == '/' || (n == 1 && k->dir[0] == '/'))))
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.7: X1 client key %.200s is not in [keys] x1_key_dir (%.200s): the keys "
                         "process signs with no other key file",
                         path, k->dir);
  return 0;
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
  else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "X1 client key %.200s: an X1 client key must be an EC key (ECDSA, e.g. P-256) or an RSA "
                       "key, not %s",
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
  char real[PATH_MAX];
  int rc = in_key_dir(k, path, real, err);
  if (rc) return rc;
  /* O_NONBLOCK: a FIFO at the path must not hang the keys process; the
   * resolved path, opened without following a link put there since */
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
  if (fd < 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: the keys process cannot read it: %s", path,
                         strerror(errno));
  struct stat st;
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

/* A DER DigestInfo and nothing else: what RSASSA-PKCS1-v1_5 signs. */
static bool digest_info(const uint8_t *p, size_t n) {
  const unsigned char *q = p;
  X509_SIG *d = d2i_X509_SIG(NULL, &q, (long)n);
  bool ok = d && q == p + n;
  X509_SIG_free(d);
  return ok;
}

/* MGF1 (RFC 8017 B.2.1): len bytes of Hash(seed || counter) ... */
static bool mgf1(uint8_t *out, size_t len, const uint8_t *seed, size_t seed_len, const EVP_MD *md) {
  uint8_t buf[EVP_MAX_MD_SIZE + 4], h[EVP_MAX_MD_SIZE];
  unsigned hl = 0;
  memcpy(buf, seed, seed_len);
  for (uint32_t c = 0, at = 0; at < len; c++) {
    buf[seed_len] = (uint8_t)(c >> 24), buf[seed_len + 1] = (uint8_t)(c >> 16);
    buf[seed_len + 2] = (uint8_t)(c >> 8), buf[seed_len + 3] = (uint8_t)c;
    if (EVP_Digest(buf, seed_len + 4, h, &hl, md, NULL) != 1) return false;
    size_t n = len - at < hl ? len - at : hl;
    memcpy(out + at, h, n);
    at += (uint32_t)n;
  }
  crypto_wipe(h, sizeof h);
  return true;
}

/* An EMSA-PSS encoded block (RFC 8017 9.1.1) for a key of bits bits, with
 * MGF1 and a salt as long as the hash (SHA-256, -384 or -512), as TLS signs:
 * the structure is checked without the message, so a block that is not one
 * (e.g. a ciphertext to decrypt) is refused. */
static bool pss_block(const uint8_t *em, size_t k, int bits) {
  size_t em_bits = (size_t)bits - 1, em_len = (em_bits + 7) / 8;
  if (em_len < k) {
    if (em[0] != 0) return false;
    em++;
  }
  uint8_t top = (uint8_t)(0xff >> (8 * em_len - em_bits));
  if (em[em_len - 1] != 0xbc || (em[0] & ~top)) return false;
  const EVP_MD *mds[] = {EVP_sha256(), EVP_sha384(), EVP_sha512()};
  uint8_t db[KEYS_X1_SIG_MAX];
  bool ok = false;
  for (size_t m = 0; m < 3 && !ok; m++) {
    size_t h = (size_t)EVP_MD_get_size(mds[m]);
    if (em_len < 2 * h + 2) continue;
    size_t db_len = em_len - h - 1, zeros = db_len - h - 1;
    if (!mgf1(db, db_len, em + db_len, h, mds[m])) continue;
    for (size_t i = 0; i < db_len; i++) db[i] ^= em[i];
    db[0] &= top;
    size_t i = 0;
    while (i < zeros && db[i] == 0) i++;
    ok = i == zeros && db[zeros] == 0x01;
  }
  crypto_wipe(db, sizeof db);
  return ok;
}

int keys_x1keys_sign(keys_x1keys *k, const char *path, unsigned alg, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len, lisec_err *err) {
  if (alg < KEYS_X1_ECDSA || alg > KEYS_X1_RSA_PSS)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: unknown algorithm %u", alg);
  if (len == 0 || len > KEYS_X1_SIG_MAX || (alg == KEYS_X1_ECDSA && len > KEYS_X1_DIGEST_MAX))
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: a digest is 1 to %d bytes", KEYS_X1_DIGEST_MAX);
  EVP_PKEY *key = NULL;
  int rc = key_for(k, path, &key, err);
  if (rc) return rc;
  bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
  if (rsa != (alg != KEYS_X1_ECDSA))
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: an %s key cannot make a%s signature", path,
                         rsa ? "RSA" : "EC", alg == KEYS_X1_ECDSA ? "n ECDSA" : "n RSA");
  int pad = RSA_PKCS1_PADDING;
  if (alg == KEYS_X1_RSA_PKCS1 && !digest_info(data, len))
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key %.200s: PKCS#1 v1.5 signs a DER DigestInfo only", path);
  if (alg == KEYS_X1_RSA_PSS) {
    if (len != (size_t)EVP_PKEY_get_size(key) || !pss_block(data, len, EVP_PKEY_get_bits(key)))
      return lisec_err_set(err, LISEC_EINVAL,
                           "X1 client key %.200s: not an EMSA-PSS block for this key (SHA-256/384/512, salt "
                           "as long as the hash)", path);
    pad = RSA_NO_PADDING;
  }
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  size_t n = cap;
  if (!c || EVP_PKEY_sign_init(c) != 1 || (rsa && EVP_PKEY_CTX_set_rsa_padding(c, pad) != 1) ||
      EVP_PKEY_sign(c, sig, &n, data, len) != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "X1 client key %.200s: signing failed", path);
  else *sig_len = n;
  ERR_clear_error();
  EVP_PKEY_CTX_free(c);
  return rc;
}
