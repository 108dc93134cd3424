/* The controller's core: opening the shared state and each worker's store
 * connection, and the status and health use cases. */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

#define LISEC_DEFAULT_STORE "sqlite:/var/lib/lisec/lisec.db"

struct ctl_shared {
  char *store_url;
  int64_t started_at;
};

int ctl_shared_open(const lisec_config *cfg, ctl_shared **out, lisec_err *err) {
  ctl_shared *sh = calloc(1, sizeof *sh);
  if (!sh) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  sh->store_url = strdup(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE));
  sh->started_at = lisec_time_now();
  /* Open once now so that an unreachable store stops the start, with its reason. */
  lisec_store *probe = NULL;
  int rc = sh->store_url ? store_open(sh->store_url, &probe, err)
                         : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc) {
    ctl_shared_close(sh);
    return rc;
  }
  store_close(probe);
  *out = sh;
  return 0;
}

void ctl_shared_close(ctl_shared *sh) {
  if (!sh) return;
  free(sh->store_url);
  free(sh);
}

int ctl_open(ctl_shared *sh, lisec_ctl **out, lisec_err *err) {
  lisec_ctl *ctl = calloc(1, sizeof *ctl);
  if (!ctl) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  ctl->shared = sh;
  int rc = store_open(sh->store_url, &ctl->store, err);
  if (rc) {
    free(ctl);
    return rc;
  }
  *out = ctl;
  return 0;
}

void ctl_close(lisec_ctl *ctl) {
  if (!ctl) return;
  store_close(ctl->store);
  free(ctl);
}

int ctl_health(lisec_ctl *ctl, lisec_err *err) { return store_ping(ctl->store, err); }

int ctl_status(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  int schema = 0;
  int rc = store_schema_version(ctl->store, &schema, err);
  if (rc) return rc;
  char started[32];
  lisec_time_format(ctl->shared->started_at, started);
  *out = json_pack("{s:s, s:{s:s, s:i}, s:s, s:I}", "version", LISEC_VERSION, "store", "backend",
                   store_backend(ctl->store), "schema_version", schema, "started_at", started,
                   "uptime_seconds", (json_int_t)(lisec_time_now() - ctl->shared->started_at));
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
