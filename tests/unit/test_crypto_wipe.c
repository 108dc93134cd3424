/* What crypto/ frees must hold no secret it handled: a base64 decode of a
 * secret key (the LI administration's X25519 key in `lisec audit read`,
 * any key a caller keeps in base64) must not leave the key, nor its base64
 * text, in a heap block it gives back. The test links with
 * -Wl,--wrap=free, so every free() that lisec's own static libraries call
 * passes through __wrap_free, which looks into the block before it goes
 * back to the allocator; a block that still holds the secret is counted. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

void __real_free(void *p);
void __wrap_free(void *p);

/* While armed, each freed block is searched for the needles. Not static:
 * the compiler must assume the free() it cannot see (the linker makes it
 * __wrap_free) may read and write it. */
typedef struct watcher {
  bool armed;
  const void *needle[2];
  size_t len[2];
  unsigned hits;
} watcher;
watcher watch;

void __wrap_free(void *p) {
  if (p && watch.armed) {
    size_t n = malloc_usable_size(p);
    for (int i = 0; i < 2; i++)
      if (watch.needle[i] && n >= watch.len[i] && memmem(p, n, watch.needle[i], watch.len[i])) watch.hits++;
  }
  __real_free(p);
}

static void arm(const void *a, size_t alen, const void *b, size_t blen) {
  watch = (watcher){true, {a, b}, {alen, blen}, 0};
}

static unsigned disarm(void) {
  watch.armed = false;
  return watch.hits;
}

/* A 32-byte key and its canonical base64 (44 characters, one '='). */
static void secret(uint8_t key[32], char **b64) {
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)(0xa5 ^ (i * 37));
  assert_int_equal(crypto_base64_encode(key, 32, b64), 0);
  assert_int_equal(strlen(*b64), 44);
}

static void test_decode_frees_no_copy(void **state) {
  (void)state;
  uint8_t key[32], *out = NULL;
  char *b64 = NULL;
  size_t len = 0;
  secret(key, &b64);
  arm(key, 16, b64, 24);
  lisec_err err = {0};
  assert_int_equal(crypto_base64_decode(b64, 64, &out, &len, &err), 0);
  unsigned hits = disarm();
  assert_int_equal(len, 32);
  assert_memory_equal(out, key, 32);
  assert_int_equal(hits, 0); /* the check's re-encoding is the key's base64 */
  crypto_wipe(out, len);
  free(out);
  free(b64);
}

/* Refused input: what was decoded before the refusal is wiped too. */
static void test_refusals_free_no_copy(void **state) {
  (void)state;
  uint8_t key[32], *out = NULL;
  char *b64 = NULL;
  size_t len = 0;
  lisec_err err = {0};
  secret(key, &b64);
  /* not canonical: the bits the padding leaves over are set */
  char *odd = strdup(b64);
  assert_non_null(odd);
  odd[42] = odd[42] == 'B' ? 'C' : 'B';
  arm(key, 16, NULL, 0);
  assert_int_equal(crypto_base64_decode(odd, 64, &out, &len, &err), LISEC_EINVAL);
  assert_int_equal(disarm(), 0);
  assert_null(out);
  /* a stray '=' inside: EVP decodes it, the canonical check refuses it */
  char *stray = strdup(b64);
  assert_non_null(stray);
  stray[40] = '=';
  arm(key, 16, NULL, 0);
  assert_int_equal(crypto_base64_decode(stray, 64, &out, &len, &err), LISEC_EINVAL);
  assert_int_equal(disarm(), 0);
  /* a character outside the alphabet at the end */
  char *bad = strdup(b64);
  assert_non_null(bad);
  bad[43] = '!';
  arm(key, 16, NULL, 0);
  assert_int_equal(crypto_base64_decode(bad, 64, &out, &len, &err), LISEC_EINVAL);
  assert_int_equal(disarm(), 0);
  free(odd);
  free(stray);
  free(bad);
  free(b64);
}

/* The watch itself: a block that holds the needle is seen (the block is
 * filled by the library, so the compiler cannot drop the stores as dead). */
static void test_watch_sees_a_copy(void **state) {
  (void)state;
  uint8_t key[32];
  char *b64 = NULL, *copy = NULL;
  secret(key, &b64);
  assert_int_equal(crypto_base64_encode(key, 32, &copy), 0);
  arm(b64, 24, NULL, 0);
  free(copy);
  assert_int_equal(disarm(), 1);
  free(b64);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_watch_sees_a_copy),
      cmocka_unit_test(test_decode_frees_no_copy),
      cmocka_unit_test(test_refusals_free_no_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
