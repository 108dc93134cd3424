/* `lisec pki init DIR [--force] [--days N]` and `lisec pki issue DIR STEM
 * ROLE NAME`: the development PKI, for running lisec without an outside CA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

const char cli_help_pki[] = "a development PKI (pki init DIR) or one more certificate (pki issue)";
#include "crypto/pki.h"

static int pki_usage(void) {
  return cli_fail("usage: lisec pki init DIR [--force] [--days N]\n"
                  "       lisec pki issue DIR FILE-STEM ROLE NAME [--days N]");
}

int cli_cmd_pki(int argc, char **argv) {
  bool force = false;
  int days = 90;
  char *pos[5];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--force") == 0) force = true;
    else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) days = atoi(argv[++i]);
    else if (argv[i][0] == '-' || n == 5) return pki_usage();
    else pos[n++] = argv[i];
  }
  if (n < 1 || days < 1 || days > 3650) return pki_usage();
  lisec_err err = {0};
  if (strcmp(pos[0], "init") == 0 && n == 2) {
    if (pki_init(pos[1], force, days, &err) != 0) return cli_fail("pki init: %s", err.msg);
    fprintf(stderr,
            "lisec: DEVELOPMENT PKI written to %s (CA key in a plain file; never use it in "
            "production)\n",
            pos[1]);
    if (cli.json) {
      json_t *roles = json_array();
      for (size_t i = 0; i < pki_dev_roles_len; i++)
        json_array_append_new(roles, json_pack("{s:s, s:s}", "role", pki_dev_roles[i].role, "file",
                                               pki_dev_roles[i].stem));
      json_t *o = json_pack("{s:s, s:o, s:b}", "dir", pos[1], "roles", roles, "development_only", 1);
      cli_print_json(o);
      json_decref(o);
    } else {
      printf("CA: %s/ca.crt\nserver: %s/server.crt (localhost, 127.0.0.1, ::1)\n", pos[1], pos[1]);
      for (size_t i = 0; i < pki_dev_roles_len; i++)
        printf("role %-16s %s/%s.crt\n", pki_dev_roles[i].role, pos[1], pki_dev_roles[i].stem);
    }
    return CLI_OK;
  }
  if (strcmp(pos[0], "issue") == 0 && n == 5) {
    if (pki_issue(pos[1], pos[2], pos[3], pos[4], days, &err) != 0)
      return cli_fail("pki issue: %s", err.msg);
    printf("%s/%s.crt (role %s, CN %s)\n", pos[1], pos[2], pos[3], pos[4]);
    return CLI_OK;
  }
  return pki_usage();
}
