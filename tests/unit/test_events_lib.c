/* liblisec-events through its exported API only (include/lisec/events.h,
 * the shared library as a VM links it): a key file made 0600 and never
 * overwritten, loaded again; sequence numbers from the state file rise by
 * one and survive a reload, a corrupt state file is refused rather than
 * guessed; an event is signed in its canonical form; bad types, details
 * and a client without TLS material are refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lisec/events.h"

static void test_lib(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-evlib-XXXXXX", key[128], pub[128], st[128], err[LISEC_EVENT_ERR_MAX];
  assert_non_null(mkdtemp(dir));
  snprintf(key, sizeof key, "%s/vm.key", dir);
  snprintf(pub, sizeof pub, "%s/vm.pub", dir);
  snprintf(st, sizeof st, "%s/seq", dir);
  assert_int_equal(lisec_event_key_create(key, pub, err), 0);
  struct stat sb;
  assert_int_equal(stat(key, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(lisec_event_key_create(key, pub, err), -1); /* never overwritten */
  assert_non_null(strstr(err, "exists"));
  lisec_event_key *k = NULL;
  assert_int_equal(lisec_event_key_load(key, &k, err), 0);
  unsigned long long a = 0, b = 0;
  assert_int_equal(lisec_event_seq_next(st, &a, err), 0);
  assert_int_equal(lisec_event_seq_next(st, &b, err), 0);
  assert_int_equal(a, 1);
  assert_int_equal(b, 2);
  char *ev = NULL;
  const char *details[] = {"xid=5e7f", NULL};
  assert_int_equal(lisec_event_sign(k, "vm-li-1", b, 1800000000, "activation", details, &ev, err), 0);
  assert_non_null(strstr(ev, "{\"event\":{\"details\":{\"xid\":\"5e7f\"},\"seq\":2,\"time\":1800000000,"
                             "\"type\":\"activation\",\"v\":1,\"vm\":\"vm-li-1\"},\"sig\":\""));
  free(ev);
  assert_int_equal(lisec_event_sign(k, "vm-li-1", 3, 0, "reboot", NULL, &ev, err), -1);
  const char *bad[] = {"noequals", NULL};
  assert_int_equal(lisec_event_sign(k, "vm-li-1", 3, 0, "error", bad, &ev, err), -1);
  FILE *f = fopen(st, "w");
  fputs("seq x\n", f);
  fclose(f);
  assert_int_equal(lisec_event_seq_next(st, &a, err), -1);
  assert_non_null(strstr(err, "refusing to guess"));
  lisec_event_client *c = NULL;
  assert_int_equal(lisec_event_client_new("http://localhost:1", "ca", "c", "k", &c, err), -1);
  assert_null(c);
  lisec_event_key_free(k);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_lib)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
