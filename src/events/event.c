/* One event of an LI VM (events.h): its fields and their bounds, the one
 * canonical byte string that is signed, the signature by the VM's key, and
 * the parse of a signed event, which rebuilds the canonical bytes from the
 * parsed fields (never the bytes received), so there is one byte string
 * per meaning and a verifier elsewhere can rebuild it too (docs/events.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "events/events.h"

static const char *const TYPES[] = {"activation", "deactivation", "target-change", "delivery",
                                    "error",      "start",        "stop"};

bool ev_type_known(const char *type) {
  for (size_t i = 0; type && i < LISEC_ARRAY_LEN(TYPES); i++)
    if (strcmp(type, TYPES[i]) == 0) return true;
  return false;
}

int ev_record_init(ev_record *r, const char *vm, uint64_t seq, int64_t time, const char *type,
                   lisec_err *err) {
  memset(r, 0, sizeof *r);
  int rc = lisec_id_check("event vm", vm, vm ? strnlen(vm, EV_VM_MAX + 1) : 0, err);
  if (rc) return rc;
  if (seq == 0 || seq > EV_SEQ_MAX) return lisec_err_set(err, LISEC_EINVAL, "event seq must be 1..2^53");
  if (time < 0 || (uint64_t)time > EV_SEQ_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "event time must be seconds since the epoch");
  if (!ev_type_known(type))
    return lisec_err_set(err, LISEC_EINVAL,
                         "event type must be activation, deactivation, target-change, delivery, "
                         "error, start or stop");
  memcpy(r->vm, vm, strlen(vm) + 1);
  memcpy(r->type, type, strlen(type) + 1);
  r->seq = seq;
  r->time = time;
  return 0;
}

static bool key_ok(const char *k) {
  size_t n = k ? strnlen(k, EV_DETAIL_KEY_MAX + 1) : 0;
  if (n == 0 || n > EV_DETAIL_KEY_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

/* UTF-8 (jansson checks the encoding of what it parses; this checks what a
 * VM builds) without control characters. */
static bool value_ok(const char *v, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)v[i];
    if (c < 0x20 || c == 0x7f) return false;
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xc2)) return false;
    for (size_t j = 1; j < len; j++)
      if (((unsigned char)v[i + j] & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

int ev_record_add_detail(ev_record *r, const char *key, const char *value, lisec_err *err) {
  if (r->n_details >= EV_DETAILS_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "an event has at most %d details", EV_DETAILS_MAX);
  if (!key_ok(key))
    return lisec_err_set(err, LISEC_EINVAL, "event detail key: 1-%d of a-z 0-9 _ -", EV_DETAIL_KEY_MAX);
  size_t n = value ? strnlen(value, EV_DETAIL_VALUE_MAX + 1) : EV_DETAIL_VALUE_MAX + 1;
  if (n > EV_DETAIL_VALUE_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "event detail %s: at most %d bytes", key, EV_DETAIL_VALUE_MAX);
  if (!value_ok(value, n))
    return lisec_err_set(err, LISEC_EINVAL, "event detail %s: UTF-8 without control characters", key);
  for (size_t i = 0; i < r->n_details; i++)
    if (strcmp(r->details[i].key, key) == 0)
      return lisec_err_set(err, LISEC_EINVAL, "event detail %s given twice", key);
  ev_detail *d = &r->details[r->n_details++];
  memcpy(d->key, key, strlen(key) + 1);
  memcpy(d->value, value, n + 1);
  return 0;
}

int ev_canonical(const ev_record *r, char **out, lisec_err *err) {
  *out = NULL;
  json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:s}", "v", EV_VERSION, "vm", r->vm, "seq",
                        (json_int_t)r->seq, "time", (json_int_t)r->time, "type", r->type);
  if (j && r->n_details) {
    json_t *d = json_object();
    for (size_t i = 0; d && i < r->n_details; i++)
      json_object_set_new(d, r->details[i].key, json_string(r->details[i].value));
    json_object_set_new(j, "details", d);
  }
  if (j) *out = lisec_json_dump_canonical(j);
  json_decref(j);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* {"event":<canonical>,"sig":"<b64>"}: sorted keys, no spaces. */
int ev_signed_text(const char *canonical, const uint8_t *sig, size_t sig_len, char **out, lisec_err *err) {
  char *b64 = NULL;
  *out = NULL;
  if (crypto_base64_encode(sig, sig_len, &b64)) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t n = strlen(canonical) + strlen(b64) + 32;
  *out = malloc(n);
  if (*out) snprintf(*out, n, "{\"event\":%s,\"sig\":\"%s\"}", canonical, b64);
  free(b64);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int ev_sign(const ev_record *r, EVP_PKEY *key, char **out, lisec_err *err) {
  char *canon = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  int rc = ev_canonical(r, &canon, err);
  if (!rc) rc = crypto_pkey_sign(key, canon, strlen(canon), &sig, &sig_len, err);
  if (!rc) rc = ev_signed_text(canon, sig, sig_len, out, err);
  free(canon);
  free(sig);
  return rc;
}

static const char *const EVENT_KEYS[] = {"v", "vm", "seq", "time", "type", "details", NULL};
static const char *const SIGNED_KEYS[] = {"event", "sig", NULL};

int ev_parse_record(const json_t *e, ev_record *r, lisec_err *err) {
  const char *vm = NULL, *type = NULL;
  int64_t v = 0, seq = 0, time = 0;
  int rc;
  memset(r, 0, sizeof *r);
  if (!json_is_object(e)) return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: an event's \"event\" is an object");
  if ((rc = lisec_json_only_keys(e, EVENT_KEYS, err)) ||
      (rc = lisec_json_get_int(e, "v", true, EV_VERSION, EV_VERSION, &v, err)) ||
      (rc = lisec_json_get_str(e, "vm", true, EV_VM_MAX, &vm, err)) ||
      (rc = lisec_json_get_int(e, "seq", true, 1, (int64_t)EV_SEQ_MAX, &seq, err)) ||
      (rc = lisec_json_get_int(e, "time", true, 0, (int64_t)EV_SEQ_MAX, &time, err)) ||
      (rc = lisec_json_get_str(e, "type", true, EV_TYPE_MAX, &type, err)) ||
      (rc = ev_record_init(r, vm, (uint64_t)seq, time, type, err))) {
    lisec_err_wrap(err, "TR103308-4.1: event");
    return rc;
  }
  const json_t *d = json_object_get(e, "details");
  if (d && (!json_is_object(d) || json_object_size(d) == 0 || json_object_size(d) > EV_DETAILS_MAX))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: event details: an object of 1-%d strings",
                         EV_DETAILS_MAX);
  const char *k;
  const json_t *val;
  json_object_foreach((json_t *)d, k, val) {
    if (!json_is_string(val))
      return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: event details: values are strings");
    if (strlen(json_string_value(val)) != json_string_length(val))
      return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: event details: no NUL in a value");
    if ((rc = ev_record_add_detail(r, k, json_string_value(val), err))) {
      lisec_err_wrap(err, "TR103308-4.1");
      return rc;
    }
  }
  return 0;
}

int ev_parse(const json_t *j, size_t max_event, ev_signed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  const json_t *e = json_object_get(j, "event");
  const char *b64 = NULL;
  int rc;
  if (!json_is_object(j) || !json_is_object(e))
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-4.1: an event is {\"event\": {...}, \"sig\": \"<base64>\"}");
  if (!json_object_get(j, "sig"))
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: the event is not signed (no sig)");
  if ((rc = lisec_json_only_keys(j, SIGNED_KEYS, err)) || (rc = ev_parse_record(e, &out->rec, err)))
    return rc;
  if ((rc = lisec_json_get_str(j, "sig", true, 2 * EV_SIG_MAX, &b64, err))) {
    lisec_err_wrap(err, "TR103308-4.1: event");
    return rc;
  }
  if ((rc = crypto_base64_decode(b64, EV_SIG_MAX, &out->sig, &out->sig_len, err)) || out->sig_len == 0) {
    ev_signed_clear(out);
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1: event sig: base64 of at most %d bytes", EV_SIG_MAX);
  }
  if ((rc = ev_canonical(&out->rec, &out->canonical, err)) ||
      (rc = ev_signed_text(out->canonical, out->sig, out->sig_len, &out->text, err))) {
    ev_signed_clear(out);
    return rc;
  }
  if (strlen(out->text) > max_event) {
    size_t n = strlen(out->text);
    ev_signed_clear(out);
    return lisec_err_set(err, LISEC_ETOOBIG, "TR103308-4.1: event of %zu bytes over the limit of %zu ([events] max_event)",
                         n, max_event);
  }
  return 0;
}

int ev_parse_bytes(const char *data, size_t len, size_t max_event, ev_signed *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  /* the text is rebuilt canonically: what arrives may be spaced out, but
   * not without bound */
  if (len > 4 * max_event + 64)
    return lisec_err_set(err, LISEC_ETOOBIG, "TR103308-4.1: event of %zu bytes over the limit", len);
  json_t *j = NULL;
  int rc = lisec_json_parse(data, len, &j, err);
  if (!rc) rc = ev_parse(j, max_event, out, err);
  json_decref(j);
  return rc;
}

void ev_signed_clear(ev_signed *s) {
  if (!s) return;
  free(s->canonical);
  free(s->sig);
  free(s->text);
  memset(s, 0, sizeof *s);
}

int ev_verify(const ev_signed *s, EVP_PKEY *key, lisec_err *err) {
  if (!key || !s->canonical || crypto_pkey_verify(key, s->canonical, strlen(s->canonical), s->sig, s->sig_len, err))
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: event seq %llu: the signature does not verify against the "
                         "VM's paired key",
                         (unsigned long long)s->rec.seq);
  return 0;
}
