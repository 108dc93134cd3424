/* The INI configuration of lisec's programs, parsed by inih. Values are kept
 * as strings keyed by section and name; typed getters validate on read. A key
 * not on the program's known list is an error, so a misspelt setting is
 * reported instead of being silently replaced by its default. A value may be
 * a credential (a password in a URL), so every value freed is wiped first.
 * The file is read whole, bounded, and what inih would read other than as
 * written is refused before it parses: a NUL byte, a line longer than its
 * buffer, an indented line after a setting (a continuation to inih, which
 * would replace the value above unchecked). */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

typedef struct config_entry {
  char *section, *key, *value;
} config_entry;

struct lisec_config {
  config_entry *entries;
  size_t len, cap;
};

typedef struct load_ctx {
  lisec_config *cfg;
  const char *const *known;
  lisec_err *err;
  const char *path;
} load_ctx;

lisec_config *lisec_config_new(void) { return calloc(1, sizeof(lisec_config)); }

static void value_free(char *v) {
  if (v) explicit_bzero(v, strlen(v));
  free(v);
}

void lisec_config_free(lisec_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->len; i++) {
    free(cfg->entries[i].section);
    free(cfg->entries[i].key);
    value_free(cfg->entries[i].value);
  }
  free(cfg->entries);
  free(cfg);
}

static config_entry *config_find(const lisec_config *cfg, const char *section, const char *key) {
  for (size_t i = 0; cfg && i < cfg->len; i++) {
    if (strcmp(cfg->entries[i].section, section) == 0 && strcmp(cfg->entries[i].key, key) == 0)
      return &cfg->entries[i];
  }
  return NULL;
}

int lisec_config_set(lisec_config *cfg, const char *section, const char *key, const char *value) {
  config_entry *e = config_find(cfg, section, key);
  char *v = strdup(value);
  if (!v) return LISEC_ENOMEM;
  if (e) {
    value_free(e->value);
    e->value = v;
    return 0;
  }
  if (cfg->len == cfg->cap) {
    size_t cap = cfg->cap ? cfg->cap * 2 : 16;
    config_entry *n = realloc(cfg->entries, cap * sizeof *n);
    if (!n) {
      free(v);
      return LISEC_ENOMEM;
    }
    cfg->entries = n;
    cfg->cap = cap;
  }
  e = &cfg->entries[cfg->len];
  e->section = strdup(section);
  e->key = strdup(key);
  e->value = v;
  if (!e->section || !e->key) {
    free(e->section);
    free(e->key);
    free(v);
    return LISEC_ENOMEM;
  }
  cfg->len++;
  return 0;
}

void lisec_config_forget(lisec_config *cfg, const char *section, const char *key) {
  config_entry *e = config_find(cfg, section, key);
  if (!e) return;
  free(e->section);
  free(e->key);
  value_free(e->value);
  *e = cfg->entries[--cfg->len];
}

static bool config_is_known(const char *const *known, const char *section, const char *key) {
  if (!known) return true;
  size_t sl = strlen(section);
  for (; *known; known++) {
    if (strncmp(*known, section, sl) == 0 && (*known)[sl] == '.' && strcmp(*known + sl + 1, key) == 0)
      return true;
  }
  return false;
}

static int config_on_pair(void *user, const char *section, const char *key, const char *value) {
  load_ctx *ctx = user;
  if (!config_is_known(ctx->known, section, key)) {
    lisec_err_set(ctx->err, LISEC_EINVAL, "%s: unknown setting [%s] %s", ctx->path, section, key);
    return 0;
  }
  if (lisec_config_set(ctx->cfg, section, key, value) != 0) {
    lisec_err_set(ctx->err, LISEC_ENOMEM, "%s: out of memory", ctx->path);
    return 0;
  }
  return 1;
}

/* Far above any real configuration (lisecd's annotated example is 16 KiB). */
#define CONFIG_FILE_MAX (1u << 20)

/* The first line inih would read other than as written (0: none), and why.
 * inih reads a line into a buffer of ini_max_line bytes (with its "\r\n"
 * and NUL) and takes the rest of a longer one for a line of its own; ends a
 * line at a NUL; and, after a setting in a section, takes an indented line
 * that is not a comment for the continuation of that setting's value: its
 * text replaces the value, and a key or section on it is never checked. */
static int config_misread_line(const char *text, size_t len, const char **why) {
  size_t max = ini_max_line > 3 ? (size_t)ini_max_line - 3 : 0;
  bool after_setting = false;
  int lineno = 0;
  for (size_t at = 0; at < len; lineno++) {
    const char *line = text + at, *nl = memchr(line, '\n', len - at);
    size_t n = nl ? (size_t)(nl - line) : len - at;
    at += n + (nl != NULL);
    if (memchr(line, '\0', n)) return *why = "holds a NUL byte", lineno + 1;
    if (n > max) return *why = "is longer than the reader's line", lineno + 1;
    size_t i = lineno == 0 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* a BOM */
    while (i < n && isspace((unsigned char)line[i])) i++;
    if (i == n || line[i] == ';' || line[i] == '#') continue; /* blank, a comment */
    if (i > 0 && after_setting) /* (after a setting: not on line 1, so past any BOM) */
      return *why = "is indented after a setting (it would replace that setting's value); "
                    "write each setting on its own unindented line",
             lineno + 1;
    after_setting = line[i] != '[';
  }
  return 0;
}

/* The file whole into *out (NUL-terminated), at most CONFIG_FILE_MAX bytes.
 * A value may be a credential, and lisecd forks its front after reading
 * its configuration: the buffer is one allocation above malloc's mmap
 * threshold, so its pages leave the process when it is freed (wiped first),
 * and the stream is unbuffered, so stdio keeps no copy of its own. (Read
 * through a heap buffer, a copy of the TSA URL's password stayed in the
 * front's memory: lisecd_memory.) */
static int read_whole(const char *path, uint8_t **out, size_t *len, lisec_err *err) {
  FILE *f = fopen(path, "rbe");
  if (!f) return lisec_err_set(err, LISEC_EIO, "cannot open %s: %s", path, strerror(errno));
  setvbuf(f, NULL, _IONBF, 0);
  uint8_t *b = malloc(CONFIG_FILE_MAX + 1);
  if (!b) {
    fclose(f);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  size_t n = fread(b, 1, CONFIG_FILE_MAX + 1, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || n > CONFIG_FILE_MAX) {
    explicit_bzero(b, n);
    free(b);
    return failed ? lisec_err_set(err, LISEC_EIO, "cannot read %s", path)
                  : lisec_err_set(err, LISEC_ETOOBIG, "%s is larger than %u bytes", path, CONFIG_FILE_MAX);
  }
  b[n] = '\0';
  *out = b;
  *len = n;
  return 0;
}

int lisec_config_load(const char *path, const char *const *known, lisec_config **out,
                      lisec_err *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  lisec_err local = {0};
  if (read_whole(path, &text, &len, &local) != 0) {
    if (local.code == LISEC_ETOOBIG)
      return lisec_err_set(err, LISEC_ETOOBIG, "config %s is larger than %u bytes", path, CONFIG_FILE_MAX);
    return lisec_err_set(err, local.code, "cannot read config %s: %s", path, local.msg);
  }
  const char *why = NULL;
  int bad = config_misread_line((const char *)text, len, &why);
  if (bad) {
    explicit_bzero(text, len);
    free(text);
    return lisec_err_set(err, LISEC_EINVAL, "%s: line %d %s", path, bad, why);
  }
  lisec_config *cfg = lisec_config_new();
  if (!cfg) {
    explicit_bzero(text, len);
    free(text);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  load_ctx ctx = {cfg, known, &local, path};
  int rc = ini_parse_string((const char *)text, config_on_pair, &ctx);
  explicit_bzero(text, len); /* values may be credentials */
  free(text);
  if (rc != 0) {
    lisec_config_free(cfg);
    if (local.code)
      return lisec_err_set(err, local.code, "%s (first error on line %d)", local.msg, rc);
    return lisec_err_set(err, LISEC_EINVAL, "%s: syntax error on line %d", path, rc);
  }
  *out = cfg;
  return 0;
}

const char *lisec_config_str(const lisec_config *cfg, const char *section, const char *key,
                             const char *def) {
  const config_entry *e = config_find(cfg, section, key);
  return e ? e->value : def;
}

int lisec_config_int(const lisec_config *cfg, const char *section, const char *key, int64_t def,
                     int64_t min, int64_t max, int64_t *out, lisec_err *err) {
  const char *s = lisec_config_str(cfg, section, key, NULL);
  if (!s) {
    *out = def;
    return 0;
  }
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < min || v > max)
    return lisec_err_set(err, LISEC_EINVAL, "[%s] %s = \"%s\": expected an integer in %lld..%lld",
                         section, key, s, (long long)min, (long long)max);
  *out = v;
  return 0;
}

int lisec_config_bool(const lisec_config *cfg, const char *section, const char *key, bool def,
                      bool *out, lisec_err *err) {
  const char *s = lisec_config_str(cfg, section, key, NULL);
  if (!s) {
    *out = def;
    return 0;
  }
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") || !strcasecmp(s, "on")) {
    *out = true;
    return 0;
  }
  if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") || !strcasecmp(s, "off")) {
    *out = false;
    return 0;
  }
  return lisec_err_set(err, LISEC_EINVAL, "[%s] %s = \"%s\": expected true or false", section,
                       key, s);
}
