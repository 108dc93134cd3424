/* liblisec-events, the VM's side (include/lisec/events.h): its key file,
 * its sequence state file and the signing of one event with events/'s
 * canonical form. Files only; sending is libsend.c. */
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
#include "lisec/events.h"

struct lisec_event_key {
  EVP_PKEY *pkey;
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
  free(k);
}

int lisec_event_seq_next(const char *state_path, unsigned long long *seq, char err[LISEC_EVENT_ERR_MAX]) {
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
  if (!rc) {
    char text[48];
    int n = snprintf(text, sizeof text, "seq %llu\n", last + 1);
    if (lisec_file_write_atomic(state_path, text, (size_t)n, 0600, &e)) rc = fail_err(err, state_path, &e);
    else *seq = last + 1;
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
  return ev_sign(&r, k->pkey, out, &e) ? fail_err(err, "event", &e) : 0;
}
