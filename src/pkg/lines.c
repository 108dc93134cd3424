/* The line reader under both text parsers (TOSCA.meta and the manifest):
 * bounded lines, LF or CRLF, no NUL bytes, and the "Key: value" split that
 * both formats share. Kept apart so the fuzzers exercise it through both. */
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

void pkg_lines_init(pkg_lines *it, const uint8_t *data, size_t len, size_t max_line) {
  it->data = data;
  it->len = len;
  it->pos = 0;
  it->max_line = max_line;
  it->lineno = 0;
  it->line_start = 0;
}

int pkg_lines_next(pkg_lines *it, const char **line, size_t *n, lisec_err *err) {
  if (it->pos >= it->len) return 0;
  size_t start = it->pos;
  const uint8_t *nl = memchr(it->data + start, '\n', it->len - start);
  size_t end = nl ? (size_t)(nl - it->data) : it->len;
  it->lineno++;
  it->line_start = start;
  it->pos = nl ? end + 1 : it->len;
  size_t l = end - start;
  if (l && it->data[start + l - 1] == '\r') l--;
  if (l > it->max_line)
    return lisec_err_set(err, LISEC_ETOOBIG, "line %zu longer than %zu bytes", it->lineno,
                         it->max_line);
  if (memchr(it->data + start, '\0', l))
    return lisec_err_set(err, LISEC_EINVAL, "NUL byte in line %zu", it->lineno);
  if (memchr(it->data + start, '\r', l))
    return lisec_err_set(err, LISEC_EINVAL, "stray carriage return in line %zu", it->lineno);
  *line = (const char *)it->data + start;
  *n = l;
  return 1;
}

static bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

int pkg_split_kv(const char *line, size_t n, char *key, char *value) {
  const char *colon = memchr(line, ':', n);
  if (!colon || colon == line) return LISEC_EINVAL;
  size_t kl = (size_t)(colon - line);
  for (size_t i = 0; i < kl; i++)
    if (!key_char(line[i])) return LISEC_EINVAL;
  memcpy(key, line, kl);
  key[kl] = '\0';
  const char *v = colon + 1, *e = line + n;
  while (v < e && (*v == ' ' || *v == '\t')) v++;
  while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
  memcpy(value, v, (size_t)(e - v));
  value[e - v] = '\0';
  return 0;
}

char *pkg_strdup(const char *s) { return s ? strdup(s) : NULL; }
