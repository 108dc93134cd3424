/* The audit log's witness state as an operator sees it (keys.h,
 * keys_witness_config): found from lisecd's configuration the way the keys
 * process finds it ([audit] pkcs11_module, token, pin_file and key_label,
 * or development_key_file), read, and removed on the operator's word.
 * lisecd --check-config reports it; lisecd --witness-reset (what `lisec
 * audit witness-reset` runs) removes it after `lisec restore` or before a
 * new log under the same key. The controller has no way here: only a
 * program holding the configuration and the token's PIN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/p11.h"
#include "keys/witness.h"

/* Reads the state into info; then, with reset, removes it. */
static int inspect(keys_witness *w, bool reset, keys_witness_info *info,
                   lisec_err *err) {
  lisec_err why = {0};
  int rc = keys_witness_state(w, &info->have, &info->size, info->root, &why);
  if (rc == LISEC_EDENIED || rc == LISEC_ECONFLICT) { /* there, but unreadable or ambiguous */
    info->have = false;
    info->damaged = true;
    snprintf(info->damaged_why, sizeof info->damaged_why, "%s", why.msg);
  } else if (rc) {
    *err = why;
    return rc;
  } else if (info->have &&
             (rc = keys_witness_origin(w, info->origin, err)) != 0) {
    return rc;
  }
  return reset ? keys_witness_reset(w, err) : 0;
}

static int from_token(const lisec_config *cfg, const char *module, bool reset,
                      keys_witness_info *info, lisec_err *err) {
  const char *token = lisec_config_str(cfg, "audit", "token", "lisec");
  const char *label =
      lisec_config_str(cfg, "audit", "key_label", "lisec-audit");
  char wl[256];
  if ((size_t)snprintf(wl, sizeof wl, "%s%s", label, KEYS_WITNESS_SUFFIX) >=
      sizeof wl)
    return lisec_err_set(err, LISEC_EINVAL, "[audit] key_label is too long");
  snprintf(info->where, sizeof info->where, "token \"%s\", data object \"%s\"",
           token, wl);
  char pin[KEYS_P11_PIN_MAX + 1] = "";
  int rc = keys_p11_read_pin(cfg, "audit", pin, err);
  if (rc)
    return rc;
  keys_p11 *m = NULL;
  rc = keys_p11_open(module,
                     lisec_config_str(cfg, "audit", "pkcs11_init_args", NULL),
                     "[audit]", &m, err);
  CK_SESSION_HANDLE s = 0;
  bool open = false;
  if (!rc)
    open = !(rc = keys_p11_session_open(m, "[audit]", token, pin, &s, err));
  crypto_wipe(pin, sizeof pin);
  keys_witness *w = NULL;
  if (!rc)
    rc = keys_witness_open_pkcs11(keys_p11_functions(m), s, wl, &w, err);
  if (!rc)
    rc = inspect(w, reset, info, err);
  keys_witness_close(w);
  if (open)
    keys_p11_session_close(m, s);
  keys_p11_close(m);
  return rc;
}

int keys_witness_config(const lisec_config *cfg, bool reset,
                        keys_witness_info *info, lisec_err *err) {
  memset(info, 0, sizeof *info);
  const char *module = lisec_config_str(cfg, "audit", "pkcs11_module", NULL);
  if (module)
    return from_token(cfg, module, reset, info, err);
  const char *dev =
      lisec_config_str(cfg, "audit", "development_key_file", NULL);
  if (!dev)
    return lisec_err_set(err, LISEC_ENOTFOUND,
                         "[audit] names no checkpoint key (pkcs11_module or "
                         "development_key_file): no witness");
  char path[sizeof info->where];
  if ((size_t)snprintf(path, sizeof path, "%s%s", dev,
                       KEYS_WITNESS_FILE_SUFFIX) >= sizeof path)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[audit] development_key_file is too long");
  snprintf(info->where, sizeof info->where, "%s", path);
  keys_witness *w = NULL;
  int rc = keys_witness_open_file(path, &w, err);
  if (!rc)
    rc = inspect(w, reset, info, err);
  keys_witness_close(w);
  return rc;
}
