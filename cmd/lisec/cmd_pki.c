/* `lisec pki init DIR [--force] [--days N]`, `lisec pki issue DIR [STEM]
 * ROLE NAME [--days N]` and `lisec pki revoke DIR SERIAL [--days N]` (its
 * CRL, DIR/crl.pem): the development PKI, so that lisec runs without an
 * outside CA. The layout (DIR/ca.crt, DIR/server.crt, DIR/<role>.crt, each
 * with its .key) is what the demo and the integration tests rely on. It
 * says loudly, every time, that it is for development only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "crypto/pki.h"

const char cli_help_pki[] = "a development PKI (pki init DIR) or one more certificate (pki issue)";

static const char pki_usage_text[] =
    "usage: lisec pki init DIR [--force] [--days N]\n"
    "         a development CA, lisecd's server certificate and one client certificate\n"
    "         per role in DIR (refuses a non-empty DIR unless --force; N defaults to 90)\n"
    "       lisec pki issue DIR [STEM] ROLE NAME [--days N]\n"
    "         one more client certificate from DIR's CA: DIR/STEM.crt and .key with\n"
    "         CN=NAME and the role ROLE (STEM defaults to NAME, lower case, with any\n"
    "         character outside a-z 0-9 _ turned into -); never overwrites\n"
    "       lisec pki revoke DIR SERIAL [--days N]\n"
    "         revokes the certificate of that serial (hex, openssl x509 -serial):\n"
    "         DIR/crl.pem, signed by DIR's CA with every serial revoked so far and a\n"
    "         nextUpdate N days ahead (default 90), for lisecd's [tls] crl";

static int parse_days(const char *s, int *days) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < 1 || v > PKI_DAYS_MAX) return -1;
  *days = (int)v;
  return 0;
}

static int pki_cmd_init(const char *dir, bool force, int days) {
  lisec_err err = {0};
  if (pki_init(dir, force, days, &err) != 0) return cli_fail("pki init: %s", err.msg);
  fprintf(stderr,
          "lisec: *** DEVELOPMENT PKI *** written to %s. Its CA key lies in a plain file:\n"
          "lisec: never use it in production (see %s/README-DEVELOPMENT-ONLY.txt)\n",
          dir, dir);
  if (cli.json) {
    json_t *roles = json_array();
    for (size_t i = 0; i < pki_dev_roles_len; i++)
      json_array_append_new(roles, json_pack("{s:s, s:s}", "role", pki_dev_roles[i].role, "file",
                                             pki_dev_roles[i].stem));
    json_t *o = json_pack("{s:s, s:o, s:i, s:b}", "dir", dir, "roles", roles, "days", days,
                          "development_only", 1);
    cli_print_json(o);
    json_decref(o);
  } else {
    printf("CA:     %s/ca.crt\nserver: %s/server.crt (localhost, 127.0.0.1, ::1)\n", dir, dir);
    for (size_t i = 0; i < pki_dev_roles_len; i++)
      printf("role %-16s %s/%s.crt\n", pki_dev_roles[i].role, dir, pki_dev_roles[i].stem);
    printf("valid for %d days\n", days);
  }
  return CLI_OK;
}

static int pki_cmd_issue(const char *dir, const char *stem, const char *role, const char *name,
                         int days) {
  lisec_err err = {0};
  if (pki_issue(dir, stem, role, name, days, &err) != 0) return cli_fail("pki issue: %s", err.msg);
  if (cli.json) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "dir", dir, "file", stem, "role", role,
                          "name", name, "days", days);
    cli_print_json(o);
    json_decref(o);
  } else {
    printf("%s/%s.crt (role %s, CN %s, %d days) - development only\n", dir, stem, role, name, days);
  }
  return CLI_OK;
}

int cli_cmd_pki(int argc, char **argv) {
  bool force = false;
  int days = PKI_DAYS_DEFAULT;
  const char *pos[5];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      puts(pki_usage_text);
      return CLI_OK;
    }
    if (strcmp(argv[i], "--force") == 0) force = true;
    else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
      if (parse_days(argv[++i], &days) != 0)
        return cli_fail("--days takes a whole number from 1 to %d", PKI_DAYS_MAX);
    } else if (argv[i][0] == '-' || n == 5) return cli_fail("%s", pki_usage_text);
    else pos[n++] = argv[i];
  }
  if (n == 2 && strcmp(pos[0], "init") == 0) return pki_cmd_init(pos[1], force, days);
  if (n == 3 && strcmp(pos[0], "revoke") == 0 && !force) {
    lisec_err err = {0};
    if (pki_revoke(pos[1], pos[2], days, &err) != 0) return cli_fail("pki revoke: %s", err.msg);
    printf("%s/crl.pem: serial %s revoked (nextUpdate in %d days) - development only\n", pos[1], pos[2],
           days);
    return CLI_OK;
  }
  if (force) return cli_fail("pki issue never overwrites; remove the old files first");
  if (n == 4 && strcmp(pos[0], "issue") == 0) {
    /* The file stem from NAME: lower case, anything else outside a-z 0-9 - _
     * becomes '-' (node-9.example -> node-9-example). */
    char stem[PKI_NAME_MAX + 1];
    size_t len = strlen(pos[3]);
    if (len == 0 || len > PKI_NAME_MAX) return cli_fail("pki issue: NAME must be 1-%d bytes", PKI_NAME_MAX);
    for (size_t i = 0; i <= len; i++) {
      char c = pos[3][i];
      if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
      stem[i] = (c == '\0' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '-';
    }
    return pki_cmd_issue(pos[1], stem, pos[2], pos[3], days);
  }
  if (n == 5 && strcmp(pos[0], "issue") == 0) return pki_cmd_issue(pos[1], pos[2], pos[3], pos[4], days);
  return cli_fail("%s", pki_usage_text);
}
