/* libFuzzer harness: the NE library's task file (lisec-ne --state), as a
 * damaged or hand-edited file may hold it: loaded whole or refused, never
 * read past a bound, and what was loaded saved again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lisec/x1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lisec_x1_ne *ne;
  if (!ne) ne = lisec_x1_ne_new("poi-1", "admf-1", NULL, NULL);
  lisec_x1_ne_load(ne, (const char *)data, size);
  char *out = NULL;
  size_t len = 0;
  if (lisec_x1_ne_save(ne, &out, &len) == 0) free(out);
  return 0;
}
