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

/* One walk serves both: with out NULL it only checks (the front), with out
 * it also builds the value (the controller), so the two cannot disagree
 * about what the plain form is. */
static bool walk_value(body_scan *c, json_t **out);

/* After a member or element: ',' (*more) or the closing byte. */
static bool body_next(body_scan *c, unsigned char close, bool *more) {
  body_ws(c);
  if (c->p >= c->end) return false;
  unsigned char ch = *c->p++;
  *more = ch == ',';
  return ch == ',' || ch == close;
}

static bool walk_string(body_scan *c, json_t **out) {
  const unsigned char *s;
  size_t n;
  bool plain;
  if (!body_string(c, &s, &n, &plain)) return false;
  if (!out) return true;
  if (plain) return (*out = json_stringn_nocheck((const char *)s, n)) != NULL;
  char *d = malloc(n ? n : 1);
  if (!d) return false;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = (char)s[i];
    if (ch == '\\') {
      ch = (char)s[++i];
      ch = ch == 'b' ? '\b' : ch == 'f' ? '\f' : ch == 'n' ? '\n' : ch == 'r' ? '\r' : ch == 't' ? '\t' : ch;
    }
    d[o++] = ch;
  }
  *out = json_stringn_nocheck(d, o);
  free(d);
  return *out != NULL;
}

static bool walk_number(body_scan *c, json_t **out) {
  const unsigned char *s = c->p;
  if (!body_number(c)) return false;
  if (!out) return true;
  bool neg = *s == '-';
  json_int_t v = 0;
  for (const unsigned char *q = s + neg; q < c->p; q++) v = v * 10 + (*q - '0');
  return (*out = json_integer(neg ? -v : v)) != NULL;
}

/* true, false and null are jansson's singletons: nothing to allocate. */
static bool walk_word(body_scan *c, const char *w, json_t *v, json_t **out) {
  if (!body_word(c, w)) return false;
  if (out) *out = v;
  return true;
}

static bool walk_object(body_scan *c, json_t **out) {
  const unsigned char *keys[BODY_KEYS_MAX];
  size_t lens[BODY_KEYS_MAX], nk = 0;
  json_t *o = NULL;
  if (out && !(o = json_object())) return false;
  c->p++;
  body_ws(c);
  bool ok = true;
  if (c->p < c->end && *c->p == '}') {
    c->p++;
  } else {
    for (bool more = true; ok && more;) {
      const unsigned char *k;
      size_t kn;
      bool plain;
      body_ws(c);
      ok = nk < BODY_KEYS_MAX && body_string(c, &k, &kn, &plain) && plain;
      for (size_t i = 0; ok && i < nk; i++) ok = !(lens[i] == kn && memcmp(keys[i], k, kn) == 0);
      if (!ok) break;
      keys[nk] = k;
      lens[nk++] = kn;
      body_ws(c);
      json_t *v = NULL;
      /* (json_object_setn_new_nocheck takes v even when it fails) */
      ok = c->p < c->end && *c->p++ == ':' && walk_value(c, o ? &v : NULL) &&
           (!o || json_object_setn_new_nocheck(o, (const char *)k, kn, v) == 0) && body_next(c, '}', &more);
    }
  }
  if (!ok) {
    json_decref(o);
    return false;
  }
  if (out) *out = o;
  return true;
}

static bool walk_array(body_scan *c, json_t **out) {
  json_t *a = NULL;
  if (out && !(a = json_array())) return false;
  c->p++;
  body_ws(c);
  bool ok = true;
  if (c->p < c->end && *c->p == ']') {
    c->p++;
  } else {
    for (bool more = true; ok && more;) {
      json_t *v = NULL;
      ok = walk_value(c, a ? &v : NULL) && (!a || json_array_append_new(a, v) == 0) &&
           body_next(c, ']', &more);
    }
  }
  if (!ok) {
    json_decref(a);
    return false;
  }
  if (out) *out = a;
  return true;
}

static bool walk_value(body_scan *c, json_t **out) {
  body_ws(c);
  if (c->p >= c->end) return false;
  bool ok;
  switch (*c->p) {
    case '{':
    case '[':
      if (++c->depth > LISEC_JSON_MAX_DEPTH) return false;
      ok = *c->p == '{' ? walk_object(c, out) : walk_array(c, out);
      c->depth--;
      return ok;
    case '"': return walk_string(c, out);
    case 't': return walk_word(c, "true", json_true(), out);
    case 'f': return walk_word(c, "false", json_false(), out);
    case 'n': return walk_word(c, "null", json_null(), out);
    default: return walk_number(c, out);
  }
}

/* The whole body: an object or array, and nothing after it but space. */
static bool walk_body(const char *body, size_t len, json_t **out) {
  body_scan c = {(const unsigned char *)body, (const unsigned char *)body + len, 0};
  body_ws(&c);
  if (c.p >= c.end || (*c.p != '{' && *c.p != '[') || !walk_value(&c, out)) return false;
  body_ws(&c);
  if (c.p == c.end) return true;
  if (out) json_decref(*out);
  return false;
}

bool api_body_plain(const char *body, size_t len) { return walk_body(body, len, NULL); }

/* The controller's tree of a plain body, from the same walk: jansson's lexer
 * copies a string byte by byte through a growing buffer, which for the
 * evidence body was ~206 us a report; this builds the same values in a
 * tenth of it. NULL: not in the plain form (or out of memory), and the
 * caller parses with lisec_json_parse, which then decides. */
json_t *api_body_tree(const char *body, size_t len) {
  json_t *v = NULL;
  return walk_body(body, len, &v) ? v : NULL;
}
