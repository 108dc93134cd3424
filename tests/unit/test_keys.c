/* The keys process's service (keys/service.c) against a real SoftHSM2 token
 * this test makes, reached only through its client over a socketpair, as
 * lisecd's controller reaches it: targets are sealed, opened and re-wrapped
 * inside it (a rotation keeps old records readable, a re-wrap moves them,
 * unloading keeps them openable); an altered record and bad identifiers are
 * refused with the vault's reasons; a checkpoint signature verifies under
 * the public key it announced; the [li] session is open and logged in (no
 * LI VM key is made there: the VMs make their own); a development key is refused unless
 * asked for by name; and when the keys process is killed the client says
 * so at once instead of hanging; with several token sessions, cold data
 * keys asked for by many callers at once (and in one batch) each come back
 * to their own caller, the bad ones refused; a KEK rotation's batched
 * re-wraps each come back in order, the bad one refused alone (also one
 * no answer could name or carry, the channel staying up); [vault]'s
 * cache and token settings are bounded; a gone record's cached data key
 * is wiped on EVICT (the next read a cold one), and a rotation neither
 * caches a cold key nor keeps a form under an unloaded KEK. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/keys.h"
#include "keys/wire.h"
#include "softhsm_token.h"

/* SoftHSM2 2.6 leaks the ASN.1 it decodes for EdDSA keys (see test_p11.c). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void) { return "leak:ASN1_item_d2i_ex\n"; }

static char dir[64], pin_file[128];

static lisec_config *token_config(void) {
  const char *module = getenv("LISEC_P11_MODULE");
  lisec_config *cfg = lisec_config_new();
  static const char *const sections[] = {"vault", "audit", "li"};
  for (int i = 0; i < 3; i++) {
    lisec_config_set(cfg, sections[i], "pkcs11_module", module);
    lisec_config_set(cfg, sections[i], "token", "lisec-test");
    lisec_config_set(cfg, sections[i], "pin_file", pin_file);
  }
  lisec_config_set(cfg, "vault", "key_label", "keys-kek-a");
  lisec_config_set(cfg, "audit", "key_label", "keys-audit");
  return cfg;
}

static keys_client *start(lisec_config *cfg) {
  keys_client *k = NULL;
  lisec_err err = {0};
  int rc = keys_local_start(cfg, &k, &err);
  lisec_config_free(cfg);
  if (rc) fail_msg("keys_local_start: %s", err.msg);
  return k;
}

static json_t *identifiers(void) {
  return json_pack("[{s:s, s:s}, {s:s, s:s}]", "kind", "imsi", "value", "244051234567890", "kind", "e164",
                   "value", "358401234567");
}

static void test_what_it_holds(void **state) {
  (void)state;
  keys_client *k = start(token_config());
  const keys_info *i = keys_client_info(k);
  assert_true(i->vault && i->audit && i->li);
  assert_false(i->vault_development || i->audit_development);
  keys_client_close(k);
}

static void test_seal_open_rewrap(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config());
  json_t *ids = identifiers(), *back = NULL;
  vault_sealed s, s2;
  if (keys_vault_seal(k, "t-1", "li-1", 1, ids, &s, &err)) fail_msg("seal: %s", err.msg);
  assert_string_equal(s.kek_label, "pkcs11:lisec-test/keys-kek-a");
  assert_int_equal(s.version, 1);
  /* no identifier in clear in what the controller stores */
  assert_null(memmem(s.ciphertext, s.ciphertext_len, "244051234567890", 15));
  if (keys_vault_open(k, &s, &back, &err)) fail_msg("open: %s", err.msg);
  assert_true(json_equal(ids, back));
  json_decref(back);
  back = NULL;
  /* altered, or moved to another record: refused */
  s.ciphertext[s.ciphertext_len - 1] ^= 1;
  assert_int_equal(keys_vault_open(k, &s, &back, &err), LISEC_ECRYPTO);
  assert_null(back);
  s.ciphertext[s.ciphertext_len - 1] ^= 1;
  snprintf(s.id, sizeof s.id, "t-2");
  assert_int_equal(keys_vault_open(k, &s, &back, &err), LISEC_ECRYPTO);
  snprintf(s.id, sizeof s.id, "t-1");
  /* the vault's own refusals come back with their reasons */
  json_t *bad = json_pack("[{s:s, s:s}]", "kind", "imsi", "value", "12");
  assert_int_equal(keys_vault_seal(k, "t-3", "li-1", 1, bad, &s2, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "identifiers[0]"));
  json_decref(bad);
  assert_int_equal(keys_vault_seal(k, "t 3", "li-1", 1, ids, &s2, &err), LISEC_EINVAL);
  assert_int_equal(keys_vault_seal(k, "t-3", "li-1", 1, NULL, &s2, &err), LISEC_EINVAL);
  /* rotation: a new current KEK; the old record still opens by its label */
  char name[KEYS_KEK_NAME_MAX + 1], label[VAULT_ID_MAX + 1];
  assert_int_equal(keys_vault_use_kek(k, "keys-kek-b", false, &err), LISEC_ENOTFOUND);
  if (keys_vault_use_kek(k, "keys-kek-b", true, &err)) fail_msg("use: %s", err.msg);
  assert_int_equal(keys_vault_current_kek(k, name, label, &err), 0);
  assert_string_equal(name, "keys-kek-b");
  assert_string_equal(label, "pkcs11:lisec-test/keys-kek-b");
  assert_int_equal(keys_vault_use_kek(k, "bad/name", true, &err), LISEC_EINVAL);
  assert_int_equal(keys_vault_open(k, &s, &back, &err), 0);
  json_decref(back);
  back = NULL;
  /* asked for another KEK than the one the keys process wraps under now:
   * refused naming both, the record untouched */
  bool changed = false;
  vault_sealed before = s;
  assert_int_equal(keys_vault_rewrap(k, &s, "pkcs11:lisec-test/keys-kek-c", &changed, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  assert_non_null(strstr(err.msg, "\"pkcs11:lisec-test/keys-kek-b\", not \"pkcs11:lisec-test/keys-kek-c\""));
  assert_string_equal(s.kek_label, before.kek_label);
  assert_memory_equal(s.wrapped_key, before.wrapped_key, before.wrapped_key_len);
  /* re-wrapped under the current KEK, ciphertext untouched */
  if (keys_vault_rewrap(k, &s, label, &changed, &err)) fail_msg("rewrap: %s", err.msg);
  assert_true(changed);
  assert_string_equal(s.kek_label, label);
  assert_ptr_equal(s.ciphertext, before.ciphertext);
  assert_int_equal(keys_vault_rewrap(k, &s, label, &changed, &err), 0);
  assert_false(changed);
  size_t unloaded = 0;
  assert_int_equal(keys_vault_unload_keks(k, &unloaded, &err), 0);
  assert_int_equal(unloaded, 1);
  assert_int_equal(keys_vault_open(k, &s, &back, &err), 0);
  assert_true(json_equal(ids, back));
  json_decref(back);
  back = NULL;
  /* a record under a key the token does not hold */
  snprintf(s.kek_label, sizeof s.kek_label, "pkcs11:lisec-test/keys-kek-z");
  assert_int_equal(keys_vault_open(k, &s, &back, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  vault_sealed_free(&s);
  json_decref(ids);
  keys_client_close(k);
}

static void test_sign_and_li_keys(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config());
  const keys_info *i = keys_client_info(k);
  /* a checkpoint (the keys process signs nothing else, keys/witness.h) */
  static const uint8_t msg[] = "lisec.test/audit\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  uint8_t sig[64];
  if (keys_audit_sign_proven(k, false, msg, sizeof msg - 1, 0, NULL, sig, &err)) fail_msg("sign: %s", err.msg);
  assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1, i->audit_pk), 0);
  sig[0] ^= 1;
  assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1, i->audit_pk), 0);

  assert_int_equal(keys_li_check(k, &err), 0);
  assert_int_equal(keys_audit_sign_proven(k, false, msg, sizeof msg - 1, 42, NULL, sig, &err), 0);
  assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1, i->audit_pk), 0);
  json_t *ids = identifiers(), *back = NULL;
  vault_sealed s;
  assert_int_equal(keys_vault_seal(k, "t-9", "li-1", 1, ids, &s, &err), 0);
  assert_int_equal(keys_vault_open(k, &s, &back, &err), 0);
  vault_sealed_free(&s);
  json_decref(back);
  json_decref(ids);
  keys_client_close(k);
}

static uint64_t held(keys_client *k) {
  uint64_t n = 0;
  lisec_err err = {0};
  if (keys_vault_cache_held(k, &n, &err)) fail_msg("cache_held: %s", err.msg);
  return n;
}

static bool evicted(keys_client *k, const vault_sealed *s) {
  bool e = false;
  lisec_err err = {0};
  if (keys_vault_evict(k, s, &e, &err)) fail_msg("evict: %s", err.msg);
  return e;
}

static void open_ok(keys_client *k, const vault_sealed *s) {
  json_t *back = NULL, *want = identifiers();
  lisec_err err = {0};
  if (keys_vault_open(k, s, &back, &err)) fail_msg("open %s: %s", s->id, err.msg);
  assert_true(json_equal(back, want));
  json_decref(back);
  json_decref(want);
}

/* TR 103 308 §5.7, keys no longer needed are destroyed: the data key of a
 * record that is gone is wiped from the keys process's cache on EVICT (the
 * next read of it asks the token again: a cold read caches it anew), a
 * repeat or a key not cached is no error, and what a peer can do with it
 * is no more than that (a wrapped key nobody has evicts nothing, a request
 * without one is refused and the channel stays up). A rotation does not
 * bring a cold data key into the cache, and the forms under a KEK that is
 * unloaded go with it. */
static void test_evict(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(token_config());
  json_t *ids = identifiers();
  vault_sealed s1, s2;
  if (keys_vault_seal(k, "t-e1", "li-1", 1, ids, &s1, &err) || keys_vault_seal(k, "t-e2", "li-1", 1, ids, &s2, &err))
    fail_msg("seal: %s", err.msg);
  json_decref(ids);
  assert_int_equal(held(k), 2); /* a seal keeps the key it made */
  open_ok(k, &s1);
  assert_int_equal(held(k), 2); /* read from the cache */
  /* the record is gone: its key is wiped, the other's stays */
  assert_true(evicted(k, &s1));
  assert_int_equal(held(k), 1);
  /* idempotent */
  assert_false(evicted(k, &s1));
  assert_int_equal(held(k), 1);
  /* the next read is a cold one (the token's), which caches it again */
  open_ok(k, &s1);
  assert_int_equal(held(k), 2);
  /* a request without a wrapped key: refused, naming it; nothing wiped,
   * the channel still up */
  vault_sealed none = {.id = "t-e2"};
  assert_int_equal(keys_vault_evict(k, &none, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "no wrapped key"));
  snprintf(none.id, sizeof none.id, "%s", "");
  none.wrapped_key_len = s2.wrapped_key_len;
  assert_int_equal(keys_vault_evict(k, &none, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "empty record id"));
  assert_int_equal(held(k), 2);
  /* a wrapped key no record has: nothing to wipe */
  vault_sealed other = {.id = "t-e2", .wrapped_key_len = s2.wrapped_key_len};
  randombytes_buf(other.wrapped_key, other.wrapped_key_len);
  assert_false(evicted(k, &other));
  assert_int_equal(held(k), 2);
  /* the worst a peer can do: evict a key under another id, forcing a cold read */
  vault_sealed misnamed = s2;
  snprintf(misnamed.id, sizeof misnamed.id, "%s", "t-not-e2");
  assert_true(evicted(k, &misnamed));
  assert_int_equal(held(k), 1);
  open_ok(k, &s2);
  assert_int_equal(held(k), 2);
  assert_true(evicted(k, &s2));
  /* a rotation: a data key not cached is not cached by its re-wrap ... */
  char label[VAULT_ID_MAX + 1];
  bool changed = false;
  if (keys_vault_use_kek(k, "keys-kek-evict", true, &err)) fail_msg("use: %s", err.msg);
  assert_int_equal(keys_vault_current_kek(k, NULL, label, &err), 0);
  vault_sealed s1_before = s1;
  if (keys_vault_rewrap(k, &s2, label, &changed, &err)) fail_msg("rewrap: %s", err.msg);
  assert_true(changed);
  assert_int_equal(held(k), 1);
  /* ... a cached one stays, in both forms until the old KEK is unloaded */
  if (keys_vault_rewrap(k, &s1, label, &changed, &err)) fail_msg("rewrap: %s", err.msg);
  assert_true(changed);
  assert_int_equal(held(k), 2);
  size_t unloaded = 0;
  assert_int_equal(keys_vault_unload_keks(k, &unloaded, &err), 0);
  assert_int_equal(unloaded, 1);
  assert_int_equal(held(k), 1);
  assert_false(evicted(k, &s1_before)); /* the old form went with its KEK */
  open_ok(k, &s1);                      /* the new form: cached */
  assert_int_equal(held(k), 1);
  open_ok(k, &s2); /* cold */
  assert_int_equal(held(k), 2);
  vault_sealed_free(&s1);
  vault_sealed_free(&s2);
  keys_client_close(k);
}

static void test_development_and_absent_keys(void **state) {
  (void)state;
  lisec_err err = {0};
  char kek[128], audit[128];
  snprintf(kek, sizeof kek, "%s/kek.dev", dir);
  snprintf(audit, sizeof audit, "%s/audit.pem", dir);
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "vault", "development_key_file", kek);
  keys_client *k = NULL;
  assert_int_equal(keys_local_start(cfg, &k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "allow_development_key = true"));
  assert_null(k);
  lisec_config_set(cfg, "vault", "allow_development_key", "true");
  lisec_config_set(cfg, "audit", "development_key_file", audit);
  assert_int_equal(keys_local_start(cfg, &k, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "[audit] development_key_file"));
  lisec_config_set(cfg, "audit", "allow_development_key", "true");
  k = start(cfg);
  const keys_info *i = keys_client_info(k);
  assert_true(i->vault && i->vault_development && i->audit && i->audit_development);
  assert_false(i->li);
  /* a development key is not rotated; no [li] token: no [li] session */
  assert_int_equal(keys_vault_use_kek(k, "other", true, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "development key file cannot be rotated"));
  assert_int_equal(keys_li_check(k, &err), LISEC_EUNAVAIL);
  keys_client_close(k);
  /* nothing configured: the service starts and says it holds nothing */
  k = start(lisec_config_new());
  i = keys_client_info(k);
  assert_false(i->vault || i->audit || i->li);
  json_t *ids = identifiers();
  vault_sealed s;
  assert_int_equal(keys_vault_seal(k, "t-1", "li-1", 1, ids, &s, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  uint8_t sig[64];
  assert_int_equal(keys_audit_sign_proven(k, false, (const uint8_t *)"x", 1, 0, NULL, sig, &err), LISEC_EUNAVAIL);
  json_decref(ids);
  keys_client_close(k);
}

/* Many records opened at once, [keys] max_batch 2 (so 5 records take three
 * round trips): every answer comes back in order, a record that does not
 * open gets its own error and the others still open; a client whose
 * batches are larger than the keys process allows is refused by it naming
 * the setting, and a record over max_message by the client before it is
 * sent; the channel stays usable after each. */
typedef struct answers {
  int n, failed;
  size_t order[8];
  json_t *want;
} answers;

static void collect_answer(void *ctx, size_t i, int rc, const char *msg, json_t *ids) {
  answers *a = ctx;
  if (a->n < 8) a->order[a->n] = i;
  a->n++;
  if (rc) {
    a->failed++;
    assert_non_null(strstr(msg, "TR103308-5.2"));
    assert_null(ids);
  } else {
    assert_true(json_equal(ids, a->want));
    json_decref(ids);
  }
}

static void test_open_batch(void **state) {
  (void)state;
  lisec_err err = {0};
  lisec_config *cfg = token_config();
  lisec_config_set(cfg, "keys", "max_batch", "2");
  keys_client *k = start(cfg);
  json_t *ids = identifiers();
  vault_sealed s[5];
  for (int i = 0; i < 5; i++) {
    char id[16];
    snprintf(id, sizeof id, "t-%d", i);
    if (keys_vault_seal(k, id, "li-1", 1, ids, &s[i], &err)) fail_msg("seal: %s", err.msg);
  }
  char keep[VAULT_ID_MAX + 1];
  snprintf(keep, sizeof keep, "%s", s[3].id);
  snprintf(s[3].id, sizeof s[3].id, "t-moved"); /* bound to t-3: refused */
  answers a = {.want = ids};
  if (keys_vault_open_many(k, s, 5, collect_answer, &a, &err)) fail_msg("open_many: %s", err.msg);
  assert_int_equal(a.n, 5);
  assert_int_equal(a.failed, 1);
  for (int i = 0; i < 5; i++) assert_int_equal(a.order[i], i);
  snprintf(s[3].id, sizeof s[3].id, "%s", keep);
  /* the client thinks 8 go in one request; the keys process allows 2 */
  keys_client_configure(k, &(keys_settings){KEYS_SPIN_US_DEFAULT, KEYS_PAYLOAD_MAX, 8});
  a = (answers){.want = ids};
  assert_int_equal(keys_vault_open_many(k, s, 5, collect_answer, &a, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "[keys] max_batch"));
  assert_int_equal(a.n, 0);
  /* a record larger than the client's bound is not sent */
  keys_client_configure(k, &(keys_settings){KEYS_SPIN_US_DEFAULT, KEYS_MESSAGE_MIN, 2});
  vault_sealed big = s[0];
  big.ciphertext_len = KEYS_MESSAGE_MIN;
  big.ciphertext = calloc(1, big.ciphertext_len);
  assert_int_equal(keys_vault_open_many(k, &big, 1, collect_answer, &a, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "[keys] max_message"));
  free(big.ciphertext);
  /* the channel is fine after both */
  a = (answers){.want = ids};
  if (keys_vault_open_many(k, s, 5, collect_answer, &a, &err)) fail_msg("open_many: %s", err.msg);
  assert_int_equal(a.n, 5);
  assert_int_equal(a.failed, 0);
  for (int i = 0; i < 5; i++) vault_sealed_free(&s[i]);
  json_decref(ids);
  keys_client_close(k);
}


typedef struct answers_by_index {
  int n;
  int rc[16];
  char msg[16][LISEC_ERR_MSG_MAX];
  json_t *ids[16];
} answers_by_index;

static void collect_by_index(void *ctx, size_t i, int rc, const char *msg, json_t *ids) {
  answers_by_index *a = ctx;
  a->n++;
  if (i >= 16) return;
  a->rc[i] = rc;
  snprintf(a->msg[i], sizeof a->msg[i], "%s", msg ? msg : "");
  a->ids[i] = ids;
}

/* [vault] token_sessions 4: data keys that are not cached (a fresh keys
 * service, as after a restart) asked for by eight callers at once, and in
 * one batch. Each caller gets its own record's identifiers; a record under
 * a KEK the token lacks (TR103308-5.7) and one whose wrapped key was
 * altered (the token refuses it: TR103308-5.2) are refused without
 * disturbing the others; nothing a caller sent
 * is changed; the channel stays usable. */
#define MISSES 8
/* One caller of a test that asks the keys process from several threads at
 * the same moment: an open or a re-wrap of *s, and what came back. */
typedef struct call {
  keys_client *k;
  vault_sealed *s;
  pthread_barrier_t *go;
  int rc;
  bool rewrap;  /* a re-wrap, else an open */
  bool changed; /* a re-wrap's */
  json_t *ids;  /* an open's */
  char msg[LISEC_ERR_MSG_MAX];
} call;

/* One caller: an open of *s, or a re-wrap when c->rewrap. */
static void *ask_one(void *arg) {
  call *c = arg;
  lisec_err err = {0};
  pthread_barrier_wait(c->go);
  c->rc = c->rewrap ? keys_vault_rewrap(c->k, c->s, NULL, &c->changed, &err)
                     : keys_vault_open(c->k, c->s, &c->ids, &err);
  snprintf(c->msg, sizeof c->msg, "%s", err.msg);
  return NULL;
}

/* n callers (n <= MISSES + 2) on k, record s[i] each, re-wraps or opens, let go together. */
static void all_at_once(keys_client *k, vault_sealed *s, call *c, int n, bool rewrap) {
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)n);
  pthread_t t[MISSES + 2];
  for (int i = 0; i < n; i++) {
    c[i] = (call){.k = k, .s = &s[i], .go = &go, .rewrap = rewrap};
    assert_int_equal(pthread_create(&t[i], NULL, ask_one, &c[i]), 0);
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&go);
}

static json_t *ids_of(int i) {
  char imsi[16];
  snprintf(imsi, sizeof imsi, "24405123456%04d", i);
  return json_pack("[{s:s, s:s}]", "kind", "imsi", "value", imsi);
}

/* n records, PREFIX0 .. PREFIX<n-1>, sealed with ids_of(i) each. */
static void seal_each(keys_client *k, const char *prefix, vault_sealed *s, int n) {
  lisec_err err = {0};
  for (int i = 0; i < n; i++) {
    char id[16];
    snprintf(id, sizeof id, "%s%d", prefix, i);
    json_t *ids = ids_of(i);
    if (keys_vault_seal(k, id, "li-1", 1, ids, &s[i], &err)) fail_msg("seal %s: %s", id, err.msg);
    json_decref(ids);
  }
}

static lisec_config *sessions_config(void) {
  lisec_config *cfg = token_config();
  lisec_config_set(cfg, "vault", "token_sessions", "4");
  lisec_config_set(cfg, "vault", "cache_keys", "64");
  lisec_config_set(cfg, "vault", "cache_ttl_s", "600");
  return cfg;
}

/* A KEK rotation's re-wraps on several lanes at once (4 token sessions: 3
 * lanes): each caller gets its own record back under the new key, and one
 * under a key the token lacks is refused naming it, unchanged. */
static void test_concurrent_rewraps(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(sessions_config());
  vault_sealed s[MISSES + 1];
  seal_each(k, "t-r", s, MISSES + 1);
  snprintf(s[MISSES].kek_label, sizeof s[MISSES].kek_label, "pkcs11:lisec-test/no-such-kek");
  uint8_t bad_key[sizeof s[MISSES].wrapped_key];
  memcpy(bad_key, s[MISSES].wrapped_key, s[MISSES].wrapped_key_len);
  if (keys_vault_use_kek(k, "keys-kek-lanes", true, &err)) fail_msg("use: %s", err.msg);
  call c[MISSES + 1];
  all_at_once(k, s, c, MISSES + 1, true);
  for (int i = 0; i < MISSES; i++) {
    if (c[i].rc) fail_msg("rewrap %d: %s", i, c[i].msg);
    assert_true(c[i].changed);
    assert_string_equal(s[i].kek_label, "pkcs11:lisec-test/keys-kek-lanes");
    json_t *back = NULL, *want = ids_of(i);
    if (keys_vault_open(k, &s[i], &back, &err)) fail_msg("open %d: %s", i, err.msg);
    assert_true(json_equal(back, want));
    json_decref(back);
    json_decref(want);
  }
  assert_int_equal(c[MISSES].rc, LISEC_EUNAVAIL);
  assert_non_null(strstr(c[MISSES].msg, "TR103308-5.7"));
  assert_false(c[MISSES].changed);
  assert_string_equal(s[MISSES].kek_label, "pkcs11:lisec-test/no-such-kek");
  assert_memory_equal(s[MISSES].wrapped_key, bad_key, s[MISSES].wrapped_key_len);
  for (int i = 0; i < MISSES + 1; i++) vault_sealed_free(&s[i]);
  keys_client_close(k);
}

/* The answers of keys_vault_rewrap_many, by record. */
typedef struct rewrap_answers {
  int n;
  size_t order[16];
  int rc[16];
  bool changed[16];
  char msg[16][LISEC_ERR_MSG_MAX];
} rewrap_answers;

static void collect_rewrapped(void *ctx, size_t i, int rc, const char *msg, bool changed) {
  rewrap_answers *a = ctx;
  if (a->n < 16) a->order[a->n] = i;
  a->n++;
  if (i >= 16) return;
  a->rc[i] = rc;
  a->changed[i] = changed;
  snprintf(a->msg[i], sizeof a->msg[i], "%s", msg ? msg : "");
}

/* REWRAP_BATCH (4 token sessions: 3 lanes share each batch out; [keys]
 * max_batch 4, so 9 records go in 3 requests): every record is answered,
 * in order; those under the old KEK come back under the new one and open
 * to their own identifiers, ciphertext untouched; one already under the
 * new key is answered unchanged; one under a KEK the token lacks, in the
 * middle of a batch, is refused naming it (TR103308-5.7) and left as it
 * was, without disturbing the others. A batch over the keys process's
 * max_batch is refused whole, a record over max_message is not sent, and
 * the channel is fine after both. */
static void test_rewrap_batch(void **state) {
  (void)state;
  lisec_err err = {0};
  lisec_config *cfg = sessions_config();
  lisec_config_set(cfg, "keys", "max_batch", "4");
  keys_client *k = start(cfg);
  enum { N = 9, BAD = 5, CURRENT = 2 };
  vault_sealed s[N];
  seal_each(k, "t-b", s, N);
  if (keys_vault_use_kek(k, "keys-kek-batch", true, &err)) fail_msg("use: %s", err.msg);
  vault_sealed_free(&s[CURRENT]);
  json_t *ids = ids_of(CURRENT);
  if (keys_vault_seal(k, "t-b2", "li-1", 1, ids, &s[CURRENT], &err)) fail_msg("seal: %s", err.msg);
  json_decref(ids);
  char bad_was[VAULT_ID_MAX + 1];
  snprintf(bad_was, sizeof bad_was, "%s", s[BAD].kek_label);
  snprintf(s[BAD].kek_label, sizeof s[BAD].kek_label, "pkcs11:lisec-test/no-such-kek");
  vault_sealed before[N];
  memcpy(before, s, sizeof s);
  rewrap_answers a = {0};
  if (keys_vault_rewrap_many(k, s, N, "pkcs11:lisec-test/keys-kek-batch", collect_rewrapped, &a, &err))
    fail_msg("rewrap_many: %s", err.msg);
  assert_int_equal(a.n, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(a.order[i], i);
    assert_ptr_equal(s[i].ciphertext, before[i].ciphertext);
    if (i == BAD) continue;
    if (a.rc[i]) fail_msg("record %d: %s", i, a.msg[i]);
    assert_int_equal(a.changed[i], i != CURRENT);
    assert_string_equal(s[i].kek_label, "pkcs11:lisec-test/keys-kek-batch");
    if (i != CURRENT) assert_memory_not_equal(s[i].wrapped_key, before[i].wrapped_key, before[i].wrapped_key_len);
    json_t *back = NULL, *want = ids_of(i);
    if (keys_vault_open(k, &s[i], &back, &err)) fail_msg("open %d: %s", i, err.msg);
    assert_true(json_equal(back, want));
    json_decref(back);
    json_decref(want);
  }
  assert_int_equal(a.rc[BAD], LISEC_EUNAVAIL);
  assert_non_null(strstr(a.msg[BAD], "TR103308-5.7"));
  assert_non_null(strstr(a.msg[BAD], "no-such-kek"));
  assert_false(a.changed[BAD]);
  assert_string_equal(s[BAD].kek_label, "pkcs11:lisec-test/no-such-kek");
  assert_memory_equal(s[BAD].wrapped_key, before[BAD].wrapped_key, before[BAD].wrapped_key_len);
  /* the client thinks 8 go in one request; the keys process allows 4 */
  keys_client_configure(k, &(keys_settings){KEYS_SPIN_US_DEFAULT, KEYS_PAYLOAD_MAX, 8});
  a = (rewrap_answers){0};
  assert_int_equal(keys_vault_rewrap_many(k, s, N, "pkcs11:lisec-test/keys-kek-batch", collect_rewrapped, &a, &err),
                   LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "REWRAP_BATCH"));
  assert_non_null(strstr(err.msg, "[keys] max_batch"));
  assert_int_equal(a.n, 0);
  /* a record larger than the client's bound is not sent */
  keys_client_configure(k, &(keys_settings){KEYS_SPIN_US_DEFAULT, KEYS_MESSAGE_MIN, 4});
  vault_sealed big = s[0];
  big.ciphertext_len = KEYS_MESSAGE_MIN;
  big.ciphertext = calloc(1, big.ciphertext_len);
  assert_int_equal(keys_vault_rewrap_many(k, &big, 1, NULL, collect_rewrapped, &a, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "[keys] max_message"));
  assert_int_equal(a.n, 0);
  free(big.ciphertext);
  /* the channel is fine after both: a second pass, everything current now */
  snprintf(s[BAD].kek_label, sizeof s[BAD].kek_label, "%s", bad_was);
  a = (rewrap_answers){0};
  if (keys_vault_rewrap_many(k, s, N, "pkcs11:lisec-test/keys-kek-batch", collect_rewrapped, &a, &err))
    fail_msg("rewrap_many: %s", err.msg);
  assert_int_equal(a.n, N);
  for (int i = 0; i < N; i++) {
    if (a.rc[i]) fail_msg("record %d again: %s", i, a.msg[i]);
    assert_int_equal(a.changed[i], i == BAD);
  }
  for (int i = 0; i < N; i++) vault_sealed_free(&s[i]);
  keys_client_close(k);
}

/* Records a batch's answer could not name or carry: one without an id (a
 * store row whose body lost it) and one under the current KEK without a
 * wrapped key. Each gets its own refusal (the rest of its batch re-wrapped
 * or opened as usual), and the channel stays usable: the keys process
 * never answers what its client must refuse as out of step, which would
 * leave lisecd with no keys process until a restart. */
static void test_batch_unanswerable_records(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(sessions_config());
  enum { N = 4, NO_ID = 1, NO_KEY = 2 };
  vault_sealed s[N];
  seal_each(k, "t-u", s, N);
  if (keys_vault_use_kek(k, "keys-kek-unanswerable", true, &err)) fail_msg("use: %s", err.msg);
  s[NO_ID].id[0] = 0;
  snprintf(s[NO_KEY].kek_label, sizeof s[NO_KEY].kek_label, "pkcs11:lisec-test/keys-kek-unanswerable");
  s[NO_KEY].wrapped_key_len = 0;
  rewrap_answers a = {0};
  if (keys_vault_rewrap_many(k, s, N, "pkcs11:lisec-test/keys-kek-unanswerable", collect_rewrapped, &a, &err))
    fail_msg("rewrap_many: %s", err.msg);
  assert_int_equal(a.n, N);
  for (int i = 0; i < N; i++) assert_int_equal(a.order[i], i);
  assert_int_equal(a.rc[0], 0);
  assert_int_equal(a.rc[3], 0);
  assert_true(a.changed[0] && a.changed[3]);
  assert_int_equal(a.rc[NO_ID], LISEC_EINVAL);
  assert_non_null(strstr(a.msg[NO_ID], "no id"));
  assert_int_equal(a.rc[NO_KEY], LISEC_EINVAL);
  assert_non_null(strstr(a.msg[NO_KEY], "no wrapped key"));
  assert_int_equal(keys_li_check(k, &err), 0);
  /* OPEN_BATCH: the same for a record without an id */
  answers_by_index o = {0};
  if (keys_vault_open_many(k, s, 2, collect_by_index, &o, &err)) fail_msg("open_many: %s", err.msg);
  assert_int_equal(o.n, 2);
  assert_int_equal(o.rc[0], 0);
  json_decref(o.ids[0]);
  assert_int_equal(o.rc[NO_ID], LISEC_EINVAL);
  assert_non_null(strstr(o.msg[NO_ID], "no id"));
  assert_int_equal(keys_li_check(k, &err), 0);
  for (int i = 0; i < N; i++) vault_sealed_free(&s[i]);
  keys_client_close(k);
}

static void test_concurrent_misses(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_client *k = start(sessions_config());
  vault_sealed s[MISSES + 2];
  seal_each(k, "t-m", s, MISSES + 2);
  keys_client_close(k);
  /* two bad ones: a KEK the token lacks, and an altered wrapped key */
  snprintf(s[MISSES].kek_label, sizeof s[MISSES].kek_label, "pkcs11:lisec-test/no-such-kek");
  s[MISSES + 1].wrapped_key[s[MISSES + 1].wrapped_key_len - 1] ^= 1;
  vault_sealed copy[MISSES + 2];
  for (int i = 0; i < MISSES + 2; i++) {
    copy[i] = s[i];
    copy[i].ciphertext = malloc(s[i].ciphertext_len);
    memcpy(copy[i].ciphertext, s[i].ciphertext, s[i].ciphertext_len);
  }
  /* a fresh service: every data key cold; all callers at once */
  k = start(sessions_config());
  call c[MISSES + 2];
  all_at_once(k, s, c, MISSES + 2, false);
  for (int i = 0; i < MISSES; i++) {
    if (c[i].rc) fail_msg("open %d: %s", i, c[i].msg);
    json_t *want = ids_of(i);
    assert_true(json_equal(c[i].ids, want));
    json_decref(want);
    json_decref(c[i].ids);
  }
  assert_int_equal(c[MISSES].rc, LISEC_EUNAVAIL);
  assert_non_null(strstr(c[MISSES].msg, "TR103308-5.7"));
  assert_non_null(strstr(c[MISSES].msg, "no-such-kek"));
  assert_int_equal(c[MISSES + 1].rc, LISEC_ECRYPTO);
  if (!strstr(c[MISSES + 1].msg, "TR103308-5.2") || !strstr(c[MISSES + 1].msg, "altered"))
    fail_msg("%s", c[MISSES + 1].msg);
  assert_null(c[MISSES].ids);
  assert_null(c[MISSES + 1].ids);
  keys_client_close(k);
  /* the same in one batch on a fresh service: its misses in parallel */
  k = start(sessions_config());
  answers_by_index a = {0};
  if (keys_vault_open_many(k, s, MISSES + 2, collect_by_index, &a, &err)) fail_msg("open_many: %s", err.msg);
  assert_int_equal(a.n, MISSES + 2);
  for (int i = 0; i < MISSES; i++) {
    if (a.rc[i]) fail_msg("batch %d: %s", i, a.msg[i]);
    json_t *want = ids_of(i);
    assert_true(json_equal(a.ids[i], want));
    json_decref(want);
    json_decref(a.ids[i]);
  }
  assert_int_equal(a.rc[MISSES], LISEC_EUNAVAIL);
  assert_non_null(strstr(a.msg[MISSES], "TR103308-5.7"));
  assert_int_equal(a.rc[MISSES + 1], LISEC_ECRYPTO);
  assert_non_null(strstr(a.msg[MISSES + 1], "TR103308-5.2"));
  /* nothing the callers sent was changed; the channel still answers */
  for (int i = 0; i < MISSES + 2; i++) {
    assert_string_equal(s[i].kek_label, copy[i].kek_label);
    assert_memory_equal(s[i].wrapped_key, copy[i].wrapped_key, s[i].wrapped_key_len);
    assert_memory_equal(s[i].ciphertext, copy[i].ciphertext, s[i].ciphertext_len);
    free(copy[i].ciphertext);
  }
  json_t *back = NULL;
  if (keys_vault_open(k, &s[0], &back, &err)) fail_msg("open after: %s", err.msg);
  json_decref(back);
  for (int i = 0; i < MISSES + 2; i++) vault_sealed_free(&s[i]);
  keys_client_close(k);
}

/* [vault] cache and token settings are bounded, and a refusal names the
 * setting before any token is opened. */
static void test_vault_settings(void **state) {
  (void)state;
  lisec_err err = {0};
  static const char *const bad[][2] = {{"cache_keys", "7"},      {"cache_keys", "1048577"}, {"cache_ttl_s", "0"},
                                       {"cache_ttl_s", "86401"}, {"token_sessions", "0"},   {"token_sessions", "65"},
                                       {"token_sessions", "x"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    lisec_config *c = token_config();
    lisec_config_set(c, "vault", bad[i][0], bad[i][1]);
    keys_client *k = NULL;
    assert_int_equal(keys_local_start(c, &k, &err), LISEC_EINVAL);
    if (!strstr(err.msg, bad[i][0])) fail_msg("\"%s\" does not name %s", err.msg, bad[i][0]);
    assert_null(k);
    lisec_config_free(c);
  }
  /* the bounds themselves are accepted */
  lisec_config *c = token_config();
  lisec_config_set(c, "vault", "cache_keys", "8");
  lisec_config_set(c, "vault", "cache_ttl_s", "86400");
  lisec_config_set(c, "vault", "token_sessions", "1");
  keys_client *k = start(c);
  json_t *ids = identifiers(), *back = NULL;
  vault_sealed s;
  if (keys_vault_seal(k, "t-b", "li-1", 1, ids, &s, &err)) fail_msg("seal: %s", err.msg);
  if (keys_vault_open(k, &s, &back, &err)) fail_msg("open: %s", err.msg);
  assert_true(json_equal(ids, back));
  json_decref(back);
  json_decref(ids);
  vault_sealed_free(&s);
  keys_client_close(k);
}

/* [keys] settings are checked once, naming the setting. */
static void test_keys_settings(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_settings set;
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(keys_settings_parse(cfg, &set, &err), 0);
  assert_int_equal(set.max_message, KEYS_PAYLOAD_MAX);
  assert_int_equal(set.max_batch, KEYS_BATCH_DEFAULT);
  assert_int_equal(set.spin_us, KEYS_SPIN_US_DEFAULT);
  static const char *const bad[][2] = {{"max_message", "1000"}, {"max_message", "999999999"}, {"max_batch", "0"},
                                       {"max_batch", "5000"},   {"max_batch", "x"},           {"spin_us", "2000"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    lisec_config *c = lisec_config_new();
    lisec_config_set(c, "keys", bad[i][0], bad[i][1]);
    assert_int_not_equal(keys_settings_parse(c, &set, &err), 0);
    if (!strstr(err.msg, bad[i][0])) fail_msg("\"%s\" does not name %s", err.msg, bad[i][0]);
    lisec_config_free(c);
  }
  lisec_config_free(cfg);
}

/* The service in a process of its own, killed: the client's next call is
 * EUNAVAIL at once, and so is every one after. */
static void test_keys_process_killed(void **state) {
  (void)state;
  lisec_err err = {0};
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  lisec_config *cfg = token_config();
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(sv[0]);
    keys_service *ks = NULL;
    int rc = keys_service_open(cfg, &ks, &err) || keys_service_serve(ks, sv[1], &err);
    _exit(rc);
  }
  close(sv[1]);
  lisec_config_free(cfg);
  keys_client *k = NULL;
  if (keys_client_open(sv[0], &k, &err)) fail_msg("open: %s", err.msg);
  assert_int_equal(keys_li_check(k, &err), 0);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  uint8_t sig[64];
  int64_t t0 = lisec_time_mono_ns();
  assert_int_equal(keys_audit_sign_proven(k, false, (const uint8_t *)"x", 1, 0, NULL, sig, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "the keys process is gone"));
  assert_int_equal(keys_li_check(k, &err), LISEC_EUNAVAIL);
  assert_true(lisec_time_mono_ns() - t0 < 2000000000LL);
  keys_client_close(k);
}

int main(void) {
  if (sodium_init() < 0 || softhsm_token_make()) {
    softhsm_token_remove();
    return 1;
  }
  snprintf(dir, sizeof dir, "/tmp/lisec-test-keys-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(pin_file, sizeof pin_file, "%s/pin", dir);
  FILE *f = fopen(pin_file, "w");
  if (!f) return 1;
  fputs("1234\n", f);
  fclose(f);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_what_it_holds),
      cmocka_unit_test(test_seal_open_rewrap),
      cmocka_unit_test(test_sign_and_li_keys),
      cmocka_unit_test(test_development_and_absent_keys),
      cmocka_unit_test(test_keys_process_killed),
      cmocka_unit_test(test_open_batch),
      cmocka_unit_test(test_keys_settings),
      cmocka_unit_test(test_concurrent_misses),
      cmocka_unit_test(test_concurrent_rewraps),
      cmocka_unit_test(test_rewrap_batch),
      cmocka_unit_test(test_batch_unanswerable_records),
      cmocka_unit_test(test_vault_settings),
      cmocka_unit_test(test_evict),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) rc = 1;
  softhsm_token_remove();
  return rc;
}
