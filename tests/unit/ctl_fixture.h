/* A real controller on a temporary SQLite store for a unit test of ctl/:
 * a directory under /tmp, a throw-away LI administration (audit sealing)
 * public key in it, the configuration every such test starts from (the
 * store, the development audit key, that LI key), opening and closing the
 * controller and putting model documents as the operator. Shared by the
 * tests that drive ctl_model_* and ctl_li_* end to end, so each one holds
 * only what it checks. Include after <cmocka.h>. */
#ifndef LISEC_TEST_CTL_FIXTURE_H
#define LISEC_TEST_CTL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "ctl/ctl.h"
#include "ctl/model.h"
#include "keys/keys.h"

/* Makes dir (64 bytes) a fresh directory from template and initialises
 * libsodium; 0 or -1. */
static inline int ctl_fixture_mkdir(char *dir, const char *template) {
  snprintf(dir, 64, "%s", template);
  if (!mkdtemp(dir) || sodium_init() < 0) return -1;
  return 0;
}

/* Writes a fresh sealing public key (base64, one line) to dir/name; 0 or
 * -1. Its secret half is dropped: these tests never open sealed records. */
static inline int ctl_fixture_write_li_key(const char *dir, const char *name) {
  uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  char *b64 = NULL, path[256];
  if (crypto_base64_encode(pk, sizeof pk, &b64)) return -1;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    free(b64);
    return -1;
  }
  fprintf(f, "%s\n", b64);
  fclose(f);
  free(b64);
  return 0;
}

/* The configuration of a controller in dir: its SQLite store, the
 * development audit key and dir/li_key as the LI administration key. The
 * caller adds its own settings and hands it to ctl_fixture_open. */
static inline lisec_config *ctl_fixture_config(const char *dir, const char *li_key) {
  char url[256], key[256], li[256];
  snprintf(url, sizeof url, "sqlite:%s/lisec.db", dir);
  snprintf(key, sizeof key, "%s/audit-dev.pem", dir);
  snprintf(li, sizeof li, "%s/%s", dir, li_key);
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "store", "url", url);
  lisec_config_set(cfg, "audit", "development_key_file", key);
  lisec_config_set(cfg, "audit", "allow_development_key", "true");
  lisec_config_set(cfg, "audit", "li_admin_key", li);
  return cfg;
}

/* The keys service the controller of a test asks, in this process on a
 * thread (keys_local_start), as lisecd's keys process would serve it. */
static keys_client *ctl_fixture_keys;

/* Opens *ctl from cfg (freed here) with its keys service (a new one: the
 * previous controller, if any, was closed, as a restart does); fails the
 * test when it cannot. */
static inline void ctl_fixture_open(lisec_config *cfg, lisec_ctl **ctl) {
  lisec_err err = {0};
  keys_client_close(ctl_fixture_keys);
  ctl_fixture_keys = NULL;
  int rc = keys_local_start(cfg, &ctl_fixture_keys, &err);
  if (rc == 0) rc = ctl_open(cfg, ctl_fixture_keys, ctl, &err);
  lisec_config_free(cfg);
  if (rc) fail_msg("ctl_open: %s", err.msg);
}

/* Closes *ctl and removes dir; 0 or -1 (a cmocka teardown result). */
static inline int ctl_fixture_close(lisec_ctl **ctl, const char *dir) {
  ctl_close(*ctl);
  *ctl = NULL;
  keys_client_close(ctl_fixture_keys);
  ctl_fixture_keys = NULL;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Puts the model document json of kind as an operator; fails the test when
 * the controller refuses it. */
static inline void ctl_fixture_put(lisec_ctl *ctl, const char *kind, const char *json) {
  static const ctl_actor who = {"op-1", "operator", CTL_ROLE_OPERATOR};
  lisec_err err = {0};
  json_t *body = json_loads(json, 0, NULL), *out = NULL;
  bool created = false;
  assert_non_null(body);
  int rc = ctl_model_put(ctl, &who, kind, NULL, body, false, &out, &created, &err);
  if (rc) fail_msg("put %s: %s", json, err.msg);
  json_decref(body);
  json_decref(out);
}

#endif
