/* The SOL 004 manifest (.mf): the metadata block, one Source / Algorithm /
 * Hash block per artifact (with Signature / Certificate when the artifact
 * is signed on its own), an optional non_mano_artifact_sets section, and
 * the vendor's CMS signature at the end. The parser is strict where a
 * lenient reading would let two tools disagree about what was signed:
 * unknown keys, duplicates (found in a keyed hash set, so a manifest of
 * 10,000 sources is not 50 million comparisons), a hash of the wrong length
 * and anything after the signature are refused. Also the writer that `lisec pkg sign` uses.
 * Bounded and fuzzed (fuzz/pkg_manifest.c). */
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

static const char *const alg_names[] = {"SHA-256", "SHA-384", "SHA-512"};
static const size_t alg_lens[] = {32, 48, 64};

const char *pkg_alg_name(pkg_alg a) { return (unsigned)a < 3 ? alg_names[a] : "?"; }
size_t pkg_alg_len(pkg_alg a) { return (unsigned)a < 3 ? alg_lens[a] : 0; }

int pkg_alg_parse(const char *name, pkg_alg *out) {
  for (unsigned i = 0; i < 3; i++)
    if (strcasecmp(name, alg_names[i]) == 0) {
      *out = (pkg_alg)i;
      return 0;
    }
  return LISEC_EINVAL;
}

void pkg_manifest_free(pkg_manifest *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n_metadata; i++) {
    free(m->metadata[i].key);
    free(m->metadata[i].value);
  }
  free(m->metadata);
  for (size_t i = 0; i < m->n_entries; i++) {
    free(m->entries[i].source);
    free(m->entries[i].signature);
    free(m->entries[i].certificate);
  }
  free(m->entries);
  free(m->cms_pem);
  memset(m, 0, sizeof *m);
}

const char *pkg_manifest_meta(const pkg_manifest *m, const char *key) {
  for (size_t i = 0; i < m->n_metadata; i++)
    if (strcmp(m->metadata[i].key, key) == 0) return m->metadata[i].value;
  return NULL;
}

typedef struct mparse {
  pkg_manifest *m;
  size_t cap_meta, cap_entries;
  pkg_manifest_entry *cur; /* the Source block being read */
  pkg_nameset sources;     /* the Source names so far, for duplicates */
  bool has_alg, has_hash;
  size_t lineno;
  lisec_err *err;
} mparse;

static int fail(mparse *p, int code, const char *what) {
  return lisec_err_set(p->err, code, "SOL004: manifest line %zu: %s", p->lineno, what);
}

static int add_meta(mparse *p, const char *key, const char *value) {
  if (pkg_manifest_meta(p->m, key)) return fail(p, LISEC_EINVAL, "metadata name given twice");
  if (p->m->n_metadata >= PKG_METADATA_MAX) return fail(p, LISEC_ETOOBIG, "too many metadata entries");
  if (p->m->n_metadata == p->cap_meta) {
    size_t cap = p->cap_meta ? 2 * p->cap_meta : 8;
    pkg_kv *n = realloc(p->m->metadata, cap * sizeof *n);
    if (!n) return fail(p, LISEC_ENOMEM, "out of memory");
    p->m->metadata = n;
    p->cap_meta = cap;
  }
  pkg_kv *kv = &p->m->metadata[p->m->n_metadata];
  kv->key = strdup(key);
  kv->value = strdup(value);
  if (!kv->key || !kv->value) {
    free(kv->key);
    free(kv->value);
    return fail(p, LISEC_ENOMEM, "out of memory");
  }
  p->m->n_metadata++;
  return 0;
}

/* Closes the Source block being read: it needs exactly its Algorithm and
 * Hash, and a Hash as long as its Algorithm's digest. */
static int end_block(mparse *p) {
  if (!p->cur) return 0;
  pkg_manifest_entry *e = p->cur;
  p->cur = NULL;
  if (!p->has_alg || !p->has_hash)
    return lisec_err_set(p->err, LISEC_EINVAL, "SOL004: manifest: Source '%.128s' has no %s",
                         e->source, p->has_alg ? "Hash" : "Algorithm");
  if (e->digest_len != pkg_alg_len(e->alg))
    return lisec_err_set(p->err, LISEC_EINVAL,
                         "SOL004: manifest: Source '%.128s': the Hash is not a %s digest",
                         e->source, pkg_alg_name(e->alg));
  return 0;
}

static int start_block(mparse *p, const char *source) {
  int rc = end_block(p);
  if (rc) return rc;
  if (strstr(source, "://"))
    return lisec_err_set(p->err, LISEC_EDENIED,
                         "TR103308-4.2: manifest lists the external artifact '%.128s', which "
                         "cannot be verified at on-boarding",
                         source);
  rc = pkg_path_check(source, false, p->err);
  if (rc) {
    lisec_err_wrap(p->err, "SOL004: manifest line %zu: Source", p->lineno);
    return rc;
  }
  if (pkg_nameset_get(&p->sources, source, NULL))
    return lisec_err_set(p->err, LISEC_EINVAL, "SOL004: manifest lists '%.128s' twice", source);
  if (p->m->n_entries >= PKG_MANIFEST_ENTRIES_MAX) return fail(p, LISEC_ETOOBIG, "too many Source entries");
  if (p->m->n_entries == p->cap_entries) {
    size_t cap = p->cap_entries ? 2 * p->cap_entries : 16;
    pkg_manifest_entry *n = realloc(p->m->entries, cap * sizeof *n);
    if (!n) return fail(p, LISEC_ENOMEM, "out of memory");
    p->m->entries = n;
    p->cap_entries = cap;
  }
  pkg_manifest_entry *e = &p->m->entries[p->m->n_entries];
  memset(e, 0, sizeof *e);
  e->source = strdup(source);
  if (!e->source) return fail(p, LISEC_ENOMEM, "out of memory");
  p->m->n_entries++;
  if (pkg_nameset_add(&p->sources, e->source, p->m->n_entries - 1) < 0)
    return fail(p, LISEC_ENOMEM, "out of memory");
  p->cur = e;
  p->has_alg = p->has_hash = false;
  return 0;
}

static int hex_digest(const char *v, uint8_t *out, size_t *len) {
  size_t n = strlen(v);
  if (n == 0 || n % 2 || n / 2 > PKG_DIGEST_MAX) return LISEC_EINVAL;
  if (lisec_hex_decode(v, out, n / 2)) return LISEC_EINVAL;
  *len = n / 2;
  return 0;
}

static int block_field(mparse *p, const char *key, const char *value) {
  pkg_manifest_entry *e = p->cur;
  if (strcmp(key, "Algorithm") == 0) {
    if (p->has_alg) return fail(p, LISEC_EINVAL, "Algorithm given twice");
    if (pkg_alg_parse(value, &e->alg))
      return fail(p, LISEC_EINVAL, "Algorithm is not SHA-256, SHA-384 or SHA-512");
    p->has_alg = true;
    return 0;
  }
  if (strcmp(key, "Hash") == 0) {
    if (p->has_hash) return fail(p, LISEC_EINVAL, "Hash given twice");
    if (hex_digest(value, e->digest, &e->digest_len)) return fail(p, LISEC_EINVAL, "Hash is not hex");
    p->has_hash = true;
    return 0;
  }
  char **slot = strcmp(key, "Signature") == 0     ? &e->signature
                : strcmp(key, "Certificate") == 0 ? &e->certificate
                                                  : NULL;
  if (!slot) return fail(p, LISEC_EINVAL, "unknown name in a Source block");
  if (*slot) return fail(p, LISEC_EINVAL, "Signature or Certificate given twice");
  int rc = pkg_path_check(value, false, p->err);
  if (rc) {
    lisec_err_wrap(p->err, "SOL004: manifest line %zu: %s", p->lineno, key);
    return rc;
  }
  *slot = strdup(value);
  return *slot ? 0 : fail(p, LISEC_ENOMEM, "out of memory");
}

static bool is_begin(const char *line, size_t n) {
  return (n == 19 && memcmp(line, "-----BEGIN CMS-----", 19) == 0) ||
         (n == 21 && memcmp(line, "-----BEGIN PKCS7-----", 21) == 0);
}
static bool is_end(const char *line, size_t n) {
  return (n == 17 && memcmp(line, "-----END CMS-----", 17) == 0) ||
         (n == 19 && memcmp(line, "-----END PKCS7-----", 19) == 0);
}

enum { S_START, S_META, S_BODY, S_NONMANO, S_CMS, S_AFTER };

int pkg_manifest_parse(const uint8_t *data, size_t len, pkg_manifest *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (len > PKG_MANIFEST_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "SOL004: manifest larger than %d bytes",
                         PKG_MANIFEST_MAX);
  char *key = malloc(2 * (PKG_MANIFEST_LINE_MAX + 1));
  if (!key) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char *value = key + PKG_MANIFEST_LINE_MAX + 1;
  mparse p = {.m = out, .err = err};
  if (pkg_nameset_init(&p.sources, 64)) {
    free(key);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  pkg_lines it;
  pkg_lines_init(&it, data, len, PKG_MANIFEST_LINE_MAX);
  int state = S_START, rc = 0;
  size_t cms_start = 0, cms_end = 0;
  const char *line;
  size_t n;
  out->body_len = len;
  for (;;) {
    rc = pkg_lines_next(&it, &line, &n, err);
    if (rc < 0) lisec_err_wrap(err, "SOL004: manifest");
    if (rc <= 0) break;
    rc = 0;
    p.lineno = it.lineno;
    bool blank = n == 0;
    if (state == S_CMS) {
      if (is_end(line, n)) {
        state = S_AFTER;
        cms_end = it.line_start + n;
      }
      continue;
    }
    if (state == S_AFTER) {
      if (!blank) {
        rc = fail(&p, LISEC_EINVAL, "text after the CMS signature");
        break;
      }
      continue;
    }
    if (is_begin(line, n)) {
      if (state == S_START || state == S_META) {
        rc = fail(&p, LISEC_EINVAL, "CMS signature before any Source block");
        break;
      }
      if ((rc = end_block(&p))) break;
      out->body_len = it.line_start;
      cms_start = it.line_start;
      state = S_CMS;
      continue;
    }
    if (state == S_START) {
      if (blank) continue;
      if (n != 9 || memcmp(line, "metadata:", 9) != 0) {
        rc = fail(&p, LISEC_EINVAL, "a manifest starts with 'metadata:'");
        break;
      }
      state = S_META;
      continue;
    }
    if (state == S_NONMANO) {
      if (blank || line[0] == ' ' || line[0] == '\t') continue;
      state = S_BODY; /* a top-level line ends the section */
    }
    if (state == S_META) {
      if (blank) {
        state = S_BODY;
        continue;
      }
      if (line[0] == ' ' || line[0] == '\t' || pkg_split_kv(line, n, key, value)) {
        rc = fail(&p, LISEC_EINVAL, "metadata lines are 'name: value'");
        break;
      }
      if (strcmp(key, "Source") == 0) {
        rc = fail(&p, LISEC_EINVAL, "a blank line must end the metadata block");
        break;
      }
      if ((rc = add_meta(&p, key, value))) break;
      continue;
    }
    /* S_BODY */
    if (blank) {
      if ((rc = end_block(&p))) break;
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t' || pkg_split_kv(line, n, key, value)) {
      rc = fail(&p, LISEC_EINVAL, "expected 'Source: ...' or another 'name: value'");
      break;
    }
    if (strcmp(key, "Source") == 0) {
      if ((rc = start_block(&p, value))) break;
    } else if (strcmp(key, "non_mano_artifact_sets") == 0 && !p.cur && !*value) {
      state = S_NONMANO;
    } else if (!p.cur) {
      rc = fail(&p, LISEC_EINVAL, "a name outside a Source block");
      break;
    } else if ((rc = block_field(&p, key, value))) {
      break;
    }
  }
  free(key);
  pkg_nameset_free(&p.sources);
  if (!rc && state == S_CMS) rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: manifest: CMS block not ended");
  if (!rc && state == S_START) rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: manifest is empty");
  if (!rc) rc = end_block(&p);
  if (!rc && out->n_entries == 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: manifest lists no artifact");
  if (!rc && state == S_AFTER) {
    size_t l = cms_end - cms_start;
    out->cms_pem = malloc(l + 2);
    if (!out->cms_pem) {
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    } else {
      memcpy(out->cms_pem, data + cms_start, l);
      out->cms_pem[l] = '\n';
      out->cms_pem[l + 1] = '\0';
    }
  }
  if (rc) pkg_manifest_free(out);
  return rc;
}

static bool clean_value(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
  return true;
}

int pkg_manifest_build(const pkg_kv *metadata, size_t n_metadata,
                       const pkg_manifest_entry *entries, size_t n_entries, lisec_buf *out,
                       lisec_err *err) {
  int rc = lisec_buf_printf(out, "metadata:\n");
  for (size_t i = 0; i < n_metadata && !rc; i++) {
    if (!clean_value(metadata[i].key) || !clean_value(metadata[i].value) ||
        strchr(metadata[i].key, ':'))
      return lisec_err_set(err, LISEC_EINVAL, "manifest metadata '%.64s' has a control character",
                           metadata[i].key);
    rc = lisec_buf_printf(out, "%s: %s\n", metadata[i].key, metadata[i].value);
  }
  for (size_t i = 0; i < n_entries && !rc; i++) {
    const pkg_manifest_entry *e = &entries[i];
    if (pkg_path_check(e->source, false, err)) return err ? err->code : LISEC_EINVAL;
    if (e->digest_len != pkg_alg_len(e->alg))
      return lisec_err_set(err, LISEC_EINVAL, "digest of '%.128s' has the wrong length", e->source);
    char hex[2 * PKG_DIGEST_MAX + 1];
    lisec_hex_encode(e->digest, e->digest_len, hex);
    rc = lisec_buf_printf(out, "\nSource: %s\nAlgorithm: %s\nHash: %s\n", e->source,
                          pkg_alg_name(e->alg), hex);
    if (!rc && e->signature) rc = lisec_buf_printf(out, "Signature: %s\n", e->signature);
    if (!rc && e->certificate) rc = lisec_buf_printf(out, "Certificate: %s\n", e->certificate);
  }
  if (!rc) rc = lisec_buf_printf(out, "\n");
  if (rc) return lisec_err_set(err, LISEC_ETOOBIG, "manifest larger than its bound");
  return 0;
}
