/* TOSCA-Metadata/TOSCA.meta (TOSCA CSAR, as ETSI GS NFV-SOL 004 extends it):
 * "Name: value" lines in blocks separated by blank lines. Block 0 says
 * where the entry definitions, the manifest and the signing certificate
 * are; the verifier trusts nothing else in it. Bounded and fuzzed
 * (fuzz/pkg_toscameta.c): this is the first bytes of a package that are
 * parsed. */
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

#define META_KEYS_MAX 64

void pkg_tosca_meta_free(pkg_tosca_meta *m) {
  if (!m) return;
  char **f[] = {&m->meta_version,     &m->csar_version,   &m->created_by,
                &m->entry_definitions, &m->entry_manifest, &m->entry_change_log,
                &m->entry_licenses,   &m->entry_tests,    &m->entry_certificate};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(f); i++) {
    free(*f[i]);
    *f[i] = NULL;
  }
}

typedef struct meta_field {
  const char *key;
  size_t offset;
  int path; /* 0: not a path, 1: a file, 2: a directory */
} meta_field;

static const meta_field fields[] = {
    {"TOSCA-Meta-File-Version", offsetof(pkg_tosca_meta, meta_version), 0},
    {"TOSCA-Meta-Version", offsetof(pkg_tosca_meta, meta_version), 0},
    {"CSAR-Version", offsetof(pkg_tosca_meta, csar_version), 0},
    {"Created-By", offsetof(pkg_tosca_meta, created_by), 0},
    {"Entry-Definitions", offsetof(pkg_tosca_meta, entry_definitions), 1},
    {"ETSI-Entry-Manifest", offsetof(pkg_tosca_meta, entry_manifest), 1},
    {"ETSI-Entry-Change-Log", offsetof(pkg_tosca_meta, entry_change_log), 1},
    {"ETSI-Entry-Licenses", offsetof(pkg_tosca_meta, entry_licenses), 2},
    {"ETSI-Entry-Tests", offsetof(pkg_tosca_meta, entry_tests), 2},
    {"ETSI-Entry-Certificate", offsetof(pkg_tosca_meta, entry_certificate), 1},
};

static bool one_of(const char *v, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (strcmp(v, *allowed) == 0) return true;
  return false;
}

static int meta_block0(pkg_tosca_meta *out, const char *key, const char *value, size_t lineno,
                       lisec_err *err) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(fields); i++) {
    if (strcmp(fields[i].key, key) != 0) continue;
    char **slot = (char **)((char *)out + fields[i].offset);
    if (*slot)
      return lisec_err_set(err, LISEC_EINVAL, "SOL004: TOSCA.meta line %zu: '%s' given twice%s",
                           lineno, key,
                           fields[i].offset == offsetof(pkg_tosca_meta, meta_version)
                               ? " (or with both version names)"
                               : "");
    if (!*value)
      return lisec_err_set(err, LISEC_EINVAL, "SOL004: TOSCA.meta line %zu: '%s' is empty", lineno,
                           key);
    if (fields[i].path) {
      int rc = pkg_path_check(value, fields[i].path == 2, err);
      if (rc) {
        lisec_err_wrap(err, "SOL004: TOSCA.meta %s", key);
        return rc;
      }
    }
    *slot = strdup(value);
    if (!*slot) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return 0;
  }
  return 0; /* other keys (Entry-Events, Other-Definitions, ...) are not used */
}

int pkg_tosca_meta_parse(const uint8_t *data, size_t len, pkg_tosca_meta *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (len > PKG_TOSCA_META_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "SOL004: TOSCA.meta larger than %d bytes",
                         PKG_TOSCA_META_MAX);
  char *key = malloc(2 * (PKG_MANIFEST_LINE_MAX + 1));
  if (!key) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char *value = key + PKG_MANIFEST_LINE_MAX + 1;
  pkg_lines it;
  pkg_lines_init(&it, data, len, PKG_MANIFEST_LINE_MAX);
  size_t block = 0, keys = 0;
  bool in_block = false;
  const char *line;
  size_t n;
  int rc;
  for (;;) {
    rc = pkg_lines_next(&it, &line, &n, err);
    if (rc < 0) lisec_err_wrap(err, "SOL004: TOSCA.meta");
    if (rc <= 0) break;
    rc = 0;
    if (n == 0) {
      if (in_block) block++;
      in_block = false;
      continue;
    }
    in_block = true;
    if (line[0] == ' ' || line[0] == '\t') {
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "SOL004: TOSCA.meta line %zu: continuation lines are not accepted",
                         it.lineno);
      break;
    }
    if (pkg_split_kv(line, n, key, value)) {
      rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: TOSCA.meta line %zu is not 'Name: value'",
                         it.lineno);
      break;
    }
    if (++keys > META_KEYS_MAX) {
      rc = lisec_err_set(err, LISEC_ETOOBIG, "SOL004: TOSCA.meta has more than %d entries",
                         META_KEYS_MAX);
      break;
    }
    if (block == 0 && (rc = meta_block0(out, key, value, it.lineno, err))) break;
  }
  free(key);
  if (rc < 0) {
    pkg_tosca_meta_free(out);
    return rc;
  }
  static const char *const meta_versions[] = {"1.0", "1.1", "2.0", NULL};
  static const char *const csar_versions[] = {"1.0", "1.1", "2.0", NULL};
  const char *missing = !out->meta_version        ? "TOSCA-Meta-File-Version"
                        : !out->csar_version      ? "CSAR-Version"
                        : !out->entry_definitions ? "Entry-Definitions"
                        : !out->entry_manifest    ? "ETSI-Entry-Manifest"
                                                  : NULL;
  if (missing)
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: TOSCA.meta has no %s", missing);
  else if (!one_of(out->meta_version, meta_versions))
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: TOSCA.meta version '%.32s' is not 1.0, 1.1 or 2.0",
                       out->meta_version);
  else if (!one_of(out->csar_version, csar_versions))
    rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: CSAR-Version '%.32s' is not 1.0, 1.1 or 2.0",
                       out->csar_version);
  if (rc) pkg_tosca_meta_free(out);
  return rc;
}
