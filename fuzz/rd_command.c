/* libFuzzer harness: the RD administration's signed extension command as
 * lisecd receives it (model/rd_command.c), at most 4096 bytes. Whatever
 * parses must be refused, since only the RD administration's key can sign
 * one and a fuzzer has no such key; and nothing may be reported as
 * accepted into *out's counter. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/rd_command.h"

static EVP_PKEY *admin;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!admin && !(admin = EVP_EC_gen("P-256"))) abort();
  lisec_err err = {0};
  model_rd_command c;
  if (model_rd_command_verify(data, size, admin, "ob-de", 0, 1800000000, &c, &err) == 0) abort();
  return 0;
}
