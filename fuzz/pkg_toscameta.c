/* libFuzzer harness: the TOSCA.meta parser. A file that parses must name
 * its entry definitions and manifest with paths that pass pkg_path_check,
 * and a version lisec accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pkg_tosca_meta m;
  lisec_err err;
  if (pkg_tosca_meta_parse(data, size, &m, &err) != 0) return 0;
  if (!m.entry_definitions || !m.entry_manifest || !m.meta_version || !m.csar_version) abort();
  if (pkg_path_check(m.entry_definitions, false, &err) != 0) abort();
  if (pkg_path_check(m.entry_manifest, false, &err) != 0) abort();
  if (m.entry_certificate && pkg_path_check(m.entry_certificate, false, &err) != 0) abort();
  pkg_tosca_meta_free(&m);
  return 0;
}
