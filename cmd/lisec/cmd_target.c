/* `lisec target ...`: the LI administration's target selectors in lisecd's
 * vault (role li-admin; every act is recorded, sealed). Identifiers are read
 * from a file or standard input ("kind=value" lines, or a JSON array of
 * {"kind","value"}), because a command line is visible to every local user;
 * --id KIND=VALUE exists for tests and demos. Buffers that held identifiers
 * are wiped before they are freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"

const char cli_help_target[] = "LI target selectors in lisecd's vault (li-admin)";

int cli_cmd_target(int argc, char **argv);

static const char target_usage_text[] =
    "usage: lisec target add ID --authorisation LI (--ids FILE|- | --id KIND=VALUE ...)\n"
    "       lisec target get ID            the identifiers in clear (recorded)\n"
    "       lisec target list              metadata only: id, authorisation, version, KEK\n"
    "       lisec target update ID --version N (--ids FILE|- | --id KIND=VALUE ...)\n"
    "       lisec target remove ID\n"
    "       lisec target rotate-kek NAME [--no-wait]\n"
    "                                      make the token key NAME (created when absent) the\n"
    "                                      KEK and re-wrap every data key to it; lisecd runs it\n"
    "                                      as a job: this waits for its end (polling) unless\n"
    "                                      --no-wait, which prints the job's id\n"
    "       lisec target rotation ID       a rotation job's state and progress\n"
    "  FILE: one KIND=VALUE per line (# comments), or a JSON array of {\"kind\",\"value\"};\n"
    "  KIND: e164 imsi imei supi gpsi ipv4 ipv6 ipv4-prefix ipv6-prefix mac email sip-uri\n"
    "        tel-uri port-range. --id puts the value on the command line, where other\n"
    "        local users can see it: prefer --ids.\n"
    "Exit 0: done; 1: refused (reason printed); 2: usage or I/O error.";

static int usage(void) { return cli_fail("%s", target_usage_text); }

#define IDS_FILE_MAX (256 * 1024)

static int add_pair(json_t *ids, const char *line, size_t len) {
  const char *eq = memchr(line, '=', len);
  if (!eq || eq == line || eq + 1 == line + len) return -1;
  json_t *o = json_object();
  json_object_set_new(o, "kind", json_stringn(line, (size_t)(eq - line)));
  json_object_set_new(o, "value", json_stringn(eq + 1, len - (size_t)(eq - line) - 1));
  return json_array_append_new(ids, o);
}

/* Identifiers from a file or stdin ("-"): a JSON array, or KIND=VALUE lines. */
static int read_ids(const char *path, json_t *ids) {
  lisec_buf b;
  lisec_buf_init(&b, IDS_FILE_MAX);
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!f) return cli_fail("target: cannot open %s", path);
  char chunk[4096];
  size_t n;
  int rc = 0;
  while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (lisec_buf_append(&b, chunk, n) != 0) rc = cli_fail("target: %s is larger than %d bytes", path, IDS_FILE_MAX);
  crypto_wipe(chunk, sizeof chunk);
  if (f != stdin) fclose(f);
  const char *p = (const char *)b.data, *end = p ? p + b.len : NULL;
  while (!rc && p && p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) p++;
  if (!rc && p && p < end && *p == '[') {
    json_error_t je;
    json_t *arr = json_loadb(p, (size_t)(end - p), 0, &je);
    if (!json_is_array(arr)) rc = cli_fail("target: %s: not a JSON array (line %d)", path, je.line);
    else json_array_extend(ids, arr);
    json_decref(arr);
  } else {
    while (!rc && p && p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
      while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
      if (len && p[0] != '#' && add_pair(ids, p, len) != 0)
        rc = cli_fail("target: %s: a line is not KIND=VALUE", path);
      p = nl ? nl + 1 : end;
    }
  }
  if (b.data) crypto_wipe(b.data, b.len);
  lisec_buf_free(&b);
  return rc;
}

static void print_meta(const json_t *t) {
  printf("%-24s %-16s v%-4lld %s\n", cli_str(t, "id"), cli_str(t, "authorisation"),
         (long long)json_integer_value(json_object_get(t, "version")), cli_str(t, "kek"));
}

static void print_one(const json_t *t) {
  print_meta(t);
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(t, "identifiers"), i, v)
      printf("  %-12s %s\n", cli_str(v, "kind"), cli_str(v, "value"));
}

static void print_rotation(const json_t *r) {
  printf("KEK %s (was %s): %lld of %lld targets re-wrapped\n", cli_str(r, "kek"), cli_str(r, "previous"),
         (long long)json_integer_value(json_object_get(r, "rewrapped")),
         (long long)json_integer_value(json_object_get(r, "targets")));
}

static void print_job(const json_t *r) {
  printf("KEK rotation %s: %s, %lld of %lld targets re-wrapped (to %s, from %s)\n", cli_str(r, "id"),
         cli_str(r, "state"), (long long)json_integer_value(json_object_get(r, "rewrapped")),
         (long long)json_integer_value(json_object_get(r, "targets")), cli_str(r, "kek"), cli_str(r, "previous"));
  if (json_object_get(r, "error")) printf("  %s\n", cli_str(r, "error"));
}

/* POST /v1/vault/rotate-kek answers 202 with the job; unless no_wait, its
 * state is asked every 20 ms to 1 s until it is no longer running (at most a
 * day: a rotation of millions of targets with a network HSM is hours). */
#define ROTATION_WAIT_MAX_S (24 * 3600)
static int rotate(const char *name, bool no_wait) {
  json_t *body = json_pack("{s:s}", "key_label", name), *reply = NULL;
  long status = 0;
  lisec_err err = {0};
  int rc = cli_http_request("POST", "/v1/vault/rotate-kek", body, &status, &reply, &err);
  json_decref(body);
  if (rc) return cli_fail("target: %s", err.msg);
  if (status / 100 != 2) {
    rc = cli_http_error(status, reply);
    json_decref(reply);
    return rc;
  }
  char path[128];
  snprintf(path, sizeof path, "/v1/vault/rotate-kek/%s", cli_str(reply, "id"));
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long pause_ms = 20; /* a small vault is done in milliseconds */
  while (!no_wait && strcmp(cli_str(reply, "state"), "running") == 0) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > ROTATION_WAIT_MAX_S) {
      json_decref(reply);
      return cli_fail("target: rotation still running after %d s; ask `lisec target rotation %s`",
                      ROTATION_WAIT_MAX_S, path + strlen("/v1/vault/rotate-kek/"));
    }
    struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (pause_ms < 1000) pause_ms = pause_ms * 2 > 1000 ? 1000 : pause_ms * 2;
    json_decref(reply);
    reply = NULL;
    if ((rc = cli_http_request("GET", path, NULL, &status, &reply, &err))) return cli_fail("target: %s", err.msg);
    if (status / 100 != 2) {
      rc = cli_http_error(status, reply);
      json_decref(reply);
      return rc;
    }
  }
  const char *state = cli_str(reply, "state");
  if (no_wait || strcmp(state, "done") == 0) {
    cli_print(reply, strcmp(state, "done") == 0 ? print_rotation : print_job);
  } else {
    cli_print(reply, print_job);
    rc = CLI_ERROR;
  }
  json_decref(reply);
  return rc;
}

static void print_list(const json_t *r) {
  size_t i;
  const json_t *t;
  json_array_foreach(json_object_get(r, "targets"), i, t) print_meta(t);
}

static int call(const char *method, const char *path, json_t *body, void (*human)(const json_t *)) {
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  int rc = cli_http_request(method, path, body, &status, &reply, &err);
  if (rc) return cli_fail("target: %s", err.msg);
  if (status / 100 != 2) rc = cli_http_error(status, reply);
  else cli_print(reply, human);
  json_decref(reply);
  return rc;
}

/* The options of add and update; ids gets the identifiers. */
static int parse_opts(int argc, char **argv, int from, json_t *ids, const char **auth, int64_t *version) {
  for (int i = from; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--authorisation") == 0 && auth) *auth = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--version") == 0 && version) {
      char *end = NULL;
      long long v = strtoll(argv[++i], &end, 10);
      if (!end || *end || v < 1) return usage();
      *version = v;
    } else if (i + 1 < argc && strcmp(argv[i], "--ids") == 0) {
      if (read_ids(argv[++i], ids) != 0) return CLI_ERROR;
    } else if (i + 1 < argc && strcmp(argv[i], "--id") == 0) {
      if (add_pair(ids, argv[i + 1], strlen(argv[i + 1])) != 0) return usage();
      i++;
    } else {
      return usage();
    }
  }
  return json_array_size(ids) ? CLI_OK : usage();
}

int cli_cmd_target(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *sub = argv[1];
  char path[CLI_ID_PATH_MAX + 32], eid[CLI_ID_PATH_MAX];
  if (strcmp(sub, "list") == 0 && argc == 2) return call("GET", "/v1/targets", NULL, print_list);
  if (argc < 3) return usage();
  if (strcmp(sub, "rotate-kek") == 0 && (argc == 3 || (argc == 4 && strcmp(argv[3], "--no-wait") == 0)))
    return rotate(argv[2], argc == 4);
  if (strcmp(sub, "rotation") == 0 && argc == 3) {
    if (cli_path_id(argv[2], eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/vault/rotate-kek/%s", eid);
    return call("GET", path, NULL, print_job);
  }
  if (cli_path_id(argv[2], eid, sizeof eid)) return CLI_ERROR;
  snprintf(path, sizeof path, "/v1/targets/%s", eid);
  if (strcmp(sub, "get") == 0 && argc == 3) return call("GET", path, NULL, print_one);
  if (strcmp(sub, "remove") == 0 && argc == 3) return call("DELETE", path, NULL, NULL);
  json_t *ids = json_array();
  const char *auth = NULL;
  int64_t version = 0;
  int rc;
  if (strcmp(sub, "add") == 0) {
    rc = parse_opts(argc, argv, 3, ids, &auth, NULL);
    if (!rc && !auth) rc = usage();
    if (!rc) {
      json_t *body = json_pack("{s:s, s:s, s:O}", "id", argv[2], "authorisation", auth, "identifiers", ids);
      rc = call("POST", "/v1/targets", body, print_meta);
      json_decref(body);
    }
  } else if (strcmp(sub, "update") == 0) {
    rc = parse_opts(argc, argv, 3, ids, NULL, &version);
    if (!rc && !version) rc = usage();
    if (!rc) {
      json_t *body = json_pack("{s:I, s:O}", "version", (json_int_t)version, "identifiers", ids);
      rc = call("PUT", path, body, print_meta);
      json_decref(body);
    }
  } else {
    rc = usage();
  }
  json_decref(ids);
  return rc;
}
