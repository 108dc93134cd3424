/* Bounded JSON for everything that arrives from outside: a nesting limit
 * checked before jansson builds the tree, duplicate keys refused, and field
 * getters whose errors name the field, so a 400 tells the caller what to fix. */
#include <string.h>

#include "base/base.h"

/* Counts bracket depth outside strings; jansson would otherwise recurse as
 * deep as the input asks. */
static int json_depth_ok(const char *buf, size_t len, size_t *at) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      if (++depth > LISEC_JSON_MAX_DEPTH) {
        *at = i;
        return 0;
      }
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return 1;
}

int lisec_json_parse(const char *buf, size_t len, json_t **out, lisec_err *err) {
  size_t at = 0;
  *out = NULL;
  if (!json_depth_ok(buf, len, &at))
    return lisec_err_set(err, LISEC_EINVAL, "JSON nested deeper than %d levels at byte %zu",
                         LISEC_JSON_MAX_DEPTH, at);
  json_error_t je;
  /* Without JSON_ALLOW_NUL jansson refuses "\u0000": a C string would stop
   * there, so "a\u0000b" would be read as "a" by every later check. */
  json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!v && strstr(je.text, "\\u0000"))
    return lisec_err_set(err, LISEC_EINVAL,
                         "JSON string with a NUL character (\\u0000) at line %d, column %d (byte %d): "
                         "refused, names and values are text",
                         je.line, je.column, je.position);
  if (!v)
    return lisec_err_set(err, LISEC_EINVAL, "malformed JSON at line %d, column %d (byte %d): %s",
                         je.line, je.column, je.position, je.text);
  *out = v;
  return 0;
}

int lisec_json_get_str(const json_t *obj, const char *key, bool required, size_t max_len,
                       const char **out, lisec_err *err) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v)) {
    return required ? lisec_err_set(err, LISEC_EINVAL, "field \"%s\" is required", key) : 0;
  }
  if (!json_is_string(v))
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" must be a string", key);
  size_t n = json_string_length(v);
  if (n > max_len)
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" is longer than %zu bytes", key, max_len);
  const char *s = json_string_value(v);
  if (strlen(s) != n)
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" contains a NUL character", key);
  *out = s;
  return 0;
}

int lisec_json_get_int(const json_t *obj, const char *key, bool required, int64_t min,
                       int64_t max, int64_t *out, lisec_err *err) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    return required ? lisec_err_set(err, LISEC_EINVAL, "field \"%s\" is required", key) : 0;
  }
  if (!json_is_integer(v))
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" must be an integer", key);
  json_int_t i = json_integer_value(v);
  if (i < min || i > max)
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" must be in %lld..%lld", key,
                         (long long)min, (long long)max);
  *out = i;
  return 0;
}

int lisec_json_get_bool(const json_t *obj, const char *key, bool required, bool *out,
                        lisec_err *err) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    return required ? lisec_err_set(err, LISEC_EINVAL, "field \"%s\" is required", key) : 0;
  }
  if (!json_is_boolean(v))
    return lisec_err_set(err, LISEC_EINVAL, "field \"%s\" must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

int lisec_json_only_keys(const json_t *obj, const char *const *keys, lisec_err *err) {
  if (!json_is_object(obj)) return lisec_err_set(err, LISEC_EINVAL, "body: must be a JSON object");
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    size_t i = 0;
    while (keys[i] && strcmp(key, keys[i]) != 0) i++;
    if (!keys[i]) return lisec_err_set(err, LISEC_EINVAL, "%.40s: unknown field", key);
  }
  return 0;
}

char *lisec_json_dump_canonical(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
