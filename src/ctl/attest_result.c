/* The newest appraisal's EAR and verdict split into their per-report part,
 * kept in the host's document, and their lasting part, a document of its
 * own written only when it changes (ctl/attest_result.h). A report of a
 * steady host so writes, reads and parses a host document of a few hundred
 * bytes instead of one that carries the whole EAR and verdict each time.
 * The lasting part is named by the SHA-256 of its canonical text, and the
 * host's document and it are written in one transaction (ctl/attest.c), so
 * the name in "last" and the stored text agree whichever lisecd wrote
 * them; a read checks that they do. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/attest_result.h"

/* The quote's facts that change from one report to the next. */
static const char *const quote_per_report[] = {"clock", "reset_count", "restart_count", "safe"};

static void ref_of(const char *text, char ref[CTL_ATTEST_RESULT_REF_LEN + 1]) {
  uint8_t d[32];
  crypto_sha256(text, strlen(text), d);
  lisec_hex_encode(d, CTL_ATTEST_RESULT_REF_LEN / 2, ref);
}

/* Moves member key of from into to as name (when present). */
static void move(json_t *from, const char *key, json_t *to, const char *name) {
  json_t *x = json_object_get(from, key);
  if (!x) return;
  json_object_set(to, name, x);
  json_object_del(from, key);
}

char *ctl_attest_result_split(json_t *last, json_t *ear, json_t *vj,
                              char ref[CTL_ATTEST_RESULT_REF_LEN + 1]) {
  move(ear, "iat", last, "iat");
  move(ear, "eat_nonce", last, "nonce");
  json_t *q = json_object_get(vj, "quote");
  if (json_is_object(q)) {
    json_t *per = json_object();
    if (!per) return NULL;
    for (size_t i = 0; i < LISEC_ARRAY_LEN(quote_per_report); i++)
      move(q, quote_per_report[i], per, quote_per_report[i]);
    json_object_set_new(last, "quote", per);
  }
  json_t *r = json_pack("{s:O, s:O}", "ear", ear, "verdict", vj);
  char *text = r ? lisec_json_dump_canonical(r) : NULL;
  json_decref(r);
  if (!text) return NULL;
  ref_of(text, ref);
  if (json_object_set_new(last, "result", json_string(ref))) {
    free(text);
    return NULL;
  }
  return text;
}

/* A copy of j with every object's members in sorted order, as a document
 * read from the store has them (answers keep their members' order). */
static json_t *canonical_copy(const json_t *j) {
  char *text = lisec_json_dump_canonical(j);
  json_t *out = NULL;
  if (text && lisec_json_parse(text, strlen(text), &out, NULL) != 0) out = NULL;
  free(text);
  return out;
}

/* The lasting part of host's result, parsed, when it is the one ref names. */
static json_t *read_result(lisec_store *s, const char *host, const char *ref, lisec_err *err) {
  char *text = NULL, got[CTL_ATTEST_RESULT_REF_LEN + 1];
  int64_t ver = 0;
  json_t *r = NULL;
  if (store_doc_get(s, CTL_ATTEST_RESULT_KIND, host, &text, &ver, err)) return NULL;
  ref_of(text, got);
  if (strcmp(got, ref) != 0)
    lisec_err_set(err, LISEC_ESTORE, "the stored result of host %.16s.. is not the one its document names",
                  host);
  else if (lisec_json_parse(text, strlen(text), &r, err) != 0)
    r = NULL;
  free(text);
  return r;
}

json_t *ctl_attest_result_join(lisec_store *s, const char *host, const json_t *last, lisec_err *err) {
  if (!last) return NULL;
  const char *ref = json_string_value(json_object_get(last, "result"));
  if (!ref || json_object_get(last, "ear")) return json_deep_copy(last);
  json_t *out = json_deep_copy(last), *r = read_result(s, host, ref, err);
  if (!out || !r) {
    json_decref(r);
    return out;
  }
  json_t *ear = json_object_get(r, "ear"), *vj = json_object_get(r, "verdict");
  if (json_is_object(ear)) {
    move(out, "iat", ear, "iat");
    move(out, "nonce", ear, "eat_nonce");
    json_object_set(out, "ear", ear);
  }
  json_t *per = json_object_get(out, "quote"), *q = json_object_get(vj, "quote");
  if (json_is_object(per) && json_is_object(q)) json_object_update(q, per);
  json_object_del(out, "quote");
  json_object_del(out, "result");
  if (json_is_object(vj)) json_object_set(out, "verdict", vj);
  json_decref(r);
  json_t *c = canonical_copy(out);
  json_decref(out);
  return c;
}
