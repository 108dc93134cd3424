/* Shared parts of the `lisec` command: global options, output in human or
 * JSON form, exit codes, and the mutually authenticated HTTPS client. */
#ifndef LISEC_CLI_H
#define LISEC_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "base/base.h"

/* Exit codes of every subcommand. */
enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_ERROR = 2 };

typedef struct cli_options {
  bool json;
  const char *server; /* https://host:port */
  const char *cert, *key, *ca;
} cli_options;

extern cli_options cli;

/* One HTTPS request to lisecd with the client certificate. *out gets the
 * parsed JSON reply (or NULL when the reply is not JSON); *status the HTTP
 * status. Fails (EUNAVAIL, EAUTH, ...) only when no HTTP answer came back. */
int cli_http(const char *method, const char *path, const json_t *body, long *status, json_t **out,
             lisec_err *err);
/* Prints a reply: indented JSON with --json, else via the given printer. */
void cli_print_json(const json_t *v);
/* Prints "lisec: <message>" to stderr and returns CLI_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Turns an HTTP error reply into an exit code, printing its message. */
int cli_http_error(long status, const json_t *reply);

#endif
