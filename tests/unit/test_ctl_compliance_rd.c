/* What leaves a compliance report before a reader other than the RD
 * administration sees it (ctl_model_compliance_hide_rd, issue 20): every
 * Retained Data row, by its requirement or by its "rd ..." subject, with
 * its rule's count, and "compliant" recomputed from the rows left, so that
 * neither the operator's reply nor the ADMF's record sealed to the LI
 * administration changes with RD state; LI and platform rows stay as they
 * were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include "ctl/model.h"

static json_t *report(const char *text) {
  json_error_t e;
  json_t *r = json_loads(text, 0, &e);
  assert_non_null(r);
  return r;
}

static void test_rd_rows_and_counts_go(void **state) {
  (void)state;
  json_t *r = report("{\"compliant\":false,\"violations\":["
                     "{\"requirement\":\"TR103308-5.8-RD-R1\",\"subject\":\"rd ob-de\"},"
                     "{\"requirement\":\"TR103308-6.2-R3\",\"subject\":\"li li-7\"},"
                     "{\"requirement\":\"TR103308-6.2-R9\",\"subject\":\"rd ob-de\"}],"
                     "\"counts\":{\"TR103308-5.8-RD-R1\":1,\"TR103308-6.2-R3\":1,\"TR103308-6.2-R9\":1}}");
  ctl_model_compliance_hide_rd(r);
  json_t *want = report("{\"compliant\":false,\"violations\":["
                        "{\"requirement\":\"TR103308-6.2-R3\",\"subject\":\"li li-7\"}],"
                        "\"counts\":{\"TR103308-6.2-R3\":1}}");
  assert_true(json_equal(r, want));
  json_decref(want);
  json_decref(r);
}

static void test_only_rd_rows_read_compliant(void **state) {
  (void)state;
  json_t *with_rd = report("{\"compliant\":false,\"violations\":["
                           "{\"requirement\":\"TR103308-5.8-RD-R11\",\"subject\":\"vm rd-vm-1\"}],"
                           "\"counts\":{\"TR103308-5.8-RD-R11\":1}}");
  json_t *without = report("{\"compliant\":true,\"violations\":[],\"counts\":{}}");
  ctl_model_compliance_hide_rd(with_rd);
  ctl_model_compliance_hide_rd(without);
  /* the two platforms differ only in RD state: their reports read the same */
  assert_true(json_equal(with_rd, without));
  assert_true(json_is_true(json_object_get(with_rd, "compliant")));
  json_decref(with_rd);
  json_decref(without);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rd_rows_and_counts_go),
      cmocka_unit_test(test_only_rd_rows_read_compliant),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
