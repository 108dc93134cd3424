/* libFuzzer harness, differential: the plain-body fast path (api/body.h)
 * against lisec_json_parse. Whatever api_body_plain admits, the general
 * parser must accept; api_body_tree must build a tree exactly when
 * api_body_plain admits, and the same tree (json_equal) the general parser
 * builds. Any difference aborts: the front would admit, or the controller
 * would see, something other than what jansson means. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = malloc(size ? size : 1); /* exactly size bytes: ASan sees overreads */
  memcpy(body, data, size);
  bool plain = api_body_plain(body, size);
  json_t *tree = api_body_tree(body, size);
  json_t *ref = NULL;
  lisec_err err;
  int rc = lisec_json_parse(body, size, &ref, &err);
  if (plain && rc != 0) abort();
  if (plain != (tree != NULL)) abort();
  if (tree && !json_equal(tree, ref)) abort();
  json_decref(tree);
  json_decref(ref);
  free(body);
  return 0;
}
