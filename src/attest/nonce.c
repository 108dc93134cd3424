/* Single-use nonces with an expiry, the freshness half of a quote: the
 * controller issues one per attestation, the quote must carry it in
 * extraData, and it can be consumed once before it expires. A used nonce is
 * remembered until its expiry so a replay is named as such. The table is
 * bounded; when full the entry closest to expiry makes room. */
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"
#include "crypto/crypto.h"

typedef struct nonce_entry {
  uint8_t nonce[ATTEST_NONCE_LEN];
  int64_t expires_ms;
  bool used;
} nonce_entry;

struct attest_nonces {
  size_t n, max;
  nonce_entry *e;
};

attest_nonces *attest_nonces_new(size_t max) {
  if (max == 0 || max > 1000000) return NULL;
  attest_nonces *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->e = calloc(max, sizeof *t->e);
  if (!t->e) {
    free(t);
    return NULL;
  }
  t->max = max;
  return t;
}

void attest_nonces_free(attest_nonces *t) {
  if (!t) return;
  crypto_wipe(t->e, t->max * sizeof *t->e);
  free(t->e);
  free(t);
}

attest_nonces *attest_nonces_copy(const attest_nonces *t) {
  attest_nonces *c = t ? attest_nonces_new(t->max) : NULL;
  if (!c) return NULL;
  memcpy(c->e, t->e, t->n * sizeof *t->e);
  c->n = t->n;
  return c;
}

static void purge(attest_nonces *t, int64_t now_ms) {
  size_t w = 0;
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].expires_ms > now_ms) t->e[w++] = t->e[i];
  t->n = w;
}

int attest_nonce_issue(attest_nonces *t, int64_t now_ms, int64_t ttl_ms,
                       uint8_t out[ATTEST_NONCE_LEN], lisec_err *err) {
  if (ttl_ms <= 0) return lisec_err_set(err, LISEC_EINVAL, "nonce: lifetime must be positive");
  purge(t, now_ms);
  if (t->n == t->max) {
    size_t oldest = 0;
    for (size_t i = 1; i < t->n; i++)
      if (t->e[i].expires_ms < t->e[oldest].expires_ms) oldest = i;
    t->e[oldest] = t->e[--t->n];
  }
  nonce_entry *e = &t->e[t->n];
  int rc = crypto_random(e->nonce, ATTEST_NONCE_LEN, err);
  if (rc) return rc;
  e->expires_ms = now_ms + ttl_ms;
  e->used = false;
  t->n++;
  memcpy(out, e->nonce, ATTEST_NONCE_LEN);
  return 0;
}

int attest_nonce_consume(attest_nonces *t, const uint8_t *nonce, size_t len, int64_t now_ms,
                         lisec_err *err) {
  if (len != ATTEST_NONCE_LEN)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.1: nonce of %zu bytes was not issued by this controller", len);
  /* Compare against every entry without stopping early. */
  size_t hit = SIZE_MAX;
  for (size_t i = 0; i < t->n; i++)
    if (crypto_ct_equal(t->e[i].nonce, nonce, ATTEST_NONCE_LEN)) hit = i;
  if (hit == SIZE_MAX)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.1: nonce unknown or expired long ago: evidence is not fresh");
  nonce_entry *e = &t->e[hit];
  if (e->used)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.1: nonce already used: replayed evidence");
  if (e->expires_ms <= now_ms)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.1: nonce expired %lld ms ago: evidence is not fresh",
                         (long long)(now_ms - e->expires_ms));
  e->used = true;
  return 0;
}

int64_t attest_nonce_expiry(const attest_nonces *t, const uint8_t *nonce, size_t len) {
  int64_t at = 0;
  for (size_t i = 0; len == ATTEST_NONCE_LEN && i < t->n; i++)
    if (crypto_ct_equal(t->e[i].nonce, nonce, ATTEST_NONCE_LEN)) at = t->e[i].expires_ms;
  return at;
}

json_t *attest_nonces_to_json(const attest_nonces *t) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < t->n; i++) {
    char hex[2 * ATTEST_NONCE_LEN + 1];
    lisec_hex_encode(t->e[i].nonce, ATTEST_NONCE_LEN, hex);
    json_array_append_new(arr, json_pack("{s:s, s:I, s:b}", "nonce", hex, "expires_ms",
                                         (json_int_t)t->e[i].expires_ms, "used", t->e[i].used));
  }
  return json_pack("{s:o}", "nonces", arr);
}

int attest_nonces_from_json(const json_t *j, size_t max, attest_nonces **out, lisec_err *err) {
  const json_t *arr = json_object_get(j, "nonces");
  *out = NULL;
  if (!json_is_array(arr)) return lisec_err_set(err, LISEC_EINVAL, "nonces: no \"nonces\" array");
  attest_nonces *t = attest_nonces_new(max);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < json_array_size(arr) && t->n < t->max; i++) {
    const json_t *e = json_array_get(arr, i);
    const char *hex = NULL;
    int64_t exp = 0;
    bool used = false;
    nonce_entry *ne = &t->e[t->n];
    if (lisec_json_get_str(e, "nonce", true, 2 * ATTEST_NONCE_LEN, &hex, err) ||
        lisec_json_get_int(e, "expires_ms", true, 0, INT64_MAX, &exp, err) ||
        lisec_json_get_bool(e, "used", true, &used, err) || strlen(hex) != 2 * ATTEST_NONCE_LEN ||
        lisec_hex_decode(hex, ne->nonce, ATTEST_NONCE_LEN) != 0) {
      attest_nonces_free(t);
      return lisec_err_set(err, LISEC_EINVAL, "nonces[%zu]: malformed", i);
    }
    ne->expires_ms = exp;
    ne->used = used;
    t->n++;
  }
  *out = t;
  return 0;
}
