/* The fast path for JSON request bodies in the plain form clients send
 * (api/body.h): the front checks such a body without building it, and the
 * controller builds its tree in one pass; anything else goes to
 * lisec_json_parse, which decides and names the position of a fault.
 * fuzz/api_body.c holds both to jansson: what this accepts, jansson accepts
 * with the same values. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"

/* The front only has to know that a body is JSON lisec_json_parse accepts
 * (the controller builds the tree), and building jansson's tree for it was
 * most of the front's cost for an attested inventory: 206 us for a 14 KB
 * evidence body of long base64 strings (bench/inventory). api_body_plain says
 * yes, without allocating, for the plain form clients send: strings of
 * printable ASCII with the short escapes (no \u), integers of at most 18
 * digits, true, false, null, object keys without escapes, at most
 * BODY_KEYS_MAX keys an object and LISEC_JSON_MAX_DEPTH levels, no key twice
 * in an object. Everything else is left to lisec_json_parse, which gives
 * the refusal and its position; what body_plain accepts, it accepts too.
 */
#define BODY_KEYS_MAX 32

typedef struct body_scan {
  const unsigned char *p, *end;
  int depth;
} body_scan;

static void body_ws(body_scan *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* A string at c->p; *s and *n its bytes between the quotes, *plain when
 * they hold no escape (so they are its value). */
static bool body_string(body_scan *c, const unsigned char **s, size_t *n, bool *plain) {
  if (c->p >= c->end || *c->p != '"') return false;
  *s = ++c->p;
  *plain = true;
  while (c->p < c->end) {
    unsigned char ch = *c->p++;
    if (ch == '"') {
      *n = (size_t)(c->p - 1 - *s);
      return true;
    }
    if (ch == '\\') {
      if (c->p >= c->end || !*c->p || !strchr("\"\\/bfnrt", *c->p)) return false;
      c->p++;
      *plain = false;
    } else if (ch < 0x20 || ch > 0x7e) {
      return false;
    }
  }
  return false;
}

static bool body_number(body_scan *c) {
  if (c->p < c->end && *c->p == '-') c->p++;
  const unsigned char *d = c->p;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  size_t n = (size_t)(c->p - d);
  if (n == 0 || n > 18 || (n > 1 && *d == '0')) return false;
  return c->p >= c->end || (*c->p != '.' && *c->p != 'e' && *c->p != 'E');
}

static bool body_word(body_scan *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
  c->p += n;
  return true;
}

static bool body_value(body_scan *c);

/* After a member or element: ',' (*more) or the closing byte. */
static bool body_next(body_scan *c, unsigned char close, bool *more) {
  body_ws(c);
  if (c->p >= c->end) return false;
  unsigned char ch = *c->p++;
  *more = ch == ',';
  return ch == ',' || ch == close;
}

static bool body_object(body_scan *c) {
  const unsigned char *keys[BODY_KEYS_MAX];
  size_t lens[BODY_KEYS_MAX], nk = 0;
  c->p++;
  body_ws(c);
  if (c->p < c->end && *c->p == '}') return c->p++, true;
  bool more = true;
  while (more) {
    const unsigned char *k;
    size_t kn;
    bool plain;
    body_ws(c);
    if (nk == BODY_KEYS_MAX || !body_string(c, &k, &kn, &plain) || !plain) return false;
    for (size_t i = 0; i < nk; i++)
      if (lens[i] == kn && memcmp(keys[i], k, kn) == 0) return false;
    keys[nk] = k;
    lens[nk++] = kn;
    body_ws(c);
    if (c->p >= c->end || *c->p++ != ':' || !body_value(c) || !body_next(c, '}', &more)) return false;
  }
  return true;
}

static bool body_array(body_scan *c) {
  c->p++;
  body_ws(c);
  if (c->p < c->end && *c->p == ']') return c->p++, true;
  bool more = true;
  while (more)
    if (!body_value(c) || !body_next(c, ']', &more)) return false;
  return true;
}

static bool body_value(body_scan *c) {
  body_ws(c);
  if (c->p >= c->end) return false;
  const unsigned char *s;
  size_t n;
  bool plain, ok;
  switch (*c->p) {
    case '{':
    case '[':
      if (++c->depth > LISEC_JSON_MAX_DEPTH) return false;
      ok = *c->p == '{' ? body_object(c) : body_array(c);
      c->depth--;
      return ok;
    case '"': return body_string(c, &s, &n, &plain);
    case 't': return body_word(c, "true");
    case 'f': return body_word(c, "false");
    case 'n': return body_word(c, "null");
    default: return body_number(c);
  }
}

bool api_body_plain(const char *body, size_t len) {
  body_scan c = {(const unsigned char *)body, (const unsigned char *)body + len, 0};
  body_ws(&c);
  if (c.p >= c.end || (*c.p != '{' && *c.p != '[') || !body_value(&c)) return false;
  body_ws(&c);
  return c.p == c.end;
}

/* The controller's tree of a plain body, built from the same scan: jansson's
 * lexer copies a string byte by byte through a growing buffer, which for the
 * evidence body was ~206 us a report; this builds the same values (strings
 * with the short escapes decoded, integers, literals, objects, arrays) in a
 * tenth of it. NULL: not in the plain form (or out of memory), and the
 * caller parses with lisec_json_parse, which then decides. */
static json_t *tree_value(body_scan *c);

static json_t *tree_string(body_scan *c) {
  const unsigned char *s;
  size_t n;
  bool plain;
  if (!body_string(c, &s, &n, &plain)) return NULL;
  if (plain) return json_stringn_nocheck((const char *)s, n);
  char *d = malloc(n ? n : 1);
  if (!d) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = (char)s[i];
    if (ch == '\\') {
      ch = (char)s[++i];
      ch = ch == 'b' ? '\b' : ch == 'f' ? '\f' : ch == 'n' ? '\n' : ch == 'r' ? '\r' : ch == 't' ? '\t' : ch;
    }
    d[o++] = ch;
  }
  json_t *v = json_stringn_nocheck(d, o);
  free(d);
  return v;
}

static json_t *tree_number(body_scan *c) {
  const unsigned char *s = c->p;
  if (!body_number(c)) return NULL;
  bool neg = *s == '-';
  json_int_t v = 0;
  for (const unsigned char *q = s + neg; q < c->p; q++) v = v * 10 + (*q - '0');
  return json_integer(neg ? -v : v);
}

static json_t *tree_object(body_scan *c) {
  const unsigned char *keys[BODY_KEYS_MAX];
  size_t lens[BODY_KEYS_MAX], nk = 0;
  json_t *o = json_object();
  if (!o) return NULL;
  c->p++;
  body_ws(c);
  if (c->p < c->end && *c->p == '}') return c->p++, o;
  bool more = true;
  while (more) {
    const unsigned char *k;
    size_t kn;
    bool plain;
    body_ws(c);
    if (nk == BODY_KEYS_MAX || !body_string(c, &k, &kn, &plain) || !plain) break;
    size_t i = 0;
    while (i < nk && !(lens[i] == kn && memcmp(keys[i], k, kn) == 0)) i++;
    if (i < nk) break;
    keys[nk] = k;
    lens[nk++] = kn;
    body_ws(c);
    if (c->p >= c->end || *c->p++ != ':') break;
    json_t *v = tree_value(c);
    if (!v || json_object_setn_new_nocheck(o, (const char *)k, kn, v) || !body_next(c, '}', &more)) break;
    if (!more) return o;
  }
  json_decref(o);
  return NULL;
}

static json_t *tree_array(body_scan *c) {
  json_t *a = json_array();
  if (!a) return NULL;
  c->p++;
  body_ws(c);
  if (c->p < c->end && *c->p == ']') return c->p++, a;
  bool more = true;
  while (more) {
    json_t *v = tree_value(c);
    if (!v || json_array_append_new(a, v) || !body_next(c, ']', &more)) break;
    if (!more) return a;
  }
  json_decref(a);
  return NULL;
}

static json_t *tree_value(body_scan *c) {
  body_ws(c);
  if (c->p >= c->end) return NULL;
  json_t *v;
  switch (*c->p) {
    case '{':
    case '[':
      if (++c->depth > LISEC_JSON_MAX_DEPTH) return NULL;
      v = *c->p == '{' ? tree_object(c) : tree_array(c);
      c->depth--;
      return v;
    case '"': return tree_string(c);
    case 't': return body_word(c, "true") ? json_true() : NULL;
    case 'f': return body_word(c, "false") ? json_false() : NULL;
    case 'n': return body_word(c, "null") ? json_null() : NULL;
    default: return tree_number(c);
  }
}

json_t *api_body_tree(const char *body, size_t len) {
  body_scan c = {(const unsigned char *)body, (const unsigned char *)body + len, 0};
  body_ws(&c);
  if (c.p >= c.end || (*c.p != '{' && *c.p != '[')) return NULL;
  json_t *v = tree_value(&c);
  body_ws(&c);
  if (v && c.p != c.end) {
    json_decref(v);
    v = NULL;
  }
  return v;
}
