/* What the controller's use-case files share and nothing else sees: the
 * layout of ctl_shared, and the open/start/stop/close hooks of each topic
 * that keeps state across requests. The one table of topics, and so the
 * order they open, start, stop and close in, is in ctl/topics.c. */
#ifndef LISEC_CTL_INTERNAL_H
#define LISEC_CTL_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "ctl/auditlog.h"
#include "ctl/ctl.h"
#include "keys/keys.h"

struct ctl_model_state;
struct ctl_attest_state;
struct ctl_pkg_state;
struct ctl_li_state;
struct ctl_x1_state;
struct ctl_clock_state;
struct ctl_rd_state;

/* The controller's settings, read and checked once by ctl_open
 * (ctl/settings.c); the topics take them from here. */
typedef struct ctl_settings {
  bool model_allow_declared_trust;
  int64_t model_max_age_s; /* [model] attestation_max_age_s */
  int64_t attest_interval_s, attest_grace_s, attest_nonce_ttl_s, attest_fresh_wait_ms;
  int64_t attest_quarantine_timeout_s, attest_check_ms;
  int64_t attest_inventory_max_bytes, attest_inventory_max_domains;
  bool li_restart_stopped;
  int64_t pkg_max_package, pkg_max_expanded, pkg_max_crl;
  int64_t events_max_event, events_max_batch; /* [events] (ctl/events.c) */
  /* [x1] (ctl/tasks.c): compliance_record_s, keepalive_timeout_s,
   * request_timeout_ms, connect_timeout_ms, report_rate_per_ne,
   * report_burst_per_ne, report_queue_max, unknown_xid_backoff_max_s,
   * announce_quiet_ms, announce_settle_max_ms */
  int64_t x1_compliance_record_s, x1_keepalive_timeout_s, x1_request_timeout_ms, x1_connect_timeout_ms;
  int64_t x1_report_rate, x1_report_burst, x1_report_queue, x1_unknown_backoff_max_s;
  int64_t x1_announce_quiet_ms, x1_announce_settle_max_ms;
  int64_t rd_check_ms, rd_max_live_keys; /* [rd] check_ms, max_live_keys (ctl/rd.c) */
  /* [k8s] scheduler_name: the kube-scheduler configured with lisec's
   * extender, a pod must name when no node is set (ctl/k8s_admit.c) */
  char k8s_scheduler_name[254];
} ctl_settings;
int ctl_settings_read(const lisec_config *cfg, ctl_settings *out, lisec_err *err);
/* [time] as ctl_clock_open reads it (ctl/clock.c), checked without opening
 * the topic: for ctl_settings_check. tpm_window_def_s: tpm_window_s's
 * default, from [attest] interval_s and grace_s. */
int ctl_clock_settings_check(const lisec_config *cfg, int64_t tpm_window_def_s, lisec_err *err);
/* [audit]'s numbers (checkpoints, group commit, TSA bounds) as the start
 * reads them (ctl/ctl.c), each out of bounds told to report; returns how
 * many. For ctl_settings_check. */
int ctl_audit_numbers_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx);

struct ctl_shared {
  char *store_url;
  int64_t started_at;        /* wall clock, shown (/v1/status started_at) */
  uint64_t started_mono_ns;  /* the same moment, monotonic: the uptime is measured from it */
  ctl_settings settings;
  ctl_auditlog *audit; /* the durable audit appender (ctl/auditlog.c) */
  keys_client *keys;   /* the keys process (borrowed): every key operation; NULL: none */
  struct ctl_model_state *model;   /* ctl/model.c */
  struct ctl_attest_state *attest; /* ctl/attest.c */
  struct ctl_pkg_state *pkg;       /* ctl/pkg.c */
  struct ctl_li_state *li;         /* ctl/li.c */
  struct ctl_x1_state *x1;         /* ctl/tasks.c: the ADMF loop */
  struct ctl_clock_state *clock;   /* ctl/clock.c: trusted time ([time]) */
  struct ctl_rd_state *rd;         /* ctl/rd.c: Retained Data (issue 20) */
  bool started;                    /* between ctl_start and ctl_stop */
  struct ctl_rotation_state *rotation; /* ctl/vault_rotation.c: the KEK rotation job */
};

/* Topic hooks: open reads the topic's settings and loads its state with the
 * opening context's store handle s (used only during the call); start runs
 * its background work on threads of its own, stop ends them (and accepts a
 * topic that was not started); close frees the state and must accept one
 * that was never opened (NULL). */
/* The audit log ([audit]; ctl/ctl.c): every other topic records through it. */
int ctl_audit_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_audit_topic_close(ctl_shared *sh);
/* The vault ([vault]; ctl/ctl.c): the KEK, made current as the store names it. */
int ctl_vault_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_vault_topic_close(ctl_shared *sh);
/* ctl/targets.c: makes the KEK the store names current. */
int ctl_targets_open(ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_model_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_model_close(ctl_shared *sh);
int ctl_attest_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_attest_start(ctl_shared *sh, lisec_err *err); /* the overdue timer */
void ctl_attest_stop(ctl_shared *sh);
void ctl_attest_close(ctl_shared *sh);
int ctl_li_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_li_close(ctl_shared *sh);
int ctl_pkg_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_pkg_close(ctl_shared *sh);
int ctl_x1_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_x1_start(ctl_shared *sh, lisec_err *err); /* the ADMF loop */
void ctl_x1_stop(ctl_shared *sh);
void ctl_x1_close(ctl_shared *sh);

/* Trusted time (ctl/clock.c, ctl/clock.h): the time for a decision that
 * depends on it. 0 and *now_ms when the clock is proven (or not checked:
 * [time] source = none), else EDENIED with "TR103308-4.2-TIME: <what>
 * needs a proven clock, and the controller's clock is unproven: <why>".
 * Declared here, beside the shared layout, because every topic asks it,
 * the model (which includes no other topic) too. */
#define CTL_CLOCK_REQ "TR103308-4.2-TIME"
int ctl_clock_trusted_now(ctl_shared *sh, const char *what, int64_t *now_ms, lisec_err *err);

/* ctl/rd.c (issue 20): retention obligations into the model; the timer
 * that destroys data keys whose retention ended. */
int ctl_rd_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_rd_start(ctl_shared *sh, lisec_err *err);
void ctl_rd_stop(ctl_shared *sh);
void ctl_rd_close(ctl_shared *sh);

/* ctl/topics.c: every topic in the table's order; on a failure the topics
 * opened so far are closed again. close and stop go in reverse order. */
/* A topic's background thread on ctx, a worker context the caller opened
 * (ctl_open_worker): started and named; when it cannot start, ctx is
 * closed and the error says which thread. */
int ctl_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name, lisec_ctl **ctx,
                     lisec_err *err);
/* Tells it to stop (*stopping set under mu, cv broadcast), joins it and
 * closes its context. */
void ctl_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *stopping, pthread_t thread, lisec_ctl **ctx);

/* ctl/vault_rotation.c: the KEK rotation's thread ([vault] rotation_chunk);
 * open marks a job a crash left running as interrupted. */
int ctl_vault_rotation_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_vault_rotation_start(ctl_shared *sh, lisec_err *err);
void ctl_vault_rotation_stop(ctl_shared *sh);
void ctl_vault_rotation_close(ctl_shared *sh);

int ctl_topics_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_topics_start(ctl_shared *sh, lisec_err *err);
void ctl_topics_stop(ctl_shared *sh);
void ctl_topics_close(ctl_shared *sh);

#endif
