/* Attestation nonces in the store (issue 17 item 2). The table of a host's
 * outstanding nonces (attest/nonce.c) is read from its document, changed
 * and written back with the version it was read at; when another writer
 * changed it meanwhile (another request of this lisecd, or a lisecd that
 * led before), the write is refused by the store and the change is made
 * again on what is stored now. So a nonce is spent exactly once whoever
 * spends it, and a refusal is decided on the stored table, never on a copy
 * in one lisecd's memory. An appraisal takes its nonce without writing
 * (ctl_nonces_take) and writes the table, at the version it read, in the
 * same transaction as its audit entry and documents; a conflict there is
 * decided again with ctl_nonces_consume. The nonces are not secrets (the agent receives
 * them in clear inside TLS); what matters is that they are fresh and single
 * use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/attest_nonces.h"

/* Bounded: a conflict means another write landed, so progress is made. */
#define CAS_TRIES 16

static int load(lisec_store *s, const char *host, size_t max, attest_nonces **t, int64_t *ver,
                lisec_err *err) {
  char *body = NULL;
  json_t *doc = NULL;
  *ver = 0;
  int rc = store_doc_get(s, CTL_NONCES_KIND, host, &body, ver, err);
  if (rc == LISEC_ENOTFOUND) {
    *ver = 0;
    *t = attest_nonces_new(max);
    return *t ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc) rc = lisec_json_parse(body, strlen(body), &doc, err);
  if (!rc) rc = attest_nonces_from_json(doc, max, t, err);
  /* An unreadable table holds no nonce anyone can use: start afresh. */
  if (rc == LISEC_EINVAL) {
    LOG_WARN("attest: the stored nonces of host %.16s.. are unreadable, dropped: %s", host, err->msg);
    rc = (*t = attest_nonces_new(max)) ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  free(body);
  json_decref(doc);
  return rc;
}

static char *table_text(const attest_nonces *t) {
  json_t *j = attest_nonces_to_json(t);
  char *text = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  return text;
}

static int save(lisec_store *s, const char *host, const attest_nonces *t, int64_t ver,
                lisec_err *err) {
  char *text = table_text(t);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(s, CTL_NONCES_KIND, host, text, ver, NULL, err);
  free(text);
  return rc;
}

/* A write the store refused although nobody changed the table (a full
 * disk, a constraint): no nonce is issued or spent without being durable. */
static int not_durable(const char *host, lisec_err *err) {
  char why[LISEC_ERR_MSG_MAX];
  snprintf(why, sizeof why, "%s", err && err->msg[0] ? err->msg : "the store refused the write");
  return lisec_err_set(err, LISEC_ESTORE,
                       "attest: the nonces of host %.16s.. could not be made durable; action refused "
                       "(TR103308-5.5): %s",
                       host, why);
}

/* Whether a refused compare-and-set was another writer's change: the
 * version stored now is not the one the table was read at. */
static bool moved_on(lisec_store *s, const char *host, int64_t ver) {
  char *body = NULL;
  int64_t now = 0;
  lisec_err e = {0};
  int rc = store_doc_get(s, CTL_NONCES_KIND, host, &body, &now, &e);
  free(body);
  return rc == LISEC_ENOTFOUND ? ver != 0 : rc == 0 && now != ver;
}

static int cas_failed(const char *host, lisec_err *err) {
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.1: the nonces of host %.16s.. changed under every one of %d tries; "
                       "try again", host, CAS_TRIES);
}

int ctl_nonces_issue(lisec_store *s, const char *host, size_t max, int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[ATTEST_NONCE_LEN], lisec_err *err) {
  for (int i = 0; i < CAS_TRIES; i++) {
    attest_nonces *t = NULL;
    int64_t ver = 0;
    int rc = load(s, host, max, &t, &ver, err);
    if (!rc) rc = attest_nonce_issue(t, now_ms, ttl_ms, out, err);
    if (!rc) rc = save(s, host, t, ver, err);
    attest_nonces_free(t);
    if (rc == LISEC_ECONFLICT && !moved_on(s, host, ver)) return not_durable(host, err);
    if (rc != LISEC_ECONFLICT) return rc;
  }
  return cas_failed(host, err);
}

int ctl_nonces_consume(lisec_store *s, const char *host, size_t max, const uint8_t *nonce,
                       size_t len, int64_t now_ms, lisec_err *err) {
  for (int i = 0; i < CAS_TRIES; i++) {
    attest_nonces *t = NULL;
    int64_t ver = 0;
    int rc = load(s, host, max, &t, &ver, err);
    if (rc) return rc;
    lisec_err verdict = {0};
    int vrc = attest_nonce_consume(t, nonce, len, now_ms, &verdict);
    /* A refusal changes nothing stored; a use is stored before it counts. */
    rc = vrc ? 0 : save(s, host, t, ver, err);
    attest_nonces_free(t);
    if (vrc) {
      if (err) *err = verdict;
      return vrc;
    }
    if (rc == LISEC_ECONFLICT && !moved_on(s, host, ver)) return not_durable(host, err);
    if (rc && rc != LISEC_ECONFLICT) return not_durable(host, err);
    if (rc != LISEC_ECONFLICT) return rc;
  }
  return cas_failed(host, err);
}

int ctl_nonces_take(lisec_store *s, const char *host, size_t max, const uint8_t *nonce, size_t len,
                    int64_t now_ms, char **text, int64_t *ver, lisec_err *err) {
  attest_nonces *t = NULL;
  *text = NULL;
  int rc = load(s, host, max, &t, ver, err);
  if (rc) return rc;
  /* A refusal changes nothing and writes nothing; a use is the table to
   * store at *ver, which the caller's commit makes (or fails) together with
   * what the use decided. */
  rc = attest_nonce_consume(t, nonce, len, now_ms, err);
  if (!rc && !(*text = table_text(t))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  attest_nonces_free(t);
  return rc;
}

int ctl_nonces_forget(lisec_store *s, const char *host, lisec_err *err) {
  int rc = store_doc_delete(s, CTL_NONCES_KIND, host, err);
  return rc == LISEC_ENOTFOUND ? 0 : rc;
}
