/* libFuzzer harness: a whole CSAR as bytes, through libzip and the member
 * checks of csar_zip.c into pkg_inspect (layout, TOSCA.meta, manifest,
 * signer description). Every name that gets through must pass
 * pkg_path_check. Limits are small so a fuzzed header cannot make a run
 * allocate or expand much. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pkg/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pkg_limits lim;
  pkg_limits_default(&lim);
  lim.max_entries = 64;
  lim.max_file_size = 1u << 20;
  lim.max_total_size = 4u << 20;
  pkg_zip *z = NULL;
  lisec_err err;
  if (pkg_zip_open_mem(data, size, &lim, &z, &err) != 0) return 0;
  const pkg_source *src = pkg_zip_source(z);
  for (size_t i = 0; i < src->n_entries; i++)
    if (pkg_path_check(src->entries[i].name, src->entries[i].is_dir, &err) != 0) abort();
  pkg_result *r = NULL;
  if (pkg_inspect(src, &lim, &r, &err) == 0) pkg_result_free(r);
  pkg_zip_close(z);
  return 0;
}
