/* lisecd --check-config: reads everything lisecd would need to start and
 * changes nothing (issue 25). The store is opened so that it cannot be
 * written (SQLite read-only, PostgreSQL in a read-only transaction): no
 * migration runs; the tokens are logged into and their keys looked up, not
 * made. Every problem found is reported, one line each on stderr ("lisecd:
 * problem: ..."), not only the first: each setting of [server], [api],
 * [tls], [log], [ha], [security] sandbox and the controller's numbers,
 * switches and choices (with [rd], [telemetry] and [time]), each file a
 * setting names ([attest]'s parsed, and its quarantine command's words and
 * program, as the start does), the TLS material, the store, each token and
 * PIN. Notes (what the first start will do: create the store, migrate it,
 * make a key) go to stdout. Exit status 0 when nothing is wrong, 2
 * otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ha.h"
#include "keys/keys.h"
#include "lisecd.h"
#include "store/store.h"

/* ctl_open's default ([store] url unset), as src/ctl/ctl.c has it. */
#define LISEC_DEFAULT_STORE "sqlite:/var/lib/lisec/lisec.db"

static void report(void *ctx, const char *msg) {
  int *problems = ctx;
  (*problems)++;
  fprintf(stderr, "lisecd: problem: %s\n", msg);
}

static void note(void *ctx, const char *msg) {
  (void)ctx;
  printf("lisecd: note: %s\n", msg);
}

static void report_key(void *ctx, bool problem, const char *msg) {
  if (problem) fprintf(stderr, "lisecd: problem: %s\n", msg);
  else printf("lisecd: note: %s\n", msg);
  (void)ctx; /* keys_check counts its own problems */
}

/* The settings that name a file lisecd reads (it writes none of them);
 * [attest]'s files are read and parsed by ctl_attest_config_check. */
static const char *const FILES[][2] = {
    {"tls", "cert"},          {"tls", "key"},          {"tls", "client_ca"},       {"tls", "crl"},
    {"audit", "li_admin_key"}, {"audit", "pin_file"},   {"vault", "pin_file"},      {"li", "pin_file"},
    {"li", "admin_pubkey"},    {"pkg", "vendor_ca"},    {"pkg", "operator_ca"},     {"pkg", "li_admin_ca"},
    {"pkg", "crl"},            {"audit", "pkcs11_module"}, {"vault", "pkcs11_module"}, {"li", "pkcs11_module"},
};

int lisecd_check_config(const lisec_config *cfg, const char *path) {
  int problems = 0;
  lisec_err err = {0};
  api_server_config sc = {0};
  lisecd_server_config_all(cfg, &sc, report, &problems);
  int64_t v = 0;
  if (lisec_config_int(cfg, "server", "stop_timeout_s", 30, 1, 3600, &v, &err) != 0) report(&problems, err.msg);
  lisec_log_level lvl;
  bool json = false, access_log = true;
  if (lisecd_log_config(cfg, &lvl, &json, &access_log, &err) != 0) report(&problems, err.msg);
  ctl_settings_check(cfg, report, &problems);
  ctl_vault_rotation_check(cfg, report, &problems);
  /* [attest]'s quarantine command and files, by the code the start loads them with */
  ctl_attest_config_check(cfg, report, note, &problems);
  /* the writer guard's settings, which the controller process reads before
   * it opens the controller (ctl/ha.c), and the sandbox's switch, which
   * every process reads as it enters it (sandbox.c) */
  ctl_ha_settings ha;
  if (ctl_ha_settings_read(cfg, &ha, &err) != 0) report(&problems, err.msg);
  bool sandbox = true;
  if (lisec_config_bool(cfg, "security", "sandbox", true, &sandbox, &err) != 0) report(&problems, err.msg);

  bool files_ok = true;
  for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
    const char *f = lisec_config_str(cfg, FILES[i][0], FILES[i][1], NULL);
    if (!f || access(f, R_OK) == 0) continue;
    snprintf(err.msg, sizeof err.msg, "[%s] %s = %s: %s", FILES[i][0], FILES[i][1], f, strerror(errno));
    report(&problems, err.msg);
    if (strcmp(FILES[i][0], "tls") == 0) files_ok = false;
  }
  /* the listen address, the connection cap against RLIMIT_NOFILE, the TLS
   * material loaded (the key matches the certificate, the CRL parses) */
  if (files_ok && sc.cert && sc.key && sc.client_ca && api_server_check(&sc, &err) != 0)
    report(&problems, err.msg);

  store_check_result st;
  const char *url = lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE);
  if (store_check(url, &st, &err) != 0) {
    lisec_err_wrap(&err, "[store] url");
    report(&problems, err.msg);
  } else if (!st.exists) {
    printf("lisecd: note: the store does not exist yet: lisecd creates it at its first start (schema %d)\n",
           st.latest);
  } else if (st.schema > st.latest) {
    snprintf(err.msg, sizeof err.msg,
             "[store] url: the database's schema version %d is newer than this lisecd's (%d): "
             "lisecd refuses it untouched (a rollback needs the database of before the upgrade)",
             st.schema, st.latest);
    report(&problems, err.msg);
  } else if (st.schema < st.latest) {
    printf("lisecd: note: the store's schema version is %d: lisecd migrates it to %d at start\n", st.schema,
           st.latest);
  } else {
    printf("lisecd: note: the store is reachable, schema version %d\n", st.schema);
  }

  problems += keys_check(cfg, report_key, NULL);

  if (problems) {
    fprintf(stderr, "lisecd: configuration %s: %d problem%s; nothing was changed\n", path, problems,
            problems == 1 ? "" : "s");
    return 2;
  }
  printf("lisecd: configuration %s is valid, TLS files load and the store is reachable; the tokens answer; "
         "nothing was changed\n",
         path);
  return 0;
}
