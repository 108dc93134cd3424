/* liblisec-events, signed batches (include/lisec/events.h; docs/events.md
 * "A signed batch"): the VM makes its events unsigned as they happen
 * (lisec_event_make), and signs them when it sends them, as one statement
 * over the SHA-256 of each event's canonical bytes, so lisecd verifies one
 * signature per batch instead of one per event (issue 20: the 20,000
 * events/s figure). The signature is made by the VM's one signing call
 * (evk_sign, libkey.h), whatever key holds it: a software key or one in
 * the VM's TPM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "events/libkey.h"
#include "lisec/events.h"

static int fail(char err[LISEC_EVENT_ERR_MAX], const char *what, const lisec_err *e) {
  if (err) snprintf(err, LISEC_EVENT_ERR_MAX, "%.60s: %.190s", what, e ? e->msg : "");
  return -1;
}

int lisec_event_make(const char *vm, unsigned long long seq, long long time, const char *type,
                     const char *const *details, char **out, char err[LISEC_EVENT_ERR_MAX]) {
  ev_record r;
  lisec_err e = {0};
  *out = NULL;
  if (ev_record_init(&r, vm, seq, time ? time : lisec_time_now(), type, &e)) return fail(err, "event", &e);
  for (size_t i = 0; details && details[i]; i++) {
    const char *eq = strchr(details[i], '=');
    char key[EV_DETAIL_KEY_MAX + 1];
    if (!eq || eq == details[i] || (size_t)(eq - details[i]) > EV_DETAIL_KEY_MAX) {
      lisec_err_set(&e, LISEC_EINVAL, "key=value, the key 1-32 of a-z 0-9 _ -");
      return fail(err, "event detail", &e);
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - details[i]), details[i]);
    if (ev_record_add_detail(&r, key, eq + 1, &e)) return fail(err, "event", &e);
  }
  return ev_unsigned_text(&r, out, &e) ? fail(err, "event", &e) : 0;
}

int lisec_event_sign_batch(const lisec_event_key *k, const char *const *events, size_t n, char **body,
                           char err[LISEC_EVENT_ERR_MAX]) {
  lisec_err e = {0};
  char *stmt = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  *body = NULL;
  int rc = ev_signed_batch_statement(events, n, EV_EVENT_CEILING, &stmt, &e);
  if (!rc) rc = evk_sign(k, stmt, strlen(stmt), &sig, &sig_len, &e);
  if (!rc) rc = ev_signed_batch_body(events, n, stmt, sig, sig_len, body, &e);
  free(stmt);
  free(sig);
  return rc ? fail(err, "signed batch", &e) : 0;
}
