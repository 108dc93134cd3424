/* Fuzzes the INI configuration reader (src/base/config.c over inih): the
 * file lisecd, lisec-entropyd, lisec-agent and lisec-ne read at start, an
 * operator's input. config.c is compiled into this harness as it is (its
 * table is private), and the input is read from a file, as the programs do.
 * It is read against lisecd's own list of known settings and against a
 * short one. What is asserted: a file read against a list keeps only keys
 * of that list, each once, so the table is bounded by the list; no name or
 * value is longer than inih's line; a file read against the short list
 * reads the same against lisecd's when every key it holds is also lisecd's;
 * the table written back out as INI reads back as the same table; and the
 * typed getters answer every stored value without a crash, a bool reading
 * only one of its spellings. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/base/config.c"
#include "../cmd/lisecd/lisecd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const small_list[] = {"server.listen", "store.url", "log.level", "log.json", "tls.cert", NULL};

static size_t list_len(const char *const *l) {
  size_t n = 0;
  while (l[n]) n++;
  return n;
}

/* The contents as a file the reader opens by name, as the programs do. */
static int as_file(const void *data, size_t size, char path[64]) {
  int fd = memfd_create("lisec-fuzz-config", MFD_CLOEXEC);
  if (fd < 0) abort();
  if (size && write(fd, data, size) != (ssize_t)size) abort();
  snprintf(path, 64, "/proc/self/fd/%d", fd);
  return fd;
}

static lisec_config *load(const void *data, size_t size, const char *const *known) {
  char path[64];
  int fd = as_file(data, size, path);
  lisec_config *cfg = NULL;
  lisec_err err = {0};
  int rc = lisec_config_load(path, known, &cfg, &err);
  close(fd);
  if (rc != 0) {
    if (cfg || !err.msg[0]) abort(); /* a refusal says why and keeps nothing */
    return NULL;
  }
  return cfg;
}

static bool listed(const char *const *known, const char *section, const char *key) {
  return config_is_known(known, section, key);
}

/* Every entry of a in b with the same value, and as many. */
static void same(const lisec_config *a, const lisec_config *b) {
  if (a->len != b->len) abort();
  for (size_t i = 0; i < a->len; i++) {
    const config_entry *e = config_find(b, a->entries[i].section, a->entries[i].key);
    if (!e || strcmp(e->value, a->entries[i].value) != 0) abort();
  }
}

static void check(const lisec_config *cfg, const char *const *known) {
  size_t max_line = (size_t)ini_max_line;
  if (cfg->len > list_len(known)) abort();
  for (size_t i = 0; i < cfg->len; i++) {
    const config_entry *e = &cfg->entries[i];
    if (!listed(known, e->section, e->key)) abort();
    if (strlen(e->key) >= max_line || strlen(e->value) >= max_line || strlen(e->section) >= max_line) abort();
    for (size_t j = 0; j < i; j++)
      if (!strcmp(e->section, cfg->entries[j].section) && !strcmp(e->key, cfg->entries[j].key)) abort();
    lisec_err err = {0};
    int64_t v = 0;
    if (lisec_config_int(cfg, e->section, e->key, 0, -1000, 1000, &v, &err) == 0 && (v < -1000 || v > 1000)) abort();
    bool t = false, f = true;
    int rt = lisec_config_bool(cfg, e->section, e->key, true, &t, &err);
    int rf = lisec_config_bool(cfg, e->section, e->key, false, &f, &err);
    if (rt != rf || (rt == 0 && t != f)) abort(); /* a stored value never reads as the default */
  }
}

/* The table written as INI, one section line per entry, read back. */
static void round_trip(const lisec_config *cfg, const char *const *known) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) abort();
  for (size_t i = 0; i < cfg->len; i++)
    fprintf(f, "[%s]\n%s=%s\n", cfg->entries[i].section, cfg->entries[i].key, cfg->entries[i].value);
  if (fclose(f) != 0) abort();
  lisec_config *again = load(text, len, known);
  if (!again) abort();
  same(cfg, again);
  lisec_config_free(again);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  lisec_config *full = load(data, size, lisecd_known_settings);
  lisec_config *small = load(data, size, small_list);
  if (full) {
    check(full, lisecd_known_settings);
    round_trip(full, lisecd_known_settings);
  }
  if (small) {
    check(small, small_list);
    round_trip(small, small_list);
    if (!full) abort(); /* every key of the short list is one of lisecd's */
    same(small, full);
  }
  lisec_config_free(full);
  lisec_config_free(small);
  return 0;
}
