/* libFuzzer harness: target identifier lists as the API receives them, and
 * the stored (sealed) form read back from a database row. */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL;
  lisec_err err;
  if (lisec_json_parse((const char *)data, size, &v, &err) != 0) return 0;
  vault_identifiers_check(json_is_array(v) ? v : json_object_get(v, "identifiers"), &err);
  vault_sealed s;
  if (vault_sealed_from_json(v, &s, &err) == 0) vault_sealed_free(&s);
  json_decref(v);
  return 0;
}
