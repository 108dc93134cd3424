/* libFuzzer harness: X1 requests and responses as they arrive from the
 * network, through parsing, schema validation and field extraction, and the
 * NE library's whole answer (containers of several messages included), and
 * the GetAll lists read into bounded arrays. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lisec/x1.h"
#include "x1/x1.h"

static x1_request reqs[X1_MAX_MESSAGES];
static x1_response resp;
/* small lists, so the bounds of the GetAll readers are met */
static x1_task tasks[2];
static x1_destination dests[2];
static x1_object objects[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lisec_x1_ne *ne;
  if (!ne) ne = lisec_x1_ne_new("poi-1", "admf-1", NULL, NULL);
  x1_request req;
  lisec_err err;
  size_t n;
  x1_request_parse((const char *)data, size, &req, &err);
  x1_request_parse_all((const char *)data, size, reqs, X1_MAX_MESSAGES, &n, &err);
  x1_response_parse((const char *)data, size, &resp, &err);
  x1_response_parse_lists((const char *)data, size, &resp, tasks, 2, dests, 2, objects, 2, &err);
  char *out = NULL;
  size_t len = 0;
  if (lisec_x1_ne_handle(ne, "admf-1", (const char *)data, size, &out, &len) == 0) free(out);
  return 0;
}
