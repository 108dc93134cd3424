/* Fuzzes the parser of the Merkle frontier stored beside each audit
 * checkpoint (audit/frontier.c), whatever a document row could hold:
 * parsing stays within bounds, and what is accepted is exactly what the
 * formatter writes back (one node per bit of the size, nothing else), so
 * no two texts give one frontier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lisec_err err = {0};
  audit_frontier f;
  if (audit_frontier_parse((const char *)data, size, &f, &err) != 0) return 0;
  if (f.size > AUDIT_SIZE_MAX) abort();
  char *text = NULL;
  if (audit_frontier_format(&f, &text, &err) != 0) abort();
  if (strlen(text) != size || memcmp(text, data, size) != 0) abort();
  uint8_t root[AUDIT_HASH_LEN];
  audit_frontier_root(&f, root);
  free(text);
  return 0;
}
