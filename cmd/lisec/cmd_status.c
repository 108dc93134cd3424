/* `lisec status`: GET /v1/status, what lisecd reports about itself (version,
 * store, uptime) and who the caller is to it (certificate subject and the
 * role lisecd read from it). Every role may ask. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

const char cli_help_status[] = "lisecd's status, and who you are to it";

static void print_status(const json_t *reply) {
  const json_t *store = json_object_get(reply, "store"), *you = json_object_get(reply, "you");
  printf("lisecd %s at %s\n", cli_str(reply, "version"), cli.server);
  printf("  store:   %s (schema %lld)\n", cli_str(store, "backend"),
         (long long)json_integer_value(json_object_get(store, "schema_version")));
  printf("  uptime:  %lld s (since %s)\n",
         (long long)json_integer_value(json_object_get(reply, "uptime_seconds")),
         cli_str(reply, "started_at"));
  printf("  you are: %s, role %s\n", cli_str(you, "subject"), cli_str(you, "role"));
}

int cli_cmd_status(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return cli_fail("usage: lisec status");
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  if (cli_http_request("GET", "/v1/status", NULL, &status, &reply, &err) != 0)
    return cli_fail("status: %s", err.msg);
  int rc = CLI_OK;
  if (status != 200) rc = cli_http_error(status, reply);
  else if (!json_is_object(reply)) rc = cli_fail("status: lisecd's reply is not a JSON object");
  else cli_print(reply, print_status);
  json_decref(reply);
  return rc;
}
