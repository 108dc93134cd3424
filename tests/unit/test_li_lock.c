/* Unit test of the LI lock's detection in the controller (ctl/li.c,
 * issue 15 item 3) on a real controller with a temporary SQLite store: a
 * paired LI VM an attested inventory shows shut off, paused or crashed is a
 * sealed finding recorded once per change and a restart handed once to that
 * host's agent; gone from the host the model says runs it is a finding
 * without a restart; another host's inventory, a running VM and an LI VM
 * that is not paired change nothing; [li] restart_stopped = false keeps the
 * finding and asks for no restart. The finding is a compliance violation
 * while it lasts: in full for li-admin; left out, with its count, of the
 * operator's report, which reads as while the lock held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "ctl/audit.h"
#include "ctl/ctl.h"
#include "ctl/li.h"
#include "ctl/model.h"
#include "ctl_fixture.h"
#include "li/li.h"

static char tmpdir[64];
static lisec_ctl *ctl;
static EVP_PKEY *admin, *vm_key, *peer_key;
static const ctl_actor OPERATOR = {"op-1", "operator", CTL_ROLE_OPERATOR};
static const ctl_actor LI_ADMIN = {"li-1", "li-admin", CTL_ROLE_LI_ADMIN};
static const ctl_actor HV_ADMIN = {"hv-1", "hypervisor-admin", CTL_ROLE_HV_ADMIN};
static const ctl_actor AGENT = {"hel-1", "host", CTL_ROLE_HOST};

static void open_ctl(bool restart) {
  char sign[256];
  snprintf(sign, sizeof sign, "%s/li-admin.pem", tmpdir);
  lisec_config *cfg = ctl_fixture_config(tmpdir, "li-audit.pub");
  lisec_config_set(cfg, "li", "admin_pubkey", sign);
  if (!restart) lisec_config_set(cfg, "li", "restart_stopped", "false");
  ctl_fixture_open(cfg, &ctl);
}

static void put(const char *kind, const char *json) { ctl_fixture_put(ctl, kind, json); }

/* Registers and enables vm with key k; pairs it when pair. */
static void add_li_vm(const char *vm, EVP_PKEY *k, bool pair) {
  lisec_err err = {0};
  char *pem = NULL, *stmt = NULL;
  json_t *out = NULL;
  assert_int_equal(crypto_pkey_public_pem(k, &pem, &err), 0);
  json_t *body = json_pack("{s:s, s:s}", "vm", vm, "pubkey", pem);
  if (ctl_li_instantiate(ctl, &HV_ADMIN, body, &out, &err)) fail_msg("instantiate: %s", err.msg);
  json_decref(out), json_decref(body);
  if (ctl_li_enable(ctl, &HV_ADMIN, vm, &out, &err)) fail_msg("enable: %s", err.msg);
  json_decref(out);
  if (pair) {
    assert_int_equal(li_pair_sign(vm, k, 0, lisec_time_now() + 600, admin, &stmt, &err), 0);
    body = json_pack("{s:s}", "statement", stmt);
    if (ctl_li_pair(ctl, &LI_ADMIN, vm, body, &out, &err)) fail_msg("pair: %s", err.msg);
    json_decref(out), json_decref(body);
  }
  free(pem);
  free(stmt);
}

static int write_pem(const char *name, EVP_PKEY *k) {
  char path[256], *pem = NULL;
  lisec_err err = {0};
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  if (crypto_pkey_public_pem(k, &pem, &err)) return -1;
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(pem, f);
  fclose(f);
  free(pem);
  return 0;
}

static int setup(void **state) {
  (void)state;
  if (ctl_fixture_mkdir(tmpdir, "/tmp/lisec-test-lilock-XXXXXX") ||
      ctl_fixture_write_li_key(tmpdir, "li-audit.pub"))
    return -1;
  lisec_err err = {0};
  if (crypto_pkey_generate(false, &admin, &err) || crypto_pkey_generate(false, &vm_key, &err) ||
      crypto_pkey_generate(false, &peer_key, &err) || write_pem("li-admin.pem", admin))
    return -1;
  open_ctl(true);
  put("host", "{\"id\":\"hel-1\",\"protection\":\"li\"}");
  put("host", "{\"id\":\"lon-1\",\"protection\":\"li\"}");
  put("hypervisor", "{\"id\":\"hv-hel-1\",\"host\":\"hel-1\"}");
  put("hypervisor", "{\"id\":\"hv-lon-1\",\"host\":\"lon-1\"}");
  put("vm", "{\"id\":\"lim\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  put("vm", "{\"id\":\"lim-2\",\"hypervisor\":\"hv-hel-1\",\"sensitivity\":\"li\",\"domain\":\"li\"}");
  add_li_vm("lim", vm_key, true);
  add_li_vm("lim-2", peer_key, false); /* enabled, never paired */
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = ctl_fixture_close(&ctl, tmpdir);
  EVP_PKEY_free(admin), EVP_PKEY_free(vm_key), EVP_PKEY_free(peer_key);
  return rc;
}

/* host's inventory: lim in state st (NULL: not listed), lim-2 shut off. */
static void observe(const char *host, const char *st) {
  ctl_observed_domain d[2] = {{"6f1c2a3b-0000-4000-8000-0000000000b2", "lim-2", NULL, "shutoff", NULL},
                              {"6f1c2a3b-0000-4000-8000-0000000000b1", "lim", NULL, st, NULL}};
  ctl_observation o = {host, lisec_time_now(), "0011223344556677", d, st ? 2 : 1};
  lisec_err err = {0};
  if (ctl_li_observe(ctl, &AGENT, &o, &err)) fail_msg("ctl_li_observe: %s", err.msg);
}

static uint64_t sealed_count(void) {
  lisec_err err = {0};
  json_t *out = NULL, *e;
  assert_int_equal(ctl_audit_entries(ctl, 0, 1000, &out, &err), 0);
  size_t i;
  uint64_t n = 0;
  json_array_foreach(json_object_get(out, "entries"), i, e) n += json_is_true(json_object_get(e, "sealed"));
  json_decref(out);
  return n;
}

/* The restart list for host as one string ("lim"), "" when none. */
static char *take(const char *host) {
  static char buf[256];
  json_t *q = ctl_li_restarts_take(ctl, &AGENT, host), *v;
  size_t i;
  buf[0] = '\0';
  json_array_foreach(q, i, v) {
    if (buf[0]) strcat(buf, ",");
    strncat(buf, json_string_value(v), 64);
  }
  json_decref(q);
  return buf;
}

static void test_running_changes_nothing(void **state) {
  (void)state;
  uint64_t before = sealed_count();
  observe("hel-1", "running");
  assert_string_equal(take("hel-1"), "");
  assert_int_equal(sealed_count(), before);
}

static void test_stopped_is_a_finding_and_a_restart(void **state) {
  (void)state;
  uint64_t before = sealed_count();
  observe("hel-1", "shutoff");
  assert_int_equal(sealed_count(), before + 1); /* the finding, sealed */
  assert_string_equal(take("hel-1"), "lim");    /* lim-2 is not paired */
  assert_int_equal(sealed_count(), before + 2); /* the restart asked, sealed */
  assert_string_equal(take("hel-1"), "");       /* handed out once */
  assert_string_equal(take("lon-1"), "");
  /* Seen again the same way: no second finding, but asked again. */
  observe("hel-1", "shutoff");
  assert_int_equal(sealed_count(), before + 2);
  assert_string_equal(take("hel-1"), "lim");
  /* Paused and crashed are new findings, each restarted. */
  observe("hel-1", "paused");
  observe("hel-1", "crashed");
  assert_int_equal(sealed_count(), before + 5);
  assert_string_equal(take("hel-1"), "lim"); /* queued once */
  /* Running again is recorded too, and nothing is asked. */
  observe("hel-1", "running");
  assert_int_equal(sealed_count(), before + 7);
  assert_string_equal(take("hel-1"), "");
}

static void test_gone_only_from_its_host(void **state) {
  (void)state;
  uint64_t before = sealed_count();
  observe("lon-1", NULL); /* another host's inventory without lim: not its to report */
  assert_int_equal(sealed_count(), before);
  observe("hel-1", NULL); /* its host no longer lists it: gone, nothing to start */
  assert_int_equal(sealed_count(), before + 1);
  assert_string_equal(take("hel-1"), "");
  observe("hel-1", "running");
}

static void test_restart_can_be_switched_off(void **state) {
  (void)state;
  ctl_close(ctl);
  open_ctl(false);
  uint64_t before = sealed_count();
  observe("hel-1", "shutoff");
  assert_int_equal(sealed_count(), before + 1); /* still a finding */
  assert_string_equal(take("hel-1"), "");      /* but no restart */
  ctl_close(ctl);
  open_ctl(true);
}

/* The TR103308-4.1-LOCK violations in compliance as who sees it; *all
 * (may be NULL) gets the whole answer as text, without its time and
 * audit index (which every read has its own). */
static json_t *lock_violations(const ctl_actor *who, char **all) {
  lisec_err err = {0};
  json_t *out = NULL, *hits = json_array(), *r;
  assert_int_equal(ctl_model_compliance(ctl, who, &out, &err), 0);
  size_t i;
  json_array_foreach(json_object_get(out, "violations"), i, r)
    if (strcmp(json_string_value(json_object_get(r, "requirement")), CTL_LI_LOCK_RULE) == 0)
      json_array_append(hits, r);
  if (json_array_size(hits))
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "counts"), CTL_LI_LOCK_RULE)),
                     (json_int_t)json_array_size(hits));
  json_object_del(out, "time");
  json_object_del(out, "audit_index");
  if (all) *all = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(out);
  return hits;
}

static void test_lock_in_compliance(void **state) {
  (void)state;
  observe("hel-1", "running");
  json_t *hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
  char *operator_held = NULL; /* the operator's report while the lock holds */
  hits = lock_violations(&OPERATOR, &operator_held);
  json_decref(hits);
  /* Shut off: li-admin sees which VM, where and how. */
  observe("hel-1", "shutoff");
  hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 1); /* lim only: lim-2 is not paired */
  json_t *r = json_array_get(hits, 0);
  assert_string_equal(json_string_value(json_object_get(r, "subject")), "li-vm lim");
  const char *sentence = json_string_value(json_object_get(r, "sentence"));
  assert_non_null(strstr(sentence, "paired LI VM lim observed shutoff on host hel-1"));
  assert_non_null(strstr(sentence, "0011223344556677"));
  assert_non_null(strstr(json_string_value(json_object_get(r, "fact")), "shutoff"));
  json_decref(hits);
  /* The operator's report leaves the finding out, its count with it, and
   * reads as while the lock held: not even that the lock is broken. */
  char *all = NULL;
  hits = lock_violations(&OPERATOR, &all);
  assert_int_equal(json_array_size(hits), 0);
  assert_string_equal(all, operator_held);
  assert_non_null(strstr(all, "\"redacted\":true"));
  assert_null(strstr(all, CTL_LI_LOCK_RULE));
  assert_null(strstr(all, "lim"));
  free(all);
  free(operator_held);
  json_decref(hits);
  /* Paused is the same finding, now saying so; running again ends it. */
  observe("hel-1", "paused");
  hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 1);
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(hits, 0), "sentence")), "observed paused"));
  json_decref(hits);
  observe("hel-1", "running");
  hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
  hits = lock_violations(&OPERATOR, NULL);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
  (void)take("hel-1");
}

/* Pairing and the signed disable after start change which VMs the lock
 * holds at once (the controller keeps the paired set where it stores the
 * transition, not by reading every LI record per report). */
static void test_pairing_changes_are_seen(void **state) {
  (void)state;
  lisec_err err = {0};
  char *stmt = NULL, *cmd = NULL;
  json_t *out = NULL, *body;
  observe("hel-1", "running");
  assert_string_equal(take("hel-1"), "");
  assert_int_equal(li_pair_sign("lim-2", peer_key, 0, lisec_time_now() + 600, admin, &stmt, &err), 0);
  body = json_pack("{s:s}", "statement", stmt);
  if (ctl_li_pair(ctl, &LI_ADMIN, "lim-2", body, &out, &err)) fail_msg("pair: %s", err.msg);
  json_decref(out), json_decref(body);
  observe("hel-1", "running"); /* lim-2 is reported shut off by observe() */
  assert_string_equal(take("hel-1"), "lim-2");
  json_t *hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(hits, 0), "subject")), "li-vm lim-2");
  json_decref(hits);
  /* The LI administration switches it off: no longer held to the lock. */
  li_command c = {.counter = 1, .expires = lisec_time_now() + 600};
  snprintf(c.vm, sizeof c.vm, "lim-2");
  assert_int_equal(li_command_sign(&c, admin, &cmd, &err), 0);
  body = json_pack("{s:s}", "command", cmd);
  if (ctl_li_disable_signed(ctl, &LI_ADMIN, "lim-2", body, &out, &err)) fail_msg("disable: %s", err.msg);
  json_decref(out), json_decref(body);
  observe("hel-1", "running");
  assert_string_equal(take("hel-1"), "");
  hits = lock_violations(&LI_ADMIN, NULL);
  assert_int_equal(json_array_size(hits), 0);
  json_decref(hits);
  /* After a restart the set is what the store says: lim paired, lim-2 not. */
  ctl_close(ctl);
  open_ctl(true);
  observe("hel-1", "shutoff");
  assert_string_equal(take("hel-1"), "lim");
  observe("hel-1", "running");
  (void)take("hel-1");
  free(stmt);
  free(cmd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_running_changes_nothing),
      cmocka_unit_test(test_stopped_is_a_finding_and_a_restart),
      cmocka_unit_test(test_gone_only_from_its_host),
      cmocka_unit_test(test_restart_can_be_switched_off),
      cmocka_unit_test(test_lock_in_compliance),
      cmocka_unit_test(test_pairing_changes_are_seen),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
