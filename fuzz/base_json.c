/* libFuzzer harness: the bounded JSON entry point every API body goes
 * through, and the field getters on whatever it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL;
  lisec_err err;
  if (lisec_json_parse((const char *)data, size, &v, &err) == 0) {
    const char *s;
    int64_t i;
    bool b;
    lisec_json_get_str(v, "id", false, 64, &s, &err);
    lisec_json_get_int(v, "version", false, 0, 100, &i, &err);
    lisec_json_get_bool(v, "li", false, &b, &err);
    char *c = lisec_json_dump_canonical(v);
    free(c);
    json_decref(v);
  }
  return 0;
}
