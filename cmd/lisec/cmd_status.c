/* `lisec status`: what lisecd reports about itself, and who we are to it. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

const char cli_help_status[] = "lisecd's status, and who you are to it";

int cli_cmd_status(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return cli_fail("usage: lisec status");
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  if (cli_http("GET", "/v1/status", NULL, &status, &reply, &err) != 0)
    return cli_fail("status: %s", err.msg);
  int rc = CLI_OK;
  if (status != 200) {
    rc = cli_http_error(status, reply);
  } else if (cli.json) {
    cli_print_json(reply);
  } else {
    json_t *store = json_object_get(reply, "store"), *you = json_object_get(reply, "you");
    printf("lisecd %s at %s\n", json_string_value(json_object_get(reply, "version")), cli.server);
    printf("  store:   %s (schema %lld)\n", json_string_value(json_object_get(store, "backend")),
           (long long)json_integer_value(json_object_get(store, "schema_version")));
    printf("  uptime:  %lld s (since %s)\n",
           (long long)json_integer_value(json_object_get(reply, "uptime_seconds")),
           json_string_value(json_object_get(reply, "started_at")));
    printf("  you are: %s, role %s\n", json_string_value(json_object_get(you, "subject")),
           json_string_value(json_object_get(you, "role")));
  }
  json_decref(reply);
  return rc;
}
