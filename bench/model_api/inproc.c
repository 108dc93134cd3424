/* bench/model_api's in-process figure: the same platform (a topology file)
 * and the same migration questions as the HTTPS run, answered by the model
 * directly, each as lisecd's use case does it (moveVM and the verdict as
 * JSON), timed one by one. Prints p50, p99 and the count of allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s TOPOLOGY.json QUESTIONS\n", argv[0]);
    return 2;
  }
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err err = {0};
  model *m = NULL;
  if (lisec_file_read(argv[1], MODEL_TOPOLOGY_MAX, &buf, &len, &err) ||
      model_topology_load((const char *)buf, len, lisec_time_now(), &m, &err)) {
    fprintf(stderr, "%s: %s\n", argv[1], err.msg);
    free(buf);
    return 2;
  }
  free(buf);
  FILE *q = fopen(argv[2], "r");
  if (!q) {
    perror(argv[2]);
    model_free(m);
    return 2;
  }
  size_t cap = 1 << 20, n = 0, allowed = 0;
  uint64_t *ns = malloc(cap * sizeof *ns);
  char vm[MODEL_ID_MAX + 1], hv[MODEL_ID_MAX + 1];
  while (ns && n < cap && fscanf(q, "%128s %128s", vm, hv) == 2) {
    model_verdict v = {0};
    uint64_t t0 = lisec_time_mono_ns();
    const char *hyp;
    int rc = model_resolve_target(m, hv, &hyp, &err);
    if (!rc) rc = model_decide_move(m, vm, hyp, &v, &err);
    json_t *j = rc ? NULL : model_verdict_json(&v);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    ns[n++] = lisec_time_mono_ns() - t0;
    if (rc) {
      fprintf(stderr, "%s %s: %s\n", vm, hv, err.msg);
      n--;
    }
    allowed += v.allow;
    free(text);
    json_decref(j);
    model_verdict_free(&v);
  }
  fclose(q);
  model_free(m);
  if (!ns || n == 0) {
    free(ns);
    fprintf(stderr, "no questions answered\n");
    return 2;
  }
  qsort(ns, n, sizeof *ns, cmp_u64);
  printf("inproc %zu %zu %.2f %.2f\n", n, allowed, ns[n / 2] / 1e3, ns[(n * 99) / 100] / 1e3);
  free(ns);
  return 0;
}
