/* The pods the admission webhook admitted for lisec's scheduler, until
 * their bindings (ctl/k8s_pods.c): a pod's VM is found by its name, and by
 * its uid when both the binding and the admission gave one (another pod of
 * that name is not it); admitting a pod again replaces what it named and
 * makes it the newest; beyond the bound the oldest is forgotten, never a
 * newer one; a VM that does not fit the caller's buffer is not returned
 * cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/model_k8s_pods.h"

static void test_name_and_uid(void **st) {
  (void)st;
  ctl_k8s_pods *p = ctl_k8s_pods_new(8);
  char vm[65];
  assert_true(ctl_k8s_pods_put(p, "core/a", "uid-a", "vm-1"));
  assert_true(ctl_k8s_pods_put(p, "core/b", NULL, "vm-2"));
  assert_true(ctl_k8s_pods_get(p, "core/a", "uid-a", vm, sizeof vm));
  assert_string_equal(vm, "vm-1");
  assert_true(ctl_k8s_pods_get(p, "core/a", NULL, vm, sizeof vm)); /* a binding without uid */
  assert_false(ctl_k8s_pods_get(p, "core/a", "uid-other", vm, sizeof vm));
  assert_true(ctl_k8s_pods_get(p, "core/b", "uid-any", vm, sizeof vm)); /* admitted without one */
  assert_string_equal(vm, "vm-2");
  assert_false(ctl_k8s_pods_get(p, "core/c", NULL, vm, sizeof vm));
  assert_false(ctl_k8s_pods_get(p, "other/a", "uid-a", vm, sizeof vm));
  /* admitted again (a new pod of that name): the newest word counts */
  assert_true(ctl_k8s_pods_put(p, "core/a", "uid-a2", "vm-3"));
  assert_false(ctl_k8s_pods_get(p, "core/a", "uid-a", vm, sizeof vm));
  assert_true(ctl_k8s_pods_get(p, "core/a", "uid-a2", vm, sizeof vm));
  assert_string_equal(vm, "vm-3");
  /* too long for the buffer: not returned, not cut */
  memset(vm, 'x', sizeof vm);
  assert_false(ctl_k8s_pods_get(p, "core/a", NULL, vm, 4));
  assert_int_equal(vm[0], 'x');
  ctl_k8s_pods_free(p);
  ctl_k8s_pods_free(NULL);
}

static void test_bound_oldest_first(void **st) {
  (void)st;
  ctl_k8s_pods *p = ctl_k8s_pods_new(3);
  char vm[65], pod[32];
  for (int i = 0; i < 3; i++) {
    snprintf(pod, sizeof pod, "core/p%d", i);
    assert_true(ctl_k8s_pods_put(p, pod, NULL, "vm-1"));
  }
  /* p0 admitted again: the newest, so p1 is the oldest */
  assert_true(ctl_k8s_pods_put(p, "core/p0", NULL, "vm-2"));
  assert_true(ctl_k8s_pods_put(p, "core/p3", NULL, "vm-3"));
  assert_false(ctl_k8s_pods_get(p, "core/p1", NULL, vm, sizeof vm));
  assert_true(ctl_k8s_pods_get(p, "core/p0", NULL, vm, sizeof vm));
  assert_string_equal(vm, "vm-2");
  assert_true(ctl_k8s_pods_get(p, "core/p2", NULL, vm, sizeof vm));
  assert_true(ctl_k8s_pods_get(p, "core/p3", NULL, vm, sizeof vm));
  /* many more: never more than the bound, the newest kept */
  for (int i = 4; i < 1000; i++) {
    snprintf(pod, sizeof pod, "core/p%d", i);
    assert_true(ctl_k8s_pods_put(p, pod, "u", "vm-4"));
  }
  int kept = 0;
  for (int i = 0; i < 1000; i++) {
    snprintf(pod, sizeof pod, "core/p%d", i);
    kept += ctl_k8s_pods_get(p, pod, NULL, vm, sizeof vm);
  }
  assert_int_equal(kept, 3);
  assert_true(ctl_k8s_pods_get(p, "core/p999", "u", vm, sizeof vm));
  assert_true(ctl_k8s_pods_get(p, "core/p997", "u", vm, sizeof vm));
  ctl_k8s_pods_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_name_and_uid),
      cmocka_unit_test(test_bound_oldest_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
