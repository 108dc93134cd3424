/* libFuzzer harness: the SOL 004 manifest parser. Besides not crashing, a
 * manifest that parses must keep its invariants (digest lengths match
 * their algorithm, every path passes pkg_path_check, the signed body ends
 * before the signature), its body alone must parse to the same entries,
 * and writing it back with pkg_manifest_build must give a manifest that
 * parses to the same entries and digests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

static void same_entries(const pkg_manifest *a, const pkg_manifest *b) {
  if (a->n_entries != b->n_entries || a->n_metadata != b->n_metadata) abort();
  for (size_t i = 0; i < a->n_entries; i++) {
    const pkg_manifest_entry *x = &a->entries[i], *y = &b->entries[i];
    if (strcmp(x->source, y->source) != 0 || x->alg != y->alg || x->digest_len != y->digest_len ||
        memcmp(x->digest, y->digest, x->digest_len) != 0)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pkg_manifest m;
  lisec_err err;
  if (pkg_manifest_parse(data, size, &m, &err) != 0) return 0;
  if (m.body_len > size || m.n_entries == 0) abort();
  for (size_t i = 0; i < m.n_entries; i++) {
    if (m.entries[i].digest_len != pkg_alg_len(m.entries[i].alg)) abort();
    if (pkg_path_check(m.entries[i].source, false, &err) != 0) abort();
  }
  if (m.cms_pem) {
    pkg_manifest body;
    if (pkg_manifest_parse(data, m.body_len, &body, &err) != 0) abort();
    if (body.cms_pem) abort();
    same_entries(&m, &body);
    pkg_manifest_free(&body);
  }
  lisec_buf b;
  lisec_buf_init(&b, PKG_MANIFEST_MAX);
  if (pkg_manifest_build(m.metadata, m.n_metadata, m.entries, m.n_entries, &b, &err) == 0) {
    pkg_manifest again;
    if (pkg_manifest_parse(b.data, b.len, &again, &err) != 0) abort();
    same_entries(&m, &again);
    pkg_manifest_free(&again);
  }
  lisec_buf_free(&b);
  pkg_manifest_free(&m);
  return 0;
}
