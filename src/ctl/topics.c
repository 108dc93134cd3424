/* The controller's lifecycle in one table: every topic that keeps state
 * across requests, with its open, start, stop and close hooks, in the one
 * order they run in. Open and start go down the table; stop and close go
 * up it. The audit log comes first because every other topic records
 * through it; the vault before the topics that read targets (the ADMF
 * loop); the model before the topics that tell it what they learn
 * (attestation, LI pairing, packages); the ADMF loop late because it reads
 * the model and the vault and must stop before either closes. Background
 * work (the attestation overdue timer, the ADMF loop) starts only in
 * ctl_start, on threads of its own, never on a request's loop. The audit
 * log's checkpoint thread is the appender's own and lives from open to
 * close: a record appended at open must be checkpointed too. */
#include "ctl/clock.h"
#include "ctl/ha.h"
#include "ctl/internal.h"
#include "ctl/targets.h"

typedef struct ctl_topic {
  const char *name;
  int (*open)(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
  int (*start)(ctl_shared *sh, lisec_err *err);
  void (*stop)(ctl_shared *sh);
  void (*close)(ctl_shared *sh);
} ctl_topic;

static const ctl_topic TOPICS[] = {
    /* first: nothing may open (the audit log writes at open) unless this
     * process holds the store's writer lock when [ha] is on (ctl/ha.h) */
    {"ha", ctl_ha_topic_open, ctl_ha_topic_start, ctl_ha_topic_stop, NULL},
    {"audit", ctl_audit_topic_open, NULL, NULL, ctl_audit_topic_close},
    {"vault", ctl_vault_topic_open, NULL, NULL, ctl_vault_topic_close},
    /* trusted time ([time]) before the topics whose decisions ask it; it
     * records through the audit log */
    {"clock", ctl_clock_open, ctl_clock_start, ctl_clock_stop, ctl_clock_close},
    {"model", ctl_model_open, NULL, NULL, ctl_model_close},
    /* an LI authorisation's end evicts its targets' keys: a model hook */
    {"targets", ctl_targets_topic_open, NULL, NULL, NULL},
    {"attest", ctl_attest_open, ctl_attest_start, ctl_attest_stop, ctl_attest_close},
    {"li", ctl_li_open, NULL, NULL, ctl_li_close},
    {"pkg", ctl_pkg_open, NULL, NULL, ctl_pkg_close},
    {"x1", ctl_x1_open, ctl_x1_start, ctl_x1_stop, ctl_x1_close},
    /* rng keeps nothing across requests: its findings are in the store */
    {"rng", NULL, NULL, NULL, NULL},
    /* Retained Data (issue 20): after the model it keeps obligations in */
    {"rd", ctl_rd_open, ctl_rd_start, ctl_rd_stop, ctl_rd_close},
    /* the KEK rotation's thread (issue 22): after the audit log and the
     * vault it records through and re-wraps with; stops first */
    {"vault-rotation", ctl_vault_rotation_open, ctl_vault_rotation_start, ctl_vault_rotation_stop,
     ctl_vault_rotation_close},
};

#define N_TOPICS LISEC_ARRAY_LEN(TOPICS)

int ctl_topics_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  for (size_t i = 0; i < N_TOPICS; i++) {
    if (!TOPICS[i].open) continue;
    int rc = TOPICS[i].open(cfg, sh, s, err);
    if (rc) {
      /* a hook that failed half-way still has its state to free */
      for (size_t j = i + 1; j-- > 0;)
        if (TOPICS[j].close) TOPICS[j].close(sh);
      return rc;
    }
  }
  return 0;
}

int ctl_topics_start(ctl_shared *sh, lisec_err *err) {
  if (sh->started) return 0;
  for (size_t i = 0; i < N_TOPICS; i++) {
    if (!TOPICS[i].start) continue;
    int rc = TOPICS[i].start(sh, err);
    if (rc) {
      lisec_err_wrap(err, "cannot start the controller's %s topic", TOPICS[i].name);
      for (size_t j = i; j-- > 0;)
        if (TOPICS[j].stop) TOPICS[j].stop(sh);
      return rc;
    }
  }
  sh->started = true;
  return 0;
}

void ctl_topics_stop(ctl_shared *sh) {
  for (size_t j = N_TOPICS; j-- > 0;)
    if (TOPICS[j].stop) TOPICS[j].stop(sh);
  sh->started = false;
}

void ctl_topics_close(ctl_shared *sh) {
  ctl_topics_stop(sh);
  for (size_t j = N_TOPICS; j-- > 0;)
    if (TOPICS[j].close) TOPICS[j].close(sh);
}
