/* Fuzzes `lisec model import` (cmd/lisec/model_bulk.c): a topology file an
 * operator imports, read by the command, checked whole (its shape, then the
 * model's own loader) and sent to lisecd one PUT per entity. cli.c and
 * model_bulk.c are compiled into this harness as they are; only the HTTPS
 * request is a stand-in that records each PUT and answers 201. The first
 * input byte picks the kinds to import (--kinds), the rest is the file.
 * What is asserted: without --kinds nothing is sent unless the model's
 * loader accepts the whole file (a bad file stores nothing); every PUT is
 * to /v1/model/<kind>/<id> of a kind asked for, its id the entity's,
 * percent-encoded so that it decodes back to the id, and its body the
 * entity; an import that succeeds sent every entity of the kinds asked. */
#include <stdio.h>
#include <sys/mman.h>

#define cli_http_request cli_http_request_over_https
#include "../cmd/lisec/cli.c"
#undef cli_http_request

int cli_http_request(const char *method, const char *path, const json_t *body, long *status, json_t **json_out,
                     lisec_err *err);

#include "../cmd/lisec/model_bulk.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool asked[N_KINDS];
static size_t puts_sent;
static const json_t *doc;

static int unhex(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

int cli_http_request(const char *method, const char *path, const json_t *body, long *status, json_t **json_out,
                     lisec_err *err) {
  (void)err;
  if (strcmp(method, "PUT") != 0 || strncmp(path, "/v1/model/", 10) != 0 || !json_is_object(body)) abort();
  const char *kind = path + 10, *slash = strchr(kind, '/');
  if (!slash) abort();
  size_t k = 0;
  while (k < N_KINDS && !(strlen(kinds[k].kind) == (size_t)(slash - kind) && !strncmp(kind, kinds[k].kind, slash - kind)))
    k++;
  if (k == N_KINDS || !asked[k]) abort();
  /* the id, percent-decoded, is the entity's */
  char id[CLI_ID_PATH_MAX];
  size_t n = 0;
  for (const char *p = slash + 1; *p; p++) {
    if (n + 1 >= sizeof id || *p == '/' || *p == '?' || *p == '#') abort();
    if (*p == '%') {
      int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);
      if (lo < 0) abort();
      id[n++] = (char)(hi << 4 | lo);
      p += 2;
    } else {
      id[n++] = *p;
    }
  }
  id[n] = '\0';
  const char *want = json_string_value(json_object_get(body, "id"));
  if (!want || strcmp(want, id) != 0) abort();
  /* the body is one of the file's entities of that kind */
  bool found = false;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(doc, kinds[k].array), i, e) found = found || json_equal(e, body);
  if (!found) abort();
  puts_sent++;
  *status = 201;
  *json_out = NULL;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  static int fd = -1;
  if (size < 1 || size > MODEL_TOPOLOGY_MAX) return 0;
  if (fd < 0) {
    if ((fd = memfd_create("lisec-fuzz-topology", MFD_CLOEXEC)) < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (!freopen("/dev/null", "w", stdout)) abort();
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != (ssize_t)(size - 1)) abort();
  /* --kinds: all when the first byte is 0, else those of its bits */
  char list[256] = "";
  for (size_t k = 0; k < N_KINDS; k++) {
    asked[k] = data[0] == 0 || (k < 8 && (data[0] >> k & 1)) || (k == 8 && (data[0] & 0x81) == 0x81);
    if (data[0] && asked[k]) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? "," : "", kinds[k].kind);
  }
  json_t *parsed = NULL;
  lisec_err err = {0};
  if (lisec_json_parse((const char *)data + 1, size - 1, &parsed, &err) != 0) parsed = NULL;
  doc = parsed;
  puts_sent = 0;
  char *argv[] = {"import", path, "--kinds", list, NULL};
  int rc = cli_model_import(data[0] ? 4 : 2, argv);
  if (puts_sent && !data[0]) {
    model *m = NULL;
    if (model_topology_load((const char *)data + 1, size - 1, lisec_time_now(), &m, &err) != 0) abort();
    model_free(m);
  }
  if (rc == CLI_OK) {
    size_t total = 0;
    for (size_t k = 0; k < N_KINDS; k++)
      if (asked[k]) total += json_array_size(json_object_get(parsed, kinds[k].array));
    if (total != puts_sent) abort();
  }
  json_decref(parsed);
  return 0;
}
