/* `lisec rd`: the RD administration's tool (issue 20). Offline, with the
 * RD administration's private key, which never goes near lisecd:
 * sign-extend makes the signed command that lengthens a retention
 * obligation's retention (model/rd_command.h has the format; POST
 * /v1/rd/obligations/{id}/extend takes it), and sign-recipient the one
 * that registers (or removes) the P-256 key an RD VM's data keys are
 * wrapped to (model/rd_register.h). register sends such a command to
 * lisecd and recipient shows what lisecd holds for a VM (global --server
 * and the rd-admin client certificate). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/crypto.h"
#include "model/rd_command.h"
#include "model/rd_register.h"

const char cli_help_rd[] = "the RD administration's signed commands: retention extension, RD VM keys";
int cli_cmd_rd(int argc, char **argv);

static const char rd_usage_text[] =
    "usage: lisec rd sign-extend --key RD-ADMIN.key --obligation ID --retention-s N\n"
    "                            --counter N --expires +SECONDS|TIME [-o FILE]\n"
    "         the command lengthening obligation ID's retention to N seconds; counter\n"
    "         above every earlier command's for that obligation; valid for at most 7 days\n"
    "       lisec rd sign-recipient --key RD-ADMIN.key --vm VM (--pubkey VM-PUB | --remove)\n"
    "                               --counter N --expires +SECONDS|TIME [-o FILE]\n"
    "         registers VM-PUB (a P-256 key: PEM, or the base64 of its DER SPKI) as the one\n"
    "         key RD data keys are wrapped to for RD VM VM, replacing an earlier one;\n"
    "         --remove ends it; counter above every earlier command's for that VM\n"
    "       lisec rd register VM COMMAND-FILE     (lisecd, rd-admin: sends the command)\n"
    "       lisec rd recipient VM                 (lisecd, rd-admin: the key registered)\n"
    "Exit 0: signed or done; 1: refused (reason printed); 2: usage or I/O error.";

static int num(const char *s, int64_t min, int64_t max, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || !*s || errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int expires_at(const char *expires, int64_t now, int64_t max_life, int64_t *out) {
  int64_t v = 0;
  if (expires[0] == '+' && num(expires + 1, 1, max_life, &v) == 0) {
    *out = now + v;
    return 0;
  }
  if (lisec_time_parse(expires, out) == 0 || num(expires, 1, INT64_MAX / 2, out) == 0) return 0;
  return -1;
}

static int write_or_print(const char *what, const char *out, const char *msg) {
  lisec_err err = {0};
  if (!out) {
    puts(msg);
    return CLI_OK;
  }
  if (lisec_file_write_atomic(out, msg, strlen(msg), 0644, &err)) return cli_fail("rd %s: %s", what, err.msg);
  return CLI_OK;
}

/* sign-recipient: the registration of an RD VM's key, or its removal. */
static int sign_recipient(int argc, char **argv) {
  const char *vm = NULL, *pub = NULL, *counter = NULL, *expires = NULL, *out = NULL;
  bool remove = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--remove") == 0) {
      remove = true;
      continue;
    }
    const char **slot = strcmp(argv[i], "--vm") == 0        ? &vm
                        : strcmp(argv[i], "--pubkey") == 0  ? &pub
                        : strcmp(argv[i], "--counter") == 0 ? &counter
                        : strcmp(argv[i], "--expires") == 0 ? &expires
                        : strcmp(argv[i], "-o") == 0        ? &out
                                                            : NULL;
    if (!slot || i + 1 >= argc) return cli_fail("%s", rd_usage_text);
    *slot = argv[++i];
  }
  if (!cli.key || !vm || !counter || !expires || remove == (pub != NULL)) return cli_fail("%s", rd_usage_text);
  model_rd_reg c = {.remove = remove};
  int64_t v = 0;
  lisec_err err = {0};
  if (strlen(vm) > MODEL_RD_REG_VM_MAX || !lisec_id_valid(vm)) return cli_fail("rd: --vm: %s", LISEC_ID_RULE);
  snprintf(c.vm, sizeof c.vm, "%s", vm);
  if (num(counter, 1, (int64_t)MODEL_RD_REG_COUNTER_MAX, &v)) return cli_fail("rd: --counter: a positive number");
  c.counter = (uint64_t)v;
  if (expires_at(expires, lisec_time_now(), MODEL_RD_REG_LIFETIME_MAX, &c.expires))
    return cli_fail("rd: --expires takes +SECONDS (at most 7 days), RFC 3339 or epoch seconds");
  if (pub) {
    uint8_t *text = NULL;
    size_t len = 0;
    if (lisec_file_read(pub, 4096, &text, &len, &err)) return cli_fail("rd sign-recipient: %s", err.msg);
    int rc = model_rd_reg_key_parse((const char *)text, len, c.point, c.public_key, &err);
    free(text);
    if (rc) return cli_fail("rd sign-recipient: %s: %s", pub, err.msg);
  }
  EVP_PKEY *pk = NULL;
  char *msg = NULL;
  if (crypto_pkey_load_pem(cli.key, true, &pk, &err) || model_rd_reg_sign(&c, pk, &msg, &err)) {
    EVP_PKEY_free(pk);
    return cli_fail("rd sign-recipient: %s", err.msg);
  }
  EVP_PKEY_free(pk);
  int rc = write_or_print("sign-recipient", out, msg);
  free(msg);
  return rc;
}

static void print_recipient(const json_t *v) {
  const json_t *reg = json_object_get(v, "registered");
  printf("vm %s: %s (last counter %lld)\n", cli_str(v, "vm"),
         json_is_true(reg) ? cli_str(v, "public_key") : "no key registered",
         (long long)json_integer_value(json_object_get(v, "last_counter")));
}

/* register VM FILE, recipient VM: ask lisecd. */
static int online(int argc, char **argv) {
  bool reg = strcmp(argv[1], "register") == 0;
  if (argc != (reg ? 4 : 3) || argv[2][0] == '-') return cli_fail("%s", rd_usage_text);
  char eid[CLI_ID_PATH_MAX], path[CLI_ID_PATH_MAX + 32];
  if (cli_path_id(argv[2], eid, sizeof eid) != CLI_OK) return CLI_ERROR;
  snprintf(path, sizeof path, "/v1/rd/recipients/%s", eid);
  json_t *body = NULL, *reply = NULL;
  lisec_err err = {0};
  if (reg) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (lisec_file_read(argv[3], MODEL_RD_REG_MAX, &data, &len, &err)) return cli_fail("rd register: %s", err.msg);
    int rc = lisec_json_parse((const char *)data, len, &body, &err);
    free(data);
    if (rc) return cli_fail("rd register: %s: %s", argv[3], err.msg);
  }
  long status = 0;
  int rc = cli_http_request(reg ? "POST" : "GET", path, body, &status, &reply, &err);
  json_decref(body);
  if (rc) return cli_fail("rd: %s", err.msg);
  rc = status >= 200 && status < 300 ? CLI_OK : cli_http_error(status, reply);
  if (rc == CLI_OK) cli_print(reply, print_recipient);
  json_decref(reply);
  return rc;
}

int cli_cmd_rd(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "sign-recipient") == 0) return sign_recipient(argc, argv);
  if (argc >= 2 && (strcmp(argv[1], "register") == 0 || strcmp(argv[1], "recipient") == 0)) return online(argc, argv);
  if (argc < 2 || strcmp(argv[1], "sign-extend") != 0) return cli_fail("%s", rd_usage_text);
  /* --key is lisec's global option (main.c takes it into cli.key) */
  const char *key = cli.key, *ob = NULL, *ret = NULL, *counter = NULL, *expires = NULL, *out = NULL;
  for (int i = 2; i < argc; i++) {
    const char **slot = strcmp(argv[i], "--obligation") == 0  ? &ob
                        : strcmp(argv[i], "--retention-s") == 0 ? &ret
                        : strcmp(argv[i], "--counter") == 0     ? &counter
                        : strcmp(argv[i], "--expires") == 0     ? &expires
                        : strcmp(argv[i], "-o") == 0            ? &out
                                                                : NULL;
    if (!slot || i + 1 >= argc) return cli_fail("%s", rd_usage_text);
    *slot = argv[++i];
  }
  if (!key || !ob || !ret || !counter || !expires) return cli_fail("%s", rd_usage_text);
  model_rd_command c = {0};
  int64_t v = 0, now = lisec_time_now();
  if (strlen(ob) > MODEL_ID_MAX || !lisec_id_valid(ob)) return cli_fail("rd: --obligation: %s", LISEC_ID_RULE);
  snprintf(c.obligation, sizeof c.obligation, "%s", ob);
  if (num(ret, 1, MODEL_RD_SECONDS_MAX, &c.retention_s)) return cli_fail("rd: --retention-s: 1 to %lld", (long long)MODEL_RD_SECONDS_MAX);
  if (num(counter, 1, (int64_t)MODEL_RD_COUNTER_MAX, &v)) return cli_fail("rd: --counter: a positive number");
  c.counter = (uint64_t)v;
  if (expires[0] == '+' && num(expires + 1, 1, MODEL_RD_CMD_LIFETIME_MAX, &v) == 0) c.expires = now + v;
  else if (lisec_time_parse(expires, &c.expires) != 0 && num(expires, 1, INT64_MAX / 2, &c.expires) != 0)
    return cli_fail("rd: --expires takes +SECONDS, RFC 3339 or epoch seconds");
  lisec_err err = {0};
  EVP_PKEY *pk = NULL;
  char *msg = NULL;
  if (crypto_pkey_load_pem(key, true, &pk, &err) || model_rd_command_sign(&c, pk, &msg, &err)) {
    EVP_PKEY_free(pk);
    return cli_fail("rd sign-extend: %s", err.msg);
  }
  EVP_PKEY_free(pk);
  int rc = CLI_OK;
  if (!out) {
    puts(msg);
  } else if (lisec_file_write_atomic(out, msg, strlen(msg), 0644, &err)) {
    rc = cli_fail("rd sign-extend: %s", err.msg);
  }
  free(msg);
  return rc;
}
