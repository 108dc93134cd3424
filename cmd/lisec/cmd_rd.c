/* `lisec rd`: the RD administration's offline tool (issue 20). sign-extend
 * makes the signed command that lengthens a retention obligation's
 * retention (model/rd_command.h has the format; POST
 * /v1/rd/obligations/{id}/extend takes it), with the RD administration's
 * private key, which never goes near lisecd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/crypto.h"
#include "model/rd_command.h"

const char cli_help_rd[] = "sign the RD administration's retention extension command";
int cli_cmd_rd(int argc, char **argv);

static const char rd_usage_text[] =
    "usage: lisec rd sign-extend --key RD-ADMIN.key --obligation ID --retention-s N\n"
    "                            --counter N --expires +SECONDS|TIME [-o FILE]\n"
    "         the command lengthening obligation ID's retention to N seconds; counter\n"
    "         above every earlier command's for that obligation; valid for at most 7 days\n"
    "Exit 0: signed; 2: usage or I/O error.";

static int num(const char *s, int64_t min, int64_t max, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || !*s || errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int cli_cmd_rd(int argc, char **argv) {
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
