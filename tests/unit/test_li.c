/* Unit tests of li/: the LI function's state machine driven by each role
 * (hypervisor-admin, li-admin, operator, none), pairing with a statement
 * the LI administration signed (and with the wrong key, the wrong VM, the
 * wrong VM key), the signed disable command (accepted once, then a replay;
 * signed by the wrong key; expired; valid too long; for another VM;
 * malformed, truncated, with extra or missing fields), the counter kept
 * across a re-pairing, and the known-peer rule. Commands and statements
 * are also signed here directly with OpenSSL's EVP API over the canonical
 * strings written out in docs/li.md, so the format is checked against its
 * documentation and not only against li/'s own signer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "li/li.h"

static EVP_PKEY *admin, *rogue, *vm_key, *other_vm_key, *ed_admin;

static int setup(void **state) {
  (void)state;
  admin = EVP_EC_gen("P-256");
  rogue = EVP_EC_gen("P-256");
  vm_key = EVP_EC_gen("P-256");
  other_vm_key = EVP_EC_gen("P-256");
  ed_admin = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  return admin && rogue && vm_key && other_vm_key && ed_admin ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  EVP_PKEY *k[] = {admin, rogue, vm_key, other_vm_key, ed_admin};
  for (size_t i = 0; i < 5; i++) EVP_PKEY_free(k[i]);
  return 0;
}

/* Signs msg with OpenSSL directly: ECDSA over SHA-256, or Ed25519. */
static char *openssl_sign_b64(EVP_PKEY *key, const char *msg) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ed = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
  assert_int_equal(EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL, key), 1);
  size_t len = 0;
  assert_int_equal(EVP_DigestSign(ctx, NULL, &len, (const uint8_t *)msg, strlen(msg)), 1);
  uint8_t *sig = malloc(len);
  assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const uint8_t *)msg, strlen(msg)), 1);
  EVP_MD_CTX_free(ctx);
  char *b64 = malloc(4 * len / 3 + 8);
  EVP_EncodeBlock((unsigned char *)b64, sig, (int)len);
  free(sig);
  return b64;
}

/* A command of type ("li-disable", "li-retire") built from the documented
 * bytes. */
static char *typed_cmd(const char *type, EVP_PKEY *key, const char *vm, uint64_t counter,
                       int64_t expires) {
  char canon[512], *out = malloc(2048);
  snprintf(canon, sizeof canon,
           "{\"counter\":%llu,\"expires\":%lld,\"type\":\"%s\",\"v\":1,\"vm\":\"%s\"}",
           (unsigned long long)counter, (long long)expires, type, vm);
  char *b64 = openssl_sign_b64(key, canon);
  /* Whitespace and key order as a hand-written file might have them. */
  snprintf(out, 2048,
           "{ \"signature\": \"%s\",\n  \"command\": { \"vm\": \"%s\", \"v\": 1, \"type\": "
           "\"%s\", \"expires\": %lld, \"counter\": %llu } }\n",
           b64, vm, type, (long long)expires, (unsigned long long)counter);
  free(b64);
  return out;
}

static char *disable_cmd(EVP_PKEY *key, const char *vm, uint64_t counter, int64_t expires) {
  return typed_cmd("li-disable", key, vm, counter, expires);
}

static char *retire_cmd(EVP_PKEY *key, const char *vm, uint64_t counter, int64_t expires) {
  return typed_cmd("li-retire", key, vm, counter, expires);
}

#define PAIR_NOW 1800000000 /* the time every pairing below is judged at */

/* A pairing statement built here from the documented bytes (docs/li.md),
 * not by li/'s signer: for the VM's last disable counter `last`. */
static char *pair_stmt_at(EVP_PKEY *key, const char *vm, EVP_PKEY *vmk, uint64_t last,
                          int64_t expires) {
  uint8_t *der = NULL, h[32];
  int len = i2d_PUBKEY(vmk, &der);
  unsigned hl = 0;
  EVP_Digest(der, (size_t)len, h, &hl, EVP_sha256(), NULL);
  OPENSSL_free(der);
  char hex[65], canon[512], *out = malloc(2048);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
  snprintf(canon, sizeof canon,
           "{\"expires\":%lld,\"key_sha256\":\"%s\",\"last_counter\":%llu,\"type\":\"li-pair\","
           "\"v\":2,\"vm\":\"%s\"}",
           (long long)expires, hex, (unsigned long long)last, vm);
  char *b64 = openssl_sign_b64(key, canon);
  snprintf(out, 2048, "{\"statement\":%s,\"signature\":\"%s\"}", canon, b64);
  free(b64);
  return out;
}

static char *pair_stmt(EVP_PKEY *key, const char *vm, EVP_PKEY *vmk) {
  return pair_stmt_at(key, vm, vmk, 0, PAIR_NOW + 600);
}

static int pair(li_vm *vm, const char *actor, EVP_PKEY *adm, EVP_PKEY *vmk, const char *stmt,
                lisec_err *err) {
  return li_pair(vm, actor, adm, vmk, (const uint8_t *)stmt, strlen(stmt), PAIR_NOW, err);
}

static int disable_signed(li_vm *vm, EVP_PKEY *adm, const char *cmd, int64_t now, lisec_err *err) {
  return li_disable_signed(vm, adm, (const uint8_t *)cmd, strlen(cmd), now, err);
}

static void test_roles_enable_pair(void **state) {
  (void)state;
  li_vm vm;
  lisec_err err = {0};
  assert_int_equal(li_vm_init(&vm, "vnf-li-1", &err), 0);
  assert_int_equal(vm.state, LI_STATE_OFF);
  /* Only the hypervisor administration enables. */
  assert_int_equal(li_enable(&vm, "operator", &err), LISEC_EAUTH);
  assert_int_equal(li_enable(&vm, "li-admin", &err), LISEC_EAUTH);
  assert_int_equal(li_enable(&vm, NULL, &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  /* Pairing before enabling is refused. */
  char *stmt = pair_stmt(admin, "vnf-li-1", vm_key);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), LISEC_ECONFLICT);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  assert_int_equal(vm.state, LI_STATE_ENABLED);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), LISEC_ECONFLICT);
  /* Only the LI administration pairs. */
  assert_int_equal(pair(&vm, "hypervisor-admin", admin, vm_key, stmt, &err), LISEC_EAUTH);
  assert_int_equal(pair(&vm, "operator", admin, vm_key, stmt, &err), LISEC_EAUTH);
  /* ... and only with its own signature, this VM and this VM's key. */
  assert_int_equal(pair(&vm, "li-admin", rogue, vm_key, stmt, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "not signed by the LI administration"));
  assert_int_equal(pair(&vm, "li-admin", admin, other_vm_key, stmt, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "another key"));
  char *other = pair_stmt(admin, "vnf-li-2", vm_key);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, other, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "for VM vnf-li-2"));
  free(other);
  assert_int_equal(vm.state, LI_STATE_ENABLED);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), 0);
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  assert_true(vm.has_key);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), LISEC_ECONFLICT);
  free(stmt);
  /* li/'s own signer makes a statement the same verification accepts. */
  char *mine = NULL;
  assert_int_equal(li_pair_sign("vnf-li-1", vm_key, 0, PAIR_NOW + 600, admin, &mine, &err), 0);
  assert_int_equal(li_pair_verify((const uint8_t *)mine, strlen(mine), admin, "vnf-li-1", vm_key,
                                  0, PAIR_NOW, &err),
                   0);
  /* ... and the statement this file builds is byte for byte li/'s. */
  char *theirs = pair_stmt(admin, "vnf-li-1", vm_key);
  char *brace = strchr(theirs, '}'), *mbrace = strchr(mine, '}');
  assert_int_equal(brace - theirs, mbrace - mine);
  assert_memory_equal(theirs, mine, (size_t)(brace - theirs));
  free(theirs);
  free(mine);
}

static void test_activation_lock(void **state) {
  (void)state;
  li_vm vm;
  lisec_err err = {0};
  int64_t now = 1800000000;
  assert_int_equal(li_vm_init(&vm, "vnf-li-1", &err), 0);
  /* Before pairing the hypervisor administration may switch it off. */
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  assert_int_equal(li_disable(&vm, "operator", &err), LISEC_EAUTH);
  assert_int_equal(li_disable(&vm, "hypervisor-admin", &err), 0);
  assert_int_equal(vm.state, LI_STATE_OFF);
  assert_int_equal(li_disable(&vm, "hypervisor-admin", &err), LISEC_ECONFLICT);
  /* Paired: no role disables it directly, whoever asks. */
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  char *stmt = pair_stmt(admin, "vnf-li-1", vm_key);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), 0);
  static const char *const roles[] = {"hypervisor-admin", "operator", "li-admin", "auditor"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(li_disable(&vm, roles[i], &err), LISEC_EDENIED);
    assert_non_null(strstr(err.msg, roles[i])); /* the attempt names who tried */
    assert_non_null(strstr(err.msg, "TR103308-4.1"));
  }
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  /* A command signed by the wrong key. */
  char *bad = disable_cmd(rogue, "vnf-li-1", 1, now + 600);
  assert_int_equal(disable_signed(&vm, admin, bad, now, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "not signed by the LI administration"));
  free(bad);
  /* For another VM. */
  bad = disable_cmd(admin, "vnf-li-2", 1, now + 600);
  assert_int_equal(disable_signed(&vm, admin, bad, now, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "for VM vnf-li-2"));
  free(bad);
  /* Expired, and valid for too long. */
  bad = disable_cmd(admin, "vnf-li-1", 1, now - 1);
  assert_int_equal(disable_signed(&vm, admin, bad, now, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "expired"));
  free(bad);
  bad = disable_cmd(admin, "vnf-li-1", 1, now + LI_CMD_LIFETIME_MAX + 1);
  assert_int_equal(disable_signed(&vm, admin, bad, now, &err), LISEC_EDENIED);
  free(bad);
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  assert_int_equal(vm.last_counter, 0);
  /* The right command: accepted once. */
  char *cmd = disable_cmd(admin, "vnf-li-1", 7, now + 600);
  assert_int_equal(disable_signed(&vm, admin, cmd, now, &err), 0);
  assert_int_equal(vm.state, LI_STATE_OFF);
  assert_int_equal(vm.last_counter, 7);
  assert_false(vm.has_key);
  /* Re-enabled: the statement signed before command 7 is a replay and
   * does not pair it again; one signed for last counter 7 does. */
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "replayed pairing statement"));
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  assert_int_equal(vm.state, LI_STATE_ENABLED);
  char *ahead = pair_stmt_at(admin, "vnf-li-1", vm_key, 8, PAIR_NOW + 600);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, ahead, &err), LISEC_EDENIED);
  free(ahead);
  char *fresh = pair_stmt_at(admin, "vnf-li-1", vm_key, 7, PAIR_NOW + 600);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, fresh, &err), 0);
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  free(fresh);
  assert_int_equal(disable_signed(&vm, admin, cmd, now, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "replayed"));
  char *older = disable_cmd(admin, "vnf-li-1", 6, now + 600);
  assert_int_equal(disable_signed(&vm, admin, older, now, &err), LISEC_ECONFLICT);
  free(older);
  char *next = disable_cmd(admin, "vnf-li-1", 8, now + 600);
  assert_int_equal(disable_signed(&vm, admin, next, now, &err), 0);
  assert_int_equal(vm.last_counter, 8);
  free(next);
  free(cmd);
  free(stmt);
}

static int retire(li_vm *vm, EVP_PKEY *adm, const char *cmd, int64_t now, lisec_err *err) {
  return li_retire_signed(vm, adm, (const uint8_t *)cmd, strlen(cmd), now, err);
}

/* Retirement (issue 21): only a retire command the LI administration
 * signed, for this VM, fresh and above the VM's one counter (which disable
 * commands share), retires it, from paired or from off; a disable command
 * is not a retire command nor the other way round; nothing leaves retired. */
static void test_retire(void **state) {
  (void)state;
  li_vm vm;
  lisec_err err = {0};
  int64_t now = PAIR_NOW;
  assert_int_equal(li_vm_init(&vm, "vnf-li-1", &err), 0);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  char *stmt = pair_stmt(admin, "vnf-li-1", vm_key);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), 0);
  free(stmt);
  /* wrong signer, other VM, expired, too long, a disable command */
  char *bad[] = {retire_cmd(rogue, "vnf-li-1", 3, now + 600), retire_cmd(admin, "vnf-li-2", 3, now + 600),
                 retire_cmd(admin, "vnf-li-1", 3, now), retire_cmd(admin, "vnf-li-1", 3, now + LI_CMD_LIFETIME_MAX + 1),
                 disable_cmd(admin, "vnf-li-1", 3, now + 600)};
  static const char *const why[] = {"not signed by the LI administration", "for VM vnf-li-2", "expired",
                                    "valid for more than", "not an LI li-retire message"};
  for (size_t i = 0; i < 5; i++) {
    assert_int_not_equal(retire(&vm, admin, bad[i], now, &err), 0);
    assert_non_null(strstr(err.msg, why[i]));
    assert_int_equal(vm.state, LI_STATE_PAIRED);
    assert_int_equal(vm.last_counter, 0);
  }
  /* a retire command is not a disable command either */
  char *r3 = retire_cmd(admin, "vnf-li-1", 3, now + 600);
  assert_int_equal(disable_signed(&vm, admin, r3, now, &err), LISEC_EINVAL);
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  /* the counter is shared: after disable command 3, retire command 3 is a replay */
  assert_int_equal(disable_signed(&vm, admin, bad[4], now, &err), 0);
  assert_int_equal(vm.last_counter, 3);
  assert_int_equal(retire(&vm, admin, r3, now, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "replayed retire command"));
  assert_int_equal(vm.state, LI_STATE_OFF);
  char *r4 = retire_cmd(admin, "vnf-li-1", 4, now + 600);
  assert_int_equal(retire(&vm, admin, r4, now, &err), 0);
  assert_int_equal(vm.state, LI_STATE_RETIRED);
  assert_int_equal(vm.last_counter, 4);
  assert_false(vm.has_key);
  assert_string_equal(li_state_name(vm.state), "retired");
  li_state back;
  assert_int_equal(li_state_parse("retired", &back), 0);
  assert_int_equal(back, LI_STATE_RETIRED);
  /* nothing leaves retired, whoever asks, and retiring twice is refused */
  char *r5 = retire_cmd(admin, "vnf-li-1", 5, now + 600);
  assert_int_equal(retire(&vm, admin, r5, now, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "is retired"));
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), LISEC_ECONFLICT);
  assert_int_equal(li_disable(&vm, "hypervisor-admin", &err), LISEC_ECONFLICT);
  stmt = pair_stmt_at(admin, "vnf-li-1", vm_key, 4, PAIR_NOW + 600);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, stmt, &err), LISEC_ECONFLICT);
  assert_int_equal(vm.state, LI_STATE_RETIRED);
  assert_int_equal(vm.last_counter, 4);
  /* li/'s own signer makes what the documented bytes make */
  li_command c = {.counter = 9, .expires = now + 600};
  snprintf(c.vm, sizeof c.vm, "vnf-li-9");
  char *signed_ = NULL, canon[256];
  assert_int_equal(li_retire_sign(&c, admin, &signed_, &err), 0);
  assert_int_equal(li_retire_canonical(&c, canon, sizeof canon, &err), 0);
  assert_non_null(strstr(canon, "\"type\":\"li-retire\""));
  li_command got;
  assert_int_equal(li_retire_verify((const uint8_t *)signed_, strlen(signed_), admin, "vnf-li-9", 8, now, &got, &err), 0);
  assert_int_equal(got.counter, 9);
  free(signed_);
  for (size_t i = 0; i < 5; i++) free(bad[i]);
  free(r3);
  free(r4);
  free(r5);
  free(stmt);
}

/* The statement's freshness fields: expiry, lifetime, and the first
 * format (no counter, no expiry) refused saying why. */
static void test_pair_freshness(void **state) {
  (void)state;
  li_vm vm;
  lisec_err err = {0};
  assert_int_equal(li_vm_init(&vm, "vnf-li-1", &err), 0);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  char *s = pair_stmt_at(admin, "vnf-li-1", vm_key, 0, PAIR_NOW);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, s, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "expired"));
  free(s);
  s = pair_stmt_at(admin, "vnf-li-1", vm_key, 0, PAIR_NOW + LI_CMD_LIFETIME_MAX + 1);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, s, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "valid for more than"));
  free(s);
  /* the v1 statement: four fields, signed, and still refused */
  uint8_t *der = NULL, h[32];
  int len = i2d_PUBKEY(vm_key, &der);
  unsigned hl = 0;
  EVP_Digest(der, (size_t)len, h, &hl, EVP_sha256(), NULL);
  OPENSSL_free(der);
  char hex[65], canon[512], v1[2048];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
  snprintf(canon, sizeof canon, "{\"key_sha256\":\"%s\",\"type\":\"li-pair\",\"v\":1,\"vm\":\"vnf-li-1\"}", hex);
  char *b64 = openssl_sign_b64(admin, canon);
  snprintf(v1, sizeof v1, "{\"statement\":%s,\"signature\":\"%s\"}", canon, b64);
  free(b64);
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, v1, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "last command counter"));
  /* a changed counter breaks the signature */
  s = pair_stmt_at(admin, "vnf-li-1", vm_key, 0, PAIR_NOW + 600);
  char *at = strstr(s, "\"last_counter\":0");
  assert_non_null(at);
  at[strlen("\"last_counter\":")] = '5';
  vm.last_counter = 5;
  assert_int_equal(pair(&vm, "li-admin", admin, vm_key, s, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "not signed"));
  free(s);
  assert_int_equal(vm.state, LI_STATE_ENABLED);
}

static void test_command_format(void **state) {
  (void)state;
  lisec_err err = {0};
  li_command c = {.counter = 42, .expires = 1800000600};
  strcpy(c.vm, "vnf-li-1");
  char canon[256];
  assert_int_equal(li_command_canonical(&c, canon, sizeof canon, &err), 0);
  assert_string_equal(canon,
                      "{\"counter\":42,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"}");
  /* li/'s signer, checked with OpenSSL directly over the documented bytes. */
  char *file = NULL;
  assert_int_equal(li_command_sign(&c, admin, &file, &err), 0);
  json_error_t je;
  json_t *j = json_loads(file, 0, &je);
  assert_non_null(j);
  size_t sig_len = 0;
  uint8_t sig[256];
  const char *b64 = json_string_value(json_object_get(j, "signature"));
  EVP_ENCODE_CTX *ectx = EVP_ENCODE_CTX_new();
  int outl = 0, tmpl = 0;
  EVP_DecodeInit(ectx);
  assert_int_not_equal(EVP_DecodeUpdate(ectx, sig, &outl, (const uint8_t *)b64, (int)strlen(b64)), -1);
  assert_int_equal(EVP_DecodeFinal(ectx, sig + outl, &tmpl), 1);
  EVP_ENCODE_CTX_free(ectx);
  sig_len = (size_t)(outl + tmpl);
  EVP_MD_CTX *v = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, admin), 1);
  assert_int_equal(EVP_DigestVerify(v, sig, sig_len, (const uint8_t *)canon, strlen(canon)), 1);
  EVP_MD_CTX_free(v);
  json_decref(j);
  li_command out;
  assert_int_equal(li_command_verify((const uint8_t *)file, strlen(file), admin, "vnf-li-1", 41,
                                     1800000000, &out, &err),
                   0);
  assert_int_equal(out.counter, 42);
  free(file);
  /* Ed25519 keys sign the bytes themselves. */
  char *ed = disable_cmd(ed_admin, "vnf-li-1", 1, 1800000600);
  assert_int_equal(li_command_verify((const uint8_t *)ed, strlen(ed), ed_admin, "vnf-li-1", 0,
                                     1800000000, &out, &err),
                   0);
  free(ed);
  /* Malformed commands. */
  char *good = disable_cmd(admin, "vnf-li-1", 3, 1800000600);
  static const char *const bad[] = {
      "",
      "{}",
      "[1,2]",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"}}",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"},\"signature\":\"!!\"}",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\",\"x\":1},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":0,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":-3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-enable\",\"v\":1,\"vm\":\"vnf-li-1\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":2,\"vm\":\"vnf-li-1\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":3,\"expires\":\"soon\",\"type\":\"li-disable\",\"v\":1,\"vm\":\"vnf-li-1\"},\"signature\":\"AA==\"}",
      "{\"command\":{\"counter\":3,\"expires\":1800000600,\"type\":\"li-disable\",\"v\":1,\"vm\":\"a\\\"b\"},\"signature\":\"AA==\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = li_command_verify((const uint8_t *)bad[i], strlen(bad[i]), admin, "vnf-li-1", 0,
                               1800000000, &out, &err);
    if (rc == 0) fail_msg("malformed command %zu accepted", i);
  }
  /* Every truncation of a good command fails (past its final newline). */
  for (size_t cut = 2; cut < strlen(good); cut += 3)
    assert_int_not_equal(li_command_verify((const uint8_t *)good, strlen(good) - cut, admin,
                                           "vnf-li-1", 0, 1800000000, &out, &err),
                         0);
  /* A changed counter under the old signature. */
  char *p = strstr(good, "\"counter\": 3");
  assert_non_null(p);
  p[11] = '9';
  assert_int_equal(li_command_verify((const uint8_t *)good, strlen(good), admin, "vnf-li-1", 0,
                                     1800000000, &out, &err),
                   LISEC_EDENIED);
  free(good);
  char *big = malloc(LI_MSG_MAX + 2);
  memset(big, ' ', LI_MSG_MAX + 1);
  big[LI_MSG_MAX + 1] = '\0';
  assert_int_equal(li_command_verify((const uint8_t *)big, LI_MSG_MAX + 1, admin, "vnf-li-1", 0,
                                     1800000000, &out, &err),
                   LISEC_ETOOBIG);
  free(big);
  assert_int_equal(li_vm_id_check("vm with space", &err), LISEC_EINVAL);
  assert_int_equal(li_vm_id_check("", &err), LISEC_EINVAL);
}

/* After a restore of the store (docs/li.md, "After a restore"): a held
 * enabled VM is switched off by li-admin only, li_confirm ends the hold
 * (li-admin only, once), pairing and signed commands end it, and a signed
 * message that expires at or before the restore + 7 days is refused
 * naming TR103308-4.1-RESTORE, for held and unheld VMs alike. */
static void test_restore_hold(void **state) {
  (void)state;
  li_vm vm;
  lisec_err err = {0};
  int64_t restored = PAIR_NOW - 60, edge = restored + LI_CMD_LIFETIME_MAX;
  assert_int_equal(li_vm_init(&vm, "vnf-li-1", &err), 0);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  vm.restored_at = restored;
  vm.held = true;
  /* held: the hypervisor administration may not switch it off */
  assert_int_equal(li_disable(&vm, "hypervisor-admin", &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-RESTORE"));
  assert_non_null(strstr(err.msg, "hypervisor-admin"));
  assert_int_equal(li_disable(&vm, "operator", &err), LISEC_EDENIED);
  assert_int_equal(vm.state, LI_STATE_ENABLED);
  /* only li-admin confirms */
  assert_int_equal(li_confirm(&vm, "hypervisor-admin", &err), LISEC_EAUTH);
  assert_non_null(strstr(err.msg, "TR103308-4.1-RESTORE"));
  assert_true(vm.held);
  /* a pairing statement that expires at the edge may predate the restore */
  char *old = pair_stmt_at(admin, "vnf-li-1", vm_key, 0, edge);
  assert_int_equal(
      li_pair(&vm, "li-admin", admin, vm_key, (const uint8_t *)old, strlen(old), edge - 600, &err),
      LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-RESTORE"));
  assert_non_null(strstr(err.msg, "sign a new one"));
  assert_int_equal(vm.state, LI_STATE_ENABLED);
  assert_true(vm.held);
  free(old);
  /* one a second later pairs it and ends the hold */
  char *fresh = pair_stmt_at(admin, "vnf-li-1", vm_key, 0, edge + 1);
  assert_int_equal(
      li_pair(&vm, "li-admin", admin, vm_key, (const uint8_t *)fresh, strlen(fresh), edge - 600, &err),
      0);
  assert_int_equal(vm.state, LI_STATE_PAIRED);
  assert_false(vm.held);
  free(fresh);
  /* the same for a disable command, held or not */
  char *cmd = disable_cmd(admin, "vnf-li-1", 1, edge);
  assert_int_equal(disable_signed(&vm, admin, cmd, edge - 600, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-RESTORE"));
  assert_int_equal(vm.last_counter, 0);
  free(cmd);
  cmd = disable_cmd(admin, "vnf-li-1", 1, edge + 1);
  vm.held = true;
  assert_int_equal(disable_signed(&vm, admin, cmd, edge - 600, &err), 0);
  assert_int_equal(vm.state, LI_STATE_OFF);
  assert_false(vm.held);
  free(cmd);
  /* li_confirm: ECONFLICT when not held; li-admin ends a hold once */
  assert_int_equal(li_confirm(&vm, "li-admin", &err), LISEC_ECONFLICT);
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  vm.held = true;
  assert_int_equal(li_confirm(&vm, "li-admin", &err), 0);
  assert_false(vm.held);
  assert_int_equal(li_disable(&vm, "hypervisor-admin", &err), 0);
  /* li-admin switches a held enabled VM off itself; not an unheld one */
  assert_int_equal(li_enable(&vm, "hypervisor-admin", &err), 0);
  assert_int_equal(li_disable(&vm, "li-admin", &err), LISEC_EAUTH);
  vm.held = true;
  assert_int_equal(li_disable(&vm, "li-admin", &err), 0);
  assert_int_equal(vm.state, LI_STATE_OFF);
  assert_false(vm.held);
  /* a retire command that may predate the restore */
  char *ret = retire_cmd(admin, "vnf-li-1", 2, edge);
  assert_int_equal(
      li_retire_signed(&vm, admin, (const uint8_t *)ret, strlen(ret), edge - 600, &err),
      LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.1-RESTORE"));
  assert_int_equal(vm.state, LI_STATE_OFF);
  free(ret);
  /* no restore: the same messages pass */
  vm.restored_at = 0;
  ret = retire_cmd(admin, "vnf-li-1", 2, edge);
  assert_int_equal(
      li_retire_signed(&vm, admin, (const uint8_t *)ret, strlen(ret), edge - 600, &err), 0);
  free(ret);
}

static void test_known_peers(void **state) {
  (void)state;
  lisec_err err = {0};
  li_peer paired = {"li-1", true, true, LI_STATE_PAIRED};
  li_peer paired2 = {"li-2", true, true, LI_STATE_PAIRED};
  li_peer enabled = {"li-3", true, true, LI_STATE_ENABLED};
  li_peer nf = {"amf-1", true, false, LI_STATE_OFF};
  li_peer unknown = {"who", false, false, LI_STATE_OFF};
  assert_int_equal(li_connection_check(&paired, &paired2, &err), 0);
  assert_int_equal(li_connection_check(&paired, &nf, &err), 0);
  assert_int_equal(li_connection_check(&nf, &unknown, &err), 0); /* not an LI connection */
  assert_int_equal(li_connection_check(&paired, &unknown, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "TR103308-4.2"));
  assert_int_equal(li_connection_check(&unknown, &paired, &err), LISEC_EDENIED);
  assert_int_equal(li_connection_check(&paired, &enabled, &err), LISEC_EDENIED);
  assert_non_null(strstr(err.msg, "li-3 is not paired"));
  assert_int_equal(li_connection_check(&enabled, &nf, &err), LISEC_EDENIED);
  li_state s;
  assert_int_equal(li_state_parse("paired", &s), 0);
  assert_int_equal(s, LI_STATE_PAIRED);
  assert_string_equal(li_state_name(LI_STATE_ENABLED), "enabled");
  assert_int_equal(li_state_parse("on", &s), LISEC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles_enable_pair),
      cmocka_unit_test(test_activation_lock),
      cmocka_unit_test(test_pair_freshness),
      cmocka_unit_test(test_command_format),
      cmocka_unit_test(test_known_peers),
      cmocka_unit_test(test_retire),
      cmocka_unit_test(test_restore_hold),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
