/* `lisec model ...`: the TR 103 308 §6.2 trust model. Offline, with no
 * lisecd: `check` evaluates a topology file and prints every violation, or
 * with --move answers one migration question; `rules` lists the
 * requirement ids. Online, against lisecd's shared model: `put`, `get`,
 * `list` and `delete` an entity (a hypervisor put on another host is a
 * move, judged like a placement of its VMs there), `import` and `export`
 * a whole topology (model_bulk.c), `decide migration` and `decide
 * placement`, `compliance`. Exit 0
 * compliant / allowed / done, 1 violations / denied / refused, 2 bad input
 * (the message names the field) or no answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "model/model.h"
#include "model_bulk.h"

const char cli_help_model[] =
    "the TR 103 308 6.2 trust model: check a topology offline; change and ask lisecd's model";

int cli_cmd_model(int argc, char **argv);

static int model_usage(void) {
  return cli_fail(
      "usage: lisec model check TOPOLOGY.json [--move VM HOST|HYPERVISOR] [--at TIME]\n"
      "       lisec model rules\n"
      "       lisec model put KIND FILE|-          (lisecd: create or replace an entity)\n"
      "       lisec model get KIND ID | list KIND | delete KIND ID\n"
      "       lisec model import FILE|- [--kinds LIST]   (every entity of a topology, in order)\n"
      "       lisec model export [--kinds LIST]          (lisecd's model as a topology, on stdout)\n"
      "       lisec model decide migration VM HYPERVISOR|HOST\n"
      "       lisec model decide placement VM HYPERVISOR|HOST --sensitivity CLASS --domain DOMAIN\n"
      "       lisec model decide placement --file VM.json|-   (the new VM in the topology format)\n"
      "       lisec model compliance\n"
      "KIND: jurisdiction lea host hypervisor vm storage connection group li; FILE holds one\n"
      "entity in the topology format (docs/model.md); a hypervisor put with another \"host\"\n"
      "moves it with its VMs, judged like a placement of them there (refused: exit 1).\n"
      "LIST: kinds separated by commas (default all; LI authorisations need li-admin).\n"
      "check prints every violation of the topology (exit 0 none, 1 some), or with --move\n"
      "whether VM may move there (exit 0 allowed, 1 denied). --at judges LI validity at\n"
      "TIME (RFC 3339, e.g. 2026-01-01T00:00:00Z) instead of the file's \"time\" or now.\n"
      "Exit 2: bad input. --json prints the result as JSON.");
}

static void print_reasons(const json_t *list) {
  size_t i;
  json_t *r;
  json_array_foreach(list, i, r) {
    printf("  %s  %s\n", cli_str(r, "requirement"), cli_str(r, "subject"));
    printf("      %s\n", cli_str(r, "sentence"));
    if (json_object_get(r, "fact")) printf("      fact: %s\n", cli_str(r, "fact"));
  }
}

static void print_check(const json_t *v) {
  const json_t *t = json_object_get(v, "topology");
  printf("topology %s: %lld hosts, %lld hypervisors, %lld VMs, %lld storage, %lld connections, "
         "%lld groups, %lld LIs (%lld active at %s)\n",
         cli_str(v, "file"), json_integer_value(json_object_get(t, "hosts")),
         json_integer_value(json_object_get(t, "hypervisors")),
         json_integer_value(json_object_get(t, "vms")),
         json_integer_value(json_object_get(t, "storage")),
         json_integer_value(json_object_get(t, "connections")),
         json_integer_value(json_object_get(t, "groups")),
         json_integer_value(json_object_get(t, "lis")),
         json_integer_value(json_object_get(t, "lis_active")), cli_str(v, "time"));
  const json_t *d = json_object_get(v, "decision");
  if (d) {
    printf("move %s to hypervisor %s: %s\n", cli_str(d, "vm"), cli_str(d, "hypervisor"),
           json_is_true(json_object_get(d, "allow")) ? "allowed" : "DENIED");
    print_reasons(json_object_get(d, "violations"));
    return;
  }
  const json_t *c = json_object_get(v, "compliance");
  size_t n = json_array_size(json_object_get(c, "violations"));
  if (!n) printf("compliant: no violations\n");
  else printf("%zu violation%s:\n", n, n == 1 ? "" : "s");
  print_reasons(json_object_get(c, "violations"));
}

static json_t *stats_json(const model *m) {
  model_stats s;
  model_get_stats(m, &s);
  return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "hosts",
                   (json_int_t)s.hosts, "hypervisors", (json_int_t)s.hypervisors, "vms",
                   (json_int_t)s.vms, "storage", (json_int_t)s.storage, "attachments",
                   (json_int_t)s.attachments, "connections", (json_int_t)s.connections, "groups",
                   (json_int_t)s.groups, "jurisdictions", (json_int_t)s.jurisdictions, "leas",
                   (json_int_t)s.leas, "lis", (json_int_t)s.lis, "lis_active",
                   (json_int_t)s.lis_active, "domains", (json_int_t)s.domains);
}

static int model_check(int argc, char **argv) {
  const char *file = NULL, *move_vm = NULL, *move_to = NULL, *at = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--move") == 0) {
      if (i + 2 >= argc) return model_usage();
      move_vm = argv[++i];
      move_to = argv[++i];
    } else if (strcmp(argv[i], "--at") == 0) {
      if (i + 1 >= argc) return model_usage();
      at = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      model_usage();
      return CLI_OK;
    } else if (argv[i][0] == '-' || file) {
      return model_usage();
    } else {
      file = argv[i];
    }
  }
  if (!file) return model_usage();
  int64_t now = lisec_time_now();
  if (at && lisec_time_parse(at, &now))
    return cli_fail("model: --at: not an RFC 3339 UTC time like 2026-01-01T00:00:00Z");
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err err = {0};
  if (lisec_file_read(file, MODEL_TOPOLOGY_MAX, &buf, &len, &err))
    return cli_fail("model: %s", err.msg);
  model *m = NULL;
  int rc = model_topology_load((const char *)buf, len, now, &m, &err);
  free(buf);
  if (rc) return cli_fail("model: %s: %s", file, err.msg);
  if (at) model_set_time(m, now, NULL);
  char when[32];
  lisec_time_format(model_time(m), when);
  json_t *out = json_pack("{s:s,s:s,s:o*}", "file", file, "time", when, "topology", stats_json(m));
  int exit_code = CLI_ERROR;
  model_verdict v = {0};
  if (!out) goto done;
  if (move_vm) {
    const char *hyp;
    if (model_resolve_target(m, move_to, &hyp, &err) ||
        model_decide_move(m, move_vm, hyp, &v, &err)) {
      exit_code = cli_fail("model: --move: %s", err.msg);
      goto done;
    }
    json_t *d = model_verdict_json(&v);
    if (!d || json_object_set_new(d, "vm", json_string(move_vm)) ||
        json_object_set_new(d, "hypervisor", json_string(hyp)) ||
        json_object_set_new(out, "decision", d)) {
      exit_code = cli_fail("model: out of memory");
      goto done;
    }
  } else {
    if (model_compliance(m, &v)) {
      exit_code = cli_fail("model: evaluating: out of memory");
      goto done;
    }
    json_t *c = model_verdict_json(&v);
    if (!c || json_object_set_new(out, "compliance", c)) {
      exit_code = cli_fail("model: out of memory");
      goto done;
    }
  }
  cli_print(out, print_check);
  exit_code = v.allow ? CLI_OK : CLI_REFUSED;
done:
  model_verdict_free(&v);
  json_decref(out);
  model_free(m);
  return exit_code;
}

static void print_rules(const json_t *v) {
  size_t i;
  json_t *r;
  json_array_foreach(v, i, r) {
    printf("%-20s %s\n%-20s   (%s)\n", cli_str(r, "requirement"), cli_str(r, "title"), "",
           cli_str(r, "clauses"));
  }
}

static int model_rules(void) {
  json_t *arr = json_array();
  for (int i = 0; arr && i < MODEL_RULE_COUNT; i++)
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "requirement",
                                         model_rule_id((model_rule)i), "clauses",
                                         model_rule_clauses((model_rule)i), "title",
                                         model_rule_title((model_rule)i)));
  if (!arr) return cli_fail("model: out of memory");
  cli_print(arr, print_rules);
  json_decref(arr);
  return CLI_OK;
}


/* ---- online: lisecd's shared model ------------------------------------------ */

/* Ids are named in URL paths: refuse what a path would misread. */
static bool path_safe(const char *s) {
  if (!*s || strlen(s) > MODEL_ID_MAX) return false;
  for (const char *p = s; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || strchr("/?#%\"\\", *p)) return false;
  return true;
}

static int model_request(const char *method, const char *path, const json_t *body,
                         json_t **reply, long *status) {
  lisec_err err = {0};
  *reply = NULL;
  if (cli_http_request(method, path, body, status, reply, &err)) return cli_fail("model: %s", err.msg);
  if (*status >= 300) {
    int rc = cli_http_error(*status, *reply);
    json_decref(*reply);
    *reply = NULL;
    return rc;
  }
  return CLI_OK;
}

static int model_put(const char *kind, const char *file) {
  if (!path_safe(kind)) return model_usage();
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err err = {0};
  int rc;
  if (strcmp(file, "-") == 0) {
    /* Standard input, bounded like a file. */
    const size_t cap = 16u << 20;
    size_t n;
    if (!(buf = malloc(cap + 1))) return cli_fail("model: out of memory");
    while (len <= cap && (n = fread(buf + len, 1, cap + 1 - len, stdin)) > 0) len += n;
    if (len > cap) {
      free(buf);
      return cli_fail("model: standard input: larger than %zu bytes", cap);
    }
  } else if (lisec_file_read(file, 16u << 20, &buf, &len, &err)) {
    return cli_fail("model: %s", err.msg);
  }
  json_t *body = NULL;
  rc = lisec_json_parse((const char *)buf, len, &body, &err);
  free(buf);
  if (rc) return cli_fail("model: %s: %s", file, err.msg);
  const char *id = json_string_value(json_object_get(body, "id"));
  char eid[CLI_ID_PATH_MAX], path[CLI_ID_PATH_MAX + 128];
  if (!json_is_object(body) || !id) {
    json_decref(body);
    return cli_fail("model: %s: one entity, a JSON object with an \"id\"", file);
  }
  if (cli_path_id(id, eid, sizeof eid)) {
    json_decref(body);
    return CLI_ERROR;
  }
  snprintf(path, sizeof path, "/v1/model/%s/%s", kind, eid);
  json_t *reply;
  long status;
  rc = model_request("PUT", path, body, &reply, &status);
  if (rc == CLI_OK) {
    if (cli.json) cli_print_json(reply);
    else if (json_object_get(reply, "move"))
      printf("moved hypervisor %s from host %s to host %s with its %lld VM(s) (audit index %lld)\n",
             id, cli_str(json_object_get(reply, "move"), "from"), cli_str(json_object_get(reply, "move"), "to"),
             json_integer_value(json_object_get(json_object_get(reply, "move"), "vms")),
             json_integer_value(json_object_get(json_object_get(reply, "move"), "audit_index")));
    else printf("%s %s %s\n", status == 201 ? "created" : "replaced", kind, id);
  }
  json_decref(body); /* id borrows from it */
  json_decref(reply);
  return rc;
}

static int model_simple(const char *method, const char *kind, const char *id) {
  if (!path_safe(kind)) return cli_fail("model: KIND: 1-128 printable characters without '/', '?', '#' or '%%'");
  char eid[CLI_ID_PATH_MAX], path[CLI_ID_PATH_MAX + 128];
  if (id && cli_path_id(id, eid, sizeof eid)) return CLI_ERROR;
  if (id) snprintf(path, sizeof path, "/v1/model/%s/%s", kind, eid);
  else snprintf(path, sizeof path, "/v1/model/%s", kind);
  json_t *reply;
  long status;
  int rc = model_request(method, path, NULL, &reply, &status);
  if (rc == CLI_OK) {
    const char *state = cli_str(reply, "state");
    /* a VM's delete is its termination, which may wait for its host (issue 21) */
    if (strcmp(method, "DELETE") == 0 && !cli.json && strcmp(state, "terminating") == 0)
      printf("terminating vm %s: %s\n", id, cli_str(reply, "awaiting"));
    else if (strcmp(method, "DELETE") == 0 && !cli.json && strcmp(state, "terminated") == 0)
      printf("terminated vm %s\n", id);
    else if (strcmp(method, "DELETE") == 0 && !cli.json) printf("deleted %s %s\n", kind, id);
    else cli_print_json(reply);
  }
  json_decref(reply);
  return rc;
}

static void print_decision(const json_t *d) {
  const json_t *a = json_object_get(d, "attestation");
  printf("move %s to hypervisor %s (host %s): %s\n", cli_str(d, "vm"), cli_str(d, "hypervisor"),
         cli_str(d, "host"), json_is_true(json_object_get(d, "allow")) ? "allowed" : "DENIED");
  print_reasons(json_object_get(d, "violations"));
  printf("attestation: %s\n", cli_str(a, "note"));
  printf("audit index: %lld\n", json_integer_value(json_object_get(d, "audit_index")));
}

static void print_placement(const json_t *d) {
  const json_t *a = json_object_get(d, "attestation");
  printf("place %s on hypervisor %s (host %s): %s\n", cli_str(d, "vm"), cli_str(d, "hypervisor"),
         cli_str(d, "host"), json_is_true(json_object_get(d, "allow")) ? "allowed" : "DENIED");
  print_reasons(json_object_get(d, "violations"));
  printf("attestation: %s\n", cli_str(a, "note"));
  printf("audit index: %lld\n", json_integer_value(json_object_get(d, "audit_index")));
}

/* The body of a placement question: the VM from a file (the topology
 * format), or from the command line. */
static int placement_body(int argc, char **argv, json_t **body) {
  const char *file = NULL, *sens = NULL, *domain = NULL, *pos[2] = {NULL, NULL};
  int npos = 0;
  *body = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) file = argv[++i];
    else if (strcmp(argv[i], "--sensitivity") == 0 && i + 1 < argc) sens = argv[++i];
    else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc) domain = argv[++i];
    else if (argv[i][0] == '-' || npos == 2) return model_usage();
    else pos[npos++] = argv[i];
  }
  if (file) {
    if (npos || sens || domain) return model_usage();
    uint8_t *buf = NULL;
    size_t len = 0;
    lisec_err err = {0};
    if (strcmp(file, "-") == 0) {
      const size_t cap = 1u << 20;
      size_t n;
      if (!(buf = malloc(cap + 1))) return cli_fail("model: out of memory");
      while (len <= cap && (n = fread(buf + len, 1, cap + 1 - len, stdin)) > 0) len += n;
      if (len > cap) {
        free(buf);
        return cli_fail("model: standard input: larger than %zu bytes", cap);
      }
    } else if (lisec_file_read(file, 1u << 20, &buf, &len, &err)) {
      return cli_fail("model: %s", err.msg);
    }
    int rc = lisec_json_parse((const char *)buf, len, body, &err);
    free(buf);
    if (rc) return cli_fail("model: %s: %s", file, err.msg);
    if (!json_is_object(*body)) {
      json_decref(*body);
      *body = NULL;
      return cli_fail("model: %s: the VM to place, a JSON object (docs/model.md)", file);
    }
    return CLI_OK;
  }
  if (npos != 2) return model_usage();
  if (!sens || !domain)
    return cli_fail("model decide placement: --sensitivity (general, sensitive or li) and --domain "
                    "are needed: a placement is judged by the VM's class and security domain");
  /* "hypervisor" takes a host that runs one hypervisor too (as migration) */
  *body = json_pack("{s:s, s:s, s:s, s:s}", "id", pos[0], "hypervisor", pos[1], "sensitivity", sens,
                    "domain", domain);
  return *body ? CLI_OK : cli_fail("model: out of memory");
}

static int model_decide(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "placement") == 0) {
    json_t *body = NULL, *reply = NULL;
    long status;
    int rc = placement_body(argc, argv, &body);
    if (rc) return rc;
    rc = model_request("POST", "/v1/decisions/placement", body, &reply, &status);
    json_decref(body);
    if (rc == CLI_OK) {
      cli_print(reply, print_placement);
      rc = json_is_true(json_object_get(reply, "allow")) ? CLI_OK : CLI_REFUSED;
    }
    json_decref(reply);
    return rc;
  }
  if (argc != 4 || strcmp(argv[1], "migration") != 0) return model_usage();
  json_t *body = json_pack("{s:s, s:s}", "vm", argv[2], "hypervisor", argv[3]);
  json_t *reply;
  long status;
  int rc = model_request("POST", "/v1/decisions/migration", body, &reply, &status);
  json_decref(body);
  if (rc == CLI_OK) {
    cli_print(reply, print_decision);
    rc = json_is_true(json_object_get(reply, "allow")) ? CLI_OK : CLI_REFUSED;
  }
  json_decref(reply);
  return rc;
}

static void print_compliance(const json_t *c) {
  size_t n = json_array_size(json_object_get(c, "violations"));
  if (!n) printf("compliant at %s: no violations\n", cli_str(c, "time"));
  else printf("%zu violation%s at %s:\n", n, n == 1 ? "" : "s", cli_str(c, "time"));
  print_reasons(json_object_get(c, "violations"));
  /* every role but li-admin: the LI rows are left out (docs/model.md) */
  if (json_is_true(json_object_get(c, "redacted")))
    printf("(violations of the LI rules are shown to the LI administration only)\n");
}

static int model_compliance_online(void) {
  json_t *reply;
  long status;
  int rc = model_request("GET", "/v1/compliance", NULL, &reply, &status);
  if (rc == CLI_OK) {
    cli_print(reply, print_compliance);
    rc = json_is_true(json_object_get(reply, "compliant")) ? CLI_OK : CLI_REFUSED;
  }
  json_decref(reply);
  return rc;
}

int cli_cmd_model(int argc, char **argv) {
  if (argc < 2) return model_usage();
  if (strcmp(argv[1], "check") == 0) return model_check(argc - 1, argv + 1);
  if (strcmp(argv[1], "rules") == 0 && argc == 2) return model_rules();
  if (strcmp(argv[1], "put") == 0 && argc == 4) return model_put(argv[2], argv[3]);
  if (strcmp(argv[1], "get") == 0 && argc == 4) return model_simple("GET", argv[2], argv[3]);
  if (strcmp(argv[1], "list") == 0 && argc == 3) return model_simple("GET", argv[2], NULL);
  if (strcmp(argv[1], "delete") == 0 && argc == 4) return model_simple("DELETE", argv[2], argv[3]);
  if (strcmp(argv[1], "decide") == 0) return model_decide(argc - 1, argv + 1);
  if (strcmp(argv[1], "import") == 0) return cli_model_import(argc - 1, argv + 1);
  if (strcmp(argv[1], "export") == 0) return cli_model_export(argc - 1, argv + 1);
  if (strcmp(argv[1], "compliance") == 0 && argc == 2) return model_compliance_online();
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    model_usage();
    return CLI_OK;
  }
  return model_usage();
}
