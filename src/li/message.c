/* The three signed messages of the LI administration: the pairing statement
 * (this VM id holds this public key; bound to the VM's last disable counter
 * and an expiry, so a statement a disable command has overtaken cannot
 * pair the VM again), the disable command (switch off this VM's LI
 * function; counter and expiry make it single-use and short-lived) and the
 * retire command (the same form, type li-retire: end the LI VM for good). All
 * three sign canonical bytes the verifier rebuilds from the
 * parsed fields, never the bytes received, so there is exactly one byte
 * string per meaning. Formats in docs/li.md. And the expiry of a verified
 * message, which the check after a restore reads (state.c). */
#include <inttypes.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li/li.h"

#define SIG_MAX 512

int li_key_sha256(EVP_PKEY *key, uint8_t out[CRYPTO_SHA256_LEN], lisec_err *err) {
  uint8_t *der = NULL;
  int len = key ? i2d_PUBKEY(key, &der) : -1;
  if (len <= 0) return lisec_err_set(err, LISEC_EINVAL, "not a public key");
  crypto_sha256(der, (size_t)len, out);
  OPENSSL_free(der);
  return 0;
}

/* The canonical bytes of a command of type ("li-disable", "li-retire"). */
static int command_canonical(const char *type, const li_command *c, char *out, size_t out_len,
                             lisec_err *err) {
  int rc = li_vm_id_check(c->vm, err);
  if (rc) return rc;
  if (c->counter == 0 || c->counter > LI_COUNTER_MAX || c->expires <= 0)
    return lisec_err_set(err, LISEC_EINVAL, "counter must be 1..2^53 and expires positive");
  int n = snprintf(out, out_len,
                   "{\"counter\":%" PRIu64 ",\"expires\":%" PRId64
                   ",\"type\":\"%s\",\"v\":1,\"vm\":\"%s\"}",
                   c->counter, c->expires, type, c->vm);
  if (n < 0 || (size_t)n >= out_len) return lisec_err_set(err, LISEC_ETOOBIG, "command too long");
  return 0;
}

int li_command_canonical(const li_command *c, char *out, size_t out_len, lisec_err *err) {
  return command_canonical("li-disable", c, out, out_len, err);
}

int li_retire_canonical(const li_command *c, char *out, size_t out_len, lisec_err *err) {
  return command_canonical("li-retire", c, out, out_len, err);
}

static int pair_canonical(const char *vm, const char *key_hex, uint64_t last_counter,
                          int64_t expires, char *out, size_t out_len, lisec_err *err) {
  int rc = li_vm_id_check(vm, err);
  if (rc) return rc;
  if (last_counter > LI_COUNTER_MAX || expires <= 0)
    return lisec_err_set(err, LISEC_EINVAL, "last_counter must be 0..2^53 and expires positive");
  int n = snprintf(out, out_len,
                   "{\"expires\":%" PRId64 ",\"key_sha256\":\"%s\",\"last_counter\":%" PRIu64
                   ",\"type\":\"li-pair\",\"v\":2,\"vm\":\"%s\"}",
                   expires, key_hex, last_counter, vm);
  if (n < 0 || (size_t)n >= out_len) return lisec_err_set(err, LISEC_ETOOBIG, "statement too long");
  return 0;
}

/* {"<field>": <canonical object>, "signature": "<base64>"} */
static int wrap_signed(const char *field, const char *canonical, EVP_PKEY *key, char **out,
                       lisec_err *err) {
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char *b64 = NULL;
  int rc = crypto_pkey_sign(key, canonical, strlen(canonical), &sig, &sig_len, err);
  if (rc) return rc;
  if (crypto_base64_encode(sig, sig_len, &b64)) {
    free(sig);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  free(sig);
  size_t n = strlen(field) + strlen(canonical) + strlen(b64) + 40;
  *out = malloc(n);
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else snprintf(*out, n, "{\"%s\":%s,\"signature\":\"%s\"}\n", field, canonical, b64);
  free(b64);
  return rc;
}

int li_command_sign(const li_command *c, EVP_PKEY *key, char **out, lisec_err *err) {
  char canon[LI_MSG_MAX];
  int rc = li_command_canonical(c, canon, sizeof canon, err);
  return rc ? rc : wrap_signed("command", canon, key, out, err);
}

int li_retire_sign(const li_command *c, EVP_PKEY *key, char **out, lisec_err *err) {
  char canon[LI_MSG_MAX];
  int rc = li_retire_canonical(c, canon, sizeof canon, err);
  return rc ? rc : wrap_signed("command", canon, key, out, err);
}

int li_pair_sign(const char *vm_id, EVP_PKEY *vm_key, uint64_t last_counter, int64_t expires,
                 EVP_PKEY *li_admin_key, char **out, lisec_err *err) {
  uint8_t h[CRYPTO_SHA256_LEN];
  char hex[2 * CRYPTO_SHA256_LEN + 1], canon[LI_MSG_MAX];
  int rc = li_key_sha256(vm_key, h, err);
  if (rc) return rc;
  lisec_hex_encode(h, sizeof h, hex);
  if ((rc = pair_canonical(vm_id, hex, last_counter, expires, canon, sizeof canon, err))) return rc;
  return wrap_signed("statement", canon, li_admin_key, out, err);
}

/* Parses {"<field>": {...}, "signature": "..."} with nothing else in it;
 * *inner borrows from *root, *sig is malloc'd. */
static int parse_signed(const uint8_t *data, size_t len, const char *field, size_t n_inner,
                        json_t **root, json_t **inner, uint8_t **sig, size_t *sig_len,
                        lisec_err *err) {
  if (len > LI_MSG_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "signed LI message larger than %d bytes", LI_MSG_MAX);
  int rc = lisec_json_parse((const char *)data, len, root, err);
  if (rc) return rc;
  const char *b64 = NULL;
  *inner = json_object_get(*root, field);
  if (!json_is_object(*root) || json_object_size(*root) != 2 || !json_is_object(*inner) ||
      json_object_size(*inner) != n_inner) {
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "an LI %s is {\"%s\": {...%zu fields}, \"signature\": \"...\"} and nothing else",
                       field, field, n_inner);
  } else if (!(rc = lisec_json_get_str(*root, "signature", true, 2 * SIG_MAX, &b64, err))) {
    rc = crypto_base64_decode(b64, SIG_MAX, sig, sig_len, err);
  }
  if (rc) {
    json_decref(*root);
    *root = NULL;
  }
  return rc;
}

static int check_header(json_t *inner, const char *type, int version, lisec_err *err) {
  const char *t = NULL;
  int64_t v = 0;
  int rc = lisec_json_get_str(inner, "type", true, 32, &t, err);
  if (!rc) rc = lisec_json_get_int(inner, "v", true, version, version, &v, err);
  if (!rc && strcmp(t, type) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "this is not an LI %s message", type);
  return rc;
}

/* A command of type (what: "disable", "retire" in the reasons), verified
 * as li_command_verify says. */
static int command_verify(const char *type, const char *what, const uint8_t *data, size_t len,
                          EVP_PKEY *li_admin_key, const char *vm_id, uint64_t last_counter,
                          int64_t now, li_command *out, lisec_err *err) {
  json_t *root = NULL, *cmd = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  int rc = parse_signed(data, len, "command", 5, &root, &cmd, &sig, &sig_len, err);
  if (rc) return rc;
  const char *vm = NULL;
  int64_t counter = 0, expires = 0;
  char canon[LI_MSG_MAX];
  memset(out, 0, sizeof *out);
  if ((rc = check_header(cmd, type, 1, err)) ||
      (rc = lisec_json_get_str(cmd, "vm", true, LI_VM_ID_MAX, &vm, err)) ||
      (rc = lisec_json_get_int(cmd, "counter", true, 1, (int64_t)LI_COUNTER_MAX, &counter, err)) ||
      (rc = lisec_json_get_int(cmd, "expires", true, 1, INT64_MAX, &expires, err)))
    goto out;
  memcpy(out->vm, vm, strlen(vm) + 1);
  out->counter = (uint64_t)counter;
  out->expires = expires;
  if ((rc = command_canonical(type, out, canon, sizeof canon, err))) goto out;
  if (crypto_pkey_verify(li_admin_key, canon, strlen(canon), sig, sig_len, err)) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the %s command is not signed by the LI administration", what);
    goto out;
  }
  if (strcmp(out->vm, vm_id) != 0) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1: the %s command is for VM %s, not %s", what,
                       out->vm, vm_id);
  } else if (now >= expires) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1: the %s command expired", what);
  } else if (expires - now > LI_CMD_LIFETIME_MAX) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the %s command is valid for more than %d s", what,
                       LI_CMD_LIFETIME_MAX);
  } else if (out->counter <= last_counter) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-4.1: replayed %s command (counter %" PRIu64 " not above %" PRIu64
                       ")",
                       what, out->counter, last_counter);
  }
out:
  free(sig);
  json_decref(root);
  return rc;
}

int li_command_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                      uint64_t last_counter, int64_t now, li_command *out, lisec_err *err) {
  return command_verify("li-disable", "disable", data, len, li_admin_key, vm_id, last_counter, now,
                        out, err);
}

int li_retire_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                     uint64_t last_counter, int64_t now, li_command *out, lisec_err *err) {
  return command_verify("li-retire", "retire", data, len, li_admin_key, vm_id, last_counter, now,
                        out, err);
}

int li_pair_verify(const uint8_t *data, size_t len, EVP_PKEY *li_admin_key, const char *vm_id,
                   EVP_PKEY *vm_key, uint64_t last_counter, int64_t now, lisec_err *err) {
  json_t *root = NULL, *st = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  int rc = parse_signed(data, len, "statement", 6, &root, &st, &sig, &sig_len, err);
  if (rc) {
    /* The first format had four fields and no freshness: say so rather
     * than only "wrong shape", the LI administration has to sign anew. */
    if (rc == LISEC_EINVAL && strstr(err ? err->msg : "", "nothing else"))
      lisec_err_wrap(err, "TR103308-4.1: a pairing statement names the VM's last command counter "
                          "and an expiry (format v2; sign it again with lisec li pair-sign)");
    return rc;
  }
  const char *vm = NULL, *hex = NULL;
  int64_t last = 0, expires = 0;
  char canon[LI_MSG_MAX];
  uint8_t h[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
  if ((rc = check_header(st, "li-pair", 2, err)) ||
      (rc = lisec_json_get_str(st, "vm", true, LI_VM_ID_MAX, &vm, err)) ||
      (rc = lisec_json_get_str(st, "key_sha256", true, 64, &hex, err)) ||
      (rc = lisec_json_get_int(st, "last_counter", true, 0, (int64_t)LI_COUNTER_MAX, &last, err)) ||
      (rc = lisec_json_get_int(st, "expires", true, 1, INT64_MAX, &expires, err)))
    goto out;
  if (strlen(hex) != 64 || lisec_hex_decode(hex, h, sizeof h)) {
    rc = lisec_err_set(err, LISEC_EINVAL, "key_sha256 is not 64 hex digits");
    goto out;
  }
  /* Lower-case hex only, so the canonical bytes are unique. */
  char lower[2 * CRYPTO_SHA256_LEN + 1];
  lisec_hex_encode(h, sizeof h, lower);
  if ((rc = pair_canonical(vm, lower, (uint64_t)last, expires, canon, sizeof canon, err))) goto out;
  if (crypto_pkey_verify(li_admin_key, canon, strlen(canon), sig, sig_len, err)) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the pairing is not signed by the LI administration");
    goto out;
  }
  if (strcmp(vm, vm_id) != 0) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1: the pairing is for VM %s, not %s", vm,
                       vm_id);
    goto out;
  }
  if ((rc = li_key_sha256(vm_key, want, err))) goto out;
  if (!crypto_ct_equal(want, h, sizeof h)) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the pairing names another key than VM %s was given", vm_id);
  } else if ((uint64_t)last < last_counter) {
    /* Signed before a later disable command: using it again would undo
     * that command. */
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-4.1: replayed pairing statement (signed at last counter %" PRId64
                       ", the VM has accepted disable command %" PRIu64 " since)",
                       last, last_counter);
  } else if ((uint64_t)last > last_counter) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the pairing names last counter %" PRId64
                       ", but the VM's last disable command is %" PRIu64,
                       last, last_counter);
  } else if (now >= expires) {
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1: the pairing statement expired");
  } else if (expires - now > LI_CMD_LIFETIME_MAX) {
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1: the pairing statement is valid for more than %d s",
                       LI_CMD_LIFETIME_MAX);
  }
out:
  free(sig);
  json_decref(root);
  return rc;
}

int li_message_expires(const uint8_t *data, size_t len, int64_t *expires, lisec_err *err) {
  json_t *root = NULL;
  *expires = 0;
  if (len > LI_MSG_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "signed LI message larger than %d bytes", LI_MSG_MAX);
  int rc = lisec_json_parse((const char *)data, len, &root, err);
  if (rc) return rc;
  json_t *inner = json_object_get(root, "statement");
  if (!inner) inner = json_object_get(root, "command");
  if (!json_is_object(inner))
    rc = lisec_err_set(err, LISEC_EINVAL, "not a signed LI statement or command");
  else rc = lisec_json_get_int(inner, "expires", true, 1, INT64_MAX, expires, err);
  json_decref(root);
  return rc;
}
