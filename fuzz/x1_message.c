/* libFuzzer harness: X1 requests and responses as they arrive from the
 * network, through parsing, schema validation and field extraction. */
#include <stddef.h>
#include <stdint.h>

#include "x1/x1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  x1_request req;
  x1_response resp;
  lisec_err err;
  x1_request_parse((const char *)data, size, &req, &err);
  x1_response_parse((const char *)data, size, &resp, &err);
  return 0;
}
