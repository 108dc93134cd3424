/* libFuzzer harness: the bounded JSON entry point every API body goes
 * through, and the field getters on whatever it accepts. Asserted: the
 * getters keep their bounds, and the canonical form (what is hashed and
 * signed) reads back as the same document and writes the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL;
  lisec_err err;
  if (lisec_json_parse((const char *)data, size, &v, &err) == 0) {
    const char *s;
    int64_t i;
    bool b;
    if (lisec_json_get_str(v, "id", false, 64, &s, &err) == 0 && s && strlen(s) > 64) abort();
    if (lisec_json_get_int(v, "version", false, 0, 100, &i, &err) == 0 && json_object_get(v, "version") &&
        !json_is_null(json_object_get(v, "version")) && (i < 0 || i > 100))
      abort();
    lisec_json_get_bool(v, "li", false, &b, &err);
    /* the canonical text reads back as the same document and is a fixed point */
    char *c = lisec_json_dump_canonical(v);
    json_t *again = NULL;
    if (!c || lisec_json_parse(c, strlen(c), &again, &err) != 0 || !json_equal(v, again)) abort();
    char *c2 = lisec_json_dump_canonical(again);
    if (!c2 || strcmp(c, c2) != 0) abort();
    free(c);
    free(c2);
    json_decref(again);
    json_decref(v);
  }
  return 0;
}
