/* What the controller's use-case files share and nothing else sees: the
 * layout of ctl_shared, and the open/close hook of each topic that keeps
 * state across requests. ctl_open opens the audit log first (every other
 * topic records through it), then the topics in the order listed here, and
 * closes them in reverse. */
#ifndef LISEC_CTL_INTERNAL_H
#define LISEC_CTL_INTERNAL_H

#include <stdint.h>

#include "ctl/auditlog.h"
#include "ctl/ctl.h"
#include "keys/keys.h"

struct ctl_model_state;
struct ctl_attest_state;
struct ctl_pkg_state;

struct ctl_shared {
  char *store_url;
  int64_t started_at;
  ctl_auditlog *audit; /* the durable audit appender (ctl/auditlog.c) */
  keys_client *keys;   /* the keys process (borrowed): every key operation; NULL: none */
  struct ctl_model_state *model;   /* ctl/model.c */
  struct ctl_attest_state *attest; /* ctl/attest.c */
  struct ctl_pkg_state *pkg;       /* ctl/pkg.c */
};

/* Topic hooks: open reads the topic's settings and loads its state with the
 * opening context's store handle s (used only during the call); close frees
 * it and must accept a state that was never opened (NULL). */
/* The vault (ctl/targets.c): makes the KEK the store names current. */
int ctl_targets_open(ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_model_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_model_close(ctl_shared *sh);
int ctl_attest_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_attest_close(ctl_shared *sh);
int ctl_pkg_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
void ctl_pkg_close(ctl_shared *sh);

#endif
