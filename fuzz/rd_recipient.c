/* libFuzzer harness: the RD VM's public key as lisecd receives it with a
 * data key request (model/rd_recipient.c), at most 4096 bytes. Whatever it
 * accepts must be an uncompressed P-256 point that encodes back to a PEM
 * which parses to the same point; anything else is refused naming
 * TR103308-5.7-RD-WRAP. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/rd_recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  lisec_err err = {0};
  uint8_t pt[MODEL_RD_POINT_LEN], again[MODEL_RD_POINT_LEN];
  if (model_rd_recipient_parse((const char *)data, size, pt, &err) != 0) {
    if (!strstr(err.msg, MODEL_REQ_RD_WRAP)) abort();
    return 0;
  }
  if (pt[0] != 0x04) abort();
  char *pem = NULL;
  if (model_rd_point_pem(pt, &pem, &err) != 0) abort();
  if (model_rd_recipient_parse(pem, strlen(pem), again, &err) != 0 || memcmp(pt, again, sizeof pt) != 0) abort();
  free(pem);
  return 0;
}
