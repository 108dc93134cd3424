/* Fuzzes what `lisec audit` reads (cmd/lisec/cmd_audit.c, compiled into this
 * harness as it is: its readers are static): the auditor's state file (the
 * pinned verifier key, the signed checkpoint it saw, the restores it
 * verified) and lisecd's answers to an auditor that does not trust it (the
 * checkpoint list and the entry pages, read page by page, and a consistency
 * proof). The answers are served, in order, by a stand-in for the command's
 * HTTPS request. Input: a mode byte, then for the state file its bytes, for
 * the answers the documents separated by NUL bytes. What is asserted: a
 * state read is written back and reads the same; one read of the checkpoint
 * list passes at most its bound of checkpoints on; the entries passed on
 * are those asked for, in order, within their bound; a consistency proof
 * taken is within AUDIT_PROOF_MAX. */
#include "../cmd/lisec/cmd_audit.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the parts of cli.c and main.c this file uses ----------------------- */

cli_options cli;

int cli_fail(const char *fmt, ...) {
  (void)fmt;
  return CLI_ERROR;
}

int cli_refuse(const char *code, const char *fmt, ...) {
  (void)code, (void)fmt;
  return CLI_REFUSED;
}

void cli_print_json(const json_t *v) { (void)v; }

void cli_print(const json_t *v, void (*human)(const json_t *v)) { (void)v, (void)human; }

const char *cli_str(const json_t *object, const char *key) { return json_string_value(json_object_get(object, key)); }

int cli_http_error(long status, const json_t *reply) {
  (void)status, (void)reply;
  return CLI_ERROR;
}

int cli_path_id(const char *id, char *out, size_t cap) {
  if (strlen(id) >= cap) return CLI_ERROR;
  strcpy(out, id);
  return CLI_OK;
}

/* lisecd's answers: the input's documents, one per request. */
static const char *answers;
static size_t answers_left;
static unsigned requests;

int cli_http_request(const char *method, const char *path, const json_t *body, long *status, json_t **json_out,
                     lisec_err *err) {
  (void)method, (void)path, (void)body;
  if (!answers || requests++ > 4096) return lisec_err_set(err, LISEC_EIO, "no answer");
  const char *end = memchr(answers, '\0', answers_left);
  size_t len = end ? (size_t)(end - answers) : answers_left;
  json_error_t je;
  *json_out = json_loadb(answers, len, 0, &je); /* as cli.c reads a reply */
  *status = 200;
  if (end) answers = end + 1, answers_left -= len + 1;
  else answers = NULL, answers_left = 0;
  return 0;
}

/* ---- the state file ----------------------------------------------------- */

static char dir[64], path[96];

static void cleanup(void) {
  unlink(path);
  rmdir(dir);
}

static known_restores known, known2;

static void state_file(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "w");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
  audit_vkey k, k2;
  audit_checkpoint seen, seen2;
  bool have_key = false, have_seen = false;
  lisec_err err = {0};
  if (state_load(path, &k, &have_key, &seen, &have_seen, &known, &err) != 0) {
    if (!err.msg[0]) abort();
    return;
  }
  if (!have_key || !have_seen || known.n > STATE_RESTORES_MAX) abort(); /* a state is complete */
  /* the note as it stands in the file, written back as verify does */
  json_t *j = NULL;
  if (lisec_json_parse((const char *)data, size, &j, &err) != 0) abort();
  char *note = strdup(json_string_value(json_object_get(j, "checkpoint")));
  json_decref(j);
  audit_verifier *v = NULL;
  if (!note || audit_verifier_new(&k, &seen, &v, &err) != 0 || state_save(path, &k, note, &known, v, &err) != 0)
    abort();
  audit_verifier_free(v);
  free(note);
  bool hk = false, hs = false;
  if (state_load(path, &k2, &hk, &seen2, &hs, &known2, &err) != 0 || !hk || !hs) abort();
  if (seen2.size != seen.size || memcmp(seen2.root, seen.root, AUDIT_HASH_LEN) || known2.n != known.n) abort();
  for (size_t i = 0; i < known.n; i++)
    if (known2.cp[i].size != known.cp[i].size || memcmp(known2.cp[i].root, known.cp[i].root, AUDIT_HASH_LEN))
      abort();
}

/* ---- lisecd's answers --------------------------------------------------- */

static size_t passed;
static uint64_t want_from, want_to, last_index;

static int on_checkpoint(void *ctx, uint64_t size, const char *note) {
  (void)ctx, (void)size;
  if (!note) abort();
  passed++;
  return 0;
}

static int on_entry(void *ctx, uint64_t index, int64_t time_ms, bool sealed, const uint8_t *data, size_t len,
                    const uint8_t *leaf_hash) {
  (void)ctx, (void)time_ms, (void)sealed, (void)data, (void)leaf_hash;
  if (index < want_from || index >= want_to || (passed && index <= last_index) || len > STORE_LOG_DATA_MAX) abort();
  last_index = index;
  passed++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > 65536) return 0;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/lisec-fuzz-audit-XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/state.json", dir);
    atexit(cleanup);
  }
  uint8_t mode = data[0] % 4, arg = data[1];
  answers = (const char *)data + 2, answers_left = size - 2, requests = 0, passed = 0;
  lisec_err err = {0};
  if (mode == 0) {
    answers = NULL;
    state_file(data + 2, size - 2);
  } else if (mode == 1) {
    source src = {.db = NULL, .cp_max = 1 + arg % 32};
    (void)source_checkpoints(&src, on_checkpoint, NULL, &err);
    if (passed > src.cp_max) abort();
  } else if (mode == 2) {
    source src = {0};
    want_from = (uint64_t)(arg & 15) * 700, want_to = want_from + 1 + (arg >> 4) * 300;
    (void)source_entries(&src, want_from, want_to, on_entry, NULL, &err);
  } else {
    uint8_t root[32] = {0}, old_root[32];
    audit_proof p;
    memset(&p, 0, sizeof p);
    if (online_consistency(1 + arg % 8, 9 + arg / 8, root, old_root, &p, &err) == 0 && p.len > AUDIT_PROOF_MAX)
      abort();
  }
  return 0;
}
