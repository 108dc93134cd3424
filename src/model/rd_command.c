/* The RD administration's signed extension command (issue 20): retention
 * may only be lengthened, and only by a command the RD administration
 * signed for that obligation, with a counter above every earlier one (its
 * own counter per obligation, kept by the controller) and a short life, so
 * a captured command cannot be replayed. The form follows the LI
 * administration's commands (docs/li.md):
 *   {"command":{"counter":N,"expires":T,"obligation":"ID","retention_s":R,
 *               "type":"rd-extend","v":1},"signature":"<base64>"}
 * signed (ECDSA P-256 over SHA-256, or Ed25519) over the canonical bytes of
 * the command object (keys sorted, no spaces, decimal integers), which the
 * verifier rebuilds from the parsed fields. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "model/rd_command.h"

int model_rd_command_canonical(const model_rd_command *c, char *out, size_t cap, lisec_err *err) {
  int n = snprintf(out, cap,
                   "{\"counter\":%" PRIu64 ",\"expires\":%" PRId64 ",\"obligation\":\"%s\","
                   "\"retention_s\":%" PRId64 ",\"type\":\"rd-extend\",\"v\":1}",
                   c->counter, c->expires, c->obligation, c->retention_s);
  if (n < 0 || (size_t)n >= cap) return lisec_err_set(err, LISEC_ETOOBIG, "rd-extend: the command is too long");
  return 0;
}

int model_rd_command_sign(const model_rd_command *c, EVP_PKEY *key, char **out, lisec_err *err) {
  char canon[MODEL_RD_CMD_MAX];
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char *b64 = NULL;
  *out = NULL;
  int rc = model_rd_command_canonical(c, canon, sizeof canon, err);
  if (!rc) rc = crypto_pkey_sign(key, canon, strlen(canon), &sig, &sig_len, err);
  if (!rc && crypto_base64_encode(sig, sig_len, &b64))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) {
    size_t need = strlen(canon) + strlen(b64) + 40;
    if (!(*out = malloc(need))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else snprintf(*out, need, "{\"command\":%s,\"signature\":\"%s\"}", canon, b64);
  }
  free(sig);
  free(b64);
  return rc;
}

static int verify_cmd(const uint8_t *data, size_t len, EVP_PKEY *rd_admin_key,
                      const char *obligation, uint64_t last_counter,
                      int64_t now, model_rd_command *out, lisec_err *err) {
  static const char *const top[] = {"command", "signature", NULL};
  static const char *const fields[] = {"counter", "expires", "obligation", "retention_s", "type", "v", NULL};
  memset(out, 0, sizeof *out);
  if (len == 0 || len > MODEL_RD_CMD_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "TR103308-5.8-RD-EXTEND: a command is 1 to %d bytes", MODEL_RD_CMD_MAX);
  json_t *root = NULL;
  int rc = lisec_json_parse((const char *)data, len, &root, err);
  if (rc) return rc;
  json_t *cmd = json_object_get(root, "command");
  const char *sig_b64 = NULL, *type = NULL, *ob = NULL;
  int64_t v = 0, counter = 0, expires = 0, retention = 0;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char canon[MODEL_RD_CMD_MAX];
  if (!json_is_object(root) || !json_is_object(cmd)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-5.8-RD-EXTEND: {\"command\":{...},\"signature\":\"...\"} expected");
    goto out;
  }
  if ((rc = lisec_json_only_keys(root, top, err)) || (rc = lisec_json_only_keys(cmd, fields, err)) ||
      (rc = lisec_json_get_str(root, "signature", true, 1024, &sig_b64, err)) ||
      (rc = lisec_json_get_str(cmd, "type", true, 32, &type, err)) ||
      (rc = lisec_json_get_int(cmd, "v", true, 1, 1, &v, err)) ||
      (rc = lisec_json_get_str(cmd, "obligation", true, MODEL_ID_MAX, &ob, err)) ||
      (rc = lisec_json_get_int(cmd, "counter", true, 1, (int64_t)MODEL_RD_COUNTER_MAX, &counter, err)) ||
      (rc = lisec_json_get_int(cmd, "expires", true, 1, INT64_MAX / 2, &expires, err)) ||
      (rc = lisec_json_get_int(cmd, "retention_s", true, 1, MODEL_RD_SECONDS_MAX, &retention, err)))
    goto out;
  if (strcmp(type, "rd-extend") != 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-5.8-RD-EXTEND: not an rd-extend command");
    goto out;
  }
  if ((rc = lisec_id_check("obligation", ob, strlen(ob), err))) goto out;
  snprintf(out->obligation, sizeof out->obligation, "%s", ob);
  out->counter = (uint64_t)counter;
  out->expires = expires;
  out->retention_s = retention;
  if ((rc = model_rd_command_canonical(out, canon, sizeof canon, err)) ||
      (rc = crypto_base64_decode(sig_b64, 1024, &sig, &sig_len, err)))
    goto out;
  if (!rd_admin_key || crypto_pkey_verify(rd_admin_key, canon, strlen(canon), sig, sig_len, err)) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-5.8-RD-EXTEND: the command is not signed by the RD administration");
  } else if (!obligation || strcmp(out->obligation, obligation) != 0) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-5.8-RD-EXTEND: the command is for another obligation");
  } else if (now >= expires) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-5.8-RD-EXTEND: the command expired");
  } else if (expires - now > MODEL_RD_CMD_LIFETIME_MAX) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-5.8-RD-EXTEND: the command is valid for more than %d s",
                       MODEL_RD_CMD_LIFETIME_MAX);
  } else if (out->counter <= last_counter) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-5.8-RD-EXTEND: replayed command (counter %" PRIu64 " not above %" PRIu64 ")",
                       out->counter, last_counter);
  }
out:
  free(sig);
  json_decref(root);
  return rc;
}

int model_rd_command_verify(const uint8_t *data, size_t len,
                            EVP_PKEY *rd_admin_key, const char *obligation,
                            uint64_t last_counter, int64_t now,
                            model_rd_command *out, lisec_err *err) {
  int rc = verify_cmd(data, len, rd_admin_key, obligation, last_counter, now,
                      out, err);
  /* the JSON helpers' refusals (malformed, a field missing, unknown or out
   * of range, a signature not base64) name the requirement too */
  if (rc && err && !strstr(err->msg, "TR103308-5.8-RD-EXTEND"))
    lisec_err_wrap(err, "TR103308-5.8-RD-EXTEND: the extension command");
  return rc;
}
