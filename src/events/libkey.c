/* liblisec-events, the VM's side (include/lisec/events.h): its key file
 * (a software key, or a key in the VM's TPM through tpmkey.h), its
 * sequence state file and the signing of one event with events/'s
 * canonical form, through the one signer of both kinds of key (evk_sign).
 * Files only; sending is libsend.c. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "events/events.h"
#include "events/libkey.h"
#include "events/tpmkey.h"
#include "lisec/events.h"

/* One of the two: pkey (software) or tpm (the key loaded in the TPM). */
struct lisec_event_key {
  EVP_PKEY *pkey;
  evtpm *tpm;
};

static int fail(char err[LISEC_EVENT_ERR_MAX], const char *msg) {
  if (err) snprintf(err, LISEC_EVENT_ERR_MAX, "%s", msg);
  return -1;
}

static int fail_err(char err[LISEC_EVENT_ERR_MAX], const char *what, const lisec_err *e) {
  if (err) snprintf(err, LISEC_EVENT_ERR_MAX, "%.60s: %.190s", what, e->msg);
  return -1;
}

int lisec_event_key_create(const char *key_path, const char *pub_path, char err[LISEC_EVENT_ERR_MAX]) {
  if (!key_path || !pub_path) return fail(err, "a key file and a public key file are required");
  lisec_err e = {0};
  EVP_PKEY *k = NULL;
  char *pub = NULL;
  if (crypto_pkey_generate(false, &k, &e) || crypto_pkey_public_pem(k, &pub, &e)) {
    EVP_PKEY_free(k);
    return fail_err(err, "cannot make a P-256 key", &e);
  }
  int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 && fflush(f) == 0 &&
           fsync(fileno(f)) == 0;
  int saved = errno;
  if (f) fclose(f);
  else if (fd >= 0) close(fd);
  EVP_PKEY_free(k);
  if (!ok) {
    if (fd >= 0) unlink(key_path);
    free(pub);
    char msg[LISEC_EVENT_ERR_MAX];
    snprintf(msg, sizeof msg, "%.160s: cannot write the key (%.60s)", key_path,
             fd < 0 && saved == EEXIST ? "exists already" : strerror(saved));
    return fail(err, msg);
  }
  int rc = lisec_file_write_atomic(pub_path, pub, strlen(pub), 0644, &e);
  free(pub);
  return rc ? fail_err(err, pub_path, &e) : 0;
}

int lisec_event_key_load(const char *key_path, lisec_event_key **out, char err[LISEC_EVENT_ERR_MAX]) {
  lisec_err e = {0};
  *out = calloc(1, sizeof **out);
  if (!*out) return fail(err, "out of memory");
  if (crypto_pkey_load_pem(key_path, true, &(*out)->pkey, &e)) {
    free(*out);
    *out = NULL;
    return fail_err(err, key_path, &e);
  }
  return 0;
}

void lisec_event_key_free(lisec_event_key *k) {
  if (!k) return;
  EVP_PKEY_free(k->pkey);
  evtpm_close(k->tpm);
  free(k);
}

/* ---- the key in the TPM ---------------------------------------------- */

static int write_new(const char *path, const void *data, size_t len, char err[LISEC_EVENT_ERR_MAX]) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
  int saved = errno;
  if (fd >= 0) close(fd);
  if (ok) return 0;
  if (fd >= 0) unlink(path);
  char msg[LISEC_EVENT_ERR_MAX];
  snprintf(msg, sizeof msg, "%.160s: cannot write the key (%.60s)", path,
           fd < 0 && saved == EEXIST ? "exists already" : strerror(saved));
  return fail(err, msg);
}

int lisec_event_key_create_tpm(const char *tcti, const char *key_path, const char *pub_path,
                               char err[LISEC_EVENT_ERR_MAX]) {
  if (!key_path || !pub_path) return fail(err, "a key file and a public key file are required");
  if (access(key_path, F_OK) == 0) {
    char msg[LISEC_EVENT_ERR_MAX];
    snprintf(msg, sizeof msg, "%.160s: cannot write the key (exists already)", key_path);
    return fail(err, msg);
  }
  lisec_err e = {0};
  evtpm *t = NULL;
  TPM2B_PUBLIC pub;
  TPM2B_PRIVATE priv;
  EVP_PKEY *pk = NULL;
  char *pem = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  int rc = evtpm_open(tcti, &t, &e) || evtpm_create(t, &pub, &priv, &e) || evtpm_public_pkey(&pub, &pk, &e) ||
                   crypto_pkey_public_pem(pk, &pem, &e) || evtpm_blob_encode(&pub, &priv, &blob, &blob_len, &e)
               ? fail_err(err, "TR103308-4.1: cannot make the event key in the TPM", &e)
               : 0;
  evtpm_close(t);
  EVP_PKEY_free(pk);
  if (!rc) rc = write_new(key_path, blob, blob_len, err);
  if (!rc && lisec_file_write_atomic(pub_path, pem, strlen(pem), 0644, &e)) rc = fail_err(err, pub_path, &e);
  free(blob);
  free(pem);
  return rc;
}

int lisec_event_key_load_tpm(const char *tcti, const char *key_path, lisec_event_key **out,
                             char err[LISEC_EVENT_ERR_MAX]) {
  *out = NULL;
  if (!key_path) return fail(err, "a key file is required");
  lisec_err e = {0};
  uint8_t *data = NULL;
  size_t len = 0;
  TPM2B_PUBLIC pub;
  TPM2B_PRIVATE priv;
  /* the file first: a bad one is refused without touching the TPM */
  if (lisec_file_read(key_path, EVTPM_BLOB_MAX, &data, &len, &e)) return fail_err(err, key_path, &e);
  int rc = evtpm_blob_decode(data, len, &pub, &priv, &e);
  free(data);
  if (rc) return fail_err(err, key_path, &e);
  lisec_event_key *k = calloc(1, sizeof *k);
  if (!k) return fail(err, "out of memory");
  if (evtpm_open(tcti, &k->tpm, &e) || evtpm_load(k->tpm, &pub, &priv, &e)) {
    lisec_event_key_free(k);
    return fail_err(err, "TR103308-4.1: the event key in the TPM", &e);
  }
  *out = k;
  return 0;
}

int evk_sign(const lisec_event_key *k, const void *msg, size_t len, uint8_t **sig, size_t *sig_len,
             lisec_err *err) {
  *sig = NULL;
  if (!k || (!k->pkey && !k->tpm)) return lisec_err_set(err, LISEC_EINVAL, "no key");
  if (k->pkey) return crypto_pkey_sign(k->pkey, msg, len, sig, sig_len, err);
  uint8_t digest[CRYPTO_SHA256_LEN];
  crypto_sha256(msg, len, digest);
  return evtpm_sign(k->tpm, digest, sig, sig_len, err);
}

int lisec_event_seq_next(const char *state_path, unsigned long long *seq, char err[LISEC_EVENT_ERR_MAX]) {
  return evk_seq_take(state_path, 0, 1, false, seq, err);
}

int evk_seq_take(const char *state_path, uint64_t floor, uint64_t count, bool from_floor,
                 unsigned long long *seq, char err[LISEC_EVENT_ERR_MAX]) {
  char lock[4096], msg[LISEC_EVENT_ERR_MAX];
  if (!state_path || snprintf(lock, sizeof lock, "%s.lock", state_path) >= (int)sizeof lock)
    return fail(err, "a state file path is required");
  int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
    snprintf(msg, sizeof msg, "%.160s: cannot lock (%.60s)", lock, strerror(errno));
    if (lfd >= 0) close(lfd);
    return fail(err, msg);
  }
  uint8_t *data = NULL;
  size_t len = 0;
  lisec_err e = {0};
  unsigned long long last = 0;
  int rc = 0;
  if (access(state_path, F_OK) == 0) {
    char end = 0;
    if (lisec_file_read(state_path, 64, &data, &len, &e) != 0) rc = fail_err(err, state_path, &e);
    else if (sscanf((const char *)data, "seq %llu%c", &last, &end) != 2 || end != '\n' ||
             last >= EV_SEQ_MAX) {
      snprintf(msg, sizeof msg, "%.120s: not a sequence state (\"seq N\"); refusing to guess a number", state_path);
      rc = fail(err, msg);
    }
    free(data);
  }
  /* the first seq given, and the state's new last */
  unsigned long long first = (from_floor || last < floor ? floor : last) + 1, top = first - 1 + count;
  if (!rc && (count == 0 || floor >= EV_SEQ_MAX || count > EV_SEQ_MAX - (first - 1))) {
    snprintf(msg, sizeof msg, "%.120s: no %llu seq(s) are left after %llu", state_path,
             (unsigned long long)count, first - 1);
    rc = fail(err, msg);
  }
  if (!rc && top < last) top = last; /* the state never goes down */
  if (!rc) {
    char text[48];
    int n = snprintf(text, sizeof text, "seq %llu\n", top);
    if (lisec_file_write_atomic(state_path, text, (size_t)n, 0600, &e)) rc = fail_err(err, state_path, &e);
    else *seq = first;
  }
  flock(lfd, LOCK_UN);
  close(lfd);
  return rc;
}

int lisec_event_sign(const lisec_event_key *k, const char *vm, unsigned long long seq, long long time,
                     const char *type, const char *const *details, char **out,
                     char err[LISEC_EVENT_ERR_MAX]) {
  ev_record r;
  lisec_err e = {0};
  *out = NULL;
  if (!k) return fail(err, "no key");
  if (ev_record_init(&r, vm, seq, time ? time : lisec_time_now(), type, &e)) return fail_err(err, "event", &e);
  for (size_t i = 0; details && details[i]; i++) {
    const char *eq = strchr(details[i], '=');
    char key[EV_DETAIL_KEY_MAX + 1];
    if (!eq || eq == details[i] || (size_t)(eq - details[i]) > EV_DETAIL_KEY_MAX)
      return fail(err, "event detail: key=value, the key 1-32 of a-z 0-9 _ -");
    snprintf(key, sizeof key, "%.*s", (int)(eq - details[i]), details[i]);
    if (ev_record_add_detail(&r, key, eq + 1, &e)) return fail_err(err, "event", &e);
  }
  char *canon = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  int rc = ev_canonical(&r, &canon, &e) || evk_sign(k, canon, strlen(canon), &sig, &sig_len, &e) ||
                   ev_signed_text(canon, sig, sig_len, out, &e)
               ? fail_err(err, "event", &e)
               : 0;
  free(canon);
  free(sig);
  return rc;
}
