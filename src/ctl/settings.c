/* The controller's settings, read and checked once in ctl_open before any
 * topic opens: one table of every number and switch the topics use, with
 * its section, key, default and bounds, the one name ([k8s]
 * scheduler_name) held to its form, and the one rule between two of them
 * ([x1] announce_quiet_ms at most announce_settle_max_ms). A value out of bounds stops the
 * start with a message naming its section and key; no use case reads the
 * configuration afterwards. File paths (reference values, CAs, keys) stay
 * with the topic that loads the file at open, which names them too.
 * ctl_settings_check (lisecd --check-config) reports every bad value, not
 * only the first. */
#include <stddef.h>
#include <string.h>

#include "attest/attest.h"
#include "ctl/internal.h"
#include "ctl/rd.h"
#include "ctl/tasks.h"
#include "ctl/telemetry.h"
#include "ctl/x1_reports.h"
#include "ctl/x1_status.h"
#include "ctl/x1_unknown.h"
#include "events/events.h"

#define PKG_DEFAULT_MAX_PACKAGE (48 << 20)
#define PKG_DEFAULT_MAX_EXPANDED (1ll << 30)

static const struct {
  const char *section, *key;
  int64_t def, min, max;
  size_t offset; /* of the int64_t in ctl_settings */
} INTS[] = {
    {"model", "attestation_max_age_s", 60, 1, 86400, offsetof(ctl_settings, model_max_age_s)},
    {"attest", "interval_s", 300, 1, 86400, offsetof(ctl_settings, attest_interval_s)},
    {"attest", "grace_s", 60, 0, 86400, offsetof(ctl_settings, attest_grace_s)},
    {"attest", "nonce_ttl_s", 60, 1, 3600, offsetof(ctl_settings, attest_nonce_ttl_s)},
    {"attest", "fresh_wait_ms", 5000, 100, 120000, offsetof(ctl_settings, attest_fresh_wait_ms)},
    {"attest", "quarantine_timeout_s", 10, 1, 600, offsetof(ctl_settings, attest_quarantine_timeout_s)},
    {"attest", "check_ms", 1000, 50, 60000, offsetof(ctl_settings, attest_check_ms)},
    {"attest", "inventory_max_bytes", ATTEST_INV_MAX_BYTES, 1024, 16 << 20,
     offsetof(ctl_settings, attest_inventory_max_bytes)},
    {"attest", "inventory_max_domains", ATTEST_INV_MAX_DOMAINS, 1, 1000000,
     offsetof(ctl_settings, attest_inventory_max_domains)},
    {"pkg", "max_package", PKG_DEFAULT_MAX_PACKAGE, 1024, 48 << 20, offsetof(ctl_settings, pkg_max_package)},
    {"pkg", "max_expanded", PKG_DEFAULT_MAX_EXPANDED, 1024, 16ll << 30,
     offsetof(ctl_settings, pkg_max_expanded)},
    {"pkg", "max_crl", 1 << 20, 1024, 32 << 20, offsetof(ctl_settings, pkg_max_crl)},
    {"events", "max_event", EV_EVENT_CEILING, 128, EV_EVENT_CEILING, offsetof(ctl_settings, events_max_event)},
    {"events", "max_batch", EV_BATCH_CEILING, 1, EV_BATCH_CEILING, offsetof(ctl_settings, events_max_batch)},
    {"x1", "compliance_record_s", CTL_X1_COMPLIANCE_RECORD_S_DEFAULT, 1, 86400,
     offsetof(ctl_settings, x1_compliance_record_s)},
    {"x1", "keepalive_timeout_s", CTL_X1_KEEPALIVE_TIMEOUT_S_DEFAULT, 0, 86400,
     offsetof(ctl_settings, x1_keepalive_timeout_s)},
    {"x1", "request_timeout_ms", 10000, 100, 120000, offsetof(ctl_settings, x1_request_timeout_ms)},
    {"x1", "connect_timeout_ms", 3000, 100, 60000, offsetof(ctl_settings, x1_connect_timeout_ms)},
    {"x1", "report_rate_per_ne", CTL_X1_REPORT_RATE_DEFAULT, 1, 10000, offsetof(ctl_settings, x1_report_rate)},
    {"x1", "report_burst_per_ne", CTL_X1_REPORT_BURST_DEFAULT, 1, 10000, offsetof(ctl_settings, x1_report_burst)},
    {"x1", "report_queue_max", CTL_X1_REPORT_QUEUE_DEFAULT, 1, 1000000, offsetof(ctl_settings, x1_report_queue)},
    {"x1", "unknown_xid_backoff_max_s", CTL_X1_UNKNOWN_BACKOFF_MAX_S_DEFAULT, 1, 86400,
     offsetof(ctl_settings, x1_unknown_backoff_max_s)},
    {"x1", "announce_quiet_ms", CTL_X1_ANNOUNCE_QUIET_MS_DEFAULT, 0, CTL_X1_ANNOUNCE_SETTLE_MAX_MS_MAX,
     offsetof(ctl_settings, x1_announce_quiet_ms)},
    {"x1", "announce_settle_max_ms", CTL_X1_ANNOUNCE_SETTLE_MAX_MS_DEFAULT, CTL_X1_ANNOUNCE_SETTLE_MAX_MS_MIN,
     CTL_X1_ANNOUNCE_SETTLE_MAX_MS_MAX, offsetof(ctl_settings, x1_announce_settle_max_ms)},
    {"rd", "check_ms", 1000, 50, 3600000, offsetof(ctl_settings, rd_check_ms)},
    {"rd", "max_live_keys", CTL_RD_MAX_LIVE_KEYS_DEFAULT, CTL_RD_MAX_LIVE_KEYS_MIN, CTL_RD_MAX_LIVE_KEYS_MAX,
     offsetof(ctl_settings, rd_max_live_keys)},
};

static const struct {
  const char *section, *key;
  bool def;
  size_t offset; /* of the bool in ctl_settings */
} BOOLS[] = {
    {"model", "allow_declared_trust", false, offsetof(ctl_settings, model_allow_declared_trust)},
    {"li", "restart_stopped", true, offsetof(ctl_settings, li_restart_stopped)},
};

/* [k8s] scheduler_name: a Kubernetes scheduler name, which the API server
 * holds to a DNS-1123 subdomain (lower-case letters, digits, '-' and '.',
 * alphanumeric at both ends, at most 253 bytes); another could never
 * equal a pod's spec.schedulerName, and every unbound pod would be refused. */
#define K8S_SCHEDULER_DEFAULT "lisec-scheduler"

static int k8s_scheduler(const lisec_config *cfg, char *out, size_t cap, lisec_err *err) {
  const char *v = lisec_config_str(cfg, "k8s", "scheduler_name", K8S_SCHEDULER_DEFAULT);
  size_t n = strlen(v);
  bool ok = n > 0 && n <= 253 && n < cap;
  for (size_t i = 0; ok && i < n; i++) {
    char c = v[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || ((c == '-' || c == '.') && i > 0 && i + 1 < n);
  }
  if (!ok)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[k8s] scheduler_name = %.64s: a Kubernetes scheduler name (1-253 of a-z, 0-9, '-' and "
                         "'.', a letter or digit at both ends)",
                         v);
  memcpy(out, v, n + 1);
  return 0;
}

/* [x1] announce_quiet_ms is at most announce_settle_max_ms: a burst's
 * announcement waits for the quiet or the maximum, whichever comes first,
 * so a longer quiet would never be waited for and only mislead whoever
 * reads the configuration. */
static int x1_announce_rule(const ctl_settings *s, lisec_err *err) {
  if (s->x1_announce_quiet_ms <= s->x1_announce_settle_max_ms) return 0;
  return lisec_err_set(err, LISEC_EINVAL,
                       "[x1] announce_quiet_ms = %lld: at most [x1] announce_settle_max_ms (%lld): an "
                       "announcement waits for the quiet or the maximum, whichever comes first",
                       (long long)s->x1_announce_quiet_ms, (long long)s->x1_announce_settle_max_ms);
}

int ctl_settings_read(const lisec_config *cfg, ctl_settings *out, lisec_err *err) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(INTS); i++) {
    int rc = lisec_config_int(cfg, INTS[i].section, INTS[i].key, INTS[i].def, INTS[i].min, INTS[i].max,
                              (int64_t *)((char *)out + INTS[i].offset), err);
    if (rc) return rc;
  }
  for (size_t i = 0; i < LISEC_ARRAY_LEN(BOOLS); i++) {
    int rc = lisec_config_bool(cfg, BOOLS[i].section, BOOLS[i].key, BOOLS[i].def,
                               (bool *)((char *)out + BOOLS[i].offset), err);
    if (rc) return rc;
  }
  int rc = x1_announce_rule(out, err);
  if (rc) return rc;
  return k8s_scheduler(cfg, out->k8s_scheduler_name, sizeof out->k8s_scheduler_name, err);
}

int ctl_settings_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx) {
  int problems = 0;
  ctl_settings s = {0};
  bool ints_ok = true; /* the rules between two settings read good values only */
  for (size_t i = 0; i < LISEC_ARRAY_LEN(INTS); i++) {
    lisec_err err = {0};
    if (lisec_config_int(cfg, INTS[i].section, INTS[i].key, INTS[i].def, INTS[i].min, INTS[i].max,
                         (int64_t *)((char *)&s + INTS[i].offset), &err) != 0)
      problems++, ints_ok = false, report(ctx, err.msg);
  }
  for (size_t i = 0; i < LISEC_ARRAY_LEN(BOOLS); i++) {
    lisec_err err = {0};
    if (lisec_config_bool(cfg, BOOLS[i].section, BOOLS[i].key, BOOLS[i].def,
                          (bool *)((char *)&s + BOOLS[i].offset), &err) != 0)
      problems++, report(ctx, err.msg);
  }
  lisec_err err = {0};
  if (ints_ok && x1_announce_rule(&s, &err) != 0) problems++, report(ctx, err.msg);
  err = (lisec_err){0};
  if (k8s_scheduler(cfg, s.k8s_scheduler_name, sizeof s.k8s_scheduler_name, &err) != 0)
    problems++, report(ctx, err.msg);
  /* [audit]'s numbers, read by ctl/ctl.c's open of the audit log, each
   * reported */
  problems += ctl_audit_numbers_check(cfg, report, ctx);
  /* the topics that read a section of their own at open, with its choices
   * and its rules between two settings: [telemetry] (ctl/telemetry.c) and
   * [time] (ctl/clock.c); each reports its first problem */
  ctl_telemetry_conf tel;
  if ((err = (lisec_err){0}), ctl_telemetry_conf_read(cfg, &tel, &err) != 0) problems++, report(ctx, err.msg);
  int64_t window_def = 2 * (s.attest_interval_s + s.attest_grace_s); /* as ctl_clock_open has it */
  if ((err = (lisec_err){0}), ctl_clock_settings_check(cfg, window_def, &err) != 0)
    problems++, report(ctx, err.msg);
  return problems;
}
