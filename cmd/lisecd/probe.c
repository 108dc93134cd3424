/* lisecd's observability settings: [probe] listen, the plain-HTTP listener
 * for /healthz and /readyz that load balancers reach without a client
 * certificate (served by the front, api/server.c), and [log] format and
 * access, the log's shape (base/log.c). docs/operations.md, "Logs" and
 * "Probes", documents both. */
#include <string.h>

#include "lisecd.h"

int lisecd_probe_config(const lisec_config *cfg, api_server_config *sc, lisec_err *err) {
  const char *listen = lisec_config_str(cfg, "probe", "listen", NULL);
  int64_t conns = 64, idle_s = 5;
  sc->probe_listen = NULL;
  int rc = lisec_config_int(cfg, "probe", "max_connections", 64, 1, 4096, &conns, err);
  if (!rc) rc = lisec_config_int(cfg, "probe", "idle_timeout_s", 5, 1, 300, &idle_s, err);
  if (rc) return rc;
  sc->probe_max_connections = (int)conns;
  sc->probe_idle_timeout_s = (int)idle_s;
  if (!listen || !listen[0]) return 0;
  if (sc->listen && strcmp(listen, sc->listen) == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[probe] listen = \"%s\" is [server] listen: the probe listener needs an "
                         "address of its own (plain HTTP beside mutual TLS)",
                         listen);
  sc->probe_listen = listen;
  return 0;
}

int lisecd_log_config(const lisec_config *cfg, lisec_log_level *level, bool *json, bool *access,
                      lisec_err *err) {
  const char *l = lisec_config_str(cfg, "log", "level", "info");
  if (lisec_log_level_parse(l, level) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "[log] level = \"%s\": expected debug, info, warn or error", l);
  /* [log] json is the older spelling of format = json; format wins. */
  int rc = lisec_config_bool(cfg, "log", "json", false, json, err);
  if (rc == 0) rc = lisec_config_bool(cfg, "log", "access", true, access, err);
  if (rc) return rc;
  const char *f = lisec_config_str(cfg, "log", "format", NULL);
  if (!f) return 0;
  if (strcmp(f, "json") == 0) *json = true;
  else if (strcmp(f, "text") == 0) *json = false;
  else return lisec_err_set(err, LISEC_EINVAL, "[log] format = \"%s\": expected json or text", f);
  return 0;
}
