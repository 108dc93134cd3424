/* A signed batch (events.h, form 2): the VM signs one statement that
 * lists the SHA-256 of each event's canonical bytes, in order, instead of
 * each event, so lisecd verifies one signature per batch and each event is
 * still bound by its own digest, which the audit record keeps beside it
 * (issue 20: 20,000 events/s on 2 cores; docs/events.md "A signed batch").
 *   {"batch":{"digests":["<hex>",...],"v":2,"vm":"<vm>"},
 *    "events":[{"event":{...}},...],"sig":"<base64>"}
 * The parse is bounded like form 1 (max_batch events, each within
 * max_event once written as {"digest":"<hex>","event":{...}}); the
 * statement that is verified is rebuilt from the parsed digests, and the
 * digests are compared with those of the events rebuilt from their parsed
 * fields, so neither what was signed nor what is recorded is taken as
 * received bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "events/events.h"

static const char *const BODY_KEYS[] = {"batch", "events", "sig", NULL};
static const char *const STMT_KEYS[] = {"digests", "v", "vm", NULL};
static const char *const MEMBER_KEYS[] = {"event", NULL};

int ev_unsigned_text(const ev_record *r, char **out, lisec_err *err) {
  char *canon = NULL;
  *out = NULL;
  int rc = ev_canonical(r, &canon, err);
  if (rc) return rc;
  size_t n = strlen(canon) + sizeof "{\"event\":}";
  if ((*out = malloc(n))) snprintf(*out, n, "{\"event\":%s}", canon);
  free(canon);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ev_batch_statement(const char *vm, const uint8_t (*digests)[EV_DIGEST_LEN], size_t n, char **out,
                       lisec_err *err) {
  *out = NULL;
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++) {
    char hex[2 * EV_DIGEST_LEN + 1];
    lisec_hex_encode(digests[i], EV_DIGEST_LEN, hex);
    if (json_array_append_new(list, json_string(hex))) json_decref(list), list = NULL;
  }
  json_t *j = list ? json_pack("{s:o, s:i, s:s}", "digests", list, "v", EV_BATCH_VERSION, "vm", vm) : NULL;
  if (j) *out = lisec_json_dump_canonical(j);
  json_decref(j);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* One event of a signed batch: {"event": {...}} and nothing else; its
 * canonical bytes, digest and recorded text. */
static int member_parse(const json_t *j, size_t max_event, ev_signed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  int rc;
  if (!json_is_object(j) || !json_object_get(j, "event"))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: an event of a signed batch is {\"event\": {...}}");
  if (json_object_get(j, "sig"))
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: an event of a signed batch has no signature of its own (the batch's covers it)");
  if ((rc = lisec_json_only_keys(j, MEMBER_KEYS, err)) ||
      (rc = ev_parse_record(json_object_get(j, "event"), &out->rec, err)) ||
      (rc = ev_canonical(&out->rec, &out->canonical, err)))
    goto fail;
  crypto_sha256(out->canonical, strlen(out->canonical), out->digest);
  char hex[2 * EV_DIGEST_LEN + 1];
  lisec_hex_encode(out->digest, EV_DIGEST_LEN, hex);
  size_t n = strlen(out->canonical) + sizeof hex + 32;
  if (!(out->text = malloc(n))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto fail;
  }
  snprintf(out->text, n, "{\"digest\":\"%s\",\"event\":%s}", hex, out->canonical);
  if ((n = strlen(out->text)) > max_event) {
    rc = lisec_err_set(err, LISEC_ETOOBIG, "TR103308-4.1: event of %zu bytes over the limit of %zu ([events] max_event)",
                       n, max_event);
    goto fail;
  }
  return 0;
fail:
  ev_signed_clear(out);
  return rc;
}

static bool lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* The statement's fields: v 2, the VM, n digests of 64 lowercase hex. */
static int statement_parse(const json_t *st, size_t n, const char **vm, uint8_t (*claimed)[EV_DIGEST_LEN],
                           lisec_err *err) {
  int64_t v = 0;
  int rc;
  const json_t *d = json_object_get(st, "digests");
  if (!json_is_object(st) || !json_is_array(d))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a signed batch's \"batch\" is {\"digests\": [...], \"v\": 2, \"vm\": ...}");
  if ((rc = lisec_json_only_keys(st, STMT_KEYS, err)) ||
      (rc = lisec_json_get_int(st, "v", true, EV_BATCH_VERSION, EV_BATCH_VERSION, &v, err)) ||
      (rc = lisec_json_get_str(st, "vm", true, EV_VM_MAX, vm, err)) ||
      (rc = lisec_id_check("batch vm", *vm, strlen(*vm), err))) {
    lisec_err_wrap(err, "TR103308-4.1: signed batch");
    return rc;
  }
  if (json_array_size(d) != n)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: the signed batch lists %zu digests for %zu events (a batch is signed and sent whole)",
                         json_array_size(d), n);
  for (size_t i = 0; i < n; i++) {
    const char *h = json_string_value(json_array_get(d, i));
    if (!h || json_string_length(json_array_get(d, i)) != 2 * EV_DIGEST_LEN || !lower_hex(h, 2 * EV_DIGEST_LEN) ||
        lisec_hex_decode(h, claimed[i], EV_DIGEST_LEN))
      return lisec_err_set(err, LISEC_EINVAL,
                           "TR103308-4.1: signed batch digest %zu: the SHA-256 in 64 lowercase hex digits", i);
  }
  return 0;
}

int ev_signed_batch_parse(const json_t *body, const ev_limits *lim, ev_batch *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  out->form = 2;
  const json_t *list = json_object_get(body, "events");
  const char *vm = NULL, *b64 = NULL;
  int rc;
  if ((rc = lisec_json_only_keys(body, BODY_KEYS, err))) {
    lisec_err_wrap(err, "TR103308-4.1: signed batch");
    return rc;
  }
  if (!json_is_array(list) || json_array_size(list) == 0)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a signed batch has \"events\": [1 or more events]");
  size_t n = json_array_size(list);
  if (n > lim->max_batch)
    return lisec_err_set(err, LISEC_ETOOBIG, "TR103308-4.1: batch of %zu events over the limit of %zu ([events] max_batch)",
                         n, lim->max_batch);
  if (!json_object_get(body, "sig"))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: the batch is not signed (no sig)");
  if ((rc = lisec_json_get_str(body, "sig", true, 2 * EV_SIG_MAX, &b64, err))) {
    lisec_err_wrap(err, "TR103308-4.1: signed batch");
    return rc;
  }
  out->claimed = calloc(n, sizeof *out->claimed);
  out->ev = calloc(n, sizeof *out->ev);
  if (!out->claimed || !out->ev || !(out->sig_b64 = strdup(b64))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = statement_parse(json_object_get(body, "batch"), n, &vm, out->claimed, err))) goto fail;
  if (crypto_base64_decode(b64, EV_SIG_MAX, &out->sig, &out->sig_len, err) || out->sig_len == 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: signed batch sig: base64 of at most %d bytes", EV_SIG_MAX);
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    rc = member_parse(json_array_get(list, i), lim->max_event, &out->ev[i], err);
    if (!rc && strcmp(out->ev[i].rec.vm, vm) != 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: a batch holds one VM's events");
    out->n = i + 1;
    if (rc) {
      lisec_err_wrap(err, "event %zu of the batch", i);
      goto fail;
    }
  }
  if ((rc = ev_batch_statement(vm, (const uint8_t(*)[EV_DIGEST_LEN])out->claimed, n, &out->statement, err))) goto fail;
  return 0;
fail:
  ev_batch_clear(out);
  return rc;
}

int ev_signed_batch_verify(const ev_batch *b, EVP_PKEY *key, lisec_err *err) {
  for (size_t i = 0; i < b->n; i++)
    if (!crypto_ct_equal(b->ev[i].digest, b->claimed[i], EV_DIGEST_LEN))
      return lisec_err_set(err, LISEC_EDENIED,
                           "TR103308-4.1: event seq %llu does not match digest %zu of the signed batch; "
                           "the batch signature does not cover it",
                           (unsigned long long)b->ev[i].rec.seq, i);
  lisec_err ignored = {0};
  if (!key || !b->statement || !b->sig ||
      crypto_pkey_verify(key, b->statement, strlen(b->statement), b->sig, b->sig_len, &ignored))
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: the batch signature does not verify against the VM's paired key");
  return 0;
}

int ev_signed_batch_statement(const char *const *events, size_t n, size_t max_event, char **stmt,
                              lisec_err *err) {
  *stmt = NULL;
  if (!events || n == 0 || n > EV_BATCH_CEILING)
    return lisec_err_set(err, LISEC_EINVAL, "a signed batch has 1 to %d events", EV_BATCH_CEILING);
  uint8_t digests[EV_BATCH_CEILING][EV_DIGEST_LEN];
  char vm[EV_VM_MAX + 1] = "";
  int rc = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    json_t *j = NULL;
    ev_signed s;
    size_t len = events[i] ? strlen(events[i]) : 0;
    if (len == 0 || len > max_event) rc = lisec_err_set(err, LISEC_EINVAL, "event %zu: empty or over %zu bytes", i, max_event);
    if (!rc) rc = lisec_json_parse(events[i], len, &j, err);
    if (!rc) rc = member_parse(j, max_event, &s, err);
    json_decref(j);
    if (rc) break;
    if (i == 0) memcpy(vm, s.rec.vm, strlen(s.rec.vm) + 1);
    else if (strcmp(vm, s.rec.vm) != 0) rc = lisec_err_set(err, LISEC_EINVAL, "a batch holds one VM's events");
    memcpy(digests[i], s.digest, EV_DIGEST_LEN);
    ev_signed_clear(&s);
  }
  return rc ? rc : ev_batch_statement(vm, (const uint8_t(*)[EV_DIGEST_LEN])digests, n, stmt, err);
}

int ev_signed_batch_body(const char *const *events, size_t n, const char *stmt, const uint8_t *sig,
                         size_t sig_len, char **body, lisec_err *err) {
  char *b64 = NULL;
  *body = NULL;
  if (crypto_base64_encode(sig, sig_len, &b64)) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t len = strlen(stmt) + strlen(b64) + 64;
  for (size_t i = 0; i < n; i++) len += strlen(events[i]) + 1;
  char *p = malloc(len);
  if (p) {
    size_t at = (size_t)snprintf(p, len, "{\"batch\":%s,\"events\":[", stmt);
    for (size_t i = 0; i < n; i++) at += (size_t)snprintf(p + at, len - at, "%s%s", i ? "," : "", events[i]);
    snprintf(p + at, len - at, "],\"sig\":\"%s\"}", b64);
  }
  free(b64);
  *body = p;
  return p ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
