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
} lisec_ctl;

/* Opens the shared controller state from the configuration: checks that the
 * store is reachable and migrated ([store] url). EUNAVAIL when it is not. */
int ctl_shared_open(const lisec_config *cfg, ctl_shared **out, lisec_err *err);
void ctl_shared_close(ctl_shared *sh);
/* A worker's context with its own store connection. */
int ctl_open(ctl_shared *sh, lisec_ctl **out, lisec_err *err);
void ctl_close(lisec_ctl *ctl);

/* GET /v1/status: version, store back end and schema, uptime. */
int ctl_status(lisec_ctl *ctl, json_t **out, lisec_err *err);
/* GET /healthz: 0 when the store answers. */
int ctl_health(lisec_ctl *ctl, lisec_err *err);

#endif
