/* `lisec task ...`: the X1 tasks lisecd (the ADMF) keeps for each target on
 * each network element, and the network elements themselves and their X1
 * status (role li-admin). Task listings carry metadata only, never
 * identifiers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

const char cli_help_task[] = "X1 tasks on network elements, and the network elements (li-admin)";

int cli_cmd_task(int argc, char **argv);

static const char task_usage_text[] =
    "usage: lisec task list              each task: target, NE, state (pending, active,\n"
    "                                    failed, deactivated), versions and why\n"
    "       lisec task reconcile         reconcile with every NE now, then list\n"
    "       lisec task ne-list           the registered network elements\n"
    "       lisec task ne-put FILE       register or replace an NE from a JSON file\n"
    "                                    (docs/vault.md: id, url, vm, cert, key, ca, ...)\n"
    "       lisec task ne-remove ID      refused while it still carries a task\n"
    "       lisec task ne-status ID      whether the NE is reachable, its last Keepalive,\n"
    "                                    error and reports, version, task counts\n"
    "       lisec task deactivate-all --reason TEXT [--ne ID]\n"
    "                                    emergency stop: DeactivateAllTasks to every NE\n"
    "                                    (or one); nothing is activated there until resume\n"
    "       lisec task resume [--ne ID]  lift the emergency stop\n"
    "Exit 0: done; 1: refused (reason printed); 2: usage or I/O error.";

static int usage(void) { return cli_fail("%s", task_usage_text); }

static void print_tasks(const json_t *r) {
  size_t i;
  const json_t *t;
  printf("%-16s %-12s %-12s %-11s %-7s %s\n", "TARGET", "NE", "LI", "STATE", "VER", "WHY");
  json_array_foreach(json_object_get(r, "tasks"), i, t) {
    char ver[32];
    snprintf(ver, sizeof ver, "%lld/%lld", (long long)json_integer_value(json_object_get(t, "ne_version")),
             (long long)json_integer_value(json_object_get(t, "target_version")));
    const char *why = *cli_str(t, "error") ? cli_str(t, "error") : cli_str(t, "reason");
    printf("%-16s %-12s %-12s %-11s %-7s %.90s\n", cli_str(t, "target"), cli_str(t, "ne"),
           cli_str(t, "authorisation"), cli_str(t, "state"), ver, why);
  }
}

static void print_ne(const json_t *n) {
  printf("%-16s runs as %-12s %s (obeys ADMF %s, checked every %lld ms)\n", cli_str(n, "id"),
         cli_str(n, "vm"), cli_str(n, "url"), cli_str(n, "admf_id"),
         (long long)json_integer_value(json_object_get(n, "check_ms")));
}

static void print_nes(const json_t *r) {
  size_t i;
  const json_t *n;
  json_array_foreach(json_object_get(r, "nes"), i, n) print_ne(n);
}

static int call(const char *method, const char *path, json_t *body, void (*human)(const json_t *));

static void print_report(const char *label, const json_t *r) {
  const char *text = cli_str(r, "text");
  if (text[0]) printf("%-18s %s (%s)\n", label, text, cli_str(r, "at"));
}

static void print_ne_status(const json_t *s) {
  const json_t *t = json_object_get(s, "tasks");
  printf("%s: %s%s%s\n", cli_str(s, "ne"), cli_str(s, "state"), *cli_str(s, "since") ? " since " : "",
         cli_str(s, "since"));
  if (*cli_str(s, "why")) printf("%-18s %s\n", "why", cli_str(s, "why"));
  printf("%-18s %s\n", "last check", *cli_str(s, "last_check") ? cli_str(s, "last_check") : "-");
  printf("%-18s %s (timeout %lld s)\n", "last Keepalive",
         *cli_str(s, "last_keepalive") ? cli_str(s, "last_keepalive") : "none received",
         (long long)json_integer_value(json_object_get(s, "keepalive_timeout_s")));
  printf("%-18s %s (answers in %s)\n", "X1 version", cli_str(s, "x1_version"),
         *cli_str(s, "answered_version") ? cli_str(s, "answered_version") : "-");
  print_report("last error", json_object_get(s, "error"));
  print_report("last NE issue", json_object_get(s, "ne_issue"));
  print_report("destination issue", json_object_get(s, "destination_issue"));
  if (*cli_str(s, "stopped")) printf("%-18s %s\n", "stopped", cli_str(s, "stopped"));
  printf("%-18s %lld active, %lld pending, %lld failed, %lld deactivated\n", "tasks",
         (long long)json_integer_value(json_object_get(t, "active")),
         (long long)json_integer_value(json_object_get(t, "pending")),
         (long long)json_integer_value(json_object_get(t, "failed")),
         (long long)json_integer_value(json_object_get(t, "deactivated")));
  printf("%-18s %lld\n", "removed from it", (long long)json_integer_value(json_object_get(s, "destinations_removed")));
  long long refused = (long long)json_integer_value(json_object_get(s, "reports_refused"));
  printf("%-18s %lld", "reports refused", refused);
  if (refused) printf(" (past [x1] report_rate_per_ne; last %s)", cli_str(s, "last_report_refused"));
  printf("\n");
}

static void print_stopped(const json_t *r) {
  size_t i;
  const json_t *n;
  json_array_foreach(json_object_get(r, "nes"), i, n) {
    long long held = (long long)json_integer_value(json_object_get(n, "still_held"));
    printf("%-16s %s: %lld task(s) deactivated", cli_str(n, "ne"), cli_str(n, "answer"),
           (long long)json_integer_value(json_object_get(n, "deactivated")));
    if (held > 0) printf(", %lld still held by the NE (deactivated one by one)", held);
    else if (held < 0) printf(", not known which the NE still holds");
    printf("\n");
  }
}

static void print_resumed(const json_t *r) {
  size_t i;
  const json_t *n;
  json_array_foreach(json_object_get(r, "resumed"), i, n) printf("%s resumed\n", json_string_value(n));
}

/* deactivate-all / resume: [--ne ID] and, for deactivate-all, --reason TEXT */
static int stop_or_resume(int argc, char **argv, bool stop) {
  const char *ne = NULL, *reason = NULL;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--ne") == 0) ne = argv[i + 1];
    else if (stop && strcmp(argv[i], "--reason") == 0) reason = argv[i + 1];
    else return usage();
  }
  if (stop && !reason) return usage();
  json_t *body = json_object();
  if (ne) json_object_set_new(body, "ne", json_string(ne));
  if (reason) json_object_set_new(body, "reason", json_string(reason));
  int rc = call("POST", stop ? "/v1/x1/deactivate-all" : "/v1/x1/resume", body,
                stop ? print_stopped : print_resumed);
  json_decref(body);
  return rc;
}

static int call(const char *method, const char *path, json_t *body, void (*human)(const json_t *)) {
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  int rc = cli_http_request(method, path, body, &status, &reply, &err);
  if (rc) return cli_fail("task: %s", err.msg);
  if (status / 100 != 2) rc = cli_http_error(status, reply);
  else cli_print(reply, human);
  json_decref(reply);
  return rc;
}

int cli_cmd_task(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "list") == 0) return call("GET", "/v1/tasks", NULL, print_tasks);
  if (argc == 2 && strcmp(argv[1], "reconcile") == 0)
    return call("POST", "/v1/tasks/reconcile", NULL, print_tasks);
  if (argc == 2 && strcmp(argv[1], "ne-list") == 0) return call("GET", "/v1/x1/nes", NULL, print_nes);
  if (argc == 3 && strcmp(argv[1], "ne-put") == 0) {
    json_error_t je;
    json_t *body = json_load_file(argv[2], JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
      json_decref(body);
      return cli_fail("task: %s: not a JSON object (line %d: %s)", argv[2], je.line, je.text);
    }
    int rc = call("POST", "/v1/x1/nes", body, print_ne);
    json_decref(body);
    return rc;
  }
  if (argc >= 2 && strcmp(argv[1], "deactivate-all") == 0) return stop_or_resume(argc, argv, true);
  if (argc >= 2 && strcmp(argv[1], "resume") == 0) return stop_or_resume(argc, argv, false);
  if (argc == 3 && strcmp(argv[1], "ne-status") == 0) {
    char path[CLI_ID_PATH_MAX + 32], eid[CLI_ID_PATH_MAX];
    if (cli_path_id(argv[2], eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/x1/nes/%s", eid);
    return call("GET", path, NULL, print_ne_status);
  }
  if (argc == 3 && strcmp(argv[1], "ne-remove") == 0) {
    char path[CLI_ID_PATH_MAX + 32], eid[CLI_ID_PATH_MAX];
    if (cli_path_id(argv[2], eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/x1/nes/%s", eid);
    return call("DELETE", path, NULL, NULL);
  }
  return usage();
}
