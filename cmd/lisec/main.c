/* lisec, the command line: takes the global options wherever they stand,
 * then runs the named subcommand. Exit codes: 0 ok, 1 refused or a failed
 * check, 2 usage or error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#include "commands.inc"

static void usage(FILE *f) {
  fprintf(f, "usage: lisec [GLOBAL OPTIONS] COMMAND [ARGS]\n       lisec --help | --version\n\ncommands:\n");
  for (size_t i = 0; i < LISEC_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f,
          "\nglobal options (anywhere on the line, as --opt VALUE or --opt=VALUE; \"--\" ends them):\n"
          "  --json              machine-readable output (JSON on stdout)\n"
          "  --server URL        lisecd's address        [LISEC_SERVER, default https://localhost:8443]\n"
          "  --cert FILE         this client's certificate (PEM)               [LISEC_CERT]\n"
          "  --key FILE          this client's private key (PEM)               [LISEC_KEY]\n"
          "  --ca FILE           the CA that signed lisecd's certificate       [LISEC_CA]\n"
          "  --pki DIR --role R  shorthand for DIR/R.crt, DIR/R.key and DIR/ca.crt\n"
          "  an explicit --cert/--key/--ca wins over --pki, which wins over the environment\n"
          "\nexit status:\n"
          "  0  done; the check passed; the decision was allow\n"
          "  1  refused (lisecd answered 403 or 409), a check failed, the decision was deny\n"
          "  2  usage error, bad input, or no answer from lisecd (connection or TLS failure)\n"
          "\n'lisec COMMAND --help' shows a command's own arguments; see also docs/cli.md\n");
}

/* Removes the global options from argv wherever they stand (as "--opt VALUE"
 * or "--opt=VALUE"); "--" ends them and is dropped. Returns the new argc, or
 * -1 when an option lacks its value. */
static int take_globals(int argc, char **argv, const char **pki, const char **role) {
  static const struct {
    const char *name;
    size_t len;
  } valued[] = {{"--server", 8}, {"--cert", 6}, {"--key", 5}, {"--ca", 4}, {"--pki", 5}, {"--role", 6}};
  const char **slots[] = {&cli.server, &cli.cert, &cli.key, &cli.ca, pki, role};
  int out = 1;
  bool globals = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (globals && strcmp(a, "--") == 0) {
      globals = false;
      continue;
    }
    if (globals && strcmp(a, "--json") == 0) {
      cli.json = true;
      continue;
    }
    size_t k = 0;
    while (globals && k < LISEC_ARRAY_LEN(valued) &&
           !(strncmp(a, valued[k].name, valued[k].len) == 0 &&
             (a[valued[k].len] == '\0' || a[valued[k].len] == '=')))
      k++;
    if (!globals || k == LISEC_ARRAY_LEN(valued)) {
      argv[out++] = argv[i];
      continue;
    }
    if (a[valued[k].len] == '=') *slots[k] = a + valued[k].len + 1;
    else if (i + 1 < argc) *slots[k] = argv[++i];
    else return -1;
    if (!**slots[k]) return -1;
  }
  argv[out] = NULL;
  return out;
}

/* An environment variable, with the empty string counted as unset. */
static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

int main(int argc, char **argv) {
  static char cert[4096], key[4096], ca[4096];
  const char *pki = NULL, *role = NULL;
  argc = take_globals(argc, argv, &pki, &role);
  if (argc < 0) return cli_fail("a global option is missing its value (see lisec --help)");
  /* An explicit option wins over --pki, which wins over the environment. */
  if (role && !pki) return cli_fail("--role needs --pki DIR (see lisec --help)");
  if (pki) {
    if (!role) return cli_fail("--pki needs --role ROLE (e.g. operator)");
    if (strlen(pki) + strlen(role) + 8 > sizeof cert) return cli_fail("--pki DIR is too long");
    snprintf(cert, sizeof cert, "%s/%s.crt", pki, role);
    snprintf(key, sizeof key, "%s/%s.key", pki, role);
    snprintf(ca, sizeof ca, "%s/ca.crt", pki);
    if (!cli.cert) cli.cert = cert;
    if (!cli.key) cli.key = key;
    if (!cli.ca) cli.ca = ca;
  }
  if (!cli.server) cli.server = env("LISEC_SERVER");
  if (!cli.cert) cli.cert = env("LISEC_CERT");
  if (!cli.key) cli.key = env("LISEC_KEY");
  if (!cli.ca) cli.ca = env("LISEC_CA");
  if (!cli.server) cli.server = "https://localhost:8443";
  if (argc < 2) {
    if (cli.json) return cli_fail("a command is needed: lisec --help lists them");
    usage(stderr);
    return CLI_ERROR;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    if (cli.json) {
      json_t *v = json_pack("{s:s, s:s}", "program", "lisec", "version", LISEC_VERSION);
      cli_print_json(v);
      json_decref(v);
    } else {
      printf("lisec %s\n", LISEC_VERSION);
    }
    return CLI_OK;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      (strcmp(argv[1], "help") == 0 && argc == 2)) {
    usage(stdout);
    return CLI_OK;
  }
  /* "lisec help CMD" is "lisec CMD --help". */
  if (strcmp(argv[1], "help") == 0 && argc == 3) {
    static char help_flag[] = "--help";
    argv[1] = argv[2];
    argv[2] = help_flag;
  }
  /* --help anywhere after the command asks for the command's help, and
   * only that: the command is run with "--help" alone, so it does nothing
   * else, and the usage text it prints is the answer (exit 0). */
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      static char help_flag[] = "--help";
      cli.help = true;
      argv[2] = help_flag;
      argv[3] = NULL;
      argc = 3;
      break;
    }
  for (size_t i = 0; i < LISEC_ARRAY_LEN(commands); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  if (cli.json) return cli_fail("unknown command \"%s\": lisec --help lists them", argv[1]);
  fprintf(stderr, "lisec: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return CLI_ERROR;
}
