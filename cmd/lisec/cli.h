/* Shared parts of the `lisec` command that every subcommand uses: the global
 * options, output in human or JSON form, the exit codes, and the mutually
 * authenticated HTTPS client that talks to lisecd. A subcommand lives in
 * cmd_<name>.c and needs nothing else from the rest of the CLI. */
#ifndef LISEC_CLI_H
#define LISEC_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "base/base.h"

/* Exit codes of every subcommand: a refusal or a failed check is an answer
 * (1); only a usage mistake or an error that left no answer is 2. */
enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_ERROR = 2 };

typedef struct cli_options {
  bool json;          /* --json: machine-readable output on stdout */
  bool help;          /* --help was given: usage text is the answer (exit 0) */
  const char *server; /* --server https://host:port */
  const char *cert, *key, *ca;
} cli_options;

/* Filled by main() before any subcommand runs. */
extern cli_options cli;

/* One HTTPS request to lisecd: TLS 1.2 or later, lisecd verified against
 * cli.ca (name and chain), this client's certificate presented. body may be
 * NULL. On 0, *status holds the HTTP status and *json_out the parsed reply
 * (NULL when the reply was not JSON; the caller json_decref()s it). Fails
 * with a negative LISEC_E* only when no HTTP answer came back, and err then
 * says why in words a user can act on (e.g. "lisecd refused the client
 * certificate"). */
int cli_http_request(const char *method, const char *path, const json_t *body, long *status,
                     json_t **json_out, lisec_err *err);
/* The earlier name of cli_http_request, kept for existing subcommands. */
static inline int cli_http(const char *method, const char *path, const json_t *body, long *status,
                           json_t **out, lisec_err *err) {
  return cli_http_request(method, path, body, status, out, err);
}

/* Prints v as indented JSON with sorted keys on stdout. */
void cli_print_json(const json_t *v);
/* Prints a result: JSON with --json, else through human (which may be NULL
 * for "JSON anyway"). */
void cli_print(const json_t *v, void (*human)(const json_t *v));
/* Prints "lisec: <message>" to stderr and returns CLI_ERROR; under --json
 * prints {"error": {"code", "message", "source": "lisec"}} on stdout
 * instead (code: the failed request's, e.g. "unavailable", right after a
 * cli_http_request that got no answer; else "invalid"). When --help was
 * asked for, the message is the usage text: printed on stdout, CLI_OK. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a refusal that is an answer (exit CLI_REFUSED), with its
 * code (e.g. "denied"). */
int cli_refuse(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Turns an HTTP error reply into an exit code (403/409 -> CLI_REFUSED, else
 * CLI_ERROR), printing lisecd's message (or the reply with --json). */
int cli_http_error(long status, const json_t *reply);
/* An id as one URL path segment: every byte outside RFC 3986's unreserved
 * set percent-encoded, so no id can change which route it names; lisecd
 * decodes it and holds it to lisec's id rule (base/id.c), whose refusal is
 * the one the user sees. CLI_OK, or CLI_ERROR (said on stderr) when out,
 * CLI_ID_PATH_MAX bytes, cannot hold it. */
#define CLI_ID_PATH_MAX (3 * 256 + 1)
int cli_path_id(const char *id, char *out, size_t cap);
/* json_string_value that never returns NULL, for printing. */
const char *cli_str(const json_t *object, const char *key);

#endif
