/* The RD administration's signed registration of an RD VM's key
 * (rd_register.h): its key text read to a P-256 point, its canonical
 * bytes, its signature made and checked, and the two sets of rules that
 * judge it (the controller's freshness and counter; the keys process's
 * binding of this VM to this key). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "model/model.h"
#include "model/rd_recipient.h"
#include "model/rd_register.h"

_Static_assert(MODEL_RD_REG_VM_MAX == MODEL_ID_MAX,
               "a registration's VM id is a model id");
_Static_assert(MODEL_RD_REG_POINT_LEN == MODEL_RD_POINT_LEN,
               "one P-256 point length");

/* The base64 body of a PEM (header, footer and line ends left out). */
static int pem_body(const char *pem, char *b64, lisec_err *err) {
  const char *p = strstr(pem, "-----\n");
  size_t n = 0;
  if (p)
    p += 6;
  for (; p && *p && *p != '-'; p++) {
    if (*p == '\n' || *p == '\r')
      continue;
    if (n >= MODEL_RD_REG_KEY_B64_MAX)
      break;
    b64[n++] = *p;
  }
  b64[n] = '\0';
  if (!p || *p != '-' || n == 0)
    return lisec_err_set(err, LISEC_ECRYPTO,
                         MODEL_REQ_RD_RECIPIENT
                         ": the key does not encode as an SPKI");
  return 0;
}

int model_rd_reg_key_parse(const char *text, size_t len,
                           uint8_t point[MODEL_RD_REG_POINT_LEN], char *b64,
                           lisec_err *err) {
  lisec_err perr = {0};
  int rc = 0;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
                 text[len - 1] == ' '))
    len--;
  if (len == 0 || len > MODEL_RD_RECIPIENT_PEM_MAX || memchr(text, '\0', len))
    rc = LISEC_EINVAL;
  else if (len > 10 && memcmp(text, "-----BEGIN", 10) == 0) {
    rc = model_rd_recipient_parse(text, len, point, &perr);
  } else if (len > MODEL_RD_REG_KEY_B64_MAX) {
    rc = LISEC_EINVAL;
  } else {
    /* base64 of the DER SPKI: as PEM, whose reader checks the rest */
    char pem[MODEL_RD_REG_KEY_B64_MAX + 80];
    int n = snprintf(
        pem, sizeof pem,
        "-----BEGIN PUBLIC KEY-----\n%.64s\n%.*s%s-----END PUBLIC KEY-----\n",
        text, len > 64 ? (int)(len - 64) : 0, len > 64 ? text + 64 : "",
        len > 64 ? "\n" : "");
    for (size_t i = 0; i < len && !rc; i++)
      if (!((text[i] >= 'A' && text[i] <= 'Z') ||
            (text[i] >= 'a' && text[i] <= 'z') ||
            (text[i] >= '0' && text[i] <= '9') || text[i] == '+' ||
            text[i] == '/' || text[i] == '='))
        rc = LISEC_EINVAL;
    if (!rc)
      rc = model_rd_recipient_parse(pem, (size_t)n, point, &perr);
  }
  if (rc) {
    const char *why =
        strrchr(perr.msg, ':'); /* the parser's last words: what is wrong */
    return lisec_err_set(
        err, LISEC_EINVAL,
        MODEL_REQ_RD_RECIPIENT
        ": the RD VM's key must be a P-256 public key, in PEM or as the "
        "base64 of its DER SubjectPublicKeyInfo%s%s",
        why && why[1] ? ": " : "", why && why[1] ? why + 2 : "");
  }
  char *pem = NULL;
  if ((rc = model_rd_point_pem(point, &pem, err)))
    return rc;
  rc = pem_body(pem, b64, err);
  free(pem);
  return rc;
}

int model_rd_reg_canonical(const model_rd_reg *c, char *out, size_t cap,
                           lisec_err *err) {
  int n =
      c->remove
          ? snprintf(out, cap,
                     "{\"counter\":%" PRIu64 ",\"expires\":%" PRId64
                     ",\"type\":\"rd-recipient-remove\",\"v\":1,\"vm\":\"%s\"}",
                     c->counter, c->expires, c->vm)
          : snprintf(out, cap,
                     "{\"counter\":%" PRIu64 ",\"expires\":%" PRId64
                     ",\"public_key\":\"%s\",\"type\":\"rd-recipient\",\"v\":1,"
                     "\"vm\":\"%s\"}",
                     c->counter, c->expires, c->public_key, c->vm);
  if (n < 0 || (size_t)n >= cap)
    return lisec_err_set(err, LISEC_ETOOBIG,
                         MODEL_REQ_RD_RECIPIENT ": the command is too long");
  return 0;
}

int model_rd_reg_sign(const model_rd_reg *c, EVP_PKEY *key, char **out,
                      lisec_err *err) {
  char canon[MODEL_RD_REG_MAX];
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char *b64 = NULL;
  *out = NULL;
  int rc = model_rd_reg_canonical(c, canon, sizeof canon, err);
  if (!rc)
    rc = crypto_pkey_sign(key, canon, strlen(canon), &sig, &sig_len, err);
  if (!rc && crypto_base64_encode(sig, sig_len, &b64))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) {
    size_t need = strlen(canon) + strlen(b64) + 40;
    if (!(*out = malloc(need)))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else
      snprintf(*out, need, "{\"command\":%s,\"signature\":\"%s\"}", canon, b64);
  }
  free(sig);
  free(b64);
  return rc;
}

/* The command's fields into out, checked one by one. */
static int fields(json_t *cmd, model_rd_reg *out, lisec_err *err) {
  static const char *const reg_keys[] = {
      "counter", "expires", "public_key", "type", "v", "vm", NULL};
  const char *type = NULL, *vm = NULL, *key = NULL;
  int64_t v = 0, counter = 0, expires = 0;
  int rc = lisec_json_only_keys(cmd, reg_keys, err);
  if (!rc)
    rc = lisec_json_get_str(cmd, "type", true, 32, &type, err);
  if (rc)
    return rc;
  if (strcmp(type, "rd-recipient") == 0)
    out->remove = false;
  else if (strcmp(type, "rd-recipient-remove") == 0)
    out->remove = true;
  else
    return lisec_err_set(err, LISEC_EINVAL,
                         MODEL_REQ_RD_RECIPIENT
                         ": not an rd-recipient command");
  if ((rc = lisec_json_get_int(cmd, "v", true, 1, 1, &v, err)) ||
      (rc = lisec_json_get_str(cmd, "vm", true, MODEL_RD_REG_VM_MAX, &vm,
                               err)) ||
      (rc = lisec_id_check("vm", vm, strlen(vm), err)) ||
      (rc = lisec_json_get_int(cmd, "counter", true, 1,
                               (int64_t)MODEL_RD_REG_COUNTER_MAX, &counter,
                               err)) ||
      (rc = lisec_json_get_int(cmd, "expires", true, 1, INT64_MAX / 2, &expires,
                               err)) ||
      (rc = lisec_json_get_str(cmd, "public_key", !out->remove,
                               MODEL_RD_RECIPIENT_PEM_MAX, &key, err)))
    return rc;
  if (out->remove && key)
    return lisec_err_set(err, LISEC_EINVAL,
                         MODEL_REQ_RD_RECIPIENT
                         ": a removal names no public_key");
  snprintf(out->vm, sizeof out->vm, "%s", vm);
  out->counter = (uint64_t)counter;
  out->expires = expires;
  if (out->remove)
    return 0;
  if ((rc = model_rd_reg_key_parse(key, strlen(key), out->point,
                                   out->public_key, err)))
    return rc;
  /* one text per key: the signature covers the form the verifier rebuilds */
  if (strcmp(key, out->public_key) != 0)
    return lisec_err_set(
        err, LISEC_EINVAL,
        MODEL_REQ_RD_RECIPIENT
        ": public_key is the base64 of the key's DER SPKI, on one line "
        "(lisec rd sign-recipient writes it)");
  return 0;
}

static int open_cmd(const uint8_t *data, size_t len, EVP_PKEY *admin_key,
                    model_rd_reg *out, lisec_err *err) {
  static const char *const top[] = {"command", "signature", NULL};
  memset(out, 0, sizeof *out);
  if (!data || len == 0 || len > MODEL_RD_REG_MAX)
    return lisec_err_set(err, LISEC_EINVAL,
                         MODEL_REQ_RD_RECIPIENT
                         ": a registration is 1 to %d bytes",
                         MODEL_RD_REG_MAX);
  json_t *root = NULL;
  int rc = lisec_json_parse((const char *)data, len, &root, err);
  if (rc)
    return rc;
  json_t *cmd = json_object_get(root, "command");
  const char *sig_b64 = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char canon[MODEL_RD_REG_MAX];
  if (!json_is_object(root) || !json_is_object(cmd))
    rc = lisec_err_set(err, LISEC_EINVAL,
                       MODEL_REQ_RD_RECIPIENT
                       ": {\"command\":{...},\"signature\":\"...\"} expected");
  if (!rc && !(rc = lisec_json_only_keys(root, top, err)) &&
      !(rc =
            lisec_json_get_str(root, "signature", true, 1024, &sig_b64, err)) &&
      !(rc = fields(cmd, out, err)) &&
      !(rc = model_rd_reg_canonical(out, canon, sizeof canon, err)) &&
      !(rc = crypto_base64_decode(sig_b64, 1024, &sig, &sig_len, err))) {
    lisec_err verr = {0};
    if (!admin_key || crypto_pkey_verify(admin_key, canon, strlen(canon), sig,
                                         sig_len, &verr))
      rc = lisec_err_set(
          err, LISEC_EDENIED,
          MODEL_REQ_RD_RECIPIENT
          ": the registration is not signed by the RD administration "
          "([rd] admin_pubkey)");
  }
  free(sig);
  json_decref(root);
  return rc;
}

int model_rd_reg_open(const uint8_t *data, size_t len, EVP_PKEY *admin_key,
                      model_rd_reg *out, lisec_err *err) {
  int rc = open_cmd(data, len, admin_key, out, err);
  /* the JSON helpers' refusals (malformed, a field missing, unknown or out
   * of range) name the requirement too */
  if (rc && err && !strstr(err->msg, MODEL_REQ_RD_RECIPIENT))
    lisec_err_wrap(err, MODEL_REQ_RD_RECIPIENT ": the registration command");
  return rc;
}

int model_rd_reg_fresh(const model_rd_reg *c, uint64_t last_counter,
                       int64_t now, lisec_err *err) {
  if (now >= c->expires)
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_RD_RECIPIENT ": the command expired");
  if (c->expires - now > MODEL_RD_REG_LIFETIME_MAX)
    return lisec_err_set(err, LISEC_EDENIED,
                         MODEL_REQ_RD_RECIPIENT
                         ": the command is valid for more than %d s",
                         MODEL_RD_REG_LIFETIME_MAX);
  if (c->counter <= last_counter)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         MODEL_REQ_RD_RECIPIENT
                         ": replayed command (counter %" PRIu64
                         " not above %" PRIu64 ", the last for VM %s)",
                         c->counter, last_counter, c->vm);
  return 0;
}

int model_rd_reg_binds(const uint8_t *data, size_t len, EVP_PKEY *admin_key,
                       const char *vm,
                       const uint8_t point[MODEL_RD_REG_POINT_LEN],
                       lisec_err *err) {
  model_rd_reg c;
  lisec_err oerr = {0};
  int rc = model_rd_reg_open(data, len, admin_key, &c, &oerr);
  const char *why =
      rc == LISEC_EDENIED
          ? "it is not signed by the RD administration ([rd] admin_pubkey)"
      : rc                           ? "it is not a registration"
      : c.remove                     ? "it is a removal"
      : !vm || strcmp(c.vm, vm) != 0 ? "it registers another VM"
      : memcmp(c.point, point, MODEL_RD_REG_POINT_LEN) != 0
          ? "it registers another key"
          : NULL;
  if (!why)
    return 0;
  return lisec_err_set(
      err, LISEC_EDENIED,
      MODEL_REQ_RD_RECIPIENT
      ": no RD data key is wrapped without the RD administration's "
      "registration of the recipient key for the VM: %s",
      why);
}
