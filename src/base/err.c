/* Error reasons: the one place that formats a failure into the caller's
 * lisec_err, so every refusal reaches the user with the same shape. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"

int lisec_err_set(lisec_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int lisec_err_wrap(lisec_err *err, const char *fmt, ...) {
  if (!err) return LISEC_EINTERNAL;
  char joined[2 * LISEC_ERR_MSG_MAX + 2];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(joined, LISEC_ERR_MSG_MAX, fmt, ap);
  va_end(ap);
  size_t at = n < 0 ? 0 : strlen(joined);
  memcpy(joined + at, ": ", 2);
  memcpy(joined + at + 2, err->msg, strnlen(err->msg, LISEC_ERR_MSG_MAX - 1) + 1);
  joined[at + 2 + LISEC_ERR_MSG_MAX - 1] = '\0';
  memcpy(err->msg, joined, LISEC_ERR_MSG_MAX - 1);
  err->msg[LISEC_ERR_MSG_MAX - 1] = '\0';
  return err->code;
}

void lisec_err_clear(lisec_err *err) {
  if (err) {
    err->code = 0;
    err->msg[0] = '\0';
  }
}

const char *lisec_err_name(int code) {
  switch (code) {
    case LISEC_OK: return "ok";
    case LISEC_EINVAL: return "invalid";
    case LISEC_ENOTFOUND: return "not_found";
    case LISEC_EDENIED: return "denied";
    case LISEC_EAUTH: return "forbidden";
    case LISEC_ETOOBIG: return "too_large";
    case LISEC_ECONFLICT: return "conflict";
    case LISEC_ESTORE: return "store_error";
    case LISEC_ECRYPTO: return "crypto_error";
    case LISEC_EIO: return "io_error";
    case LISEC_ENOMEM: return "out_of_memory";
    case LISEC_EUNAVAIL: return "unavailable";
    default: return "internal";
  }
}
