/* libFuzzer harness: topology documents as `lisec model check` and the API
 * read them. A document that loads is then evaluated in full, listed, and
 * asked a move, a placement and a storage question, so the rules, the
 * renderer and the decision undo run on whatever the parser accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/model.h"

static const char *nth_id(const json_t *root, const char *array, size_t i) {
  const json_t *arr = json_object_get(root, array);
  size_t n = json_array_size(arr);
  return n ? json_string_value(json_object_get(json_array_get(arr, i % n), "id")) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  model *m = NULL;
  lisec_err err;
  if (model_topology_load((const char *)data, size, 1780272000, &m, &err) != 0) return 0;
  model_verdict v;
  if (model_compliance(m, &v) == 0) {
    json_decref(model_verdict_json(&v));
    model_verdict_free(&v);
  }
  json_t *root = NULL;
  if (lisec_json_parse((const char *)data, size, &root, &err) == 0) {
    const char *vm = nth_id(root, "vms", size), *hyp = nth_id(root, "hypervisors", size / 3),
               *st = nth_id(root, "storage", size / 5);
    if (vm && hyp && model_decide_move(m, vm, hyp, &v, &err) == 0) model_verdict_free(&v);
    if (hyp) {
      model_vm_spec s = {.id = "fuzz-new", .hypervisor = hyp, .sensitivity = MODEL_CLASS_LI,
                         .domain = "li"};
      if (model_decide_place(m, &s, &v, &err) == 0) model_verdict_free(&v);
    }
    if (st && vm && model_decide_attach(m, st, vm, &v, &err) == 0) model_verdict_free(&v);
    json_decref(root);
  }
  size_t before = model_violation_count(m);
  model_evaluate_all(m);
  if (model_violation_count(m) != before) __builtin_trap(); /* index drifted */
  model_free(m);
  return 0;
}
