/* What leaves a compliance report before a reader other than the LI
 * administration sees it (ctl_model_compliance_hide_li, review of
 * 2026-12-06): every row of an LI rule (R1-R11, KNOWN, STORE) and every
 * row whose subject is an LI or a paired LI VM (the LI lock, a revoked
 * signer of an LI VM's package), each with its count, and "compliant"
 * recomputed from the rows left; platform rows, and those of rules that
 * are not about LI whatever their subject, stay as they were. Two
 * platforms that differ only in the LI's state read the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <jansson.h>

#include "ctl/model.h"

static json_t *report(const char *text) {
  json_error_t e;
  json_t *r = json_loads(text, 0, &e);
  assert_non_null(r);
  return r;
}

static void test_li_rows_and_counts_go(void **state) {
  (void)state;
  json_t *r = report("{\"compliant\":false,\"violations\":["
                     "{\"requirement\":\"TR103308-6.2-R1\",\"subject\":\"vm vm-target\"},"
                     "{\"requirement\":\"TR103308-6.2-R8\",\"subject\":\"li li-7\"},"
                     "{\"requirement\":\"TR103308-4.2-KNOWN\",\"subject\":\"vm vm-x\"},"
                     "{\"requirement\":\"TR103308-4.2-STORE\",\"subject\":\"li li-7\"},"
                     "{\"requirement\":\"TR103308-4.1-LOCK\",\"subject\":\"li-vm vm-li\"},"
                     "{\"requirement\":\"TR103308-4.1-REVOKED\",\"subject\":\"li-vm vm-li\"},"
                     "{\"requirement\":\"TR103308-4.1-REVOKED\",\"subject\":\"vm vm-a\"},"
                     "{\"requirement\":\"TR103308-6.2-MOVE2\",\"subject\":\"host h-1\"},"
                     "{\"requirement\":\"TR103308-4.2-IMAGE\",\"subject\":\"vm vm-li\"}],"
                     "\"counts\":{\"TR103308-6.2-R1\":1,\"TR103308-6.2-R8\":1,\"TR103308-4.2-KNOWN\":1,"
                     "\"TR103308-4.2-STORE\":1,\"TR103308-4.1-LOCK\":1,\"TR103308-4.1-REVOKED\":2,"
                     "\"TR103308-6.2-MOVE2\":1,\"TR103308-4.2-IMAGE\":1}}");
  ctl_model_compliance_hide_li(r);
  json_t *want = report("{\"compliant\":false,\"violations\":["
                        "{\"requirement\":\"TR103308-4.1-REVOKED\",\"subject\":\"vm vm-a\"},"
                        "{\"requirement\":\"TR103308-6.2-MOVE2\",\"subject\":\"host h-1\"},"
                        "{\"requirement\":\"TR103308-4.2-IMAGE\",\"subject\":\"vm vm-li\"}],"
                        "\"counts\":{\"TR103308-4.1-REVOKED\":1,\"TR103308-6.2-MOVE2\":1,"
                        "\"TR103308-4.2-IMAGE\":1}}");
  char *got = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
  if (!json_equal(r, want)) fail_msg("got %s", got);
  free(got);
  json_decref(want);
  json_decref(r);
}

/* An LI rule's count with no row left (counted otherwise than by rows)
 * goes too: neither an LI rule id nor a number of LI violations is left. */
static void test_li_count_without_row_goes(void **state) {
  (void)state;
  json_t *r = report("{\"compliant\":false,\"violations\":[],"
                     "\"counts\":{\"TR103308-6.2-R11\":2,\"TR103308-7-O.1.3\":1}}");
  ctl_model_compliance_hide_li(r);
  json_t *want = report("{\"compliant\":true,\"violations\":[],\"counts\":{\"TR103308-7-O.1.3\":1}}");
  assert_true(json_equal(r, want));
  json_decref(want);
  json_decref(r);
}

/* A host running a VM an LI monitors loses its trust: R1 (its location is
 * voided) and R8 appear; its twin's loss adds nothing. Both read the same. */
static void test_loss_of_trust_reads_as_the_twins(void **state) {
  (void)state;
  json_t *monitored = report("{\"compliant\":false,\"violations\":["
                             "{\"requirement\":\"TR103308-6.2-R1\",\"subject\":\"vm vm-target\"},"
                             "{\"requirement\":\"TR103308-6.2-R8\",\"subject\":\"li li-fi-1\"},"
                             "{\"requirement\":\"TR103308-7-O.1.3\",\"subject\":\"host h-3\"}],"
                             "\"counts\":{\"TR103308-6.2-R1\":1,\"TR103308-6.2-R8\":1,\"TR103308-7-O.1.3\":1}}");
  json_t *twin = report("{\"compliant\":false,\"violations\":["
                        "{\"requirement\":\"TR103308-7-O.1.3\",\"subject\":\"host h-3\"}],"
                        "\"counts\":{\"TR103308-7-O.1.3\":1}}");
  ctl_model_compliance_hide_li(monitored);
  ctl_model_compliance_hide_li(twin);
  assert_true(json_equal(monitored, twin));
  json_decref(monitored);
  json_decref(twin);
  /* and only LI rows: compliant for the reader */
  json_t *only = report("{\"compliant\":false,\"violations\":["
                        "{\"requirement\":\"TR103308-6.2-R3\",\"subject\":\"vm vm-store\"}],"
                        "\"counts\":{\"TR103308-6.2-R3\":1}}");
  ctl_model_compliance_hide_li(only);
  assert_true(json_is_true(json_object_get(only, "compliant")));
  assert_int_equal(json_object_size(json_object_get(only, "counts")), 0);
  json_decref(only);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_li_rows_and_counts_go),
      cmocka_unit_test(test_li_count_without_row_goes),
      cmocka_unit_test(test_loss_of_trust_reads_as_the_twins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
