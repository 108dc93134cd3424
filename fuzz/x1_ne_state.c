/* libFuzzer harness: the NE library's task file (x1/ne.c, lisec_x1_ne_load,
 * lisec-ne --state), as a damaged or hand-edited file may hold it: its
 * tasks (target identifiers), destinations and objects, read back at every
 * start. What is asserted: a document that loads is within the tables'
 * bounds, saves, and what is saved loads again into a second NE and saves
 * to the same bytes (the file written is always one the next start reads,
 * and reads the same). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lisec/x1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lisec_x1_ne *ne, *again;
  if (!ne && (!(ne = lisec_x1_ne_new("poi-1", "admf-1", NULL, NULL)) ||
              !(again = lisec_x1_ne_new("poi-1", "admf-1", NULL, NULL))))
    abort();
  if (lisec_x1_ne_load(ne, (const char *)data, size) != 0) return 0;
  if (lisec_x1_ne_task_count(ne) > 4096) abort(); /* NE_MAX_TASKS */
  char *first = NULL, *second = NULL;
  size_t first_len = 0, second_len = 0;
  if (lisec_x1_ne_save(ne, &first, &first_len) != 0) abort();
  if (lisec_x1_ne_load(again, first, first_len) != 0) abort();
  if (lisec_x1_ne_task_count(again) != lisec_x1_ne_task_count(ne)) abort();
  if (lisec_x1_ne_save(again, &second, &second_len) != 0) abort();
  if (first_len != second_len || memcmp(first, second, first_len) != 0) abort();
  free(first);
  free(second);
  return 0;
}
