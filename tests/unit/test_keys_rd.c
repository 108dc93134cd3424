/* The keys process wraps an RD data key only to the key the RD
 * administration registered for the VM (keys/service.c, RD_KEY;
 * model/rd_register.h; docs/rd.md): against a real SoftHSM2 token this test
 * makes, reached only through its client over a socketpair as lisecd's
 * controller reaches it, a wrap request is refused (EDENIED naming
 * TR103308-5.7-RD-RECIPIENT) with no registration, one signed by another
 * key than [rd] admin_pubkey, one altered after signing, one for another
 * VM, one for another key, a removal command, and by a keys process
 * without [rd] admin_pubkey; no refused request makes a key in the token.
 * The registration the RD administration signed for this VM and this key
 * is wrapped to, and the wrap opens with the VM's private key (ECDH, then
 * RFC 3394) to the same key on a second request. */
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "model/rd_recipient.h"
#include "model/rd_register.h"
#include "softhsm_token.h"

/* SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys (see test_p11.c). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) {
  return "leak:ASN1_item_d2i_ex\n";
}

static char dir[64], pin_file[128], admin_pub[128];
static EVP_PKEY *admin, *rogue, *vm_key, *other_key;

static lisec_config *rd_config(bool with_admin) {
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "rd", "pkcs11_module", getenv("LISEC_P11_MODULE"));
  lisec_config_set(cfg, "rd", "token", "lisec-test");
  lisec_config_set(cfg, "rd", "pin_file", pin_file);
  if (with_admin)
    lisec_config_set(cfg, "rd", "admin_pubkey", admin_pub);
  return cfg;
}

static keys_client *start(bool with_admin) {
  keys_client *k = NULL;
  lisec_err err = {0};
  lisec_config *cfg = rd_config(with_admin);
  int rc = keys_local_start(cfg, &k, &err);
  lisec_config_free(cfg);
  if (rc)
    fail_msg("keys_local_start: %s", err.msg);
  return k;
}

static void point_of(EVP_PKEY *k, uint8_t point[65]) {
  size_t n = 0;
  assert_int_equal(
      EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", point, 65, &n), 1);
  assert_int_equal(n, 65);
}

/* The signed registration of k for vm by signer (remove: the removal). */
static char *registration(EVP_PKEY *signer, const char *vm, EVP_PKEY *k,
                          bool remove) {
  model_rd_reg c = {
      .remove = remove, .counter = 1, .expires = lisec_time_now() + 600};
  snprintf(c.vm, sizeof c.vm, "%s", vm);
  lisec_err err = {0};
  if (k) {
    char *pem = NULL;
    assert_int_equal(crypto_pkey_public_pem(k, &pem, &err), 0);
    assert_int_equal(
        model_rd_reg_key_parse(pem, strlen(pem), c.point, c.public_key, &err),
        0);
    free(pem);
  }
  char *out = NULL;
  assert_int_equal(model_rd_reg_sign(&c, signer, &out, &err), 0);
  return out;
}

static int wrap(keys_client *k, const char *store, bool create,
                EVP_PKEY *recipient, const char *vm, const char *reg,
                uint8_t eph[65], uint8_t wrapped[40], lisec_err *err) {
  uint8_t point[65];
  point_of(recipient, point);
  return keys_rd_key(k, store, 0, create, point, vm, (const uint8_t *)reg,
                     reg ? strlen(reg) : 0, eph, wrapped, err);
}

static void refused(int rc, const lisec_err *err, const char *why) {
  if (rc != LISEC_EDENIED)
    fail_msg("%s: rc %d (%s), want EDENIED", why, rc, err->msg);
  if (!strstr(err->msg, MODEL_REQ_RD_RECIPIENT))
    fail_msg("%s: the refusal does not name the requirement: %s", why,
             err->msg);
}

/* No refused request made the store's key: it is not in the token. */
static void no_key_made(keys_client *k, const char *store) {
  uint8_t eph[65], wrapped[40];
  lisec_err err = {0};
  char *reg = registration(admin, "rd-q", vm_key, false);
  assert_int_equal(
      wrap(k, store, false, vm_key, "rd-q", reg, eph, wrapped, &err),
      LISEC_ENOTFOUND);
  free(reg);
}

static void test_refused_without_a_valid_registration(void **state) {
  (void)state;
  keys_client *k = start(true);
  uint8_t eph[65], wrapped[40];
  lisec_err err = {0};
  refused(wrap(k, "st-a", true, vm_key, "rd-q", NULL, eph, wrapped, &err), &err,
          "no registration");
  char *forged = registration(rogue, "rd-q", vm_key, false);
  refused(wrap(k, "st-a", true, vm_key, "rd-q", forged, eph, wrapped, &err),
          &err, "signed by another key");
  assert_non_null(strstr(err.msg, "not signed by the RD administration"));
  char *good = registration(admin, "rd-q", vm_key, false);
  /* altered after signing: the same command for another VM */
  char *altered = strdup(good), *at = strstr(altered, "\"vm\":\"rd-q\"");
  assert_non_null(at);
  at[8] = 'x';
  refused(wrap(k, "st-a", true, vm_key, "rdxq", altered, eph, wrapped, &err),
          &err, "altered after signing");
  refused(wrap(k, "st-a", true, vm_key, "rd-other", good, eph, wrapped, &err),
          &err, "for another VM");
  assert_non_null(strstr(err.msg, "another VM"));
  refused(wrap(k, "st-a", true, other_key, "rd-q", good, eph, wrapped, &err),
          &err, "for another key");
  assert_non_null(strstr(err.msg, "another key"));
  char *removal = registration(admin, "rd-q", NULL, true);
  refused(wrap(k, "st-a", true, vm_key, "rd-q", removal, eph, wrapped, &err),
          &err, "a removal");
  refused(wrap(k, "st-a", true, vm_key, "rd-q", "{\"command\":{}}", eph,
               wrapped, &err),
          &err, "malformed");
  no_key_made(k, "st-a");
  free(forged);
  free(good);
  free(altered);
  free(removal);
  keys_client_close(k);
}

static void test_refused_without_admin_key(void **state) {
  (void)state;
  keys_client *k = start(false);
  uint8_t eph[65], wrapped[40];
  lisec_err err = {0};
  char *good = registration(admin, "rd-q", vm_key, false);
  refused(wrap(k, "st-b", true, vm_key, "rd-q", good, eph, wrapped, &err), &err,
          "no [rd] admin_pubkey");
  assert_non_null(strstr(err.msg, "admin_pubkey"));
  free(good);
  keys_client_close(k);
  k = start(true);
  no_key_made(k, "st-b");
  keys_client_close(k);
}

/* The data key as the RD VM opens it: ECDH x-coordinate, then RFC 3394. */
static void open_wrap(const uint8_t eph[65], const uint8_t wrapped[40],
                      uint8_t key[32]) {
  char *pem = NULL;
  EVP_PKEY *peer = NULL;
  lisec_err err = {0};
  assert_int_equal(model_rd_point_pem(eph, &pem, &err), 0);
  assert_int_equal(crypto_pkey_from_pem(pem, strlen(pem), false, &peer, &err),
                   0);
  free(pem);
  EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(vm_key, NULL);
  uint8_t z[32];
  size_t zn = sizeof z;
  assert_true(d && EVP_PKEY_derive_init(d) == 1 &&
              EVP_PKEY_derive_set_peer(d, peer) == 1 &&
              EVP_PKEY_derive(d, z, &zn) == 1 && zn == 32);
  EVP_PKEY_CTX_free(d);
  EVP_PKEY_free(peer);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0;
  assert_true(c &&
              EVP_DecryptInit_ex(c, EVP_aes_256_wrap(), NULL, z, NULL) == 1 &&
              EVP_DecryptUpdate(c, key, &n1, wrapped, 40) == 1 &&
              EVP_DecryptFinal_ex(c, key + n1, &n2) == 1);
  assert_int_equal(n1 + n2, 32);
  EVP_CIPHER_CTX_free(c);
}

static void test_wrapped_to_the_registered_key(void **state) {
  (void)state;
  keys_client *k = start(true);
  uint8_t eph[65], wrapped[40], key1[32], key2[32];
  lisec_err err = {0};
  char *good = registration(admin, "rd-q", vm_key, false);
  if (wrap(k, "st-c", true, vm_key, "rd-q", good, eph, wrapped, &err))
    fail_msg("a registered wrap: %s", err.msg);
  open_wrap(eph, wrapped, key1);
  assert_int_equal(
      wrap(k, "st-c", false, vm_key, "rd-q", good, eph, wrapped, &err), 0);
  open_wrap(eph, wrapped, key2);
  assert_memory_equal(key1, key2, 32);
  free(good);
  keys_client_close(k);
}

int main(void) {
  if (sodium_init() < 0 || softhsm_token_make()) {
    softhsm_token_remove();
    return 1;
  }
  snprintf(dir, sizeof dir, "/tmp/lisec-test-keysrd-XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  snprintf(pin_file, sizeof pin_file, "%s/pin", dir);
  snprintf(admin_pub, sizeof admin_pub, "%s/rd-admin.pub", dir);
  FILE *f = fopen(pin_file, "w");
  if (!f)
    return 1;
  fputs("1234\n", f);
  fclose(f);
  admin = EVP_EC_gen("P-256");
  rogue = EVP_EC_gen("P-256");
  vm_key = EVP_EC_gen("P-256");
  other_key = EVP_EC_gen("P-256");
  char *pem = NULL;
  lisec_err err = {0};
  if (!admin || !rogue || !vm_key || !other_key ||
      crypto_pkey_public_pem(admin, &pem, &err) ||
      lisec_file_write_atomic(admin_pub, pem, strlen(pem), 0644, &err))
    return 1;
  free(pem);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused_without_a_valid_registration),
      cmocka_unit_test(test_refused_without_admin_key),
      cmocka_unit_test(test_wrapped_to_the_registered_key),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  EVP_PKEY_free(admin);
  EVP_PKEY_free(rogue);
  EVP_PKEY_free(vm_key);
  EVP_PKEY_free(other_key);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    rc = 1;
  softhsm_token_remove();
  return rc;
}
