/* lisec, the command line: takes the global options wherever they stand,
 * then runs the named subcommand. Exit codes: 0 ok, 1 refused or a failed
 * check, 2 usage or error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#include "commands.inc"

static void usage(FILE *f) {
  fprintf(f, "usage: lisec [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < LISEC_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f,
          "\nglobal options (anywhere on the line; also from LISEC_SERVER, LISEC_CERT,\n"
          "LISEC_KEY, LISEC_CA):\n"
          "  --json              machine-readable output\n"
          "  --server URL        lisecd's address (default https://localhost:8443)\n"
          "  --cert F --key F    this client's certificate and key (PEM)\n"
          "  --ca F              the CA that signed lisecd's certificate\n"
          "  --pki DIR --role R  shorthand for DIR/R.crt, DIR/R.key and DIR/ca.crt\n"
          "\nexit status: 0 ok, 1 refused or a check failed, 2 usage or error\n");
}

/* Removes the global options from argv wherever they are; returns the new argc. */
static int take_globals(int argc, char **argv, const char **pki, const char **role) {
  int out = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    if (strcmp(a, "--json") == 0) {
      cli.json = true;
      continue;
    }
    if (strcmp(a, "--server") == 0) slot = &cli.server;
    else if (strcmp(a, "--cert") == 0) slot = &cli.cert;
    else if (strcmp(a, "--key") == 0) slot = &cli.key;
    else if (strcmp(a, "--ca") == 0) slot = &cli.ca;
    else if (strcmp(a, "--pki") == 0) slot = pki;
    else if (strcmp(a, "--role") == 0) slot = role;
    if (slot && i + 1 < argc) {
      *slot = argv[++i];
      continue;
    }
    if (slot) return -1;
    argv[out++] = argv[i];
  }
  argv[out] = NULL;
  return out;
}

int main(int argc, char **argv) {
  static char cert[4096], key[4096], ca[4096];
  const char *pki = NULL, *role = NULL;
  argc = take_globals(argc, argv, &pki, &role);
  if (argc < 0) return cli_fail("a global option is missing its value (see lisec --help)");
  /* An explicit option wins over --pki, which wins over the environment. */
  if (pki) {
    if (!role) return cli_fail("--pki needs --role ROLE (e.g. operator)");
    snprintf(cert, sizeof cert, "%s/%s.crt", pki, role);
    snprintf(key, sizeof key, "%s/%s.key", pki, role);
    snprintf(ca, sizeof ca, "%s/ca.crt", pki);
    if (!cli.cert) cli.cert = cert;
    if (!cli.key) cli.key = key;
    if (!cli.ca) cli.ca = ca;
  }
  if (!cli.server) cli.server = getenv("LISEC_SERVER");
  if (!cli.cert) cli.cert = getenv("LISEC_CERT");
  if (!cli.key) cli.key = getenv("LISEC_KEY");
  if (!cli.ca) cli.ca = getenv("LISEC_CA");
  if (!cli.server) cli.server = "https://localhost:8443";
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_ERROR : CLI_OK;
  }
  for (size_t i = 0; i < LISEC_ARRAY_LEN(commands); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lisec: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return CLI_ERROR;
}
