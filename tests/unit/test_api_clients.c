/* Unit tests of the front's per-client connection counts (api/clients.c):
 * a client holds up to its limit and is refused past it while another
 * client is counted on its own; a connection given back makes room again;
 * a client whose last connection closed starts from nothing; many clients
 * sharing a small table's buckets are each counted apart; threads taking
 * and giving back at once leave every count at zero. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/clients.h"

static void id_of(uint8_t id[API_CLIENT_ID_LEN], unsigned n) {
  memset(id, 0, API_CLIENT_ID_LEN);
  /* the same first bytes (one bucket) and different last ones */
  id[API_CLIENT_ID_LEN - 1] = (uint8_t)n;
  id[API_CLIENT_ID_LEN - 2] = (uint8_t)(n >> 8);
}

static void test_limit_per_client(void **state) {
  (void)state;
  api_clients *t = api_clients_new(3, 64);
  assert_non_null(t);
  assert_int_equal(api_clients_limit(t), 3);
  uint8_t a[API_CLIENT_ID_LEN], b[API_CLIENT_ID_LEN];
  id_of(a, 1);
  id_of(b, 2);
  api_client *held[3], *e = NULL, *other = NULL;
  for (int i = 0; i < 3; i++) assert_int_equal(api_clients_take(t, a, &held[i]), 0);
  e = NULL;
  assert_int_equal(api_clients_take(t, a, &e), 1);
  assert_null(e);
  assert_int_equal(api_clients_take(t, b, &other), 0); /* another client: its own count */
  api_clients_give(t, held[1]);
  assert_int_equal(api_clients_take(t, a, &held[1]), 0); /* room again */
  assert_int_equal(api_clients_take(t, a, &e), 1);
  for (int i = 0; i < 3; i++) api_clients_give(t, held[i]);
  /* its last closed: it starts from nothing */
  for (int i = 0; i < 3; i++) assert_int_equal(api_clients_take(t, a, &held[i]), 0);
  for (int i = 0; i < 3; i++) api_clients_give(t, held[i]);
  api_clients_give(t, other);
  api_clients_free(t);
}

static void test_many_clients_one_bucket(void **state) {
  (void)state;
  enum { N = 300 };
  api_clients *t = api_clients_new(2, 0); /* the smallest table: all in one bucket */
  assert_non_null(t);
  static api_client *held[N][2];
  uint8_t id[API_CLIENT_ID_LEN];
  for (unsigned i = 0; i < N; i++) {
    id_of(id, i);
    assert_int_equal(api_clients_take(t, id, &held[i][0]), 0);
    assert_int_equal(api_clients_take(t, id, &held[i][1]), 0);
    api_client *e;
    assert_int_equal(api_clients_take(t, id, &e), 1);
  }
  /* closing every other client's connections frees only theirs */
  for (unsigned i = 0; i < N; i += 2) {
    api_clients_give(t, held[i][0]);
    api_clients_give(t, held[i][1]);
  }
  for (unsigned i = 0; i < N; i++) {
    id_of(id, i);
    api_client *e;
    assert_int_equal(api_clients_take(t, id, &e), i % 2 ? 1 : 0);
    if (i % 2 == 0) api_clients_give(t, e);
  }
  for (unsigned i = 1; i < N; i += 2) {
    api_clients_give(t, held[i][0]);
    api_clients_give(t, held[i][1]);
  }
  api_clients_free(t);
}

enum { ROUNDS = 20000 };
static api_clients *shared;

static void *churn(void *arg) {
  uint8_t id[API_CLIENT_ID_LEN];
  id_of(id, (unsigned)(uintptr_t)arg % 3);
  for (int i = 0; i < ROUNDS; i++) {
    api_client *e;
    int rc = api_clients_take(shared, id, &e);
    if (rc == 0) api_clients_give(shared, e);
    else if (rc != 1) return (void *)1;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  shared = api_clients_new(2, 64);
  assert_non_null(shared);
  pthread_t th[6];
  for (uintptr_t i = 0; i < 6; i++) assert_int_equal(pthread_create(&th[i], NULL, churn, (void *)i), 0);
  for (int i = 0; i < 6; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_null(r);
  }
  /* every count back at zero: each client takes its whole limit again */
  uint8_t id[API_CLIENT_ID_LEN];
  for (unsigned k = 0; k < 3; k++) {
    id_of(id, k);
    api_client *x, *y, *z;
    assert_int_equal(api_clients_take(shared, id, &x), 0);
    assert_int_equal(api_clients_take(shared, id, &y), 0);
    assert_int_equal(api_clients_take(shared, id, &z), 1);
    api_clients_give(shared, x);
    api_clients_give(shared, y);
  }
  api_clients_free(shared);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit_per_client),
      cmocka_unit_test(test_many_clients_one_bucket),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
