/* `lisec model import` and `lisec model export`: a whole topology file
 * (docs/topology.schema.json) into and out of lisecd's shared model. Import
 * is one PUT per entity, kinds in the order the model loads them (what an
 * entity names is there before it), so lisecd checks and records each
 * entity exactly as it does a single `lisec model put`: one audit record
 * each, and a host's declared trust or a VM's declared pairing refused
 * unless lisecd runs in development mode. The first refusal stops the
 * import and says what is stored so far (PUT again replaces, so the same
 * command may be run again once the file is fixed). Export lists every
 * kind the role may read and writes them as a topology file, without what
 * lisecd adds to a view (a host's "state", a VM's "observed" and
 * "migrating_to", every entity's stored "version"), so export | import on
 * an empty lisecd gives the same model. LI authorisations are the LI administration's: an operator's
 * export leaves them out and says so; `--kinds li` as li-admin adds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/model.h"
#include "model_bulk.h"

/* The file's arrays and lisecd's kinds, in the model's load order. */
static const struct {
  const char *array, *kind;
} kinds[] = {{"jurisdictions", "jurisdiction"}, {"leas", "lea"},       {"hosts", "host"},
             {"hypervisors", "hypervisor"},     {"vms", "vm"},          {"storage", "storage"},
             {"connections", "connection"},     {"groups", "group"},    {"lis", "li"}};
#define N_KINDS (sizeof kinds / sizeof *kinds)

/* --kinds a,b,c: which kinds (by kind or array name); all when NULL. */
static int parse_kinds(const char *list, bool want[N_KINDS]) {
  for (size_t k = 0; k < N_KINDS; k++) want[k] = list == NULL;
  if (!list) return CLI_OK;
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ",");
    size_t k = 0;
    while (k < N_KINDS && !((strlen(kinds[k].kind) == n && strncmp(p, kinds[k].kind, n) == 0) ||
                            (strlen(kinds[k].array) == n && strncmp(p, kinds[k].array, n) == 0)))
      k++;
    if (k == N_KINDS)
      return cli_fail("model: --kinds: \"%.*s\" is not one of jurisdiction lea host hypervisor vm "
                      "storage connection group li",
                      (int)(n > 64 ? 64 : n), p);
    want[k] = true;
    p += n;
    if (*p == ',') p++;
  }
  return CLI_OK;
}

/* FILE or "-" (standard input), bounded like a topology file. */
static int read_input(const char *file, uint8_t **buf, size_t *len) {
  lisec_err err = {0};
  *buf = NULL;
  *len = 0;
  if (strcmp(file, "-") != 0) {
    if (lisec_file_read(file, MODEL_TOPOLOGY_MAX, buf, len, &err)) return cli_fail("model: %s", err.msg);
    return CLI_OK;
  }
  const size_t cap = MODEL_TOPOLOGY_MAX;
  size_t n;
  if (!(*buf = malloc(cap + 1))) return cli_fail("model: out of memory");
  while (*len <= cap && (n = fread(*buf + *len, 1, cap + 1 - *len, stdin)) > 0) *len += n;
  if (*len > cap) {
    free(*buf);
    *buf = NULL;
    return cli_fail("model: standard input: larger than %u bytes (a topology's bound)", MODEL_TOPOLOGY_MAX);
  }
  return CLI_OK;
}

/* The file's shape: an object, a known format, only known keys, each kind
 * an array of objects with a string id. */
static int check_shape(const char *file, const json_t *t) {
  if (!json_is_object(t)) return cli_fail("model: %s: a topology is a JSON object (docs/topology.schema.json)", file);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)t, key, v) {
    if (strcmp(key, "format") == 0) {
      if (!json_is_string(v) || strcmp(json_string_value(v), "lisec-topology/1") != 0)
        return cli_fail("model: %s: format: must be \"lisec-topology/1\"", file);
      continue;
    }
    if (strcmp(key, "description") == 0 || strcmp(key, "time") == 0) continue;
    size_t k = 0;
    while (k < N_KINDS && strcmp(key, kinds[k].array) != 0) k++;
    if (k == N_KINDS) return cli_fail("model: %s: %.64s: not a key of a topology (docs/topology.schema.json)", file, key);
    if (!json_is_array(v)) return cli_fail("model: %s: %s: must be an array", file, key);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
      if (!json_is_object(e) || !json_is_string(json_object_get(e, "id")))
        return cli_fail("model: %s: %s[%zu]: an entity is an object with a string \"id\"", file, key, i);
    }
  }
  return CLI_OK;
}

static void print_import(const json_t *r) {
  printf("imported %lld of %lld entities (%lld created, %lld replaced)\n",
         json_integer_value(json_object_get(r, "imported")), json_integer_value(json_object_get(r, "total")),
         json_integer_value(json_object_get(r, "created")), json_integer_value(json_object_get(r, "replaced")));
}

int cli_model_import(int argc, char **argv) {
  const char *file = NULL, *kinds_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--kinds") == 0 && i + 1 < argc) kinds_arg = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1] != '\0') return cli_fail("model import: unknown option %s (usage: lisec model import FILE|- [--kinds LIST])", argv[i]);
    else if (file) return cli_fail("model import: one FILE (usage: lisec model import FILE|- [--kinds LIST])");
    else file = argv[i];
  }
  if (!file) return cli_fail("model import: usage: lisec model import FILE|- [--kinds LIST]");
  bool want[N_KINDS];
  if (parse_kinds(kinds_arg, want)) return CLI_ERROR;
  uint8_t *buf;
  size_t len;
  if (read_input(file, &buf, &len)) return CLI_ERROR;
  lisec_err err = {0};
  json_t *t = NULL;
  int rc = lisec_json_parse((const char *)buf, len, &t, &err);
  if (rc) {
    free(buf);
    return cli_fail("model import: %s: %s", file, err.msg);
  }
  if ((rc = check_shape(file, t))) goto out;
  /* The whole file is checked as one topology first (every reference
   * resolves, every field well-formed), so a bad file stores nothing. A
   * part (--kinds) names entities lisecd holds, so lisecd checks it. */
  if (!kinds_arg) {
    model *m = NULL;
    if (model_topology_load((const char *)buf, len, lisec_time_now(), &m, &err)) {
      rc = cli_fail("model import: %s: %s (nothing was sent to lisecd)", file, err.msg);
      goto out;
    }
    model_free(m);
  }
  size_t total = 0, done = 0, created = 0;
  for (size_t k = 0; k < N_KINDS; k++)
    if (want[k]) total += json_array_size(json_object_get(t, kinds[k].array));
  for (size_t k = 0; k < N_KINDS && !rc; k++) {
    if (!want[k]) continue;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(t, kinds[k].array), i, e) {
      const char *id = json_string_value(json_object_get(e, "id"));
      char eid[CLI_ID_PATH_MAX], path[CLI_ID_PATH_MAX + 64];
      if (cli_path_id(id, eid, sizeof eid)) {
        rc = CLI_ERROR;
        break;
      }
      snprintf(path, sizeof path, "/v1/model/%s/%s", kinds[k].kind, eid);
      long status = 0;
      json_t *reply = NULL;
      if (cli_http_request("PUT", path, e, &status, &reply, &err)) {
        rc = cli_fail("model import: %s %s: %s (%zu of %zu entities stored before it stay stored)",
                      kinds[k].kind, id, err.msg, done, total);
        break;
      }
      if (status / 100 != 2) {
        if (!cli.json)
          fprintf(stderr, "lisec: model import: %s[%zu] (%s %s) refused; %zu of %zu entities stored "
                          "before it stay stored, the rest was not sent (fix the file and run the "
                          "import again: PUT replaces)\n",
                  kinds[k].array, i, kinds[k].kind, id, done, total);
        rc = cli_http_error(status, reply);
        json_decref(reply);
        break;
      }
      json_decref(reply);
      done++;
      if (status == 201) created++;
    }
  }
  if (!rc) {
    json_t *r = json_pack("{s:s, s:I, s:I, s:I, s:I}", "file", file, "imported", (json_int_t)done,
                          "total", (json_int_t)total, "created", (json_int_t)created, "replaced",
                          (json_int_t)(done - created));
    if (r) cli_print(r, print_import);
    json_decref(r);
  }
out:
  json_decref(t);
  free(buf);
  return rc;
}

int cli_model_export(int argc, char **argv) {
  const char *kinds_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--kinds") == 0 && i + 1 < argc) kinds_arg = argv[++i];
    else return cli_fail("model export: usage: lisec model export [--kinds LIST] (the topology on stdout)");
  }
  bool want[N_KINDS];
  if (parse_kinds(kinds_arg, want)) return CLI_ERROR;
  json_t *t = json_pack("{s:s, s:s}", "format", "lisec-topology/1", "description", "");
  if (!t) return cli_fail("model export: out of memory");
  char desc[512];
  snprintf(desc, sizeof desc, "exported from lisecd at %s", cli.server);
  json_object_set_new(t, "description", json_string(desc));
  int rc = CLI_OK;
  for (size_t k = 0; k < N_KINDS && !rc; k++) {
    if (!want[k]) continue;
    char path[64], key[32];
    snprintf(path, sizeof path, "/v1/model/%s", kinds[k].kind);
    snprintf(key, sizeof key, "%ss", kinds[k].kind);
    long status = 0;
    json_t *reply = NULL;
    lisec_err err = {0};
    if (cli_http_request("GET", path, NULL, &status, &reply, &err)) {
      rc = cli_fail("model export: %s: %s", kinds[k].kind, err.msg);
      break;
    }
    /* Without --kinds, a kind this role may not read is left out, and
     * said; asked for by name, its refusal is the answer. */
    if (status == 403 && !kinds_arg) {
      fprintf(stderr, "lisec: model export: %s left out: this role may not read them (%s)\n",
              kinds[k].array, k == N_KINDS - 1 ? "the LI administration exports them: --kinds li"
                                               : "operator or hypervisor-admin exports them");
      json_decref(reply);
      continue;
    }
    if (status / 100 != 2) {
      rc = cli_http_error(status, reply);
      json_decref(reply);
      break;
    }
    json_t *arr = json_object_get(reply, key);
    if (!json_is_array(arr)) {
      json_decref(reply);
      rc = cli_fail("model export: %s: lisecd's list has no \"%s\" array", kinds[k].kind, key);
      break;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
      /* what lisecd adds to a view is not part of the entity */
      json_object_del(e, "state");
      json_object_del(e, "observed");
      json_object_del(e, "migrating_to");
      json_object_del(e, "version");
    }
    json_object_set(t, kinds[k].array, arr);
    json_decref(reply);
  }
  if (!rc) cli_print_json(t);
  json_decref(t);
  return rc;
}
