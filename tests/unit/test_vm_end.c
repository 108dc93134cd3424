/* The end of a VM's life on a real controller (issue 21 item 1): a
 * temporary SQLite store, the development audit key, the LI
 * administration's signing key and a throw-away SoftHSM2 token for the LI
 * VMs' keys.
 *
 * Termination: a VM a host reports stays in the model, terminating, until
 * an attested inventory no longer lists it (and survives a restart so); a
 * VM whose intended host reports inventories waits for one taken after the
 * request; one nothing could ever report leaves at once; asking twice,
 * changing a terminating VM, an unknown VM, a refused role and a VM
 * something refers to are refused with the store unchanged. An LI VM,
 * paired or not, is refused with the sentence every reference refusal
 * gets, and the refusal is sealed.
 *
 * Retirement: only the LI administration's signed retire command retires
 * an LI VM, never while an LI authorisation names it; a rogue signature,
 * another role, an unknown VM and a replay are refused with the LI record
 * unchanged; once retired, the VM's own key is refused (its events are
 * not taken), the pairing has ended, one sealed record says so, and MANO
 * may terminate the VM. lisecd makes no key for a VM: a registration
 * without the VM's public key is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "crypto/crypto.h"
#include "ctl/audit.h"
#include "ctl/ctl.h"
#include "ctl/li.h"
#include "ctl/model.h"
#include "ctl_fixture.h"
#include "keys/p11.h"
#include "li/li.h"
#include "softhsm_token.h"

/* SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys (see test_p11.c). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) { return "leak:ASN1_item_d2i_ex\n"; }

static char tmpdir[64];
static lisec_ctl *ctl;
static EVP_PKEY *admin, *rogue, *vm_key;
static const ctl_actor OPERATOR = {"op-1", "operator", CTL_ROLE_OPERATOR};
static const ctl_actor MANO = {"mano-1", "mano", CTL_ROLE_MANO};
static const ctl_actor AUDITOR = {"aud-1", "auditor", CTL_ROLE_AUDITOR};
static const ctl_actor LI_ADMIN = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};
static const ctl_actor HV_ADMIN = {"hv-1", "hypervisor-admin", CTL_ROLE_HV_ADMIN};
static const ctl_actor AGENT = {"hel-1", "host", CTL_ROLE_HOST};

static void open_ctl(void) {
  char path[256];
  lisec_config *cfg = ctl_fixture_config(tmpdir, "li-audit.pub");
  snprintf(path, sizeof path, "%s/li-admin.pem", tmpdir);
  lisec_config_set(cfg, "li", "admin_pubkey", path);
  lisec_config_set(cfg, "li", "pkcs11_module", getenv("LISEC_P11_MODULE"));
  lisec_config_set(cfg, "li", "token", "lisec-test");
  snprintf(path, sizeof path, "%s/pin", tmpdir);
  lisec_config_set(cfg, "li", "pin_file", path);
  lisec_config_set(cfg, "li", "restart_stopped", "false");
  lisec_config_set(cfg, "attest", "interval_s", "300");
  lisec_config_set(cfg, "attest", "grace_s", "60");
  ctl_fixture_open(cfg, &ctl);
}

static void put(const char *kind, const char *json) { ctl_fixture_put(ctl, kind, json); }

static int group_setup(void **state) {
  (void)state;
  lisec_err err = {0};
  if (softhsm_token_make() || crypto_pkey_generate(false, &admin, &err) ||
      crypto_pkey_generate(false, &rogue, &err) || crypto_pkey_generate(false, &vm_key, &err))
    return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  EVP_PKEY_free(admin), EVP_PKEY_free(rogue), EVP_PKEY_free(vm_key);
  softhsm_token_remove();
  return 0;
}

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-vmend-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-audit.pub"))
    return -1;
  char path[256], *pem = NULL;
  lisec_err err = {0};
  snprintf(path, sizeof path, "%s/pin", tmpdir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs("1234\n", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/li-admin.pem", tmpdir);
  if (crypto_pkey_public_pem(admin, &pem, &err) || !(f = fopen(path, "w"))) return -1;
  fputs(pem, f);
  fclose(f);
  free(pem);
  open_ctl();
  put("host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  put("host", "{\"id\":\"lon-1\",\"protection\":\"li\"}");
  put("hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"}");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return ctl_fixture_close(&ctl, tmpdir);
}

/* hel-1's attested inventory at quote time at: vm in state st (vm NULL:
 * an empty inventory). */
static void observe_at(const char *vm, const char *st, int64_t at) {
  ctl_observed_domain d = {"6c1c5a4e-0000-4000-8000-0000000000e1", vm, NULL, st, NULL};
  ctl_observation o = {"hel-1", at, "00112233aabbccdd", &d, vm ? 1 : 0};
  lisec_err err = {0};
  if (ctl_model_observe(ctl, &AGENT, &o, &err)) fail_msg("observe: %s", err.msg);
}

static int terminate(const ctl_actor *who, const char *vm, const char **state, lisec_err *err) {
  static char last[32];
  json_t *out = NULL;
  int rc = ctl_model_vm_terminate(ctl, who, vm, &out, err);
  snprintf(last, sizeof last, "%s", rc ? "" : json_string_value(json_object_get(out, "state")));
  if (state) *state = last;
  json_decref(out);
  return rc;
}

static bool vm_exists(const char *vm) {
  lisec_err err = {0};
  json_t *out = NULL;
  int rc = ctl_model_get(ctl, &OPERATOR, "vm", vm, &out, &err);
  json_decref(out);
  return rc == 0;
}

/* The audit log's size, and what its entries from `from` on hold: those
 * containing text in the clear (text NULL: the sealed ones). */
static uint64_t audit_size(void) {
  lisec_err err = {0};
  json_t *out = NULL;
  assert_int_equal(ctl_audit_entries(ctl, 0, 1, &out, &err), 0);
  uint64_t n = (uint64_t)json_integer_value(json_object_get(out, "size"));
  json_decref(out);
  return n;
}

static size_t audit_count(uint64_t from, const char *text) {
  lisec_err err = {0};
  json_t *out = NULL, *e;
  assert_int_equal(ctl_audit_entries(ctl, from, 100, &out, &err), 0);
  size_t i, n = 0;
  json_array_foreach(json_object_get(out, "entries"), i, e) {
    bool sealed = json_is_true(json_object_get(e, "sealed"));
    uint8_t *raw = NULL;
    size_t len = 0;
    assert_int_equal(crypto_base64_decode(json_string_value(json_object_get(e, "data")), 1u << 20, &raw,
                                          &len, &err),
                     0);
    n += text ? memmem(raw, len, text, strlen(text)) != NULL : sealed;
    free(raw);
  }
  json_decref(out);
  return n;
}

static void test_terminate_waits_for_the_host(void **state) {
  (void)state;
  lisec_err err = {0};
  const char *st = NULL;
  put("vm", "{\"id\":\"web\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  int64_t now = lisec_time_now();
  observe_at("web", "running", now);
  assert_int_equal(terminate(&MANO, "web", &st, &err), 0);
  assert_string_equal(st, "terminating");
  assert_true(vm_exists("web"));
  /* twice, and a change while terminating: refused, nothing changes */
  assert_int_equal(terminate(&OPERATOR, "web", NULL, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, CTL_MODEL_REQ_TERMINATE));
  json_t *body = json_pack("{s:s, s:s, s:s}", "hypervisor", "hv-lon-1", "sensitivity", "general",
                           "domain", "core"),
         *out = NULL;
  bool created = false;
  assert_int_equal(ctl_model_put(ctl, &OPERATOR, "vm", "web", body, false, &out, &created, &err),
                   LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "terminating"));
  json_decref(body);
  /* shut off is still listed: still there, also after a restart */
  observe_at("web", "shutoff", now + 1);
  assert_true(vm_exists("web"));
  ctl_close(ctl);
  open_ctl();
  assert_int_equal(terminate(&OPERATOR, "web", NULL, &err), LISEC_ECONFLICT);
  assert_true(vm_exists("web"));
  /* gone from the inventory: it leaves, recorded with the quote */
  uint64_t before = audit_size();
  observe_at(NULL, NULL, now + 2);
  assert_false(vm_exists("web"));
  assert_int_equal(audit_count(before, "model.vm.terminated"), 1);
  assert_int_equal(audit_count(before, "00112233aabbccdd"), 1);
  ctl_close(ctl);
  open_ctl();
  assert_false(vm_exists("web"));
  assert_int_equal(terminate(&MANO, "web", NULL, &err), LISEC_ENOTFOUND);
}

static void test_terminate_immediate_and_refused(void **state) {
  (void)state;
  lisec_err err = {0};
  const char *st = NULL;
  /* lon-1 never sent an inventory and nobody reported the VM: nothing
   * could prove it gone, so it leaves at once */
  put("vm", "{\"id\":\"batch\",\"hypervisor\":\"hv-lon-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  assert_int_equal(terminate(&OPERATOR, "batch", &st, &err), 0);
  assert_string_equal(st, "terminated");
  assert_false(vm_exists("batch"));
  /* hel-1 sends inventories: a VM it never listed waits for one taken
   * after the request */
  int64_t now = lisec_time_now();
  observe_at(NULL, NULL, now);
  put("vm", "{\"id\":\"db\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  assert_int_equal(terminate(&MANO, "db", &st, &err), 0);
  assert_string_equal(st, "terminating");
  observe_at(NULL, NULL, now); /* not after the request */
  assert_true(vm_exists("db"));
  observe_at(NULL, NULL, now + 5);
  assert_false(vm_exists("db"));
  /* unknown, a refused role, a VM a connection ends at: refused, kept */
  assert_int_equal(terminate(&MANO, "nope", NULL, &err), LISEC_ENOTFOUND);
  put("vm", "{\"id\":\"a\",\"hypervisor\":\"hv-lon-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("vm", "{\"id\":\"b\",\"hypervisor\":\"hv-lon-1\",\"sensitivity\":\"general\",\"domain\":\"core\"}");
  put("connection", "{\"id\":\"c-ab\",\"between\":[\"a\",\"b\"],\"kind\":\"network\",\"secure\":true}");
  assert_int_not_equal(terminate(&AUDITOR, "a", NULL, &err), 0);
  assert_true(vm_exists("a"));
  assert_int_equal(terminate(&MANO, "a", NULL, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "still referenced"));
  assert_true(vm_exists("a"));
}

/* Whether lisecd takes events signed by vm's key: 0 while paired, the
 * refusal once it is not (ctl_li_event_key, the key ctl/events.c verifies
 * with). */
static int event_key(const char *vm, lisec_err *err) {
  EVP_PKEY *k = NULL;
  const char *kind = NULL;
  int rc = ctl_li_event_key(ctl, vm, &k, &kind, err);
  EVP_PKEY_free(k);
  return rc;
}

static int retire(const ctl_actor *who, const char *vm, EVP_PKEY *k, uint64_t counter, lisec_err *err) {
  li_command c = {.counter = counter, .expires = lisec_time_now() + 600};
  snprintf(c.vm, sizeof c.vm, "%s", vm);
  char *cmd = NULL;
  assert_int_equal(li_retire_sign(&c, k, &cmd, err), 0);
  json_t *body = json_pack("{s:s}", "command", cmd), *out = NULL;
  int rc = ctl_li_retire(ctl, who, vm, body, &out, err);
  if (!rc) assert_string_equal(json_string_value(json_object_get(out, "state")), "retired");
  json_decref(out);
  json_decref(body);
  free(cmd);
  return rc;
}

static char *li_record(const char *vm) {
  lisec_err err = {0};
  json_t *out = NULL;
  assert_int_equal(ctl_li_get(ctl, &LI_ADMIN, vm, &out, &err), 0);
  json_object_del(out, "updated_at");
  char *s = json_dumps(out, JSON_SORT_KEYS);
  json_decref(out);
  return s;
}

static void test_li_vm_retired_not_terminated(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *out = NULL, *body;
  put("vm", "{\"id\":\"lim\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  put("vm", "{\"id\":\"lim-2\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  put("vm", "{\"id\":\"target\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"sensitive\",\"domain\":\"core\"}");
  /* lim: its own key, enabled, paired; lim-2: its own key, enabled only;
   * without a key: refused (lisecd makes none) */
  char *pem = NULL, *stmt = NULL;
  body = json_pack("{s:s}", "vm", "lim");
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "public key"));
  json_decref(body);
  EVP_PKEY *lim_key = NULL;
  assert_int_equal(crypto_pkey_generate(false, &lim_key, &err), 0);
  assert_int_equal(crypto_pkey_public_pem(lim_key, &pem, &err), 0);
  EVP_PKEY_free(lim_key);
  body = json_pack("{s:s, s:s}", "vm", "lim", "pubkey", pem);
  if (ctl_li_instantiate(ctl, &MANO, body, &out, &err)) fail_msg("instantiate: %s", err.msg);
  json_decref(out), json_decref(body);
  free(pem);
  pem = NULL;
  assert_int_equal(crypto_pkey_public_pem(vm_key, &pem, &err), 0);
  body = json_pack("{s:s, s:s}", "vm", "lim-2", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), 0);
  json_decref(out), json_decref(body);
  free(pem);
  assert_int_equal(ctl_li_enable(ctl, &HV_ADMIN, "lim", &out, &err), 0);
  json_decref(out);
  assert_int_equal(ctl_li_enable(ctl, &HV_ADMIN, "lim-2", &out, &err), 0);
  json_decref(out);
  assert_int_equal(ctl_li_get(ctl, &LI_ADMIN, "lim", &out, &err), 0);
  EVP_PKEY *lim_pub = NULL;
  const char *lim_pem = json_string_value(json_object_get(out, "pubkey"));
  assert_int_equal(crypto_pkey_from_pem(lim_pem, strlen(lim_pem), false, &lim_pub, &err), 0);
  json_decref(out);
  assert_int_equal(li_pair_sign("lim", lim_pub, 0, lisec_time_now() + 600, admin, &stmt, &err), 0);
  EVP_PKEY_free(lim_pub);
  body = json_pack("{s:s}", "statement", stmt);
  if (ctl_li_pair(ctl, &LI_ADMIN, "lim", body, &out, &err)) fail_msg("pair: %s", err.msg);
  json_decref(out), json_decref(body);
  free(stmt);
  assert_int_equal(event_key("lim", &err), 0);
  assert_int_equal(event_key("lim-2", &err), LISEC_EDENIED); /* enabled, not paired */
  assert_non_null(strstr(err.msg, "not paired"));

  /* MANO (or the operator) terminating an LI VM, paired or not: refused
   * with the sentence any referenced entity gets, recorded sealed, and
   * nothing in the clear names it */
  uint64_t before = audit_size();
  static const char *const li_vms[] = {"lim", "lim-2"};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(terminate(i ? &OPERATOR : &MANO, li_vms[i], NULL, &err), LISEC_ECONFLICT);
    assert_non_null(strstr(err.msg, "TR103308-4.1"));
    assert_non_null(strstr(err.msg, "still referenced"));
    assert_null(strstr(err.msg, "LI VM"));
    assert_true(vm_exists(li_vms[i]));
  }
  assert_int_equal(audit_count(before, NULL), 2);
  assert_int_equal(audit_count(before, "lim"), 0);

  /* in use: an LI authorisation names lim */
  put("jurisdiction", "{\"id\":\"fi\",\"codes\":[\"FI\"]}");
  put("lea", "{\"id\":\"lea-fi\",\"name\":\"LEA\",\"jurisdiction\":\"fi\"}");
  put("storage", "{\"id\":\"st-1\",\"vm\":\"lim\"}");
  bool created = false;
  body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "li-1", "jurisdiction", "fi",
                   "lea", "lea-fi", "monitored", "target", "host", "lim", "storage", "st-1", "valid_from",
                   "2025-01-01T00:00:00Z", "valid_until", "2035-01-01T00:00:00Z");
  if (ctl_model_put(ctl, &LI_ADMIN, "li", NULL, body, true, &out, &created, &err))
    fail_msg("li put: %s", err.msg);
  json_decref(out), json_decref(body);
  char *rec = li_record("lim");
  assert_int_equal(retire(&LI_ADMIN, "lim", admin, 1, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "in use"));
  assert_non_null(strstr(err.msg, "li-1"));
  assert_int_equal(ctl_model_delete(ctl, &LI_ADMIN, "li", "li-1", &err), 0);
  /* a rogue signature, another role, an unknown VM: refused, unchanged */
  assert_int_equal(retire(&LI_ADMIN, "lim", rogue, 1, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "not signed by the LI administration"));
  assert_int_equal(retire(&HV_ADMIN, "lim", admin, 1, &err), LISEC_EAUTH);
  assert_int_equal(retire(&LI_ADMIN, "lim-9", admin, 1, &err), LISEC_ENOTFOUND);
  char *rec2 = li_record("lim");
  assert_string_equal(rec, rec2);
  free(rec2);
  free(rec);
  assert_int_equal(event_key("lim", &err), 0);

  /* the LI administration's command: retired, the VM's key refused from
   * now on, one sealed record, pairing ended */
  before = audit_size();
  assert_int_equal(retire(&LI_ADMIN, "lim", admin, 1, &err), 0);
  assert_int_equal(event_key("lim", &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "retired"));
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  assert_int_equal(audit_size() - before, 1);
  assert_int_equal(audit_count(before, NULL), 1);
  rec = li_record("lim");
  assert_non_null(strstr(rec, "\"state\": \"retired\""));
  assert_non_null(strstr(rec, "\"key_destroyed\": true"));
  assert_null(strstr(rec, "paired_key_sha256"));
  /* replayed, a later command, a re-enabling: refused, unchanged */
  assert_int_equal(retire(&LI_ADMIN, "lim", admin, 1, &err), LISEC_ECONFLICT);
  assert_int_equal(retire(&LI_ADMIN, "lim", admin, 2, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "retired"));
  assert_int_not_equal(ctl_li_enable(ctl, &HV_ADMIN, "lim", &out, &err), 0);
  rec2 = li_record("lim");
  assert_string_equal(rec, rec2);
  free(rec2);
  free(rec);
  /* an enabled VM is retired too */
  assert_int_equal(retire(&LI_ADMIN, "lim-2", admin, 1, &err), 0);
  /* retired, it is an ordinary VM for MANO to terminate (the storage it
   * roots first) */
  assert_int_equal(ctl_model_delete(ctl, &OPERATOR, "storage", "st-1", &err), 0);
  const char *st = NULL;
  assert_int_equal(terminate(&MANO, "lim", &st, &err), 0);
  assert_string_equal(st, "terminated");
  assert_false(vm_exists("lim"));
  /* and after a restart the retirement holds */
  ctl_close(ctl);
  open_ctl();
  rec = li_record("lim-2");
  assert_non_null(strstr(rec, "\"state\": \"retired\""));
  free(rec);
  assert_int_equal(retire(&LI_ADMIN, "lim-2", admin, 5, &err), LISEC_ECONFLICT);
  /* the id of a retired LI VM does not come back as a new LI VM with the
   * old one's counter and record: refused, naming the requirement and why */
  EVP_PKEY *new_key = NULL;
  assert_int_equal(crypto_pkey_generate(false, &new_key, &err), 0);
  assert_int_equal(crypto_pkey_public_pem(new_key, &pem, &err), 0);
  EVP_PKEY_free(new_key);
  rec = li_record("lim");
  before = audit_size();
  body = json_pack("{s:s, s:s}", "vm", "lim", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), LISEC_ECONFLICT);
  json_decref(body);
  free(pem);
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  assert_non_null(strstr(err.msg, "retired"));
  assert_int_equal(audit_count(before, NULL), 1);
  rec2 = li_record("lim");
  assert_string_equal(rec, rec2);
  free(rec2);
  free(rec);
}

/* A public key is one LI VM's: registering it for a second VM is refused
 * (409, TR103308-4.1) without naming the first VM to MANO, recorded sealed
 * (the LI administration reads which VM holds it). */
static void test_li_key_one_vm(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *out = NULL, *body;
  char *pem = NULL;
  assert_int_equal(crypto_pkey_public_pem(vm_key, &pem, &err), 0);
  body = json_pack("{s:s, s:s}", "vm", "li-first", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), 0);
  json_decref(out), json_decref(body);
  out = NULL;
  uint64_t from = audit_size();
  body = json_pack("{s:s, s:s}", "vm", "li-second", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), LISEC_ECONFLICT);
  assert_null(out);
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  assert_non_null(strstr(err.msg, "registered to another LI VM"));
  assert_null(strstr(err.msg, "li-first"));
  json_decref(body);
  /* the refusal is one record, sealed: nothing of it in the clear */
  assert_int_equal(audit_size(), from + 1);
  assert_int_equal(audit_count(from, NULL), 1);
  assert_int_equal(audit_count(from, "li-first"), 0);
  assert_int_equal(audit_count(from, "li-second"), 0);
  /* nothing stored for the second VM; the hypervisor administration reads no such VM */
  assert_int_not_equal(ctl_li_get(ctl, &HV_ADMIN, "li-second", &out, &err), 0);
  json_decref(out);
  out = NULL;
  /* the same key by the hypervisor administration: refused alike */
  body = json_pack("{s:s, s:s}", "vm", "li-third", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &HV_ADMIN, body, &out, &err), LISEC_ECONFLICT);
  json_decref(body);
  free(pem);
  /* another key: taken */
  EVP_PKEY *other = NULL;
  assert_int_equal(crypto_pkey_generate(false, &other, &err), 0);
  assert_int_equal(crypto_pkey_public_pem(other, &pem, &err), 0);
  EVP_PKEY_free(other);
  body = json_pack("{s:s, s:s}", "vm", "li-second", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), 0);
  json_decref(out), json_decref(body);
  free(pem);
}

/* A key is one LI VM's whatever its encoding: a P-256 public key written
 * with its point compressed (SEC1 0x02/0x03, which OpenSSL reads and
 * writes back as it was given) is the same key as the uncompressed one,
 * and verifies the same signatures, so registering it for a second VM is
 * refused as the same key is. */
static void test_li_key_one_vm_compressed(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *out = NULL, *body;
  char *pem = NULL, *pem_c = NULL;
  assert_int_equal(crypto_pkey_public_pem(vm_key, &pem, &err), 0);
  EVP_PKEY *c = EVP_PKEY_dup(vm_key);
  assert_non_null(c);
  assert_int_equal(EVP_PKEY_set_utf8_string_param(c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                  OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
                   1);
  assert_int_equal(crypto_pkey_public_pem(c, &pem_c, &err), 0);
  EVP_PKEY_free(c);
  assert_string_not_equal(pem, pem_c); /* two texts of one key */
  body = json_pack("{s:s, s:s}", "vm", "li-first", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), 0);
  json_decref(out), json_decref(body);
  out = NULL;
  body = json_pack("{s:s, s:s}", "vm", "li-second", "pubkey", pem_c);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), LISEC_ECONFLICT);
  assert_null(out);
  assert_non_null(strstr(err.msg, "registered to another LI VM"));
  assert_null(strstr(err.msg, "li-first"));
  json_decref(body);
  free(pem);
  free(pem_c);
}

/* The same with the curve written out as explicit parameters (an
 * ECParameters SEQUENCE instead of the P-256 OID, which OpenSSL also reads
 * and writes back as it was given): one key, another SPKI and another
 * key_sha256, the same signatures. */
static void test_li_key_one_vm_explicit(void **state) {
  (void)state;
  lisec_err err = {0};
  json_t *out = NULL, *body;
  char *pem = NULL, *pem_x = NULL;
  uint8_t h[CRYPTO_SHA256_LEN], hx[CRYPTO_SHA256_LEN];
  assert_int_equal(crypto_pkey_public_pem(vm_key, &pem, &err), 0);
  EVP_PKEY *x = EVP_PKEY_dup(vm_key), *back = NULL;
  assert_non_null(x);
  assert_int_equal(EVP_PKEY_set_utf8_string_param(x, OSSL_PKEY_PARAM_EC_ENCODING,
                                                  OSSL_PKEY_EC_ENCODING_EXPLICIT),
                   1);
  assert_int_equal(crypto_pkey_public_pem(x, &pem_x, &err), 0);
  EVP_PKEY_free(x);
  /* read back as lisecd reads it: still the explicit form, another hash */
  assert_int_equal(crypto_pkey_from_pem(pem_x, strlen(pem_x), false, &back, &err), 0);
  assert_int_equal(li_key_sha256(vm_key, h, &err), 0);
  assert_int_equal(li_key_sha256(back, hx, &err), 0);
  EVP_PKEY_free(back);
  assert_memory_not_equal(h, hx, sizeof h);
  body = json_pack("{s:s, s:s}", "vm", "li-first", "pubkey", pem);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), 0);
  json_decref(out), json_decref(body);
  out = NULL;
  body = json_pack("{s:s, s:s}", "vm", "li-second", "pubkey", pem_x);
  assert_int_equal(ctl_li_instantiate(ctl, &MANO, body, &out, &err), LISEC_ECONFLICT);
  assert_null(out);
  assert_non_null(strstr(err.msg, "registered to another LI VM"));
  assert_null(strstr(err.msg, "li-first"));
  json_decref(body);
  free(pem);
  free(pem_x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_terminate_waits_for_the_host, setup, teardown),
      cmocka_unit_test_setup_teardown(test_terminate_immediate_and_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_vm_retired_not_terminated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_key_one_vm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_key_one_vm_compressed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_li_key_one_vm_explicit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
