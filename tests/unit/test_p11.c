/* The one PKCS#11 client (keys/p11.c, in the keys process) against a real SoftHSM2 token this
 * test makes: the audit log's checkpoint signer, the vault's KEK and the LI
 * VMs' token session share one module in one process, and each keeps
 * working whatever order they open and close in (before, whichever opened
 * first decided C_Initialize's flags, and closing the KEK logged every
 * other session out). Also: the module is loaded once and finalised after
 * its last user, a second load of the same path shares it, and the one PIN
 * reader takes the pin_file of any section alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/auditlog.h"
#include "keys/kek.h"
#include "keys/livm.h"
#include "keys/p11.h"
#include "keys/signer.h"
#include "softhsm_token.h"
#include "store/store.h"

static char dir[64];

/* Sanitizer builds: SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys
 * (OpenSSL d2i inside libsofthsm2, as tests/integration/audit_pkcs11.sh
 * notes). Full stacks let LeakSanitizer tell that apart from lisec's own
 * allocations, which stay checked. (Hooks the sanitizer runtime looks for;
 * unused otherwise.) */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) { return "leak:ASN1_item_d2i_ex\n"; }

typedef struct users {
  lisec_store *store;
  ctl_auditlog *audit;
  keys_signer *signer;
  keys_kek *kek;
  keys_livm *li;
  lisec_config *li_cfg;
} users;

static void open_audit(users *u) {
  char url[128];
  lisec_err err = {0};
  snprintf(url, sizeof url, "sqlite:%s/audit-%d.db", dir, rand());
  if (store_open(url, &u->store, &err)) fail_msg("store_open: %s", err.msg);
  keys_signer_pkcs11 kc = {getenv("LISEC_P11_MODULE"), "lisec-test", "1234", "p11-audit", true};
  if (keys_signer_open_pkcs11(&kc, &u->signer, &err)) fail_msg("audit key: %s", err.msg);
  uint8_t pk[32];
  keys_signer_public_key(u->signer, pk);
  ctl_auditlog_config c = {.store_url = url, .origin = "lisec.test/audit", .checkpoint_entries = 100000,
                           .checkpoint_ms = 600000, .sign = keys_signer_sign, .sign_ctx = u->signer, .pk = pk};
  if (ctl_auditlog_open(u->store, &c, &u->audit, &err)) fail_msg("audit: %s", err.msg);
}

static void open_kek(users *u) {
  lisec_err err = {0};
  keys_kek_pkcs11_config c = {getenv("LISEC_P11_MODULE"), "lisec-test", "1234", "p11-kek", true, NULL};
  if (keys_kek_open_pkcs11(&c, &u->kek, &err)) fail_msg("kek: %s", err.msg);
}

static void open_li(users *u) {
  lisec_err err = {0};
  char pin[128];
  snprintf(pin, sizeof pin, "%s/li.pin", dir);
  FILE *f = fopen(pin, "w");
  assert_non_null(f);
  fputs("1234\r\n", f); /* as an editor may leave it */
  fclose(f);
  u->li_cfg = lisec_config_new();
  lisec_config_set(u->li_cfg, "li", "pkcs11_module", getenv("LISEC_P11_MODULE"));
  lisec_config_set(u->li_cfg, "li", "token", "lisec-test");
  lisec_config_set(u->li_cfg, "li", "pin_file", pin);
  char pin_text[KEYS_P11_PIN_MAX + 1];
  if (keys_p11_read_pin(u->li_cfg, "li", pin_text, &err)) fail_msg("li pin: %s", err.msg);
  if (keys_livm_open(getenv("LISEC_P11_MODULE"), "lisec-test", pin_text, &u->li, &err)) fail_msg("li: %s", err.msg);
}

/* Each user that is open does a token operation. */
static void use_all(users *u, int round) {
  lisec_err err = {0};
  if (u->audit) {
    audit_record r = {.actor = "CN=op-1", .role = "operator", .action = "p11.test", .outcome = "ok"};
    uint64_t index = 0;
    assert_int_equal(ctl_auditlog_append(u->audit, &r, false, &index, &err), 0);
    if (ctl_auditlog_checkpoint_now(u->audit, &err)) fail_msg("round %d: checkpoint: %s", round, err.msg);
    char *note = NULL;
    uint64_t size = 0;
    assert_int_equal(ctl_auditlog_latest_checkpoint(u->audit, &note, &size, &err), 0);
    assert_int_equal(size, index + 1);
    free(note);
  }
  if (u->kek) {
    json_t *ids = json_pack("[{s:s, s:s}]", "kind", "imsi", "value", "244051234567890"), *back = NULL;
    vault_kek v = keys_kek_vault(u->kek);
    vault_sealed s;
    if (vault_seal("t-1", "li-1", 1, ids, &v, &s, &err)) fail_msg("round %d: seal: %s", round, err.msg);
    assert_int_equal(vault_open(&s, &v, &back, &err), 0);
    keys_kek_release(u->kek, v.ctx);
    assert_true(json_equal(ids, back));
    json_decref(back);
    json_decref(ids);
    vault_sealed_free(&s);
  }
  if (u->li && keys_livm_check(u->li, &err)) fail_msg("round %d: li: %s", round, err.msg);
}

static void close_audit(users *u) {
  ctl_auditlog_close(u->audit);
  u->audit = NULL;
  keys_signer_close(u->signer);
  u->signer = NULL;
  store_close(u->store);
  u->store = NULL;
}

static void close_kek(users *u) {
  keys_kek_close(u->kek);
  u->kek = NULL;
}

static void close_li(users *u) {
  keys_livm_close(u->li);
  u->li = NULL;
  lisec_config_free(u->li_cfg);
  u->li_cfg = NULL;
}

typedef void (*step)(users *);

static void run_order(const step open[3], const step close[3]) {
  users u = {0};
  for (int i = 0; i < 3; i++) {
    open[i](&u);
    use_all(&u, i);
  }
  for (int i = 0; i < 3; i++) {
    close[i](&u);
    use_all(&u, 10 + i); /* the others still work */
  }
}

static void test_three_users_any_order(void **state) {
  (void)state;
  const step audit_first[3] = {open_audit, open_kek, open_li};
  const step li_first[3] = {open_li, open_kek, open_audit};
  const step kek_first[3] = {open_kek, open_li, open_audit};
  const step close_kek_first[3] = {close_kek, close_audit, close_li};
  const step close_li_first[3] = {close_li, close_audit, close_kek};
  run_order(audit_first, close_kek_first);
  run_order(li_first, close_kek_first);
  run_order(kek_first, close_li_first);
  run_order(audit_first, close_li_first);
}

static void test_module_shared_and_finalised(void **state) {
  (void)state;
  lisec_err err = {0};
  const char *path = getenv("LISEC_P11_MODULE");
  keys_p11 *a = NULL, *b = NULL;
  assert_int_equal(keys_p11_open(path, NULL, "[t]", &a, &err), 0);
  assert_int_equal(keys_p11_open(path, NULL, "[t]", &b, &err), 0);
  assert_ptr_equal(a, b); /* one load, one C_Initialize */
  CK_FUNCTION_LIST_PTR fn = keys_p11_functions(a);
  CK_SESSION_HANDLE s1, s2;
  assert_int_equal(keys_p11_session_open(a, "[t]", "lisec-test", "1234", &s1, &err), 0);
  assert_int_equal(keys_p11_session_open(b, "[t]", "lisec-test", "1234", &s2, &err), 0);
  keys_p11_session_close(a, s1);
  keys_p11_close(a);
  CK_SESSION_INFO info;
  assert_int_equal(fn->C_GetSessionInfo(s2, &info), CKR_OK);
  assert_int_equal(info.state, CKS_RW_USER_FUNCTIONS); /* still logged in */
  /* the module is still initialised: initialising again says so */
  CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
  assert_int_equal(fn->C_Initialize(&args), CKR_CRYPTOKI_ALREADY_INITIALIZED);
  keys_p11_session_close(b, s2);
  keys_p11_close(b); /* the last user: finalised and unloaded */
  /* opened again from nothing, it works; an empty pkcs11_init_args (the
   * example's line uncommented as it is) is none, not "" for C_Initialize */
  assert_int_equal(keys_p11_open(path, "", "[t]", &a, &err), 0);
  assert_int_equal(keys_p11_session_open(a, "[t]", "lisec-test", "1234", &s1, &err), 0);
  keys_p11_session_close(a, s1);
  /* refusals, each saying why and whose */
  assert_int_equal(keys_p11_session_open(a, "[vault]", "lisec-test", "9999", &s1, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "[vault]"));
  assert_non_null(strstr(err.msg, "wrong PIN"));
  assert_int_equal(keys_p11_session_open(a, "[li]", "no-such-token", "1234", &s1, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "no-such-token"));
  keys_p11_close(a);
  assert_int_equal(keys_p11_open("/nonexistent/p11.so", NULL, "[audit]", &a, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "[audit]"));
  assert_int_equal(keys_p11_open("/lib/x86_64-linux-gnu/libc.so.6", NULL, "[audit]", &a, &err) != 0, 1);
}

static void test_pin_file(void **state) {
  (void)state;
  lisec_err err = {0};
  char path[128], pin[KEYS_P11_PIN_MAX + 1];
  snprintf(path, sizeof path, "%s/pin", dir);
  lisec_config *cfg = lisec_config_new();
  /* no pin_file: refused naming the section */
  assert_int_equal(keys_p11_read_pin(cfg, "vault", pin, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "[vault] pin_file"));
  lisec_config_set(cfg, "vault", "pin_file", path);
  static const struct {
    const char *content;
    const char *pin; /* NULL: refused */
  } cases[] = {{"4321", "4321"},     {"4321\n", "4321"}, {"4321\r\n", "4321"}, {"43 21 \t\n", "43 21"},
               {"", NULL},           {"\n", NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(cases[i].content, f);
    fclose(f);
    int rc = keys_p11_read_pin(cfg, "vault", pin, &err);
    if (cases[i].pin) {
      assert_int_equal(rc, 0);
      assert_string_equal(pin, cases[i].pin);
    } else {
      assert_int_equal(rc, LISEC_EINVAL);
    }
  }
  /* over the bound, and a NUL inside */
  FILE *f = fopen(path, "w");
  for (int i = 0; i < KEYS_P11_PIN_MAX + 1; i++) fputc('7', f);
  fclose(f);
  assert_int_not_equal(keys_p11_read_pin(cfg, "vault", pin, &err), 0);
  f = fopen(path, "w");
  fwrite("12\0" "34", 1, 5, f);
  fclose(f);
  assert_int_equal(keys_p11_read_pin(cfg, "vault", pin, &err), LISEC_EINVAL);
  unlink(path);
  assert_int_not_equal(keys_p11_read_pin(cfg, "vault", pin, &err), 0); /* absent */
  lisec_config_free(cfg);
}

/* PKCS#11 return codes in words (keys/p11_rv.c): the CKR_ name and what to
 * check, for the codes of the table and for one that is not in it; and a
 * real SoftHSM that cannot read its configuration (what a confined service
 * meets) says CKR_GENERAL_ERROR and names SOFTHSM2_CONF, not "CKR 0x5". */
static void test_rv_words(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_p11_fail(&err, "[vault]", "C_Initialize", CKR_GENERAL_ERROR);
  assert_non_null(strstr(err.msg, "[vault] PKCS#11 C_Initialize failed: CKR_GENERAL_ERROR (0x5)"));
  assert_non_null(strstr(err.msg, "SOFTHSM2_CONF"));
  assert_non_null(strstr(err.msg, "ReadWritePaths="));
  keys_p11_fail(&err, "[audit]", "C_Login", CKR_PIN_LOCKED);
  assert_non_null(strstr(err.msg, "CKR_PIN_LOCKED (0xa4): too many wrong PINs"));
  assert_string_equal(keys_p11_rv_name(CKR_TOKEN_WRITE_PROTECTED), "CKR_TOKEN_WRITE_PROTECTED");
  assert_string_equal(keys_p11_rv_name(CKR_VENDOR_DEFINED + 7), "vendor-defined");
  assert_string_equal(keys_p11_rv_name(0x7777), "unknown");
  assert_null(keys_p11_rv_check(0x7777));
  keys_p11_fail(&err, "[li]", "C_Sign", 0x7777);
  assert_non_null(strstr(err.msg, "[li] PKCS#11 C_Sign failed: unknown (0x7777)"));
  /* every name in the table is its code's */
  assert_string_equal(keys_p11_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  assert_string_equal(keys_p11_rv_name(CKR_OK), "CKR_OK");

  /* SoftHSM with a configuration it cannot read */
  const char *path = getenv("LISEC_P11_MODULE");
  char *saved = getenv("SOFTHSM2_CONF") ? strdup(getenv("SOFTHSM2_CONF")) : NULL;
  char missing[128];
  snprintf(missing, sizeof missing, "%s/no-such-softhsm2.conf", dir);
  setenv("SOFTHSM2_CONF", missing, 1);
  keys_p11 *m = NULL;
  int rc = keys_p11_open(path, NULL, "[vault]", &m, &err);
  if (saved) setenv("SOFTHSM2_CONF", saved, 1);
  else unsetenv("SOFTHSM2_CONF");
  free(saved);
  if (rc == 0) keys_p11_close(m);
  assert_int_equal(rc, LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "CKR_GENERAL_ERROR"));
  assert_non_null(strstr(err.msg, "SOFTHSM2_CONF"));
  assert_null(strstr(err.msg, "CKR 0x"));
}

int main(void) {
  if (softhsm_token_make()) {
    softhsm_token_remove();
    return 1;
  }
  snprintf(dir, sizeof dir, "/tmp/lisec-test-p11-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_users_any_order),
      cmocka_unit_test(test_module_shared_and_finalised),
      cmocka_unit_test(test_pin_file),
      cmocka_unit_test(test_rv_words),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) rc = 1;
  softhsm_token_remove();
  return rc;
}
