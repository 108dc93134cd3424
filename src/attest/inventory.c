/* The inventory a host reports with its quote (issue 15, TR 103 308 T.1.4):
 * lisec-agent's list of the libvirt domains on its host (UUID, lisec VM id
 * and package, state, the SHA-256 of each file disk's base image, network
 * interfaces). Only its parsing and its binding to the quote live here;
 * both are pure. The parser is the first thing that reads bytes a host
 * sent about the platform, so it is bounded before anything is allocated
 * (bytes, domains, disks and interfaces per domain, every string) and
 * strict: the exact fields of version 1, nothing else, no duplicate UUID,
 * ids by lisec's one rule. The binding makes an inventory evidence only
 * inside the quote that carries it: the TPM signs SHA-256(tag || nonce ||
 * SHA-256(inventory)) as the qualifying data, so the inventory is as
 * fresh as the nonce and cannot be swapped under the quote. */
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "crypto/crypto.h"

static const char *const state_names[] = {"running", "paused", "shutoff", "crashed", "other"};
static const char *const iface_types[] = {"network", "bridge", "direct", "other"};

const char *attest_inv_state_name(int state) {
  return state >= 0 && state <= ATTEST_DOM_OTHER ? state_names[state] : "other";
}

const char *attest_inv_iface_type_name(int type) {
  return type >= 0 && type <= ATTEST_IF_OTHER ? iface_types[type] : "other";
}

void attest_inventory_binding(const uint8_t *nonce, size_t nonce_len,
                              const uint8_t inv_sha256[ATTEST_DIGEST_LEN],
                              uint8_t out[ATTEST_DIGEST_LEN]) {
  const void *parts[3] = {ATTEST_INV_TAG, nonce, inv_sha256};
  size_t lens[3] = {sizeof ATTEST_INV_TAG - 1, nonce_len, ATTEST_DIGEST_LEN};
  crypto_sha256_parts(parts, lens, 3, out);
}

void attest_inventory_free(attest_inventory *inv) {
  if (!inv) return;
  for (size_t i = 0; i < inv->n; i++) {
    free(inv->domains[i].images);
    free(inv->domains[i].ifaces);
  }
  free(inv->domains);
  memset(inv, 0, sizeof *inv);
}

static bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* libvirt writes UUIDs lower-case 8-4-4-4-12; only that form is accepted,
 * so one domain has one spelling and duplicates are found by comparison. */
static bool uuid_ok(const char *s) {
  if (strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_lower_hex(s[i])) return false;
  }
  return true;
}

static bool mac_ok(const char *s) {
  if (strlen(s) != 17) return false;
  for (int i = 0; i < 17; i++)
    if (i % 3 == 2 ? s[i] != ':' : !is_lower_hex(s[i])) return false;
  return true;
}

/* A string field (required), copied into out when it fits cap - 1 bytes.
 * null_ok: JSON null is allowed and gives "". */
static int get_str(const json_t *o, const char *key, bool null_ok, char *out, size_t cap,
                   const char *where, lisec_err *err) {
  json_t *v = json_object_get(o, key);
  out[0] = '\0';
  if (!v) return lisec_err_set(err, LISEC_EINVAL, "inventory: %s has no \"%s\"", where, key);
  if (json_is_null(v) && null_ok) return 0;
  if (!json_is_string(v))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"%s\" must be a string%s", where, key,
                         null_ok ? " or null" : "");
  size_t len = json_string_length(v);
  if (len >= cap)
    return lisec_err_set(err, LISEC_ETOOBIG, "inventory: %s \"%s\" is longer than %zu bytes",
                         where, key, cap - 1);
  if (memchr(json_string_value(v), '\0', len))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"%s\" contains NUL", where, key);
  memcpy(out, json_string_value(v), len + 1);
  return 0;
}

static int name_index(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

static int only_keys(const json_t *o, const char *const *keys, const char *where, lisec_err *err) {
  if (!json_is_object(o))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s must be an object", where);
  int rc = lisec_json_only_keys(o, keys, err);
  return rc ? (lisec_err_wrap(err, "inventory: %s", where), rc) : 0;
}

/* The array at key, at most max elements. */
static int get_array(const json_t *o, const char *key, size_t max, const char *where,
                     json_t **out, lisec_err *err) {
  *out = json_object_get(o, key);
  if (!json_is_array(*out))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"%s\" must be an array", where, key);
  if (json_array_size(*out) > max)
    return lisec_err_set(err, LISEC_ETOOBIG, "inventory: %s has more than %zu %s", where, max, key);
  return 0;
}

static int parse_image(const json_t *j, attest_inv_image *img, const char *where, lisec_err *err) {
  static const char *const keys[] = {"disk", "sha256", NULL};
  char hex[ATTEST_DIGEST_LEN * 2 + 1];
  int rc;
  if ((rc = only_keys(j, keys, where, err)) ||
      (rc = get_str(j, "disk", false, img->disk, sizeof img->disk, where, err)) ||
      (rc = get_str(j, "sha256", false, hex, sizeof hex, where, err)))
    return rc;
  if (!img->disk[0])
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"disk\" is empty", where);
  bool ok = strlen(hex) == sizeof hex - 1;
  for (size_t i = 0; ok && hex[i]; i++) ok = is_lower_hex(hex[i]);
  if (!ok || lisec_hex_decode(hex, img->sha256, sizeof img->sha256) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"sha256\" is not 64 lower-case hex digits",
                         where);
  return 0;
}

static int parse_iface(const json_t *j, attest_inv_iface *f, const char *where, lisec_err *err) {
  static const char *const keys[] = {"mac", "type", "source", "target", NULL};
  char type[16];
  int rc;
  if ((rc = only_keys(j, keys, where, err)) ||
      (rc = get_str(j, "mac", false, f->mac, sizeof f->mac, where, err)) ||
      (rc = get_str(j, "type", false, type, sizeof type, where, err)) ||
      (rc = get_str(j, "source", true, f->source, sizeof f->source, where, err)) ||
      (rc = get_str(j, "target", true, f->target, sizeof f->target, where, err)))
    return rc;
  if (!mac_ok(f->mac))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"mac\" is not aa:bb:cc:dd:ee:ff (lower-case hex)",
                         where);
  if ((f->type = name_index(type, iface_types, 4)) < 0)
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"type\" is not network, bridge, direct or other",
                         where);
  return 0;
}

static int parse_domain(const json_t *j, size_t idx, attest_inv_domain *d, lisec_err *err) {
  static const char *const keys[] = {"uuid", "vm", "package", "state", "images", "interfaces", NULL};
  char where[64], state[16];
  snprintf(where, sizeof where, "domain %zu", idx);
  json_t *imgs, *ifs;
  int rc;
  if ((rc = only_keys(j, keys, where, err)) ||
      (rc = get_str(j, "uuid", false, d->uuid, sizeof d->uuid, where, err)) ||
      (rc = get_str(j, "vm", true, d->vm, sizeof d->vm, where, err)) ||
      (rc = get_str(j, "package", true, d->package, sizeof d->package, where, err)) ||
      (rc = get_str(j, "state", false, state, sizeof state, where, err)) ||
      (rc = get_array(j, "images", ATTEST_INV_DISKS_MAX, where, &imgs, err)) ||
      (rc = get_array(j, "interfaces", ATTEST_INV_IFACES_MAX, where, &ifs, err)))
    return rc;
  if (!uuid_ok(d->uuid))
    return lisec_err_set(err, LISEC_EINVAL, "inventory: %s \"uuid\" is not a lower-case 8-4-4-4-12 UUID", where);
  /* The ids lisec decides on follow its one rule; the reason never echoes
   * the id (it may name an LI VM). */
  if (json_is_string(json_object_get(j, "vm")) &&
      (rc = lisec_id_check("inventory: the lisec VM id", d->vm, strlen(d->vm), err)))
    return lisec_err_wrap(err, "%s", where), rc;
  if (json_is_string(json_object_get(j, "package")) &&
      (rc = lisec_id_check("inventory: the package id", d->package, strlen(d->package), err)))
    return lisec_err_wrap(err, "%s", where), rc;
  if ((d->state = name_index(state, state_names, 5)) < 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "inventory: %s \"state\" is not running, paused, shutoff, crashed or other", where);
  d->n_images = json_array_size(imgs);
  d->n_ifaces = json_array_size(ifs);
  d->images = d->n_images ? calloc(d->n_images, sizeof *d->images) : NULL;
  d->ifaces = d->n_ifaces ? calloc(d->n_ifaces, sizeof *d->ifaces) : NULL;
  if ((d->n_images && !d->images) || (d->n_ifaces && !d->ifaces))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < d->n_images; i++) {
    snprintf(where, sizeof where, "domain %zu image %zu", idx, i);
    if ((rc = parse_image(json_array_get(imgs, i), &d->images[i], where, err))) return rc;
  }
  for (size_t i = 0; i < d->n_ifaces; i++) {
    snprintf(where, sizeof where, "domain %zu interface %zu", idx, i);
    if ((rc = parse_iface(json_array_get(ifs, i), &d->ifaces[i], where, err))) return rc;
  }
  return 0;
}

static int cmp_uuid(const void *a, const void *b) {
  return strcmp((*(const attest_inv_domain *const *)a)->uuid, (*(const attest_inv_domain *const *)b)->uuid);
}

/* Sorted pointers, neighbours compared: n log n for 10,000 domains. */
static int check_unique(const attest_inventory *inv, lisec_err *err) {
  if (inv->n < 2) return 0;
  const attest_inv_domain **p = malloc(inv->n * sizeof *p);
  if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < inv->n; i++) p[i] = &inv->domains[i];
  qsort(p, inv->n, sizeof *p, cmp_uuid);
  int rc = 0;
  /* The reason names the positions, not the UUID (it may be an LI VM's). */
  for (size_t i = 1; i < inv->n && !rc; i++)
    if (strcmp(p[i - 1]->uuid, p[i]->uuid) == 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "inventory: a UUID is reported twice (domains %td and %td)",
                         p[i - 1] - inv->domains, p[i] - inv->domains);
  free(p);
  return rc;
}

static int parse_doc(const json_t *root, size_t max_domains, attest_inventory *out, lisec_err *err) {
  static const char *const keys[] = {"version", "host", "taken_at", "domains", NULL};
  int64_t version = 0;
  json_t *doms;
  int rc;
  if ((rc = only_keys(root, keys, "the document", err))) return rc;
  if ((rc = lisec_json_get_int(root, "version", true, 1, 1, &version, err)))
    return lisec_err_wrap(err, "inventory (only version 1 is known)"), rc;
  if ((rc = lisec_json_get_int(root, "taken_at", true, 0, INT64_MAX, &out->taken_at, err)))
    return lisec_err_wrap(err, "inventory"), rc;
  if ((rc = get_str(root, "host", false, out->host, sizeof out->host, "the document", err)) ||
      (rc = get_array(root, "domains", max_domains, "the document", &doms, err)))
    return rc;
  if (!out->host[0]) return lisec_err_set(err, LISEC_EINVAL, "inventory: \"host\" is empty");
  size_t n = json_array_size(doms);
  out->domains = n ? calloc(n, sizeof *out->domains) : NULL;
  if (n && !out->domains) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    out->n = i + 1; /* what is allocated is freed on failure */
    if ((rc = parse_domain(json_array_get(doms, i), i, &out->domains[i], err))) return rc;
  }
  out->n = n;
  return check_unique(out, err);
}

/* ---- the direct reader ----------------------------------------------------
 * A host reports every attestation interval and on every libvirt event, so
 * this parse runs for each report: through jansson it cost ~165 us for 20
 * domains (an object, a hash table and a string allocated per field), about
 * a tenth of lisecd's CPU per report (bench/inventory). The reader below
 * fills attest_inventory straight from the bytes, but only for what it fully
 * understands: compact or spaced JSON with printable-ASCII strings (escapes
 * \" \\ \/ only), unsigned integers, null, every field present once and
 * valid by the same checks as parse_doc. Anything else (another escape, a
 * non-ASCII byte, a missing, unknown or repeated field, a bad value, a bound
 * reached) makes it give up without a word, and the jansson path parses the
 * document from the start: every refusal and its reason stay that path's,
 * and the reader accepts a subset of what that path accepts, with the same
 * result (tests/unit/test_attest.c compares the two). */

typedef struct rd {
  const char *p, *end;
} rd;

static void rd_ws(rd *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

/* The next byte after whitespace is c; consumed. */
static bool rd_ch(rd *r, char c) {
  rd_ws(r);
  if (r->p >= r->end || *r->p != c) return false;
  r->p++;
  return true;
}

static bool rd_peek(rd *r, char c) {
  rd_ws(r);
  return r->p < r->end && *r->p == c;
}

/* A string of printable ASCII into out (fewer than cap bytes). */
static bool rd_str(rd *r, char *out, size_t cap) {
  if (!rd_ch(r, '"')) return false;
  size_t n = 0;
  while (r->p < r->end) {
    char c = *r->p++;
    if (c == '"') {
      out[n] = '\0';
      return true;
    }
    if (c == '\\') {
      if (r->p >= r->end) return false;
      c = *r->p++;
      if (c != '"' && c != '\\' && c != '/') return false;
    } else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
      return false;
    }
    if (n + 1 >= cap) return false;
    out[n++] = c;
  }
  return false;
}

static bool rd_null(rd *r) {
  rd_ws(r);
  if (r->end - r->p < 4 || memcmp(r->p, "null", 4) != 0) return false;
  r->p += 4;
  return true;
}

/* A string, or null for "" (out is zeroed). */
static bool rd_str_or_null(rd *r, char *out, size_t cap) {
  if (rd_peek(r, 'n')) return rd_null(r);
  return rd_str(r, out, cap);
}

/* null, or a string that follows lisec's id rule ("" does not). */
static bool rd_id_or_null(rd *r, char *out, size_t cap) {
  if (rd_peek(r, 'n')) return rd_null(r);
  return rd_str(r, out, cap) && lisec_id_valid(out);
}

/* 0 or an unsigned integer of at most 18 digits (no int64 overflow), not
 * followed by a 19th digit, a fraction or an exponent. Digits past the 18th
 * are never added in: 19 nines would overflow before being refused. */
static bool rd_uint(rd *r, int64_t *out) {
  rd_ws(r);
  const char *s = r->p;
  int64_t v = 0;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && r->p - s < 18) v = v * 10 + (*r->p++ - '0');
  size_t n = (size_t)(r->p - s);
  if (n == 0 || (n > 1 && *s == '0')) return false;
  if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E' || (*r->p >= '0' && *r->p <= '9')))
    return false;
  *out = v;
  return true;
}

/* The next key of an object, named by its index in keys; a key not listed,
 * or one seen before (bit in *seen), gives up. */
static bool rd_key(rd *r, const char *const *keys, unsigned *seen, int *which) {
  char k[16];
  if (!rd_str(r, k, sizeof k) || !rd_ch(r, ':')) return false;
  for (int i = 0; keys[i]; i++)
    if (strcmp(k, keys[i]) == 0) {
      if (*seen & (1u << i)) return false;
      *seen |= 1u << i;
      *which = i;
      return true;
    }
  return false;
}

/* After a member: ',' (another follows) or '}' (done, *more false). */
static bool rd_next(rd *r, char close, bool *more) {
  rd_ws(r);
  if (r->p >= r->end) return false;
  char c = *r->p++;
  *more = c == ',';
  return c == ',' || c == close;
}

static bool rd_image(rd *r, attest_inv_image *img) {
  static const char *const keys[] = {"disk", "sha256", NULL};
  char hex[ATTEST_DIGEST_LEN * 2 + 1];
  unsigned seen = 0;
  bool more = true;
  int k;
  if (!rd_ch(r, '{')) return false;
  while (more) {
    if (!rd_key(r, keys, &seen, &k)) return false;
    if (!(k == 0 ? rd_str(r, img->disk, sizeof img->disk) : rd_str(r, hex, sizeof hex))) return false;
    if (!rd_next(r, '}', &more)) return false;
  }
  if (seen != 3u || !img->disk[0] || strlen(hex) != sizeof hex - 1) return false;
  for (size_t i = 0; hex[i]; i++)
    if (!is_lower_hex(hex[i])) return false;
  return lisec_hex_decode(hex, img->sha256, sizeof img->sha256) == 0;
}

static bool rd_iface(rd *r, attest_inv_iface *f) {
  static const char *const keys[] = {"mac", "type", "source", "target", NULL};
  char type[16];
  unsigned seen = 0;
  bool more = true, ok;
  int k;
  if (!rd_ch(r, '{')) return false;
  while (more) {
    if (!rd_key(r, keys, &seen, &k)) return false;
    if (k == 0) ok = rd_str(r, f->mac, sizeof f->mac);
    else if (k == 1) ok = rd_str(r, type, sizeof type);
    else ok = rd_str_or_null(r, k == 2 ? f->source : f->target, sizeof f->source);
    if (!ok || !rd_next(r, '}', &more)) return false;
  }
  return seen == 15u && mac_ok(f->mac) && (f->type = name_index(type, iface_types, 4)) >= 0;
}

/* An array of at most max elements of size sz, each read by one; *out is a
 * new array of exactly *n elements (NULL when empty). */
static bool rd_array(rd *r, size_t max, size_t sz, bool (*one)(rd *, void *), void **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!rd_ch(r, '[')) return false;
  if (rd_ch(r, ']')) return true;
  size_t cap = 0;
  bool more = true;
  while (more) {
    if (*n == max) return false;
    if (*n == cap) {
      cap = cap ? 2 * cap : 4;
      if (cap > max) cap = max;
      void *g = realloc(*out, cap * sz);
      if (!g) return false;
      *out = g;
    }
    void *e = (char *)*out + *n * sz;
    memset(e, 0, sz);
    (*n)++;
    if (!one(r, e) || !rd_next(r, ']', &more)) return false;
  }
  return true;
}

static bool rd_image_v(rd *r, void *e) { return rd_image(r, e); }
static bool rd_iface_v(rd *r, void *e) { return rd_iface(r, e); }

static bool rd_domain(rd *r, attest_inv_domain *d) {
  static const char *const keys[] = {"uuid", "vm", "package", "state", "images", "interfaces", NULL};
  char state[16];
  unsigned seen = 0;
  bool more = true, ok;
  int k;
  if (!rd_ch(r, '{')) return false;
  while (more) {
    if (!rd_key(r, keys, &seen, &k)) return false;
    void *arr;
    switch (k) {
      case 0: ok = rd_str(r, d->uuid, sizeof d->uuid); break;
      case 1: ok = rd_id_or_null(r, d->vm, sizeof d->vm); break;
      case 2: ok = rd_id_or_null(r, d->package, sizeof d->package); break;
      case 3: ok = rd_str(r, state, sizeof state); break;
      case 4:
        ok = rd_array(r, ATTEST_INV_DISKS_MAX, sizeof *d->images, rd_image_v, &arr, &d->n_images);
        d->images = arr;
        break;
      default:
        ok = rd_array(r, ATTEST_INV_IFACES_MAX, sizeof *d->ifaces, rd_iface_v, &arr, &d->n_ifaces);
        d->ifaces = arr;
    }
    if (!ok || !rd_next(r, '}', &more)) return false;
  }
  return seen == 63u && uuid_ok(d->uuid) && (d->state = name_index(state, state_names, 5)) >= 0;
}

static bool rd_doc(rd *r, size_t max_domains, attest_inventory *out) {
  static const char *const keys[] = {"version", "host", "taken_at", "domains", NULL};
  unsigned seen = 0;
  bool more = true, ok;
  int64_t version = 0;
  int k;
  if (!rd_ch(r, '{')) return false;
  while (more) {
    if (!rd_key(r, keys, &seen, &k)) return false;
    if (k == 0) {
      ok = rd_uint(r, &version) && version == 1;
    } else if (k == 1) {
      ok = rd_str(r, out->host, sizeof out->host) && out->host[0];
    } else if (k == 2) {
      ok = rd_uint(r, &out->taken_at);
    } else {
      ok = rd_ch(r, '[');
      size_t cap = 0;
      bool dmore = ok && !rd_ch(r, ']');
      while (ok && dmore) {
        if (out->n == max_domains) return false;
        if (out->n == cap) {
          cap = cap ? 2 * cap : 32;
          if (cap > max_domains) cap = max_domains;
          attest_inv_domain *g = realloc(out->domains, cap * sizeof *g);
          if (!g) return false;
          out->domains = g;
        }
        attest_inv_domain *d = &out->domains[out->n++];
        memset(d, 0, sizeof *d);
        rd_ws(r);
        ok = rd_domain(r, d) && rd_next(r, ']', &dmore);
      }
    }
    if (!ok || !rd_next(r, '}', &more)) return false;
  }
  rd_ws(r);
  return seen == 15u && r->p == r->end;
}

static bool inventory_read(const char *bytes, size_t len, size_t max_domains, attest_inventory *out) {
  rd r = {bytes, bytes + len};
  if (rd_doc(&r, max_domains, out) && check_unique(out, &(lisec_err){0}) == 0)
    return true;
  attest_inventory_free(out);
  return false;
}

int attest_inventory_parse(const char *bytes, size_t len, size_t max_bytes, size_t max_domains,
                           attest_inventory *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!max_bytes) max_bytes = ATTEST_INV_MAX_BYTES;
  if (!max_domains) max_domains = ATTEST_INV_MAX_DOMAINS;
  if (!bytes) return lisec_err_set(err, LISEC_EINVAL, "inventory: no bytes");
  if (len > max_bytes)
    return lisec_err_set(err, LISEC_ETOOBIG, "inventory: %zu bytes, more than the %zu allowed", len,
                         max_bytes);
  if (inventory_read(bytes, len, max_domains, out)) return 0;
  json_t *root = NULL;
  int rc = lisec_json_parse(bytes, len, &root, err);
  if (rc) return lisec_err_wrap(err, "inventory"), rc;
  rc = parse_doc(root, max_domains, out, err);
  json_decref(root);
  if (rc) attest_inventory_free(out);
  return rc;
}
