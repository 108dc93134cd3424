/* ctl/ is the controller: one function per use case, the only floor that
 * calls more than one domain module and the store. State that all API
 * workers share (configuration, start time, later the model and the audit
 * appender) lives in ctl_shared; each worker thread has its own lisec_ctl
 * with its own store handle, because store handles are single-threaded. */
#ifndef LISEC_CTL_H
#define LISEC_CTL_H

#include <jansson.h>

#include "base/base.h"
#include "store/store.h"

/* Who asks: the certificate subject and the role it carries. */
typedef struct ctl_actor {
  const char *subject; /* certificate subject CN */
  const char *role;    /* operator, li-admin, hypervisor-admin, host, mano, auditor, tenant:<name> */
} ctl_actor;

typedef struct ctl_shared ctl_shared;
typedef struct lisec_ctl {
  ctl_shared *shared;
  lisec_store *store;
  bool in_tx; /* inside ctl_tx_begin/ctl_tx_end */
} lisec_ctl;

/* Opens the shared controller state from the configuration: checks that the
 * store is reachable and migrated ([store] url). EUNAVAIL when it is not. */
int ctl_shared_open(const lisec_config *cfg, ctl_shared **out, lisec_err *err);
void ctl_shared_close(ctl_shared *sh);
/* A worker's context with its own store connection. */
int ctl_open(ctl_shared *sh, lisec_ctl **out, lisec_err *err);
void ctl_close(lisec_ctl *ctl);

/* One auditable event of a use case. */
typedef struct ctl_event {
  const char *action;  /* "target.add", "decision.migration", ... */
  const char *subject; /* the entity acted on, e.g. "target t-1" */
  const char *outcome; /* "ok", "denied", "failed" */
  const char *reason;  /* why (a refusal names its requirement); may be NULL */
  bool li;             /* about LI: sealed so only the LI administration reads it */
} ctl_event;

/* Appends the event to the audit log and returns once it is durable. A use
 * case records before it answers and refuses when recording fails
 * (TR 103 308 §5.5, O.1.4). *index (may be NULL) gets its log position. */
int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err);

/* A change and its audit record commit together or not at all: begin, make
 * the change, ctl_record, then end with the result (commit when rc is 0, else
 * roll back; a failed commit is returned). Serialised across workers. */
int ctl_tx_begin(lisec_ctl *ctl, lisec_err *err);
int ctl_tx_end(lisec_ctl *ctl, int rc, lisec_err *err);

/* GET /v1/status: version, store back end and schema, uptime. */
int ctl_status(lisec_ctl *ctl, json_t **out, lisec_err *err);
/* GET /healthz: 0 when the store answers. */
int ctl_health(lisec_ctl *ctl, lisec_err *err);

#endif
