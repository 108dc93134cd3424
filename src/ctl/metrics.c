/* The controller's domain metrics and its readiness (ctl/metrics.h). The
 * counters are ctl/counters.c's; gauges are read at
 * scrape time from the same use cases the API answers with, so /metrics
 * never disagrees with `lisec host list`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/attest.h"
#include "ctl/clock.h"
#include "ctl/counters.h"
#include "ctl/internal.h"
#include "ctl/metrics.h"

/* Enrolled hosts by trust state ("trusted", "untrusted:<why>" counted as
 * untrusted) and those overdue, from the same list `lisec host list`
 * shows. A host that is not enrolled (de-enrolled, or its enrolment not
 * finished) is listed there but counted nowhere: a host taken away would
 * otherwise stay an untrusted host, and its alert, for good. */
static void render_hosts(lisec_ctl *ctl, lisec_buf *b) {
  ctl_actor self = {.subject = "lisecd", .role = "controller", .kind = CTL_ROLE_CONTROLLER};
  json_t *list = NULL;
  lisec_err err = {0};
  if (ctl_attest_host_list(ctl, &self, &list, &err) != 0) {
    if (err.code == LISEC_ESTORE) ctl_metrics_store_error();
    return; /* no gauge rather than a wrong one */
  }
  unsigned long long trusted = 0, untrusted = 0, overdue = 0, never = 0;
  size_t i;
  json_t *h;
  json_array_foreach(json_object_get(list, "hosts"), i, h) {
    if (!json_is_true(json_object_get(h, "enrolled"))) continue;
    const char *t = json_string_value(json_object_get(h, "trust"));
    if (t && strcmp(t, "trusted") == 0) trusted++;
    else untrusted++;
    if (t && strcmp(t, "untrusted:overdue") == 0) overdue++;
    if (t && strcmp(t, "untrusted:never-attested") == 0) never++;
  }
  json_decref(list);
  lisec_buf_printf(b,
                   "# HELP lisec_hosts Enrolled hosts by trust state now.\n"
                   "# TYPE lisec_hosts gauge\n"
                   "lisec_hosts{trust=\"trusted\"} %llu\nlisec_hosts{trust=\"untrusted\"} %llu\n"
                   "# HELP lisec_hosts_overdue Hosts untrusted because their attestation is overdue.\n"
                   "# TYPE lisec_hosts_overdue gauge\nlisec_hosts_overdue %llu\n"
                   "# HELP lisec_hosts_never_attested Enrolled hosts with no appraisal yet.\n"
                   "# TYPE lisec_hosts_never_attested gauge\nlisec_hosts_never_attested %llu\n",
                   trusted, untrusted, overdue, never);
}

static void render_appraisals(lisec_buf *b) {
  lisec_buf_printf(b,
                   "# HELP lisec_attest_appraisals_total Appraisals of TPM evidence by result.\n"
                   "# TYPE lisec_attest_appraisals_total counter\n"
                   "lisec_attest_appraisals_total{result=\"trusted\"} %llu\n"
                   "lisec_attest_appraisals_total{result=\"untrusted\"} %llu\n"
                   "# HELP lisec_attest_appraisal_duration_seconds Time to appraise evidence and "
                   "record the result.\n"
                   "# TYPE lisec_attest_appraisal_duration_seconds histogram\n",
                   ctl_counters_appraisals(true), ctl_counters_appraisals(false));
  unsigned long long cum = 0;
  for (size_t i = 0; i < CTL_APPRAISAL_N; i++) {
    cum += ctl_counters_appraisal_bucket(i);
    lisec_buf_printf(b, "lisec_attest_appraisal_duration_seconds_bucket{le=\"%g\"} %llu\n", ctl_appraisal_le[i], cum);
  }
  cum += ctl_counters_appraisal_bucket(CTL_APPRAISAL_N);
  lisec_buf_printf(b,
                   "lisec_attest_appraisal_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                   "lisec_attest_appraisal_duration_seconds_sum %.9f\n"
                   "lisec_attest_appraisal_duration_seconds_count %llu\n",
                   cum, (double)ctl_counters_appraisal_sum_ns() / 1e9, cum);
}

static void render_audit(lisec_ctl *ctl, lisec_buf *b) {
  ctl_auditlog *log = ctl->shared->audit;
  if (!log) return;
  uint64_t unsigned_entries = 0, failures = 0;
  int64_t lag_ms = 0;
  ctl_auditlog_lag(log, &unsigned_entries, &lag_ms, &failures);
  lisec_buf_printf(b,
                   "# HELP lisec_audit_entries Durable entries in the audit log.\n"
                   "# TYPE lisec_audit_entries gauge\nlisec_audit_entries %llu\n"
                   "# HELP lisec_audit_unsigned_entries Entries not yet under a signed checkpoint.\n"
                   "# TYPE lisec_audit_unsigned_entries gauge\nlisec_audit_unsigned_entries %llu\n"
                   "# HELP lisec_audit_checkpoint_lag_seconds How long unsigned entries have waited "
                   "since the last checkpoint (0 when none wait).\n"
                   "# TYPE lisec_audit_checkpoint_lag_seconds gauge\n"
                   "lisec_audit_checkpoint_lag_seconds %.3f\n"
                   "# HELP lisec_audit_checkpoint_failures_total Checkpoints that could not be "
                   "signed or stored.\n"
                   "# TYPE lisec_audit_checkpoint_failures_total counter\n"
                   "lisec_audit_checkpoint_failures_total %llu\n",
                   (unsigned long long)ctl_auditlog_size(log), (unsigned long long)unsigned_entries,
                   (double)lag_ms / 1000.0, (unsigned long long)failures);
  lisec_buf_printf(b,
                   "# HELP lisec_audit_witness_refusals_total Checkpoints the keys process refused to sign "
                   "as not extending the last one it signed (TR103308-5.5: a forked, rewritten or rolled back "
                   "log; an attack signal).\n"
                   "# TYPE lisec_audit_witness_refusals_total counter\n"
                   "lisec_audit_witness_refusals_total %llu\n",
                   (unsigned long long)ctl_auditlog_witness_refusals(log));
  uint64_t untimestamped = 0, timestamped = 0;
  ctl_auditlog_tsa_stats(log, &untimestamped, &timestamped);
  lisec_buf_printf(b,
                   "# HELP lisec_audit_checkpoint_untimestamped_total Checkpoints signed and stored without "
                   "an RFC 3161 timestamp although a TSA is configured.\n"
                   "# TYPE lisec_audit_checkpoint_untimestamped_total counter\n"
                   "lisec_audit_checkpoint_untimestamped_total %llu\n"
                   "# HELP lisec_audit_checkpoint_timestamped_total Checkpoints with a verified RFC 3161 "
                   "timestamp.\n"
                   "# TYPE lisec_audit_checkpoint_timestamped_total counter\n"
                   "lisec_audit_checkpoint_timestamped_total %llu\n",
                   (unsigned long long)untimestamped, (unsigned long long)timestamped);
}

typedef struct task_count {
  unsigned long long pending, active, deactivated, failed, other;
} task_count;

static int task_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  task_count *c = ctx;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL) != 0) return 0; /* counted by nobody */
  const char *s = json_string_value(json_object_get(doc, "state"));
  if (!s) c->other++;
  else if (strcmp(s, "pending") == 0) c->pending++;
  else if (strcmp(s, "active") == 0) c->active++;
  else if (strcmp(s, "deactivated") == 0) c->deactivated++;
  else if (strcmp(s, "failed") == 0) c->failed++;
  else c->other++;
  json_decref(doc);
  return 0;
}

/* For the LI administration only: how many tasks and vault operations
 * there are is LI information (TR 103 308 §4.1). */
static void render_li(lisec_ctl *ctl, lisec_buf *b) {
  task_count c = {0};
  lisec_err err = {0};
  if (store_doc_list(ctl->store, "x1.task", task_cb, &c, &err) == 0)
    lisec_buf_printf(b,
                     "# HELP lisec_x1_tasks X1 tasks by state (counts only; LI administration only).\n"
                     "# TYPE lisec_x1_tasks gauge\n"
                     "lisec_x1_tasks{state=\"pending\"} %llu\nlisec_x1_tasks{state=\"active\"} %llu\n"
                     "lisec_x1_tasks{state=\"deactivated\"} %llu\nlisec_x1_tasks{state=\"failed\"} %llu\n"
                     "lisec_x1_tasks{state=\"other\"} %llu\n",
                     c.pending, c.active, c.deactivated, c.failed, c.other);
  else if (err.code == LISEC_ESTORE)
    ctl_metrics_store_error();
  lisec_buf_printf(b,
                   "# HELP lisec_x1_reports_refused_total X1 reports from NEs refused past [x1] "
                   "report_rate_per_ne or report_queue_max (LI administration only; the NE's status says "
                   "which).\n"
                   "# TYPE lisec_x1_reports_refused_total counter\nlisec_x1_reports_refused_total %llu\n",
                   ctl_counters_x1_reports_refused());
  static const char *const ops[CTL_METRICS_VAULT_N] = {"seal", "open", "rewrap"};
  lisec_buf_printf(b, "# HELP lisec_vault_operations_total Target vault operations by kind and "
                      "result (LI administration only).\n"
                      "# TYPE lisec_vault_operations_total counter\n");
  for (size_t i = 0; i < CTL_METRICS_VAULT_N; i++)
    lisec_buf_printf(b,
                     "lisec_vault_operations_total{op=\"%s\",result=\"ok\"} %llu\n"
                     "lisec_vault_operations_total{op=\"%s\",result=\"failed\"} %llu\n",
                     ops[i], ctl_counters_vault(i, true), ops[i], ctl_counters_vault(i, false));
  /* how many targets' data keys are in the keys process's memory now:
   * none once every target read is removed (TR 103 308 §5.7) */
  keys_client *k = ctl->shared->keys;
  uint64_t held = 0;
  if (k && keys_client_info(k)->vault && keys_vault_cache_held(k, &held, NULL) == 0)
    lisec_buf_printf(b,
                     "# HELP lisec_vault_cache_keys Data keys the keys process's cache holds now, expired ones "
                     "not yet wiped included (LI administration only).\n"
                     "# TYPE lisec_vault_cache_keys gauge\nlisec_vault_cache_keys %llu\n",
                     (unsigned long long)held);
}

char *ctl_metrics_render(lisec_ctl *ctl, bool li_view) {
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  render_hosts(ctl, &b);
  render_appraisals(&b);
  render_audit(ctl, &b);
  if (li_view) render_li(ctl, &b);
  ctl_clock_metrics(ctl->shared, &b); /* trusted time (ctl/clock.c) */
  lisec_err err = {0};
  bool ready = ctl_ready(ctl, &err) == 0;
  lisec_buf_printf(&b,
                   "# HELP lisec_store_errors_total Requests and scrapes that failed because the "
                   "store did.\n"
                   "# TYPE lisec_store_errors_total counter\nlisec_store_errors_total %llu\n"
                   "# HELP lisec_ready Whether lisecd is ready to serve (as /readyz says).\n"
                   "# TYPE lisec_ready gauge\nlisec_ready %d\n",
                   ctl_counters_store_errors(), ready ? 1 : 0);
  return (char *)b.data;
}

static void add_why(lisec_err *err, bool *any, const char *what, const char *why) {
  char prev[LISEC_ERR_MSG_MAX];
  snprintf(prev, sizeof prev, "%s", *any ? err->msg : "");
  lisec_err_set(err, LISEC_EUNAVAIL, "%s%s%s: %s", prev, *any ? "; " : "", what, why);
  *any = true;
}

int ctl_ready(lisec_ctl *ctl, lisec_err *err) {
  bool any = false;
  lisec_err e = {0};
  if (store_ping(ctl->store, &e) != 0) {
    ctl_metrics_store_error();
    add_why(err, &any, "store", e.msg);
  }
  keys_client *k = ctl->shared->keys;
  const keys_info *ki = k ? keys_client_info(k) : NULL;
  lisec_err_clear(&e);
  if (ki && ki->vault && keys_vault_current_kek(k, NULL, NULL, &e) != 0)
    add_why(err, &any, "vault token", e.msg);
  lisec_err_clear(&e);
  if (ki && ki->li && keys_li_check(k, &e) != 0) add_why(err, &any, "LI token", e.msg);
  if (!ctl->shared->audit) {
    add_why(err, &any, "checkpoint signer", "the audit log is not open");
  } else {
    lisec_err_clear(&e);
    ctl_auditlog_checkpoint_error(ctl->shared->audit, &e);
    if (e.code) add_why(err, &any, "checkpoint signer", e.msg);
  }
  return any ? LISEC_EUNAVAIL : 0;
}
